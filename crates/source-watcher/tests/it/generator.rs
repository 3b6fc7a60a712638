//! ArtifactGenerator end to end on a local replica of Flux's
//! `flux2-kustomize-helm-example` layout: a monorepo served by the real git
//! server, its GitRepository by the source-controller process, split by the
//! source-watcher process into `infrastructure` and `apps` ExternalArtifacts,
//! applied by the kustomize-controller process.

use std::time::Duration;

use ferroflux_api::extensions::ArtifactGenerator;
use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::meta::{Artifact, Condition};
use ferroflux_api::source::{ExternalArtifact, GitRepository};
use ferroflux_testenv::controller::{
    ControllerProcess, SourceController, free_port, workspace_binary,
};
use ferroflux_testenv::git::{GitServer, WorkingCopy};
use ferroflux_testenv::{eventually_gone, poll};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// How long a step may take on the noisy two-core machine.
const STEP: Duration = Duration::from_secs(90);

/// The source-, kustomize-controller and source-watcher watching `ns`; killed on drop.
struct Controllers {
    source: SourceController,
    watcher: ControllerProcess,
    kustomize: Option<ControllerProcess>,
    helm: Option<ControllerProcess>,
    _storage: tempfile::TempDir,
}

/// Which consumers run beside the source-controller and the source-watcher.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consumers {
    None,
    Kustomize,
    Helm,
}

impl Controllers {
    fn start(ns: &str, consumers: Consumers) -> Self {
        let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
        let source = SourceController::start(
            &workspace_binary("ferroflux-source-controller"),
            cp.kubeconfig(),
            ns,
            &[],
        );
        let storage = tempfile::tempdir().unwrap();
        let port = free_port();
        let watcher = ControllerProcess::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_ferroflux-source-watcher")),
            cp.kubeconfig(),
            ns,
            "source-watcher-0",
            &[
                format!("--storage-path={}", storage.path().display()),
                format!("--storage-addr=127.0.0.1:{port}"),
                format!("--storage-adv-addr=127.0.0.1:{port}"),
                "--requeue-dependency=1s".to_owned(),
            ],
        );
        let consumer = |binary: &str, pod: &str| {
            ControllerProcess::start(
                &workspace_binary(binary),
                cp.kubeconfig(),
                ns,
                pod,
                &["--requeue-dependency=1s".to_owned()],
            )
        };
        let kustomize = (consumers == Consumers::Kustomize)
            .then(|| consumer("ferroflux-kustomize-controller", "kustomize-controller-0"));
        let helm = (consumers == Consumers::Helm)
            .then(|| consumer("ferroflux-helm-controller", "helm-controller-0"));
        Self {
            source,
            watcher,
            kustomize,
            helm,
            _storage: storage,
        }
    }

    fn logs(&self) -> String {
        format!(
            "--- source-controller\n{}\n--- source-watcher\n{}\n--- kustomize-controller\n{}\n--- helm-controller\n{}",
            self.source.process.log(),
            self.watcher.log(),
            self.kustomize
                .as_ref()
                .map(ControllerProcess::log)
                .unwrap_or_default(),
            self.helm
                .as_ref()
                .map(ControllerProcess::log)
                .unwrap_or_default()
        )
    }
}

/// The example repository's layout, reduced to objects a control plane
/// without nodes can make Ready: `infrastructure/controllers` and
/// `infrastructure/configs` (patched per cluster by the Kustomization, as
/// the example patches its `ClusterIssuer`), `apps/base` and the
/// `apps/staging` overlay.
fn monorepo() -> Vec<(&'static str, String)> {
    vec![
        (
            "infrastructure/controllers/kustomization.yaml",
            "resources:\n- controller.yaml\n".into(),
        ),
        (
            "infrastructure/controllers/controller.yaml",
            config_map("ingress-controller", "replicas: \"1\""),
        ),
        (
            "infrastructure/configs/kustomization.yaml",
            "resources:\n- issuer.yaml\n".into(),
        ),
        (
            "infrastructure/configs/issuer.yaml",
            config_map(
                "letsencrypt",
                "server: https://acme-v02.api.letsencrypt.org/directory",
            ),
        ),
        (
            "apps/base/podinfo/kustomization.yaml",
            "resources:\n- config.yaml\n".into(),
        ),
        (
            "apps/base/podinfo/config.yaml",
            config_map("podinfo", "color: blue"),
        ),
        (
            "apps/staging/kustomization.yaml",
            "resources:\n- ../base/podinfo\npatches:\n- path: podinfo-values.yaml\n".into(),
        ),
        (
            "apps/staging/podinfo-values.yaml",
            config_map("podinfo", "color: staging"),
        ),
        (
            "clusters/staging/README.md",
            "the Flux objects live in the test\n".into(),
        ),
    ]
}

