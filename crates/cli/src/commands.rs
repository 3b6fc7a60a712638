//! The everyday verbs: `create`, `get`, `reconcile`, `suspend`, `resume`,
//! `export` and `events`. Each takes a [`Context`] and prints results on
//! stdout, progress on stderr.

use std::time::Duration;

use futures_util::{StreamExt as _, TryStreamExt as _};
use kube::Client;
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::Value;

use crate::cluster::{self, Resources, Until};
use crate::error::{Error, Result};
use crate::kinds::{self, Kind};
use crate::table;
use crate::ui::{self, Ui};

/// What every command needs.
pub struct Context {
    /// The cluster.
    pub client: Client,
    /// `-n/--namespace`.
    pub namespace: String,
    /// How long to wait for a controller.
    pub timeout: Duration,
    /// Progress output.
    pub ui: Ui,
}

/// Prints `objects` as YAML documents separated by `---`.
pub fn print_yaml(objects: &[Value]) {
    ui::out(&ferroflux_kustomize::yaml::to_yaml_stream(objects));
}

/// Applies a `create` object, then waits for Ready when the kind has a
/// status and `wait` is set.
///
/// # Errors
/// The apply or the wait failing.
pub async fn create(ctx: &Context, kind: &Kind, obj: Value, wait: bool) -> Result<()> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ctx.ui.action(&format!(
        "applying {} {}/{name}",
        kind.name(),
        ctx.namespace
    ));
    cluster::apply(&ctx.client, &mut Resources::default(), &obj).await?;
    ctx.ui.success(&format!("{} {name} applied", kind.name()));
    if !(wait && kind.has_status) {
        return Ok(());
    }
    ctx.ui.waiting(&format!(
        "waiting for {} {name} to be reconciled",
        kind.name()
    ));
    let ready = cluster::wait_reconciled(
        &ctx.client,
        kind,
        &ctx.namespace,
        &name,
        Until::Settled,
        ctx.timeout,
        ctx.ui,
    )
    .await?;
    ctx.ui.success(&format!("{} {name} is ready", kind.name()));
    outcome(ctx, kind, &ready);
    Ok(())
}

/// Says what a Ready object has: its revision or webhook path.
fn outcome(ctx: &Context, kind: &Kind, obj: &Value) {
    let status = &obj["status"];
    if let Some(revision) = status["artifact"]["revision"].as_str() {
        ctx.ui.success(&format!("fetched revision: {revision}"));
    } else if kind.name() == "HelmRelease" {
        let revision = table::helm_release_revision(obj);
        if !revision.is_empty() {
            ctx.ui.success(&format!("applied revision: {revision}"));
        }
    } else if let Some(revision) = status["lastAppliedRevision"].as_str() {
        ctx.ui.success(&format!("applied revision: {revision}"));
    } else if let Some(path) = status["webhookPath"].as_str() {
        ctx.ui
            .success(&format!("{} webhook path: {path}", kind.name()));
    }
}

/// `get`: a table of `kinds` in the namespace or, with `all_namespaces`,
/// everywhere; with several kinds each name is prefixed by its kind.
///
/// # Errors
/// The API error; kinds whose CRD is missing are skipped when listing
/// several.
pub async fn get(
    ctx: &Context,
    kinds: &[Kind],
    all_namespaces: bool,
    width: Option<usize>,
) -> Result<()> {
    let namespace = (!all_namespaces).then_some(ctx.namespace.as_str());
    let mut any = false;
    for kind in kinds {
        let objects = match cluster::list(&ctx.client, kind, namespace).await {
            Ok(objects) => objects,
            Err(Error::NotInstalled(_)) if kinds.len() > 1 => continue,
            Err(e) => return Err(e),
        };
        if objects.is_empty() {
            continue;
        }
        let rows: Vec<table::Row> = objects
            .iter()
            .map(|o| {
                let mut row = table::row(kind, o);
                if kinds.len() > 1 {
                    row.name = format!("{}/{}", kind.name().to_lowercase(), row.name);
                }
                row
            })
            .collect();
        if any {
            ui::out("\n");
        }
        ui::out(&table::render(&rows, all_namespaces, width));
        any = true;
    }
    if !any {
        let what: Vec<&str> = kinds.iter().map(|k| k.resource.plural.as_str()).collect();
        let place =
            namespace.map_or_else(|| "any namespace".to_owned(), |n| format!("namespace {n}"));
        ctx.ui
            .failure(&format!("no {} found in {place}", what.join(", ")));
    }
    Ok(())
}

/// `get --watch`: a row each time an object of `kind` changes.
///
/// # Errors
/// The watch failing.
pub async fn watch(ctx: &Context, kind: &Kind, all_namespaces: bool) -> Result<()> {
    let namespace = (!all_namespaces).then_some(ctx.namespace.as_str());
    let api = cluster::api(&ctx.client, kind, namespace);
    let mut stream = watcher(api, watcher::Config::default())
        .applied_objects()
        .boxed();
    ui::out(&table::render(&[], all_namespaces, None));
    while let Some(obj) = stream.try_next().await.map_err(|e| Error::Api {
        what: format!("watching {}", kind.resource.plural),
        reason: e.to_string(),
    })? {
        let value = serde_json::to_value(obj).unwrap_or_default();
        let rendered = table::render(&[table::row(kind, &value)], all_namespaces, None);
        // The header line is printed once, above.
        if let Some(line) = rendered.lines().nth(1) {
            ui::out(&format!("{line}\n"));
        }
    }
    Ok(())
}

