//! The loop adds the finalizer, summarises conditions, echoes `requestedAt`,
//! skips suspended objects, retries failures, and cleans up on deletion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferroflux_api::meta::{Artifact, Condition};
use ferroflux_api::source::{GitRepository, GitRepositoryStatus};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{FINALIZER, Options, Reconciler, Stats, run};
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use ferroflux_testenv::{eventually, eventually_gone};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// Succeeds for ordinary URLs; fails transiently when the URL contains
/// `fail` (echoing the URL, credentials included, as a careless error would),
/// and stalls when it contains `stall`.
#[derive(Default)]
struct Scripted {
    calls: AtomicU64,
    finalized: Mutex<Vec<String>>,
}

impl Reconciler<GitRepository> for Scripted {
    async fn reconcile(
        &self,
        obj: Arc<GitRepository>,
        status: &mut GitRepositoryStatus,
    ) -> Result<Outcome, ReconcileError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let url = &obj.spec.url;
        if url.contains("fail") {
            let message = Scrubbed::new(&format!("cloning {url} failed: authentication required"));
            return Err(ReconcileError::transient("GitOperationFailed", message)
                .with_condition("FetchFailed"));
        }
        if url.contains("stall") {
            return Err(ReconcileError::stalled(
                "InvalidURL",
                Scrubbed::new("the URL names no repository"),
            ));
        }
        conditions::remove(&mut status.conditions, "FetchFailed");
        conditions::set(
            &mut status.conditions,
            "ArtifactInStorage",
            true,
            "Succeeded",
            "stored",
            None,
        );
        status.artifact = Some(Artifact {
            path: "gitrepository/ns/name/abc.tar.gz".into(),
            url: "http://artifacts/gitrepository/ns/name/abc.tar.gz".into(),
            revision: "main@sha1:abc".into(),
            digest: Some("sha256:00".into()),
            last_update_time: Time(Timestamp::now()),
            size: Some(1),
            metadata: None,
        });
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<GitRepository>) -> Result<(), ReconcileError> {
        self.finalized
            .lock()
            .unwrap()
            .push(obj.metadata.name.clone().unwrap());
        Ok(())
    }

    fn ready_message(&self, status: &GitRepositoryStatus) -> String {
        let revision = status.artifact.as_ref().map_or("", |a| a.revision.as_str());
        format!("stored artifact for revision '{revision}'")
    }
}

