//! OCIRepository against a real `docker-registry` (distribution 2.8) and the
//! real control plane: the source-controller binary for the artifact over
//! HTTP, the reconciler in this process where a test counts layer pulls.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferroflux_api::meta::Condition;
use ferroflux_api::source::OCIRepository;
use ferroflux_artifact::fetch::{Options as FetchOptions, fetch};
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_oci::artifact::{Metadata, pack, push};
use ferroflux_oci::auth::Credentials;
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};
use ferroflux_runtime::backoff::Backoff;
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{Options, run};
use ferroflux_runtime::events::Events;
use ferroflux_source_controller::ocirepository::OCIRepositoryReconciler;
use ferroflux_testenv::eventually;
use ferroflux_testenv::git::BasicAuth;
use ferroflux_testenv::registry::{
    Registry as TestRegistry, RegistryOptions as TestRegistryOptions,
};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::gitrepository::Controller;

pub(crate) const PASSWORD: &str = "s3cret-registry-password";
pub(crate) const WRONG_PASSWORD: &str = "not-the-registry-password";
const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

pub(crate) fn login(password: &str) -> BasicAuth {
    BasicAuth {
        username: "flux".into(),
        password: password.into(),
    }
}

pub(crate) fn start_registry(tls: bool, auth: bool) -> TestRegistry {
    TestRegistry::start(TestRegistryOptions {
        tls,
        auth: auth.then(|| login(PASSWORD)),
    })
    .expect("docker-registry starts (make deps installs it)")
}

/// Pushes `files` as a Flux artifact (what `flux push artifact` pushes) to
/// `<registry>/<repo>:<tag>`; returns the manifest digest.
async fn push_files(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    files: &[(&str, &str)],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let client = Registry::new(RegistryOptions {
        insecure: registry.ca_pem().is_none(),
        ca_pem: registry.ca_pem().map(|p| p.as_bytes().to_vec()),
        credentials: registry.auth().map(|a| Credentials {
            username: a.username.clone(),
            password: a.password.clone(),
        }),
        timeout: Some(Duration::from_secs(20)),
    })
    .unwrap();
    let url = OciUrl::parse(&registry.url(repo), false).unwrap();
    let metadata = Metadata {
        source: "https://github.com/example/app".into(),
        revision: format!("main@sha1:{tag}"),
        ..Metadata::default()
    };
    push(&client, &url, tag, pack(dir.path()).unwrap(), &metadata)
        .await
        .unwrap()
}

pub(crate) async fn create_secret(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    data: serde_json::Value,
) {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "type": type_,
        "stringData": data,
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// A `kubernetes.io/dockerconfigjson` Secret logging in to `registry` with `password`.
pub(crate) async fn docker_secret(
    client: &Client,
    ns: &str,
    name: &str,
    registry: &TestRegistry,
    password: &str,
) {
    let json = registry.docker_config_json(&login(password));
    create_secret(
        client,
        ns,
        name,
        "kubernetes.io/dockerconfigjson",
        serde_json::json!({".dockerconfigjson": json}),
    )
    .await;
}

fn oci_repository(name: &str, url: &str, extra: &serde_json::Value) -> OCIRepository {
    let mut spec = serde_json::json!({"url": url, "interval": "1h"});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn create(api: &Api<OCIRepository>, name: &str, url: &str, extra: serde_json::Value) {
    api.create(&PostParams::default(), &oci_repository(name, url, &extra))
        .await
        .unwrap();
}

async fn patch_spec(api: &Api<OCIRepository>, name: &str, spec: serde_json::Value) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({"spec": spec})),
    )
    .await
    .unwrap();
}

