//! From a queued event to deliveries: identical events within the rate
//! limit are dropped, every matching Alert's Provider gets the event (with
//! the Alert's `eventMetadata` and `summary`), each delivery in its own task
//! with bounded retries. A delivery that keeps failing is counted, logged
//! and recorded as a Warning event on the Alert.
//!
//! Deliveries are bounded: at most [`MAX_DELIVERIES`] run at once, and the
//! dispatch loop waits for a free slot (so a backlog fills the event queue,
//! whose endpoint then answers 429, instead of growing tasks without
//! limit); and the Providers of one namespace hold at most
//! [`MAX_DELIVERIES_PER_NAMESPACE`] of them, so one tenant's slow or
//! unreachable Provider cannot take every slot. A delivery over its
//! namespace's share is dropped and recorded like a failed one. Provider addresses and
//! tokens are never logged: a Slack webhook URL is a credential.
//!
//! Before anything else an event's metadata is cut down as Flux does: only
//! keys under the object's API group are kept, without the group prefix
//! (`kustomize.toolkit.fluxcd.io/revision` becomes `revision`), and the
//! group's `checksum` and `digest` are dropped.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher as _, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferroflux_api::duration::GoDuration;
use ferroflux_api::event::Event;
use ferroflux_api::notification::{Alert, Provider};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::{Semaphore, mpsc};

use crate::alerts;
use crate::metrics::Stats;
use crate::transport::{Clients, Settings};
use ferroflux_notify::metadata::cleanup_metadata;
use ferroflux_notify::providers::{self, Target};

/// Delivery attempts per event and provider.
const ATTEMPTS: u32 = 3;
/// How long one delivery may take when the Provider sets no `spec.timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Deliveries in flight at once, over all Providers.
pub const MAX_DELIVERIES: usize = 64;

/// Deliveries in flight at once to the Providers of one namespace.
pub const MAX_DELIVERIES_PER_NAMESPACE: usize = 16;

/// Deliveries in flight, by the namespace of their Provider.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashMap<String, usize>>>);

impl InFlight {
    /// A slot for one delivery to a Provider in `namespace`, or `None` when
    /// the namespace already has its share in flight.
    fn reserve(&self, namespace: &str) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(namespace.to_owned()).or_default();
        if *count >= MAX_DELIVERIES_PER_NAMESPACE {
            return None;
        }
        *count += 1;
        Some(Slot {
            owner: self.clone(),
            namespace: namespace.to_owned(),
        })
    }
}

/// One delivery's place in its namespace's share; freed on drop.
struct Slot {
    owner: InFlight,
    namespace: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.owner.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.namespace) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.namespace);
            }
        }
    }
}

/// How often expired rate-limit entries are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// The events recently sent, for the rate limit.
struct Seen {
    keys: RandomState,
    /// When each event (by keyed hash) was last let through.
    at: HashMap<u64, Instant>,
    pruned: Instant,
}

/// Delivers events to the Providers of matching Alerts.
pub struct Dispatcher {
    /// For Secrets.
    pub client: Client,
    /// The HTTP clients, by proxy and TLS settings.
    pub clients: Clients,
    /// Every Alert watched.
    pub alerts: Store<Alert>,
    /// Every Provider watched.
    pub providers: Store<Provider>,
    /// `false` with `--no-cross-namespace-refs`.
    pub cross_namespace: bool,
    /// `--rate-limit-interval`.
    pub rate_limit: Duration,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Kubernetes Events about failed deliveries.
    pub events: Option<Events>,
    /// The first retry's delay (doubling).
    pub retry_backoff: Duration,
    seen: Mutex<Seen>,
    deliveries: Arc<Semaphore>,
    in_flight: InFlight,
}

