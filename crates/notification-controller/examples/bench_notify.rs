//! `make bench-notify`: events posted to the notification-controller at a
//! steady rate (500/s for 60 s by default; `BENCH_NOTIFY_RATE` and
//! `BENCH_NOTIFY_SECONDS` to choose), one Alert with a `generic` Provider
//! pointed at a local sink. Measured: events lost (not accepted, or never
//! delivered), the latency from the POST to the sink receiving it (p50,
//! p99, max), and the controller's peak RSS.
//!
//! The controller runs as a release binary against the test control plane,
//! on the same two cores as the API server, etcd, the sender and the sink.
//! Prints a Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferroflux_testenv::bench::{peak_rss_mib, release_binary};
use ferroflux_testenv::controller::{ControllerProcess, free_port};
use kube::api::{DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// When each numbered event reached the sink.
type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A sink recording when each `bench event <n>` arrived; returns its URL.
async fn sink(arrivals: Arrivals) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let at = Instant::now();
            let arrivals = arrivals.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(n) = event["message"]
                    .as_str()
                    .and_then(|m| m.strip_prefix("bench event "))
                    .and_then(|n| n.parse().ok())
                {
                    arrivals.lock().unwrap().entry(n).or_insert(at);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn create(client: &Client, ns: &str, object: Value) {
    let (group, kind) = ("notification.toolkit.fluxcd.io", object["kind"].as_str());
    let resource = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        group,
        "v1beta3",
        kind.unwrap(),
    ));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(object).unwrap(),
    )
    .await
    .unwrap();
}

fn event(ns: &str, n: u64) -> String {
    json!({
        "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                           "kind": "Kustomization", "name": format!("app-{}", n % 100), "namespace": ns},
        "severity": "info", "timestamp": "2026-11-23T10:00:00Z",
        "message": format!("bench event {n}"), "reason": "ReconciliationSucceeded",
        "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
        "reportingController": "kustomize-controller"})
    .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a vector of at most a few hundred thousand"
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Posts a first event until it is delivered (once the Alert and Provider
/// are known), then forgets it: the measured events start after.
async fn warm_up(
    http: &reqwest::Client,
    endpoint: &str,
    ns: &str,
    arrivals: &Arrivals,
    controller: &ControllerProcess,
) {
    let started = Instant::now();
    let warm = u64::MAX;
    while !arrivals.lock().unwrap().contains_key(&warm) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no warm-up event delivered; the controller logged:\n{}",
            controller.log()
        );
        let _ = http
            .post(endpoint)
            .header("Content-Type", "application/json")
            .body(event(ns, warm))
            .send()
            .await;
        // Poll for the warm-up delivery; the interval only paces retries.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    arrivals.lock().unwrap().clear();
}

/// The Provider `sink` posting to `url` and an Alert sending it every
/// Kustomization event.
async fn objects(client: &Client, ns: &str, url: &str) {
    create(
        client,
        ns,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "sink", "namespace": ns},
               "spec": {"type": "generic", "address": url}}),
    )
    .await;
    create(
        client,
        ns,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
               "metadata": {"name": "all", "namespace": ns},
               "spec": {"providerRef": {"name": "sink"},
                        "eventSources": [{"kind": "Kustomization", "name": "*"}]}}),
    )
    .await;
}

#[tokio::main]
async fn main() {
    let rate = env_or("BENCH_NOTIFY_RATE", 500).max(1);
    let seconds = env_or("BENCH_NOTIFY_SECONDS", 60).max(1);
    let total = rate * seconds;
    let (client, ns) = ferroflux_testenv::setup("bench-notify", &ferroflux_api::all_crds()).await;
    let arrivals: Arrivals = Arrivals::default();
    let url = sink(arrivals.clone()).await;
    objects(&client, &ns, &url).await;
    let port = free_port();
    let cp = ferroflux_testenv::shared().unwrap();
    let controller = ControllerProcess::start(
        &release_binary("ferroflux-notification-controller"),
        cp.kubeconfig(),
        &ns,
        "notification-controller-0",
        &[
            format!("--events-addr=127.0.0.1:{port}"),
            format!("--receiver-addr=127.0.0.1:{}", free_port()),
        ],
    );
    let http = ferroflux_tls::http_client();
    let endpoint = format!("http://127.0.0.1:{port}/");
    warm_up(&http, &endpoint, &ns, &arrivals, &controller).await;

    eprintln!("==> {total} events at {rate}/s");
    let refused = Arc::new(AtomicU64::new(0));
    let mut sent = Vec::with_capacity(usize::try_from(total).unwrap());
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate).unwrap());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = Vec::with_capacity(sent.capacity());
    for n in 0..total {
        ticker.tick().await;
        sent.push(Instant::now());
        let (http, endpoint, body, refused) = (
            http.clone(),
            endpoint.clone(),
            event(&ns, n),
            refused.clone(),
        );
        posts.push(tokio::spawn(async move {
            let accepted = http
                .post(&endpoint)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status() == 202);
            if !accepted {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let sending = sent.last().unwrap().duration_since(sent[0]);
    for post in posts {
        post.await.unwrap();
    }
    // Deliveries still in flight get 30 s to land.
    let deadline = Instant::now() + Duration::from_secs(30);
    while (arrivals.lock().unwrap().len() as u64) < total && Instant::now() < deadline {
        // Polling the sink's count until the deadline.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss = peak_rss_mib(controller.pid());
    let arrived = arrivals.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .map(|(n, at)| at.duration_since(sent[usize::try_from(*n).unwrap()]))
        .collect();
    latencies.sort();
    let lost = total - arrived.len() as u64;
    let refused = refused.load(Ordering::Relaxed);
    println!(
        "## notification-controller: event throughput and latency (`make bench-notify`)\n\n\
         Command: `make bench-notify` (release build; the example `bench_notify` starts the test\n\
         control plane, a local sink, one generic Provider and one Alert). Events for 100\n\
         Kustomizations, each message distinct so the rate limit passes them all.\n\n\
         | events | rate | sent over | refused at the endpoint | lost | p50 | p99 | max | peak RSS |\n\
         |---|---|---|---|---|---|---|---|---|\n\
         | {total} | {rate}/s | {:.1} s | {refused} | {lost} | {} | {} | {} | {rss:.1} MiB |",
        sending.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}
