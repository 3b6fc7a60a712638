//! HelmReleases end to end: a chart in git, packaged by the source-controller's HelmChart,
//! installed, upgraded, remediated and uninstalled by the helm-controller; releases checked
//! with the reference `helm`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferroflux_api::helm::HelmRelease;
use ferroflux_api::source::{GitRepository, HelmChart};
use ferroflux_testenv::controller::{ControllerProcess, SourceController, workspace_binary};
use ferroflux_testenv::git::GitServer;
use ferroflux_testenv::{eventually, eventually_gone};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

const STEP: Duration = Duration::from_secs(90);

const CM: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  a: {{ .Values.a | quote }}
  revision: {{ .Release.Revision | quote }}
{{- if .Values.invalid }}
  bad: {}
{{- end }}
";

fn chart_files(version: &str) -> Vec<(String, String)> {
    vec![
        (
            "charts/demo/Chart.yaml".into(),
            format!("apiVersion: v2\nname: demo\nversion: {version}\nappVersion: \"1.0\"\n"),
        ),
        (
            "charts/demo/values.yaml".into(),
            "a: default\ninvalid: false\n".into(),
        ),
        ("charts/demo/templates/cm.yaml".into(), CM.into()),
        (
            "charts/demo/templates/NOTES.txt".into(),
            "demo {{ .Release.Revision }}\n".into(),
        ),
    ]
}

struct Controllers {
    source: SourceController,
    helm: ControllerProcess,
}

impl Controllers {
    fn start(ns: &str) -> Self {
        Self::start_with_flags(ns, &[])
    }

    /// Both controllers, the helm-controller with `flags` added.
    fn start_with_flags(ns: &str, flags: &[&str]) -> Self {
        let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
        let source = SourceController::start(
            &workspace_binary("ferroflux-source-controller"),
            cp.kubeconfig(),
            ns,
            &[],
        );
        let helm = ControllerProcess::start(
            Path::new(env!("CARGO_BIN_EXE_ferroflux-helm-controller")),
            cp.kubeconfig(),
            ns,
            "helm-controller-0",
            &std::iter::once("--requeue-dependency=1s")
                .chain(flags.iter().copied())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
        Self { source, helm }
    }

    fn logs(&self) -> String {
        format!(
            "--- source-controller\n{}\n--- helm-controller\n{}",
            self.source.process.log(),
            self.helm.log()
        )
    }
}

async fn setup(prefix: &str) -> (Client, String) {
    ferroflux_testenv::setup(prefix, &ferroflux_api::all_crds()).await
}

/// Runs the reference helm in `ns`; `None` when it is not installed.
fn helm_cli(ns: &str, args: &[&str]) -> Option<String> {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    helm_cli_at(cp.kubeconfig(), ns, args)
}

/// [`helm_cli`] against the cluster of `kubeconfig`.
fn helm_cli_at(kubeconfig: &Path, ns: &str, args: &[&str]) -> Option<String> {
    let bin = ferroflux_testenv::reference_binary("helm")?;
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", kubeconfig)
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// `(revision, status)` of each revision, as the reference helm lists them.
fn helm_history(ns: &str, release: &str) -> Option<Vec<(u64, String)>> {
    let text = helm_cli(ns, &["history", release, "-o", "json"])?;
    let rows: Value = serde_json::from_str(&text).unwrap();
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

async fn create_git_source(client: &Client, ns: &str, url: &str) {
    let repo: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "charts", "namespace": ns},
        "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}
    }))
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();
}

async fn create_release(client: &Client, ns: &str, name: &str, extra: Value) {
    let mut spec = json!({
        "interval": "1h",
        "timeout": "1m",
        "chart": {"spec": {
            "chart": "./charts/demo",
            "sourceRef": {"kind": "GitRepository", "name": "charts"},
        }},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    let hr: HelmRelease = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &hr)
        .await
        .unwrap();
}

/// A condition of the HelmRelease as (status, reason, message).
async fn condition(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let hr = Api::<HelmRelease>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .ok()?;
    let c = hr
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_)?;
    // Only a condition written for the current generation counts.
    (c.observed_generation == hr.metadata.generation).then_some((c.status, c.reason, c.message))
}

/// Waits until the HelmRelease's `type_` condition has `status` and a message containing
/// `text`; prints the controllers' logs if it never does.
async fn wait_for(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    status: &str,
    text: &str,
    controllers: &Controllers,
) -> (String, String, String) {
    let found = ferroflux_testenv::poll(STEP, || async {
        condition(client, ns, name, type_)
            .await
            .filter(|c| c.0 == status && c.2.contains(text))
    })
    .await;
    match found {
        Some(c) => c,
        None => panic!(
            "{type_}={status} with {text:?} never came; last: {:?}\n{}",
            condition(client, ns, name, type_).await,
            controllers.logs()
        ),
    }
}

async fn cm_data(
    client: &Client,
    ns: &str,
    name: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .unwrap()
        .map(|c| c.data.unwrap_or_default())
}

