//! `make bench-source`: the source-controller measured side by side with the
//! reference tools, in one run, on this machine.
//!
//! 1. Clone-and-package: our shallow clone plus deterministic archive against
//!    `git clone --depth 1` plus `tar czf`, same repository, same local server.
//! 2. Commit to artifact: from a push to the new revision in the
//!    GitRepository's status, with `requestedAt` (the controller binary, real
//!    control plane).
//! 3. Peak RSS of the controller binary while 100 GitRepositories reconcile.
//!
//! Prints a Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ferroflux_api::source::GitRepository;
use ferroflux_artifact::storage::{ObjectKey, Retention, Storage};
use ferroflux_source_controller::git::{self, Checkout, Credentials};
use ferroflux_source_controller::sourceignore::SourceIgnore;
use ferroflux_testenv::git::GitServer;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};

const ROUNDS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A repository shaped like a real config repo: 60 apps × 3 overlays × 10 manifests.
fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for app in 0..60 {
        for overlay in ["base", "staging", "production"] {
            for n in 0..10 {
                let body = format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{app}-{n}\n  labels:\n    tier: {overlay}\nspec:\n  replicas: {n}\n  template:\n    spec:\n      containers:\n      - name: c\n        image: registry.example.com/app-{app}:1.{n}.0\n        args: [{}]\n",
                    (0..40)
                        .map(|i| format!("\"--flag-{i}={app}{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                out.push((format!("apps/app-{app}/{overlay}/manifest-{n}.yaml"), body));
            }
        }
    }
    out
}

fn run(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{cmd:?} failed");
}

fn dir_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

async fn clone_and_package(server: &GitServer) -> String {
    let url = server.url("bench");
    let mut ours = Vec::new();
    let mut reference = Vec::new();
    let mut sizes = (0, 0);
    for _ in 0..ROUNDS {
        let work = tempfile::tempdir().unwrap();
        let storage = Storage::new(
            work.path().join("storage"),
            "127.0.0.1:1",
            Retention::default(),
        )
        .unwrap();
        let (u, dest) = (url.clone(), work.path().join("checkout"));
        let start = Instant::now();
        let artifact = tokio::task::spawn_blocking(move || {
            let sha = git::clone(
                &u,
                &dest,
                &Checkout::Branch("main".into()),
                &Credentials::default(),
                &AtomicBool::new(false),
            )
            .unwrap();
            let ignore = SourceIgnore::load(&dest, None).unwrap();
            storage
                .archive(
                    &ObjectKey::new("GitRepository", "bench", "bench"),
                    &dest,
                    &ignore,
                    &format!("{sha}.tar.gz"),
                    &sha,
                )
                .unwrap()
        })
        .await
        .unwrap();
        ours.push(start.elapsed());
        sizes.0 = u64::try_from(artifact.size.unwrap()).unwrap();

        let work = tempfile::tempdir().unwrap();
        let start = Instant::now();
        run(Command::new("git")
            .args(["clone", "--quiet", "--depth", "1", &url])
            .arg(work.path().join("c")));
        run(Command::new("tar")
            .args(["czf"])
            .arg(work.path().join("a.tar.gz"))
            .args(["--exclude=.git", "-C"])
            .arg(work.path().join("c"))
            .arg("."));
        reference.push(start.elapsed());
        sizes.1 = dir_size(&work.path().join("a.tar.gz"));
    }
    let (o, r) = (median(ours), median(reference));
    format!(
        "| clone + package (median of {ROUNDS}) | {} | {} | {:.2}× | artifact {} KiB vs {} KiB |\n",
        ms(o),
        ms(r),
        r.as_secs_f64() / o.as_secs_f64(),
        sizes.0 / 1024,
        sizes.1 / 1024
    )
}

/// Polls `check` every `every` until it holds; fails the benchmark after two
/// minutes naming `what`.
async fn poll<F, Fut>(what: &str, every: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "gave up after 2 min waiting until {what}"
        );
        // Sampling interval of a loop bounded by the deadline above.
        tokio::time::sleep(every).await;
    }
}

fn controller_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    let bin = profile.join("ferroflux-source-controller");
    assert!(
        bin.is_file(),
        "build the controller first: {}",
        bin.display()
    );
    bin
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn repo(name: &str, url: &str) -> GitRepository {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": {"url": url, "interval": "1h", "ref": {"branch": "main"}}
    }))
    .unwrap()
}

