//! HelmReleases with the CLI: `create helmrelease --export` writes what
//! Flux writes; then, with the source- and helm-controllers as their own
//! processes and a chart in git, a HelmRelease is created, listed, diffed
//! while in sync, suspended, given a new chart version and new values,
//! diffed (objects added, removed and changed, Secret values masked, exit
//! code 1), resumed (upgraded as the diff said), diffed again (exit code
//! 0), reconciled with its chart, forced to upgrade once (`--force`, with
//! `--reset`) and exported; a second HelmRelease on the same chart
//! (`--chart-ref`), never installed, diffs as an install.

use std::path::Path;

use ferroflux_api::helm::HelmRelease;
use ferroflux_testenv::controller::{ControllerProcess, SourceController, workspace_binary};
use ferroflux_testenv::git::{GitServer, WorkingCopy};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::{expect, ferroflux};

const CM: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  a: {{ .Values.a | quote }}
  revision: {{ .Release.Revision | quote }}
";

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-secret
stringData:
  password: {{ .Values.password | quote }}
  user: admin
";

const OLD: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-old
data:
  kept: \"until 0.2.0\"
";

const EXTRA: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  new: \"in 0.2.0\"
";

fn chart_yaml(version: &str) -> String {
    format!("apiVersion: v2\nname: demo\nversion: {version}\nappVersion: \"1.0\"\n")
}

#[test]
fn create_helmrelease_export_is_what_flux_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (base, prod) = (dir.path().join("base.yaml"), dir.path().join("prod.yaml"));
    std::fs::write(&base, "replicas: 1\nimage:\n  tag: v1\n  pull: Always\n").unwrap();
    std::fs::write(&prod, "image:\n  tag: v2\n").unwrap();
    let no_cluster = std::path::Path::new("/nonexistent/kubeconfig");
    let values = format!("{},{}", base.display(), prod.display());
    let run = expect(
        no_cluster,
        0,
        &[
            "create",
            "hr",
            "podinfo",
            "-n",
            "apps",
            "--source",
            "HelmRepository/podinfo.flux-system",
            "--chart",
            "podinfo",
            "--chart-version",
            ">4.0.0",
            "--values",
            &values,
            "--values-from",
            "Secret/podinfo-values",
            "--target-namespace",
            "web",
            "--create-target-namespace",
            "--crds",
            "CreateReplace",
            "--depends-on",
            "cache/redis",
            "--interval",
            "10m",
            "--release-timeout",
            "2m",
            "--export",
        ],
    );
    assert_eq!(
        run.stdout,
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  chart:
    spec:
      chart: podinfo
      reconcileStrategy: ChartVersion
      sourceRef:
        kind: HelmRepository
        name: podinfo
        namespace: flux-system
      version: '>4.0.0'
  dependsOn:
  - name: redis
    namespace: cache
  install:
    crds: Create
    createNamespace: true
  interval: 10m
  targetNamespace: web
  timeout: 2m
  upgrade:
    crds: CreateReplace
  values:
    image:
      pull: Always
      tag: v2
    replicas: 1
  valuesFrom:
  - kind: Secret
    name: podinfo-values
"
    );
}

