//! `install`, `uninstall` and `check`. The manifests are the Helm chart's
//! (`charts/ferroflux`), rendered for the `flux-system` namespace into
//! `data/install.yaml` by `scripts/render-install.sh`; a test fails when
//! that file is stale.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt as _};
use serde_json::{Value, json};

use crate::cluster::{self, Resources};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::kinds;

/// The install manifests: every component, the extra ones included.
pub const MANIFEST: &str = include_str!("../data/install.yaml");

/// The components installed only when `--components-extra` names them, as
/// Flux's extra components (their objects carry this component label).
pub const EXTRA_COMPONENTS: [&str; 1] = ["source-watcher"];

/// The namespace the manifests install into.
pub const NAMESPACE: &str = "flux-system";

/// The oldest Kubernetes minor version supported: the test control plane's
/// (Debian's `kubernetes` package), the oldest the controllers are tested on.
const MIN_MINOR: u32 = 20;

/// How often waits look again.
const POLL: Duration = Duration::from_millis(500);

/// The install manifests as objects, in order, every component included.
///
/// # Errors
/// The embedded manifest not parsing (a build defect).
pub fn objects() -> Result<Vec<Value>> {
    let docs = ferroflux_kustomize::yaml::parse_documents(MANIFEST)
        .map_err(|e| Error::Build(format!("the embedded install manifest: {e}")))?;
    Ok(docs.into_iter().filter(Value::is_object).collect())
}

/// The component an object of the manifest belongs to, if any.
fn component(obj: &Value) -> Option<&str> {
    obj["metadata"]["labels"]["app.kubernetes.io/component"].as_str()
}

/// The objects `install` applies: the default components, plus the extra
/// ones named in `extra`.
///
/// # Errors
/// [`Error::Usage`] naming an extra component that does not exist.
pub fn selected(extra: &[String]) -> Result<Vec<Value>> {
    for name in extra {
        if !EXTRA_COMPONENTS.contains(&name.as_str()) {
            return Err(Error::Usage(format!(
                "unknown extra component '{name}'; the extra components are {}",
                EXTRA_COMPONENTS.join(", ")
            )));
        }
    }
    Ok(objects()?
        .into_iter()
        .filter(|o| {
            component(o)
                .is_none_or(|c| !EXTRA_COMPONENTS.contains(&c) || extra.iter().any(|e| e == c))
        })
        .collect())
}

/// The manifest `install --export` prints for `extra`.
///
/// # Errors
/// As [`selected`].
pub fn manifest(extra: &[String]) -> Result<String> {
    Ok(ferroflux_kustomize::yaml::to_yaml_stream(&selected(extra)?))
}

fn is_crd(obj: &Value) -> bool {
    obj["kind"] == "CustomResourceDefinition"
}

/// `install`: prints the manifests with `export`; otherwise applies the
/// CRDs, waits until they are established, applies the objects of the
/// default components and of the `extra` ones (`--components-extra`) and, with
/// `wait`, waits for the controllers' Deployments to be available.
///
/// # Errors
/// An apply the server refuses, or a wait timing out.
pub async fn install(ctx: &Context, export: bool, wait: bool, extra: &[String]) -> Result<()> {
    if export {
        crate::ui::out(&manifest(extra)?);
        return Ok(());
    }
    let objects = selected(extra)?;
    let mut resources = Resources::default();
    let (crds, rest): (Vec<&Value>, Vec<&Value>) = objects.iter().partition(|o| is_crd(o));
    ctx.ui.action(&format!("installing {} CRDs", crds.len()));
    for crd in &crds {
        cluster::apply(&ctx.client, &mut resources, crd).await?;
    }
    let crd_api: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    for crd in &crds {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        wait_for(ctx, &format!("CRD {name} to be established"), || async {
            let found = crd_api.get_opt(name).await.ok()??;
            established(&found).then_some(())
        })
        .await?;
    }
    ctx.ui.success("CRDs established");
    ctx.ui.action(&format!(
        "applying {} objects to namespace {NAMESPACE}",
        rest.len()
    ));
    for obj in &rest {
        cluster::apply(&ctx.client, &mut resources, obj).await?;
    }
    ctx.ui.success("controllers installed");
    if wait {
        let deployments = Api::<Deployment>::namespaced(ctx.client.clone(), NAMESPACE);
        for obj in rest.iter().filter(|o| o["kind"] == "Deployment") {
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            ctx.ui.waiting(&format!("waiting for {name}"));
            wait_for(
                ctx,
                &format!("Deployment {name} to be available"),
                || async {
                    let d = deployments.get_opt(name).await.ok()??;
                    available(&d).then_some(())
                },
            )
            .await?;
            ctx.ui.success(&format!("{name} ready"));
        }
    }
    ctx.ui.success("install finished");
    Ok(())
}

