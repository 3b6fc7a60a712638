//! Kustomization end to end: a GitRepository served by the source-controller
//! process (and a Bucket of a real S3 server), a Kustomization applied by the
//! kustomize-controller process.

use std::time::Duration;

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::source::GitRepository;
use ferroflux_testenv::controller::{ControllerProcess, SourceController, workspace_binary};
use ferroflux_testenv::git::{GitServer, WorkingCopy};
use ferroflux_testenv::{eventually, eventually_gone};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// How long a step may take on the noisy two-core machine.
const STEP: Duration = Duration::from_secs(60);

/// Both controllers watching `ns`; killed on drop.
struct Controllers {
    source: SourceController,
    kustomize: ControllerProcess,
}

impl Controllers {
    fn start(ns: &str) -> Self {
        Self::start_with_events(ns, None)
    }

    /// Both controllers, forwarding their events to `events` when given.
    fn start_with_events(ns: &str, events: Option<&str>) -> Self {
        Self::start_with_flags(ns, events, &[])
    }

    /// Both controllers, the kustomize-controller with `flags` added.
    fn start_with_flags(ns: &str, events: Option<&str>, flags: &[&str]) -> Self {
        let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
        let source = SourceController::start(
            &workspace_binary("ferroflux-source-controller"),
            cp.kubeconfig(),
            ns,
            &[],
        );
        let kustomize = ControllerProcess::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_ferroflux-kustomize-controller")),
            cp.kubeconfig(),
            ns,
            "kustomize-controller-0",
            &[
                "--requeue-dependency=1s".to_owned(),
                format!("--events-addr={}", events.unwrap_or_default()),
            ]
            .into_iter()
            .chain(flags.iter().map(|f| (*f).to_owned()))
            .collect::<Vec<_>>(),
        );
        Self { source, kustomize }
    }

    fn logs(&self) -> String {
        format!(
            "--- source-controller\n{}\n--- kustomize-controller\n{}",
            self.source.process.log(),
            self.kustomize.log()
        )
    }
}

async fn client_and_namespace(prefix: &str) -> (Client, String) {
    ferroflux_testenv::setup(prefix, &ferroflux_api::all_crds()).await
}

const KUSTOMIZATION: &str = "resources:\n- deployment.yaml\n- service.yaml\n- config.yaml\n";

fn deployment(replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.7.0
        ports:
        - containerPort: 9898
"
    )
}

/// A Service whose port has no `protocol`, as real manifests do.
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

const CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
data:
  color: blue
";

/// The seed's GitRepository and Kustomization (`targetNamespace`, `prune`,
/// `timeout`), in `ns`.
async fn create_sources(client: &Client, ns: &str, url: &str, path: &str) {
    create_sources_with(client, ns, url, path, serde_json::json!({})).await;
}

/// [`create_sources`] with `extra` fields in the Kustomization's spec.
async fn create_sources_with(
    client: &Client,
    ns: &str,
    url: &str,
    path: &str,
    extra: serde_json::Value,
) {
    let repo: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}
    }))
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();
    // The seed's `timeout: 1m` unless the test sets its own.
    let mut extra = extra;
    if let Some(fields) = extra.as_object_mut() {
        fields.entry("timeout").or_insert_with(|| "1m".into());
    }
    create_kustomization(client, ns, "podinfo", path, extra).await;
}

/// Asks the source-controller for an immediate reconcile of the GitRepository
/// and waits until it serves `revision`. The Kustomization follows on its own:
/// the kustomize-controller watches its source's artifact.
async fn fetch_now(client: &Client, ns: &str, revision: &str, token: &str) {
    let repos = Api::<GitRepository>::namespaced(client.clone(), ns);
    repos
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested(token)),
        )
        .await
        .unwrap();
    eventually(
        &format!("the GitRepository at {revision}"),
        STEP,
        || async {
            let repo = repos.get("podinfo").await.ok()?;
            (repo.status?.artifact?.revision == revision).then_some(())
        },
    )
    .await;
}

/// The `reconcile.fluxcd.io/requestedAt` annotation as a merge patch.
fn requested(token: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}})
}

/// The Kustomization's Ready condition as (status, reason, message).
async fn ready(client: &Client, ns: &str) -> Option<(String, String, String)> {
    let ks = Api::<Kustomization>::namespaced(client.clone(), ns)
        .get("podinfo")
        .await
        .ok()?;
    let c = ks
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status, c.reason, c.message))
}

async fn wait_applied(client: &Client, ns: &str, revision: &str, controllers: &Controllers) {
    let want = format!("Applied revision: {revision}");
    // testenv's `eventually` (which panics at its own deadline, later) inside
    // a shorter timeout, so a failure can print the controllers' logs.
    let found = tokio::time::timeout(
        STEP,
        eventually(&format!("Ready {want:?}"), STEP * 2, || async {
            let (status, _, message) = ready(client, ns).await?;
            (status == "True" && message == want).then_some(())
        }),
    )
    .await;
    assert!(
        found.is_ok(),
        "Kustomization never reported {want:?}; Ready is {:?}\n{}",
        ready(client, ns).await,
        controllers.logs()
    );
}

fn revision(repo: &WorkingCopy) -> String {
    format!("main@sha1:{}", repo.head().unwrap())
}

/// A reconcile with nothing to change leaves every object's
/// resourceVersion as it was.
async fn assert_noop_reconcile_writes_nothing(client: &Client, ns: &str) {
    let configs = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let services = Api::<Service>::namespaced(client.clone(), ns);
    let versions = || async {
        (
            configs
                .get("podinfo-config")
                .await
                .unwrap()
                .metadata
                .resource_version,
            services
                .get("podinfo")
                .await
                .unwrap()
                .metadata
                .resource_version,
        )
    };
    let before = versions().await;
    let kustomizations = Api::<Kustomization>::namespaced(client.clone(), ns);
    kustomizations
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested("noop")),
        )
        .await
        .unwrap();
    eventually("the no-op reconcile handled", STEP, || async {
        let status = kustomizations.get("podinfo").await.ok()?.status?;
        let handled = status
            .reconcile_request
            .last_handled_reconcile_at
            .as_deref()
            == Some("noop");
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        (handled && ready).then_some(())
    })
    .await;
    assert_eq!(versions().await, before);
}

