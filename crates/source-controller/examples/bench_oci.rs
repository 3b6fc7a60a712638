//! `make bench-oci`: N OCIRepositories (100, 500 and 1000 by default;
//! `BENCH_OCI_SIZES=100,500` to choose) created at once against a local
//! `docker-registry`, each following its own tag of a Flux artifact (a
//! small Kubernetes app, pushed as `flux push artifact` does, so every
//! object pulls and stores a layer of its own); measured is the time until
//! all are Ready and the source-controller's peak RSS.
//!
//! The source-controller runs as a release binary against a fresh control
//! plane (etcd, kube-apiserver, kube-controller-manager) on the same two
//! cores as the registry. Prints a Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use ferroflux_api::source::OCIRepository;
use ferroflux_oci::artifact::{Metadata, pack, push};
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};
use ferroflux_testenv::bench::{peak_rss_mib, release_binary};
use ferroflux_testenv::controller::SourceController;
use ferroflux_testenv::registry::{Registry as TestRegistry, RegistryOptions as TestOptions};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};

/// Reconciles at once (`--concurrent`), and objects created at once.
const CONCURRENCY: usize = 20;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 0
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.7.0
";

/// Pushes one artifact per tag `v<i>` (`0..n`) to `<registry>/podinfo`;
/// returns how long it took.
async fn push_all(registry: &TestRegistry, n: usize) -> Duration {
    let client = Registry::new(RegistryOptions {
        insecure: true,
        ..RegistryOptions::default()
    })
    .unwrap();
    let url = OciUrl::parse(&registry.url("podinfo"), false).unwrap();
    let start = Instant::now();
    // One push at a time: every artifact shares the config blob (`{}`), and
    // distribution answers 500 or refuses the manifest when uploads of one
    // blob race. Pushing is set-up, not measured.
    for i in 0..n {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deployment.yaml"), DEPLOYMENT).unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\n"),
        )
        .unwrap();
        let metadata = Metadata {
            source: "https://github.com/stefanprodan/podinfo".into(),
            revision: format!("v{i}@sha1:0000000"),
            ..Metadata::default()
        };
        let content = pack(dir.path()).unwrap();
        push(&client, &url, &format!("v{i}"), content, &metadata)
            .await
            .unwrap();
    }
    start.elapsed()
}

/// Waits (sampling every 250 ms, giving up after 15 minutes) until every
/// OCIRepository in `ns` is Ready.
async fn all_ready(client: &Client, ns: &str, n: usize) {
    let api = Api::<OCIRepository>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|o| {
                o.status.as_ref().is_some_and(|s| {
                    s.artifact.is_some()
                        && s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        if ready == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {ready} of {n} Ready after 15 min"
        );
        // Sampling interval of a loop bounded by the deadline above: 250 ms
        // so listing 1000 objects loads the API server less.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One size: returns the report row.
async fn round(
    client: &Client,
    kubeconfig: &std::path::Path,
    registry: &TestRegistry,
    n: usize,
) -> String {
    use futures_util::{StreamExt as _, stream};
    let ns = ferroflux_testenv::namespace(client, &format!("bench-oci-{n}"))
        .await
        .unwrap();
    let source = SourceController::start(
        &release_binary("ferroflux-source-controller"),
        kubeconfig,
        &ns,
        &[
            format!("--concurrent={CONCURRENCY}"),
            "--log-level=info".into(),
        ],
    );
    let api = Api::<OCIRepository>::namespaced(client.clone(), &ns);
    let url = registry.url("podinfo");
    let start = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let (api, ns, url) = (api.clone(), ns.clone(), url.clone());
            async move {
                let obj: OCIRepository = serde_json::from_value(serde_json::json!({
                    "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                    "metadata": {"name": format!("app-{i}"), "namespace": ns},
                    "spec": {"interval": "1h", "url": url, "insecure": true,
                             "ref": {"tag": format!("v{i}")}}
                }))
                .unwrap();
                api.create(&PostParams::default(), &obj).await.unwrap();
            }
        })
        .await;
    all_ready(client, &ns, n).await;
    let elapsed = start.elapsed();
    let rss = peak_rss_mib(source.process.pid());
    drop(source);
    format!("| {n} | {:.1} s | {rss:.1} MiB |\n", elapsed.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_OCI_SIZES")
        .unwrap_or_else(|_| "100,500,1000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let cp = ferroflux_testenv::ControlPlane::start().unwrap();
    let client = cp.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let registry = TestRegistry::start(TestOptions::default()).unwrap();
    let pushed = push_all(&registry, max).await;
    eprintln!(
        "==> pushed {max} artifacts in {:.1} s",
        pushed.as_secs_f64()
    );
    let mut rows = String::new();
    for n in sizes {
        eprintln!("==> {n} OCIRepositories");
        let row = round(&client, cp.kubeconfig(), &registry, n).await;
        eprint!("{row}");
        rows.push_str(&row);
    }
    println!(
        "## source-controller: OCIRepositories (`make bench-oci`)\n\n\
         Command: `make bench-oci` (release build of the source-controller and the example\n\
         `bench_oci`; it starts its own control plane and `docker-registry`). Each OCIRepository\n\
         follows its own tag of a Flux artifact pushed as `flux push artifact` does (so each pulls\n\
         and stores a layer of its own); all are created at once; the source-controller runs with\n\
         `--concurrent={CONCURRENCY}`. Time is from the first create until all are Ready.\n\n\
         | OCIRepositories | all Ready | source-controller peak RSS |\n\
         |---|---|---|\n{rows}"
    );
}
