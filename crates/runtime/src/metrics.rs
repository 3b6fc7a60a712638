//! Prometheus metrics with Flux's names, and the health endpoints.
//!
//! - `gotk_reconcile_duration_seconds{kind,name,namespace}`: histogram of reconcile time.
//! - `gotk_reconcile_condition{kind,name,namespace,type,status}`: 1 for the
//!   object's current `Ready` status, 0 for the other statuses.
//! - `gotk_suspend_status{kind,name,namespace}`: 1 while suspended.
//! - `controller_runtime_reconcile_total{controller,result}`: reconciles by
//!   result (`success`, `error`, `requeue_after`).
//!
//! `/metrics` is served on `--metrics-addr`; `/healthz` and `/readyz` on
//! `--health-addr`. `/healthz` answers `ok` while the process runs;
//! `/readyz` only once the [`Readiness`] is set (a standby replica waiting
//! for leadership is not ready, so a Service sends it no traffic).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Labels naming one object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    name: String,
    namespace: String,
}

/// Labels of one condition status of one object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    kind: String,
    name: String,
    namespace: String,
    r#type: String,
    status: String,
}

/// Labels of the reconcile counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: String,
}

/// The metrics of one controller process.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    duration: Family<ObjectLabels, Histogram>,
    condition: Family<ConditionLabels, Gauge>,
    suspend: Family<ObjectLabels, Gauge>,
    reconciles: Family<ResultLabels, Counter>,
    queue_depth: Family<QueueLabels, Gauge>,
}

/// Labels of the work-queue gauge, as controller-runtime names them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    name: String,
}

/// How a reconcile ended, for the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Result {
    /// It succeeded.
    Success,
    /// It failed.
    Error,
    /// It waits for something and is requeued.
    Requeue,
}

impl Metrics {
    /// A registry for one controller process; its series are labelled by the kind each
    /// reconcile is for (`controller="gitrepository"`), so one process may run several kinds.
    #[must_use]
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let duration = Family::<ObjectLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 14))
        });
        let condition = Family::<ConditionLabels, Gauge>::default();
        let suspend = Family::<ObjectLabels, Gauge>::default();
        let reconciles = Family::<ResultLabels, Counter>::default();
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "gotk_reconcile_duration_seconds",
            "How long reconciles take",
            duration.clone(),
        );
        registry.register(
            "gotk_reconcile_condition",
            "The current status of the Ready condition",
            condition.clone(),
        );
        registry.register(
            "gotk_suspend_status",
            "Whether the object is suspended",
            suspend.clone(),
        );
        registry.register(
            "controller_runtime_reconcile",
            "Reconciles by result",
            reconciles.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Objects triggered by a change and waiting for a worker",
            queue_depth.clone(),
        );
        Arc::new(Self {
            registry: Mutex::new(registry),
            duration,
            condition,
            suspend,
            reconciles,
            queue_depth,
        })
    }

    fn object(kind: &str, namespace: &str, name: &str) -> ObjectLabels {
        ObjectLabels {
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    /// Records one finished reconcile of `kind` `namespace/name`.
    pub fn record(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        took: Duration,
        ready: Option<&str>,
        result: Result,
    ) {
        self.duration
            .get_or_create(&Self::object(kind, namespace, name))
            .observe(took.as_secs_f64());
        if let Some(current) = ready {
            for status in ["True", "False", "Unknown"] {
                let labels = ConditionLabels {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    namespace: namespace.to_owned(),
                    r#type: "Ready".to_owned(),
                    status: status.to_owned(),
                };
                self.condition
                    .get_or_create(&labels)
                    .set(i64::from(status == current));
            }
        }
        let result = match result {
            Result::Success => "success",
            Result::Error => "error",
            Result::Requeue => "requeue_after",
        };
        // One controller per kind, named as controller-runtime names it (`ocirepository`),
        // whichever process runs it.
        self.reconciles
            .get_or_create(&ResultLabels {
                controller: kind.to_lowercase(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Records whether `kind` `namespace/name` is suspended.
    pub fn set_suspended(&self, kind: &str, namespace: &str, name: &str, suspended: bool) {
        self.suspend
            .get_or_create(&Self::object(kind, namespace, name))
            .set(i64::from(suspended));
    }

    /// Records how many triggered objects wait for a worker in the queue `name` (one per
    /// reconciled kind: a process may run several).
    pub fn set_queue_depth(&self, name: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&QueueLabels {
                name: name.to_owned(),
            })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Forgets a deleted object's series.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        let object = Self::object(kind, namespace, name);
        self.duration.remove(&object);
        self.suspend.remove(&object);
        for status in ["True", "False", "Unknown"] {
            self.condition.remove(&ConditionLabels {
                kind: kind.to_owned(),
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                r#type: "Ready".to_owned(),
                status: status.to_owned(),
            });
        }
    }

    /// Adds a controller's own metric to the same registry, so one
    /// `/metrics` endpoint serves it beside the reconcile metrics.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// The metrics in the Prometheus text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The `/metrics` router.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
                    .into_response()
            }
        }),
    )
}

/// Whether the process is ready for traffic: set once it leads (or runs
/// without leader election).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<std::sync::atomic::AtomicBool>);

impl Readiness {
    /// Marks the process ready.
    pub fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether [`Readiness::set`] was called.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The `/healthz` and `/readyz` router; `/readyz` answers 503 until `ready`
/// is set.
pub fn health_router(ready: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.is_ready() {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "waiting for leadership")
                    }
                }
            }),
        )
}

/// Serves `router` on `listener` until `shutdown` completes.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
