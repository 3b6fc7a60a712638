//! Talking to the cluster: the client from the kubeconfig, a dynamic API
//! per kind, server-side apply as `ferroflux`, and waiting for an object
//! to be reconciled.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::kinds::Kind;
use crate::table::ready_condition;
use crate::ui::Ui;

/// The field manager of everything the CLI applies.
pub const FIELD_MANAGER: &str = "ferroflux";

/// The annotation that asks a controller to reconcile now.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// Asks a HelmRelease for a one-off install or upgrade, even in sync
/// (`reconcile helmrelease --force`), with the same value as [`REQUESTED_AT`].
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";

/// Asks a HelmRelease to reset its install and upgrade failure counts
/// (`reconcile helmrelease --reset`), with the same value as [`REQUESTED_AT`].
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

/// How often waits look at the object again.
const POLL: Duration = Duration::from_millis(300);

/// A client for `kubeconfig` (else `KUBECONFIG` or `~/.kube/config`, else
/// in-cluster) and `context`.
///
/// # Errors
/// [`Error::Connect`] when no configuration can be loaded.
pub async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client> {
    ferroflux_tls::install_crypto_provider();
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| Error::Connect(format!("reading {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| Error::Connect(e.to_string()))?
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| Error::Connect(e.to_string()))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| Error::Connect(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| Error::Connect(e.to_string()))
}

/// The API of `kind` in `namespace`, or in every namespace.
#[must_use]
pub fn api(client: &Client, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &kind.resource),
        None => Api::all_with(client.clone(), &kind.resource),
    }
}

/// Reads `name` of `kind` in `namespace` as JSON.
///
/// # Errors
/// [`Error::NotFound`] naming the kind, or the API error.
pub async fn get(client: &Client, kind: &Kind, namespace: &str, name: &str) -> Result<Value> {
    let found = api(client, kind, Some(namespace))
        .get_opt(name)
        .await
        .map_err(|e| Error::api(&format!("reading {} {namespace}/{name}", kind.name()), &e))?;
    let obj = found.ok_or_else(|| Error::NotFound {
        kind: kind.name().to_owned(),
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        cli: kind.cli.to_owned(),
    })?;
    serde_json::to_value(obj).map_err(|e| Error::Api {
        what: "decoding the object".into(),
        reason: e.to_string(),
    })
}

/// Lists `kind` in `namespace` (or everywhere), sorted by namespace and name.
///
/// # Errors
/// The API error.
pub async fn list(client: &Client, kind: &Kind, namespace: Option<&str>) -> Result<Vec<Value>> {
    let list = api(client, kind, namespace)
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| Error::api(&format!("listing {}", kind.resource.plural), &e))?;
    let mut items: Vec<Value> = list
        .items
        .into_iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    items.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(items)
}

/// Resolves the API resource of objects by their `apiVersion` and `kind`,
/// asking the server once per kind.
#[derive(Default)]
pub struct Resources {
    known: HashMap<(String, String), (ApiResource, bool)>,
}

impl Resources {
    /// The resource of `obj` and whether it is namespaced.
    ///
    /// # Errors
    /// [`Error::NotInstalled`] when the server does not know the kind.
    pub async fn of(&mut self, client: &Client, obj: &Value) -> Result<(ApiResource, bool)> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        if let Some(found) = self.known.get(&(api_version.clone(), kind.clone())) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(|_| Error::NotInstalled(format!("{kind} ({api_version})")))?;
        let namespaced = capabilities.scope == kube::discovery::Scope::Namespaced;
        self.known
            .insert((api_version, kind), (resource.clone(), namespaced));
        Ok((resource, namespaced))
    }
}

/// Server-side applies `obj` as [`FIELD_MANAGER`], taking over fields.
///
/// # Errors
/// The API error, naming the object.
pub async fn apply(client: &Client, resources: &mut Resources, obj: &Value) -> Result<Value> {
    let (resource, namespaced) = resources.of(client, obj).await?;
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = obj["metadata"]["namespace"].as_str();
    let api: Api<DynamicObject> = match namespace {
        Some(ns) if namespaced => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    };
    let applied = api
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .map_err(|e| Error::api(&format!("applying {} {name}", resource.kind), &e))?;
    serde_json::to_value(applied).map_err(|e| Error::Api {
        what: "decoding the object".into(),
        reason: e.to_string(),
    })
}

/// Sets [`REQUESTED_AT`] on the object to now, and each annotation of
/// `also` ([`FORCE_AT`], [`RESET_AT`]) to the same value; returns it.
///
/// # Errors
/// The API error.
pub async fn request_reconcile(
    client: &Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
    also: &[&str],
) -> Result<String> {
    let token = k8s_openapi::jiff::Timestamp::now().to_string();
    let annotations: serde_json::Map<String, Value> = std::iter::once(REQUESTED_AT)
        .chain(also.iter().copied())
        .map(|key| (key.to_owned(), json!(token)))
        .collect();
    api(client, kind, Some(namespace))
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": annotations}})),
        )
        .await
        .map_err(|e| {
            Error::api(
                &format!("annotating {} {namespace}/{name}", kind.name()),
                &e,
            )
        })?;
    Ok(token)
}

