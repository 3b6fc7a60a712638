//! Events: Kubernetes Events on the server, and Flux's payload forwarded to
//! the events address, with no secret in either and no wait on delivery.

use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::Api;
use kube::api::{ListParams, PostParams};

use ferroflux_testenv::eventually;
use ferroflux_testenv::sink::JsonSink;

use crate::controller::{count_reaches, harness_with, ready, repo, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successes_and_failures_are_recorded_and_forwarded_in_fluxs_format() {
    let sink = JsonSink::start().await;
    let addr = sink.url().to_owned();
    let h = harness_with("events", Some(addr)).await;
    let ns = h.api.namespace().unwrap().to_owned();

    h.create("good", "https://git.example.com/app.git", false)
        .await;
    wait_for(&h.api, "good", "Ready=True", ready).await;
    let info = sink
        .wait_for("the success event", Duration::from_secs(20), |e| {
            e["severity"] == "info"
        })
        .await;
    assert_eq!(info["reason"], "ReconciliationSucceeded");
    assert_eq!(
        info["message"],
        "stored artifact for revision 'main@sha1:abc'"
    );
    assert_eq!(
        info["metadata"]["source.toolkit.fluxcd.io/revision"],
        "main@sha1:abc"
    );
    assert_eq!(info["involvedObject"]["kind"], "GitRepository");
    assert_eq!(info["involvedObject"]["name"], "good");
    assert_eq!(info["involvedObject"]["namespace"], ns.as_str());
    assert_eq!(
        info["involvedObject"]["apiVersion"],
        "source.toolkit.fluxcd.io/v1"
    );
    assert_eq!(info["reportingController"], "test-controller");
    assert!(
        info["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{info}"
    );

    let secret_url = "https://bot:s3cr3t-pat@fail.example.com/app.git";
    h.api
        .create(&PostParams::default(), &repo("bad", secret_url, false))
        .await
        .unwrap();
    let error = sink
        .wait_for("the failure event", Duration::from_secs(20), |e| {
            e["severity"] == "error"
        })
        .await;
    assert_eq!(error["reason"], "GitOperationFailed");
    assert_eq!(error["involvedObject"]["name"], "bad");
    let text = error["message"].as_str().unwrap();
    assert!(text.contains("https://***@fail.example.com"), "{text}");

    let kube_events: Api<KubeEvent> = Api::namespaced(h.api.clone().into_client(), &ns);
    let kube_events = &kube_events;
    let warning = eventually(
        "both Kubernetes Events are recorded",
        Duration::from_secs(20),
        || async move {
            let list = kube_events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items;
            let has = |type_: &str, reason: &str| {
                list.iter()
                    .find(|e| {
                        e.type_.as_deref() == Some(type_) && e.reason.as_deref() == Some(reason)
                    })
                    .cloned()
            };
            has("Normal", "ReconciliationSucceeded").and(has("Warning", "GitOperationFailed"))
        },
    )
    .await;
    assert!(
        !serde_json::to_string(&warning)
            .unwrap()
            .contains("s3cr3t-pat")
    );
    let everything = serde_json::to_string(&sink.received()).unwrap();
    assert!(
        !everything.contains("s3cr3t-pat"),
        "a forwarded event leaked the token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_events_address_does_not_hold_up_reconciles() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let h = harness_with("events-down", Some(format!("http://127.0.0.1:{port}/"))).await;
    h.create("app", "https://git.example.com/app.git", false)
        .await;
    wait_for(&h.api, "app", "Ready=True", ready).await;
    count_reaches(
        "the undeliverable event is given up on",
        &h.events.stats.failed,
        1,
    )
    .await;
    assert_eq!(h.events.stats.delivered.load(Ordering::SeqCst), 0);
}