#[test]
fn create_helmrelease_with_a_chart_ref_and_flags_that_do_not_fit() {
    let no_cluster = std::path::Path::new("/nonexistent/kubeconfig");
    let run = expect(
        no_cluster,
        0,
        &[
            "create",
            "helmrelease",
            "podinfo",
            "--chart-ref",
            "ocirepository/podinfo",
            "--storage-namespace",
            "releases",
            "--release-name",
            "pod",
            "--export",
        ],
    );
    assert!(
        run.stdout.contains(
            "  chartRef:\n    kind: OCIRepository\n    name: podinfo\n  interval: 1m\n  releaseName: pod\n  storageNamespace: releases\n"
        ),
        "{}",
        run.stdout
    );
    for (args, says) in [
        (
            vec!["--chart", "podinfo", "--chart-ref", "OCIRepository/p"],
            "not both",
        ),
        (vec!["--chart", "podinfo"], "--chart needs --source"),
        (vec!["--chart-ref", "GitRepository/p"], "OCIRepository"),
        (
            vec![
                "--chart",
                "c",
                "--source",
                "HelmRepository/p",
                "--crds",
                "Always",
            ],
            "--crds 'Always' is not one of Skip, Create, CreateReplace",
        ),
        (
            vec!["--chart-ref", "HelmChart/c", "--values-from", "Secret"],
            "Kind/name",
        ),
    ] {
        let mut all = vec!["create", "helmrelease", "x", "--export"];
        all.extend(args.iter().copied());
        let run = expect(no_cluster, 2, &all);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_diff_upgrade_and_reconcile_a_helm_release() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (client, ns) = ferroflux_testenv::setup("cli-hr", &ferroflux_api::all_crds()).await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo(
            "charts",
            "main",
            &[
                ("charts/demo/Chart.yaml", &chart_yaml("0.1.0")),
                ("charts/demo/values.yaml", "a: default\npassword: none\n"),
                ("charts/demo/templates/cm.yaml", CM),
                ("charts/demo/templates/secret.yaml", SECRET),
                ("charts/demo/templates/old.yaml", OLD),
            ],
        )
        .unwrap();
    let _source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        kc,
        &ns,
        &[],
    );
    let _helm = ControllerProcess::start(
        &workspace_binary("ferroflux-helm-controller"),
        kc,
        &ns,
        "helm-controller-0",
        &["--requeue-dependency=1s".to_owned()],
    );
    install(kc, &ns, &server.url("charts"));
    suspend_and_change(&client, kc, &ns, &repo).await;
    diff_an_upgrade(kc, &ns);
    resume_and_reconcile(&client, kc, &ns).await;
    force_reset_and_export(&client, kc, &ns).await;
    diff_an_install(&client, kc, &ns).await;
}

/// The first four columns of `name`'s row in a `get` table.
fn row<'t>(table: &'t str, name: &str) -> Vec<&'t str> {
    table
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_default()
        .split_whitespace()
        .take(4)
        .collect()
}

/// Creates the source and the HelmRelease (installed: Ready), lists them
/// and diffs them in sync.
fn install(kc: &Path, ns: &str, url: &str) {
    expect(
        kc,
        0,
        &[
            "create",
            "source",
            "git",
            "charts",
            "-n",
            ns,
            "--url",
            url,
            "--interval",
            "1h",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, "a: one\npassword: hunter2\n").unwrap();
    let run = expect(
        kc,
        0,
        &[
            "create",
            "helmrelease",
            "web",
            "-n",
            ns,
            "--source",
            "GitRepository/charts",
            "--chart",
            "./charts/demo",
            "--values",
            values.to_str().unwrap(),
            "--interval",
            "1h",
            "--release-timeout",
            "1m",
        ],
    );
    assert!(
        run.stderr.contains("applied revision: 0.1.0"),
        "{}",
        run.stderr
    );

    let table = expect(kc, 0, &["get", "helmreleases", "-n", ns]).stdout;
    assert!(table.starts_with("NAME"), "{table}");
    assert_eq!(
        row(&table, "web"),
        ["web", "0.1.0", "False", "True"],
        "{table}"
    );
    let all = expect(kc, 0, &["get", "all", "-n", ns]).stdout;
    assert!(all.contains("helmrelease/web"), "{all}");

    // Installed from this chart and these values: nothing would change.
    let run = expect(kc, 0, &["diff", "helmrelease", "web", "-n", ns]);
    assert!(
        run.stdout
            .contains(&format!("release {ns}/web is in sync at revision 1")),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("no changes"), "{}", run.stderr);
}

/// Suspends the HelmRelease, then gives it a new chart version (packaged
/// at once) and new values the controller does not act on.
async fn suspend_and_change(client: &Client, kc: &Path, ns: &str, repo: &WorkingCopy) {
    expect(kc, 0, &["suspend", "helmrelease", "web", "-n", ns]);
    let table = expect(kc, 0, &["get", "hr", "-n", ns]).stdout;
    assert_eq!(
        row(&table, "web").get(..3),
        Some(&["web", "0.1.0", "True"][..]),
        "{table}"
    );
    let run = expect(kc, 2, &["reconcile", "hr", "web", "-n", ns]);
    assert!(
        run.stderr.contains("ferroflux resume helmrelease web"),
        "{}",
        run.stderr
    );
    repo.commit(
        &[
            ("charts/demo/Chart.yaml", &chart_yaml("0.2.0")),
            ("charts/demo/templates/old.yaml", ""),
            ("charts/demo/templates/extra.yaml", EXTRA),
        ],
        "demo 0.2.0",
    )
    .unwrap();
    expect(kc, 0, &["reconcile", "source", "git", "charts", "-n", ns]);
    let run = expect(
        kc,
        0,
        &[
            "reconcile",
            "source",
            "chart",
            &format!("{ns}-web"),
            "-n",
            ns,
        ],
    );
    assert!(run.stderr.contains("0.2.0"), "{}", run.stderr);
    Api::<HelmRelease>::namespaced(client.clone(), ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"values": {"a": "two", "password": "correct-horse"}}})),
        )
        .await
        .unwrap();
}

