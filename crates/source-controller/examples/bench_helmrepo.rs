//! `make bench-helmrepo`: a HelmRepository with a generated index of 20,000
//! chart versions (200 charts × 100 versions, about the size of the largest
//! public indexes) and 50 HelmCharts resolving from it, against the
//! source-controller binary (release build) on a real control plane and
//! the test chart repository.
//!
//! Measures the time until everything is Ready, the controller's peak RSS,
//! and the HTTP requests an unchanged refetch of the index costs. Prints a
//! Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ferroflux_api::source::{HelmChart, HelmRepository};
use ferroflux_testenv::bench::{peak_rss_mib, release_binary};
use ferroflux_testenv::chartrepo::{ChartRepo, Options};
use ferroflux_testenv::controller::SourceController;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};

const CHARTS: usize = 200;
const VERSIONS: usize = 100;
const HELM_CHARTS: usize = 50;

/// Writes the index: every chart with `VERSIONS` versions, each entry
/// shaped like a public repository's (description, maintainers, keywords,
/// sources, annotations); the newest version of the first `HELM_CHARTS`
/// charts points at a real package with its digest.
fn generate_index(repo: &ChartRepo) -> usize {
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for c in 0..CHARTS {
        let name = format!("chart-{c}");
        let _ = writeln!(index, "  {name}:");
        for v in (0..VERSIONS).rev() {
            let version = format!("0.{v}.0");
            let (url, digest) = if c < HELM_CHARTS && v == VERSIONS - 1 {
                let path = repo
                    .add_chart(&name, &version, &format!("index: {c}\n"), &[])
                    .unwrap();
                let bytes = std::fs::read(path).unwrap();
                let digest = ferroflux_artifact::digest::of(&bytes);
                (
                    format!("{name}-{version}.tgz"),
                    digest.trim_start_matches("sha256:").to_owned(),
                )
            } else {
                (
                    format!("https://charts.example.com/{name}/{name}-{version}.tgz"),
                    format!("{:064x}", c * VERSIONS + v),
                )
            };
            let _ = write!(
                index,
                "  - apiVersion: v2\n    appVersion: {v}.0.0\n    created: \"2024-05-0{}T10:00:00.000000000Z\"\n    \
                 description: A generated chart {name} with a description about as long as real ones are\n    \
                 digest: {digest}\n    home: https://example.com/{name}\n    \
                 icon: https://example.com/{name}/icon.png\n    keywords:\n    - generated\n    - benchmark\n    \
                 maintainers:\n    - email: maintainer@example.com\n      name: Maintainer\n    name: {name}\n    \
                 sources:\n    - https://github.com/example/{name}\n    \
                 annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: version {version}\n    \
                 type: application\n    urls:\n    - {url}\n    version: {version}\n",
                1 + v % 9
            );
        }
    }
    index.push_str("generated: \"2024-05-01T10:00:00Z\"\n");
    repo.write("index.yaml", index.as_bytes()).unwrap();
    index.len()
}

fn is_ready(conditions: &[ferroflux_api::meta::Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Polls `check` every `every` until it holds; fails after five minutes.
async fn poll<F, Fut>(what: &str, every: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(300);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "gave up after 5 min waiting until {what}"
        );
        // Sampling interval of a loop bounded by the deadline above.
        tokio::time::sleep(every).await;
    }
}

/// The HelmRepository `big` at `url` and the HelmCharts resolving from it.
async fn create_objects(repos: &Api<HelmRepository>, charts: &Api<HelmChart>, url: &str) {
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "big"},
                "spec": {"url": url, "interval": "1h"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    for i in 0..HELM_CHARTS {
        charts
            .create(
                &PostParams::default(),
                &serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("chart-{i}")},
                    "spec": {
                        "chart": format!("chart-{i}"),
                        "version": "<1.0.0",
                        "interval": "1h",
                        "sourceRef": {"kind": "HelmRepository", "name": "big"},
                    },
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let repo = ChartRepo::start(Options::default()).await.unwrap();
    let index_size = generate_index(&repo);
    let cp = ferroflux_testenv::ControlPlane::start().unwrap();
    let client = cp.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let ns = ferroflux_testenv::namespace(&client, "bench-helm")
        .await
        .unwrap();
    let controller = SourceController::start(
        &release_binary("ferroflux-source-controller"),
        cp.kubeconfig(),
        &ns,
        &["--log-level=error".to_owned(), "--concurrent=4".to_owned()],
    );
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), &ns);
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);

    let start = Instant::now();
    create_objects(&repos, &charts, &repo.url()).await;
    poll(
        "the HelmRepository and every HelmChart are Ready",
        Duration::from_millis(100),
        || async {
            let repo_ready = repos
                .get("big")
                .await
                .unwrap()
                .status
                .is_some_and(|s| is_ready(&s.conditions));
            let list = charts.list(&ListParams::default()).await.unwrap();
            let ready = list.items.iter().filter(|c| {
                c.status.as_ref().is_some_and(|s| {
                    is_ready(&s.conditions)
                        && s.artifact
                            .as_ref()
                            .is_some_and(|a| a.revision == format!("0.{}.0", VERSIONS - 1))
                })
            });
            repo_ready && ready.count() == HELM_CHARTS
        },
    )
    .await;
    let all_ready = start.elapsed();

    let before = repo.requests().len();
    let artifact = repos.get("big").await.unwrap().status.unwrap().artifact;
    let refetch = Instant::now();
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "unchanged"}}});
    repos
        .patch("big", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    poll(
        "the unchanged refetch is handled",
        Duration::from_millis(20),
        || async {
            repos.get("big").await.unwrap().status.is_some_and(|s| {
                s.reconcile_request.last_handled_reconcile_at.as_deref() == Some("unchanged")
            })
        },
    )
    .await;
    let refetch_time = refetch.elapsed();
    let requests = repo.requests().len() - before;
    let unchanged = repos.get("big").await.unwrap().status.unwrap().artifact == artifact;
    let rss = peak_rss_mib(controller.process.pid());
    println!(
        "Index: {} charts × {} versions = {} chart versions, {:.1} MiB of YAML, served over HTTP on loopback; {HELM_CHARTS} HelmCharts with `version: <1.0.0`.\n\n\
         | measure | ferroflux | goal |\n|---|---|---|\n\
         | HelmRepository and {HELM_CHARTS} HelmCharts created → all Ready | {:.1} s | |\n\
         | source-controller peak RSS (VmHWM) over the whole run | {rss:.1} MiB | < 64 MiB |\n\
         | HTTP requests for an unchanged refetch (artifact unchanged: {unchanged}) | {requests} | 1 |\n\
         | unchanged refetch, `requestedAt` → handled | {:.0} ms | |\n",
        CHARTS,
        VERSIONS,
        CHARTS * VERSIONS,
        f64::from(u32::try_from(index_size).unwrap_or(u32::MAX)) / 1_048_576.0,
        all_ready.as_secs_f64(),
        refetch_time.as_secs_f64() * 1000.0,
    );
}