/// What a wait is for.
#[derive(Clone, Copy, Debug)]
pub enum Until<'a> {
    /// The controller handled this `requestedAt` value.
    Handled(&'a str),
    /// The current generation has a settled Ready condition.
    Settled,
}

/// Ready reasons that say the object waits for another one: its source's
/// artifact (`ArtifactFailed`, as Flux's kustomize- and helm-controllers
/// report a source with no artifact yet; `SourceNotReady`) or a dependency.
/// The controller retries by itself, so while it also reports
/// `Reconciling=True` a wait goes on, as Flux's CLI waits while
/// `Reconciling` is `True`. A HelmRelease made from `spec.chart` always
/// starts so: its HelmChart is made by its first reconcile.
const WAITING_REASONS: [&str; 3] = ["ArtifactFailed", "SourceNotReady", "DependencyNotReady"];

/// Whether `obj`, not Ready, is waiting for another object rather than
/// failing: its Ready reason is one of [`WAITING_REASONS`] and it is still
/// `Reconciling`.
fn waits_for_another(obj: &Value, ready: &Value) -> bool {
    let reconciling = obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Reconciling" && c["status"] == "True");
    reconciling
        && ready["reason"]
            .as_str()
            .is_some_and(|r| WAITING_REASONS.contains(&r))
}

/// Waits until the object is reconciled (`until`) with a Ready condition
/// that is `True` or `False` for its current generation; returns it. A
/// `False` that only says the object waits for its source or a dependency
/// (see [`WAITING_REASONS`]) is waited through.
///
/// # Errors
/// [`Error::NotReady`] with the condition's message when Ready is `False`,
/// [`Error::Timeout`] after `timeout` (with the last message of an object
/// still waiting for another), or the API error.
pub async fn wait_reconciled(
    client: &Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
    until: Until<'_>,
    timeout: Duration,
    ui: Ui,
) -> Result<Value> {
    let started = Instant::now();
    let what = format!("{} {namespace}/{name}", kind.name());
    let mut tick = 0;
    let mut waiting_for = None;
    loop {
        let obj = get(client, kind, namespace, name).await?;
        let handled = match until {
            Until::Handled(token) => obj["status"]["lastHandledReconcileAt"] == token,
            Until::Settled => true,
        };
        let generation = &obj["metadata"]["generation"];
        if let Some(ready) = ready_condition(&obj) {
            let current = ready["observedGeneration"] == *generation
                || obj["status"]["observedGeneration"] == *generation;
            if handled && current && ready["status"] == "True" {
                return Ok(obj);
            }
            let message = ready["message"].as_str().unwrap_or_default();
            if handled && current && ready["status"] == "False" {
                if !waits_for_another(&obj, ready) {
                    return Err(Error::NotReady(format!("{what} is not ready: {message}")));
                }
                waiting_for = Some(message.to_owned());
            }
        }
        if started.elapsed() >= timeout {
            let last = waiting_for.map_or_else(String::new, |m| format!(" (last: {m})"));
            return Err(Error::Timeout {
                what: format!("{what} to be reconciled{last}"),
                seconds: timeout.as_secs(),
            });
        }
        ui.spin(tick, &format!("waiting for {what}"));
        tick += 1;
        // Polling pace while the controller works.
        tokio::time::sleep(POLL).await;
    }
}

/// `spec.suspend` of the object set to `suspend`.
///
/// # Errors
/// The API error.
pub async fn set_suspend(
    client: &Client,
    kind: &Kind,
    namespace: &str,
    name: &str,
    suspend: bool,
) -> Result<()> {
    // An ArtifactGenerator has no spec.suspend: Flux pauses one with an annotation.
    let patch = if kind.name() == "ArtifactGenerator" {
        let key = ferroflux_api::extensions::artifactgenerator::RECONCILE_ANNOTATION;
        let value = if suspend {
            json!("disabled")
        } else {
            Value::Null
        };
        json!({"metadata": {"annotations": {key: value}}})
    } else {
        json!({"spec": {"suspend": suspend}})
    };
    api(client, kind, Some(namespace))
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| Error::api(&format!("patching {} {namespace}/{name}", kind.name()), &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::waits_for_another;

    #[test]
    fn an_object_waiting_for_its_source_is_waited_for_and_a_failure_is_not() {
        let obj = |reason: &str, reconciling: bool| {
            let mut conditions =
                vec![json!({"type": "Ready", "status": "False", "reason": reason})];
            if reconciling {
                conditions.push(json!({"type": "Reconciling", "status": "True",
                                       "reason": "ProgressingWithRetry"}));
            }
            json!({"status": {"conditions": conditions}})
        };
        for (reason, reconciling, waits) in [
            ("ArtifactFailed", true, true),
            ("DependencyNotReady", true, true),
            ("SourceNotReady", true, true),
            // Stalled: nothing more will happen.
            ("ArtifactFailed", false, false),
            ("AuthenticationFailed", true, false),
            ("InstallFailed", true, false),
        ] {
            let o = obj(reason, reconciling);
            let ready = &o["status"]["conditions"][0];
            assert_eq!(
                waits_for_another(&o, ready),
                waits,
                "{reason}, reconciling: {reconciling}"
            );
        }
    }
}
