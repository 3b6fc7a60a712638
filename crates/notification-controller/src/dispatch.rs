//! From a queued event to deliveries: identical events within the rate
//! limit are dropped, every matching Alert's Provider gets the event (with
//! the Alert's `eventMetadata` and `summary`), each delivery in its own task
//! with bounded retries. A delivery that keeps failing is counted, logged
//! and recorded as a Warning event on the Alert. Provider addresses and
//! tokens are never logged: a Slack webhook URL is a credential.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferroflux_api::event::Event;
use ferroflux_api::notification::{Alert, Provider};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::object::parse_duration;
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::mpsc;

use crate::alerts;
use crate::metrics::Stats;
use crate::providers::{self, Target};

/// Delivery attempts per event and provider.
const ATTEMPTS: u32 = 3;

/// Delivers events to the Providers of matching Alerts.
pub struct Dispatcher {
    /// For Secrets.
    pub client: Client,
    /// The HTTP client (from `ferroflux_artifact::tls`).
    pub http: reqwest::Client,
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
    seen: Mutex<HashMap<String, Instant>>,
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
            http,
            alerts,
            providers,
            cross_namespace,
            rate_limit,
            stats,
            events,
            retry_backoff: Duration::from_secs(1),
            seen: Mutex::default(),
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
        let key = format!(
            "{:?}/{:?}/{:?}/{}/{}/{}",
            o.kind, o.namespace, o.name, event.severity, event.reason, event.message
        );
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, at| now.duration_since(*at) < self.rate_limit);
        if seen.contains_key(&key) {
            return true;
        }
        seen.insert(key, now);
        false
    }

    async fn handle(self: &Arc<Self>, event: &Event) {
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
            let this = self.clone();
            tokio::spawn(async move { this.deliver(&alert, &provider, &event).await });
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
        let (target, secrets) = match self.target(provider).await {
            Ok(found) => found,
            Err(e) => return self.failed(alert, &name, &e, &[]).await,
        };
        let request = match providers::request(&target, event) {
            Ok(r) => r,
            Err(e) => return self.failed(alert, &name, &e, &secrets).await,
        };
        let timeout = provider
            .spec
            .timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(Duration::from_secs(15));
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Backoff between delivery attempts to a failing provider.
                tokio::time::sleep(self.retry_backoff * 2u32.pow(attempt - 1)).await;
            }
            let mut post = self
                .http
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

    /// The Provider's target, with its Secret's `address`, `token` and
    /// `headers`; also the secret values, which no message may show.
    async fn target(&self, provider: &Provider) -> Result<(Target, Vec<String>), String> {
        let ns = provider.namespace().unwrap_or_default();
        let mut target = Target {
            provider_type: provider.spec.r#type.clone(),
            address: provider.spec.address.clone().unwrap_or_default(),
            channel: provider.spec.channel.clone(),
            username: provider.spec.username.clone(),
            ..Target::default()
        };
        let mut secrets = Vec::new();
        if let Some(reference) = &provider.spec.secret_ref {
            let secret = Api::<Secret>::namespaced(self.client.clone(), &ns)
                .get_opt(&reference.name)
                .await
                .map_err(|e| format!("reading Secret {ns}/{}: {e}", reference.name))?
                .ok_or_else(|| format!("Secret {ns}/{} not found", reference.name))?;
            let data: BTreeMap<String, String> = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).trim().to_owned()))
                .collect();
            secrets.extend(data.values().filter(|v| !v.is_empty()).cloned());
            if let Some(address) = data.get("address") {
                target.address.clone_from(address);
            }
            target.token = data.get("token").cloned();
            if let Some(headers) = data.get("headers") {
                target.headers = parse_headers(headers)
                    .map_err(|e| format!("Secret {ns}/{} key headers: {e}", reference.name))?;
            }
        }
        if target.address.is_empty() {
            return Err("no address: set spec.address or the Secret's address key".into());
        }
        Ok((target, secrets))
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