async fn set_values(client: &Client, ns: &str, name: &str, values: Value) {
    Api::<HelmRelease>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"values": values}})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_from_git_is_installed_upgraded_and_uninstalled() {
    let (client, ns) = setup("hr-git").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(&client, &ns, "web", json!({"values": {"a": "one"}})).await;

    let ready = wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    assert_eq!(ready.1, "InstallSucceeded".to_owned(), "{ready:?}");
    assert!(ready.2.contains(&format!("{ns}/web.v1")), "{ready:?}");
    assert!(ready.2.contains("demo@0.1.0"), "{ready:?}");
    let data = cm_data(&client, &ns, "web-cm")
        .await
        .expect("the release's ConfigMap");
    assert_eq!(data["a"], "one");
    let hr = Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap();
    let status = hr.status.unwrap();
    assert_eq!(
        status.helm_chart.as_deref(),
        Some(format!("{ns}/{ns}-web").as_str())
    );
    assert_eq!(status.last_attempted_revision.as_deref(), Some("0.1.0"));
    assert_eq!(status.history.len(), 1);
    assert_eq!(status.history[0].status, "deployed");
    assert_eq!(status.history[0].chart_name, "demo");
    assert_eq!(
        Some(status.history[0].config_digest.clone()),
        status.last_attempted_config_digest
    );
    let chart = Api::<HelmChart>::namespaced(client.clone(), &ns)
        .get(&format!("{ns}-web"))
        .await
        .unwrap();
    assert_eq!(chart.spec.chart, "./charts/demo");

    // A values change upgrades: revision 2, the first superseded, as helm sees it.
    set_values(&client, &ns, "web", json!({"a": "two"})).await;
    wait_for(&client, &ns, "web", "Ready", "True", "web.v2", &controllers).await;
    let data = cm_data(&client, &ns, "web-cm").await.unwrap();
    assert_eq!(
        (data["a"].as_str(), data["revision"].as_str()),
        ("two", "2")
    );
    if let Some(history) = helm_history(&ns, "web") {
        assert_eq!(
            history,
            [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
        );
        let values: Value =
            serde_json::from_str(&helm_cli(&ns, &["get", "values", "web", "-o", "json"]).unwrap())
                .unwrap();
        assert_eq!(values, json!({"a": "two"}));
    }

    // Deleting the HelmRelease uninstalls: objects, release records and the HelmChart go.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually_gone(
        &Api::<HelmRelease>::namespaced(client.clone(), &ns),
        "web",
        STEP,
    )
    .await;
    assert!(cm_data(&client, &ns, "web-cm").await.is_none());
    let records = Api::<Secret>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels("owner=helm"))
        .await
        .unwrap();
    assert!(records.items.is_empty());
    eventually("the templated HelmChart deleted", STEP, || async {
        Api::<HelmChart>::namespaced(client.clone(), &ns)
            .get_opt(&format!("{ns}-web"))
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_is_rolled_back_then_retries_run_out() {
    let (client, ns) = setup("hr-remediate").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "rb",
        json!({
            "values": {"a": "good"},
            "upgrade": {"remediation": {"retries": 1}},
        }),
    )
    .await;
    wait_for(
        &client,
        &ns,
        "rb",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;

    // An object the API server refuses: the upgrade fails and is rolled back.
    set_values(&client, &ns, "rb", json!({"a": "bad", "invalid": true})).await;
    let remediated = wait_for(
        &client,
        &ns,
        "rb",
        "Remediated",
        "True",
        "rollback",
        &controllers,
    )
    .await;
    assert_eq!(remediated.1, "RollbackSucceeded", "{remediated:?}");
    let released = condition(&client, &ns, "rb", "Released").await.unwrap();
    assert_eq!(released.0, "False");
    assert_eq!(released.1, "UpgradeFailed");
    assert!(released.2.contains("ConfigMap"), "{released:?}");
    assert_eq!(cm_data(&client, &ns, "rb-cm").await.unwrap()["a"], "good");

    // One retry, failed and rolled back again; then the controller stops trying.
    let stalled = wait_for(
        &client,
        &ns,
        "rb",
        "Stalled",
        "True",
        "Failed to upgrade after",
        &controllers,
    )
    .await;
    assert_eq!(stalled.1, "RetriesExceeded");
    assert_eq!(cm_data(&client, &ns, "rb-cm").await.unwrap()["a"], "good");
    if let Some(history) = helm_history(&ns, "rb") {
        let statuses: Vec<&str> = history.iter().map(|h| h.1.as_str()).collect();
        assert_eq!(
            statuses,
            ["superseded", "failed", "superseded", "failed", "deployed"],
            "{history:?}"
        );
    }

    // A fixed spec starts again and upgrades.
    // (A merge patch: `null` removes the key.)
    set_values(&client, &ns, "rb", json!({"a": "fixed", "invalid": null})).await;
    wait_for(
        &client,
        &ns,
        "rb",
        "Ready",
        "True",
        "upgrade succeeded",
        &controllers,
    )
    .await;
    assert_eq!(cm_data(&client, &ns, "rb-cm").await.unwrap()["a"], "fixed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn depends_on_waits_and_values_from_secrets_never_leak() {
    let (client, ns) = setup("hr-deps").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    // `second` depends on `first`, which does not exist yet.
    create_release(
        &client,
        &ns,
        "second",
        json!({"dependsOn": [{"name": "first"}]}),
    )
    .await;
    let waiting = wait_for(
        &client,
        &ns,
        "second",
        "Ready",
        "False",
        "dependency",
        &controllers,
    )
    .await;
    assert_eq!(waiting.1, "DependencyNotReady");

    // `first` takes its value from a Secret key that is missing at first.
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "vals", "namespace": ns},
        "stringData": {"other": "a: s3cr3t-value"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    create_release(
        &client,
        &ns,
        "first",
        json!({"valuesFrom": [{"kind": "Secret", "name": "vals", "valuesKey": "values.yaml"}]}),
    )
    .await;
    let failed = wait_for(
        &client,
        &ns,
        "first",
        "Ready",
        "False",
        "missing key",
        &controllers,
    )
    .await;
    assert_eq!(failed.1, "InitFailed");
    assert!(failed.2.contains("'values.yaml'"), "{failed:?}");
    assert!(!failed.2.contains("s3cr3t"), "{failed:?}");

    Api::<Secret>::namespaced(client.clone(), &ns)
        .patch(
            "vals",
            &PatchParams::default(),
            &Patch::Merge(&json!({"stringData": {"values.yaml": "a: s3cr3t-value"}})),
        )
        .await
        .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "first",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .unwrap();
    wait_for(
        &client,
        &ns,
        "first",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "first-cm").await.unwrap()["a"],
        "s3cr3t-value"
    );
    wait_for(
        &client,
        &ns,
        "second",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    let hr = Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .get("first")
        .await
        .unwrap();
    let status = serde_json::to_string(&hr.status).unwrap();
    assert!(!status.contains("s3cr3t"), "no Secret value in the status");
    assert!(
        !controllers.helm.log().contains("s3cr3t"),
        "no Secret value in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_fields_are_refused_by_name() {
    let (client, ns) = setup("hr-unsupported").await;
    let controllers = Controllers::start(&ns);
    create_release(
        &client,
        &ns,
        "drift",
        json!({"chart": {"spec": {
            "chart": "./charts/demo",
            "sourceRef": {"kind": "GitRepository", "name": "charts"},
            "verify": {"provider": "cosign"},
        }}}),
    )
    .await;
    let stalled = wait_for(
        &client,
        &ns,
        "drift",
        "Stalled",
        "True",
        "spec.chart.spec.verify",
        &controllers,
    )
    .await;
    assert_eq!(stalled.1, "UnsupportedConfiguration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_except_where_ignored() {
    let (client, ns) = setup("hr-drift").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "dr",
        json!({
            "values": {"a": "desired"},
            "driftDetection": {
                "mode": "enabled",
                "ignore": [
                    {"paths": ["/data/revision"], "target": {"kind": "ConfigMap",
                        "labelSelector": "helm.toolkit.fluxcd.io/name in (dr,other)"}},
                    {"paths": ["/data/a"], "target": {"labelSelector": "no-such-label"}},
                ],
            },
        }),
    )
    .await;
    wait_for(
        &client,
        &ns,
        "dr",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    // Someone edits the release's ConfigMap by hand, with another field manager.
    configs
        .patch(
            "dr-cm",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "dr-cm"},
                "data": {"a": "tampered", "revision": "42"}
            })),
        )
        .await
        .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "dr",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "drift"}}}),
            ),
        )
        .await
        .unwrap();
    eventually("the drifted field corrected", STEP, || async {
        let data = cm_data(&client, &ns, "dr-cm").await?;
        (data.get("a").map(String::as_str) == Some("desired")).then_some(data)
    })
    .await;
    let data = cm_data(&client, &ns, "dr-cm").await.unwrap();
    assert_eq!(data["revision"], "42", "an ignored field is left as it is");
    // Still revision 1: drift correction is not an upgrade.
    let records = Api::<Secret>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels("owner=helm,name=dr"))
        .await
        .unwrap();
    assert_eq!(records.items.len(), 1);

    // A malformed selector stalls the HelmRelease, naming the rule.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "dr",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"spec": {"driftDetection": {"mode": "enabled", "ignore": [
                {"paths": ["/data/a"], "target": {"annotationSelector": "a in (b"}}]}}}),
            ),
        )
        .await
        .unwrap();
    let stalled = wait_for(
        &client,
        &ns,
        "dr",
        "Stalled",
        "True",
        "spec.driftDetection.ignore[0].target.annotationSelector",
        &controllers,
    )
    .await;
    assert_eq!(stalled.1, "InvalidDriftIgnoreRule");
}

