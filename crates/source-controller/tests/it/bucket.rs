//! Bucket against a real S3-compatible server (`s3s-fs`, whose listings
//! carry no etags) and the real control plane: the source-controller binary
//! for the served artifact and the logs, the reconciler in this process
//! where a test counts downloads.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferroflux_api::meta::Condition;
use ferroflux_api::source::Bucket;
use ferroflux_artifact::fetch::{Options as FetchOptions, fetch};
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_runtime::backoff::Backoff;
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{Options, run};
use ferroflux_runtime::events::Events;
use ferroflux_source_controller::bucket::BucketReconciler;
use ferroflux_testenv::s3::S3Server;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::gitrepository::Controller;
use crate::ocirepository::create_secret;

pub(crate) const ACCESS_KEY: &str = "ferroflux-access";
pub(crate) const SECRET_KEY: &str = "s3cret-bucket-key-3f9a";
const WRONG_SECRET_KEY: &str = "not-the-bucket-key-77c1";

pub(crate) fn start_server() -> S3Server {
    S3Server::start(ACCESS_KEY, SECRET_KEY).expect("s3s-fs starts (make deps installs it)")
}

/// A Secret `name` with the access key and `secret_key`.
pub(crate) async fn keys_secret(client: &Client, ns: &str, name: &str, secret_key: &str) {
    create_secret(
        client,
        ns,
        name,
        "Opaque",
        serde_json::json!({"accesskey": ACCESS_KEY, "secretkey": secret_key}),
    )
    .await;
}

