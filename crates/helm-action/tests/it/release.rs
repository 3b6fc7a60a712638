//! Install, upgrade, rollback and uninstall with `ferroflux-helm-action`, checked with the
//! reference `helm` (list, history, get manifest/values/notes, upgrade) and the live objects.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferroflux_helm::release::Status;
use ferroflux_helm_action::{Error, Helm, Options, Origin, PropagationPolicy, Uninstall};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::{Value, json};

const CHART_YAML: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.16.0\"\n";

/// A chart with a ConfigMap per `extra` name, a main ConfigMap, a `keep` ConfigMap, a
/// pre-install/pre-upgrade hook and notes.
fn chart_dir(dir: &Path, version: &str) -> PathBuf {
    let root = dir.join(format!("demo-{version}"));
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("Chart.yaml"),
        CHART_YAML.replace("0.1.0", version),
    )
    .unwrap();
    std::fs::write(
        root.join("values.yaml"),
        "a: 1\nextra: []\ninvalid: false\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  a: {{ .Values.a | quote }}\n  revision: {{ .Release.Revision | quote }}\n{{- if .Values.invalid }}\n  bad: {}\n{{- end }}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/extra.yaml"),
        "{{- range .Values.extra }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ $.Release.Name }}-{{ . }}\n{{- if eq . \"kept\" }}\n  annotations:\n    helm.sh/resource-policy: keep\n{{- end }}\n{{- end }}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/hook.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\ndata:\n  revision: {{ .Release.Revision | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/NOTES.txt"),
        "Release {{ .Release.Name }} at revision {{ .Release.Revision }}\n",
    )
    .unwrap();
    root
}