pub(crate) struct Harness {
    pub(crate) api: Api<GitRepository>,
    reconciler: Arc<Scripted>,
    stats: Arc<Stats>,
    pub(crate) events: ferroflux_runtime::events::Events,
    pub(crate) metrics: Arc<ferroflux_runtime::metrics::Metrics>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn harness(prefix: &str) -> Harness {
    harness_with(prefix, None).await
}

/// A harness whose events are recorded and, with `events_addr`, forwarded.
pub(crate) async fn harness_with(prefix: &str, events_addr: Option<String>) -> Harness {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client: Client = cp.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let ns = ferroflux_testenv::namespace(&client, prefix).await.unwrap();
    let reconciler = Arc::new(Scripted::default());
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let events = ferroflux_runtime::events::Events::new(
        client.clone(),
        "test-controller",
        "test-controller-0",
        events_addr,
    );
    let metrics = ferroflux_runtime::metrics::Metrics::new();
    let options = Options {
        metrics: Some(metrics.clone()),
        events: Some(events.clone()),
        field_manager: "runtime-tests".into(),
        namespace: Some(ns.clone()),
        backoff: ferroflux_runtime::backoff::Backoff {
            min: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        stats: stats.clone(),
        ..Options::default()
    };
    tokio::spawn(run::<GitRepository, _>(
        client.clone(),
        reconciler.clone(),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    Harness {
        api: Api::namespaced(client, &ns),
        reconciler,
        stats,
        events,
        metrics,
        _stop: stop,
    }
}

impl Harness {
    /// Creates the GitRepository `name` at `url`.
    pub(crate) async fn create(&self, name: &str, url: &str, suspend: bool) {
        self.api
            .create(&PostParams::default(), &repo(name, url, suspend))
            .await
            .unwrap();
    }
}

pub(crate) fn repo(name: &str, url: &str, suspend: bool) -> GitRepository {
    let mut repo: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": {"url": url, "interval": "1h"}
    }))
    .unwrap();
    repo.spec.suspend = suspend;
    repo
}

/// Polls the object until `check` accepts it; fails after 20 s showing the last state.
pub(crate) async fn wait_for(
    api: &Api<GitRepository>,
    name: &str,
    what: &str,
    check: impl Fn(&GitRepository) -> bool,
) -> GitRepository {
    let check = &check;
    eventually(what, Duration::from_secs(20), || async move {
        let obj = api.get(name).await.unwrap();
        check(&obj).then_some(obj)
    })
    .await
}

/// Waits until `counter` reaches `at_least`.
pub(crate) async fn count_reaches(
    what: &str,
    counter: &std::sync::atomic::AtomicU64,
    at_least: u64,
) {
    eventually(what, Duration::from_secs(20), || async {
        (counter.load(Ordering::SeqCst) >= at_least).then_some(())
    })
    .await;
}

pub(crate) fn condition<'a>(obj: &'a GitRepository, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

pub(crate) fn ready(obj: &GitRepository) -> bool {
    condition(obj, "Ready").is_some_and(|c| c.status == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_object_gets_the_finalizer_and_becomes_ready_for_its_generation() {
    let h = harness("ready").await;
    h.create("app", "https://git.example.com/app.git", false)
        .await;
    let obj = wait_for(&h.api, "app", "Ready=True", ready).await;
    let status = obj.status.clone().unwrap();
    assert_eq!(status.observed_generation, obj.metadata.generation);
    assert_eq!(
        condition(&obj, "Ready").unwrap().message,
        "stored artifact for revision 'main@sha1:abc'"
    );
    assert_eq!(condition(&obj, "Ready").unwrap().reason, "Succeeded");
    assert!(
        condition(&obj, "Reconciling").is_none(),
        "Reconciling is removed after success"
    );
    assert!(
        obj.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&FINALIZER.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_at_reconciles_at_once_and_is_echoed_without_status_writes_retriggering() {
    let h = harness("requested").await;
    h.create("app", "https://git.example.com/app.git", false)
        .await;
    wait_for(&h.api, "app", "Ready=True", ready).await;
    let before = h.reconciler.calls.load(Ordering::SeqCst);

    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-23T10:00:00Z"}}});
    h.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for(&h.api, "app", "lastHandledReconcileAt is echoed", |o| {
        o.status
            .as_ref()
            .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
            == Some("2026-11-23T10:00:00Z")
    })
    .await;
    // One reconcile for the request; the interval is an hour, and the status
    // writes of either reconcile must not have triggered more.
    assert_eq!(h.reconciler.calls.load(Ordering::SeqCst), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_not_ready_with_a_scrubbed_message_and_is_retried() {
    let h = harness("failing").await;
    let url = "https://deploy-bot:hunter2-secret@fail.example.com/app.git";
    h.api
        .create(&PostParams::default(), &repo("app", url, false))
        .await
        .unwrap();
    let obj = wait_for(&h.api, "app", "Ready=False", |o| {
        condition(o, "Ready")
            .is_some_and(|c| c.status == "False" && c.reason == "GitOperationFailed")
    })
    .await;
    let status_text = serde_json::to_string(&obj.status).unwrap();
    assert!(
        !status_text.contains("hunter2-secret"),
        "the password leaked into the status: {status_text}"
    );
    assert!(
        condition(&obj, "Ready")
            .unwrap()
            .message
            .contains("https://***@fail.example.com/app.git")
    );
    assert_eq!(condition(&obj, "FetchFailed").unwrap().status, "True");
    assert_eq!(
        condition(&obj, "Reconciling").unwrap().reason,
        "ProgressingWithRetry"
    );
    assert_eq!(
        obj.status.unwrap().observed_generation,
        None,
        "a retried failure does not observe the generation"
    );

    // `failures` counts after a reconcile's status patch, `calls` before it,
    // so wait on the later one.
    count_reaches("the failure is retried with backoff", &h.stats.failures, 3).await;
    assert!(h.reconciler.calls.load(Ordering::SeqCst) >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_object_says_why_and_is_not_retried_until_its_spec_changes() {
    let h = harness("stalled").await;
    h.create("app", "https://stall.example.com/", false).await;
    let obj = wait_for(&h.api, "app", "Stalled=True", |o| {
        condition(o, "Stalled").is_some_and(|c| c.status == "True")
    })
    .await;
    assert_eq!(condition(&obj, "Ready").unwrap().reason, "InvalidURL");
    assert_eq!(
        obj.status.as_ref().unwrap().observed_generation,
        obj.metadata.generation
    );

    let fix = serde_json::json!({"spec": {"url": "https://git.example.com/app.git"}});
    h.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&fix))
        .await
        .unwrap();
    let obj = wait_for(&h.api, "app", "Ready=True after the fix", ready).await;
    assert!(condition(&obj, "Stalled").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_object_is_skipped_until_resumed() {
    let h = harness("suspended").await;
    h.create("app", "https://git.example.com/app.git", true)
        .await;
    count_reaches("the suspended object is seen", &h.stats.suspended_skips, 1).await;
    assert_eq!(
        h.reconciler.calls.load(Ordering::SeqCst),
        0,
        "a suspended object was reconciled"
    );

    let resume = serde_json::json!({"spec": {"suspend": false}});
    h.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&resume))
        .await
        .unwrap();
    wait_for(&h.api, "app", "Ready=True after resume", ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_runs_the_cleanup_and_then_the_object_goes() {
    let h = harness("deleted").await;
    h.create("app", "https://git.example.com/app.git", false)
        .await;
    wait_for(&h.api, "app", "Ready=True", ready).await;
    h.api.delete("app", &DeleteParams::default()).await.unwrap();
    eventually_gone(&h.api, "app", Duration::from_secs(20)).await;
    assert_eq!(
        *h.reconciler.finalized.lock().unwrap(),
        vec!["app".to_string()]
    );
    assert_eq!(h.stats.finalized.load(Ordering::SeqCst), 1);
}