/// Flux's example repository's shape: a HelmRepository, a HelmRelease with `releaseName`,
/// `RetryOnFailure` strategies and values; a new chart version in the repository upgrades it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_repository_chart_is_released_and_follows_new_versions() {
    let (client, ns) = setup("hr-repo").await;
    let repo = ferroflux_testenv::chartrepo::ChartRepo::start(
        ferroflux_testenv::chartrepo::Options::default(),
    )
    .await
    .unwrap();
    if repo
        .add_chart("podinfo", "6.5.0", "replicaCount: 1\n", &[])
        .is_err()
    {
        eprintln!("skipping: the reference helm packages the test charts (make deps)");
        return;
    }
    repo.index().unwrap();
    let controllers = Controllers::start(&ns);
    let source: ferroflux_api::source::HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {"interval": "1h", "url": repo.url()}
    }))
    .unwrap();
    Api::<ferroflux_api::source::HelmRepository>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &source)
        .await
        .unwrap();
    let hr: HelmRelease = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "releaseName": "podinfo",
            "interval": "1h",
            "chart": {"spec": {
                "chart": "podinfo",
                "version": ">=6.0.0",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                "interval": "1h",
            }},
            "install": {"strategy": {"name": "RetryOnFailure", "retryInterval": "2m"}},
            "upgrade": {"strategy": {"name": "RetryOnFailure", "retryInterval": "3m"}},
            "values": {"replicaCount": 2},
        }
    }))
    .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &hr)
        .await
        .unwrap();
    wait_for(
        &client,
        &ns,
        "podinfo",
        "Ready",
        "True",
        "podinfo@6.5.0",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "podinfo").await.unwrap()["version"],
        "6.5.0"
    );

    // A new version in the repository: the index is refetched (on request here), the
    // HelmChart follows its source, and the HelmRelease follows its chart.
    repo.add_chart("podinfo", "6.5.1", "replicaCount: 1\n", &[])
        .unwrap();
    repo.index().unwrap();
    Api::<ferroflux_api::source::HelmRepository>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "new"}}}),
            ),
        )
        .await
        .unwrap();
    let ready = wait_for(
        &client,
        &ns,
        "podinfo",
        "Ready",
        "True",
        "podinfo@6.5.1",
        &controllers,
    )
    .await;
    assert_eq!(ready.1, "UpgradeSucceeded");
    assert!(ready.2.contains("podinfo.v2"), "{ready:?}");
    assert_eq!(
        cm_data(&client, &ns, "podinfo").await.unwrap()["version"],
        "6.5.1"
    );
    if let Some(history) = helm_history(&ns, "podinfo") {
        assert_eq!(
            history,
            [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
        );
    }
}