impl Dispatcher {
    /// A dispatcher; see the fields.
    #[must_use]
    #[expect(clippy::too_many_arguments, reason = "wiring; every field is set once")]
    pub fn new(
        client: Client,
        http: reqwest::Client,
        alerts: Store<Alert>,
        providers: Store<Provider>,
        cross_namespace: bool,
        rate_limit: Duration,
        stats: Arc<Stats>,
        events: Option<Events>,
    ) -> Self {
        Self {
            client,
            clients: Clients::new(http),
            alerts,
            providers,
            cross_namespace,
            rate_limit,
            stats,
            events,
            retry_backoff: Duration::from_secs(1),
            seen: Mutex::new(Seen {
                keys: RandomState::new(),
                at: HashMap::new(),
                pruned: Instant::now(),
            }),
            deliveries: Arc::new(Semaphore::new(MAX_DELIVERIES)),
            in_flight: InFlight::default(),
        }
    }

    /// Handles queued events until the queue closes.
    pub async fn run(self: Arc<Self>, mut queue: mpsc::Receiver<Event>) {
        while let Some(event) = queue.recv().await {
            self.handle(&event).await;
        }
    }

    /// Whether an identical event for the same object went out within the
    /// rate limit (and remembers this one).
    fn rate_limited(&self, event: &Event) -> bool {
        let o = &event.involved_object;
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // A keyed 64-bit hash stands for the event: at hundreds of events a
        // second the strings would be most of the controller's memory, and
        // the process's random key keeps collisions from being forced.
        let key = seen.keys.hash_one((
            &o.kind,
            &o.namespace,
            &o.name,
            &event.severity,
            &event.reason,
            &event.message,
        ));
        if now.duration_since(seen.pruned) >= PRUNE_EVERY {
            let limit = self.rate_limit;
            seen.at.retain(|_, at| now.duration_since(*at) < limit);
            seen.pruned = now;
        }
        match seen.at.get(&key) {
            Some(at) if now.duration_since(*at) < self.rate_limit => true,
            _ => {
                seen.at.insert(key, now);
                false
            }
        }
    }