struct Fixture {
    client: kube::Client,
    ns: String,
    helm: Helm,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

async fn fixture(prefix: &str) -> Fixture {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client = cp.client().await.unwrap();
    let ns = ferroflux_testenv::namespace(&client, prefix).await.unwrap();
    let helm = Helm::new(
        client.clone(),
        &ns,
        Origin {
            group: "helm.toolkit.fluxcd.io".into(),
            name: "owner".into(),
            namespace: ns.clone(),
        },
    );
    Fixture {
        client,
        ns,
        helm,
        kubeconfig: cp.kubeconfig().to_path_buf(),
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Fixture {
    /// Runs the reference helm against the control plane; `None` when it is not installed.
    fn helm_cli(&self, args: &[&str]) -> Option<String> {
        let bin = ferroflux_testenv::reference_binary("helm")?;
        let out = Command::new(bin)
            .args(args)
            .args(["-n", &self.ns])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", self.dir.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm-config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm-data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    fn history(&self, name: &str) -> Option<Vec<(u64, String, String)>> {
        let text = self.helm_cli(&["history", name, "-o", "json"])?;
        let rows: Value = serde_json::from_str(&text).unwrap();
        Some(
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["revision"].as_u64().unwrap(),
                        r["status"].as_str().unwrap().to_owned(),
                        r["description"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
        )
    }

    async fn cm(&self, name: &str) -> Option<ConfigMap> {
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.ns)
            .get_opt(name)
            .await
            .unwrap()
    }

    fn chart(&self, version: &str) -> (PathBuf, ferroflux_helm::chart::Chart) {
        let dir = chart_dir(self.dir.path(), version);
        let chart = ferroflux_helm::chart::load(&dir).unwrap();
        (dir, chart)
    }

    fn options(&self, name: &str, values: &Value) -> Options {
        let mut opts = Options::new(name, &self.ns);
        opts.values.clone_from(values.as_object().unwrap());
        opts
    }
}

#[tokio::test]
async fn an_install_is_read_by_helm_with_its_manifest_values_notes_and_hooks() {
    let f = fixture("helm-install").await;
    let (_, chart) = f.chart("0.1.0");
    let rel = f
        .helm
        .install(chart, &f.options("web", &json!({"a": 2})))
        .await
        .unwrap();
    assert_eq!(rel.version, 1);
    assert_eq!(rel.status(), Status::Deployed);

    let cm = f
        .cm("web-cm")
        .await
        .expect("the release's ConfigMap exists");
    let data = cm.data.unwrap();
    assert_eq!(data["a"], "2");
    let labels = cm.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(labels["helm.toolkit.fluxcd.io/name"], "owner");
    let annotations = cm.metadata.annotations.unwrap();
    assert_eq!(annotations["meta.helm.sh/release-name"], "web");
    assert_eq!(annotations["meta.helm.sh/release-namespace"], f.ns);
    let hook = f.cm("web-hook").await.expect("the pre-install hook ran");
    assert_eq!(hook.data.unwrap()["revision"], "1");
    assert!(
        !hook
            .metadata
            .annotations
            .unwrap()
            .contains_key("meta.helm.sh/release-name"),
        "hooks are not release objects"
    );

    let secrets = Api::<Secret>::namespaced(f.client.clone(), &f.ns)
        .list(&ListParams::default().labels("owner=helm"))
        .await
        .unwrap();
    assert_eq!(secrets.items.len(), 1);
    let secret = &secrets.items[0];
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some("sh.helm.release.v1.web.v1")
    );
    assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
    assert_eq!(
        secret.metadata.labels.as_ref().unwrap()["status"],
        "deployed"
    );

    let Some(list) = f.helm_cli(&["list", "-o", "json"]) else {
        eprintln!("skipping the reference helm checks: helm is not installed (make deps)");
        return;
    };
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["revision"], "1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    assert_eq!(list[0]["app_version"], "1.16.0");
    // `helm get manifest` prints the stored manifest and a newline.
    assert_eq!(
        f.helm_cli(&["get", "manifest", "web"]).unwrap(),
        format!("{}\n", rel.manifest)
    );
    let values: Value =
        serde_json::from_str(&f.helm_cli(&["get", "values", "web", "-o", "json"]).unwrap())
            .unwrap();
    assert_eq!(values, json!({"a": 2}));
    assert_eq!(
        f.helm_cli(&["get", "notes", "web"]).unwrap(),
        "NOTES:\nRelease web at revision 1\n\n"
    );
    let hooks = f.helm_cli(&["get", "hooks", "web"]).unwrap();
    assert!(hooks.contains("name: web-hook"), "{hooks}");
    // The manifest is what `helm template` prints for the same release, minus hooks.
    let (dir, _) = f.chart("0.1.0");
    let template = f
        .helm_cli(&["template", "web", dir.to_str().unwrap(), "--set", "a=2"])
        .unwrap();
    assert!(template.starts_with(rel.manifest.trim_end()), "{template}");
}

#[tokio::test]
async fn upgrades_alternate_with_helm_upgrade_and_history_stays_consistent() {
    let f = fixture("helm-upgrade").await;
    let (dir, chart) = f.chart("0.1.0");
    f.helm
        .install(
            chart.clone(),
            &f.options("app", &json!({"extra": ["gone", "kept"]})),
        )
        .await
        .unwrap();
    assert!(f.cm("app-gone").await.is_some());
    let (_, chart2) = f.chart("0.2.0");
    let rel = f
        .helm
        .upgrade(chart2, &f.options("app", &json!({"a": 3})))
        .await
        .unwrap();
    assert_eq!((rel.version, rel.status()), (2, Status::Deployed));
    assert_eq!(f.cm("app-cm").await.unwrap().data.unwrap()["a"], "3");
    assert!(
        f.cm("app-gone").await.is_none(),
        "an object the new revision dropped is deleted"
    );
    assert!(
        f.cm("app-kept").await.is_some(),
        "helm.sh/resource-policy: keep is honoured"
    );
    let history = f.helm.storage().history("app").await.unwrap();
    let statuses: Vec<Status> = history
        .iter()
        .map(ferroflux_helm::release::Release::status)
        .collect();
    assert_eq!(statuses, [Status::Superseded, Status::Deployed]);

    let Some(h) = f.history("app") else {
        eprintln!("skipping the reference helm checks: helm is not installed (make deps)");
        return;
    };
    assert_eq!(
        h.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
    assert_eq!(h[1].2, "Upgrade complete");
    // The reference helm upgrades our release: it accepts our records and ownership metadata.
    f.helm_cli(&["upgrade", "app", dir.to_str().unwrap(), "--set", "a=5"])
        .unwrap();
    assert_eq!(f.cm("app-cm").await.unwrap().data.unwrap()["a"], "5");
    // ... and we read what helm wrote and go on from it.
    let rel = f
        .helm
        .upgrade(chart, &f.options("app", &json!({"a": 6})))
        .await
        .unwrap();
    assert_eq!(rel.version, 4);
    assert_eq!(f.cm("app-cm").await.unwrap().data.unwrap()["revision"], "4");
    let h = f.history("app").unwrap();
    assert_eq!(
        h.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(),
        [
            (1, "superseded"),
            (2, "superseded"),
            (3, "superseded"),
            (4, "deployed")
        ]
    );
}

#[tokio::test]
async fn a_helm_install_is_taken_over_by_an_upgrade() {
    let f = fixture("helm-adopt").await;
    let (dir, chart) = f.chart("0.1.0");
    if f.helm_cli(&["install", "taken", dir.to_str().unwrap(), "--set", "a=7"])
        .is_none()
    {
        eprintln!("skipping: the reference helm is not installed (make deps)");
        return;
    }
    let installed = f.helm.storage().last("taken").await.unwrap().unwrap();
    assert_eq!(installed.status(), Status::Deployed);
    assert_eq!(installed.config, *json!({"a": 7}).as_object().unwrap());
    assert_eq!(installed.apply_method, "ssa");
    let rel = f
        .helm
        .upgrade(chart, &f.options("taken", &json!({"a": 8})))
        .await
        .unwrap();
    assert_eq!(rel.version, 2);
    let cm = f.cm("taken-cm").await.unwrap();
    assert_eq!(cm.data.unwrap()["a"], "8");
    assert_eq!(
        cm.metadata.labels.unwrap()["helm.toolkit.fluxcd.io/name"],
        "owner"
    );
    let h = f.history("taken").unwrap();
    assert_eq!(
        h.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(),
        [(1, "superseded"), (2, "deployed")]
    );
}

#[tokio::test]
async fn a_failed_upgrade_is_recorded_and_rolled_back() {
    let f = fixture("helm-rollback").await;
    let (_, chart) = f.chart("0.1.0");
    f.helm
        .install(chart.clone(), &f.options("rb", &json!({"a": 1})))
        .await
        .unwrap();
    // A ConfigMap whose data holds a map: the API server refuses it.
    let err = f
        .helm
        .upgrade(
            chart.clone(),
            &f.options("rb", &json!({"a": 2, "invalid": true})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Resources(_)), "{err}");
    assert!(err.to_string().contains("ConfigMap"), "{err}");
    let history = f.helm.storage().history("rb").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(ferroflux_helm::release::Release::status)
            .collect::<Vec<_>>(),
        [Status::Deployed, Status::Failed]
    );
    let failed = history[1].info.as_ref().unwrap();
    assert!(
        failed.description.starts_with("Upgrade \"rb\" failed: "),
        "{}",
        failed.description
    );
    assert_eq!(f.cm("rb-cm").await.unwrap().data.unwrap()["a"], "1");

    let rel = f
        .helm
        .rollback("rb", 0, &Options::new("rb", &f.ns))
        .await
        .unwrap();
    assert_eq!((rel.version, rel.status()), (3, Status::Deployed));
    assert_eq!(rel.info.as_ref().unwrap().description, "Rollback to 1");
    let history = f.helm.storage().history("rb").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(ferroflux_helm::release::Release::status)
            .collect::<Vec<_>>(),
        [Status::Superseded, Status::Failed, Status::Deployed]
    );
    if let Some(h) = f.history("rb") {
        assert_eq!(h[2].2, "Rollback to 1");
        assert_eq!(h[1].1, "failed");
    }
}

#[tokio::test]
async fn an_object_owned_by_someone_else_is_refused_and_nothing_is_recorded() {
    let f = fixture("helm-conflict").await;
    let mut taken = ConfigMap::default();
    taken.metadata.name = Some("clash-cm".into());
    Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns)
        .create(&PostParams::default(), &taken)
        .await
        .unwrap();
    let (_, chart) = f.chart("0.1.0");
    let err = f
        .helm
        .install(chart, &f.options("clash", &json!({})))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("ConfigMap/"), "{text}");
    assert!(text.contains("clash-cm"), "{text}");
    assert!(text.contains("invalid ownership metadata"), "{text}");
    assert!(f.helm.storage().history("clash").await.unwrap().is_empty());
    assert!(
        f.cm("clash-cm").await.unwrap().data.is_none(),
        "the other owner's object is untouched"
    );
}