/// A release made by `helm install` is taken over (upgraded as its next revision); a
/// `helm rollback` by hand is noticed and corrected; a controller killed mid-upgrade leaves a
/// pending revision that the restarted controller recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn helm_made_releases_are_taken_over_and_pending_ones_recovered() {
    let (client, ns) = setup("hr-takeover").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let work = server.create_repo("charts", "main", &refs).unwrap();
    let chart_dir = work.path().join("charts/demo");
    if helm_cli(
        &ns,
        &[
            "install",
            "taken",
            chart_dir.to_str().unwrap(),
            "--set",
            "a=by-helm",
        ],
    )
    .is_none()
    {
        eprintln!("skipping: the reference helm is not installed (make deps)");
        return;
    }
    let mut controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "taker",
        json!({"releaseName": "taken", "values": {"a": "by-helm"}}),
    )
    .await;
    // Same chart and values, but not recorded by this HelmRelease: upgraded to revision 2.
    wait_for(
        &client,
        &ns,
        "taker",
        "Ready",
        "True",
        "taken.v2",
        &controllers,
    )
    .await;
    let data = cm_data(&client, &ns, "taken-cm").await.unwrap();
    assert_eq!(data["revision"], "2");

    // `helm rollback` by hand makes revision 3; the next reconcile upgrades to revision 4.
    helm_cli(&ns, &["rollback", "taken", "1"]).unwrap();
    assert_eq!(
        cm_data(&client, &ns, "taken-cm").await.unwrap()["revision"],
        "1"
    );
    let hrs = Api::<HelmRelease>::namespaced(client.clone(), &ns);
    hrs.patch(
        "taker",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "after-rollback"}}})),
    )
    .await
    .unwrap();
    wait_for(
        &client,
        &ns,
        "taker",
        "Ready",
        "True",
        "taken.v4",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "taken-cm").await.unwrap()["revision"],
        "4"
    );

    // The controller dies mid-upgrade: its revision 5 stays pending-upgrade.
    controllers.helm.kill();
    let storage = ferroflux_helm_action::Storage::new(client.clone(), &ns);
    let mut pending = storage.last("taken").await.unwrap().unwrap();
    pending.version = 5;
    pending.set_status(
        ferroflux_helm::release::Status::PendingUpgrade,
        "Preparing upgrade",
    );
    storage.create(&pending).await.unwrap();
    set_values(&client, &ns, "taker", json!({"a": "after-restart"})).await;
    controllers.helm.restart().unwrap();
    wait_for(
        &client,
        &ns,
        "taker",
        "Ready",
        "True",
        "taken.v6",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "taken-cm").await.unwrap()["a"],
        "after-restart"
    );
    let history = storage.history("taken").await.unwrap();
    // maxHistory (default 5) has pruned the oldest revisions.
    assert!(history.len() <= 5, "{} revisions kept", history.len());
    let recovered = history.iter().find(|r| r.version == 5).unwrap();
    assert_eq!(recovered.status(), ferroflux_helm::release::Status::Failed);
    assert!(
        recovered
            .info
            .as_ref()
            .unwrap()
            .description
            .contains("left pending-upgrade"),
        "{:?}",
        recovered.info
    );
    if let Some(h) = helm_history(&ns, "taken") {
        let statuses: Vec<(u64, &str)> = h.iter().map(|r| (r.0, r.1.as_str())).collect();
        let (earlier, last_two) = statuses.split_at(statuses.len() - 2);
        assert_eq!(earlier.len(), 3, "{statuses:?}");
        assert!(earlier.iter().all(|r| r.1 == "superseded"), "{statuses:?}");
        assert_eq!(last_two, [(5, "failed"), (6, "deployed")]);
    }
}

