//! Receivers end to end: a GitHub-style webhook makes a GitRepository fetch
//! at once, long before its interval; a wrong signature changes nothing.

use ferroflux_api::notification::Receiver;
use ferroflux_api::source::GitRepository;
use ferroflux_notify::providers::sign;
use ferroflux_testenv::controller::{
    ControllerProcess, SourceController, free_port, workspace_binary,
};
use ferroflux_testenv::eventually;
use ferroflux_testenv::git::GitServer;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::support::{STEP, kubernetes_event, start_notification, start_replica};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_push_reconciles_the_repository_now_and_a_bad_signature_nothing() {
    let (client, ns) = ferroflux_testenv::setup("receivers", &ferroflux_api::all_crds()).await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo("app", "main", &[("README.md", "one")])
        .unwrap();
    let hook_port = free_port();
    let _controllers = start(&ns, hook_port).await;
    create_objects(&client, &ns, &server.url("app")).await;
    let repos = Api::<GitRepository>::namespaced(client.clone(), &ns);
    let receivers = Api::<Receiver>::namespaced(client.clone(), &ns);
    let path = eventually("the Receiver's webhook path", STEP, || async {
        let status = receivers.get("github").await.ok()?.status?;
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True" && c.message.contains("/hook/"));
        status.webhook_path.filter(|_| ready)
    })
    .await;
    // A Receiver whose Secret is missing, or with a CEL filter, says so.
    let message = refused(
        &receivers,
        "orphan",
        json!({"type": "github", "secretRef": {"name": "absent"},
               "resources": [{"kind": "GitRepository", "name": "app"}]}),
    )
    .await;
    assert!(
        message.contains(&format!("Secret {ns}/absent not found")),
        "{message}"
    );
    let message = refused(
        &receivers,
        "filtered",
        json!({"type": "generic", "secretRef": {"name": "webhook-token"},
               "resourceFilter": "true",
               "resources": [{"kind": "GitRepository", "name": "*"}]}),
    )
    .await;
    assert!(
        message.contains("spec.resourceFilter (CEL) are not supported"),
        "{message}"
    );
    let first = format!("main@sha1:{}", repo.head().unwrap());
    eventually("the first fetch", STEP, || async {
        let revision = repos.get("app").await.ok()?.status?.artifact?.revision;
        (revision == first).then_some(())
    })
    .await;
    repo.commit(&[("README.md", "two")], "second").unwrap();
    let second = format!("main@sha1:{}", repo.head().unwrap());

    let http = ferroflux_tls::http_client();
    let url = format!("http://127.0.0.1:{hook_port}{path}");
    let body = r#"{"ref": "refs/heads/main"}"#;
    let call = |event: &'static str, signature: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(url)
                .header("X-GitHub-Event", event)
                .header("X-Hub-Signature-256", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let good = format!("sha256={}", sign("github-shared-secret", body.as_bytes()));
    let bad = format!("sha256={}", sign("guessed", body.as_bytes()));
    // Until the server's watch has seen the path, the answer is 404.
    eventually("the bad signature refused with 401", STEP, || async {
        (call("push", bad.clone()).await == 401).then_some(())
    })
    .await;
    let annotations = repos
        .get("app")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(!annotations.contains_key("reconcile.fluxcd.io/requestedAt"));
    assert_eq!(call("ping", good.clone()).await, 200);
    let missing = http
        .post(format!("http://127.0.0.1:{hook_port}/hook/0000"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    assert_eq!(call("push", good).await, 200);
    // The interval is an hour: only the webhook makes this happen in time.
    eventually("the new revision fetched at once", STEP, || async {
        let revision = repos.get("app").await.ok()?.status?.artifact?.revision;
        (revision == second).then_some(())
    })
    .await;
}

/// The notification- and source-controller processes for `ns`.
async fn start(ns: &str, hook_port: u16) -> (ControllerProcess, SourceController) {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let (notification, _) =
        start_notification(ns, &[format!("--receiver-addr=127.0.0.1:{hook_port}")]).await;
    let source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        cp.kubeconfig(),
        ns,
        &[],
    );
    (notification, source)
}

/// The token Secret, the GitRepository `app` on `url` and the `github`
/// Receiver for it.
async fn create_objects(client: &kube::Client, ns: &str, url: &str) {
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "webhook-token", "namespace": ns},
        "stringData": {"token": "github-shared-secret"}}))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let git_repo: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}}))
    .unwrap();
    let repos = Api::<GitRepository>::namespaced(client.clone(), ns);
    repos
        .create(&PostParams::default(), &git_repo)
        .await
        .unwrap();
    let receiver: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "github", "namespace": ns},
        "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "app"}]}}))
    .unwrap();
    Api::<Receiver>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &receiver)
        .await
        .unwrap();
}

/// Creates the Receiver `name` with `spec` and returns the message of its
/// Ready=False condition.
async fn refused(receivers: &Api<Receiver>, name: &str, spec: serde_json::Value) -> String {
    let ns = receivers.namespace().unwrap_or_default().to_owned();
    let receiver: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": name, "namespace": ns}, "spec": spec}))
    .unwrap();
    receivers
        .create(&PostParams::default(), &receiver)
        .await
        .unwrap();
    eventually(&format!("the Receiver {name} not ready"), STEP, || async {
        let status = receivers.get(name).await.ok()?.status?;
        let ready = status.conditions.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.status == "False").then_some(ready.message)
    })
    .await
}