/// The diff of the suspended change: an upgrade, every kind of object
/// change, no Secret value shown, exit code 1.
fn diff_an_upgrade(kc: &Path, ns: &str) {
    let run = expect(kc, 1, &["diff", "helmrelease", "web", "-n", ns]);
    let out = &run.stdout;
    for want in [
        format!("► release {ns}/web would be upgraded from revision 1 to 2\n"),
        "  chart: demo@0.1.0 → demo@0.2.0\n".to_owned(),
        "► ConfigMap/web-cm changed\n--- web.v1\n+++ web.v2\n".to_owned(),
        "-  a: one\n".to_owned(),
        "+  a: two\n".to_owned(),
        "► Secret/web-secret changed\n".to_owned(),
        "(web.v2 value)".to_owned(),
        "► ConfigMap/web-extra added\n".to_owned(),
        "► ConfigMap/web-old removed\n".to_owned(),
    ] {
        assert!(out.contains(&want), "{want:?} missing from:\n{out}");
    }
    let digests = out
        .lines()
        .find(|l| l.starts_with("  values digest: "))
        .unwrap_or_default();
    assert!(
        digests.matches("sha256:").count() == 2 && digests.contains(" → "),
        "{out}"
    );
    for secret in ["hunter2", "correct-horse"] {
        assert!(
            !out.contains(secret) && !run.stderr.contains(secret),
            "{secret} shown:\n{out}\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("4 of 4 objects would change"),
        "{}",
        run.stderr
    );
}

/// Resumed, the release is upgraded as the diff said; then reconciled with
/// its chart.
async fn resume_and_reconcile(client: &Client, kc: &Path, ns: &str) {
    let run = expect(kc, 0, &["resume", "helmrelease", "web", "-n", ns]);
    assert!(
        run.stderr.contains("applied revision: 0.2.0"),
        "{}",
        run.stderr
    );
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let data = |cm: Option<ConfigMap>| cm.and_then(|c| c.data).unwrap_or_default();
    let cm = data(config_maps.get_opt("web-cm").await.unwrap());
    assert_eq!(
        (
            cm.get("a").map(String::as_str),
            cm.get("revision").map(String::as_str)
        ),
        (Some("two"), Some("2")),
        "{cm:?}"
    );
    assert!(config_maps.get_opt("web-extra").await.unwrap().is_some());
    assert!(config_maps.get_opt("web-old").await.unwrap().is_none());
    let run = expect(kc, 0, &["diff", "hr", "web", "-n", ns]);
    assert!(
        run.stdout
            .contains(&format!("release {ns}/web is in sync at revision 2")),
        "{}",
        run.stdout
    );

    // The chart first, then the release.
    let run = expect(
        kc,
        0,
        &["reconcile", "helmrelease", "web", "-n", ns, "--with-source"],
    );
    let chart = run.stderr.find(&format!("annotating HelmChart {ns}-web "));
    let release = run.stderr.find("annotating HelmRelease web ");
    assert!(
        chart.is_some() && release.is_some() && chart < release,
        "{}",
        run.stderr
    );
}

/// `--force` upgrades a release in sync once, `--reset` is handled with
/// it, both only for HelmReleases; the export keeps neither request.
async fn force_reset_and_export(client: &Client, kc: &Path, ns: &str) {
    let run = expect(
        kc,
        0,
        &["reconcile", "hr", "web", "-n", ns, "--force", "--reset"],
    );
    assert!(
        run.stderr.contains("applied revision: 0.2.0"),
        "{}",
        run.stderr
    );
    let run = expect(kc, 0, &["diff", "hr", "web", "-n", ns]);
    assert!(
        run.stdout
            .contains(&format!("release {ns}/web is in sync at revision 3")),
        "{}",
        run.stdout
    );
    let hr = Api::<HelmRelease>::namespaced(client.clone(), ns)
        .get("web")
        .await
        .unwrap();
    let requested = hr
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("reconcile.fluxcd.io/requestedAt"))
        .cloned();
    let status = hr.status.unwrap_or_default();
    assert!(requested.is_some());
    assert_eq!(
        (&status.last_handled_force_at, &status.last_handled_reset_at),
        (&requested, &requested)
    );
    let run = expect(
        kc,
        2,
        &["reconcile", "source", "git", "charts", "-n", ns, "--force"],
    );
    assert!(
        run.stderr
            .contains("--force and --reset are for HelmReleases"),
        "{}",
        run.stderr
    );

    let yaml = expect(kc, 0, &["export", "helmrelease", "web", "-n", ns]).stdout;
    assert!(
        yaml.contains("kind: HelmRelease") && yaml.contains("chart: ./charts/demo"),
        "{yaml}"
    );
    assert!(!yaml.contains("status:"), "{yaml}");
    assert!(
        !yaml.contains("requestedAt") && !yaml.contains("forceAt") && !yaml.contains("resetAt"),
        "{yaml}"
    );
}