/// Flux's example shape for a chart in an OCI registry: an OCIRepository selecting the Helm
/// chart layer (`operation: copy`) and a HelmRelease with `chartRef`; a new chart version
/// pushed is followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn an_oci_repository_chart_ref_is_released_and_follows_new_versions() {
    let (client, ns) = setup("hr-oci").await;
    let registry = ferroflux_testenv::registry::Registry::start(
        ferroflux_testenv::registry::RegistryOptions::default(),
    )
    .expect("docker-registry starts (make deps installs it)");
    let Some(helm) = ferroflux_testenv::reference_binary("helm") else {
        eprintln!("skipping: the reference helm packages and pushes the chart (make deps)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let push = |version: &str| {
        let dir = work.path().join(format!("src-{version}"));
        for (path, content) in chart_files(version) {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        for args in [
            vec![
                "package".to_owned(),
                dir.join("charts/demo").display().to_string(),
            ],
            vec![
                "push".to_owned(),
                format!("demo-{version}.tgz"),
                format!("oci://{}/charts", registry.host()),
                "--plain-http".to_owned(),
            ],
        ] {
            let out = Command::new(&helm)
                .args(&args)
                .current_dir(work.path())
                .env("HELM_CACHE_HOME", work.path().join("cache"))
                .env("HELM_CONFIG_HOME", work.path().join("config"))
                .env("HELM_DATA_HOME", work.path().join("data"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "helm {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    push("1.0.0");
    let controllers = Controllers::start(&ns);
    let source: ferroflux_api::source::OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "demo", "namespace": ns},
        "spec": {
            "interval": "1h",
            "url": registry.url("charts/demo"),
            "insecure": true,
            "ref": {"semver": ">=1.0.0"},
            "layerSelector": {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "operation": "copy",
            },
        }
    }))
    .unwrap();
    let sources = Api::<ferroflux_api::source::OCIRepository>::namespaced(client.clone(), &ns);
    sources
        .create(&PostParams::default(), &source)
        .await
        .unwrap();
    let hr: HelmRelease = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "demo", "namespace": ns},
        "spec": {
            "interval": "1h",
            "releaseName": "demo",
            "chartRef": {"kind": "OCIRepository", "name": "demo"},
            "values": {"a": "from-oci"},
        }
    }))
    .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &hr)
        .await
        .unwrap();
    let ready = wait_for(
        &client,
        &ns,
        "demo",
        "Ready",
        "True",
        "demo@1.0.0",
        &controllers,
    )
    .await;
    assert_eq!(ready.1, "InstallSucceeded", "{ready:?}");
    assert_eq!(
        cm_data(&client, &ns, "demo-cm").await.unwrap()["a"],
        "from-oci"
    );

    push("1.1.0");
    sources
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "new"}}}),
            ),
        )
        .await
        .unwrap();
    let ready = wait_for(
        &client,
        &ns,
        "demo",
        "Ready",
        "True",
        "demo@1.1.0",
        &controllers,
    )
    .await;
    assert_eq!(ready.1, "UpgradeSucceeded", "{ready:?}");
    if let Some(history) = helm_history(&ns, "demo") {
        assert_eq!(
            history,
            [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
        );
    }
}

/// `spec.serviceAccountName`: Helm's actions run as that ServiceAccount of the HelmRelease's
/// namespace, so a tenant's release can do only what its account may; granted `edit`, the same
/// release installs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_limits_what_a_release_may_do() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let (client, ns) = setup("hr-tenant").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "tenant", "namespace": ns}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "web",
        json!({"serviceAccountName": "tenant", "values": {"a": "tenant"}}),
    )
    .await;
    let refused = wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "False",
        "forbidden",
        &controllers,
    )
    .await;
    assert!(
        refused
            .2
            .contains(&format!("system:serviceaccount:{ns}:tenant")),
        "{refused:?}"
    );
    assert!(cm_data(&client, &ns, "web-cm").await.is_none());

    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "tenant-edit", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": ns}]}))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "granted"}}}),
            ),
        )
        .await
        .unwrap();
    wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "web-cm").await.unwrap()["a"],
        "tenant"
    );
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get_opt("sh.helm.release.v1.web.v1")
        .await
        .unwrap();
    assert!(
        secret.is_some(),
        "the release record is written as the tenant"
    );
}