fn config_map(name: &str, data: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {data}\n")
}

/// `clusters/staging/artifacts.yaml` of the example, as it is.
fn generator(ns: &str) -> ArtifactGenerator {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "flux-system", "namespace": ns},
        "spec": {
            "sources": [{"alias": "monorepo", "kind": "GitRepository", "name": "flux-system"}],
            "artifacts": [
                {"name": "infrastructure", "originRevision": "@monorepo",
                 "copy": [{"from": "@monorepo/infrastructure/**", "to": "@artifact/"}]},
                {"name": "apps", "originRevision": "@monorepo",
                 "copy": [
                    {"from": "@monorepo/apps/base/**", "to": "@artifact/base/"},
                    {"from": "@monorepo/apps/staging/**", "to": "@artifact/staging/"}
                 ]}
            ]
        }
    }))
    .unwrap()
}

async fn create_repository(client: &Client, ns: &str, url: &str) {
    let repo: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": ns},
        "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}}
    }))
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &repo)
        .await
        .unwrap();
}

/// The example's `clusters/staging/infrastructure.yaml` and `apps.yaml` on
/// top of the ExternalArtifacts: `dependsOn`, `wait` and `patches`.
async fn create_kustomizations(client: &Client, ns: &str) {
    let api = Api::<Kustomization>::namespaced(client.clone(), ns);
    let specs = [
        (
            "infra-controllers",
            serde_json::json!({
                "sourceRef": {"kind": "ExternalArtifact", "name": "infrastructure"},
                "path": "./controllers", "wait": true
            }),
        ),
        (
            "infra-configs",
            serde_json::json!({
                "dependsOn": [{"name": "infra-controllers"}],
                "sourceRef": {"kind": "ExternalArtifact", "name": "infrastructure"},
                "path": "./configs",
                "patches": [{
                    "patch": "- op: replace\n  path: /data/server\n  value: https://acme-staging-v02.api.letsencrypt.org/directory\n",
                    "target": {"kind": "ConfigMap", "name": "letsencrypt"}
                }]
            }),
        ),
        (
            "apps",
            serde_json::json!({
                "dependsOn": [{"name": "infra-configs"}],
                "sourceRef": {"kind": "ExternalArtifact", "name": "apps"},
                "path": "./staging", "wait": true
            }),
        ),
    ];
    for (name, extra) in specs {
        let mut spec = serde_json::json!({
            "interval": "1h", "retryInterval": "2s", "timeout": "1m",
            "prune": true, "targetNamespace": ns
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let ks: Kustomization = serde_json::from_value(serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }))
        .unwrap();
        api.create(&PostParams::default(), &ks).await.unwrap();
    }
}

fn ready_of(conditions: &[Condition]) -> Option<(String, String, String)> {
    conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn generator_ready(
    client: &Client,
    ns: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let ag = Api::<ArtifactGenerator>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .ok()?;
    ready_of(&ag.status?.conditions)
}

async fn artifact(client: &Client, ns: &str, name: &str) -> Option<Artifact> {
    Api::<ExternalArtifact>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .ok()??
        .status?
        .artifact
}

/// Waits for `what` with the controllers' logs in the failure message.
async fn wait<T, F, Fut>(what: &str, controllers: &Controllers, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(STEP, check).await {
        Some(v) => v,
        None => panic!("timed out waiting until {what}\n{}", controllers.logs()),
    }
}

async fn wait_ks_ready(client: &Client, ns: &str, name: &str, revision: &str, c: &Controllers) {
    let api = Api::<Kustomization>::namespaced(client.clone(), ns);
    wait(
        &format!("Kustomization {name} applied {revision}"),
        c,
        || async {
            let status = api.get(name).await.ok()?.status?;
            let (ready, _, _) = ready_of(&status.conditions)?;
            (ready == "True" && status.last_applied_revision.as_deref() == Some(revision))
                .then_some(())
        },
    )
    .await;
}

async fn data(client: &Client, ns: &str, name: &str, key: &str) -> Option<String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .ok()??
        .data?
        .get(key)
        .cloned()
}