/// The inventory lists the three objects, and the attempted revision is
/// the applied one.
async fn assert_inventory(client: &Client, ns: &str) {
    let ks = Api::<Kustomization>::namespaced(client.clone(), ns)
        .get("podinfo")
        .await
        .unwrap();
    let status = ks.status.unwrap();
    let mut ids: Vec<String> = status
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| format!("{} {}", e.id, e.v))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            format!("{ns}_podinfo-config__ConfigMap v1"),
            format!("{ns}_podinfo__Service v1"),
            format!("{ns}_podinfo_apps_Deployment v1"),
        ]
    );
    assert_eq!(status.last_attempted_revision, status.last_applied_revision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_applies_updates_prunes_reverts_drift_and_survives_broken_yaml() {
    let (client, ns) = client_and_namespace("ks-seed").await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("kustomize/kustomization.yaml", KUSTOMIZATION),
                ("kustomize/deployment.yaml", &deployment(1)),
                ("kustomize/service.yaml", SERVICE),
                ("kustomize/config.yaml", CONFIG),
            ],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources(&client, &ns, &server.url("podinfo"), "./kustomize").await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;

    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    let deploy = deployments.get("podinfo").await.unwrap();
    assert_eq!(deploy.spec.as_ref().unwrap().replicas, Some(1));
    let labels = deploy.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("podinfo")
    );
    let svc = Api::<Service>::namespaced(client.clone(), &ns)
        .get("podinfo")
        .await
        .unwrap();
    let port = &svc.spec.unwrap().ports.unwrap()[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_some());
    assert_inventory(&client, &ns).await;
    assert_noop_reconcile_writes_nothing(&client, &ns).await;

    // A change in git is applied; a file removed from git is pruned.
    repo.commit(
        &[
            ("kustomize/deployment.yaml", &deployment(2)),
            ("kustomize/config.yaml", ""),
            (
                "kustomize/kustomization.yaml",
                "resources:\n- deployment.yaml\n- service.yaml\n",
            ),
        ],
        "two replicas, no config",
    )
    .unwrap();
    fetch_now(&client, &ns, &revision(&repo), "update").await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let replicas = deployments
        .get("podinfo")
        .await
        .unwrap()
        .spec
        .unwrap()
        .replicas;
    assert_eq!(replicas, Some(2));
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());

    // Drift: a manual edit of a managed field is reverted on the next run.
    deployments
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested("drift")),
        )
        .await
        .unwrap();
    eventually("the manual edit reverted", STEP, || async {
        let replicas = deployments.get("podinfo").await.ok()?.spec?.replicas;
        (replicas == Some(2)).then_some(())
    })
    .await;

    broken_yaml_keeps_the_last_good_revision(&client, &ns, &repo).await;
}