#[tokio::test]
async fn a_release_left_pending_is_unlocked_then_upgraded() {
    let f = fixture("helm-pending").await;
    let (_, chart) = f.chart("0.1.0");
    let mut rel = f
        .helm
        .install(chart.clone(), &f.options("stuck", &json!({})))
        .await
        .unwrap();
    // A controller killed mid-upgrade leaves the next revision pending.
    rel.version = 2;
    rel.set_status(Status::PendingUpgrade, "Preparing upgrade");
    f.helm.storage().create(&rel).await.unwrap();
    let err = f
        .helm
        .upgrade(chart.clone(), &f.options("stuck", &json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Pending { version: 2, .. }), "{err}");
    assert_eq!(f.helm.unlock_pending("stuck").await.unwrap(), Some(2));
    let rel = f
        .helm
        .upgrade(chart, &f.options("stuck", &json!({"a": 9})))
        .await
        .unwrap();
    assert_eq!(rel.version, 3);
    let history = f.helm.storage().history("stuck").await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(ferroflux_helm::release::Release::status)
            .collect::<Vec<_>>(),
        [Status::Superseded, Status::Failed, Status::Deployed]
    );
}

/// `rollback --cleanup-on-fail`: a rollback that fails deletes the objects it created; without
/// it they stay. The target is a failed revision (an invalid ConfigMap beside a new one), so
/// the rollback fails after creating the new one (`-a` sorts before `-cm`).
#[tokio::test]
async fn a_failed_rollback_cleans_up_what_it_created_when_asked() {
    let f = fixture("helm-rollback-cleanup").await;
    let (_, chart) = f.chart("0.1.0");
    for (release, cleanup) in [("tidy", true), ("messy", false)] {
        f.helm
            .install(chart.clone(), &f.options(release, &json!({})))
            .await
            .unwrap();
        f.helm
            .upgrade(
                chart.clone(),
                &f.options(release, &json!({"extra": ["a"], "invalid": true})),
            )
            .await
            .unwrap_err();
        f.helm
            .upgrade(chart.clone(), &f.options(release, &json!({})))
            .await
            .unwrap();
        // The failed revision 2 created it and revision 3 (computed against revision 1, the
        // deployed one) does not know it, as in Helm: removed by hand.
        let extra = format!("{release}-a");
        Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns)
            .delete(&extra, &kube::api::DeleteParams::default())
            .await
            .unwrap();
        ferroflux_testenv::eventually_gone(
            &Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns),
            &extra,
            std::time::Duration::from_secs(30),
        )
        .await;
        let mut opts = f.options(release, &json!({}));
        opts.cleanup_on_fail = cleanup;
        opts.wait = false;
        f.helm.rollback(release, 2, &opts).await.unwrap_err();
        assert_eq!(
            f.cm(&extra).await.is_some(),
            !cleanup,
            "{release}: cleanup_on_fail {cleanup}"
        );
        let history = f.helm.storage().history(release).await.unwrap();
        assert_eq!(
            history.last().map(ferroflux_helm::release::Release::status),
            Some(Status::Failed)
        );
    }
}