/// `reconcile`: asks for a reconcile now and waits for its outcome; with
/// `with_source`, the Kustomization's source or the HelmRelease's chart
/// first.
///
/// # Errors
/// The object missing or suspended, the reconcile failing or timing out.
pub async fn reconcile(
    ctx: &Context,
    kind: &Kind,
    name: &str,
    with_source: bool,
    also: &[&str],
) -> Result<()> {
    if kind.name() == "ExternalArtifact" {
        return Err(Error::Usage(format!(
            "ExternalArtifact {name} is written by the controller that produced it and is not reconciled; reconcile its producer instead (`ferroflux reconcile artifact generator <name>` for an ArtifactGenerator's)"
        )));
    }
    let obj = cluster::get(&ctx.client, kind, &ctx.namespace, name).await?;
    if obj["spec"]["suspend"] == true || crate::table::generator_disabled(&obj) {
        return Err(Error::Usage(format!(
            "{} {name} is suspended; resume it with `ferroflux resume {} {name}`",
            kind.name(),
            kind.cli
        )));
    }
    if with_source {
        let (mut source_kind, mut source_name, mut source_ns) =
            source_of(kind, &obj, &ctx.namespace)?;
        // An ExternalArtifact is not reconciled: its ArtifactGenerator is.
        if source_kind.name() == "ExternalArtifact" {
            let artifact =
                cluster::get(&ctx.client, &source_kind, &source_ns, &source_name).await?;
            let producer = &artifact["spec"]["sourceRef"];
            if producer["kind"] != "ArtifactGenerator" {
                return Err(Error::Usage(format!(
                    "ExternalArtifact {source_ns}/{source_name} was not made by an ArtifactGenerator; reconcile its producer, then {} {name} without --with-source",
                    kind.name()
                )));
            }
            source_kind = crate::kinds::artifact_generator();
            producer["name"]
                .as_str()
                .unwrap_or_default()
                .clone_into(&mut source_name);
            source_ns = producer["namespace"]
                .as_str()
                .unwrap_or(&source_ns)
                .to_owned();
        }
        let source_ctx = Context {
            client: ctx.client.clone(),
            namespace: source_ns,
            timeout: ctx.timeout,
            ui: ctx.ui,
        };
        Box::pin(reconcile(
            &source_ctx,
            &source_kind,
            &source_name,
            false,
            &[],
        ))
        .await?;
    }
    ctx.ui.action(&format!(
        "annotating {} {name} in {} namespace",
        kind.name(),
        ctx.namespace
    ));
    let token = cluster::request_reconcile(&ctx.client, kind, &ctx.namespace, name, also).await?;
    ctx.ui.success(&format!("{} annotated", kind.name()));
    ctx.ui
        .waiting(&format!("waiting for {} reconciliation", kind.name()));
    let done = cluster::wait_reconciled(
        &ctx.client,
        kind,
        &ctx.namespace,
        name,
        Until::Handled(&token),
        ctx.timeout,
        ctx.ui,
    )
    .await?;
    ctx.ui
        .success(&format!("{} reconciliation completed", kind.name()));
    outcome(ctx, kind, &done);
    Ok(())
}

/// The source `reconcile --with-source` reconciles first: a Kustomization's
/// `spec.sourceRef`; for a HelmRelease, as Flux, the chart it is installed
/// from: its `spec.chartRef`, or the HelmChart the helm-controller made
/// from `spec.chart`. Returns its kind, name and namespace.
fn source_of(kind: &Kind, obj: &Value, namespace: &str) -> Result<(Kind, String, String)> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let no_source = || Error::Usage(format!("{} {name} has no known source", kind.name()));
    if kind.name() == "HelmRelease" {
        let hr: ferroflux_api::helm::HelmRelease =
            serde_json::from_value(obj.clone()).map_err(|e| Error::Api {
                what: format!("decoding HelmRelease {namespace}/{name}"),
                reason: e.to_string(),
            })?;
        let source = ferroflux_helm_controller::chart::source_ref(&hr)
            .map_err(|e| Error::Usage(format!("HelmRelease {name}: {e}")))?;
        let source_kind = kinds::by_kind(&source.kind).ok_or_else(no_source)?;
        return Ok((source_kind, source.name, source.namespace));
    }
    let source = &obj["spec"]["sourceRef"];
    let source_kind = source["kind"]
        .as_str()
        .and_then(kinds::by_kind)
        .ok_or_else(no_source)?;
    let source_name = source["name"].as_str().unwrap_or_default().to_owned();
    let source_ns = source["namespace"].as_str().unwrap_or(namespace).to_owned();
    Ok((source_kind, source_name, source_ns))
}