/// A commit with broken YAML: Ready=False naming the file and line, and the
/// objects of the last good revision untouched.
async fn broken_yaml_keeps_the_last_good_revision(client: &Client, ns: &str, repo: &WorkingCopy) {
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let good = revision(repo);
    repo.commit(
        &[(
            "kustomize/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n",
        )],
        "broken",
    )
    .unwrap();
    fetch_now(client, ns, &revision(repo), "broken").await;
    let (reason, message) = eventually("a BuildFailed Ready condition", STEP, || async {
        let (status, reason, message) = ready(client, ns).await?;
        (status == "False").then_some((reason, message))
    })
    .await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(
        message.contains("kustomize/service.yaml") && message.contains("line"),
        "{message}"
    );
    assert!(!message.contains("/tmp/"), "{message}");
    let ks = Api::<Kustomization>::namespaced(client.clone(), ns)
        .get("podinfo")
        .await
        .unwrap();
    assert_eq!(ks.status.unwrap().last_applied_revision, Some(good));
    let replicas = deployments
        .get("podinfo")
        .await
        .unwrap()
        .spec
        .unwrap()
        .replicas;
    assert_eq!(replicas, Some(2));
    assert!(
        Api::<Service>::namespaced(client.clone(), ns)
            .get_opt("podinfo")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_directory_is_substituted_applied_and_pruned_with_the_kustomization() {
    let (client, ns) = client_and_namespace("ks-plain").await;
    let server = GitServer::start(None).await.unwrap();
    let substituted = "apiVersion: v1
kind: ConfigMap
metadata:
  name: substituted
data:
  message: ${greeting} world
  size: ${size}
  fallback: ${missing:=fallback}
  literal: $${greeting}
";
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("deploy/config.yaml", CONFIG),
                ("deploy/sub/substituted.yaml", substituted),
                ("deploy/README.md", "not yaml"),
            ],
        )
        .unwrap();
    let vars: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "vars", "namespace": ns}, "data": {"size": "large"}}))
    .unwrap();
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    configs.create(&PostParams::default(), &vars).await.unwrap();
    let controllers = Controllers::start(&ns);
    let post_build = serde_json::json!({"postBuild": {
        "substitute": {"greeting": "hello"},
        "substituteFrom": [{"kind": "ConfigMap", "name": "vars"},
                           {"kind": "Secret", "name": "absent", "optional": true}]}});
    create_sources_with(&client, &ns, &server.url("podinfo"), "./deploy", post_build).await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_some());
    let data = configs.get("substituted").await.unwrap().data.unwrap();
    let get = |k: &str| data.get(k).map(String::as_str);
    assert_eq!(get("message"), Some("hello world"));
    assert_eq!(get("size"), Some("large"));
    assert_eq!(get("fallback"), Some("fallback"));
    assert_eq!(get("literal"), Some("${greeting}"));

    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .delete("podinfo", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the Kustomization's objects deleted with it",
        STEP,
        || async {
            let gone = configs.get_opt("podinfo-config").await.ok()?.is_none()
                && configs.get_opt("substituted").await.ok()?.is_none();
            gone.then_some(())
        },
    )
    .await;
    // Not applied by the Kustomization: never pruned.
    assert!(configs.get_opt("vars").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_chart_vendored_in_the_source_is_inflated_and_applied() {
    // Flux refuses `helmCharts` (it would have to run `helm`); Ferroflux
    // renders charts vendored into the source with its own renderer.
    let (client, ns) = client_and_namespace("ks-helm").await;
    let server = GitServer::start(None).await.unwrap();
    let template = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  labels:
    chart: {{ .Chart.Name }}-{{ .Chart.Version }}
data:
  greeting: {{ .Values.greeting | quote }}
  namespace: {{ .Release.Namespace }}
";
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                (
                    "deploy/kustomization.yaml",
                    "helmCharts:\n- name: settings\n  releaseName: web\n  namespace: team\n  valuesInline:\n    greeting: hello from inline values\ncommonLabels:\n  owner: kustomize\n",
                ),
                (
                    "deploy/charts/settings/Chart.yaml",
                    "apiVersion: v2\nname: settings\nversion: 1.2.3\n",
                ),
                ("deploy/charts/settings/values.yaml", "greeting: default\n"),
                ("deploy/charts/settings/templates/cm.yaml", template),
            ],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources(&client, &ns, &server.url("podinfo"), "./deploy").await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    let cm = configs.get("web-settings").await.unwrap();
    let data = cm.data.unwrap();
    assert_eq!(
        data.get("greeting").map(String::as_str),
        Some("hello from inline values")
    );
    assert_eq!(data.get("namespace").map(String::as_str), Some("team"));
    let labels = cm.metadata.labels.unwrap();
    assert_eq!(
        labels.get("chart").map(String::as_str),
        Some("settings-1.2.3")
    );
    assert_eq!(labels.get("owner").map(String::as_str), Some("kustomize"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escaping_path_missing_variables_and_bad_durations_are_refused_by_name() {
    let (client, ns) = client_and_namespace("ks-escape").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let _controllers = Controllers::start(&ns);
    create_sources(&client, &ns, &server.url("podinfo"), "../../../etc").await;
    let message = eventually("Ready=False for an escaping path", STEP, || async {
        let (status, _, message) = ready(&client, &ns).await?;
        (status == "False" && message.contains("spec.path")).then_some(message)
    })
    .await;
    assert!(message.contains("leaves the artifact"), "{message}");

    // substituteFrom naming a ConfigMap that does not exist (not optional).
    create_kustomization(
        &client,
        &ns,
        "vars",
        "./deploy",
        serde_json::json!({"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "nope"}]}}),
    )
    .await;
    let (reason, message) = eventually("Ready=False for missing variables", STEP, || async {
        let (status, reason, message) = ready_of(&client, &ns, "vars").await?;
        (status == "False" && reason == "BuildFailed").then_some((reason, message))
    })
    .await;
    assert!(
        message.contains("ConfigMap/nope not found"),
        "{reason}: {message}"
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());

    // Issue 16, item 4: durations the CRD's pattern lets through but that
    // overflow. A bad timeout was silently replaced by the default before;
    // now every duration field stalls the same way, naming itself.
    let too_long = "99999999999999999999999m";
    for (name, field, key, reason) in [
        ("bad-timeout", "spec.timeout", "timeout", "InvalidTimeout"),
        (
            "bad-retry",
            "spec.retryInterval",
            "retryInterval",
            "InvalidInterval",
        ),
    ] {
        create_kustomization(
            &client,
            &ns,
            name,
            "./deploy",
            serde_json::json!({key: too_long}),
        )
        .await;
        let (reason_seen, message) = eventually("Ready=False for a bad duration", STEP, || async {
            let (status, reason, message) = ready_of(&client, &ns, name).await?;
            (status == "False" && reason != "Progressing").then_some((reason, message))
        })
        .await;
        assert_eq!(reason_seen, reason, "{message}");
        assert_eq!(
            message,
            format!("{field}: \"{too_long}\" is not a duration such as 30s, 5m or 1h30m")
        );
    }
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());
}

/// Creates Kustomization `name` over `path` of the `podinfo` GitRepository
/// with `extra` spec fields.
async fn create_kustomization(
    client: &Client,
    ns: &str,
    name: &str,
    path: &str,
    extra: serde_json::Value,
) {
    let mut ks = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "10m", "targetNamespace": ns, "path": path, "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "podinfo"}}
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        ks["spec"][k] = v;
    }
    let ks: Kustomization = serde_json::from_value(ks).unwrap();
    Api::<Kustomization>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &ks)
        .await
        .unwrap();
}

/// Ready of Kustomization `name` as (status, reason, message).
async fn ready_of(client: &Client, ns: &str, name: &str) -> Option<(String, String, String)> {
    let ks = Api::<Kustomization>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .ok()?;
    let c = ks
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status, c.reason, c.message))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_waits_for_a_healthy_dependency_and_failing_health_checks_report() {
    let (client, ns) = client_and_namespace("ks-health").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo(
            "podinfo",
            "main",
            &[
                // No kubelet runs, so replicas: 0 is the only Deployment
                // that becomes Available (through the controller manager).
                ("ready/deployment.yaml", &deployment(0)),
                ("never/deployment.yaml", &deployment(1)),
                ("app/config.yaml", CONFIG),
            ],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources(&client, &ns, &server.url("podinfo"), "./ready").await;
    // `app` depends on `infra`, which does not exist yet.
    create_kustomization(
        &client,
        &ns,
        "app",
        "./app",
        serde_json::json!({"dependsOn": [{"name": "infra"}]}),
    )
    .await;
    // (Until the source has an artifact, the reason is ArtifactFailed.)
    let message = eventually("app waiting for its dependency", STEP, || async {
        let (status, reason, message) = ready_of(&client, &ns, "app").await?;
        (status == "False" && reason == "DependencyNotReady").then_some(message)
    })
    .await;
    assert!(
        message.contains(&format!("'{ns}/infra' not found")),
        "{message}"
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());

    create_kustomization(
        &client,
        &ns,
        "infra",
        "./ready",
        serde_json::json!({"wait": true, "timeout": "50s", "nameSuffix": "-infra"}),
    )
    .await;
    let applied = eventually("app applied once infra is healthy", STEP, || async {
        let (status, _, message) = ready_of(&client, &ns, "app").await?;
        (status == "True").then_some(message)
    })
    .await;
    assert!(
        applied.starts_with("Applied revision: main@sha1:"),
        "{applied}"
    );
    let infra = Api::<Kustomization>::namespaced(client.clone(), &ns)
        .get("infra")
        .await
        .unwrap();
    let healthy = infra
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Healthy")
        .unwrap();
    assert_eq!(healthy.status, "True", "{}", healthy.message);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_some());

    // One replica never becomes available here: the health check fails.
    create_kustomization(
        &client,
        &ns,
        "never",
        "./never",
        serde_json::json!({"wait": true, "timeout": "3s", "nameSuffix": "-never"}),
    )
    .await;
    let (reason, message) = eventually("a failed health check", STEP, || async {
        let (status, reason, message) = ready_of(&client, &ns, "never").await?;
        (status == "False").then_some((reason, message))
    })
    .await;
    assert_eq!(
        reason,
        "HealthCheckFailed",
        "{message}\n{}",
        controllers.logs()
    );
    assert!(
        message.contains(&format!(
            "Deployment/{ns}/podinfo-never status: 'InProgress'"
        )),
        "{message}"
    );
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

fn immutable_config(value: &str) -> String {
    format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: frozen
immutable: true
data:
  value: {value}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_its_resource_apply_together_and_immutable_changes_need_force() {
    let (client, ns) = client_and_namespace("ks-crd").await;
    let server = GitServer::start(None).await.unwrap();
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: gear\nspec:\n  teeth: 12\n";
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("deploy/crd.yaml", CRD),
                ("deploy/widget.yaml", widget),
                ("deploy/frozen.yaml", &immutable_config("one")),
            ],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"deletionPolicy": "Orphan"}),
    )
    .await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let widgets = Api::<kube::api::DynamicObject>::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "example.com",
            "v1",
            "Widget",
        )),
    );
    let gear = widgets.get("gear").await.unwrap();
    assert_eq!(gear.data["spec"]["teeth"], 12);

    // An immutable field changes: refused without force, recreated with it.
    repo.commit(&[("deploy/frozen.yaml", &immutable_config("two"))], "thaw")
        .unwrap();
    fetch_now(&client, &ns, &revision(&repo), "thaw").await;
    let message = eventually("the immutable change refused", STEP, || async {
        let (status, reason, message) = ready(&client, &ns).await?;
        (status == "False" && reason == "ReconciliationFailed").then_some(message)
    })
    .await;
    assert!(
        message.contains("ConfigMap/") && message.contains("frozen"),
        "{message}"
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    let value = |cm: ConfigMap| cm.data.unwrap_or_default().get("value").cloned();
    assert_eq!(
        value(configs.get("frozen").await.unwrap()).as_deref(),
        Some("one")
    );
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"force": true}})),
        )
        .await
        .unwrap();
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    assert_eq!(
        value(configs.get("frozen").await.unwrap()).as_deref(),
        Some("two")
    );

    // deletionPolicy Orphan: the objects outlive the Kustomization.
    let kustomizations = Api::<Kustomization>::namespaced(client.clone(), &ns);
    kustomizations
        .delete("podinfo", &DeleteParams::default())
        .await
        .unwrap();
    eventually_gone(&kustomizations, "podinfo", STEP).await;
    assert!(configs.get_opt("frozen").await.unwrap().is_some());
    assert!(widgets.get_opt("gear").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_cancels_a_health_check_that_would_wait_ten_minutes() {
    let (client, ns) = client_and_namespace("ks-cancel").await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[("slow/deployment.yaml", &deployment(1))],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./slow",
        serde_json::json!({"wait": true, "timeout": "10m"}),
    )
    .await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    eventually("the never-ready Deployment applied", STEP, || async {
        deployments.get_opt("podinfo").await.ok()?.map(|_| ())
    })
    .await;
    // The fix: no replicas, which the controller manager makes Available.
    repo.commit(&[("slow/deployment.yaml", &deployment(0))], "scale to zero")
        .unwrap();
    fetch_now(&client, &ns, &revision(&repo), "fix").await;
    // Within STEP, far below the ten-minute timeout of the first wait.
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_name_limits_the_apply_to_what_the_account_may_do() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let (client, ns) = client_and_namespace("ks-tenant").await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let account: ServiceAccount = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tenant", "namespace": ns}}))
    .unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"serviceAccountName": "tenant"}),
    )
    .await;
    // The account may do nothing yet: the apply is refused by the API server.
    let message = eventually("the apply forbidden to the tenant", STEP, || async {
        let (status, reason, message) = ready(&client, &ns).await?;
        (status == "False" && reason == "ReconciliationFailed").then_some(message)
    })
    .await;
    assert!(message.contains("forbidden"), "{message}");
    assert!(
        message.contains(&format!("system:serviceaccount:{ns}:tenant")),
        "{message}"
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());

    // Granted `edit` in its namespace, the same Kustomization applies.
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tenant-edit", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": ns}]}))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested("granted")),
        )
        .await
        .unwrap();
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_some());
}