fn git_revision(repo: &WorkingCopy) -> String {
    format!("main@sha1:{}", repo.head().unwrap())
}

/// Downloads `artifact` from the watcher's artifact server and checks its digest.
async fn served(artifact: &Artifact) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    ferroflux_artifact::fetch::fetch(
        &ferroflux_tls::http_client(),
        &artifact.url,
        artifact.digest.as_deref().unwrap_or_default(),
        dir.path(),
        ferroflux_artifact::fetch::Options {
            attempts: 1,
            ..ferroflux_artifact::fetch::Options::default()
        },
    )
    .await
    .map(drop)
    .map_err(|e| e.to_string())
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario, read top to bottom in the order the issue lists its steps"
)]
async fn the_example_layout_is_split_into_two_artifacts_and_delivered() {
    let (client, ns) = ferroflux_testenv::setup("sw-example", &ferroflux_api::all_crds()).await;
    let git = GitServer::start(None).await.unwrap();
    let files = monorepo();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let repo = git.create_repo("monorepo", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns, Consumers::Kustomize);
    create_repository(&client, &ns, &git.url("monorepo")).await;
    let generators = Api::<ArtifactGenerator>::namespaced(client.clone(), &ns);
    generators
        .create(&PostParams::default(), &generator(&ns))
        .await
        .unwrap();
    create_kustomizations(&client, &ns).await;

    // Both artifacts generated, with content revisions and the commit as origin.
    let first = git_revision(&repo);
    let (infra, apps) = wait(
        "both ExternalArtifacts carry the first commit",
        &controllers,
        || async {
            let (ready, _, message) = generator_ready(&client, &ns, "flux-system").await?;
            let infra = artifact(&client, &ns, "infrastructure").await?;
            let apps = artifact(&client, &ns, "apps").await?;
            let origin = |a: &Artifact| {
                a.metadata
                    .as_ref()?
                    .get("org.opencontainers.image.revision")
                    .cloned()
            };
            (ready == "True"
                && message == "reconciliation succeeded, generated 2 artifact(s)"
                && origin(&infra).as_deref() == Some(first.as_str())
                && origin(&apps).as_deref() == Some(first.as_str()))
            .then_some((infra, apps))
        },
    )
    .await;
    for a in [&infra, &apps] {
        let digest = a.digest.clone().unwrap();
        assert_eq!(a.revision, format!("latest@{digest}"));
        served(a).await.unwrap();
    }
    let ag = generators.get("flux-system").await.unwrap();
    let inventory: Vec<String> = ag
        .status
        .unwrap()
        .inventory
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(inventory, ["infrastructure", "apps"]);
    let ea = Api::<ExternalArtifact>::namespaced(client.clone(), &ns)
        .get("apps")
        .await
        .unwrap();
    let owner = &ea.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ArtifactGenerator", "flux-system")
    );
    assert_eq!(ea.spec.source_ref.unwrap().kind, "ArtifactGenerator");

    // The runtime's metrics, as Flux names them.
    let metrics = ferroflux_tls::http_client()
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            controllers.watcher.metrics_port
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ready = format!(
        "gotk_reconcile_condition{{kind=\"ArtifactGenerator\",name=\"flux-system\",namespace=\"{ns}\",type=\"Ready\",status=\"True\"}} 1"
    );
    assert!(metrics.contains(&ready), "{metrics}");

    // The Kustomizations on top: dependsOn, wait and patches all work.
    wait_ks_ready(
        &client,
        &ns,
        "infra-controllers",
        &infra.revision,
        &controllers,
    )
    .await;
    wait_ks_ready(&client, &ns, "infra-configs", &infra.revision, &controllers).await;
    wait_ks_ready(&client, &ns, "apps", &apps.revision, &controllers).await;
    assert_eq!(
        data(&client, &ns, "letsencrypt", "server").await.as_deref(),
        Some("https://acme-staging-v02.api.letsencrypt.org/directory")
    );
    assert_eq!(
        data(&client, &ns, "podinfo", "color").await.as_deref(),
        Some("staging")
    );
    assert_eq!(
        data(&client, &ns, "ingress-controller", "replicas")
            .await
            .as_deref(),
        Some("1")
    );

    // A commit under apps/ changes only the apps artifact.
    repo.commit(
        &[(
            "apps/base/podinfo/config.yaml",
            &config_map("podinfo", "color: blue\n  size: large"),
        )],
        "podinfo: size",
    )
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), &ns)
        .patch(
            "flux-system",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "commit-2"}}})),
        )
        .await
        .unwrap();
    let second = git_revision(&repo);
    let apps2 = wait(
        "the apps artifact has a new revision",
        &controllers,
        || async {
            let a = artifact(&client, &ns, "apps").await?;
            (a.revision != apps.revision).then_some(a)
        },
    )
    .await;
    assert_eq!(
        apps2.metadata.as_ref().unwrap()["org.opencontainers.image.revision"],
        second
    );
    let infra2 = wait(
        "the infrastructure artifact records the new origin",
        &controllers,
        || async {
            let a = artifact(&client, &ns, "infrastructure").await?;
            let origin = a
                .metadata
                .as_ref()?
                .get("org.opencontainers.image.revision")?
                .clone();
            (origin == second).then_some(a)
        },
    )
    .await;
    assert_eq!(
        infra2.revision, infra.revision,
        "the infrastructure content did not change"
    );
    assert_eq!(infra2.digest, infra.digest);
    assert_eq!(infra2.path, infra.path);
    assert_eq!(infra2.last_update_time, infra.last_update_time);
    wait_ks_ready(&client, &ns, "apps", &apps2.revision, &controllers).await;
    assert_eq!(
        data(&client, &ns, "podinfo", "size").await.as_deref(),
        Some("large")
    );
    let infra_ks = Api::<Kustomization>::namespaced(client.clone(), &ns)
        .get("infra-controllers")
        .await
        .unwrap();
    assert_eq!(
        infra_ks.status.unwrap().last_applied_revision.as_deref(),
        Some(infra.revision.as_str())
    );

    // An artifact removed from the spec: its ExternalArtifact and its file go.
    generators
        .patch(
            "flux-system",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"artifacts": [
                generator(&ns).spec.artifacts[0]
            ]}})),
        )
        .await
        .unwrap();
    let eas = Api::<ExternalArtifact>::namespaced(client.clone(), &ns);
    eventually_gone(&eas, "apps", STEP).await;
    wait(
        "the inventory lists only infrastructure",
        &controllers,
        || async {
            let status = generators.get("flux-system").await.ok()?.status?;
            (status.inventory.len() == 1 && status.inventory[0].name == "infrastructure")
                .then_some(())
        },
    )
    .await;
    assert!(
        served(&apps2).await.is_err(),
        "the removed artifact is no longer served"
    );
    served(&infra2).await.unwrap();

    // Deleting the generator deletes what it generated.
    generators
        .delete("flux-system", &DeleteParams::default())
        .await
        .unwrap();
    eventually_gone(&eas, "infrastructure", STEP).await;
    eventually_gone(&generators, "flux-system", STEP).await;
    assert!(
        served(&infra2).await.is_err(),
        "the generator's artifacts are removed"
    );
}