/// `suspend` and `resume`; resuming also reconciles and waits.
///
/// # Errors
/// The object missing, or the resumed reconcile failing.
pub async fn suspend(ctx: &Context, kind: &Kind, name: &str, suspend: bool) -> Result<()> {
    cluster::get(&ctx.client, kind, &ctx.namespace, name).await?;
    let verb = if suspend { "suspending" } else { "resuming" };
    ctx.ui.action(&format!(
        "{verb} {} {name} in {} namespace",
        kind.name(),
        ctx.namespace
    ));
    cluster::set_suspend(&ctx.client, kind, &ctx.namespace, name, suspend).await?;
    if suspend {
        ctx.ui.success(&format!("{} suspended", kind.name()));
        return Ok(());
    }
    ctx.ui.success(&format!("{} resumed", kind.name()));
    if kind.has_status {
        reconcile(ctx, kind, name, false, &[]).await?;
    }
    Ok(())
}

/// The object as it would be written: no status, and only the name,
/// namespace, labels and annotations of its metadata (without the
/// reconcile request).
#[must_use]
pub fn exported(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut metadata = serde_json::Map::new();
    for key in ["name", "namespace", "labels"] {
        if !meta[key].is_null() {
            metadata.insert(key.to_owned(), meta[key].clone());
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        let kept: serde_json::Map<String, Value> = annotations
            .iter()
            .filter(|(k, _)| {
                ![cluster::REQUESTED_AT, cluster::FORCE_AT, cluster::RESET_AT].contains(&k.as_str())
                    && k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            metadata.insert("annotations".into(), Value::Object(kept));
        }
    }
    serde_json::json!({
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": metadata,
        "spec": obj["spec"],
    })
}

/// `export`: the named object, or with no name every object of the kind.
///
/// # Errors
/// The object missing or the API error.
pub async fn export(ctx: &Context, kind: &Kind, name: Option<&str>) -> Result<()> {
    let objects = match name {
        Some(name) => vec![cluster::get(&ctx.client, kind, &ctx.namespace, name).await?],
        None => cluster::list(&ctx.client, kind, Some(&ctx.namespace)).await?,
    };
    let exported: Vec<Value> = objects.iter().map(exported).collect();
    print_yaml(&exported);
    Ok(())
}

/// `events`: the Kubernetes events about Flux objects (or about `only`,
/// a `Kind/name`), oldest first.
///
/// # Errors
/// The API error or a bad `--for`.
pub async fn events(ctx: &Context, all_namespaces: bool, only: Option<&str>) -> Result<()> {
    let only = only
        .map(|o| {
            let r = kinds::parse_reference(o)?;
            let kind = r
                .kind
                .ok_or_else(|| Error::Usage(format!("--for '{o}' needs a kind: Kind/name")))?;
            let kind = kinds::by_kind(&kind).map_or(kind, |k| k.name().to_owned());
            Ok::<_, Error>((kind, r.name))
        })
        .transpose()?;
    let api: kube::Api<k8s_openapi::api::core::v1::Event> = if all_namespaces {
        kube::Api::all(ctx.client.clone())
    } else {
        kube::Api::namespaced(ctx.client.clone(), &ctx.namespace)
    };
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| Error::api("listing events", &e))?;
    let flux_kinds: Vec<String> = kinds::all().iter().map(|k| k.name().to_owned()).collect();
    let mut rows: Vec<(String, Vec<String>)> = list
        .items
        .into_iter()
        .filter(|e| {
            let kind = e.involved_object.kind.clone().unwrap_or_default();
            match &only {
                Some((k, n)) => &kind == k && e.involved_object.name.as_deref() == Some(n.as_str()),
                None => flux_kinds.contains(&kind),
            }
        })
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
                .unwrap_or_default();
            let object = format!(
                "{}/{}",
                e.involved_object.kind.clone().unwrap_or_default(),
                e.involved_object.name.clone().unwrap_or_default()
            );
            let mut row = vec![
                when.clone(),
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                object,
                e.message
                    .clone()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ];
            if all_namespaces {
                row.insert(0, e.metadata.namespace.clone().unwrap_or_default());
            }
            (when, row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut lines = vec![header.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    lines.extend(rows.into_iter().map(|(_, r)| r));
    ui::out(&table::columns(&lines));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::exported;

    #[test]
    fn export_keeps_what_a_user_writes() {
        let live = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "flux-system", "uid": "u", "resourceVersion": "9",
                         "generation": 2, "managedFields": [], "labels": {"team": "a"},
                         "annotations": {"reconcile.fluxcd.io/requestedAt": "now", "note": "x"}},
            "spec": {"url": "https://example.com/app.git", "interval": "1m"},
            "status": {"conditions": []}});
        assert_eq!(
            exported(&live),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": "app", "namespace": "flux-system",
                                "labels": {"team": "a"}, "annotations": {"note": "x"}},
                   "spec": {"url": "https://example.com/app.git", "interval": "1m"}})
        );
    }
}