async fn request_reconcile(api: &Api<OCIRepository>, name: &str, token: &str) {
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn wait_for(
    api: &Api<OCIRepository>,
    name: &str,
    what: &str,
    check: impl Fn(&OCIRepository) -> bool,
) -> OCIRepository {
    let check = &check;
    let found = ferroflux_testenv::poll(Duration::from_secs(60), || async move {
        let obj = api.get(name).await.unwrap();
        check(&obj).then_some(obj)
    })
    .await;
    if let Some(obj) = found {
        return obj;
    }
    let last = api.get(name).await.unwrap();
    panic!(
        "timed out waiting until {what}; the object's status: {}",
        serde_json::to_string_pretty(&last.status).unwrap()
    );
}

/// Waits until the current generation was reconciled and Ready is `status`.
async fn wait_ready_is(api: &Api<OCIRepository>, name: &str, status: &str) -> OCIRepository {
    wait_for(
        api,
        name,
        &format!("Ready={status} at the current generation"),
        |o| {
            // A failed reconcile leaves status.observedGeneration, as in
            // Flux; the condition records the generation it is about.
            condition(o, "Ready").is_some_and(|c| {
                c.status == status && c.observed_generation == o.metadata.generation
            })
        },
    )
    .await
}

fn condition<'a>(obj: &'a OCIRepository, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

fn revision(obj: &OCIRepository) -> Option<String> {
    obj.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

fn ready_at(obj: &OCIRepository, want: &str) -> bool {
    condition(obj, "Ready").is_some_and(|c| c.status == "True")
        && revision(obj).as_deref() == Some(want)
}

/// The reconciler in this process, with fast retries and recorded events.
struct InProcess {
    reconciler: Arc<OCIRepositoryReconciler>,
    storage: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn run_in_process(client: &Client, ns: &str) -> InProcess {
    run_in_process_with(
        client,
        ns,
        ferroflux_source_controller::ocirepository::DEFAULT_MAX_LAYER_SIZE,
    )
}

/// As [`run_in_process`], refusing layers above `max_layer_size` bytes.
fn run_in_process_with(client: &Client, ns: &str, max_layer_size: u64) -> InProcess {
    let storage = tempfile::tempdir().unwrap();
    let reconciler = Arc::new(
        OCIRepositoryReconciler::new(
            client.clone(),
            Storage::new(storage.path(), "127.0.0.1:1", Retention::default()).unwrap(),
        )
        .with_max_layer_size(max_layer_size),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        namespace: Some(ns.to_owned()),
        events: Some(Events::new(
            client.clone(),
            "source-controller",
            "source-controller-0",
            None,
        )),
        backoff: Backoff {
            min: Duration::from_millis(200),
            max: Duration::from_secs(2),
        },
        ..Options::default()
    };
    tokio::spawn(run::<OCIRepository, _>(
        client.clone(),
        reconciler.clone(),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    InProcess {
        reconciler,
        storage,
        _stop: stop,
    }
}

/// `reason: note` of every Event about the object `name`.
pub(crate) async fn events(client: &Client, ns: &str, name: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default()
            )
        })
        .collect()
}

/// Waits for an Event about `name` whose text contains `want`; returns all.
pub(crate) async fn wait_event(client: &Client, ns: &str, name: &str, want: &str) -> Vec<String> {
    eventually(
        &format!("an event with '{want}'"),
        Duration::from_secs(30),
        || async {
            let all = events(client, ns, name).await;
            all.iter().any(|e| e.contains(want)).then_some(all)
        },
    )
    .await
}

fn stored(storage: &std::path::Path, obj: &OCIRepository) -> std::path::PathBuf {
    storage.join(&obj.status.as_ref().unwrap().artifact.as_ref().unwrap().path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_registry_with_htpasswd_gives_a_ready_served_artifact_whose_digest_matches() {
    let (client, ns) = ferroflux_testenv::setup("oci-ready", &ferroflux_api::all_crds()).await;
    let registry = start_registry(true, true);
    let digest = push_files(
        &registry,
        "org/app",
        "v1.0.0",
        &[
            ("deploy/deployment.yaml", "kind: Deployment\n"),
            ("README.md", "# app\n"),
        ],
    )
    .await;
    docker_secret(&client, &ns, "regcred", &registry, PASSWORD).await;
    create_secret(
        &client,
        &ns,
        "registry-ca",
        "Opaque",
        serde_json::json!({"ca.crt": registry.ca_pem().unwrap()}),
    )
    .await;
    let controller = Controller::start(&ns);
    let api: Api<OCIRepository> = Api::namespaced(client, &ns);
    create(
        &api,
        "app",
        &registry.url("org/app"),
        serde_json::json!({
            "ref": {"tag": "v1.0.0"},
            "secretRef": {"name": "regcred"},
            "certSecretRef": {"name": "registry-ca"},
            "ignore": "README.md\n",
        }),
    )
    .await;

    let want = format!("v1.0.0@{digest}");
    let obj = wait_for(&api, "app", "Ready at v1.0.0", |o| ready_at(o, &want)).await;
    assert_eq!(
        condition(&obj, "Ready").unwrap().message,
        format!("stored artifact for digest '{want}'")
    );
    assert_eq!(condition(&obj, "ArtifactInStorage").unwrap().status, "True");
    let artifact = obj.status.as_ref().unwrap().artifact.clone().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(
        artifact.path,
        format!("ocirepository/{ns}/app/{hex}.tar.gz")
    );
    assert_eq!(
        artifact.metadata.as_ref().unwrap()["org.opencontainers.image.revision"],
        "main@sha1:v1.0.0"
    );
    let dest = tempfile::tempdir().unwrap();
    fetch(
        &ferroflux_tls::http_client(),
        &artifact.url,
        artifact.digest.as_deref().unwrap(),
        dest.path(),
        FetchOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.path().join("deploy/deployment.yaml")).unwrap(),
        "kind: Deployment\n"
    );
    assert!(
        !dest.path().join("README.md").exists(),
        "spec.ignore was not applied"
    );
    assert!(!serde_json::to_string(&obj).unwrap().contains(PASSWORD));
    assert!(
        !controller.log().contains(PASSWORD),
        "the password leaked into the log"
    );
}

/// In-process, to count pulls: an unchanged digest pulls nothing and writes
/// nothing; a new semver match, a semverFilter, a moved tag and a digest are
/// each followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tags_and_semver_matches_are_followed_and_an_unchanged_digest_pulls_nothing() {
    let (client, ns) = ferroflux_testenv::setup("oci-semver", &ferroflux_api::all_crds()).await;
    let registry = start_registry(false, false);
    let v100 = push_files(&registry, "app", "1.0.0", &[("a.yaml", "a: 100\n")]).await;
    push_files(&registry, "app", "2.0.0", &[("a.yaml", "a: 200\n")]).await;
    let run = run_in_process(&client, &ns);
    let pulls = || run.reconciler.pulls.load(Ordering::SeqCst);
    let api: Api<OCIRepository> = Api::namespaced(client, &ns);
    create(
        &api,
        "app",
        &registry.url("app"),
        serde_json::json!({"ref": {"semver": ">=1.0.0 <2.0.0"}, "insecure": true}),
    )
    .await;
    let first = wait_for(&api, "app", "Ready at 1.0.0", |o| {
        ready_at(o, &format!("1.0.0@{v100}"))
    })
    .await;
    assert_eq!(pulls(), 1);

    request_reconcile(&api, "app", "unchanged").await;
    let again = wait_for(&api, "app", "the unchanged request is handled", |o| {
        o.status
            .as_ref()
            .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
            == Some("unchanged")
    })
    .await;
    assert_eq!(pulls(), 1, "an unchanged digest was pulled again");
    assert_eq!(
        again.status.unwrap().artifact,
        first.status.unwrap().artifact,
        "an unchanged digest rewrote the artifact"
    );

    let v120 = push_files(&registry, "app", "1.2.0", &[("a.yaml", "a: 120\n")]).await;
    request_reconcile(&api, "app", "new-match").await;
    let obj = wait_for(&api, "app", "Ready at 1.2.0", |o| {
        ready_at(o, &format!("1.2.0@{v120}"))
    })
    .await;
    assert_eq!(pulls(), 2);
    let file = stored(run.storage.path(), &obj);
    let dest = tempfile::tempdir().unwrap();
    ferroflux_artifact::extract::tar_gz(
        std::fs::File::open(file).unwrap(),
        dest.path(),
        ferroflux_artifact::extract::Limits::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.path().join("a.yaml")).unwrap(),
        "a: 120\n"
    );

    patch_spec(
        &api,
        "app",
        serde_json::json!({"ref": {"semver": ">=1.0.0 <2.0.0", "semverFilter": "^1\\.0\\."}}),
    )
    .await;
    wait_for(&api, "app", "the filter selects 1.0.0", |o| {
        ready_at(o, &format!("1.0.0@{v100}"))
    })
    .await;

    // A tag moved to new content is followed.
    let latest1 = push_files(&registry, "app", "latest", &[("a.yaml", "a: l1\n")]).await;
    create(
        &api,
        "tag",
        &registry.url("app"),
        serde_json::json!({"insecure": true}),
    )
    .await;
    wait_for(&api, "tag", "Ready at latest", |o| {
        ready_at(o, &format!("latest@{latest1}"))
    })
    .await;
    let latest2 = push_files(&registry, "app", "latest", &[("a.yaml", "a: l2\n")]).await;
    assert_ne!(latest1, latest2);
    request_reconcile(&api, "tag", "moved").await;
    wait_for(&api, "tag", "Ready at the moved tag", |o| {
        ready_at(o, &format!("latest@{latest2}"))
    })
    .await;

    // A digest is its own revision, as Flux writes it.
    create(
        &api,
        "pinned",
        &registry.url("app"),
        serde_json::json!({"ref": {"digest": v100, "tag": "2.0.0"}, "insecure": true}),
    )
    .await;
    wait_for(&api, "pinned", "Ready at the digest", |o| {
        ready_at(o, &v100)
    })
    .await;
}

/// Each failure leaves the last good artifact recorded and stored, and
/// sets `FetchFailed`; returns the Ready condition.
fn assert_failed_keeping(
    o: &OCIRepository,
    last: &ferroflux_api::meta::Artifact,
    file: &std::path::Path,
) -> Condition {
    let ready = condition(o, "Ready").unwrap().clone();
    assert_eq!(
        condition(o, "FetchFailed").unwrap().status,
        "True",
        "{ready:?}"
    );
    assert_eq!(o.status.as_ref().unwrap().artifact.as_ref(), Some(last));
    assert!(file.is_file(), "the last good artifact was removed");
    ready
}

/// Stops the registry: `app` fails saying so and keeps its artifact; served
/// again, it is Ready at `revision` again.
async fn outage_keeps_the_last_artifact(
    api: &Api<OCIRepository>,
    registry: &mut TestRegistry,
    revision: &str,
    last: &ferroflux_api::meta::Artifact,
    file: &std::path::Path,
) {
    registry.stop();
    request_reconcile(api, "app", "down").await;
    let obj = wait_for(api, "app", "Ready=False with the registry down", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let ready = assert_failed_keeping(&obj, last, file);
    assert!(
        ready.message.contains("could not be reached"),
        "{}",
        ready.message
    );
    registry.serve().unwrap();
    request_reconcile(api, "app", "up").await;
    wait_for(api, "app", "Ready again once the registry is back", |o| {
        ready_at(o, revision)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_why_in_conditions_and_events_and_keep_the_last_artifact() {
    let (client, ns) = ferroflux_testenv::setup("oci-fail", &ferroflux_api::all_crds()).await;
    let mut registry = start_registry(false, true);
    let v1 = push_files(&registry, "app", "v1", &[("a.yaml", "a: 1\n")]).await;
    docker_secret(&client, &ns, "good", &registry, PASSWORD).await;
    docker_secret(&client, &ns, "bad", &registry, WRONG_PASSWORD).await;
    let run = run_in_process(&client, &ns);
    let api: Api<OCIRepository> = Api::namespaced(client.clone(), &ns);
    create(
        &api,
        "app",
        &registry.url("app"),
        serde_json::json!({"ref": {"tag": "v1"}, "insecure": true, "secretRef": {"name": "good"}}),
    )
    .await;
    let good = wait_for(&api, "app", "Ready at v1", |o| {
        ready_at(o, &format!("v1@{v1}"))
    })
    .await;
    let last = good.status.as_ref().unwrap().artifact.clone().unwrap();
    let file = stored(run.storage.path(), &good);
    patch_spec(
        &api,
        "app",
        serde_json::json!({"secretRef": {"name": "bad"}}),
    )
    .await;
    let obj = wait_ready_is(&api, "app", "False").await;
    let ready = assert_failed_keeping(&obj, &last, &file);
    assert_eq!(ready.reason, "OCIArtifactPullFailed", "{ready:?}");
    assert!(
        ready.message.contains("refused the credentials"),
        "{}",
        ready.message
    );
    let seen = wait_event(&client, &ns, "app", "refused the credentials").await;
    assert!(
        seen.iter().any(|e| e.starts_with("OCIArtifactPullFailed")),
        "{seen:?}"
    );
    for text in seen.iter().chain([&serde_json::to_string(&obj).unwrap()]) {
        assert!(
            !text.contains(WRONG_PASSWORD) && !text.contains(PASSWORD),
            "{text}"
        );
    }

    patch_spec(
        &api,
        "app",
        serde_json::json!({"secretRef": {"name": "good"}, "ref": {"tag": "v9"}}),
    )
    .await;
    let obj = wait_ready_is(&api, "app", "False").await;
    let ready = assert_failed_keeping(&obj, &last, &file);
    assert_eq!(ready.reason, "OCIArtifactPullFailed", "{ready:?}");
    assert!(
        ready.message.contains(":v9") && ready.message.contains("not found"),
        "{}",
        ready.message
    );

    patch_spec(
        &api,
        "app",
        serde_json::json!({"ref": {"tag": null, "semver": "~5.0"}}),
    )
    .await;
    let obj = wait_ready_is(&api, "app", "False").await;
    let ready = assert_failed_keeping(&obj, &last, &file);
    assert_eq!(ready.reason, "ReadOperationFailed", "{ready:?}");
    assert!(
        ready
            .message
            .contains("no tag of the 1 tags matches the semver range '~5.0'"),
        "{}",
        ready.message
    );
    wait_event(&client, &ns, "app", "~5.0").await;

    patch_spec(
        &api,
        "app",
        serde_json::json!({"ref": {"tag": "v1", "semver": null}}),
    )
    .await;
    wait_ready_is(&api, "app", "True").await;
    outage_keeps_the_last_artifact(&api, &mut registry, &format!("v1@{v1}"), &last, &file).await;
    assert_eq!(
        run.reconciler.pulls.load(Ordering::SeqCst),
        1,
        "recovery re-pulled an unchanged digest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_accounts_image_pull_secret_logs_in_and_verify_is_refused_by_name() {
    let (client, ns) = ferroflux_testenv::setup("oci-sa", &ferroflux_api::all_crds()).await;
    let registry = start_registry(false, true);
    let v1 = push_files(&registry, "app", "v1", &[("a.yaml", "a: 1\n")]).await;
    docker_secret(&client, &ns, "pull", &registry, PASSWORD).await;
    let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "puller"},
        "imagePullSecrets": [{"name": "pull"}],
    }))
    .unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let _run = run_in_process(&client, &ns);
    let api: Api<OCIRepository> = Api::namespaced(client, &ns);
    create(
        &api,
        "app",
        &registry.url("app"),
        serde_json::json!({"ref": {"tag": "v1"}, "insecure": true, "serviceAccountName": "puller"}),
    )
    .await;
    wait_for(&api, "app", "Ready through the image pull secret", |o| {
        ready_at(o, &format!("v1@{v1}"))
    })
    .await;

    create(
        &api,
        "verified",
        &registry.url("app"),
        serde_json::json!({"ref": {"tag": "v1"}, "insecure": true, "verify": {"provider": "cosign"}}),
    )
    .await;
    let obj = wait_for(&api, "verified", "Stalled", |o| {
        condition(o, "Stalled").is_some_and(|c| c.status == "True")
    })
    .await;
    let stalled = condition(&obj, "Stalled").unwrap();
    assert_eq!(stalled.reason, "UnsupportedConfiguration");
    assert!(
        stalled.message.contains("spec.verify"),
        "{}",
        stalled.message
    );
    assert!(revision(&obj).is_none());
}

/// A chart pushed by the reference `helm push` is an OCI artifact whose
/// chart layer an OCIRepository copies as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_pushed_by_helm_is_copied_by_its_layer_media_type() {
    let (client, ns) = ferroflux_testenv::setup("oci-chart", &ferroflux_api::all_crds()).await;
    let registry = start_registry(false, false);
    let helm = ferroflux_testenv::reference_binary("helm").expect("the reference helm (make deps)");
    let work = tempfile::tempdir().unwrap();
    let run_helm = |args: &[&str]| {
        let out = std::process::Command::new(&helm)
            .args(args)
            .current_dir(work.path())
            .env("HELM_CACHE_HOME", work.path().join("cache"))
            .env("HELM_CONFIG_HOME", work.path().join("config"))
            .env("HELM_DATA_HOME", work.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
    };
    run_helm(&["create", "podinfo"]);
    run_helm(&["package", "podinfo", "--version", "6.5.0"]);
    let pushed = run_helm(&[
        "push",
        "podinfo-6.5.0.tgz",
        &format!("oci://{}/charts", registry.host()),
        "--plain-http",
    ]);
    let chart = std::fs::read(work.path().join("podinfo-6.5.0.tgz")).unwrap();
    let run = run_in_process(&client, &ns);
    let api: Api<OCIRepository> = Api::namespaced(client, &ns);
    create(
        &api,
        "podinfo",
        &registry.url("charts/podinfo"),
        serde_json::json!({
            "ref": {"semver": "6.x"},
            "insecure": true,
            "layerSelector": {"mediaType": HELM_CHART_LAYER, "operation": "copy"},
        }),
    )
    .await;
    let obj = wait_for(&api, "podinfo", "Ready at 6.5.0", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "True")
    })
    .await;
    let revision = revision(&obj).unwrap();
    let digest = revision.strip_prefix("6.5.0@").unwrap();
    assert!(pushed.contains(digest), "helm push said: {pushed}");
    let status = obj.status.as_ref().unwrap();
    assert_eq!(
        status
            .observed_layer_selector
            .as_ref()
            .unwrap()
            .operation
            .as_deref(),
        Some("copy")
    );
    let artifact = status.artifact.as_ref().unwrap();
    assert_eq!(
        artifact.digest.as_deref().unwrap(),
        ferroflux_artifact::digest::of(&chart),
        "the copied layer is not the packaged chart"
    );
    assert_eq!(
        std::fs::read(stored(run.storage.path(), &obj)).unwrap(),
        chart
    );
}