/// `uninstall.deletionPropagation` (`helm uninstall --cascade`): with `orphan` the dependents of
/// the release's objects stay (the garbage collector only drops their owner reference); with
/// `background` they go with them.
#[tokio::test]
async fn uninstall_propagation_orphans_or_deletes_dependents() {
    let f = fixture("helm-cascade").await;
    let (_, chart) = f.chart("0.1.0");
    let configs = Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns);
    for (release, propagation, survives) in [
        ("orphaning", PropagationPolicy::Orphan, true),
        ("cascading", PropagationPolicy::Background, false),
    ] {
        f.helm
            .install(chart.clone(), &f.options(release, &json!({})))
            .await
            .unwrap();
        let owner = f.cm(&format!("{release}-cm")).await.unwrap();
        let dependent: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("{release}-dependent"), "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap",
                "name": owner.metadata.name, "uid": owner.metadata.uid}]}}))
        .unwrap();
        configs
            .create(&PostParams::default(), &dependent)
            .await
            .unwrap();
        f.helm
            .uninstall(
                release,
                &Uninstall {
                    propagation,
                    ..Uninstall::default()
                },
            )
            .await
            .unwrap();
        ferroflux_testenv::eventually_gone(
            &configs,
            &format!("{release}-cm"),
            std::time::Duration::from_secs(60),
        )
        .await;
        let name = format!("{release}-dependent");
        if survives {
            // The garbage collector removes the owner reference of an orphan.
            ferroflux_testenv::eventually(
                "the dependent orphaned",
                std::time::Duration::from_secs(60),
                || async {
                    let cm = configs.get_opt(&name).await.ok()??;
                    cm.metadata
                        .owner_references
                        .unwrap_or_default()
                        .is_empty()
                        .then_some(())
                },
            )
            .await;
        } else {
            ferroflux_testenv::eventually_gone(&configs, &name, std::time::Duration::from_secs(60))
                .await;
        }
    }
}