/// Issue 15, defect 10: with `--default-service-account`, a Kustomization
/// naming no account is applied as that account in its own namespace, not
/// with the controller's rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_service_account_locks_down_kustomizations_naming_none() {
    let (client, ns) = client_and_namespace("ks-default-sa").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let _controllers =
        Controllers::start_with_flags(&ns, None, &["--default-service-account=locked"]);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({}),
    )
    .await;
    let message = eventually(
        "the apply forbidden to the default account",
        STEP,
        || async {
            let (status, reason, message) = ready(&client, &ns).await?;
            (status == "False" && reason == "ReconciliationFailed").then_some(message)
        },
    )
    .await;
    assert!(
        message.contains(&format!("system:serviceaccount:{ns}:locked")),
        "{message}"
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(configs.get_opt("podinfo-config").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_delete_and_wait_for_termination() {
    let (client, ns) = client_and_namespace("ks-delete").await;
    let server = GitServer::start(None).await.unwrap();
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/hold\n";
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[("plain/config.yaml", CONFIG), ("held/config.yaml", held)],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    // Delete removes the objects even with prune: false.
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./plain",
        serde_json::json!({"prune": false, "deletionPolicy": "Delete"}),
    )
    .await;
    create_kustomization(
        &client,
        &ns,
        "held",
        "./held",
        serde_json::json!({"deletionPolicy": "WaitForTermination", "timeout": "10m"}),
    )
    .await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    eventually("the held ConfigMap applied", STEP, || async {
        let (status, _, _) = ready_of(&client, &ns, "held").await?;
        (status == "True").then_some(())
    })
    .await;
    let kustomizations = Api::<Kustomization>::namespaced(client.clone(), &ns);
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    for name in ["podinfo", "held"] {
        kustomizations
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    eventually("Delete removed the objects", STEP, || async {
        configs
            .get_opt("podinfo-config")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    // The held ConfigMap is terminating; its Kustomization waits for it.
    eventually("the held ConfigMap terminating", STEP, || async {
        configs
            .get_opt("held")
            .await
            .ok()??
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    assert!(kustomizations.get_opt("held").await.unwrap().is_some());
    configs
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    // Gone once its object is.
    eventually_gone(&kustomizations, "held", STEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_the_change_set_and_the_revision() {
    let (client, ns) = client_and_namespace("ks-events").await;
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let sink = ferroflux_testenv::sink::JsonSink::start().await;
    let controllers = Controllers::start_with_events(&ns, Some(sink.url()));
    create_sources(&client, &ns, &server.url("podinfo"), "./deploy").await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let from_us = |e: &serde_json::Value| {
        e["reportingController"] == "kustomize-controller"
            && e["involvedObject"]["kind"] == "Kustomization"
    };
    let change = sink
        .wait_for("the change-set event", STEP, |e| {
            from_us(e) && e["reason"] == "Progressing"
        })
        .await;
    assert_eq!(
        change["message"],
        format!("ConfigMap/{ns}/podinfo-config created")
    );
    assert_eq!(change["severity"], "info");
    assert_eq!(
        change["metadata"]["kustomize.toolkit.fluxcd.io/revision"],
        revision(&repo)
    );
    let ready = sink
        .wait_for("the success event", STEP, |e| {
            from_us(e) && e["reason"] == "ReconciliationSucceeded"
        })
        .await;
    assert_eq!(
        ready["metadata"]["kustomize.toolkit.fluxcd.io/revision"],
        revision(&repo)
    );

    // A failure is an error event naming what failed.
    repo.commit(&[("deploy/config.yaml", "kind: [broken\n")], "broken")
        .unwrap();
    fetch_now(&client, &ns, &revision(&repo), "broken").await;
    let failure = sink
        .wait_for("the failure event", STEP, |e| {
            from_us(e) && e["severity"] == "error"
        })
        .await;
    assert_eq!(failure["reason"], "BuildFailed", "{failure}");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("deploy/config.yaml"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_secret_never_appears_in_the_status() {
    let (client, ns) = client_and_namespace("ks-secret").await;
    let server = GitServer::start(None).await.unwrap();
    // A label value may not hold a space: the API server refuses the object
    // and quotes the value in its error.
    let leaky = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaky\n  labels:\n    token: ${token} x\n";
    server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", leaky)])
        .unwrap();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"token": "s3cr3t-t0ken-value"}}))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"postBuild": {"substituteFrom": [{"kind": "Secret", "name": "creds"}]}}),
    )
    .await;
    let message = eventually("the invalid label refused", STEP, || async {
        let (status, reason, message) = ready(&client, &ns).await?;
        (status == "False" && reason == "ReconciliationFailed").then_some(message)
    })
    .await;
    assert!(
        message.contains("ConfigMap/") && message.contains("leaky"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t-t0ken-value"), "{message}");
    let logs = controllers.logs();
    let leak = logs.lines().find(|l| l.contains("s3cr3t-t0ken-value"));
    assert!(leak.is_none(), "{leak:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomization_applies_the_objects_of_an_s3_bucket_and_follows_its_changes() {
    use ferroflux_api::source::Bucket;
    use ferroflux_testenv::s3::S3Server;
    let (client, ns) = client_and_namespace("ks-bucket").await;
    let server = S3Server::start("ks-access", "ks-bucket-secret-key-91d")
        .expect("s3s-fs starts (make deps installs it)");
    server.create_bucket("manifests").unwrap();
    server
        .put_object("manifests", "deploy/config.yaml", CONFIG.as_bytes())
        .unwrap();
    let keys: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "s3-keys", "namespace": ns},
        "stringData": {"accesskey": "ks-access", "secretkey": "ks-bucket-secret-key-91d"}}))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &keys)
        .await
        .unwrap();
    let controllers = Controllers::start(&ns);
    let bucket: Bucket = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
        "metadata": {"name": "store", "namespace": ns},
        "spec": {"interval": "1h", "bucketName": "manifests", "endpoint": server.host(),
                 "insecure": true, "secretRef": {"name": "s3-keys"}}
    }))
    .unwrap();
    let buckets = Api::<Bucket>::namespaced(client.clone(), &ns);
    buckets
        .create(&PostParams::default(), &bucket)
        .await
        .unwrap();
    create_kustomization(
        &client,
        &ns,
        "from-bucket",
        "./deploy",
        serde_json::json!({"namePrefix": "b-", "sourceRef": {"kind": "Bucket", "name": "store"}}),
    )
    .await;
    let bucket_revision = |want_not: Option<String>| {
        let buckets = buckets.clone();
        async move {
            let b = buckets.get("store").await.ok()?;
            let r = b.status?.artifact?.revision;
            (Some(&r) != want_not.as_ref()).then_some(r)
        }
    };
    let first = eventually("the Bucket has an artifact", STEP, || bucket_revision(None)).await;
    let message = eventually("the Bucket's Kustomization applied", STEP, || async {
        let (status, _, message) = ready_of(&client, &ns, "from-bucket").await?;
        (status == "True").then_some(message)
    })
    .await;
    assert_eq!(
        message,
        format!("Applied revision: {first}"),
        "{}",
        controllers.logs()
    );
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    let color = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("color").cloned())
    };
    assert_eq!(
        color(configs.get_opt("b-podinfo-config").await.unwrap()).as_deref(),
        Some("blue")
    );

    // A changed object: a new Bucket revision, applied without waiting for
    // the Kustomization's interval.
    server
        .put_object(
            "manifests",
            "deploy/config.yaml",
            CONFIG.replace("blue", "green").as_bytes(),
        )
        .unwrap();
    buckets
        .patch(
            "store",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "changed"}}})),
        )
        .await
        .unwrap();
    let second = eventually("the Bucket's new revision", STEP, || {
        bucket_revision(Some(first.clone()))
    })
    .await;
    eventually("the new revision applied", STEP, || async {
        let (status, _, message) = ready_of(&client, &ns, "from-bucket").await?;
        let green =
            color(configs.get_opt("b-podinfo-config").await.ok()?).as_deref() == Some("green");
        (status == "True" && message == format!("Applied revision: {second}") && green)
            .then_some(())
    })
    .await;
    assert!(
        !controllers.logs().contains("ks-bucket-secret-key-91d"),
        "the bucket's secret key leaked into a log"
    );
}

