//! A Helm chart delivered as a team delivers one with Flux: the chart
//! committed beside the app (`charts/greeter`), a HelmRelease with
//! `spec.chart` naming the GitRepository (the helm-controller creates the
//! HelmChart, the source-controller packages the chart), installed; then
//! upgraded by a new chart version pushed to git, and by a values change;
//! the releases stored as Helm stores them, so the reference `helm` reads
//! their history; an alert at the sink for each step.

use std::collections::BTreeMap;
use std::process::Command;

use ferroflux_api::source::HelmChart;
use ferroflux_e2e::sample;
use ferroflux_e2e::stack::{Stack, ready_condition};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

const CHART_YAML: &str = "charts/greeter/Chart.yaml";
const VALUES_YAML: &str = "charts/greeter/values.yaml";
/// The greeting in the chart's committed `values.yaml`.
const FIRST_GREETING: &str = "Hello from a Helm chart";
/// The greeting the chart's second version brings.
const SECOND_GREETING: &str = "Hello from chart 0.2.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_in_git_is_installed_then_upgraded_by_a_new_chart_version_and_by_values() {
    let stack = crate::stack("helm").await;
    let ns = stack.namespace.clone();
    // Hourly intervals: the second chart version arrives through the
    // Receiver, then the GitRepository's and the HelmChart's new artifacts.
    let delivery = stack.delivery(&ns, "1h", "1h");
    // Alerting, the Receiver and the GitRepository; the Kustomization (the
    // overlay) is the lifecycle test's.
    for object in delivery.objects() {
        if object["kind"] != "Kustomization" {
            stack.apply(object).await.unwrap();
        }
    }
    let values = json!({"port": 8080});
    stack.apply(delivery.helm_release(&values)).await.unwrap();

    install(&stack, &ns).await;
    a_new_chart_version_in_git_upgrades(&stack, &ns).await;
    a_values_change_upgrades(&stack, &ns, &delivery).await;
}

/// Revision 1: the chart's objects, one release Secret, the HelmChart the
/// helm-controller made and the source-controller built, an alert.
async fn install(stack: &Stack, ns: &str) {
    let installed = stack.helm_release_ready(sample::RELEASE, 1).await;
    let status = installed.status.unwrap();
    let ready = ready_condition(&status.conditions).unwrap();
    // Flux's reason and message, which users' scripts and alerts match on.
    assert_eq!(ready.reason, "InstallSucceeded", "{ready:?}");
    for part in [
        "install succeeded",
        &format!("{ns}/{}.v1", sample::RELEASE),
        "greeter@0.1.0",
    ] {
        assert!(ready.message.contains(part), "{part:?}: {ready:?}");
    }
    assert_eq!(status.last_attempted_revision.as_deref(), Some("0.1.0"));
    assert_eq!(
        (
            status.history[0].chart_name.as_str(),
            status.history[0].chart_version.as_str()
        ),
        ("greeter", "0.1.0")
    );

    let chart_name = format!("{ns}-{}", sample::RELEASE);
    assert_eq!(
        status.helm_chart.as_deref(),
        Some(format!("{ns}/{chart_name}").as_str())
    );
    let chart = Api::<HelmChart>::namespaced(stack.client.clone(), ns)
        .get(&chart_name)
        .await
        .unwrap();
    assert_eq!(chart.spec.chart, sample::CHART_PATH);
    assert_eq!(
        (
            chart.spec.source_ref.kind.as_str(),
            chart.spec.source_ref.name.as_str()
        ),
        ("GitRepository", sample::NAME)
    );
    let artifact = chart.status.and_then(|s| s.artifact).unwrap();
    assert_eq!(artifact.revision, "0.1.0");

    // The chart's objects, rendered with the chart's values and the
    // HelmRelease's.
    assert_eq!(greeting(stack).await, (FIRST_GREETING.into(), "1".into()));
    let service = Api::<Service>::namespaced(stack.client.clone(), ns)
        .get(sample::RELEASE)
        .await
        .unwrap();
    assert_eq!(service_port(&service), 8080);
    let labels = service.metadata.labels.unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/instance"], sample::RELEASE);
    // Helm's ownership metadata, so the reference helm can take over.
    let annotations = service.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations["meta.helm.sh/release-name"], sample::RELEASE);
    assert_eq!(annotations["meta.helm.sh/release-namespace"], ns);

    let secret = Api::<Secret>::namespaced(stack.client.clone(), ns)
        .get(&format!("sh.helm.release.v1.{}.v1", sample::RELEASE))
        .await
        .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
    assert_eq!(records(stack).await, [(1, "deployed".to_owned())]);

    let alert = stack
        .alert("HelmRelease", "InstallSucceeded", "0.1.0")
        .await;
    assert_eq!(alert["involvedObject"]["name"], sample::RELEASE);
    assert_eq!(alert["severity"], "info");
    assert_eq!(alert["reportingController"], "helm-controller");
}

