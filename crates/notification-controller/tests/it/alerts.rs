//! Alerts end to end: a Kustomization's events reach the Providers of the
//! Alerts that select them, in each provider's format.

use ferroflux_notify::providers::sign;
use ferroflux_testenv::controller::{ControllerProcess, SourceController, workspace_binary};
use ferroflux_testenv::git::GitServer;
use ferroflux_testenv::sink::JsonSink;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::support::{STEP, create, delivery_failure, provider, start_notification};

const CONFIG: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  color: blue\n";

/// The three controllers watching `ns`; killed on drop.
struct Controllers {
    _source: SourceController,
    _kustomize: ControllerProcess,
    notification: ControllerProcess,
}

async fn start(ns: &str) -> Controllers {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let (notification, events_port) = start_notification(ns, &[]).await;
    let events = format!("--events-addr=http://127.0.0.1:{events_port}/");
    let source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        cp.kubeconfig(),
        ns,
        std::slice::from_ref(&events),
    );
    let kustomize = ControllerProcess::start(
        &workspace_binary("ferroflux-kustomize-controller"),
        cp.kubeconfig(),
        ns,
        "kustomize-controller-0",
        &[events],
    );
    Controllers {
        _source: source,
        _kustomize: kustomize,
        notification,
    }
}

fn alert(ns: &str, name: &str, provider: &str, severity: &str) -> Value {
    json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"providerRef": {"name": provider}, "eventSeverity": severity,
                 "eventSources": [{"kind": "Kustomization", "name": "*"}],
                 "eventMetadata": {"cluster": "test"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomization_events_reach_generic_hmac_and_slack_providers() {
    let (client, ns) = ferroflux_testenv::setup("alerts", &ferroflux_api::all_crds()).await;
    let (generic, signed, slack, broken) = (
        JsonSink::start().await,
        JsonSink::start().await,
        JsonSink::start().await,
        JsonSink::answering(500).await,
    );
    providers_and_alerts(&client, &ns, [&generic, &signed, &slack, &broken]).await;
    let labelled = JsonSink::start().await;
    labelled_alert(&client, &ns, &labelled).await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo("app", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let controllers = start(&ns).await;
    create(
        &client,
        &ns,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"interval": "1h", "url": server.url("app"), "ref": {"branch": "main"}}}),
    )
    .await;
    create(
        &client,
        &ns,
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": ns, "labels": {"team": "payments"}},
        "spec": {"interval": "1h", "path": "./deploy", "prune": true, "targetNamespace": ns,
                 "sourceRef": {"kind": "GitRepository", "name": "app"}}}),
    )
    .await;
    let revision = format!("main@sha1:{}", repo.head().unwrap());

    // The success reaches the generic provider, with the revision and the
    // Alert's metadata.
    let success = tokio::time::timeout(
        STEP,
        generic.wait_for("the success event", STEP * 2, |e| {
            e["reason"] == "ReconciliationSucceeded"
        }),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no success event; the notification-controller logged:\n{}",
            controllers.notification.log()
        )
    });
    assert_eq!(success["involvedObject"]["kind"], "Kustomization");
    assert_eq!(success["involvedObject"]["name"], "app");
    assert_eq!(success["severity"], "info");
    assert_eq!(success["message"], format!("Applied revision: {revision}"));
    assert_eq!(success["metadata"]["revision"], revision.as_str());
    assert_eq!(success["metadata"]["cluster"], "test");
    assert_eq!(success["reportingController"], "kustomize-controller");
    // Selected by its labels too.
    labelled
        .wait_for("the event selected by matchLabels", STEP, |e| {
            e["reason"] == "ReconciliationSucceeded"
        })
        .await;

    assert_signed(&signed).await;
    // Only error events go to the error-only Slack Alert.
    assert!(slack.received().is_empty(), "{:?}", slack.received());

    // A broken commit: an error event in Slack's format.
    repo.commit(&[("deploy/config.yaml", "kind: [broken\n")], "broken")
        .unwrap();
    fetch_now(&client, &ns).await;
    let error = slack.wait_for("the failure in Slack", STEP, |_| true).await;
    let attachment = &error["attachments"][0];
    assert_eq!(attachment["color"], "danger", "{error}");
    assert_eq!(attachment["author_name"], format!("kustomization/app.{ns}"));
    assert!(
        attachment["text"]
            .as_str()
            .unwrap()
            .contains("deploy/config.yaml"),
        "{error}"
    );
    assert!(
        attachment["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["title"] == "cluster" && f["value"] == "test"),
        "{error}"
    );

    assert_delivery_failure_recorded(&client, &ns, &broken, &controllers).await;
}

/// Providers `generic`, `signed` (generic-hmac), `slack` and `broken` on
/// those sinks, and an Alert for each (`errors`, for Slack, error only).
async fn providers_and_alerts(client: &Client, ns: &str, sinks: [&JsonSink; 4]) {
    let [generic, signed, slack, broken] = sinks;
    create(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "hmac", "namespace": ns},
        "stringData": {"token": "hmac-signing-key"}}),
    )
    .await;
    for (name, kind, sink, secret) in [
        ("generic", "generic", &generic, None),
        ("signed", "generic-hmac", &signed, Some("hmac")),
        ("slack", "slack", &slack, None),
        ("broken", "generic", &broken, None),
    ] {
        create(client, ns, provider(ns, name, kind, sink.url(), secret)).await;
    }
    for (name, provider, severity) in [
        ("all", "generic", "info"),
        ("signed", "signed", "info"),
        ("errors", "slack", "error"),
        ("broken", "broken", "info"),
    ] {
        create(client, ns, alert(ns, name, provider, severity)).await;
    }
}

/// Asks for an immediate reconcile of the GitRepository `app`.
async fn fetch_now(client: &Client, ns: &str) {
    Api::<DynamicObject>::namespaced_with(
        client.clone(),
        ns,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "source.toolkit.fluxcd.io",
            "v1",
            "GitRepository",
        )),
    )
    .patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
        ),
    )
    .await
    .unwrap();
}

/// The failing provider was retried, then given up on with a Warning event
/// on its Alert; its address never reaches the log.
async fn assert_delivery_failure_recorded(
    client: &Client,
    ns: &str,
    broken: &JsonSink,
    controllers: &Controllers,
) {
    delivery_failure(client, ns, "broken").await;
    assert!(
        broken.requests().len() >= 3,
        "{} attempts",
        broken.requests().len()
    );
    assert!(!controllers.notification.log().contains(broken.url()));
}

/// A Provider on `sink` and an Alert selecting Kustomizations labelled
/// `team: payments` (and, through a second source, nothing: `team: other`).
async fn labelled_alert(client: &Client, ns: &str, sink: &JsonSink) {
    create(
        client,
        ns,
        provider(ns, "labelled", "generic", sink.url(), None),
    )
    .await;
    create(
        client,
        ns,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
            "metadata": {"name": "labelled", "namespace": ns},
            "spec": {"providerRef": {"name": "labelled"},
                     "eventSources": [{"kind": "Kustomization", "name": "*",
                                       "matchLabels": {"team": "payments"}}]}}),
    )
    .await;
}

/// The generic-hmac provider signs exactly the body it sends.
async fn assert_signed(signed: &JsonSink) {
    signed
        .wait_for("a signed event", STEP, |e| {
            e["reason"] == "ReconciliationSucceeded"
        })
        .await;
    for request in signed.requests() {
        let signature = request.headers.get("x-signature").unwrap();
        assert_eq!(
            signature,
            &format!("sha256={}", sign("hmac-signing-key", &request.body))
        );
    }
}
