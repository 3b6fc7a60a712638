//! The controller loop every kind shares, over kube-runtime's `Controller`.
//!
//! For each object: add the finalizer; on deletion run the kind's cleanup and
//! remove it; skip suspended objects and leave static ones alone; patch `Reconciling=True` when a new
//! generation starts; run the kind's sub-reconcilers; summarise the result
//! ([`summarize`]); echo `reconcile.fluxcd.io/requestedAt`; patch the status
//! once with server-side apply; requeue after the jittered interval, the
//! backoff for the object's consecutive failures, or the wait the error asked for.
//!
//! # Caveats
//! Only changes of generation, of the `requestedAt` annotation, of our
//! finalizer's presence, or the start of deletion trigger a reconcile; status
//! writes (ours included) do not.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use ferroflux_api::meta::{READY_CONDITION, RECONCILE_REQUEST_ANNOTATION, RECONCILING_CONDITION};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};

use crate::backoff::{Backoff, jittered};
use crate::conditions::{self, reason};
use crate::error::{Handling, Outcome, ReconcileError};
use crate::events::{Events, Severity};
use crate::metrics::{self, Metrics};
use crate::object::Object;
use crate::summary::summarize;

/// The finalizer Flux's controllers put on the objects they manage.
pub const FINALIZER: &str = "finalizers.fluxcd.io";

/// A kind's reconcile logic: the ordered sub-reconcilers and the cleanup.
pub trait Reconciler<K: Object>: Send + Sync + 'static {
    /// Runs the sub-reconcilers in order, updating `status` (kind-specific
    /// fields and negative conditions); the runtime does the rest.
    fn reconcile(
        &self,
        obj: Arc<K>,
        status: &mut K::Status,
    ) -> impl Future<Output = Result<Outcome, ReconcileError>> + Send;

    /// Cleans up after a deleted object (e.g. removes its artifacts).
    fn finalize(&self, obj: Arc<K>) -> impl Future<Output = Result<(), ReconcileError>> + Send;

    /// The `Ready=True` message after a successful reconcile.
    fn ready_message(&self, status: &K::Status) -> String;

    /// The reason of the event emitted when `Ready` becomes `True` or its
    /// message changes (e.g. `NewArtifact`).
    fn success_reason(&self) -> &'static str {
        ferroflux_api::meta::RECONCILIATION_SUCCEEDED_REASON
    }

    /// The `Ready` reason (and success event reason) when the reconcile succeeded, when it
    /// depends on what was done: a HelmRelease says `InstallSucceeded` or `UpgradeSucceeded`
    /// as Flux's does. `None` keeps the kind's contract reason and [`Self::success_reason`].
    fn ready_reason(&self, _status: &K::Status) -> Option<String> {
        None
    }
}

/// How the loop runs (Flux's controller flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// The field manager of status patches, e.g. `source-controller`.
    pub field_manager: String,
    /// Objects reconciled at once (`--concurrent`).
    pub concurrency: u16,
    /// Watch only this namespace; all namespaces when `None` (`--watch-all-namespaces`).
    pub namespace: Option<String>,
    /// Watch only objects matching this label selector (`--watch-label-selector`).
    pub label_selector: Option<String>,
    /// Retry delays after failures.
    pub backoff: Backoff,
    /// Interval jitter as a fraction (`--interval-jitter-percentage` / 100).
    pub jitter: f64,
    /// Where events go; `None` records none.
    pub events: Option<Events>,
    /// Where metrics go; `None` records none.
    pub metrics: Option<Arc<Metrics>>,
    /// Counters of what the loop did; a test keeps a clone to read them.
    pub stats: Arc<Stats>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            field_manager: "ferroflux".into(),
            concurrency: 4,
            namespace: None,
            label_selector: None,
            backoff: Backoff::default(),
            jitter: 0.05,
            events: None,
            metrics: None,
            stats: Arc::default(),
        }
    }
}