/// A layer that is not a tar.gz, and one above the size cap, are refused
/// with `OCIArtifactLayerOperationFailed`, saying what to do, and store nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_layer_and_a_layer_above_the_cap_are_refused_and_store_nothing() {
    let (client, ns) = ferroflux_testenv::setup("oci-layer", &ferroflux_api::all_crds()).await;
    let registry = start_registry(false, false);
    let client_options = RegistryOptions {
        insecure: true,
        ..RegistryOptions::default()
    };
    let oci = Registry::new(client_options).unwrap();
    let url = OciUrl::parse(&registry.url("app"), false).unwrap();
    push(
        &oci,
        &url,
        "corrupt",
        b"not a tarball".to_vec(),
        &Metadata::default(),
    )
    .await
    .unwrap();
    // Hardly compressible, so the compressed layer itself is above the cap.
    let noise = (0..8192u64).fold(String::new(), |mut noise, i| {
        write!(noise, "{:08x}", i.wrapping_mul(2_654_435_761) ^ (i << 7)).unwrap();
        noise
    });
    push_files(&registry, "app", "big", &[("big.txt", &noise)]).await;
    let run = run_in_process_with(&client, &ns, 1024);
    let api: Api<OCIRepository> = Api::namespaced(client, &ns);
    for (name, tag, want) in [
        (
            "corrupt",
            "corrupt",
            "set spec.layerSelector.operation: copy",
        ),
        ("big", "big", "more than the 1024 allowed"),
    ] {
        create(
            &api,
            name,
            &registry.url("app"),
            serde_json::json!({"ref": {"tag": tag}, "insecure": true}),
        )
        .await;
        let obj = wait_ready_is(&api, name, "False").await;
        let ready = condition(&obj, "Ready").unwrap();
        assert_eq!(ready.reason, "OCIArtifactLayerOperationFailed", "{ready:?}");
        assert!(ready.message.contains(want), "{}", ready.message);
        assert!(revision(&obj).is_none());
        if name == "big" {
            assert!(
                ready.message.contains("--max-oci-layer-size"),
                "{}",
                ready.message
            );
        }
    }
    assert!(
        !run.storage.path().join("ocirepository").join(&ns).exists()
            || std::fs::read_dir(run.storage.path().join("ocirepository").join(&ns))
                .unwrap()
                .flatten()
                .all(|d| std::fs::read_dir(d.path()).unwrap().next().is_none()),
        "a refused layer was stored"
    );
}