    async fn handle(self: &Arc<Self>, event: &Event) {
        let event = &cleanup_metadata(event.clone());
        if self.rate_limited(event) {
            self.stats.rate_limited.inc();
            return;
        }
        let alerts = self.alerts.state();
        // The object's labels, only when some Alert selects by label.
        let labels = if alerts.iter().any(|a| {
            a.spec
                .event_sources
                .iter()
                .any(|s| s.match_labels.as_ref().is_some_and(|l| !l.is_empty()))
        }) {
            self.labels(event).await
        } else {
            None
        };
        for alert in alerts {
            match alerts::matches(&alert, event, self.cross_namespace, labels.as_ref()) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an Alert");
                    continue;
                }
            }
            let ns = alert.namespace().unwrap_or_default();
            let provider_name = alert.spec.provider_ref.name.clone();
            let Some(provider) = self
                .providers
                .get(&ObjectRef::new(&provider_name).within(&ns))
            else {
                tracing::warn!(alert = %alert.name_any(), namespace = %ns, provider = %provider_name, "the Alert's Provider does not exist");
                continue;
            };
            if provider.spec.suspend {
                continue;
            }
            let mut event = event.clone();
            for (k, v) in alert.spec.event_metadata.clone().unwrap_or_default() {
                // The event's own metadata wins over the Alert's.
                event.metadata.entry(k).or_insert(v);
            }
            if let Some(summary) = alert.spec.summary.clone().filter(|s| !s.is_empty()) {
                event.metadata.insert("summary".into(), summary);
            }
            let Some(slot) = self.in_flight.reserve(&ns) else {
                let name = format!("{ns}/{provider_name}");
                let message = format!(
                    "{MAX_DELIVERIES_PER_NAMESPACE} deliveries to this namespace's Providers are already in flight; this event was dropped (is a Provider slow or unreachable?)"
                );
                self.failed(&alert, &name, &message, &[]).await;
                continue;
            };
            // Backpressure: wait for a free slot rather than spawn without
            // bound. The semaphore is never closed.
            let Ok(permit) = self.deliveries.clone().acquire_owned().await else {
                return;
            };
            let this = self.clone();
            tokio::spawn(async move {
                let _held = (permit, slot);
                this.deliver(&alert, &provider, &event).await;
            });
        }
    }

    /// The labels of the event's object, `None` when it cannot be read.
    async fn labels(&self, event: &Event) -> Option<BTreeMap<String, String>> {
        let o = &event.involved_object;
        let api_version = o.api_version.as_deref()?;
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource =
            ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, o.kind.as_deref()?));
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), o.namespace.as_deref()?, &resource);
        let object = api.get_opt(o.name.as_deref()?).await.ok()??;
        Some(object.metadata.labels.unwrap_or_default())
    }

    async fn deliver(&self, alert: &Alert, provider: &Provider, event: &Event) {
        let ns = provider.namespace().unwrap_or_default();
        let name = format!("{ns}/{}", provider.name_any());
        let mut secrets = Vec::new();
        let found = self.target(provider, &mut secrets).await;
        let (target, settings) = match found {
            Ok(found) => found,
            Err(e) => return self.failed(alert, &name, &e, &secrets).await,
        };
        let request = match providers::request(&target, event) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => return self.failed(alert, &name, &e.to_string(), &secrets).await,
        };
        let http = match self.clients.get(&settings) {
            Ok(http) => http,
            Err(e) => return self.failed(alert, &name, &e.to_string(), &secrets).await,
        };
        // A Provider has no status to stall: an invalid timeout fails each
        // delivery, naming the field, rather than silently using the default.
        let timeout = match provider.spec.timeout.as_ref().map(GoDuration::get) {
            None => DEFAULT_TIMEOUT,
            Some(Ok(timeout)) => timeout,
            Some(Err(e)) => {
                let message = format!("spec.timeout: {e}");
                return self.failed(alert, &name, &message, &secrets).await;
            }
        };
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Backoff between delivery attempts to a failing provider.
                tokio::time::sleep(self.retry_backoff * 2u32.pow(attempt - 1)).await;
            }
            let mut post = http
                .post(&request.url)
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .body(request.body.clone());
            for (k, v) in &request.headers {
                post = post.header(k, v);
            }
            match post.send().await {
                Ok(response) if response.status().is_success() => {
                    self.stats.delivered.inc();
                    return;
                }
                Ok(response) => last = format!("HTTP {}", response.status()),
                // Without the URL: it may hold a token.
                Err(e) => last = e.without_url().to_string(),
            }
        }
        self.failed(
            alert,
            &name,
            &format!("delivery failed after {ATTEMPTS} attempts: {last}"),
            &secrets,
        )
        .await;
    }

    async fn failed(&self, alert: &Alert, provider: &str, message: &str, secrets: &[String]) {
        self.stats.failed.inc();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let message = Scrubbed::with_secrets(&format!("Provider {provider}: {message}"), &secrets);
        tracing::error!(alert = %alert.name_any(), "{}", message.as_str());
        if let Some(events) = &self.events {
            events
                .publish(alert, Severity::Error, "DeliveryFailed", &message, None)
                .await;
        }
    }

    /// The Provider's target, with its Secret's `address`, `token`,
    /// `username` and `headers`, and its proxy and TLS settings. Every secret value read
    /// is added to `secrets`, which no message may show.
    async fn target(
        &self,
        provider: &Provider,
        secrets: &mut Vec<String>,
    ) -> Result<(Target, Settings), String> {
        let spec = &provider.spec;
        let mut target = Target {
            provider_type: spec.r#type.clone(),
            provider_uid: provider.uid().unwrap_or_default(),
            address: spec.address.clone().unwrap_or_default(),
            channel: spec.channel.clone(),
            username: spec.username.clone(),
            ..Target::default()
        };
        let mut settings = Settings {
            proxy: spec.proxy.clone().filter(|p| !p.is_empty()),
            ..Settings::default()
        };
        if let Some(reference) = &spec.secret_ref {
            let data = self.secret(provider, &reference.name, secrets).await?;
            let text = |key: &str| {
                data.get(key)
                    .map(|v| String::from_utf8_lossy(v).trim().to_owned())
            };
            if let Some(address) = text("address") {
                target.address = address;
            }
            target.token = text("token");
            // The Secret's username wins over `spec.username`, as in Flux.
            if let Some(username) = text("username").filter(|u| !u.is_empty()) {
                target.username = Some(username);
            }
            if let Some(headers) = text("headers") {
                target.headers = parse_headers(&headers)
                    .map_err(|e| format!("Secret {} key headers: {e}", reference.name))?;
            }
        }
        if let Some(reference) = &spec.proxy_secret_ref {
            let data = self.secret(provider, &reference.name, secrets).await?;
            let text = |key: &str| {
                data.get(key)
                    .map(|v| String::from_utf8_lossy(v).trim().to_owned())
            };
            settings.proxy = Some(text("address").filter(|a| !a.is_empty()).ok_or_else(|| {
                format!("the proxy Secret {} has no address key", reference.name)
            })?);
            if let Some(user) = text("username") {
                settings.proxy_auth = Some((user, text("password").unwrap_or_default()));
            }
        }
        if let Some(reference) = &spec.cert_secret_ref {
            let mut data = self.secret(provider, &reference.name, secrets).await?;
            settings.ca_pem = data.remove("ca.crt").or_else(|| data.remove("caFile"));
            match (data.remove("tls.crt"), data.remove("tls.key")) {
                (Some(cert), Some(key)) => settings.client_pem = Some((cert, key)),
                (None, None) => {}
                _ => {
                    return Err(format!(
                        "the certificate Secret {} must hold both tls.crt and tls.key, or neither",
                        reference.name
                    ));
                }
            }
            if settings.ca_pem.is_none() && settings.client_pem.is_none() {
                return Err(format!(
                    "the certificate Secret {} holds neither ca.crt nor tls.crt and tls.key",
                    reference.name
                ));
            }
        }
        if target.address.is_empty() {
            return Err("no address: set spec.address or the Secret's address key".into());
        }
        Ok((target, settings))
    }

    /// The data of the Provider's Secret `name`; its values are added to
    /// `secrets`.
    async fn secret(
        &self,
        provider: &Provider,
        name: &str,
        secrets: &mut Vec<String>,
    ) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let ns = provider.namespace().unwrap_or_default();
        let secret = Api::<Secret>::namespaced(self.client.clone(), &ns)
            .get_opt(name)
            .await
            .map_err(|e| format!("reading Secret {ns}/{name}: {e}"))?
            .ok_or_else(|| format!("Secret {ns}/{name} not found"))?;
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        secrets.extend(
            data.values()
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                .filter(|v| !v.is_empty()),
        );
        Ok(data)
    }
}