#[tokio::test]
async fn uninstall_removes_the_objects_and_the_records() {
    let f = fixture("helm-uninstall").await;
    let (_, chart) = f.chart("0.1.0");
    f.helm
        .install(
            chart.clone(),
            &f.options("bye", &json!({"extra": ["kept"]})),
        )
        .await
        .unwrap();
    f.helm
        .upgrade(chart, &f.options("bye", &json!({"extra": ["kept", "x"]})))
        .await
        .unwrap();
    f.helm
        .uninstall("bye", &Uninstall::default())
        .await
        .unwrap();
    assert!(f.cm("bye-cm").await.is_none());
    assert!(f.cm("bye-x").await.is_none());
    assert!(f.cm("bye-kept").await.is_some(), "keep policy honoured");
    assert!(f.helm.storage().history("bye").await.unwrap().is_empty());
    if let Some(list) = f.helm_cli(&["list", "-o", "json"]) {
        assert_eq!(list.trim(), "[]");
    }
    let err = f
        .helm
        .uninstall("bye", &Uninstall::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
}

#[tokio::test]
async fn a_corrupt_release_record_is_reported_by_name() {
    let f = fixture("helm-corrupt").await;
    let mut secret = Secret::default();
    secret.metadata.name = Some("sh.helm.release.v1.bad.v1".into());
    secret.metadata.labels = Some(
        [("owner", "helm"), ("name", "bad")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    );
    secret.type_ = Some("helm.sh/release.v1".into());
    secret.string_data = Some([("release".to_owned(), "not base64 !".to_owned())].into());
    Api::<Secret>::namespaced(f.client.clone(), &f.ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let (_, chart) = f.chart("0.1.0");
    let err = f
        .helm
        .upgrade(chart, &f.options("bad", &json!({})))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sh.helm.release.v1.bad.v1"), "{text}");
    assert!(text.contains("not a readable Helm release"), "{text}");
}

/// `lookup` reads the live cluster and `.Capabilities` is the cluster's, as in `helm install`:
/// the same chart installed by the reference `helm` writes the same data.
#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one chart probing each answer, then the oracle"
)]
async fn lookup_and_capabilities_answer_from_the_cluster_as_helm_install_does() {
    let f = fixture("helm-lookup").await;
    let cms = Api::<ConfigMap>::namespaced(f.client.clone(), &f.ns);
    let mut pre = ConfigMap::default();
    pre.metadata.name = Some("preexisting".into());
    pre.data = Some([("key".to_owned(), "kept-value".to_owned())].into());
    cms.create(&PostParams::default(), &pre).await.unwrap();
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "preexisting"},
        "spec": {"ports": [{"port": 8080}]}
    }))
    .unwrap();
    Api::namespaced(f.client.clone(), &f.ns)
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();

    let root = f.dir.path().join("probe");
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/probe.yaml"),
        r#"{{- $cm := lookup "v1" "ConfigMap" .Release.Namespace "preexisting" }}
{{- $svc := lookup "v1" "Service" .Release.Namespace "preexisting" }}
{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace }}
{{- $list := lookup "v1" "Service" .Release.Namespace "" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
data:
  found: {{ $cm.data.key | default "none" | quote }}
  missing: {{ lookup "v1" "ConfigMap" .Release.Namespace "absent" | len | quote }}
  port: {{ (index $svc.spec.ports 0).port | quote }}
  portKind: {{ (index $svc.spec.ports 0).port | kindOf | quote }}
  namespace: {{ $ns.metadata.name | quote }}
  listKind: {{ $list.kind | quote }}
  services: {{ $list.items | len | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  minor: {{ .Capabilities.KubeVersion.Minor | quote }}
  deployments: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
  policyV1: {{ .Capabilities.APIVersions.Has "policy/v1" | quote }}
  made: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
"#,
    )
    .unwrap();
    let chart = ferroflux_helm::chart::load(&root).unwrap();
    let caps = ferroflux_helm_action::cluster::capabilities(&f.client)
        .await
        .unwrap();
    let server = f.client.apiserver_version().await.unwrap();
    assert_eq!(caps.kube_version, server.git_version);
    assert!(caps.api_versions.contains(&"v1/ConfigMap".to_owned()));
    let mut opts = f.options("ours", &json!({}));
    opts.kube_version = Some(caps.kube_version.clone());
    opts.api_versions = caps.api_versions;
    opts.api_versions_from_cluster = true;
    opts.lookup = Some(std::sync::Arc::new(
        ferroflux_helm_action::cluster::ClusterLookup::new(f.client.clone()),
    ));
    f.helm.install(chart, &opts).await.unwrap();
    let ours = f.cm("ours-probe").await.unwrap().data.unwrap();
    assert_eq!(ours["found"], "kept-value");
    assert_eq!(ours["missing"], "0");
    assert_eq!(ours["port"], "8080");
    assert_eq!(ours["portKind"], "int64");
    assert_eq!(ours["namespace"], f.ns);
    assert_eq!(ours["listKind"], "ServiceList");
    assert_eq!(ours["services"], "1");
    assert_eq!(ours["kube"], server.git_version);
    assert_eq!(ours["deployments"], "true");
    assert_eq!(ours["made"], "false");
    // The test cluster is Kubernetes 1.20, which serves no policy/v1 (helm template's
    // defaults list it).
    assert_eq!(ours["policyV1"], "false");

    // A kind the cluster does not serve fails the render, naming it, as in Helm.
    std::fs::write(
        root.join("templates/unknown.yaml"),
        "{{- $x := lookup \"example.com/v1\" \"Nothing\" \"\" \"x\" }}\n",
    )
    .unwrap();
    let bad = ferroflux_helm::chart::load(&root).unwrap();
    let mut bad_opts = opts.clone();
    bad_opts.name = "bad".into();
    let err = f.helm.install(bad, &bad_opts).await.unwrap_err();
    assert!(matches!(err, Error::Render { .. }), "{err}");
    assert!(err.to_string().contains("Nothing"), "{err}");
    std::fs::remove_file(root.join("templates/unknown.yaml")).unwrap();

    // A chart looping over `lookup` is cut off at the cap, by name, before anything is written.
    std::fs::write(
        root.join("templates/flood.yaml"),
        "{{- range until 1000 }}{{- $x := lookup \"v1\" \"ConfigMap\" \"\" \"x\" }}{{- end }}\n",
    )
    .unwrap();
    let flood = ferroflux_helm::chart::load(&root).unwrap();
    let mut flood_opts = opts.clone();
    flood_opts.name = "flood".into();
    let err = f.helm.install(flood, &flood_opts).await.unwrap_err();
    assert!(err.to_string().contains("more than 500 lookups"), "{err}");
    assert!(f.helm.storage().history("flood").await.unwrap().is_empty());
    std::fs::remove_file(root.join("templates/flood.yaml")).unwrap();

    // The reference helm, installing the same chart into the same namespace, writes the same.
    if f.helm_cli(&["install", "theirs", root.to_str().unwrap()])
        .is_some()
    {
        let theirs = f.cm("theirs-probe").await.unwrap().data.unwrap();
        assert_eq!(ours, theirs);
    } else {
        eprintln!("skipping the reference helm comparison: helm is not installed (make deps)");
    }

    // A port without `protocol`, as most charts write it: Kubernetes 1.20 refuses it in a
    // server-side apply (helm v4's own install fails on it there) unless it is defaulted first.
    std::fs::write(
        root.join("templates/svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    )
    .unwrap();
    let with_service = ferroflux_helm::chart::load(&root).unwrap();
    let mut svc_opts = opts.clone();
    svc_opts.name = "served".into();
    f.helm.install(with_service, &svc_opts).await.unwrap();
    let svc: k8s_openapi::api::core::v1::Service = Api::namespaced(f.client.clone(), &f.ns)
        .get("served-svc")
        .await
        .unwrap();
    let ports = svc.spec.unwrap().ports.unwrap();
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
}

/// Pins the prune skipped while the history is within `max_history`: past it, the oldest
/// revisions go, within it none, and an install over a history read by the caller
/// (`install_over`) records the same as `install`.
#[tokio::test]
async fn history_beyond_max_history_is_pruned_oldest_first() {
    let f = fixture("helm-prune").await;
    let (_, chart) = f.chart("0.1.0");
    let opts = |a: i64| Options {
        max_history: 3,
        ..f.options("pr", &json!({"a": a}))
    };
    let history = f.helm.storage().history("pr").await.unwrap();
    let rel = f
        .helm
        .install_over(chart.clone(), &opts(1), &history)
        .await
        .unwrap();
    assert_eq!((rel.version, rel.status()), (1, Status::Deployed));
    let versions = |h: Vec<ferroflux_helm::release::Release>| -> Vec<(u32, Status)> {
        h.iter().map(|r| (r.version, r.status())).collect()
    };
    for a in 2..=3 {
        f.helm.upgrade(chart.clone(), &opts(a)).await.unwrap();
    }
    assert_eq!(
        versions(f.helm.storage().history("pr").await.unwrap()),
        [
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ],
        "three revisions are within max_history: nothing pruned"
    );
    for a in 4..=5 {
        f.helm.upgrade(chart.clone(), &opts(a)).await.unwrap();
    }
    assert_eq!(
        versions(f.helm.storage().history("pr").await.unwrap()),
        [
            (3, Status::Superseded),
            (4, Status::Superseded),
            (5, Status::Deployed)
        ],
        "past max_history the oldest revisions go"
    );
}