/// `spec.postRenderers`: kustomize patches rewrite the rendered objects; the post-rendered
/// manifest is the release's (what `helm get manifest` prints), and changing the post-renderers
/// makes a new revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn post_renderers_patch_the_release_and_a_change_upgrades_it() {
    let (client, ns) = setup("hr-postrender").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    let patch = |value: &str| {
        json!([{"kustomize": {"patches": [{
            "patch": format!("- op: add\n  path: /data/patched\n  value: {value}\n"),
            "target": {"kind": "ConfigMap", "name": "web-cm"},
        }]}}])
    };
    create_release(&client, &ns, "web", json!({"postRenderers": patch("one")})).await;
    wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    let data = cm_data(&client, &ns, "web-cm").await.unwrap();
    assert_eq!(data["patched"], "one");
    assert_eq!(data["a"], "default");
    let hr = Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap();
    let observed = hr.status.unwrap().observed_post_renderers_digest;
    assert!(
        observed
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{observed:?}"
    );
    if let Some(manifest) = helm_cli(&ns, &["get", "manifest", "web"]) {
        assert!(manifest.contains("patched: one"), "{manifest}");
    }

    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"postRenderers": patch("two")}})),
        )
        .await
        .unwrap();
    let ready = wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "upgrade succeeded",
        &controllers,
    )
    .await;
    assert!(ready.2.contains("web.v2"), "{ready:?}");
    assert_eq!(
        cm_data(&client, &ns, "web-cm").await.unwrap()["patched"],
        "two"
    );

    // `spec.commonMetadata` lands on every object after the patches, and a change upgrades.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"commonMetadata": {
                "labels": {"team": "platform"}, "annotations": {"owner": "ops"}}}})),
        )
        .await
        .unwrap();
    wait_for(&client, &ns, "web", "Ready", "True", "web.v3", &controllers).await;
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("web-cm")
        .await
        .unwrap();
    assert_eq!(cm.metadata.labels.unwrap()["team"], "platform");
    assert_eq!(cm.metadata.annotations.unwrap()["owner"], "ops");
    assert_eq!(cm.data.unwrap()["patched"], "two");
    let status = Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(
        status
            .observed_common_metadata_digest
            .is_some_and(|d| d.starts_with("sha256:"))
    );

    // A patch that is not one: the upgrade fails naming the post-renderer, revision 3 stays.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"spec": {"postRenderers": [{"kustomize": {"patches": [{
                    "patch": "- op: [not, a, patch\n",
                    "target": {"kind": "ConfigMap"},
                }]}}]}}),
            ),
        )
        .await
        .unwrap();
    let failed = wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "False",
        "spec.postRenderers[0]",
        &controllers,
    )
    .await;
    assert_eq!(failed.1, "UpgradeFailed", "{failed:?}");
    assert_eq!(
        cm_data(&client, &ns, "web-cm").await.unwrap()["patched"],
        "two"
    );
    if let Some(history) = helm_history(&ns, "web") {
        assert_eq!(
            history.last(),
            Some(&(3, "deployed".to_owned())),
            "{history:?}"
        );
    }
}

/// `spec.test`: the test hooks run after the install, in weight order (a Pod waited on until it
/// succeeds: the test stands in for the kubelet the cluster lacks, setting the Pod's phase), are
/// recorded in the release the reference helm reads and in `status.history`; a failing test
/// fails the upgrade (`TestSuccess=False`), and a filter leaves a hook out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn tests_run_after_a_release_and_a_failing_test_fails_it() {
    use k8s_openapi::api::core::v1::Pod;
    let (client, ns) = setup("hr-test").await;
    let server = GitServer::start(None).await.unwrap();
    let mut files = chart_files("0.1.0");
    files.push((
        "charts/demo/templates/tests/check.yaml".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-check\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-weight: \"-1\"\ndata:\n  a: {{ .Values.a | quote }}\n".into(),
    ));
    files.push((
        "charts/demo/templates/tests/pod.yaml".into(),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-probe\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n  - name: probe\n    image: busybox\n    command: [\"true\"]\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "web",
        json!({"test": {"enable": true, "timeout": "1m"}, "values": {"a": "one"}}),
    )
    .await;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    // The kubelet's part: the probe Pod, once created, finishes with `phase`.
    let finish = |phase: &'static str| {
        let pods = pods.clone();
        async move {
            // A fresh Pod: the one of an earlier run is deleted before the next is created.
            eventually("the test Pod is created", STEP, || async {
                pods.get_opt("web-probe").await.ok().flatten().filter(|p| {
                    !matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    )
                })
            })
            .await;
            pods.patch_status(
                "web-probe",
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {"phase": phase}})),
            )
            .await
            .unwrap();
        }
    };
    finish("Succeeded").await;
    let tested = wait_for(
        &client,
        &ns,
        "web",
        "TestSuccess",
        "True",
        "2 test hook(s) completed successfully",
        &controllers,
    )
    .await;
    assert_eq!(tested.1, "TestSucceeded");
    wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    assert_eq!(
        cm_data(&client, &ns, "web-check").await.unwrap()["a"],
        "one"
    );
    let hr = Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .unwrap();
    let hooks = hr.status.unwrap().history[0].test_hooks.clone().unwrap();
    assert_eq!(hooks.keys().collect::<Vec<_>>(), ["web-check", "web-probe"]);
    assert!(
        hooks
            .values()
            .all(|h| h.phase.as_deref() == Some("Succeeded")),
        "{hooks:?}"
    );
    if let Some(text) = helm_cli(&ns, &["status", "web", "-o", "json"]) {
        let status: Value = serde_json::from_str(&text).unwrap();
        let phases: Vec<&str> = status["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|h| h["last_run"]["phase"].as_str())
            .collect();
        assert_eq!(phases, ["Succeeded", "Succeeded"], "{text}");
    }

    // A failing test fails the upgrade.
    set_values(&client, &ns, "web", json!({"a": "two"})).await;
    finish("Failed").await;
    let failed = wait_for(
        &client,
        &ns,
        "web",
        "TestSuccess",
        "False",
        "the Pod failed",
        &controllers,
    )
    .await;
    assert_eq!(failed.1, "TestFailed");
    // Not Ready: the test failed, and (no retries) the upgrade's retries are then spent.
    let ready = wait_for(&client, &ns, "web", "Ready", "False", "", &controllers).await;
    assert!(
        ["TestFailed", "RetriesExceeded"].contains(&ready.1.as_str()),
        "{ready:?}"
    );

    // Excluding the Pod by a filter, the tests pass and the release is Ready again.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                &json!({"spec": {"test": {"filters": [{"name": "web-probe", "exclude": true}]}}}),
            ),
        )
        .await
        .unwrap();
    let tested = wait_for(
        &client,
        &ns,
        "web",
        "TestSuccess",
        "True",
        "1 test hook(s) completed successfully",
        &controllers,
    )
    .await;
    assert_eq!(tested.1, "TestSucceeded");
}