/// With `--no-cross-namespace-refs`, a Receiver listing a resource in
/// another namespace is refused by name, as Alerts' sources are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cross_namespace_refs_refuses_a_receiver_reaching_elsewhere() {
    let (client, ns) = ferroflux_testenv::setup("receivers-ns", &ferroflux_api::all_crds()).await;
    let _notification = start_notification(&ns, &["--no-cross-namespace-refs".to_owned()]).await;
    token_secret(&client, &ns).await;
    let receivers = Api::<Receiver>::namespaced(client.clone(), &ns);
    let message = refused(
        &receivers,
        "reaching",
        json!({"type": "generic", "secretRef": {"name": "webhook-token"},
               "resources": [{"kind": "GitRepository", "name": "app"},
                             {"kind": "GitRepository", "name": "infra", "namespace": "flux-system"}]}),
    )
    .await;
    assert!(
        message.contains("GitRepository/flux-system/infra is not in"),
        "{message}"
    );
    let status = receivers.get("reaching").await.unwrap().status.unwrap();
    assert!(
        status.webhook_path.is_none(),
        "no path for a refused Receiver"
    );
}

/// Issue 16, items 4 and 7: with leader election, one replica holds the
/// Lease and reconciles Receivers (conditions, Kubernetes Events, the
/// runtime's metrics beside the event counters, an unparsable interval
/// stalled by name), while the other still serves events and is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_reconciles_receivers_and_every_replica_serves() {
    use k8s_openapi::api::coordination::v1::Lease;

    let (client, ns) =
        ferroflux_testenv::setup("receivers-leader", &ferroflux_api::all_crds()).await;
    let election = [
        "--enable-leader-election".to_owned(),
        "--leader-election-lease-duration=3s".to_owned(),
        "--leader-election-renew-deadline=2s".to_owned(),
        "--leader-election-retry-period=200ms".to_owned(),
    ];
    let replicas = [
        start_replica(&ns, "replica-a", &election).await,
        start_replica(&ns, "replica-b", &election).await,
    ];
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let leader = eventually("a replica takes the lease", STEP, || async {
        leases.get_opt(LEASE).await.ok()??.spec?.holder_identity
    })
    .await;
    let (leading, standby) = if leader == "replica-a" {
        (&replicas[0], &replicas[1])
    } else {
        (&replicas[1], &replicas[0])
    };

    token_secret(&client, &ns).await;
    let receivers = Api::<Receiver>::namespaced(client.clone(), &ns);
    let too_long = "99999999999999999999999m";
    let message = refused(
        &receivers,
        "bad-interval",
        json!({"type": "generic", "interval": too_long, "secretRef": {"name": "webhook-token"},
               "resources": [{"kind": "GitRepository", "name": "app"}]}),
    )
    .await;
    assert_eq!(
        message,
        format!("spec.interval: \"{too_long}\" is not a duration such as 30s, 5m or 1h30m")
    );
    let good: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "good", "namespace": ns},
        "spec": {"type": "generic", "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "app"}]}}))
    .unwrap();
    receivers
        .create(&PostParams::default(), &good)
        .await
        .unwrap();
    eventually("the good Receiver ready", STEP, || async {
        let status = receivers.get("good").await.ok()?.status?;
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(())
    })
    .await;
    let event = kubernetes_event(&client, &ns, "an Event recorded for the Receiver", |e| {
        e.involved_object.kind.as_deref() == Some("Receiver")
            && e.involved_object.name.as_deref() == Some("good")
    })
    .await;
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("notification-controller"),
        "{event:?}"
    );

    let metrics = http_get(leading.0.metrics_port, "/metrics").await.1;
    let ready = format!(
        "gotk_reconcile_condition{{kind=\"Receiver\",name=\"good\",namespace=\"{ns}\",type=\"Ready\",status=\"True\"}} 1"
    );
    assert!(metrics.contains(&ready), "{metrics}");
    assert!(
        metrics.contains("notification_events_received"),
        "{metrics}"
    );
    // The standby does not reconcile, but serves: ready at once, and its
    // event endpoint answers.
    assert_eq!(http_get(standby.0.health_port, "/readyz").await.0, 200);
    let response = ferroflux_tls::http_client()
        .post(format!("http://127.0.0.1:{}/", standby.1))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        400,
        "a malformed event is answered, not ignored"
    );
    assert!(standby.0.log().contains("waiting for leadership"));
}

/// The status and body of `GET http://127.0.0.1:<port><path>`.
async fn http_get(port: u16, path: &str) -> (u16, String) {
    let response = ferroflux_tls::http_client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The notification-controller's leader-election Lease, named as Flux names it.
const LEASE: &str = "notification-controller-leader-election";

/// The Secret `webhook-token` with a token, in `ns`.
async fn token_secret(client: &kube::Client, ns: &str) {
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "webhook-token", "namespace": ns},
        "stringData": {"token": "t0ken"}}))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}
