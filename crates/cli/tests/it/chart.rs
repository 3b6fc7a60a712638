//! The Helm chart and what `ferroflux install` applies from it: the
//! reference helm lints and renders it for each controller alone and all
//! together, the real API server accepts every rendered object in a
//! server-side dry-run, the chart's CRDs are `crds/`, and the install
//! manifest embedded in the CLI is the chart's current rendering.

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helm(args: &[&str]) -> String {
    let helm = ferroflux_testenv::reference_binary("helm").expect("the reference helm (make deps)");
    let out = Command::new(helm)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Server-side dry-runs of every object in `yaml`; returns the kinds seen.
async fn dry_run(client: &Client, yaml: &str) -> Vec<String> {
    let mut kinds = Vec::new();
    for obj in ferroflux_kustomize::yaml::parse_documents(yaml).unwrap() {
        if !obj.is_object() {
            continue;
        }
        let api_version = obj["apiVersion"].as_str().unwrap();
        let kind = obj["kind"].as_str().unwrap();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap();
        let api: Api<DynamicObject> = match obj["metadata"]["namespace"].as_str() {
            Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            _ => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            name,
            &PatchParams::apply("chart-test").dry_run().force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("the API server refused {kind} {name}: {e}"));
        kinds.push(kind.to_owned());
    }
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_lints_renders_and_is_accepted_by_the_api_server() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (client, ns) = ferroflux_testenv::setup("chart", &ferroflux_api::all_crds()).await;
    helm(&["lint", "--strict", "charts/ferroflux"]);
    let only = |c: &str| {
        [
            "sourceController",
            "kustomizeController",
            "helmController",
            "notificationController",
        ]
        .iter()
        .map(|k| format!("--set={k}.enabled={}", *k == c))
        .collect::<Vec<_>>()
    };
    let value_sets: Vec<(&str, Vec<String>)> = vec![
        ("defaults", vec![]),
        ("source only", only("sourceController")),
        ("kustomize only", only("kustomizeController")),
        ("helm only", only("helmController")),
        ("notification only", only("notificationController")),
        (
            "source-watcher only",
            only("none")
                .into_iter()
                .chain(["--set=sourceWatcher.enabled=true".to_owned()])
                .collect(),
        ),
    ];
    for (what, values) in value_sets {
        let mut args = vec![
            "template",
            "ferroflux",
            "charts/ferroflux",
            "--namespace",
            &ns,
        ];
        args.extend(values.iter().map(String::as_str));
        let rendered = helm(&args);
        let kinds = dry_run(&client, &rendered).await;
        let deployments = kinds.iter().filter(|k| *k == "Deployment").count();
        let expected = if what == "defaults" { 4 } else { 1 };
        assert_eq!(deployments, expected, "{what}: {kinds:?}");
    }
    // The chart's CRDs are the generated ones.
    for entry in std::fs::read_dir(repo().join("charts/ferroflux/crds")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::fs::read_to_string(repo().join("crds").join(name)).unwrap(),
            "charts/ferroflux/crds/{} differs from crds/; copy it again",
            name.to_string_lossy()
        );
    }
    let generated = std::fs::read_dir(repo().join("crds"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "kustomization.yaml")
        .count();
    let copied = std::fs::read_dir(repo().join("charts/ferroflux/crds"))
        .unwrap()
        .count();
    assert_eq!(generated, copied, "every CRD in crds/ is in the chart");
}

#[test]
fn the_embedded_install_manifest_is_the_charts_rendering() {
    let out = Command::new("bash")
        .args(["scripts/render-install.sh", "--check"])
        .env("FERROFLUX_CACHE", ferroflux_testenv::cache_dir())
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "crates/cli/data/install.yaml is stale; run scripts/render-install.sh\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
