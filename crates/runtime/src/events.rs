//! Events about reconciled objects, to two places: Kubernetes Events
//! (`events.k8s.io/v1`, what `kubectl events` shows) and, when an address is
//! configured (`--events-addr`), Flux's JSON event posted to the
//! notification-controller.
//!
//! # Guarantees
//! Publishing never fails and never waits on the notification-controller:
//! forwarded events go through a bounded queue to a background task. A full
//! queue drops the event and counts it in [`EventStats::dropped`]; a delivery
//! that fails after retries is logged and counted in [`EventStats::failed`].
//! Messages arrive already scrubbed ([`crate::scrub::Scrubbed`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::event::{Event, REVISION_KEY, SEVERITY_ERROR, SEVERITY_INFO};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use tokio::sync::mpsc;

use crate::scrub::Scrubbed;

/// How many forwarded events may wait for delivery.
const QUEUE: usize = 1024;
/// Attempts per forwarded event.
const ATTEMPTS: u32 = 3;

/// Whether an event reports progress or a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// A change (a new artifact, an applied revision): a `Normal` Kubernetes Event.
    Info,
    /// A failure: a `Warning` Kubernetes Event.
    Error,
}

/// Counters of the forwarding queue.
#[derive(Debug, Default)]
pub struct EventStats {
    /// Events delivered to the events address.
    pub delivered: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events whose delivery failed after every attempt.
    pub failed: AtomicU64,
}

/// Publishes events for one controller.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
    controller: String,
    instance: String,
    forward: Option<mpsc::Sender<Event>>,
    /// The forwarding counters.
    pub stats: Arc<EventStats>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("controller", &self.controller)
            .field("forward", &self.forward.is_some())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Events reported as `controller` (e.g. `source-controller`) from
    /// `instance` (the pod name), forwarded to `events_addr` when given.
    /// Must be called inside a Tokio runtime (it starts the forwarder).
    #[must_use]
    pub fn new(
        client: Client,
        controller: &str,
        instance: &str,
        events_addr: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance: Some(instance.to_owned()),
        };
        let stats = Arc::new(EventStats::default());
        let forward = events_addr.map(|addr| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(forward_loop(addr, rx, stats.clone()));
            tx
        });
        Self {
            recorder: Recorder::new(client, reporter),
            controller: controller.to_owned(),
            instance: instance.to_owned(),
            forward,
            stats,
        }
    }

    /// Records an event about `obj`. `revision`, when given, goes into the
    /// forwarded metadata as `<group>/revision`.
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        severity: Severity,
        reason: &str,
        message: &Scrubbed,
        revision: Option<&str>,
    ) {
        let reference = obj.object_ref(&());
        let kube_event = KubeEvent {
            type_: if severity == Severity::Info {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: reason.to_owned(),
            note: Some(message.as_str().chars().take(1024).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&kube_event, &reference).await {
            tracing::warn!(error = %e, reason, "recording a Kubernetes Event failed");
        }
        let Some(forward) = &self.forward else { return };
        let group = K::group(&()).into_owned();
        let metadata: BTreeMap<String, String> = revision
            .map(|r| (format!("{group}/{REVISION_KEY}"), r.to_owned()))
            .into_iter()
            .collect();
        let event = Event {
            involved_object: reference,
            severity: if severity == Severity::Info {
                SEVERITY_INFO
            } else {
                SEVERITY_ERROR
            }
            .to_owned(),
            timestamp: Time(Timestamp::now()),
            message: message.as_str().to_owned(),
            reason: reason.to_owned(),
            metadata,
            reporting_controller: self.controller.clone(),
            reporting_instance: self.instance.clone(),
        };
        if forward.try_send(event).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                reason,
                "the event queue is full; the event was not forwarded"
            );
        }
    }
}

async fn forward_loop(addr: String, mut rx: mpsc::Receiver<Event>, stats: Arc<EventStats>) {
    let client = ferroflux_tls::http_client();
    while let Some(event) = rx.recv().await {
        let Ok(body) = serde_json::to_vec(&event) else {
            continue;
        };
        let mut delay = Duration::from_millis(200);
        let mut delivered = false;
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .post(&addr)
                .header("Content-Type", "application/json")
                .timeout(Duration::from_secs(5))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => {
                    tracing::debug!(status = %r.status(), attempt, "the events address refused an event");
                }
                Err(e) => tracing::debug!(error = %e, attempt, "the events address is unreachable"),
            }
            if attempt < ATTEMPTS {
                // Backoff between delivery attempts; this task is off the reconcile path.
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        if delivered {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(address = %addr, reason = %event.reason, "forwarding an event failed after {ATTEMPTS} attempts");
        }
    }
}