/// Issue 20, remote clusters: `spec.kubeConfig.secretRef` applies, prunes and
/// checks health on a second control plane; a remote that never answers, a
/// missing Secret and a kubeconfig reading the controller's files fail only
/// their own Kustomizations, with conditions that name them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario over two control planes"
)]
async fn kube_config_applies_to_a_remote_cluster_and_a_dead_one_blocks_nothing() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    let (client, ns) = client_and_namespace("ks-remote").await;
    let remote_cp = tokio::task::spawn_blocking(ferroflux_testenv::ControlPlane::start)
        .await
        .unwrap()
        .expect("a second control plane starts");
    let remote = remote_cp.client().await.unwrap();
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(remote.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let kubeconfig = std::fs::read(remote_cp.kubeconfig()).unwrap();
    // A port that accepts connections and never answers: a remote cluster
    // that hangs rather than refuses.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_kubeconfig = String::from_utf8(kubeconfig.clone()).unwrap().replace(
        remote_cp.server(),
        &format!("https://{}", silent.local_addr().unwrap()),
    );
    let file_kubeconfig = String::from_utf8(kubeconfig.clone()).unwrap().replace(
        "    token: ",
        "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n    x-token: ",
    );
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns);
    for (name, key, value) in [
        ("remote", "value", kubeconfig.clone()),
        ("silent", "value.yaml", silent_kubeconfig.into_bytes()),
        ("reads-files", "value", file_kubeconfig.into_bytes()),
    ] {
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            data: Some([(key.to_owned(), ByteString(value))].into()),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("deploy/config.yaml", CONFIG),
                ("deploy/deployment.yaml", &deployment(1)),
            ],
        )
        .unwrap();
    let controllers = Controllers::start_with_flags(&ns, None, &["--insecure-kubeconfig-tls"]);
    // The hanging and the broken ones first: they must not hold up the good one.
    for (name, secret) in [
        ("silent", "silent"),
        ("missing", "no-such-secret"),
        ("reads-files", "reads-files"),
    ] {
        create_kustomization(
            &client,
            &ns,
            name,
            "./deploy",
            serde_json::json!({"kubeConfig": {"secretRef": {"name": secret}}}),
        )
        .await;
    }
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"kubeConfig": {"secretRef": {"name": "remote"}}}),
    )
    .await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let remote_configs = Api::<ConfigMap>::namespaced(remote.clone(), &ns);
    assert!(
        remote_configs
            .get_opt("podinfo-config")
            .await
            .unwrap()
            .is_some(),
        "applied on the remote cluster"
    );
    assert!(
        Api::<Deployment>::namespaced(remote.clone(), &ns)
            .get_opt("podinfo")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get_opt("podinfo-config")
            .await
            .unwrap()
            .is_none(),
        "nothing applied on the controller's own cluster"
    );

    let failed = |name: &'static str| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            eventually(&format!("Kustomization {name} failing"), STEP, || async {
                let (status, _, message) = ready_of(&client, &ns, name).await?;
                (status == "False" && !message.is_empty()).then_some(message)
            })
            .await
        }
    };
    let message = failed("silent").await;
    assert!(
        message.contains("unreachable") && message.contains(&format!("Secret {ns}/silent")),
        "{message}"
    );
    let message = failed("missing").await;
    assert!(
        message.contains(&format!("Secret {ns}/no-such-secret"))
            && message.contains("does not exist"),
        "{message}"
    );
    let message = failed("reads-files").await;
    assert!(message.contains("tokenFile"), "{message}");
    let token = String::from_utf8(kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_owned))
        .unwrap();
    for name in ["podinfo", "silent", "missing", "reads-files"] {
        let ks = Api::<Kustomization>::namespaced(client.clone(), &ns)
            .get(name)
            .await
            .unwrap();
        assert!(
            !serde_json::to_string(&ks.status).unwrap().contains(&token),
            "the remote token leaked into {name}'s status"
        );
    }
    assert!(!controllers.kustomize.log().contains(&token));

    // Drift on the remote cluster is reverted there, and deleting the
    // Kustomization prunes the remote objects.
    remote_configs
        .patch(
            "podinfo-config",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"color": "red"}})),
        )
        .await
        .unwrap();
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested("drift")),
        )
        .await
        .unwrap();
    eventually("the remote drift reverted", STEP, || async {
        let cm = remote_configs.get("podinfo-config").await.ok()?;
        (cm.data?.get("color")? == "blue").then_some(())
    })
    .await;
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .delete("podinfo", &DeleteParams::default())
        .await
        .unwrap();
    eventually_gone(&remote_configs, "podinfo-config", STEP).await;
    drop(silent);
}

