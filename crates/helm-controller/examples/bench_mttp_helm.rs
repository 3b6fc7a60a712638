//! `make bench-mttp-helm`: the shape of Flux's "mean time to production"
//! benchmark for HelmReleases on this machine (issue 19). N HelmReleases
//! (100, 500 and 1000 by default; `BENCH_MTTP_HELM_SIZES=100,500` to choose)
//! of one small chart (a Deployment with replicas 0, a Service, a
//! ServiceAccount and an Ingress) are created at once, each with `spec.chart`
//! pointing at `./charts/podinfo` in one GitRepository, as most Flux users
//! write it: the helm-controller creates one HelmChart per HelmRelease, the
//! source-controller packages each, then the helm-controller installs each
//! release. Measured is the time until all are Ready, the peak RSS of both
//! controllers, and the floor: the same rendered objects server-side applied
//! by a bare client with the same parallelism.
//!
//! All releases share one namespace; the chart names its objects after
//! `.Release.Name` (`app-<i>-podinfo`), as charts do, so they do not collide.
//! Both controllers run as release binaries against a fresh control plane
//! (etcd, kube-apiserver, kube-controller-manager) on the same two cores.
//! Progress (Ready counts, RSS) goes to stderr every 5 s, and each round's
//! reconcile counts from the controllers' `/metrics`; with
//! `BENCH_MTTP_HELM_LOGS=<dir>` the controllers' logs are kept there. Prints a
//! Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferroflux_api::helm::HelmRelease;
use ferroflux_api::meta::Condition;
use ferroflux_api::source::{GitRepository, HelmChart};
use ferroflux_helm::action::{Notices, RenderOptions};
use ferroflux_helm::chart::File;
use ferroflux_helm::engine::Release;
use ferroflux_testenv::bench::{peak_rss_mib, release_binary, rss_kib};
use ferroflux_testenv::controller::{ControllerProcess, SourceController};
use ferroflux_testenv::git::GitServer;
use futures_util::{StreamExt as _, stream};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Reconciles at once, as in Flux's published run; both controllers get it.
const CONCURRENCY: usize = 20;

/// Where the chart lives in the git repository (`spec.chart.spec.chart`).
const CHART_DIR: &str = "charts/podinfo";

const CHART_YAML: &str = "apiVersion: v2
name: podinfo
description: A small web application (the benchmark's chart)
type: application
version: 6.7.0
appVersion: 6.7.0
";
const VALUES: &str = "replicaCount: 0
image:
  repository: ghcr.io/stefanprodan/podinfo
  tag: 6.7.0
service:
  port: 9898
ingress:
  host: podinfo.example.com
";
const HELPERS: &str = r#"{{- define "podinfo.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "podinfo.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "podinfo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "podinfo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
"#;
const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "podinfo.fullname" . }}
  labels:
    {{- include "podinfo.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "podinfo.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "podinfo.selectorLabels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "podinfo.fullname" . }}
      containers:
      - name: podinfo
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        ports:
        - name: http
          containerPort: {{ .Values.service.port }}
          protocol: TCP
"#;
const SERVICE_ACCOUNT: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "podinfo.fullname" . }}
  labels:
    {{- include "podinfo.labels" . | nindent 4 }}
"#;
const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ include "podinfo.fullname" . }}
  labels:
    {{- include "podinfo.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "podinfo.selectorLabels" . | nindent 4 }}
  ports:
  - name: http
    port: {{ .Values.service.port }}
    targetPort: http
    protocol: TCP
"#;
const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "podinfo.fullname" . }}
  labels:
    {{- include "podinfo.labels" . | nindent 4 }}
spec:
  rules:
  - host: {{ .Values.ingress.host }}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {{ include "podinfo.fullname" . }}
            port:
              number: {{ .Values.service.port }}
"#;

/// The chart's files, paths relative to the chart directory.
const CHART: [(&str, &str); 7] = [
    ("Chart.yaml", CHART_YAML),
    ("values.yaml", VALUES),
    ("templates/_helpers.tpl", HELPERS),
    ("templates/deployment.yaml", DEPLOYMENT),
    ("templates/serviceaccount.yaml", SERVICE_ACCOUNT),
    ("templates/service.yaml", SERVICE),
    ("templates/ingress.yaml", INGRESS),
];

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn is_ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Waits (sampling every 250 ms, giving up after 15 minutes) until every
/// HelmRelease in `ns` is Ready, keeping the latest count in `ready`.
async fn all_ready(client: &Client, ns: &str, n: usize, ready: &AtomicUsize) {
    let api = Api::<HelmRelease>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let count = list
            .items
            .iter()
            .filter(|hr| hr.status.as_ref().is_some_and(|s| is_ready(&s.conditions)))
            .count();
        ready.store(count, Ordering::Relaxed);
        if count == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of {n} Ready after 15 min"
        );
        // Sampling interval of a loop bounded by the deadline above: 250 ms,
        // as bench-mttp samples, so listing 1000 objects loads the API server little.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every 5 s until dropped: elapsed time, HelmCharts with an artifact,
