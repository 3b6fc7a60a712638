//! HelmRepository and HelmChart end to end: a real chart repository (the
//! reference `helm` packages and indexes it), the real control plane, the
//! reconcilers in process (to read the request log against their
//! storage) or the binary with its artifact server.

#![expect(
    clippy::too_many_lines,
    reason = "each test is one story over one repository and control plane; split, each part would repeat the setup"
)]

use std::fmt::Write as _;

use std::sync::Arc;
use std::time::Duration;

use ferroflux_api::meta::Condition;
use ferroflux_api::source::{Bucket, GitRepository, HelmChart, HelmRepository};
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{Options, Reconciler, run, run_with_triggers};
use ferroflux_runtime::events::Events;
use ferroflux_runtime::object::Object;
use ferroflux_source_controller::bucket::BucketReconciler;
use ferroflux_source_controller::gitrepository::GitRepositoryReconciler;
use ferroflux_source_controller::helmchart::HelmChartReconciler;
use ferroflux_source_controller::helmrepository::HelmRepositoryReconciler;
use ferroflux_testenv::chartrepo::{ChartRepo, Options as RepoOptions};
use ferroflux_testenv::eventually;
use ferroflux_testenv::git::GitServer;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::gitrepository::{
    Controller, client_and_namespace, git_repository, named_secret, reqwest_client,
};

const PASSWORD: &str = "s3cr3t-chart-repo-password";

/// A chart repository with `demo` 1.0.0 and 1.1.0, indexed by helm.
async fn demo_repo(options: RepoOptions) -> ChartRepo {
    let repo = ChartRepo::start(options).await.unwrap();
    repo.add_chart("demo", "1.0.0", "replicas: 1\n", &[])
        .unwrap();
    repo.add_chart("demo", "1.1.0", "replicas: 2\n", &[])
        .unwrap();
    repo.index().unwrap();
    repo
}

pub(crate) fn helm_repository(name: &str, url: &str, extra: serde_json::Value) -> HelmRepository {
    let mut spec = serde_json::json!({"url": url, "interval": "1h"});
    if let (Some(spec), serde_json::Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

pub(crate) fn helm_chart(name: &str, spec: serde_json::Value) -> HelmChart {
    let mut full = serde_json::json!({"interval": "1h"});
    if let (Some(full), serde_json::Value::Object(spec)) = (full.as_object_mut(), spec) {
        full.extend(spec);
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": {"name": name},
        "spec": full,
    }))
    .unwrap()
}

pub(crate) fn from_repo(chart: &str, version: &str, repo: &str) -> serde_json::Value {
    serde_json::json!({
        "chart": chart,
        "version": version,
        "sourceRef": {"kind": "HelmRepository", "name": repo},
    })
}