#[tokio::test]
async fn bad_copies_and_missing_sources_are_named_and_the_last_artifact_stays_served() {
    let (client, ns) = ferroflux_testenv::setup("sw-errors", &ferroflux_api::all_crds()).await;
    let git = GitServer::start(None).await.unwrap();
    let files = monorepo();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let _repo = git.create_repo("monorepo", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns, Consumers::None);
    create_repository(&client, &ns, &git.url("monorepo")).await;
    let generators = Api::<ArtifactGenerator>::namespaced(client.clone(), &ns);
    let mut ag = generator(&ns);
    ag.metadata.name = Some("split".into());
    generators
        .create(&PostParams::default(), &ag)
        .await
        .unwrap();
    let good = wait("the generator is Ready", &controllers, || async {
        let (ready, _, _) = generator_ready(&client, &ns, "split").await?;
        if ready != "True" {
            return None;
        }
        artifact(&client, &ns, "apps").await
    })
    .await;

    let set_spec = |spec: serde_json::Value| {
        let generators = generators.clone();
        async move {
            generators
                .patch(
                    "split",
                    &PatchParams::default(),
                    &Patch::Merge(&serde_json::json!({"spec": spec})),
                )
                .await
                .unwrap();
        }
    };
    let expect = |reason: &'static str, text: String| {
        let client = client.clone();
        let ns = ns.clone();
        let controllers = &controllers;
        async move {
            wait(
                &format!("Ready=False {reason} naming {text:?}"),
                controllers,
                || async {
                    let (ready, r, message) = generator_ready(&client, &ns, "split").await?;
                    (ready == "False" && r == reason && message.contains(&text)).then_some(())
                },
            )
            .await;
        }
    };

    // A glob that matches nothing: BuildFailed, naming it; apps keeps its artifact.
    set_spec(serde_json::json!({"artifacts": [
        {"name": "infrastructure", "copy": [{"from": "@monorepo/infrastructure/**", "to": "@artifact/"}]},
        {"name": "apps", "copy": [
            {"from": "@monorepo/apps/**", "to": "@artifact/"},
            {"from": "@monorepo/charts/*.yaml", "to": "@artifact/charts/"}
        ]}
    ]}))
    .await;
    expect(
        "BuildFailed",
        "no files match 'charts/*.yaml' in source '@monorepo'".into(),
    )
    .await;
    assert_eq!(artifact(&client, &ns, "apps").await, Some(good.clone()));
    served(&good).await.unwrap();

    // A source that does not exist: SourceFetchFailed, naming it.
    set_spec(serde_json::json!({
        "sources": [
            {"alias": "monorepo", "kind": "GitRepository", "name": "flux-system"},
            {"alias": "charts", "kind": "OCIRepository", "name": "missing"}
        ],
        "artifacts": [
            {"name": "infrastructure", "copy": [{"from": "@monorepo/infrastructure/**", "to": "@artifact/"}]},
            {"name": "apps", "copy": [{"from": "@charts/**", "to": "@artifact/"}]}
        ]
    }))
    .await;
    expect(
        "SourceFetchFailed",
        format!("OCIRepository {ns}/missing not found"),
    )
    .await;
    assert_eq!(artifact(&client, &ns, "apps").await, Some(good.clone()));
    served(&good).await.unwrap();

    // A path leaving the source: stalled, naming the field.
    set_spec(serde_json::json!({
        "sources": [{"alias": "monorepo", "kind": "GitRepository", "name": "flux-system"}],
        "artifacts": [
            {"name": "apps", "copy": [{"from": "@monorepo/../../etc/**", "to": "@artifact/"}]}
        ]
    }))
    .await;
    expect("ValidationFailed", "spec.artifacts[0].copy[0]".into()).await;
    let status = generators.get("split").await.unwrap().status.unwrap();
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True"),
        "{:?}",
        status.conditions
    );
    assert_eq!(artifact(&client, &ns, "apps").await, Some(good.clone()));
    served(&good).await.unwrap();

    // An ExternalArtifact of the same name made by someone else: refused by name, and
    // nothing of this generator's is published or deleted.
    let taken: ExternalArtifact = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
        "metadata": {"name": "taken", "namespace": ns},
        "spec": {}
    }))
    .unwrap();
    Api::<ExternalArtifact>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &taken)
        .await
        .unwrap();
    set_spec(serde_json::json!({
        "sources": [{"alias": "monorepo", "kind": "GitRepository", "name": "flux-system"}],
        "artifacts": [
            {"name": "apps", "copy": [{"from": "@monorepo/apps/staging/**", "to": "@artifact/"}]},
            {"name": "taken", "copy": [{"from": "@monorepo/apps/**", "to": "@artifact/"}]}
        ]
    }))
    .await;
    expect(
        "ValidationFailed",
        format!(
            "ExternalArtifact {ns}/taken exists and was not generated by this ArtifactGenerator"
        ),
    )
    .await;
    assert_eq!(artifact(&client, &ns, "taken").await, None);
    assert_eq!(artifact(&client, &ns, "apps").await, Some(good.clone()));
    assert!(artifact(&client, &ns, "infrastructure").await.is_some());
}