/// Polls `probe` until it answers or the context's timeout passes.
async fn wait_for<F, Fut>(ctx: &Context, what: &str, probe: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<()>>,
{
    let started = Instant::now();
    let mut tick = 0;
    loop {
        if probe().await.is_some() {
            return Ok(());
        }
        if started.elapsed() >= ctx.timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                seconds: ctx.timeout.as_secs(),
            });
        }
        ctx.ui.spin(tick, &format!("waiting for {what}"));
        tick += 1;
        // Polling pace while the cluster works.
        tokio::time::sleep(POLL).await;
    }
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

fn available(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    status.observed_generation == d.metadata.generation
        && status.available_replicas.unwrap_or(0) >= want
        && status.updated_replicas.unwrap_or(0) >= want
}

/// `uninstall`: removes the controllers, the finalizers of every Flux
/// object (so nothing is left waiting for a controller that is gone; the
/// objects they applied stay), the CRDs with the Flux objects, and the
/// namespace unless `keep_namespace`. Asks first on a terminal unless
/// `silent`.
///
/// # Errors
/// Refusing without a terminal and without `--silent`, or a deletion the
/// server refuses.
pub async fn uninstall(ctx: &Context, keep_namespace: bool, silent: bool) -> Result<()> {
    if !silent {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage(
                "uninstall deletes the controllers, the CRDs and every Flux object; pass --silent to confirm without a terminal".into(),
            ));
        }
        eprint!("Delete Ferroflux, its CRDs and every Flux object in the cluster? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Error::Usage("uninstall cancelled".into()));
        }
    }
    let objects = objects()?;
    let mut resources = Resources::default();
    ctx.ui.action("deleting the controllers");
    for obj in objects
        .iter()
        .rev()
        .filter(|o| !is_crd(o) && o["kind"] != "Namespace")
    {
        delete(ctx, &mut resources, obj).await?;
    }
    ctx.ui.action("removing finalizers from Flux objects");
    for kind in kinds::all() {
        let Ok(items) = cluster::list(&ctx.client, &kind, None).await else {
            continue;
        };
        for item in items {
            let (ns, name) = (
                item["metadata"]["namespace"].as_str().unwrap_or_default(),
                item["metadata"]["name"].as_str().unwrap_or_default(),
            );
            if item["metadata"]["finalizers"].is_null() {
                continue;
            }
            cluster::api(&ctx.client, &kind, Some(ns))
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await
                .map_err(|e| {
                    Error::api(
                        &format!("removing the finalizers of {} {ns}/{name}", kind.name()),
                        &e,
                    )
                })?;
        }
    }
    ctx.ui.action("deleting the CRDs");
    for obj in objects.iter().filter(|o| is_crd(o)) {
        delete(ctx, &mut resources, obj).await?;
    }
    if !keep_namespace {
        ctx.ui.action(&format!("deleting namespace {NAMESPACE}"));
        for obj in objects.iter().filter(|o| o["kind"] == "Namespace") {
            delete(ctx, &mut resources, obj).await?;
        }
    }
    ctx.ui.success("uninstall finished");
    Ok(())
}