/// `upgrade.preserveValues`: an upgrade keeps the deployed release's values under the new ones,
/// as Helm's `--reuse-values`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preserve_values_keeps_the_deployed_values_under_the_new_ones() {
    let (client, ns) = setup("hr-preserve").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(&client, &ns, "web", json!({"values": {"a": "one"}})).await;
    wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {
                "upgrade": {"preserveValues": true},
                "values": {"a": null, "invalid": false},
            }})),
        )
        .await
        .unwrap();
    wait_for(&client, &ns, "web", "Ready", "True", "web.v2", &controllers).await;
    let data = cm_data(&client, &ns, "web-cm").await.unwrap();
    assert_eq!(data["revision"], "2");
    // Without preserveValues the chart's default ("default") would be back.
    assert_eq!(data["a"], "one");
    if let Some(text) = helm_cli(&ns, &["get", "values", "web", "-o", "json"]) {
        let values: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(values, json!({"a": "one", "invalid": false}));
    }
}

/// `upgrade.cleanupOnFail`: an upgrade that fails (its new Deployment never becomes ready: the
/// test cluster runs no Pods) deletes the objects it created; the release records the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_on_fail_deletes_what_a_failed_upgrade_created() {
    use k8s_openapi::api::apps::v1::Deployment;
    let (client, ns) = setup("hr-cleanup").await;
    let server = GitServer::start(None).await.unwrap();
    let mut files = chart_files("0.1.0");
    files.push((
        "charts/demo/templates/deploy.yaml".into(),
        "{{- if .Values.deploy }}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-app\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: demo\n  template:\n    metadata:\n      labels:\n        app: demo\n    spec:\n      containers:\n      - name: app\n        image: busybox\n{{- end }}\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "web",
        json!({"timeout": "5s", "upgrade": {"cleanupOnFail": true}}),
    )
    .await;
    wait_for(
        &client,
        &ns,
        "web",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    set_values(&client, &ns, "web", json!({"deploy": true})).await;
    let failed = wait_for(
        &client,
        &ns,
        "web",
        "Released",
        "False",
        "web-app",
        &controllers,
    )
    .await;
    assert_eq!(failed.1, "UpgradeFailed", "{failed:?}");
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    eventually_gone(&deployments, "web-app", STEP).await;
    let storage = ferroflux_helm_action::Storage::new(client.clone(), &ns);
    let history = storage.history("web").await.unwrap();
    let statuses: Vec<_> = history.iter().map(|r| (r.version, r.status())).collect();
    assert!(
        statuses.contains(&(2, ferroflux_helm::release::Status::Failed)),
        "{statuses:?}"
    );
    // The release's own ConfigMap, which the failed upgrade did not create, stays.
    assert!(cm_data(&client, &ns, "web-cm").await.is_some());
}

/// Issue 20, remote clusters: `spec.kubeConfig` installs, upgrades and uninstalls the release on
/// another cluster (objects, release Secrets and `.Capabilities` all from there), which the
/// reference helm reads; the controller's own cluster gets nothing but the HelmChart.
/// Waits until no Helm release record is left in `ns` of the cluster `client` talks to (helm
/// deletes the records after the release's objects).
async fn release_records_removed(client: &Client, ns: &str) {
    let secrets = Api::<Secret>::namespaced(client.clone(), ns);
    let records = ListParams::default().labels("owner=helm");
    eventually("the release's records removed", STEP, || async {
        secrets
            .list(&records)
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_config_releases_on_a_remote_cluster_that_helm_reads() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Namespace;
    let (client, ns) = setup("hr-remote").await;
    let remote_cp = tokio::task::spawn_blocking(ferroflux_testenv::ControlPlane::start)
        .await
        .unwrap()
        .expect("a second control plane starts");
    let remote = remote_cp.client().await.unwrap();
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(remote.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("remote".to_owned()),
            ..Default::default()
        },
        data: Some(
            [(
                "kubeconfig".to_owned(),
                ByteString(std::fs::read(remote_cp.kubeconfig()).unwrap()),
            )]
            .into(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    // The testenv kubeconfig skips the TLS check, which the controller allows only when told.
    let controllers = Controllers::start_with_flags(&ns, &["--insecure-kubeconfig-tls"]);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "far",
        json!({"values": {"a": "remote"},
               "kubeConfig": {"secretRef": {"name": "remote", "key": "kubeconfig"}}}),
    )
    .await;
    wait_for(
        &client,
        &ns,
        "far",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    let remote_configs = Api::<ConfigMap>::namespaced(remote.clone(), &ns);
    let data = remote_configs.get("far-cm").await.unwrap().data.unwrap();
    assert_eq!(data["a"], "remote");
    assert!(
        cm_data(&client, &ns, "far-cm").await.is_none(),
        "nothing released on the controller's own cluster"
    );
    let local_releases = Api::<Secret>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels("owner=helm"))
        .await
        .unwrap();
    assert!(
        local_releases.items.is_empty(),
        "release Secrets stay remote"
    );

    set_values(&client, &ns, "far", json!({"a": "again"})).await;
    wait_for(&client, &ns, "far", "Ready", "True", "far.v2", &controllers).await;
    if let Some(text) = helm_cli_at(
        remote_cp.kubeconfig(),
        &ns,
        &["history", "far", "-o", "json"],
    ) {
        let rows: Value = serde_json::from_str(&text).unwrap();
        let statuses: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["superseded", "deployed"], "{text}");
    }

    // Deleting the HelmRelease uninstalls on the remote cluster.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .delete("far", &DeleteParams::default())
        .await
        .unwrap();
    eventually_gone(&remote_configs, "far-cm", STEP).await;
    release_records_removed(&remote, &ns).await;
}

/// `spec.healthCheckExprs` decide when the release's objects are ready (here a ConfigMap, ready
/// only once its data says so), and `spec.dependsOn[].readyExpr` replaces the built-in
/// dependency check; an expression that does not parse stalls the HelmRelease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cel_health_checks_and_ready_expressions_gate_releases() {
    let (client, ns) = setup("hr-cel").await;
    let server = GitServer::start(None).await.unwrap();
    let files = chart_files("0.1.0");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    server.create_repo("charts", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns);
    create_git_source(&client, &ns, &server.url("charts")).await;
    create_release(
        &client,
        &ns,
        "gated",
        json!({
            "timeout": "5s",
            "values": {"a": "no"},
            "healthCheckExprs": [{"apiVersion": "v1", "kind": "ConfigMap",
                                  "current": "data.?a.orValue('') == 'yes'"}],
        }),
    )
    .await;
    create_release(
        &client,
        &ns,
        "after",
        json!({"dependsOn": [{"name": "gated",
            "readyExpr": "dep.metadata.?labels.go.orValue('') == 'yes' && dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"}]}),
    )
    .await;
    create_release(
        &client,
        &ns,
        "bad",
        json!({"healthCheckExprs": [{"apiVersion": "v1", "kind": "ConfigMap", "current": "data.("}]}),
    )
    .await;
    // The ConfigMap is created, but the expression does not hold: the install times out.
    let failed = wait_for(
        &client,
        &ns,
        "gated",
        "Ready",
        "False",
        "current expression does not hold",
        &controllers,
    )
    .await;
    assert!(failed.2.contains("gated-cm"), "{failed:?}");
    let waiting = wait_for(
        &client,
        &ns,
        "after",
        "Ready",
        "False",
        "readyExpr",
        &controllers,
    )
    .await;
    assert_eq!(waiting.1, "DependencyNotReady", "{waiting:?}");

    // Values that satisfy the expression: released.
    set_values(&client, &ns, "gated", json!({"a": "yes"})).await;
    wait_for(
        &client,
        &ns,
        "gated",
        "Ready",
        "True",
        "gated",
        &controllers,
    )
    .await;
    // The dependency is Ready, but `after` still waits for the label its readyExpr wants.
    Api::<HelmRelease>::namespaced(client.clone(), &ns)
        .patch(
            "gated",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"go": "yes"}}})),
        )
        .await
        .unwrap();
    wait_for(
        &client,
        &ns,
        "after",
        "Ready",
        "True",
        "install succeeded",
        &controllers,
    )
    .await;
    assert!(cm_data(&client, &ns, "after-cm").await.is_some());

    let stalled = wait_for(
        &client,
        &ns,
        "bad",
        "Stalled",
        "True",
        "spec.healthCheckExprs[0].current",
        &controllers,
    )
    .await;
    assert_eq!(stalled.1, "InvalidCELExpression");
}