/// A HelmRelease never installed diffs as an install; one that does not
/// exist is named.
async fn diff_an_install(client: &Client, kc: &Path, ns: &str) {
    // The HelmRelease takes the HelmChart made for `web` (`--chart-ref`) and
    // is applied suspended, so that no controller installs it.
    let chart = format!("HelmChart/{ns}-web");
    let args = [
        "create",
        "hr",
        "web2",
        "-n",
        ns,
        "--chart-ref",
        &chart,
        "--export",
    ];
    let exported = expect(kc, 0, &args).stdout;
    let mut hr: HelmRelease = serde_json::from_value(
        ferroflux_kustomize::yaml::parse_documents(&exported)
            .unwrap()
            .remove(0),
    )
    .unwrap();
    hr.spec.suspend = true;
    Api::<HelmRelease>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &hr)
        .await
        .unwrap();
    let run = expect(kc, 1, &["diff", "hr", "web2", "-n", ns]);
    for want in [
        format!("► release {ns}/web2 would be installed as revision 1\n"),
        "  chart: demo@0.2.0 (new)\n".to_owned(),
        "► ConfigMap/web2-cm added\n".to_owned(),
        "► Secret/web2-secret added\n".to_owned(),
        "► ConfigMap/web2-extra added\n".to_owned(),
    ] {
        assert!(
            run.stdout.contains(&want),
            "{want:?} missing from:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("3 of 3 objects would change"),
        "{}",
        run.stderr
    );

    let run = ferroflux(kc, &["diff", "helmrelease", "nope", "-n", ns]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("HelmRelease 'nope' not found"),
        "{}",
        run.stderr
    );
}