/// Runs `reconciler` for kind `K` in this process on namespace `ns`, with
/// Kubernetes events, until the returned sender is dropped.
fn run_in_process<K: Object, R: Reconciler<K>>(
    client: &Client,
    ns: &str,
    reconciler: &Arc<R>,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        namespace: Some(ns.to_owned()),
        events: Some(Events::new(
            client.clone(),
            "source-controller",
            "test",
            None,
        )),
        ..Options::default()
    };
    tokio::spawn(run::<K, _>(
        client.clone(),
        reconciler.clone(),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    stop
}

/// The two Helm reconcilers (and the GitRepository one) in process over a
/// fresh storage, wired as the binary wires them.
pub(crate) struct InProcess {
    pub(crate) storage_dir: tempfile::TempDir,
    /// The HelmChart reconciler, to count its downloads.
    pub(crate) charts: Arc<HelmChartReconciler>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

pub(crate) fn start_in_process(client: &Client, ns: &str, with_git: bool) -> InProcess {
    start_in_process_with(client, ns, with_git, false)
}

/// As [`start_in_process`], with the Bucket reconciler too when `with_bucket`.
pub(crate) fn start_in_process_with(
    client: &Client,
    ns: &str,
    with_git: bool,
    with_bucket: bool,
) -> InProcess {
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let repos = Arc::new(HelmRepositoryReconciler::new(
        client.clone(),
        storage.clone(),
    ));
    let charts = Arc::new(HelmChartReconciler::new(client.clone(), storage.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let triggers = ferroflux_source_controller::helmchart::triggers::artifact_triggers(
        client.clone(),
        Some(ns),
        None,
    );
    let options = Options {
        namespace: Some(ns.to_owned()),
        events: Some(Events::new(
            client.clone(),
            "source-controller",
            "test",
            None,
        )),
        ..Options::default()
    };
    tokio::spawn(run_with_triggers::<HelmChart, _>(
        client.clone(),
        charts.clone(),
        options,
        triggers,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut stops = vec![
        run_in_process::<HelmRepository, _>(client, ns, &repos),
        stop,
    ];
    if with_bucket {
        let buckets = Arc::new(BucketReconciler::new(client.clone(), storage.clone()));
        stops.push(run_in_process::<Bucket, _>(client, ns, &buckets));
    }
    if with_git {
        let git = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
        stops.push(run_in_process::<GitRepository, _>(client, ns, &git));
    }
    InProcess {
        storage_dir,
        charts,
        _stops: stops,
    }
}

pub(crate) async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    check: impl Fn(&K) -> bool,
) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let check = &check;
    eventually(what, Duration::from_secs(40), || async move {
        let obj = api.get(name).await.unwrap();
        check(&obj).then_some(obj)
    })
    .await
}

fn repo_condition<'a>(obj: &'a HelmRepository, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

pub(crate) fn chart_condition<'a>(obj: &'a HelmChart, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

fn repo_revision(obj: &HelmRepository) -> Option<String> {
    Some(obj.status.as_ref()?.artifact.as_ref()?.revision.clone())
}

pub(crate) fn chart_revision(obj: &HelmChart) -> Option<String> {
    Some(obj.status.as_ref()?.artifact.as_ref()?.revision.clone())
}

fn repo_ready_at(obj: &HelmRepository, want: &str) -> bool {
    repo_condition(obj, "Ready").is_some_and(|c| c.status == "True")
        && repo_revision(obj).as_deref() == Some(want)
}

pub(crate) fn chart_ready_at(obj: &HelmChart, want: &str) -> bool {
    chart_condition(obj, "Ready").is_some_and(|c| c.status == "True")
        && chart_revision(obj).as_deref() == Some(want)
}

/// The index's revision as Flux writes it: `sha256:` and the file's digest.
fn index_revision(repo: &ChartRepo) -> String {
    ferroflux_artifact::digest::of(&std::fs::read(repo.root().join("index.yaml")).unwrap())
}

pub(crate) async fn request_reconcile<K>(api: &Api<K>, name: &str, token: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

fn handled(token: &'static str) -> impl Fn(&HelmRepository) -> bool {
    move |o| {
        o.status
            .as_ref()
            .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
            == Some(token)
    }
}

/// The Kubernetes events about object `name`, as `reason: message` lines.
pub(crate) async fn events_of(client: &Client, ns: &str, name: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&kube::api::ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}

/// Waits for an event about `name` with `reason`, and returns them all.
async fn wait_for_event(client: &Client, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let prefix = format!("{reason}: ");
    let prefix = &prefix;
    eventually(
        &format!("an event {reason} about {name}"),
        Duration::from_secs(40),
        || async move {
            let events = events_of(client, ns, name).await;
            events
                .iter()
                .any(|e| e.starts_with(prefix))
                .then_some(events)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_repository_with_basic_auth_serves_its_index_and_a_chart_whose_digests_match() {
    let (client, ns) = client_and_namespace("helm-ready").await;
    let repo = demo_repo(RepoOptions {
        basic_auth: Some(("flux".into(), PASSWORD.into())),
        tls: true,
    })
    .await;
    named_secret(
        &client,
        &ns,
        "repo-auth",
        serde_json::json!({"username": "flux", "password": PASSWORD}),
    )
    .await;
    named_secret(
        &client,
        &ns,
        "repo-ca",
        serde_json::json!({"ca.crt": repo.ca_pem().unwrap()}),
    )
    .await;
    let controller = Controller::start(&ns);
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    let extra = serde_json::json!({"secretRef": {"name": "repo-auth"}, "certSecretRef": {"name": "repo-ca"}});
    repos
        .create(
            &PostParams::default(),
            &helm_repository("demo", &repo.url(), extra),
        )
        .await
        .unwrap();
    charts
        .create(
            &PostParams::default(),
            &helm_chart("demo", from_repo("demo", "1.x", "demo")),
        )
        .await
        .unwrap();

    let want = index_revision(&repo);
    let obj = wait_for(&repos, "demo", "the HelmRepository is Ready", |o| {
        repo_ready_at(o, &want)
    })
    .await;
    assert_eq!(
        repo_condition(&obj, "Ready").unwrap().message,
        format!("stored artifact: revision '{want}'")
    );
    let artifact = obj.status.as_ref().unwrap().artifact.clone().unwrap();
    assert_eq!(artifact.digest.as_deref(), Some(want.as_str()));
    let index = reqwest_client()
        .get(&artifact.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        ferroflux_artifact::digest::of(&index),
        want,
        "the served index is the fetched one"
    );

    let chart = wait_for(&charts, "demo", "the HelmChart is Ready at 1.1.0", |o| {
        chart_ready_at(o, "1.1.0")
    })
    .await;
    let status = chart.status.clone().unwrap();
    assert_eq!(status.observed_chart_name.as_deref(), Some("demo"));
    assert_eq!(
        status.observed_source_artifact_revision.as_deref(),
        Some(want.as_str())
    );
    assert_eq!(
        chart_condition(&chart, "Ready").unwrap().message,
        "packaged 'demo' chart with version '1.1.0'"
    );
    let artifact = status.artifact.unwrap();
    assert!(
        artifact.path.ends_with("/demo-1.1.0.tgz"),
        "{}",
        artifact.path
    );
    let packaged = std::fs::read(repo.root().join("demo-1.1.0.tgz")).unwrap();
    assert_eq!(
        artifact.digest.as_deref(),
        Some(ferroflux_artifact::digest::of(&packaged).as_str()),
        "without values files the chart is stored as the repository serves it"
    );
    let served = reqwest_client()
        .get(&artifact.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), packaged.as_slice());
    let everything = format!(
        "{:?}{:?}{:?}{:?}{}",
        repos.get("demo").await.unwrap().status,
        charts.get("demo").await.unwrap().status,
        events_of(&client, &ns, "demo").await,
        artifact,
        controller.log()
    );
    assert!(!everything.contains(PASSWORD), "the password leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_index_costs_one_request_and_writes_nothing_and_a_new_version_is_picked_up() {
    let (client, ns) = client_and_namespace("helm-refetch").await;
    let repo = demo_repo(RepoOptions::default()).await;
    let running = start_in_process(&client, &ns, false);
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    repos
        .create(
            &PostParams::default(),
            &helm_repository("demo", &repo.url(), serde_json::json!({})),
        )
        .await
        .unwrap();
    charts
        .create(
            &PostParams::default(),
            &helm_chart("demo", from_repo("demo", ">=1.0.0", "demo")),
        )
        .await
        .unwrap();
    let first = index_revision(&repo);
    wait_for(&repos, "demo", "Ready", |o| repo_ready_at(o, &first)).await;
    let chart = wait_for(&charts, "demo", "chart Ready at 1.1.0", |o| {
        chart_ready_at(o, "1.1.0")
    })
    .await;
    let chart_artifact = chart.status.unwrap().artifact.unwrap();
    let stored = repos
        .get("demo")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap();
    let stored_file = running.storage_dir.path().join(&stored.path);
    let modified = std::fs::metadata(&stored_file).unwrap().modified().unwrap();
    let before = repo.requests().len();

    request_reconcile(&repos, "demo", "unchanged").await;
    let obj = wait_for(
        &repos,
        "demo",
        "the unchanged request is handled",
        handled("unchanged"),
    )
    .await;
    let after = repo.requests();
    assert_eq!(
        after[before..]
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        ["/index.yaml"],
        "an unchanged refetch is one request"
    );
    let again = obj.status.unwrap().artifact.unwrap();
    assert_eq!(
        again, stored,
        "the artifact (and its lastUpdateTime) is unchanged"
    );
    assert_eq!(
        std::fs::metadata(&stored_file).unwrap().modified().unwrap(),
        modified
    );
    let files = std::fs::read_dir(stored_file.parent().unwrap())
        .unwrap()
        .count();
    assert_eq!(files, 1, "nothing else was written");
    assert_eq!(
        charts
            .get("demo")
            .await
            .unwrap()
            .status
            .unwrap()
            .artifact
            .unwrap(),
        chart_artifact
    );

    repo.add_chart("demo", "1.2.0", "replicas: 3\n", &[])
        .unwrap();
    repo.index().unwrap();
    let second = index_revision(&repo);
    assert_ne!(first, second);
    request_reconcile(&repos, "demo", "new-version").await;
    wait_for(&repos, "demo", "Ready at the new index", |o| {
        repo_ready_at(o, &second)
    })
    .await;
    // The new index triggers the chart (no request on it).
    let chart = wait_for(&charts, "demo", "the chart at 1.2.0", |o| {
        chart_ready_at(o, "1.2.0")
    })
    .await;
    let status = chart.status.unwrap();
    assert_eq!(
        status.observed_source_artifact_revision.as_deref(),
        Some(second.as_str())
    );
    let path = running
        .storage_dir
        .path()
        .join(&status.artifact.unwrap().path);
    let loaded =
        ferroflux_helm::chart::load_archive(&std::fs::read(path).unwrap(), "stored").unwrap();
    assert_eq!(loaded.metadata.version, "1.2.0");
    assert_eq!(loaded.values.get("replicas"), Some(&serde_json::json!(3.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_named_in_conditions_and_events_and_the_last_artifact_stays() {
    let (client, ns) = client_and_namespace("helm-fail").await;
    let mut repo = demo_repo(RepoOptions {
        basic_auth: Some(("flux".into(), PASSWORD.into())),
        tls: false,
    })
    .await;
    named_secret(
        &client,
        &ns,
        "good",
        serde_json::json!({"username": "flux", "password": PASSWORD}),
    )
    .await;
    let wrong = "wrong-password-do-not-leak";
    named_secret(
        &client,
        &ns,
        "bad",
        serde_json::json!({"username": "flux", "password": wrong}),
    )
    .await;
    let running = start_in_process(&client, &ns, false);
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);

    // Wrong credentials.
    repos
        .create(
            &PostParams::default(),
            &helm_repository(
                "denied",
                &repo.url(),
                serde_json::json!({"secretRef": {"name": "bad"}}),
            ),
        )
        .await
        .unwrap();
    let denied = wait_for(&repos, "denied", "FetchFailed", |o| {
        repo_condition(o, "FetchFailed").is_some_and(|c| c.reason == "AuthenticationFailed")
    })
    .await;
    assert!(repo_condition(&denied, "Ready").is_some_and(|c| c.status == "False"));
    let message = &repo_condition(&denied, "FetchFailed").unwrap().message;
    assert!(
        message.contains("401") && message.contains("secretRef"),
        "{message}"
    );
    let events = wait_for_event(&client, &ns, "denied", "AuthenticationFailed").await;

    // A good repository and chart, then the failures keeping its artifact.
    repos
        .create(
            &PostParams::default(),
            &helm_repository(
                "demo",
                &repo.url(),
                serde_json::json!({"secretRef": {"name": "good"}}),
            ),
        )
        .await
        .unwrap();
    charts
        .create(
            &PostParams::default(),
            &helm_chart("demo", from_repo("demo", "1.0.x", "demo")),
        )
        .await
        .unwrap();
    let good = index_revision(&repo);
    wait_for(&repos, "demo", "Ready", |o| repo_ready_at(o, &good)).await;
    wait_for(&charts, "demo", "chart Ready", |o| {
        chart_ready_at(o, "1.0.0")
    })
    .await;

    // A semver range matching nothing.
    charts
        .create(
            &PostParams::default(),
            &helm_chart("none", from_repo("demo", ">=5.0.0", "demo")),
        )
        .await
        .unwrap();
    let none = wait_for(&charts, "none", "ChartReferenceError", |o| {
        chart_condition(o, "FetchFailed").is_some_and(|c| c.reason == "ChartReferenceError")
    })
    .await;
    let message = &chart_condition(&none, "FetchFailed").unwrap().message;
    assert!(
        message.contains("'>=5.0.0'") && message.contains("chart 'demo'"),
        "{message}"
    );
    wait_for_event(&client, &ns, "none", "ChartReferenceError").await;

    // The index stops being YAML: IndexationFailed, the last index served.
    let good_index = std::fs::read(repo.root().join("index.yaml")).unwrap();
    repo.write("index.yaml", b"<html>\n  <body>: [ oops\n")
        .unwrap();
    request_reconcile(&repos, "demo", "not-yaml").await;
    let obj = wait_for(&repos, "demo", "IndexationFailed", |o| {
        repo_condition(o, "FetchFailed").is_some_and(|c| c.reason == "IndexationFailed")
    })
    .await;
    assert_eq!(repo_revision(&obj).as_deref(), Some(good.as_str()));
    assert!(
        running
            .storage_dir
            .path()
            .join(obj.status.unwrap().artifact.unwrap().path)
            .is_file()
    );
    wait_for_event(&client, &ns, "demo", "IndexationFailed").await;

    // A corrupt chart (the index lists it without a digest).
    let corrupt_index = String::from_utf8_lossy(&good_index).replacen(
            "entries:\n",
            "entries:\n  broken:\n  - apiVersion: v2\n    name: broken\n    version: 0.1.0\n    urls:\n    - broken-0.1.0.tgz\n",
            1
        );
    repo.write("index.yaml", corrupt_index.as_bytes()).unwrap();
    repo.write("broken-0.1.0.tgz", b"this is not a gzipped tar")
        .unwrap();
    request_reconcile(&repos, "demo", "corrupt").await;
    let corrupt_revision = index_revision(&repo);
    wait_for(
        &repos,
        "demo",
        "Ready at the index with the broken chart",
        |o| repo_ready_at(o, &corrupt_revision),
    )
    .await;
    charts
        .create(
            &PostParams::default(),
            &helm_chart("broken", from_repo("broken", "*", "demo")),
        )
        .await
        .unwrap();
    let broken = wait_for(&charts, "broken", "ChartPackageError", |o| {
        chart_condition(o, "BuildFailed").is_some_and(|c| c.reason == "ChartPackageError")
    })
    .await;
    let message = &chart_condition(&broken, "BuildFailed").unwrap().message;
    assert!(
        message.contains("chart 'broken' version '0.1.0'") && message.contains("gzip"),
        "{message}"
    );
    wait_for_event(&client, &ns, "broken", "ChartPackageError").await;
    // A chart whose bytes differ from the index's digest.
    repo.add_chart("demo", "1.0.1", "replicas: 9\n", &[])
        .unwrap();
    repo.index().unwrap();
    repo.write("demo-1.0.1.tgz", b"tampered").unwrap();
    request_reconcile(&repos, "demo", "tampered").await;
    let tampered = wait_for(&charts, "demo", "the digest mismatch", |o| {
        chart_condition(o, "FetchFailed").is_some_and(|c| c.reason == "ChartPullError")
    })
    .await;
    assert!(
        chart_condition(&tampered, "FetchFailed")
            .unwrap()
            .message
            .contains("digest"),
        "{:?}",
        chart_condition(&tampered, "FetchFailed")
    );
    assert_eq!(
        chart_revision(&tampered).as_deref(),
        Some("1.0.0"),
        "the last chart stays"
    );

    // The server goes down: FetchFailed, the last index still stored.
    let before_outage = repos.get("demo").await.unwrap();
    repo.stop();
    request_reconcile(&repos, "demo", "down").await;
    let down = wait_for(&repos, "demo", "the outage is reported", |o| {
        handled("down")(o)
            && repo_condition(o, "FetchFailed").is_some_and(|c| c.reason == "IndexationFailed")
    })
    .await;
    assert!(repo_condition(&down, "Ready").is_some_and(|c| c.status == "False"));
    assert_eq!(
        down.status.as_ref().unwrap().artifact,
        before_outage.status.unwrap().artifact,
        "the last good artifact is kept"
    );
    assert!(
        running
            .storage_dir
            .path()
            .join(&down.status.unwrap().artifact.unwrap().path)
            .is_file()
    );

    let mut everything = format!("{events:?}");
    for name in ["denied", "demo", "none", "broken"] {
        let _ = write!(everything, "{:?}", events_of(&client, &ns, name).await);
        if let Ok(r) = repos.get(name).await {
            let _ = write!(everything, "{:?}", r.status);
        }
        if let Ok(c) = charts.get(name).await {
            let _ = write!(everything, "{:?}", c.status);
        }
    }
    assert!(
        !everything.contains(PASSWORD) && !everything.contains(wrong),
        "a password leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_from_git_merges_values_files_resolves_dependencies_and_follows_revisions() {
    let (client, ns) = client_and_namespace("helm-git").await;
    let repo = demo_repo(RepoOptions::default()).await;
    let server = GitServer::start(None).await.unwrap();
    let chart_yaml = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: 0.2.0\n  repository: file://../lib\n- name: demo\n  version: ~1.0.0\n  repository: {}/\n",
        repo.url()
    );
    let work = server
        .create_repo(
            "charts",
            "main",
            &[
                ("charts/app/Chart.yaml", chart_yaml.as_str()),
                ("charts/app/values.yaml", "replicas: 1\nimage: {tag: v1}\n"),
                ("charts/app/values-prod.yaml", "image: {tag: v2}\n"),
                ("charts/app/templates/cm.yaml", "kind: ConfigMap\n"),
                (
                    "charts/lib/Chart.yaml",
                    "apiVersion: v2\nname: lib\nversion: 0.2.0\n",
                ),
                ("charts/lib/values.yaml", "lib: true\n"),
            ],
        )
        .unwrap();
    let running = start_in_process(&client, &ns, true);
    let gits: Api<GitRepository> = Api::namespaced(client.clone(), &ns);
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    gits.create(
        &PostParams::default(),
        &git_repository(
            "charts",
            &server.url("charts"),
            &serde_json::json!({"branch": "main"}),
            false,
        ),
    )
    .await
    .unwrap();
    repos
        .create(
            &PostParams::default(),
            &helm_repository("demo", &repo.url(), serde_json::json!({})),
        )
        .await
        .unwrap();
    // Values files of a chart from a source are paths in the source, as Flux has them.
    let spec = serde_json::json!({
        "chart": "./charts/app",
        "sourceRef": {"kind": "GitRepository", "name": "charts"},
        "valuesFiles": ["charts/app/values.yaml", "charts/app/values-prod.yaml", "values-missing.yaml"],
        "ignoreMissingValuesFiles": true,
        "reconcileStrategy": "Revision",
    });
    charts
        .create(&PostParams::default(), &helm_chart("app", spec))
        .await
        .unwrap();

    let sha = work.head().unwrap();
    let want = format!("0.1.0+{}", &sha[..12]);
    let chart = wait_for(&charts, "app", "the chart from git is Ready", |o| {
        chart_ready_at(o, &want)
    })
    .await;
    let status = chart.status.unwrap();
    assert_eq!(
        status.observed_source_artifact_revision.as_deref(),
        Some(format!("main@sha1:{sha}").as_str())
    );
    assert_eq!(
        status.observed_values_files,
        ["charts/app/values.yaml", "charts/app/values-prod.yaml"]
    );
    let path = running
        .storage_dir
        .path()
        .join(status.artifact.unwrap().path);
    let bytes = std::fs::read(path).unwrap();
    let files = ferroflux_helm::chart::archive_files(&bytes).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"charts/lib-0.2.0.tgz"), "{names:?}");
    assert!(names.contains(&"charts/demo-1.0.0.tgz"), "{names:?}");
    let loaded = ferroflux_helm::chart::load_archive(&bytes, "stored").unwrap();
    assert_eq!(loaded.metadata.version, want);
    assert_eq!(
        serde_json::Value::Object(loaded.values),
        serde_json::json!({"replicas": 1.0, "image": {"tag": "v2"}})
    );
    let mut deps: Vec<&str> = loaded
        .dependencies
        .iter()
        .map(|d| d.metadata.name.as_str())
        .collect();
    deps.sort_unstable();
    assert_eq!(deps, ["demo", "lib"]);

    // A new commit is a new revision, hence a new version.
    let second = work
        .commit(
            &[("charts/app/values-prod.yaml", "image: {tag: v3}\n")],
            "v3",
        )
        .unwrap();
    request_reconcile(&gits, "charts", "second").await;
    let want = format!("0.1.0+{}", &second[..12]);
    wait_for(&charts, "app", "the chart at the new revision", |o| {
        chart_ready_at(o, &want)
    })
    .await;
}
