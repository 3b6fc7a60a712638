//! What the tests share: starting the notification-controller, creating
//! objects from JSON, Provider manifests, posting events as a controller.

use std::time::Duration;

use ferroflux_testenv::controller::{ControllerProcess, free_port};
use ferroflux_testenv::eventually;
use kube::api::{DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// How long a step may take on the noisy two-core machine.
pub(crate) const STEP: Duration = Duration::from_secs(60);

/// The notification-controller watching `ns`, with `extra` flags (a free
/// receiver port unless they name one), and the port of its event
/// endpoint, which is listening when this returns.
pub(crate) async fn start_notification(ns: &str, extra: &[String]) -> (ControllerProcess, u16) {
    start_replica(ns, "notification-controller-0", extra).await
}

/// As [`start_notification`], as the pod `pod` (its identity in leader
/// election).
pub(crate) async fn start_replica(
    ns: &str,
    pod: &str,
    extra: &[String],
) -> (ControllerProcess, u16) {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let events_port = free_port();
    let mut args = vec![format!("--events-addr=127.0.0.1:{events_port}")];
    // Each test's controller needs its own receiver port.
    if !extra.iter().any(|a| a.starts_with("--receiver-addr")) {
        args.push(format!("--receiver-addr=127.0.0.1:{}", free_port()));
    }
    args.extend_from_slice(extra);
    let notification = ControllerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_ferroflux-notification-controller")),
        cp.kubeconfig(),
        ns,
        pod,
        &args,
    );
    // No event may be sent before the endpoint can receive it.
    eventually("the notification-controller listening", STEP, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", events_port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    (notification, events_port)
}

/// Creates `object` (any kind the API server knows) in `ns`.
pub(crate) async fn create(client: &Client, ns: &str, object: Value) {
    let api_version = object["apiVersion"].as_str().unwrap().to_owned();
    let kind = object["kind"].as_str().unwrap().to_owned();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    let (resource, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let obj: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

/// A Provider of type `kind` posting to `address`, with `secret` as its
/// `secretRef` when given.
pub(crate) fn provider(
    ns: &str,
    name: &str,
    kind: &str,
    address: &str,
    secret: Option<&str>,
) -> Value {
    let mut spec = json!({"type": kind, "address": address});
    if let Some(secret) = secret {
        spec["secretRef"] = json!({"name": secret});
    }
    json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// Waits for the `DeliveryFailed` event on the Alert `alert` and returns
/// its message.
pub(crate) async fn delivery_failure(client: &Client, ns: &str, alert: &str) -> String {
    let what = format!("a failed delivery recorded on {alert}");
    let event = kubernetes_event(client, ns, &what, |e| {
        e.reason.as_deref() == Some("DeliveryFailed")
            && e.involved_object.name.as_deref() == Some(alert)
    })
    .await;
    event.message.unwrap_or_default()
}

/// Waits for a Kubernetes Event in `ns` for which `matches` holds, naming
/// `what` if it never comes.
pub(crate) async fn kubernetes_event(
    client: &Client,
    ns: &str,
    what: &str,
    matches: impl Fn(&k8s_openapi::api::core::v1::Event) -> bool,
) -> k8s_openapi::api::core::v1::Event {
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), ns);
    let matches = &matches;
    eventually(what, STEP, || async {
        events
            .list(&kube::api::ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| matches(e))
    })
    .await
}