/// The reference `sops` (`scripts/install-deps.sh sops`).
fn sops_bin() -> std::path::PathBuf {
    let cache = std::env::var_os("FERROFLUX_CACHE").map_or_else(
        || {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/ferroflux")
        },
        std::path::PathBuf::from,
    );
    cache.join("reference/bin/sops")
}

/// A fresh age identity (file content, recipient) from `age-keygen`.
fn age_identity(dir: &std::path::Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read_to_string(&path).unwrap();
    let out = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&path)
        .output()
        .unwrap();
    (
        key,
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    )
}

/// `plain` encrypted by the reference sops for `recipient`, format by `name`.
fn sops_encrypt(
    dir: &std::path::Path,
    name: &str,
    plain: &str,
    recipient: &str,
    flags: &[&str],
) -> String {
    std::fs::write(dir.join(name), plain).unwrap();
    let out = std::process::Command::new(sops_bin())
        .current_dir(dir)
        .args(["encrypt", "--age", recipient])
        .args(flags)
        .arg(name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario: apply, a bad revision, then the leak scan"
)]
async fn sops_decryption_applies_secrets_and_a_wrong_key_keeps_the_last_good_state() {
    use k8s_openapi::api::core::v1::{Event, Secret};
    const DB_PASSWORD: &str = "pl41ntext-db-password";
    const API_TOKEN: &str = "pl41ntext-api-token";
    let (client, ns) = client_and_namespace("ks-sops").await;
    let tmp = tempfile::tempdir().unwrap();
    let (key, recipient) = age_identity(tmp.path(), "key.txt");
    let (_, stranger) = age_identity(tmp.path(), "other.txt");
    let secret_yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {DB_PASSWORD}\n"
    );
    let secret = sops_encrypt(
        tmp.path(),
        "secret.yaml",
        &secret_yaml,
        &recipient,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let env = sops_encrypt(
        tmp.path(),
        "app.env",
        &format!("API_TOKEN={API_TOKEN}\n"),
        &recipient,
        &[],
    );
    assert!(!secret.contains(DB_PASSWORD) && !env.contains(API_TOKEN));
    let kustomization = "resources:\n- secret.yaml\nsecretGenerator:\n- name: app-env\n  envs:\n  - app.env\ngeneratorOptions:\n  disableNameSuffixHash: true\n";
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("deploy/kustomization.yaml", kustomization),
                ("deploy/secret.yaml", &secret),
                ("deploy/app.env", &env),
            ],
        )
        .unwrap();
    let keys: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sops-age", "namespace": ns},
        "stringData": {"age.agekey": key}}))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &keys)
        .await
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    )
    .await;
    wait_applied(&client, &ns, &revision(&repo), &controllers).await;
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns);
    let value =
        |s: &Secret, k: &str| String::from_utf8(s.data.as_ref().unwrap()[k].0.clone()).unwrap();
    assert_eq!(
        value(&secrets.get("db").await.unwrap(), "password"),
        DB_PASSWORD
    );
    assert_eq!(
        value(&secrets.get("app-env").await.unwrap(), "API_TOKEN"),
        API_TOKEN
    );

    // A revision whose Secret is encrypted for another key: nothing of it is
    // applied, Ready names the file, the last good objects stay.
    let wrong = sops_encrypt(
        tmp.path(),
        "secret.yaml",
        &secret_yaml,
        &stranger,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let with_added = kustomization.replace("- secret.yaml\n", "- secret.yaml\n- added.yaml\n");
    repo.commit(
        &[
            ("deploy/secret.yaml", &wrong),
            ("deploy/added.yaml", CONFIG),
            ("deploy/kustomization.yaml", &with_added),
        ],
        "a Secret for another key, and a ConfigMap",
    )
    .unwrap();
    fetch_now(&client, &ns, &revision(&repo), "wrong-key").await;
    let message = eventually("the wrong key refused", STEP, || async {
        let (status, reason, message) = ready(&client, &ns).await?;
        (status == "False" && reason == "BuildFailed").then_some(message)
    })
    .await;
    assert!(message.contains("deploy/secret.yaml"), "{message}");
    let configs = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    assert!(
        configs.get_opt("podinfo-config").await.unwrap().is_none(),
        "nothing of the bad revision applied"
    );
    assert_eq!(
        value(&secrets.get("db").await.unwrap(), "password"),
        DB_PASSWORD
    );

    // No plaintext in the status, the events or the controllers' logs.
    let status = serde_json::to_string(
        &Api::<Kustomization>::namespaced(client.clone(), &ns)
            .get("podinfo")
            .await
            .unwrap()
            .status,
    )
    .unwrap();
    let events = serde_json::to_string(
        &Api::<Event>::namespaced(client.clone(), &ns)
            .list(&kube::api::ListParams::default())
            .await
            .unwrap()
            .items,
    )
    .unwrap();
    let logs = controllers.logs();
    for plaintext in [DB_PASSWORD, API_TOKEN] {
        assert!(!status.contains(plaintext), "the status leaks {plaintext}");
        assert!(!events.contains(plaintext), "an event leaks {plaintext}");
        assert!(!logs.contains(plaintext), "the logs leak {plaintext}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_decryption_secret_is_named_and_nothing_is_applied() {
    let (client, ns) = client_and_namespace("ks-sops-missing").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("podinfo", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let _controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({"decryption": {"provider": "sops", "secretRef": {"name": "absent-keys"}}}),
    )
    .await;
    let message = eventually("the missing Secret named", STEP, || async {
        let (status, _, message) = ready(&client, &ns).await?;
        (status == "False" && message.contains("absent-keys")).then_some(message)
    })
    .await;
    assert!(message.contains("not found"), "{message}");
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get_opt("podinfo-config")
            .await
            .unwrap()
            .is_none()
    );
}

/// `spec.healthCheckExprs` judge a custom kind with CEL (a Widget without
/// conditions, which kstatus would call ready at once), and
/// `spec.dependsOn[].readyExpr` replaces the built-in dependency check;
/// an expression that does not parse stalls its Kustomization, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn cel_health_checks_and_ready_expressions_decide_readiness() {
    let (client, ns) = client_and_namespace("ks-cel").await;
    let server = GitServer::start(None).await.unwrap();
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: cog\nspec:\n  teeth: 8\n";
    server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("deploy/crd.yaml", CRD),
                ("deploy/widget.yaml", widget),
                ("app/config.yaml", CONFIG),
            ],
        )
        .unwrap();
    let controllers = Controllers::start(&ns);
    create_sources_with(
        &client,
        &ns,
        &server.url("podinfo"),
        "./deploy",
        serde_json::json!({
            "deletionPolicy": "Orphan", "wait": true, "timeout": "3m",
            "healthCheckExprs": [{
                "apiVersion": "example.com/v1", "kind": "Widget",
                "current": "status.?phase.orValue('') == 'Ready'",
                "failed": "status.?phase.orValue('') == 'Broken'",
            }],
        }),
    )
    .await;
    create_kustomization(
        &client,
        &ns,
        "app",
        "./app",
        serde_json::json!({"dependsOn": [{"name": "podinfo",
            "readyExpr": "dep.metadata.?labels.stage.orValue('') == 'go'"}]}),
    )
    .await;
    create_kustomization(
        &client,
        &ns,
        "bad",
        "./app",
        serde_json::json!({"healthCheckExprs": [{"apiVersion": "example.com/v1",
            "kind": "Widget", "current": "status.("}]}),
    )
    .await;
    let widgets = Api::<kube::api::DynamicObject>::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "example.com",
            "v1",
            "Widget",
        )),
    );
    eventually("the Widget applied", STEP, || async {
        widgets.get_opt("cog").await.ok().flatten()
    })
    .await;
    let set_phase = |phase: &'static str| {
        let widgets = widgets.clone();
        async move {
            widgets
                .patch(
                    "cog",
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"status": {"phase": phase}})),
                )
                .await
                .unwrap();
        }
    };
    // The failed expression holds: the health check fails early.
    set_phase("Broken").await;
    let message = eventually(
        "the health check failing on the failed expression",
        STEP,
        || async {
            let (status, reason, message) = ready(&client, &ns).await?;
            (status == "False" && reason == "HealthCheckFailed").then_some(message)
        },
    )
    .await;
    assert!(message.contains("failed early"), "{message}");
    assert!(message.contains("Widget"), "{message}");
    assert!(message.contains("failed expression holds"), "{message}");

    // The current expression holds: Ready.
    set_phase("Ready").await;
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(&requested("phase-ready")),
        )
        .await
        .unwrap();
    eventually("Ready once the current expression holds", STEP, || async {
        let (status, _, _) = ready(&client, &ns).await?;
        (status == "True").then_some(())
    })
    .await;

    // The dependency is Ready, but the readyExpr wants a label.
    let message = eventually("app waiting on its readyExpr", STEP, || async {
        let (status, reason, message) = ready_of(&client, &ns, "app").await?;
        (status == "False" && reason == "DependencyNotReady" && message.contains("readyExpr"))
            .then_some(message)
    })
    .await;
    assert!(message.contains(&format!("{ns}/podinfo")), "{message}");
    Api::<Kustomization>::namespaced(client.clone(), &ns)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"stage": "go"}}})),
        )
        .await
        .unwrap();
    eventually("app applied once the readyExpr holds", STEP, || async {
        let (status, _, _) = ready_of(&client, &ns, "app").await?;
        (status == "True").then_some(())
    })
    .await;
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get_opt("podinfo-config")
            .await
            .unwrap()
            .is_some()
    );

    let (status, reason, message) = eventually("bad stalled", STEP, || async {
        let ks = Api::<Kustomization>::namespaced(client.clone(), &ns)
            .get("bad")
            .await
            .ok()?;
        let c = ks
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Stalled")?;
        Some((c.status, c.reason, c.message))
    })
    .await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "InvalidCELExpression")
    );
    assert!(
        message.contains("spec.healthCheckExprs[0].current"),
        "{message}"
    );
    drop(controllers);
}