/// Counters of what the loop did, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Reconciles that ran the kind's sub-reconcilers.
    pub reconciles: AtomicU64,
    /// Reconciles that ended in an error.
    pub failures: AtomicU64,
    /// Reconciles skipped because the object is suspended.
    pub suspended_skips: AtomicU64,
    /// Deleted objects finalized.
    pub finalized: AtomicU64,
}

/// Why a reconcile could not be completed by the runtime itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing the status failed.
    #[error("patching the status of {object} failed: {source}")]
    PatchStatus {
        /// `namespace/name`.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The kind's cleanup failed; the finalizer stays and cleanup is retried.
    #[error("cleaning up after {object} failed: {source}")]
    Cleanup {
        /// `namespace/name`.
        object: String,
        /// The cleanup's error.
        #[source]
        source: ReconcileError,
    },
    /// Adding or removing the finalizer failed.
    #[error("managing the finalizer failed: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

struct Context<K: Object, R> {
    client: Client,
    reconciler: Arc<R>,
    options: Options,
    stats: Arc<Stats>,
    failures: Mutex<HashMap<String, u32>>,
    /// The resourceVersion each object got from this controller's last status patch: the
    /// watch cache can lag behind it, and a reconcile must not decide from a status older than
    /// the one it wrote itself (a Helm release it just recorded would look unrecorded).
    written: Mutex<HashMap<String, u64>>,
    queue: Arc<Queue>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

/// The objects a watch event triggered that no worker has picked up yet: the
/// work-queue depth. kube-runtime keeps its queue private, so this counts
/// what goes in (after the trigger predicate) and what starts; retries
/// scheduled by the runtime itself are not included.
#[derive(Default)]
struct Queue {
    /// The queue's name in metrics: the kind, lowercase (`gitrepository`), as
    /// controller-runtime names a controller's queue.
    name: String,
    pending: Mutex<HashSet<String>>,
}

impl Queue {
    fn update(&self, key: String, add: bool, metrics: Option<&Metrics>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if add {
            pending.insert(key);
        } else {
            pending.remove(&key);
        }
        if let Some(m) = metrics {
            m.set_queue_depth(&self.name, pending.len());
        }
    }
}

impl<K: Object, R> Context<K, R> {
    /// Records the resourceVersion a status patch of `key` returned.
    fn record_written(&self, key: &str, written: Option<u64>) {
        if let Some(version) = written {
            self.written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_owned(), version);
        }
    }

    /// `obj` from the watch cache, or, when the cache has not caught up with this
    /// controller's own last status patch of it, read again from the API server (the cached
    /// one when that read fails).
    async fn current(&self, api: &Api<K>, obj: Arc<K>) -> Arc<K> {
        let key = key_of(&*obj);
        let written = self
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        let cached = obj
            .meta()
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok());
        match (written, cached) {
            (Some(w), Some(c)) if c < w => match api.get_opt(&obj.name_any()).await {
                Ok(Some(fresh)) => Arc::new(fresh),
                _ => obj,
            },
            _ => obj,
        }
    }

    fn forget_written(&self, key: &str) {
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn record_failure(&self, key: &str) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn reset_failures(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Runs the controller for kind `K` until `shutdown` completes.
pub async fn run<K, R>(
    client: Client,
    reconciler: Arc<R>,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K: Object,
    R: Reconciler<K>,
{
    run_with_triggers(
        client,
        reconciler,
        options,
        futures_util::stream::empty(),
        shutdown,
    )
    .await;
}

/// [`run`], also reconciling every object `triggers` names as it names it
/// (for example the Kustomizations whose source has a new artifact).
pub async fn run_with_triggers<K, R>(
    client: Client,
    reconciler: Arc<R>,
    options: Options,
    triggers: impl Stream<Item = ObjectRef<K>> + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K: Object,
    R: Reconciler<K>,
{
    let extra = triggers;
    let api: Api<K> = match &options.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut watch = watcher::Config::default();
    if let Some(selector) = &options.label_selector {
        watch = watch.labels(selector);
    }
    let (reader, writer) = reflector::store();
    let queue = Arc::new(Queue {
        name: K::kind(&()).to_lowercase(),
        pending: Mutex::default(),
    });
    let (queued, queue_metrics) = (queue.clone(), options.metrics.clone());
    let triggers = watcher(api, watch)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(trigger_hash::<K>, PredicateConfig::default())
        .inspect_ok(move |obj| queued.update(key_of(obj), true, queue_metrics.as_deref()));
    let concurrency = options.concurrency;
    let stats = options.stats.clone();
    let context = Arc::new(Context {
        client,
        reconciler,
        options,
        stats,
        failures: Mutex::default(),
        written: Mutex::default(),
        queue,
        _kind: std::marker::PhantomData,
    });
    Controller::for_stream(triggers, reader)
        .reconcile_on(extra)
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile ended in an error");
            }
        })
        .await;
}

/// What makes an object worth reconciling: a new generation, a new
/// `requestedAt`, the start of deletion, or our finalizer appearing (kube's
/// finalizer helper adds it and waits for that change to run the reconcile).
#[expect(
    clippy::unnecessary_wraps,
    reason = "kube's predicates return Option<u64>"
)]
fn trigger_hash<K: Resource>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let mut h = DefaultHasher::new();
    meta.generation.hash(&mut h);
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(RECONCILE_REQUEST_ANNOTATION))
        .hash(&mut h);
    meta.deletion_timestamp.is_some().hash(&mut h);
    meta.finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER))
        .hash(&mut h);
    Some(h.finish())
}