async fn delete(ctx: &Context, resources: &mut Resources, obj: &Value) -> Result<()> {
    let (resource, namespaced) = resources.of(&ctx.client, obj).await?;
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<kube::api::DynamicObject> = match obj["metadata"]["namespace"].as_str() {
        Some(ns) if namespaced => Api::namespaced_with(ctx.client.clone(), ns, &resource),
        _ => Api::all_with(ctx.client.clone(), &resource),
    };
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            ctx.ui.success(&format!("{} {name} deleted", resource.kind));
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::api(
            &format!("deleting {} {name}", resource.kind),
            &e,
        )),
    }
}

/// `check`: the Kubernetes version and, unless `pre`, the CRDs and the
/// controllers' Deployments in `flux-system`. Prints one line per check.
///
/// # Errors
/// [`Error::Found`] when a check failed (each was printed).
pub async fn check(ctx: &Context, pre: bool) -> Result<()> {
    let mut failed = 0;
    ctx.ui.action("checking prerequisites");
    let version = ctx
        .client
        .apiserver_version()
        .await
        .map_err(|e| Error::Connect(e.to_string()))?;
    let minor: u32 = version.minor.trim_end_matches('+').parse().unwrap_or(0);
    if version.major == "1" && minor >= MIN_MINOR {
        ctx.ui.success(&format!(
            "Kubernetes {} >=1.{MIN_MINOR}.0",
            version.git_version
        ));
    } else {
        ctx.ui.failure(&format!(
            "Kubernetes {} is older than 1.{MIN_MINOR}",
            version.git_version
        ));
        failed += 1;
    }
    if !pre {
        failed += check_crds(ctx).await;
        failed += check_controllers(ctx).await?;
    }
    if failed > 0 {
        return Err(Error::Found(format!("{failed} check(s) failed")));
    }
    ctx.ui.success("all checks passed");
    Ok(())
}

async fn check_crds(ctx: &Context) -> usize {
    ctx.ui.action("checking CRDs");
    let api: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    let mut failed = 0;
    for kind in kinds::all() {
        let name = format!("{}.{}", kind.resource.plural, kind.resource.group);
        match api.get_opt(&name).await {
            Ok(Some(crd)) if established(&crd) => {
                let versions: Vec<String> = crd
                    .spec
                    .versions
                    .iter()
                    .filter(|v| v.served)
                    .map(|v| v.name.clone())
                    .collect();
                ctx.ui
                    .success(&format!("{} ({})", crd.name_any(), versions.join(", ")));
            }
            Ok(Some(_)) => {
                ctx.ui.failure(&format!("{name} is not established"));
                failed += 1;
            }
            Ok(None) => {
                ctx.ui
                    .failure(&format!("{name} is missing; run `ferroflux install`"));
                failed += 1;
            }
            Err(e) => {
                ctx.ui.failure(&format!("{name}: {e}"));
                failed += 1;
            }
        }
    }
    failed
}

async fn check_controllers(ctx: &Context) -> Result<usize> {
    ctx.ui
        .action(&format!("checking controllers in namespace {NAMESPACE}"));
    let api = Api::<Deployment>::namespaced(ctx.client.clone(), NAMESPACE);
    let mut failed = 0;
    for obj in objects()?.iter().filter(|o| o["kind"] == "Deployment") {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let extra = component(obj).is_some_and(|c| EXTRA_COMPONENTS.contains(&c));
        match api.get_opt(name).await {
            // An extra component is checked only when it was installed.
            Ok(None) if extra => {}
            Ok(Some(d)) if available(&d) => {
                let image = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default();
                ctx.ui
                    .success(&format!("{name}: deployment ready ({image})"));
            }
            Ok(Some(_)) => {
                ctx.ui.failure(&format!("{name}: deployment not ready; see `kubectl -n {NAMESPACE} describe deployment {name}`"));
                failed += 1;
            }
            Ok(None) => {
                ctx.ui
                    .failure(&format!("{name}: not installed; run `ferroflux install`"));
                failed += 1;
            }
            Err(e) => {
                ctx.ui.failure(&format!("{name}: {e}"));
                failed += 1;
            }
        }
    }
    Ok(failed)
}