/// A chart in the monorepo and the staging values merged into it.
fn chart_files() -> Vec<(&'static str, String)> {
    vec![
        (
            "charts/podinfo/Chart.yaml",
            "apiVersion: v2\nname: podinfo\nversion: 1.0.0\n".into(),
        ),
        ("charts/podinfo/values.yaml", "color: blue\nsize: small\n".into()),
        (
            "charts/podinfo/templates/config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-chart\ndata:\n  color: {{ .Values.color | quote }}\n  size: {{ .Values.size | quote }}\n".into(),
        ),
        ("apps/staging/podinfo-chart-values.yaml", "color: staging\n".into()),
    ]
}

#[tokio::test]
async fn a_helm_release_installs_and_upgrades_a_chart_composed_by_a_generator() {
    let (client, ns) = ferroflux_testenv::setup("sw-helm", &ferroflux_api::all_crds()).await;
    let git = GitServer::start(None).await.unwrap();
    let files: Vec<_> = monorepo().into_iter().chain(chart_files()).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let repo = git.create_repo("monorepo", "main", &refs).unwrap();
    let controllers = Controllers::start(&ns, Consumers::Helm);
    create_repository(&client, &ns, &git.url("monorepo")).await;
    let ag: ArtifactGenerator = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "charts", "namespace": ns},
        "spec": {
            "sources": [{"alias": "monorepo", "kind": "GitRepository", "name": "flux-system"}],
            "artifacts": [{"name": "podinfo-chart", "copy": [
                {"from": "@monorepo/charts/podinfo/", "to": "@artifact/"},
                {"from": "@monorepo/apps/staging/podinfo-chart-values.yaml",
                 "to": "@artifact/podinfo/values.yaml", "strategy": "Merge"}
            ]}]
        }
    }))
    .unwrap();
    Api::<ArtifactGenerator>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &ag)
        .await
        .unwrap();
    let hr: ferroflux_api::helm::HelmRelease = serde_json::from_value(serde_json::json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": ns},
        "spec": {
            "interval": "1h",
            "chartRef": {"kind": "ExternalArtifact", "name": "podinfo-chart"}
        }
    }))
    .unwrap();
    let releases = Api::<ferroflux_api::helm::HelmRelease>::namespaced(client.clone(), &ns);
    releases.create(&PostParams::default(), &hr).await.unwrap();

    // Installed from the ExternalArtifact's current artifact: the chart's
    // version carries the artifact's digest, and the values are merged.
    let installed = |color: &'static str| {
        let (client, ns, releases) = (client.clone(), ns.clone(), releases.clone());
        async move {
            let digest = artifact(&client, &ns, "podinfo-chart").await?.digest?;
            let version = format!("1.0.0+{}", digest.strip_prefix("sha256:")?.get(..12)?);
            let cm = data(&client, &ns, "podinfo-chart", "color").await?;
            let size = data(&client, &ns, "podinfo-chart", "size").await?;
            let status = releases.get("podinfo").await.ok()?.status?;
            let (ready, _, _) = ready_of(&status.conditions)?;
            (ready == "True"
                && cm == color
                && size == "small"
                && status.last_attempted_revision.as_deref() == Some(version.as_str()))
            .then_some(version)
        }
    };
    let first = wait(
        "the composed chart is installed with the merged values",
        &controllers,
        || installed("staging"),
    )
    .await;

    // New values in git: a new artifact, and the release is upgraded to it.
    repo.commit(
        &[("apps/staging/podinfo-chart-values.yaml", "color: green\n")],
        "green",
    )
    .unwrap();
    Api::<GitRepository>::namespaced(client.clone(), &ns)
        .patch(
            "flux-system",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "green"}}})),
        )
        .await
        .unwrap();
    let second = wait(
        "the release is upgraded to the new values",
        &controllers,
        || installed("green"),
    )
    .await;
    assert_ne!(second, first);
}