/// The Secret's `headers`: `Name: value` lines (a YAML map of strings).
fn parse_headers(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or("each line must be 'Name: value'")?;
        out.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{InFlight, MAX_DELIVERIES_PER_NAMESPACE, parse_headers};

    /// Issue 15, defect 9: every delivery was its own unbounded task, so one
    /// namespace's unreachable Provider could pile up tasks without limit.
    #[test]
    fn a_namespace_holds_at_most_its_share_of_deliveries() {
        let in_flight = InFlight::default();
        let held: Vec<_> = (0..MAX_DELIVERIES_PER_NAMESPACE)
            .map(|_| in_flight.reserve("tenant-a").unwrap())
            .collect();
        assert!(in_flight.reserve("tenant-a").is_none());
        // Another tenant is not held up.
        let other = in_flight.reserve("tenant-b");
        assert!(other.is_some());
        drop(held);
        assert!(in_flight.reserve("tenant-a").is_some());
        drop(other);
        assert!(in_flight.0.lock().unwrap().is_empty());
    }

    #[test]
    fn headers_are_name_value_lines() {
        let headers = parse_headers("X-Team: ops\nAuthorization: \"Bearer t\"\n").unwrap();
        assert_eq!(headers["X-Team"], "ops");
        assert_eq!(headers["Authorization"], "Bearer t");
        assert!(parse_headers("no colon").is_err());
    }
}
