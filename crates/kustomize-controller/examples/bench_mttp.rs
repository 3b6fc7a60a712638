//! `make bench-mttp`: the shape of Flux's "mean time to production"
//! benchmark on this machine. N Kustomizations (100, 500 and 1000 by default;
//! `BENCH_MTTP_SIZES=100,500` to choose), each applying a Deployment
//! (replicas 0), a ServiceAccount, a Service and an Ingress from one
//! GitRepository, are created at once; measured is the time until all are
//! Ready, the peak RSS of both controllers, and the floor: the same objects
//! server-side applied by a bare client with the same parallelism.
//!
//! Both controllers run as release binaries against a fresh control plane
//! (etcd, kube-apiserver, kube-controller-manager) on the same two cores.
//! Prints a Markdown report for `docs/benchmarks.md`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::source::GitRepository;
use ferroflux_testenv::bench::{peak_rss_mib, release_binary};
use ferroflux_testenv::controller::{ControllerProcess, SourceController};
use ferroflux_testenv::git::GitServer;
use futures_util::{StreamExt as _, stream};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client};

/// Reconciles at once, as in Flux's published run.
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
      serviceAccountName: podinfo
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.7.0
        ports:
        - containerPort: 9898
";
const SERVICE_ACCOUNT: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: podinfo
";
const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: podinfo
spec:
  selector:
    app: podinfo
  ports:
  - port: 9898
    targetPort: 9898
";
const INGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: podinfo
spec:
  rules:
  - host: podinfo.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: podinfo
            port:
              number: 9898
";

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Waits (sampling every 250 ms, giving up after 15 minutes) until every
/// Kustomization in `ns` is Ready.
async fn all_ready(client: &Client, ns: &str, n: usize) {
    let api = Api::<Kustomization>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|ks| {
                ks.status.as_ref().is_some_and(|s| {
                    s.conditions
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
        // Sampling interval of a loop bounded by the deadline above: 250 ms,
        // not testenv's 100 ms, so listing 1000 objects loads the API server less.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One size: returns the report row.
async fn round(client: &Client, kubeconfig: &std::path::Path, url: &str, n: usize) -> String {
    let ns = ferroflux_testenv::namespace(client, &format!("mttp-{n}"))
        .await
        .unwrap();
    let source = SourceController::start(
        &release_binary("ferroflux-source-controller"),
        kubeconfig,
        &ns,
        &["--log-level=info".into()],
    );
    let kustomize = ControllerProcess::start(
        &release_binary("ferroflux-kustomize-controller"),
        kubeconfig,
        &ns,
        "kustomize-controller-0",
        &[
            format!("--concurrent={CONCURRENCY}"),
            "--log-level=info".into(),
        ],
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

    let kustomizations = Api::<Kustomization>::namespaced(client.clone(), &ns);
    let start = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = kustomizations.clone();
            let ns = ns.clone();
            async move {
                let ks: Kustomization = serde_json::from_value(serde_json::json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": format!("app-{i}"), "namespace": ns},
                    "spec": {"interval": "1h", "path": "./app", "prune": true,
                             "targetNamespace": ns, "namePrefix": format!("app-{i}-"),
                             "sourceRef": {"kind": "GitRepository", "name": "podinfo"}}
                }))
                .unwrap();
                api.create(&PostParams::default(), &ks).await.unwrap();
            }
        })
        .await;
    all_ready(client, &ns, n).await;
    let ours = start.elapsed();
    let (kustomize_rss, source_rss) = (
        peak_rss_mib(kustomize.pid()),
        peak_rss_mib(source.process.pid()),
    );
    drop(kustomize);
    drop(source);

    let floor = bare_apply(client, &ns, n).await;
    format!(
        "| {n} | {} | {} | {:.1}× | {kustomize_rss:.1} MiB | {source_rss:.1} MiB |\n",
        seconds(ours),
        seconds(floor),
        ours.as_secs_f64() / floor.as_secs_f64()
    )
}

/// The floor: the same 4·N objects (named `floor-<i>-…`) server-side
/// applied by one client, `CONCURRENCY` at a time.
async fn bare_apply(client: &Client, ns: &str, n: usize) -> Duration {
    let docs: Vec<serde_json::Value> = [DEPLOYMENT, SERVICE_ACCOUNT, SERVICE, INGRESS]
        .iter()
        .map(|text| {
            ferroflux_kustomize::yaml::parse_documents(text)
                .unwrap()
                .remove(0)
        })
        .collect();
    let start = Instant::now();
    stream::iter((0..n).flat_map(|i| docs.iter().map(move |d| (i, d))))
        .for_each_concurrent(CONCURRENCY, |(i, doc)| async move {
            let mut obj = doc.clone();
            obj["metadata"]["name"] = format!("floor-{i}-podinfo").into();
            obj["metadata"]["namespace"] = ns.into();
            if obj["kind"] == "Service" {
                obj["spec"]["ports"][0]["protocol"] = "TCP".into();
            }
            if obj["kind"] == "Deployment" {
                obj["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] =
                    "TCP".into();
            }
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
    let sizes: Vec<usize> = std::env::var("BENCH_MTTP_SIZES")
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
    server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("app/deployment.yaml", DEPLOYMENT),
                ("app/serviceaccount.yaml", SERVICE_ACCOUNT),
                ("app/service.yaml", SERVICE),
                ("app/ingress.yaml", INGRESS),
            ],
        )
        .unwrap();
    let mut rows = String::new();
    for n in sizes {
        eprintln!("==> {n} Kustomizations");
        let row = round(&client, cp.kubeconfig(), &server.url("podinfo"), n).await;
        eprint!("{row}");
        rows.push_str(&row);
    }
    println!(
        "## kustomize-controller: mean time to production (`make bench-mttp`)\n\n\
         Command: `make bench-mttp` (release builds of both controllers and the example\n\
         `bench_mttp`; it starts its own control plane and git server). Each Kustomization applies a\n\
         Deployment (replicas 0), a ServiceAccount, a Service and an Ingress from one GitRepository;\n\
         all are created at once; kustomize-controller runs with `--concurrent={CONCURRENCY}`.\n\n\
         | Kustomizations | all Ready (ferroflux) | floor: bare SSA of the same objects | ratio | kustomize-controller peak RSS | source-controller peak RSS |\n\
         |---|---|---|---|---|---|\n{rows}"
    );
}
