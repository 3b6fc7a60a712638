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
            &["--requeue-dependency=1s".to_owned()],
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
    let bin = ferroflux_testenv::reference_binary("helm")?;
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(args)
        .args(["-n", ns])
        .env("KUBECONFIG", cp.kubeconfig())
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
    let found = tokio::time::timeout(STEP, async {
        loop {
            if let Some(c) = condition(client, ns, name, type_).await
                && c.0 == status
                && c.2.contains(text)
            {
                return c;
            }
            // Polling the API server for a condition; no event to await in the test.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    match found {
        Ok(c) => c,
        Err(tokio::time::error::Elapsed { .. }) => panic!(
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
        json!({"postRenderers": [{"kustomize": {"images": [{"name": "x", "newTag": "1"}]}}]}),
    )
    .await;
    let stalled = wait_for(
        &client,
        &ns,
        "drift",
        "Stalled",
        "True",
        "spec.postRenderers",
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
                "ignore": [{"paths": ["/data/revision"], "target": {"kind": "ConfigMap"}}],
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
}
