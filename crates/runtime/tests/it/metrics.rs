//! Metrics with Flux's names over real HTTP, and the health endpoints.

use kube::api::{Patch, PatchParams};

use crate::controller::{harness_with, ready, wait_for};

async fn get(url: &str) -> (u16, String) {
    let response = ferroflux_tls::http_client().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciles_show_up_in_metrics_with_fluxs_names_and_labels() {
    let h = harness_with("metrics", None).await;
    let ns = h.api.namespace().unwrap().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let readiness = ferroflux_runtime::metrics::Readiness::default();
    let router = ferroflux_runtime::metrics::metrics_router(h.metrics.clone())
        .merge(ferroflux_runtime::metrics::health_router(readiness.clone()));
    tokio::spawn(ferroflux_runtime::metrics::serve(
        listener,
        router,
        std::future::pending(),
    ));

    h.create("app", "https://git.example.com/app.git", false)
        .await;
    wait_for(&h.api, "app", "Ready=True", ready).await;

    let (status, text) = get(&format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200);
    let object = format!("kind=\"GitRepository\",name=\"app\",namespace=\"{ns}\"");
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(
        has(&format!(
            "gotk_reconcile_duration_seconds_count{{{object}}} 1"
        )),
        "{text}"
    );
    assert!(
        has(&format!(
            "gotk_reconcile_condition{{{object},type=\"Ready\",status=\"True\"}} 1"
        )),
        "{text}"
    );
    assert!(
        has(&format!(
            "gotk_reconcile_condition{{{object},type=\"Ready\",status=\"False\"}} 0"
        )),
        "{text}"
    );
    assert!(has(&format!("gotk_suspend_status{{{object}}} 0")), "{text}");
    assert!(
        has("controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"success\"}"),
        "{text}"
    );
    // The only triggered object has been picked up.
    assert!(has("workqueue_depth{name=\"gitrepository\"} 0"), "{text}");

    let suspend = serde_json::json!({"spec": {"suspend": true}});
    h.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&suspend))
        .await
        .unwrap();
    let suspended = format!("gotk_suspend_status{{{object}}} 1");
    let metrics = &h.metrics;
    ferroflux_testenv::eventually(
        "suspension shows in the metrics",
        std::time::Duration::from_secs(20),
        || async { metrics.encode().contains(&suspended).then_some(()) },
    )
    .await;

    assert_eq!(
        get(&format!("http://{addr}/healthz")).await,
        (200, "ok".to_owned())
    );
    // Issue 15, defect 8: a standby answered ready, so a Service sent it
    // artifact traffic it could not serve. Ready only once set (on leading).
    assert_eq!(
        get(&format!("http://{addr}/readyz")).await,
        (503, "waiting for leadership".to_owned())
    );
    readiness.set();
    assert_eq!(
        get(&format!("http://{addr}/readyz")).await,
        (200, "ok".to_owned())
    );
}
