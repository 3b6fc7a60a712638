//! Provider types, proxies and certificates, filters and the rate limit,
//! end to end: events are posted to the notification-controller's endpoint
//! as the other controllers post them, and local sinks check what arrives.

use ferroflux_api::notification::Provider;
use ferroflux_testenv::eventually;
use ferroflux_testenv::sink::JsonSink;
use kube::{Api, Client, ResourceExt as _};
use serde_json::{Value, json};

use crate::support::{STEP, create, delivery_failure, provider, start_notification};

/// A commit the GitHub provider reports on.
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Posts a Kustomization `app` event to the endpoint on `port`, as the
/// kustomize-controller would.
async fn post_event(port: u16, ns: &str, severity: &str, reason: &str, message: &str) {
    let event = json!({
        "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                           "kind": "Kustomization", "name": "app", "namespace": ns},
        "severity": severity, "timestamp": "2026-11-23T10:00:00Z",
        "message": message, "reason": reason,
        "metadata": {"kustomize.toolkit.fluxcd.io/revision": format!("main@sha1:{SHA}"),
                     "kustomize.toolkit.fluxcd.io/checksum": "not for alerts"},
        "reportingController": "kustomize-controller"});
    let response = ferroflux_tls::http_client()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("Content-Type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "posting {message}");
}

/// An Alert sending every Kustomization event (or those `extra` filters
/// let through) to `provider`.
fn alert(ns: &str, provider: &str, extra: &Value) -> Value {
    let mut spec = json!({"providerRef": {"name": provider},
                          "eventSources": [{"kind": "Kustomization", "name": "*"}]});
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": provider, "namespace": ns}, "spec": spec})
}

async fn secret(client: &Client, ns: &str, name: &str, data: Value) {
    create(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": name, "namespace": ns}, "stringData": data}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_commit_status_providers_get_their_formats() {
    let (client, ns) = ferroflux_testenv::setup("providers", &ferroflux_api::all_crds()).await;
    let sinks = [
        JsonSink::start().await,
        JsonSink::start().await,
        JsonSink::start().await,
        JsonSink::start().await,
    ];
    let [teams, discord, chat, github] = &sinks;
    secret(&client, &ns, "github", json!({"token": "ghp-test-token-1"})).await;
    let github_repo = format!("{}org/app.git", github.url());
    for (name, address, secret) in [
        ("msteams", teams.url(), None),
        ("discord", discord.url(), None),
        ("googlechat", chat.url(), None),
        ("github", github_repo.as_str(), Some("github")),
    ] {
        create(&client, &ns, provider(&ns, name, name, address, secret)).await;
        create(&client, &ns, alert(&ns, name, &json!({}))).await;
    }
    let (controller, port) = start_notification(&ns, &[]).await;
    post_event(
        port,
        &ns,
        "info",
        "Progressing",
        "ConfigMap/app/config configured",
    )
    .await;
    post_event(
        port,
        &ns,
        "info",
        "ReconciliationSucceeded",
        "Applied revision",
    )
    .await;

    let card = teams
        .wait_for("a Teams card", STEP, |b| b["type"] == "message")
        .await;
    let items = &card["attachments"][0]["content"]["body"][0]["items"];
    assert_eq!(items[0]["text"], format!("kustomization/app.{ns}"));
    // Only the object's group's metadata, without the prefix, no checksum.
    assert_eq!(
        items[2]["facts"],
        json!([{"title": "revision", "value": format!("main@sha1:{SHA}")}])
    );
    discord.wait_for("a Discord message", STEP, |_| true).await;
    assert!(discord.requests().iter().all(|r| r.path == "/slack"));
    let message = chat
        .wait_for("a Google Chat card", STEP, |b| {
            b["cards"][0]["sections"][0]["widgets"][0]["textParagraph"]["text"]
                == "Applied revision"
        })
        .await;
    assert_eq!(
        message["cards"][0]["header"]["subtitle"],
        "kustomize-controller"
    );

    let status = github.wait_for("a commit status", STEP, |_| true).await;
    let uid = Api::<Provider>::namespaced(client.clone(), &ns)
        .get("github")
        .await
        .unwrap()
        .uid()
        .unwrap();
    assert_eq!(
        status,
        json!({"state": "success", "description": "reconciliation succeeded",
               "context": format!("kustomization/app/{}", uid.split('-').next().unwrap())})
    );
    // The Progressing event is no outcome: one status, on the commit.
    let requests = github.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].path,
        format!("/api/v3/repos/org/app/statuses/{SHA}")
    );
    assert_eq!(
        requests[0].headers["authorization"],
        "Bearer ghp-test-token-1"
    );
    assert!(!controller.log().contains("ghp-test-token-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_and_custom_certificate_authorities_are_used() {
    let (client, ns) = ferroflux_testenv::setup("provider-net", &ferroflux_api::all_crds()).await;
    let (https, proxy) = (JsonSink::start_tls().await, JsonSink::start().await);
    secret(
        &client,
        &ns,
        "ca",
        json!({"ca.crt": https.ca_pem().unwrap()}),
    )
    .await;
    secret(
        &client,
        &ns,
        "proxy",
        json!({"address": proxy.url(), "username": "proxyuser", "password": "proxy-pass-9f2"}),
    )
    .await;
    let mut trusted = provider(&ns, "trusted", "generic", https.url(), None);
    trusted["spec"]["certSecretRef"] = json!({"name": "ca"});
    let untrusted = provider(&ns, "untrusted", "generic", https.url(), None);
    secret(
        &client,
        &ns,
        "garbled-ca",
        json!({"ca.crt": "not a certificate"}),
    )
    .await;
    let mut garbled = provider(&ns, "garbled", "generic", https.url(), None);
    garbled["spec"]["certSecretRef"] = json!({"name": "garbled-ca"});
    // Nothing resolves this name: only the proxy can deliver.
    let mut proxied = provider(
        &ns,
        "proxied",
        "generic",
        "http://hooks.ferroflux.invalid/endpoint",
        None,
    );
    proxied["spec"]["proxySecretRef"] = json!({"name": "proxy"});
    for p in [trusted, untrusted, garbled, proxied] {
        let name = p["metadata"]["name"].as_str().unwrap().to_owned();
        create(&client, &ns, p).await;
        create(&client, &ns, alert(&ns, &name, &json!({}))).await;
    }
    let (controller, port) = start_notification(&ns, &[]).await;
    post_event(
        port,
        &ns,
        "info",
        "ReconciliationSucceeded",
        "Applied revision",
    )
    .await;

    https
        .wait_for("the event over HTTPS", STEP, |e| {
            e["message"] == "Applied revision"
        })
        .await;
    proxy
        .wait_for("the event through the proxy", STEP, |e| {
            e["message"] == "Applied revision"
        })
        .await;
    let through = &proxy.requests()[0];
    assert_eq!(through.path, "/endpoint");
    assert_eq!(through.headers["host"], "hooks.ferroflux.invalid");
    // base64("proxyuser:proxy-pass-9f2")
    assert_eq!(
        through.headers["proxy-authorization"],
        "Basic cHJveHl1c2VyOnByb3h5LXBhc3MtOWYy"
    );
    // Without the CA, the same sink is not trusted: a DeliveryFailed event.
    let message = delivery_failure(&client, &ns, "untrusted").await;
    assert!(message.contains("attempts"), "{message}");
    // A certificate Secret that holds no certificate: said, nothing sent.
    let message = delivery_failure(&client, &ns, "garbled").await;
    assert!(
        message.contains("ca.crt holds no PEM certificate"),
        "{message}"
    );
    assert_eq!(https.requests().len(), 1);
    assert!(!controller.log().contains("proxy-pass-9f2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_the_rate_limit_drop_what_they_should() {
    let (client, ns) = ferroflux_testenv::setup("filters", &ferroflux_api::all_crds()).await;
    let (all, filtered) = (JsonSink::start().await, JsonSink::start().await);
    create(
        &client,
        &ns,
        provider(&ns, "all", "generic", all.url(), None),
    )
    .await;
    create(
        &client,
        &ns,
        provider(&ns, "filtered", "generic", filtered.url(), None),
    )
    .await;
    create(&client, &ns, alert(&ns, "all", &json!({}))).await;
    create(
        &client,
        &ns,
        alert(
            &ns,
            "filtered",
            &json!({"inclusionList": ["^Applied revision"], "exclusionList": ["skip-me"]}),
        ),
    )
    .await;
    let (_controller, port) = start_notification(&ns, &[]).await;
    let events = [
        ("info", "ReconciliationSucceeded", "Applied revision: one"),
        // Identical: dropped by the rate limit.
        ("info", "ReconciliationSucceeded", "Applied revision: one"),
        (
            "info",
            "ReconciliationSucceeded",
            "Applied revision: skip-me",
        ),
        ("error", "HealthCheckFailed", "Health check failed"),
        // Handled after all the others: once it has arrived, anything
        // the others were to deliver has been sent.
        ("info", "ReconciliationSucceeded", "Applied revision: last"),
    ];
    for (severity, reason, message) in events {
        post_event(port, &ns, severity, reason, message).await;
    }
    let messages = |sink: &JsonSink| -> Vec<String> {
        let mut m: Vec<String> = sink
            .received()
            .iter()
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        m.sort();
        m
    };
    eventually(
        "every distinct event at the unfiltered sink",
        STEP,
        || async { (messages(&all).len() >= 4).then_some(()) },
    )
    .await;
    filtered
        .wait_for("the last event", STEP, |e| {
            e["message"] == "Applied revision: last"
        })
        .await;
    assert_eq!(
        messages(&all),
        [
            "Applied revision: last",
            "Applied revision: one",
            "Applied revision: skip-me",
            "Health check failed"
        ]
    );
    assert_eq!(
        messages(&filtered),
        ["Applied revision: last", "Applied revision: one"]
    );
}