/// HelmReleases Ready, and both controllers' RSS now, on stderr; shows which
/// side is the bottleneck at each moment of a round.
fn progress(
    client: Client,
    ns: String,
    start: Instant,
    ready: Arc<AtomicUsize>,
    pids: (u32, u32),
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let charts = Api::<HelmChart>::namespaced(client, &ns);
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let with_artifact = charts
                .list(&ListParams::default())
                .await
                .map(|l| {
                    l.items
                        .iter()
                        .filter(|c| c.status.as_ref().is_some_and(|s| s.artifact.is_some()))
                        .count()
                })
                .unwrap_or_default();
            let mib = |pid| rss_kib(pid).unwrap_or_default() / 1024;
            eprintln!(
                "  {:>6.1} s: HelmCharts with artifact {with_artifact:>4}, HelmReleases Ready {:>4}, RSS helm-controller {:>3} MiB, source-controller {:>3} MiB",
                start.elapsed().as_secs_f64(),
                ready.load(Ordering::Relaxed),
                mib(pids.0),
                mib(pids.1),
            );
        }
    })
}

/// The lines of a controller's `/metrics` that say how many reconciles ran
/// and how long they took in total, summed over objects: the reconcile
/// counter by result, and `gotk_reconcile_duration_seconds` sum and count.
async fn reconcile_summary(port: u16) -> String {
    let Ok(mut conn) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return "metrics unreachable".into();
    };
    let _ = conn
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let mut body = String::new();
    let _ = conn.read_to_string(&mut body).await;
    let (mut sum, mut count) = (0.0_f64, 0.0_f64);
    let mut results = Vec::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or_default();
        if name.starts_with("gotk_reconcile_duration_seconds_sum") {
            sum += value;
        } else if name.starts_with("gotk_reconcile_duration_seconds_count") {
            count += value;
        } else if name.starts_with("controller_runtime_reconcile_total") {
            let result = name
                .split("result=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?");
            results.push(format!("{result} {value}"));
        }
    }
    format!(
        "{count} reconciles ({}), {sum:.1} s in reconciles, {:.0} ms each on average",
        results.join(", "),
        if count > 0.0 {
            sum / count * 1000.0
        } else {
            0.0
        }
    )
}

/// CPU seconds (user and system) used so far by this process (`bench`, the
/// client and the git server's bridge) and by each of its direct children (the
/// control plane, the controllers), summed by command name.
fn cpu_seconds() -> BTreeMap<String, f64> {
    // `/proc/<pid>/stat` counts in clock ticks: USER_HZ, 100 on Linux.
    const TICKS: f64 = 100.0;
    let me = std::process::id();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some((head, rest)), Ok(pid)) = (
            stat.rsplit_once(") "),
            entry.file_name().to_string_lossy().parse::<u32>(),
        ) else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let comm = head.split_once('(').map_or("?", |(_, c)| c);
        let name = if pid == me {
            "bench"
        } else if field(1) == Some(f64::from(me)) {
            comm
        } else {
            continue;
        };
        *out.entry(name.to_owned()).or_default() +=
            (field(11).unwrap_or_default() + field(12).unwrap_or_default()) / TICKS;
    }
    out
}

/// The CPU each process used between two [`cpu_seconds`] readings, largest first.
fn cpu_used(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    let mut used: Vec<(f64, &str)> = after
        .iter()
        .map(|(name, t)| {
            (
                t - before.get(name).copied().unwrap_or_default(),
                name.as_str(),
            )
        })
        .filter(|(t, _)| *t >= 0.05)
        .collect();
    used.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = used.iter().map(|(t, _)| t).sum();
    let parts: Vec<String> = used
        .iter()
        .map(|(t, name)| format!("{name} {t:.1} s"))
        .collect();
    format!("{total:.1} CPU-s: {}", parts.join(", "))
}