fn key_of<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

async fn reconcile<K: Object, R: Reconciler<K>>(
    obj: Arc<K>,
    ctx: Arc<Context<K, R>>,
) -> Result<Action, Error> {
    ctx.queue
        .update(key_of(&*obj), false, ctx.options.metrics.as_deref());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => apply(&api, obj, &ctx).await,
            FinalizerEvent::Cleanup(obj) => {
                let object = key_of(&*obj);
                let (obj_ns, obj_name) = (obj.namespace().unwrap_or_default(), obj.name_any());
                ctx.reconciler
                    .finalize(obj)
                    .await
                    .map_err(|source| Error::Cleanup { object, source })?;
                ctx.stats.finalized.fetch_add(1, Ordering::Relaxed);
                ctx.forget_written(&format!("{obj_ns}/{obj_name}"));
                if let Some(m) = &ctx.options.metrics {
                    m.forget(&K::kind(&()), &obj_ns, &obj_name);
                }
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn apply<K: Object, R: Reconciler<K>>(
    api: &Api<K>,
    obj: Arc<K>,
    ctx: &Context<K, R>,
) -> Result<Action, Error> {
    let obj = ctx.current(api, obj).await;
    let key = key_of(&*obj);
    let (kind, ns, name) = (
        K::kind(&()).into_owned(),
        obj.namespace().unwrap_or_default(),
        obj.name_any(),
    );
    if let Some(m) = &ctx.options.metrics {
        m.set_suspended(&kind, &ns, &name, obj.suspended());
    }
    if obj.suspended() {
        ctx.stats.suspended_skips.fetch_add(1, Ordering::Relaxed);
        tracing::info!(object = %key, "reconciliation is suspended");
        return Ok(Action::await_change());
    }
    if obj.is_static() {
        return clear_static(api, obj, ctx).await;
    }
    ctx.stats.reconciles.fetch_add(1, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let generation = obj.meta().generation;
    let mut status = obj.status().cloned().unwrap_or_default();
    let ready_before = conditions::get(K::conditions(&mut status), READY_CONDITION).cloned();

    // Show that a new generation is being worked on before the slow part.
    if !ready_describes(K::conditions(&mut status), generation) {
        let message = format!("reconciling generation {}", generation.unwrap_or_default());
        conditions::set(
            K::conditions(&mut status),
            RECONCILING_CONDITION,
            true,
            reason::PROGRESSING,
            &message,
            generation,
        );
        let written = patch_status(api, &obj, &status, &ctx.options.field_manager).await?;
        ctx.record_written(&key, written);
    }

    let interval = obj.interval().get();
    let result = match check_durations(&*obj) {
        Ok(()) => ctx.reconciler.reconcile(obj.clone(), &mut status).await,
        Err(e) => Err(e),
    };
    if let Some(requested) = obj.annotations().get(RECONCILE_REQUEST_ANNOTATION) {
        *K::last_handled_reconcile_at(&mut status) = Some(requested.clone());
    }
    let message = ctx.reconciler.ready_message(&status);
    let summary = summarize(
        K::conditions(&mut status),
        &K::CONTRACT,
        &result,
        generation,
        &message,
    );
    if let Some(g) = summary.observed_generation {
        K::set_observed_generation(&mut status, g);
    }
    let ready_reason = ctx.reconciler.ready_reason(&status);
    if summary.ready
        && let Some(reason) = &ready_reason
    {
        conditions::set(
            K::conditions(&mut status),
            READY_CONDITION,
            true,
            reason,
            &message,
            generation,
        );
    }
    let written = patch_status(api, &obj, &status, &ctx.options.field_manager).await?;
    ctx.record_written(&key, written);

    let ready_after = conditions::get(K::conditions(&mut status), READY_CONDITION).cloned();
    let report = Report {
        obj: &*obj,
        result: &result,
        revision: K::revision(&status),
        ready_before: ready_before.as_ref(),
        ready_after: ready_after.as_ref(),
        took: started.elapsed(),
        success_reason: ready_reason,
    };
    report.send(ctx).await;

    Ok(next_action(
        &*obj,
        &key,
        result,
        interval.unwrap_or_default(),
        ctx,
    ))
}

/// A static object (Flux's OCI HelmRepository) is not reconciled: what the
/// controller held for it is cleaned up (as when it changed from a kind of
/// object that had artifacts) and a status left from then is emptied, as
/// Flux does, so no stale `Ready` describes it.
async fn clear_static<K: Object, R: Reconciler<K>>(
    api: &Api<K>,
    obj: Arc<K>,
    ctx: &Context<K, R>,
) -> Result<Action, Error> {
    let key = key_of(&*obj);
    let had_status = obj.status().is_some();
    ctx.reconciler
        .finalize(obj.clone())
        .await
        .map_err(|source| Error::Cleanup {
            object: key.clone(),
            source,
        })?;
    if had_status {
        let written =
            patch_status(api, &obj, &K::Status::default(), &ctx.options.field_manager).await?;
        ctx.record_written(&key_of(&*obj), written);
    }
    tracing::debug!(object = %key, "static object: not reconciled");
    Ok(Action::await_change())
}

/// Refuses an object with a duration field that is not a Go duration, the
/// same way for every field and kind: stalled (no retry can help until the
/// spec changes), naming the field. The reason is `InvalidInterval` for the
/// intervals and `InvalidTimeout` for the timeouts, as Flux's sources name them.
fn check_durations<K: Object>(obj: &K) -> Result<(), ReconcileError> {
    for field in obj.durations() {
        if let Err(e) = field.value.get() {
            let reason = if field.path.ends_with("imeout") {
                "InvalidTimeout"
            } else {
                "InvalidInterval"
            };
            return Err(ReconcileError::stalled(
                reason,
                crate::scrub::Scrubbed::new(&format!("{}: {e}", field.path)),
            ));
        }
    }
    Ok(())
}

/// When to reconcile `obj` again after `result`.
fn next_action<K: Object, R>(
    obj: &K,
    key: &str,
    result: Result<Outcome, ReconcileError>,
    interval: Duration,
    ctx: &Context<K, R>,
) -> Action {
    match result {
        Ok(outcome) => {
            ctx.reset_failures(key);
            let every = jittered(interval, ctx.options.jitter, seed(key));
            after_success(every, outcome).map_or_else(Action::await_change, Action::requeue)
        }
        Err(e) => {
            ctx.stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(object = %key, reason = e.reason, message = %e.message, "reconcile failed");
            match e.handling {
                Handling::Stalled => {
                    ctx.reset_failures(key);
                    Action::await_change()
                }
                // Floored: a wait computed from a tenant's zero interval
                // must not become a hot loop.
                Handling::Waiting(after) => Action::requeue(after.max(MIN_WAIT)),
                Handling::Transient => {
                    let failures = ctx.record_failure(key);
                    let retry = obj.retry_interval().and_then(|r| r.get().ok());
                    Action::requeue(after_failure(retry, || ctx.options.backoff.delay(failures)))
                }
            }
        }
    }
}

/// When to reconcile again after a success: after `interval` (jittered) or
/// sooner if the chain asked for it. A zero interval means no periodic
/// reconcile, as in Flux: only what the chain asked for, and never at once
/// (an immediate requeue would be a hot loop one object could cause).
fn after_success(interval: Duration, outcome: Outcome) -> Option<Duration> {
    let scheduled = Outcome {
        requeue_after: Some(interval).filter(|d| !d.is_zero()),
        stop: false,
    };
    scheduled
        .merge(outcome)
        .requeue_after
        .map(|d| d.max(MIN_REQUEUE))
}

/// When to retry after a transient failure: `spec.retryInterval` (or the
/// interval it defaults to) unless it is zero, which would retry at once
/// in a hot loop; then the exponential backoff.
fn after_failure(retry: Option<Duration>, backoff: impl FnOnce() -> Duration) -> Duration {
    retry.filter(|d| !d.is_zero()).unwrap_or_else(backoff)
}

/// The shortest requeue the loop schedules after a success.
const MIN_REQUEUE: Duration = Duration::from_secs(1);

/// The shortest wait the loop schedules for a [`Handling::Waiting`] error
/// (the health check asks for 100 ms when a newer revision arrives).
const MIN_WAIT: Duration = Duration::from_millis(100);

/// What a finished reconcile tells metrics and events.
struct Report<'a, K> {
    obj: &'a K,
    result: &'a Result<Outcome, ReconcileError>,
    revision: Option<String>,
    ready_before: Option<&'a ferroflux_api::meta::Condition>,
    ready_after: Option<&'a ferroflux_api::meta::Condition>,
    took: Duration,
    /// The success event's reason when the reconciler chose one.
    success_reason: Option<String>,
}

impl<K: Object> Report<'_, K> {
    /// Records the reconcile in the metrics, and emits an error event for a
    /// failure that asks for one, or an info event when `Ready` turned `True`
    /// or its message (which names the revision) changed.
    async fn send<R: Reconciler<K>>(&self, ctx: &Context<K, R>) {
        let (kind, ns, name) = (
            K::kind(&()),
            self.obj.namespace().unwrap_or_default(),
            self.obj.name_any(),
        );
        if let Some(m) = &ctx.options.metrics {
            let outcome = match self.result {
                Ok(_) => metrics::Result::Success,
                Err(e) if matches!(e.handling, Handling::Waiting(_)) => metrics::Result::Requeue,
                Err(_) => metrics::Result::Error,
            };
            let ready = self.ready_after.map(|c| c.status.as_str());
            m.record(&kind, &ns, &name, self.took, ready, outcome);
        }
        let Some(events) = &ctx.options.events else {
            return;
        };
        let revision = self.revision.as_deref();
        match (self.result, self.ready_after) {
            (Err(e), _) if e.event => {
                events
                    .publish(self.obj, Severity::Error, e.reason, &e.message, revision)
                    .await;
            }
            (Ok(_), Some(after)) if after.status == "True" => {
                let changed = self
                    .ready_before
                    .is_none_or(|b| b.status != "True" || b.message != after.message);
                if changed {
                    let text = crate::scrub::Scrubbed::new(&after.message);
                    let reason = self
                        .success_reason
                        .as_deref()
                        .unwrap_or_else(|| ctx.reconciler.success_reason());
                    events
                        .publish(self.obj, Severity::Info, reason, &text, revision)
                        .await;
                }
            }
            _ => {}
        }
    }
}

/// Whether `Ready` was computed for `generation` (it records the generation).
fn ready_describes(conditions: &[ferroflux_api::meta::Condition], generation: Option<i64>) -> bool {
    conditions::get(conditions, READY_CONDITION)
        .is_some_and(|c| c.observed_generation == generation)
}

/// Server-side applies `status`; returns the object's new resourceVersion (when numeric, as
/// the API server's are).
async fn patch_status<K: Object>(
    api: &Api<K>,
    obj: &K,
    status: &K::Status,
    field_manager: &str,
) -> Result<Option<u64>, Error> {
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(field_manager).force();
    api.patch_status(&obj.name_any(), &params, &Patch::Apply(&patch))
        .await
        .map(|patched| {
            patched
                .meta()
                .resource_version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_err(|source| Error::PatchStatus {
            object: key_of(obj),
            source,
        })
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube's Controller::run expects"
)]
fn error_policy<K: Object, R: Reconciler<K>>(
    obj: Arc<K>,
    error: &Error,
    ctx: Arc<Context<K, R>>,
) -> Action {
    let key = key_of(&*obj);
    let failures = ctx.record_failure(&key);
    tracing::warn!(object = %key, error = %error, "reconcile could not be completed");
    Action::requeue(ctx.options.backoff.delay(failures))
}

/// A jitter seed that differs between objects and between runs.
fn seed(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos()
        .hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{MIN_REQUEUE, Queue, after_failure, after_success};
    use crate::error::Outcome;
    use crate::metrics::Metrics;

    /// Issue 15, defect 7: `interval: 0s` and `retryInterval: 0s` requeued
    /// at once, a hot loop any tenant could start.
    #[test]
    fn zero_intervals_never_requeue_at_once() {
        let asked = |secs| Outcome {
            requeue_after: Some(Duration::from_secs(secs)),
            stop: false,
        };
        let every = Duration::from_secs(600);
        assert_eq!(after_success(every, Outcome::CONTINUE), Some(every));
        assert_eq!(after_success(every, asked(5)), Some(Duration::from_secs(5)));
        assert_eq!(after_success(Duration::ZERO, Outcome::CONTINUE), None);
        assert_eq!(
            after_success(Duration::ZERO, asked(5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(after_success(Duration::ZERO, asked(0)), Some(MIN_REQUEUE));
        let backoff = || Duration::from_millis(750);
        assert_eq!(
            after_failure(Some(Duration::from_secs(30)), backoff),
            Duration::from_secs(30)
        );
        assert_eq!(
            after_failure(Some(Duration::ZERO), backoff),
            Duration::from_millis(750)
        );
        assert_eq!(after_failure(None, backoff), Duration::from_millis(750));
    }

    #[test]
    fn the_queue_depth_counts_each_waiting_object_once() {
        let metrics = Metrics::new();
        let queue = Queue {
            name: "gitrepository".to_owned(),
            pending: std::sync::Mutex::default(),
        };
        let depth = |n: usize| format!("workqueue_depth{{name=\"gitrepository\"}} {n}");
        queue.update("ns/a".into(), true, Some(&metrics));
        queue.update("ns/b".into(), true, Some(&metrics));
        queue.update("ns/b".into(), true, Some(&metrics));
        assert!(metrics.encode().contains(&depth(2)), "{}", metrics.encode());
        queue.update("ns/a".into(), false, Some(&metrics));
        assert!(metrics.encode().contains(&depth(1)), "{}", metrics.encode());
        queue.update("ns/b".into(), false, Some(&metrics));
        assert!(metrics.encode().contains(&depth(0)), "{}", metrics.encode());
    }
}