fn ready_at(obj: &GitRepository, revision: &str) -> bool {
    obj.status.as_ref().is_some_and(|s| {
        s.artifact.as_ref().is_some_and(|a| a.revision == revision)
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

async fn controller_rounds(server: &GitServer) -> String {
    let cp = ferroflux_testenv::ControlPlane::start().unwrap();
    let client = cp.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let ns = ferroflux_testenv::namespace(&client, "bench")
        .await
        .unwrap();
    let storage = tempfile::tempdir().unwrap();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (p1, p2, p3) = (free(), free(), free());
    let mut child = Command::new(controller_binary())
        .args([
            "--watch-all-namespaces=false",
            "--log-level=error",
            "--concurrent=4",
        ])
        .arg(format!("--storage-path={}", storage.path().display()))
        .arg(format!("--storage-addr=127.0.0.1:{p1}"))
        .arg(format!("--storage-adv-addr=127.0.0.1:{p1}"))
        .arg(format!("--metrics-addr=127.0.0.1:{p2}"))
        .arg(format!("--health-addr=127.0.0.1:{p3}"))
        .env("KUBECONFIG", cp.kubeconfig())
        .env("RUNTIME_NAMESPACE", &ns)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api: Api<GitRepository> = Api::namespaced(client, &ns);

    let latency = commit_to_artifact(&api, server).await;
    let all_ready = hundred_at_once(&api, server).await;
    let rss = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    format!(
        "| commit → new artifact in status, with requestedAt (median of 10) | {} | | | goal < 1 s |\n\
         | 100 GitRepositories created at once → all Ready | {} | | | |\n\
         | source-controller peak RSS (VmHWM) over the whole run | {:.1} MiB | | | goal < 40 MiB |\n",
        ms(latency),
        ms(all_ready),
        f64::from(u32::try_from(rss).unwrap_or(u32::MAX)) / 1024.0
    )
}

/// Median time from a push to the new revision in status, with `requestedAt`.
async fn commit_to_artifact(api: &Api<GitRepository>, server: &GitServer) -> Duration {
    let work = server
        .create_repo("latency", "main", &[("a.yaml", "a: 0\n")])
        .unwrap();
    api.create(
        &PostParams::default(),
        &repo("latency", &server.url("latency")),
    )
    .await
    .unwrap();
    let first = format!("main@sha1:{}", work.head().unwrap());
    poll(
        "the first revision is Ready",
        Duration::from_millis(20),
        || async { ready_at(&api.get("latency").await.unwrap(), &first) },
    )
    .await;
    let mut latencies = Vec::new();
    for round in 1..=10 {
        let start = Instant::now();
        let sha = work
            .commit(&[("a.yaml", &format!("a: {round}\n"))], "bump")
            .unwrap();
        let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": format!("r{round}")}}});
        api.patch("latency", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        let want = format!("main@sha1:{sha}");
        poll(
            "the new revision is Ready",
            Duration::from_millis(5),
            || async { ready_at(&api.get("latency").await.unwrap(), &want) },
        )
        .await;
        latencies.push(start.elapsed());
    }
    median(latencies)
}

/// Time until 100 GitRepositories, each with its own repository, are Ready.
async fn hundred_at_once(api: &Api<GitRepository>, server: &GitServer) -> Duration {
    let mut urls = Vec::new();
    for i in 0..100 {
        let name = format!("r{i}");
        server
            .create_repo(
                &name,
                "main",
                &[("deploy/app.yaml", &format!("name: app-{i}\n"))],
            )
            .unwrap();
        urls.push((name.clone(), server.url(&name)));
    }
    let start = Instant::now();
    for (name, url) in &urls {
        api.create(&PostParams::default(), &repo(name, url))
            .await
            .unwrap();
    }
    poll(
        "all 101 GitRepositories are Ready",
        Duration::from_millis(50),
        || async {
            let list = api.list(&ListParams::default()).await.unwrap();
            let ready = list.items.iter().filter(|o| {
                o.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            });
            ready.count() >= 101
        },
    )
    .await;
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let server = GitServer::start(None).await.unwrap();
    let files = files();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let work = server.create_repo("bench", "main", &refs).unwrap();
    for i in 0..5 {
        work.commit(
            &[(
                "apps/app-0/base/manifest-0.yaml",
                &format!("history: {i}\n"),
            )],
            "history",
        )
        .unwrap();
    }
    let mut report = format!(
        "Repository: {} files, {} KiB of YAML, 6 commits, served by `git http-backend` on loopback.\n\n\
         | measure | ferroflux | reference | ratio (reference / ours) | note |\n|---|---|---|---|---|\n",
        files.len(),
        files.iter().map(|(_, c)| c.len()).sum::<usize>() / 1024
    );
    report.push_str(&clone_and_package(&server).await);
    report.push_str(&controller_rounds(&server).await);
    println!("{report}");
}