/// Requests the API server has served, by verb and resource: count, seconds
/// spent (summed over requests, so concurrent ones overlap) and bytes
/// returned; from its own `/metrics`.
async fn apiserver_requests(client: &Client) -> BTreeMap<String, [f64; 3]> {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(request).await.unwrap_or_default();
    let mut out: BTreeMap<String, [f64; 3]> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((metric, labels)) = series.split_once('{') else {
            continue;
        };
        let slot = match metric {
            "apiserver_request_total" => 0,
            "apiserver_request_duration_seconds_sum" => 1,
            "apiserver_response_sizes_sum" => 2,
            _ => continue,
        };
        let label = |key: &str| {
            labels
                .split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
        };
        let mut key = format!("{} {}", label("verb"), label("resource"));
        if !label("subresource").is_empty() {
            key = format!("{key}/{}", label("subresource"));
        }
        if !label("dry_run").is_empty() {
            key.push_str(" (dry run)");
        }
        out.entry(key).or_default()[slot] += value.parse::<f64>().unwrap_or_default();
    }
    out
}

/// The requests served between two [`apiserver_requests`] readings (watches
/// left out), the most time-consuming first (at most 16), one per line.
fn requests_served(
    before: &BTreeMap<String, [f64; 3]>,
    after: &BTreeMap<String, [f64; 3]>,
) -> String {
    let mut rows: Vec<(String, [f64; 3])> = after
        .iter()
        .map(|(key, now)| {
            let was = before.get(key).copied().unwrap_or_default();
            (key.clone(), [0, 1, 2].map(|i| now[i] - was[i]))
        })
        // A watch is open for as long as it lasts: its time says nothing about load.
        .filter(|(key, d)| d[0] > 0.0 && !key.starts_with("WATCH"))
        .collect();
    rows.sort_by(|a, b| b.1[1].total_cmp(&a.1[1]));
    let total: f64 = rows.iter().map(|(_, d)| d[0]).sum();
    let mut out = format!("{total} API requests; by time spent serving them:");
    for (key, [count, secs, bytes]) in rows.iter().take(16) {
        let _ = write!(
            out,
            "\n    {key:<40} {count:>7} requests {secs:>8.1} s {:>8.1} MiB",
            bytes / 1_048_576.0
        );
    }
    out
}

/// The spread of `status.lastAttemptedReleaseActionDuration` (the install)
/// over the HelmReleases of `ns`: median, 90th percentile and maximum.
async fn install_durations(client: &Client, ns: &str) -> String {
    let list = Api::<HelmRelease>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut secs: Vec<f64> = list
        .items
        .iter()
        .filter_map(|hr| {
            hr.status
                .as_ref()?
                .last_attempted_release_action_duration
                .clone()
        })
        .filter_map(|d| d.trim_end_matches('s').parse().ok())
        .collect();
    secs.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // Rounded index into a sorted list: a percentile, no interpolation.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index below a few thousand"
        )]
        let i = ((secs.len().saturating_sub(1)) as f64 * q).round() as usize;
        secs.get(i).copied().unwrap_or_default()
    };
    format!(
        "install (Helm action) median {:.2} s, p90 {:.2} s, max {:.2} s over {}",
        at(0.5),
        at(0.9),
        at(1.0),
        secs.len()
    )
}

/// Copies a controller's log to `$BENCH_MTTP_HELM_LOGS/<n>-<name>.log` when that is set.
fn keep_log(n: usize, name: &str, log: &str) {
    if let Ok(dir) = std::env::var("BENCH_MTTP_HELM_LOGS") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{n}-{name}.log")), log).unwrap();
    }
}

/// One size: returns the report row.
async fn round(client: &Client, kubeconfig: &Path, url: &str, n: usize) -> String {
    let ns = ferroflux_testenv::namespace(client, &format!("mttp-helm-{n}"))
        .await
        .unwrap();
    let concurrent = format!("--concurrent={CONCURRENCY}");
    let source = SourceController::start(
        &release_binary("ferroflux-source-controller"),
        kubeconfig,
        &ns,
        &[concurrent.clone(), "--log-level=info".into()],
    );
    let helm = ControllerProcess::start(
        &release_binary("ferroflux-helm-controller"),
        kubeconfig,
        &ns,
        "helm-controller-0",
        &[concurrent, "--log-level=info".into()],
    );
    let repo: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}
    }))
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();

    let releases = Api::<HelmRelease>::namespaced(client.clone(), &ns);
    let ready = Arc::new(AtomicUsize::new(0));
    let requests_before = apiserver_requests(client).await;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let reporter = progress(
        client.clone(),
        ns.clone(),
        start,
        ready.clone(),
        (helm.pid(), source.process.pid()),
    );
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = releases.clone();
            let ns = ns.clone();
            async move {
                let hr: HelmRelease = serde_json::from_value(serde_json::json!({
                    "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                    "metadata": {"name": format!("app-{i}"), "namespace": ns},
                    "spec": {"interval": "1h",
                             "chart": {"spec": {
                                 "chart": format!("./{CHART_DIR}"),
                                 "sourceRef": {"kind": "GitRepository", "name": "podinfo"}}}}
                }))
                .unwrap();
                api.create(&PostParams::default(), &hr).await.unwrap();
            }
        })
        .await;
    all_ready(client, &ns, n, &ready).await;
    let ours = start.elapsed();
    let cpu = cpu_used(&cpu_before, &cpu_seconds());
    let requests = requests_served(&requests_before, &apiserver_requests(client).await);
    reporter.abort();
    let (helm_rss, source_rss) = (peak_rss_mib(helm.pid()), peak_rss_mib(source.process.pid()));
    eprintln!(
        "  {cpu}\n  {requests}\n  {}\n  helm-controller: {}\n  source-controller: {}",
        install_durations(client, &ns).await,
        reconcile_summary(helm.metrics_port).await,
        reconcile_summary(source.process.metrics_port).await
    );
    keep_log(n, "helm-controller", &helm.log());
    keep_log(n, "source-controller", &source.process.log());
    drop(helm);
    drop(source);

    let floor = bare_apply(client, &ns, n).await;
    format!(
        "| {n} | {} | {} | {:.1}× | {helm_rss:.1} MiB | {source_rss:.1} MiB |\n",
        seconds(ours),
        seconds(floor),
        ours.as_secs_f64() / floor.as_secs_f64()
    )
}