fn bucket(name: &str, server_host: &str, bucket_name: &str, extra: &serde_json::Value) -> Bucket {
    let mut spec = serde_json::json!({
        "bucketName": bucket_name,
        "endpoint": server_host,
        "insecure": true,
        "interval": "1h",
        "secretRef": {"name": "s3-keys"},
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "Bucket",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn create(api: &Api<Bucket>, obj: &Bucket) {
    api.create(&PostParams::default(), obj).await.unwrap();
}

async fn request_reconcile(api: &Api<Bucket>, name: &str, token: &str) {
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn wait_for(
    api: &Api<Bucket>,
    name: &str,
    what: &str,
    check: impl Fn(&Bucket) -> bool,
) -> Bucket {
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

fn condition<'a>(obj: &'a Bucket, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

fn revision(obj: &Bucket) -> Option<String> {
    obj.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

fn ready(obj: &Bucket) -> bool {
    condition(obj, "Ready")
        .is_some_and(|c| c.status == "True" && c.observed_generation == obj.metadata.generation)
        && revision(obj).is_some()
}

fn handled(obj: &Bucket, token: &str) -> bool {
    obj.status
        .as_ref()
        .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
        == Some(token)
}

/// The MD5 of `content` in hex: the etag `s3s-fs` serves for an object.
fn md5_hex(content: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Flux's revision of the objects `(key, content)`: `sha256:` over sorted
/// `<key> <etag>\n` lines, computed here from the content alone.
fn flux_revision(objects: &[(&str, &str)]) -> String {
    let mut lines: Vec<String> = objects
        .iter()
        .map(|(k, c)| format!("{k} {}\n", md5_hex(c)))
        .collect();
    lines.sort();
    ferroflux_artifact::digest::of(lines.concat().as_bytes())
}

/// The reconciler in this process, with fast retries and recorded events.
struct InProcess {
    reconciler: Arc<BucketReconciler>,
    storage: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn run_in_process(client: &Client, ns: &str) -> InProcess {
    let storage = tempfile::tempdir().unwrap();
    let reconciler = Arc::new(BucketReconciler::new(
        client.clone(),
        Storage::new(storage.path(), "127.0.0.1:1", Retention::default()).unwrap(),
    ));
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
    tokio::spawn(run::<Bucket, _>(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_gives_a_ready_served_artifact_with_fluxs_revision_prefix_and_ignore_applied() {
    let (client, ns) = ferroflux_testenv::setup("bucket-ready", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("manifests").unwrap();
    let web = "kind: Deployment\nmetadata:\n  name: web\n";
    for (key, content) in [
        ("apps/web.yaml", web),
        ("apps/NOTES.md", "# notes\n"),
        ("apps/tmp/scratch.yaml", "kind: Scratch\n"),
        ("apps-old/legacy.yaml", "kind: Legacy\n"),
        ("other/unrelated.yaml", "kind: Other\n"),
        (".sourceignore", "*.md\n"),
    ] {
        server
            .put_object("manifests", key, content.as_bytes())
            .unwrap();
    }
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let controller = Controller::start(&ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(
        &api,
        &bucket(
            "app",
            &server.host(),
            "manifests",
            &serde_json::json!({"prefix": "apps", "ignore": "/apps/tmp/\n"}),
        ),
    )
    .await;

    let obj = wait_for(&api, "app", "Ready with an artifact", ready).await;
    // The raw prefix 'apps' also selects 'apps-old/', as S3's and Flux's do.
    let want = flux_revision(&[
        ("apps/web.yaml", web),
        ("apps-old/legacy.yaml", "kind: Legacy\n"),
    ]);
    assert_eq!(revision(&obj).unwrap(), want);
    assert_eq!(
        condition(&obj, "Ready").unwrap().message,
        format!("stored artifact: revision '{want}'")
    );
    assert_eq!(condition(&obj, "ArtifactInStorage").unwrap().status, "True");
    let status = obj.status.as_ref().unwrap();
    assert_eq!(status.observed_ignore.as_deref(), Some("/apps/tmp/\n"));
    let artifact = status.artifact.clone().unwrap();
    let hex = want.trim_start_matches("sha256:");
    assert_eq!(artifact.path, format!("bucket/{ns}/app/{hex}.tar.gz"));
    assert_eq!(status.url.as_deref(), Some(artifact.url.as_str()));

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
        std::fs::read_to_string(dest.path().join("apps/web.yaml")).unwrap(),
        web
    );
    assert!(dest.path().join("apps-old/legacy.yaml").is_file());
    for gone in [
        "apps/NOTES.md",
        "apps/tmp/scratch.yaml",
        "other/unrelated.yaml",
    ] {
        assert!(
            !dest.path().join(gone).exists(),
            "{gone} should not be in the artifact"
        );
    }
    let everything = serde_json::to_string(&obj).unwrap() + &controller.log();
    assert!(!everything.contains(SECRET_KEY), "the secret key leaked");
}

/// In-process, to count downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_gives_a_new_revision_and_an_unchanged_bucket_downloads_nothing() {
    let (client, ns) = ferroflux_testenv::setup("bucket-change", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("manifests").unwrap();
    server.put_object("manifests", "a.yaml", b"a: 1\n").unwrap();
    server
        .put_object("manifests", "b/c.yaml", b"c: 1\n")
        .unwrap();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let run = run_in_process(&client, &ns);
    let downloads = || run.reconciler.downloads.load(Ordering::SeqCst);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(
        &api,
        &bucket("app", &server.host(), "manifests", &serde_json::json!({})),
    )
    .await;
    let first = wait_for(&api, "app", "Ready", ready).await;
    let first_revision = revision(&first).unwrap();
    assert_eq!(
        first_revision,
        flux_revision(&[("a.yaml", "a: 1\n"), ("b/c.yaml", "c: 1\n")])
    );
    assert_eq!(downloads(), 2);

    request_reconcile(&api, "app", "unchanged").await;
    let again = wait_for(&api, "app", "the unchanged request is handled", |o| {
        handled(o, "unchanged")
    })
    .await;
    assert_eq!(revision(&again).unwrap(), first_revision);
    assert_eq!(
        again.status.as_ref().unwrap().artifact,
        first.status.as_ref().unwrap().artifact,
        "an unchanged bucket must not write a new artifact"
    );
    assert_eq!(downloads(), 2, "an unchanged bucket downloaded objects");

    server.put_object("manifests", "a.yaml", b"a: 2\n").unwrap();
    request_reconcile(&api, "app", "changed").await;
    let changed = wait_for(&api, "app", "a new revision", |o| {
        handled(o, "changed") && ready(o)
    })
    .await;
    assert_eq!(
        revision(&changed).unwrap(),
        flux_revision(&[("a.yaml", "a: 2\n"), ("b/c.yaml", "c: 1\n")])
    );
    assert_eq!(downloads(), 4);

    server.delete_object("manifests", "b/c.yaml").unwrap();
    request_reconcile(&api, "app", "deleted").await;
    let deleted = wait_for(&api, "app", "the deletion's revision", |o| {
        handled(o, "deleted") && ready(o)
    })
    .await;
    assert_eq!(
        revision(&deleted).unwrap(),
        flux_revision(&[("a.yaml", "a: 2\n")])
    );

    // Deleting the Bucket removes its artifacts.
    let dir = run.storage.path().join("bucket").join(&ns).join("app");
    assert!(dir.is_dir());
    api.delete("app", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    ferroflux_testenv::eventually_gone(&api, "app", Duration::from_secs(30)).await;
    assert!(
        !dir.exists(),
        "the artifacts of a deleted Bucket must be removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_name_the_bucket_keep_the_artifact_and_leak_no_key() {
    let (client, ns) = ferroflux_testenv::setup("bucket-denied", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("manifests").unwrap();
    server.put_object("manifests", "a.yaml", b"a: 1\n").unwrap();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let controller = Controller::start(&ns);
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    create(
        &api,
        &bucket("app", &server.host(), "manifests", &serde_json::json!({})),
    )
    .await;
    let good = wait_for(&api, "app", "Ready", ready).await;

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .patch(
            "s3-keys",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"stringData": {"secretkey": WRONG_SECRET_KEY}})),
        )
        .await
        .unwrap();
    request_reconcile(&api, "app", "rotated").await;
    let denied = wait_for(&api, "app", "Ready=False after the wrong key", |o| {
        handled(o, "rotated") && condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let ready_cond = condition(&denied, "Ready").unwrap();
    assert_eq!(ready_cond.reason, "BucketOperationFailed");
    assert!(
        ready_cond.message.contains("bucket 'manifests'") && ready_cond.message.contains("denied"),
        "{}",
        ready_cond.message
    );
    assert_eq!(condition(&denied, "FetchFailed").unwrap().status, "True");
    assert_eq!(
        denied.status.as_ref().unwrap().artifact,
        good.status.as_ref().unwrap().artifact,
        "the last artifact must be kept"
    );
    let events = crate::ocirepository::wait_event(&client, &ns, "app", "denied").await;
    let everything =
        serde_json::to_string(&denied).unwrap() + &events.join("\n") + &controller.log();
    for key in [SECRET_KEY, WRONG_SECRET_KEY] {
        assert!(!everything.contains(key), "a secret key leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_over_tls_trusts_the_ca_of_cert_secret_ref_and_refuses_an_unknown_one() {
    let (client, ns) = ferroflux_testenv::setup("bucket-tls", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("manifests").unwrap();
    server.put_object("manifests", "a.yaml", b"a: 1\n").unwrap();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    // s3s-fs speaks plain HTTP: the endpoint is a TLS proxy in front of it,
    // its certificate signed by a CA of its own.
    let (endpoint, ca_pem) = ferroflux_testenv::terminating_proxy(server.host())
        .await
        .unwrap();
    create_secret(
        &client,
        &ns,
        "s3-ca",
        "Opaque",
        serde_json::json!({"ca.crt": ca_pem}),
    )
    .await;
    let _controller = Controller::start(&ns);
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let tls = serde_json::json!({"insecure": false, "certSecretRef": {"name": "s3-ca"}});
    create(&api, &bucket("trusted", &endpoint, "manifests", &tls)).await;
    let obj = wait_for(&api, "trusted", "Ready over TLS", ready).await;
    assert_eq!(
        revision(&obj).unwrap(),
        flux_revision(&[("a.yaml", "a: 1\n")])
    );

    // Without the CA the same endpoint is refused, with the reason said.
    let plain = serde_json::json!({"insecure": false});
    create(&api, &bucket("untrusted", &endpoint, "manifests", &plain)).await;
    let refused = wait_for(&api, "untrusted", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False" && c.reason != "Progressing")
    })
    .await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.contains("bucket 'manifests'") && message.to_lowercase().contains("certificate"),
        "{message}"
    );
    assert!(revision(&refused).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outage_sets_fetch_failed_and_the_bucket_recovers() {
    let (client, ns) = ferroflux_testenv::setup("bucket-outage", &ferroflux_api::all_crds()).await;
    let mut server = start_server();
    server.create_bucket("manifests").unwrap();
    server.put_object("manifests", "a.yaml", b"a: 1\n").unwrap();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let _run = run_in_process(&client, &ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(
        &api,
        // The static-key form of provider aws speaks the same S3 API.
        &bucket(
            "app",
            &server.host(),
            "manifests",
            &serde_json::json!({"timeout": "5s", "provider": "aws", "region": "eu-west-1"}),
        ),
    )
    .await;
    let good = wait_for(&api, "app", "Ready", ready).await;

    server.stop();
    server.put_object("manifests", "a.yaml", b"a: 2\n").unwrap();
    request_reconcile(&api, "app", "outage").await;
    let down = wait_for(&api, "app", "FetchFailed during the outage", |o| {
        handled(o, "outage") && condition(o, "FetchFailed").is_some_and(|c| c.status == "True")
    })
    .await;
    let failed = condition(&down, "FetchFailed").unwrap();
    assert_eq!(failed.reason, "BucketOperationFailed");
    assert!(failed.message.contains("manifests"), "{}", failed.message);
    assert_eq!(
        revision(&down),
        revision(&good),
        "the last artifact is kept"
    );

    server.serve().unwrap();
    let back = wait_for(&api, "app", "recovered at the new revision", |o| {
        ready(o) && condition(o, "FetchFailed").is_none() && revision(o) != revision(&good)
    })
    .await;
    assert_eq!(
        revision(&back).unwrap(),
        flux_revision(&[("a.yaml", "a: 2\n")])
    );
}

/// A server whose listing holds a key climbing out of the bucket: the
/// artifact directory must never be left. `s3s-fs` lists its files, which
/// cannot have such names, so this one serves a crafted listing over real
/// HTTP.
async fn hostile_listing_server() -> String {
    use axum::http::{StatusCode, Uri};
    async fn answer(uri: Uri) -> (StatusCode, String) {
        if uri.query().is_some_and(|q| q.contains("list-type=2")) {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>evil</Name><KeyCount>2</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>ok.yaml</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"1\"</ETag><Size>1</Size></Contents><Contents><Key>../../escape.yaml</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"2\"</ETag><Size>1</Size></Contents></ListBucketResult>";
            return (StatusCode::OK, body.to_owned());
        }
        (
            StatusCode::NOT_FOUND,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code></Error>"
                .to_owned(),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(answer))
            .await
            .unwrap();
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_escaping_the_artifact_root_is_refused_by_name() {
    let (client, ns) = ferroflux_testenv::setup("bucket-escape", &ferroflux_api::all_crds()).await;
    let host = hostile_listing_server().await;
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let run = run_in_process(&client, &ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(&api, &bucket("app", &host, "evil", &serde_json::json!({}))).await;
    let refused = wait_for(&api, "app", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let message = &condition(&refused, "Ready").unwrap().message;
    assert!(
        message.contains("../../escape.yaml") && message.contains("bucket 'evil'"),
        "{message}"
    );
    assert!(revision(&refused).is_none());
    assert_eq!(
        run.reconciler.downloads.load(Ordering::SeqCst),
        0,
        "nothing may be downloaded from a bucket with an escaping key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_named_with_its_endpoint() {
    let (client, ns) = ferroflux_testenv::setup("bucket-missing", &ferroflux_api::all_crds()).await;
    let server = start_server();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let _run = run_in_process(&client, &ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(
        &api,
        &bucket("app", &server.host(), "nowhere", &serde_json::json!({})),
    )
    .await;
    let missing = wait_for(&api, "app", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let c = condition(&missing, "FetchFailed").unwrap();
    assert_eq!(c.reason, "BucketOperationFailed");
    assert_eq!(
        c.message,
        format!("bucket 'nowhere' not found at {}", server.url())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_identity_providers_are_stalled_by_name() {
    let (client, ns) = ferroflux_testenv::setup("bucket-cloud", &ferroflux_api::all_crds()).await;
    let _run = run_in_process(&client, &ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    let mut obj = bucket(
        "gcs",
        "storage.googleapis.com",
        "manifests",
        &serde_json::json!({"provider": "gcp"}),
    );
    obj.spec.secret_ref = None;
    create(&api, &obj).await;
    let stalled = wait_for(&api, "gcs", "Stalled", |o| {
        condition(o, "Stalled").is_some_and(|c| c.status == "True")
    })
    .await;
    let c = condition(&stalled, "Ready").unwrap();
    assert_eq!(c.reason, "UnsupportedConfiguration");
    assert!(c.message.contains("spec.provider 'gcp'"), "{}", c.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_chart_from_a_bucket_is_packaged_and_follows_the_buckets_revisions() {
    use ferroflux_api::source::HelmChart;

    use crate::helm::{chart_ready_at, helm_chart, start_in_process_with, wait_for as wait_chart};

    let (client, ns) = ferroflux_testenv::setup("bucket-chart", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("charts").unwrap();
    for (key, content) in [
        (
            "app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        ),
        ("app/values.yaml", "replicas: 1\n"),
        ("app/values-prod.yaml", "replicas: 3\n"),
        ("app/templates/cm.yaml", "kind: ConfigMap\n"),
    ] {
        server
            .put_object("charts", key, content.as_bytes())
            .unwrap();
    }
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let running = start_in_process_with(&client, &ns, false, true);
    let buckets: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    create(
        &buckets,
        &bucket("charts", &server.host(), "charts", &serde_json::json!({})),
    )
    .await;
    let spec = serde_json::json!({
        "chart": "./app",
        "sourceRef": {"kind": "Bucket", "name": "charts"},
        "valuesFiles": ["app/values.yaml", "app/values-prod.yaml"],
        "reconcileStrategy": "Revision",
    });
    charts
        .create(&PostParams::default(), &helm_chart("app", spec))
        .await
        .unwrap();

    let source = wait_for(&buckets, "charts", "the Bucket is Ready", ready).await;
    let first = revision(&source).unwrap();
    let want = format!("0.1.0+{}", &first.trim_start_matches("sha256:")[..12]);
    let chart = wait_chart(&charts, "app", "the chart from the Bucket is Ready", |o| {
        chart_ready_at(o, &want)
    })
    .await;
    let status = chart.status.unwrap();
    assert_eq!(
        status.observed_source_artifact_revision.as_deref(),
        Some(first.as_str())
    );
    let bytes = std::fs::read(
        running
            .storage_dir
            .path()
            .join(status.artifact.unwrap().path),
    )
    .unwrap();
    let loaded = ferroflux_helm::chart::load_archive(&bytes, "stored").unwrap();
    assert_eq!(loaded.metadata.version, want);
    assert_eq!(
        serde_json::Value::Object(loaded.values),
        serde_json::json!({"replicas": 3.0})
    );

    // A changed object is a new Bucket revision, hence a new chart version,
    // without waiting for the HelmChart's interval.
    server
        .put_object("charts", "app/values-prod.yaml", b"replicas: 5\n")
        .unwrap();
    request_reconcile(&buckets, "charts", "second").await;
    let second = wait_for(&buckets, "charts", "the Bucket's new revision", |o| {
        handled(o, "second") && ready(o) && revision(o).as_deref() != Some(first.as_str())
    })
    .await;
    let second = revision(&second).unwrap();
    let want = format!("0.1.0+{}", &second.trim_start_matches("sha256:")[..12]);
    wait_chart(&charts, "app", "the chart at the new revision", |o| {
        chart_ready_at(o, &want)
    })
    .await;
}

/// A forwarding HTTP proxy on loopback that records the `Proxy-Authorization`
/// and target of each request, then relays it to its target.
async fn recording_proxy() -> (String, Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use axum::body::{Body, Bytes};
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let seen: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    let relay = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let record = record.clone();
        async move {
            let auth = headers
                .get("proxy-authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            record.lock().unwrap().push((uri.to_string(), auth));
            let mut forward = ferroflux_tls::http_client().request(method, uri.to_string());
            for (name, value) in &headers {
                if !["proxy-authorization", "proxy-connection", "connection"]
                    .contains(&name.as_str())
                {
                    forward = forward.header(name, value);
                }
            }
            let Ok(answer) = forward.body(body).send().await else {
                return (StatusCode::BAD_GATEWAY, HeaderMap::new(), Body::empty());
            };
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut back = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name.as_str() != "transfer-encoding" {
                    back.insert(name, value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, back, Body::from(bytes))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(relay))
            .await
            .unwrap();
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_through_the_proxy_of_proxy_secret_ref_with_its_login() {
    let (client, ns) = ferroflux_testenv::setup("bucket-proxy", &ferroflux_api::all_crds()).await;
    let server = start_server();
    server.create_bucket("manifests").unwrap();
    server.put_object("manifests", "a.yaml", b"a: 1\n").unwrap();
    keys_secret(&client, &ns, "s3-keys", SECRET_KEY).await;
    let (proxy, seen) = recording_proxy().await;
    create_secret(
        &client,
        &ns,
        "proxy",
        "Opaque",
        serde_json::json!({"address": proxy, "username": "team", "password": "proxy-pass-8c1"}),
    )
    .await;
    let _run = run_in_process(&client, &ns);
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    create(
        &api,
        &bucket(
            "app",
            &server.host(),
            "manifests",
            &serde_json::json!({"proxySecretRef": {"name": "proxy"}}),
        ),
    )
    .await;
    let obj = wait_for(&api, "app", "Ready through the proxy", ready).await;
    assert_eq!(
        revision(&obj).unwrap(),
        flux_revision(&[("a.yaml", "a: 1\n")])
    );
    let seen = seen.lock().unwrap().clone();
    // Basic auth of team:proxy-pass-8c1.
    let login = "Basic dGVhbTpwcm94eS1wYXNzLThjMQ==";
    assert!(
        seen.iter()
            .any(|(uri, auth)| uri.contains("/manifests") && auth == login),
        "{seen:?}"
    );
    let status = serde_json::to_string(&obj.status).unwrap();
    assert!(!status.contains("proxy-pass-8c1"));
}