/// A commit of the chart's next version (a new greeting in its values),
/// announced through the Receiver: the source-controller builds 0.2.0, the
/// helm-controller upgrades to revision 2, the first superseded.
async fn a_new_chart_version_in_git_upgrades(stack: &Stack, ns: &str) {
    stack
        .repo
        .commit(
            &[
                (
                    CHART_YAML,
                    &sample::file(CHART_YAML).replace("version: 0.1.0", "version: 0.2.0"),
                ),
                (
                    VALUES_YAML,
                    &sample::file(VALUES_YAML).replace(FIRST_GREETING, SECOND_GREETING),
                ),
            ],
            "greeter 0.2.0: a new greeting",
        )
        .unwrap();
    stack.push_webhook().await;
    let upgraded = stack.helm_release_ready(sample::RELEASE, 2).await;
    let status = upgraded.status.unwrap();
    let ready = ready_condition(&status.conditions).unwrap();
    assert_eq!(ready.reason, "UpgradeSucceeded", "{ready:?}");
    for part in [&format!("{ns}/{}.v2", sample::RELEASE), "greeter@0.2.0"] {
        assert!(ready.message.contains(part), "{part:?}: {ready:?}");
    }
    assert_eq!(status.history[0].chart_version, "0.2.0");
    assert_eq!(greeting(stack).await, (SECOND_GREETING.into(), "2".into()));
    let expected = [(1, "superseded".to_owned()), (2, "deployed".to_owned())];
    assert_eq!(records(stack).await, expected);
    if let Some(history) = helm_history(ns) {
        assert_eq!(history, expected);
    }
    let alert = stack
        .alert("HelmRelease", "UpgradeSucceeded", "0.2.0")
        .await;
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("greeter@0.2.0"), "{message}");
}

/// The HelmRelease applied again with another port: revision 3 of the same
/// chart version.
async fn a_values_change_upgrades(stack: &Stack, ns: &str, delivery: &sample::Delivery) {
    let since = stack.sink.received().len();
    stack
        .apply(delivery.helm_release(&json!({"port": 9090})))
        .await
        .unwrap();
    let upgraded = stack.helm_release_ready(sample::RELEASE, 3).await;
    let status = upgraded.status.unwrap();
    assert_eq!(status.history[0].chart_version, "0.2.0");
    let service = Api::<Service>::namespaced(stack.client.clone(), ns)
        .get(sample::RELEASE)
        .await
        .unwrap();
    assert_eq!(service_port(&service), 9090);
    assert_eq!(greeting(stack).await, (SECOND_GREETING.into(), "3".into()));
    assert_eq!(
        records(stack).await,
        [
            (1, "superseded".to_owned()),
            (2, "superseded".to_owned()),
            (3, "deployed".to_owned())
        ]
    );
    let release = format!("{ns}/{}.v3", sample::RELEASE);
    stack
        .alert_since(since, "the HelmRelease upgraded by values", |v| {
            v["involvedObject"]["kind"] == "HelmRelease"
                && v["reason"] == "UpgradeSucceeded"
                && v["message"].as_str().is_some_and(|m| m.contains(&release))
        })
        .await;
}

/// The chart's ConfigMap: its message and the release revision it was
/// rendered for.
async fn greeting(stack: &Stack) -> (String, String) {
    let data: BTreeMap<String, String> =
        Api::<ConfigMap>::namespaced(stack.client.clone(), &stack.namespace)
            .get(sample::RELEASE_CONFIGMAP)
            .await
            .unwrap()
            .data
            .unwrap_or_default();
    (data["message"].clone(), data["revision"].clone())
}

/// The Service's only port.
fn service_port(service: &Service) -> i32 {
    let ports = service.spec.as_ref().unwrap().ports.as_deref().unwrap();
    assert_eq!(ports.len(), 1, "{ports:?}");
    ports[0].port
}

/// The release's Secrets as (revision, status), oldest first, each checked
/// to be named and typed as Helm names and types them.
async fn records(stack: &Stack) -> Vec<(u64, String)> {
    let selector = format!("owner=helm,name={}", sample::RELEASE);
    let secrets = Api::<Secret>::namespaced(stack.client.clone(), &stack.namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .unwrap();
    let mut found: Vec<(u64, String)> = secrets
        .items
        .into_iter()
        .map(|secret| {
            let labels = secret.metadata.labels.unwrap_or_default();
            let version: u64 = labels["version"].parse().unwrap();
            assert_eq!(
                secret.metadata.name.as_deref(),
                Some(format!("sh.helm.release.v1.{}.v{version}", sample::RELEASE).as_str())
            );
            assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
            assert!(secret.data.is_some_and(|d| d.contains_key("release")));
            (version, labels["status"].clone())
        })
        .collect();
    found.sort();
    found
}

/// `(revision, status)` of each revision as the reference `helm history`
/// lists them; `None` when the reference `helm` is not installed.
fn helm_history(ns: &str) -> Option<Vec<(u64, String)>> {
    let helm = ferroflux_testenv::reference_binary("helm")?;
    let control_plane = ferroflux_testenv::shared().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(helm)
        .args(["history", sample::RELEASE, "-o", "json", "-n", ns])
        .env("KUBECONFIG", control_plane.kubeconfig())
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm history: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["revision"].as_u64().unwrap(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
    )
}