/// The floor: the chart rendered (before the clock starts) for releases
/// `floor-<i>`, and its 4·N objects server-side applied by one client,
/// `CONCURRENCY` at a time.
async fn bare_apply(client: &Client, ns: &str, n: usize) -> Duration {
    let files: Vec<File> = CHART
        .iter()
        .map(|(name, text)| File {
            name: (*name).to_owned(),
            data: text.as_bytes().to_vec(),
        })
        .collect();
    let chart = ferroflux_helm::chart::load_files(files, "podinfo").unwrap();
    let objects: Vec<serde_json::Value> = (0..n)
        .flat_map(|i| {
            let options = RenderOptions {
                release: Release {
                    name: format!("floor-{i}"),
                    namespace: ns.to_owned(),
                    revision: 1,
                    is_upgrade: false,
                },
                kube_version: None,
                api_versions: Vec::new(),
                api_versions_from_cluster: false,
                skip_schema_validation: false,
                lookup: None,
            };
            let rendered = ferroflux_helm::action::render(
                chart.clone(),
                &ferroflux_helm::values::Values::new(),
                &options,
                &mut Notices::default(),
            )
            .unwrap();
            ferroflux_helm_action::resources::parse(&rendered.manifest()).unwrap()
        })
        .collect();
    assert_eq!(objects.len(), 4 * n, "the chart renders four objects");
    let start = Instant::now();
    stream::iter(&objects)
        .for_each_concurrent(CONCURRENCY, |doc| async move {
            let mut obj = doc.clone();
            obj["metadata"]["namespace"] = ns.into();
            let api_version = obj["apiVersion"].as_str().unwrap().to_owned();
            let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
            let gvk = GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap());
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk));
            let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
            api.patch(
                &name,
                &PatchParams::apply("bench").force(),
                &Patch::Apply(&obj),
            )
            .await
            .unwrap();
        })
        .await;
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_MTTP_HELM_SIZES")
        .unwrap_or_else(|_| "100,500,1000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let cp = ferroflux_testenv::ControlPlane::start().unwrap();
    let client = cp.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let server = GitServer::start(None).await.unwrap();
    let files: Vec<(String, &str)> = CHART
        .iter()
        .map(|(name, text)| (format!("{CHART_DIR}/{name}"), *text))
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    server.create_repo("podinfo", "main", &files).unwrap();
    let mut rows = String::new();
    for n in sizes {
        eprintln!("==> {n} HelmReleases");
        let row = round(&client, cp.kubeconfig(), &server.url("podinfo"), n).await;
        eprint!("{row}");
        rows.push_str(&row);
    }
    println!(
        "## helm-controller: mean time to production (`make bench-mttp-helm`)\n\n\
         Command: `make bench-mttp-helm` (release builds of both controllers and the example\n\
         `bench_mttp_helm`; it starts its own control plane and git server). Each HelmRelease installs\n\
         the chart `./{CHART_DIR}` of one GitRepository (a Deployment with replicas 0, a ServiceAccount,\n\
         a Service and an Ingress, named after the release) through its own HelmChart; all are created\n\
         at once in one namespace; both controllers run with `--concurrent={CONCURRENCY}`.\n\n\
         | HelmReleases | all Ready (ferroflux) | floor: bare SSA of the same objects | ratio | helm-controller peak RSS | source-controller peak RSS |\n\
         |---|---|---|---|---|---|\n{rows}"
    );
}
