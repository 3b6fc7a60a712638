//! A release's objects: read from its manifest, given Helm's ownership metadata
//! (`app.kubernetes.io/managed-by: Helm`, `meta.helm.sh/release-name`,
//! `meta.helm.sh/release-namespace`) and the owner's labels, the release namespace when they
//! have none and their kind is namespaced, then applied, waited on and deleted with
//! `ferroflux-ssa`.
//!
//! The ownership metadata is added when objects are written, not to the stored manifest, as
//! Helm does: `helm get manifest` shows what the chart rendered. An object that exists and
//! belongs to another release (or to nobody) is refused at install, as Helm refuses it.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferroflux_ssa::apply::{Action, Applier, ObjectId, PropagationPolicy};
use ferroflux_ssa::health;
use serde_json::{Map, Value};

use crate::{CrdPolicy, Origin};

/// `app.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `meta.helm.sh/release-name`.
pub const RELEASE_NAME: &str = "meta.helm.sh/release-name";
/// `meta.helm.sh/release-namespace`.
pub const RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";
/// `helm.sh/resource-policy`: `keep` leaves the object when the release drops it.
pub const RESOURCE_POLICY: &str = "helm.sh/resource-policy";

/// Why a release's objects could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest document is not YAML, or not an object.
    #[error("manifest document from {source_path} is not a Kubernetes object: {message}")]
    Document {
        /// The template (`# Source:`) it came from.
        source_path: String,
        /// Why.
        message: String,
    },
    /// An object exists and belongs to another owner.
    #[error(
        "{id} exists and cannot be imported into release {release}: invalid ownership metadata ({reason}); delete it or give it the release's {MANAGED_BY}, {RELEASE_NAME} and {RELEASE_NAMESPACE} metadata"
    )]
    Ownership {
        /// The object.
        id: String,
        /// The release.
        release: String,
        /// What does not match.
        reason: String,
    },
    /// The API server refused an object.
    #[error(transparent)]
    Apply(Box<ferroflux_ssa::apply::Error>),
    /// Objects could not be deleted.
    #[error(transparent)]
    Delete(#[from] ferroflux_ssa::apply::DeleteFailed),
    /// Objects were not ready in time.
    #[error("timed out after {timeout:?} waiting for {pending} to become ready")]
    Timeout {
        /// The wait's limit.
        timeout: Duration,
        /// What was still not ready, and why.
        pending: String,
    },
}

impl From<ferroflux_ssa::apply::Error> for Error {
    fn from(e: ferroflux_ssa::apply::Error) -> Self {
        Error::Apply(Box::new(e))
    }
}

/// The objects of a manifest (`---`-separated documents), in order; empty documents skipped.
///
/// # Errors
/// [`Error::Document`] for a document that is not a mapping with a `kind`.
pub fn parse(manifest: &str) -> Result<Vec<Value>, Error> {
    let mut objects = Vec::new();
    for doc in ferroflux_helm::manifest::split(manifest) {
        let source_path = doc
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .unwrap_or("the manifest")
            .to_owned();
        let values = ferroflux_yaml::parse_documents_helm(&doc).map_err(|e| Error::Document {
            source_path: source_path.clone(),
            message: e.to_string(),
        })?;
        for value in values {
            match value {
                Value::Null => {}
                Value::Object(map) if map.get("kind").and_then(Value::as_str).is_some() => {
                    objects.push(Value::Object(map));
                }
                _ => {
                    return Err(Error::Document {
                        source_path,
                        message: "a document must be a mapping with apiVersion and kind".into(),
                    });
                }
            }
        }
    }
    Ok(objects)
}

fn map_at<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let metadata = obj
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()?;
    let entry = metadata
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// Normalises each object for server-side apply (`ferroflux_ssa::normalize`), gives it the
/// release namespace when its kind is namespaced and it names none, Helm's ownership metadata,
/// and the owner's labels.
///
/// # Errors
/// [`Error::Apply`] when a kind is not served (its CRD missing) or discovery fails.
pub async fn prepare(
    applier: &Applier,
    objects: &mut [Value],
    release: &str,
    namespace: &str,
    origin: &Origin,
) -> Result<(), Error> {
    for obj in objects.iter_mut() {
        // `protocol: TCP` on ports (API servers before 1.21 refuse a server-side apply without
        // it, which Helm's client-side apply never meets), `status` dropped.
        ferroflux_ssa::normalize::normalize(obj, &[], &[]);
        let id = ObjectId::of(obj);
        if id.namespace.is_empty()
            && applier.is_namespaced(&id).await?
            && let Some(metadata) = obj
                .as_object_mut()
                .and_then(|o| o.get_mut("metadata"))
                .and_then(Value::as_object_mut)
        {
            metadata.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
        if let Some(labels) = map_at(obj, "labels") {
            labels.insert(MANAGED_BY.into(), "Helm".into());
            labels.insert(format!("{}/name", origin.group), origin.name.clone().into());
            labels.insert(
                format!("{}/namespace", origin.group),
                origin.namespace.clone().into(),
            );
        }
        if let Some(annotations) = map_at(obj, "annotations") {
            annotations.insert(RELEASE_NAME.into(), release.into());
            annotations.insert(RELEASE_NAMESPACE.into(), namespace.into());
        }
    }
    Ok(())
}

/// Why a live object does not belong to release `release` in `namespace` (`None`: it does).
#[must_use]
pub fn ownership_mismatch(live: &Value, release: &str, namespace: &str) -> Option<String> {
    let label = |k: &str| {
        live.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let annotation = |k: &str| {
        live.pointer("/metadata/annotations")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let mut problems = Vec::new();
    if label(MANAGED_BY) != Some("Helm") {
        problems.push(format!("label {MANAGED_BY} must be \"Helm\""));
    }
    if annotation(RELEASE_NAME) != Some(release) {
        problems.push(format!(
            "annotation {RELEASE_NAME} is {:?}, not {release:?}",
            annotation(RELEASE_NAME).unwrap_or_default()
        ));
    }
    if annotation(RELEASE_NAMESPACE) != Some(namespace) {
        problems.push(format!(
            "annotation {RELEASE_NAMESPACE} is {:?}, not {namespace:?}",
            annotation(RELEASE_NAMESPACE).unwrap_or_default()
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Refuses objects that exist and belong to another release or to nobody.
///
/// # Errors
/// [`Error::Ownership`] for the first such object; [`Error::Apply`] when a read fails.
pub async fn check_ownership(
    applier: &Applier,
    objects: &[Value],
    release: &str,
    namespace: &str,
) -> Result<(), Error> {
    for obj in objects {
        let id = ObjectId::of(obj);
        if let Some(live) = applier.get(&id).await?
            && let Some(reason) = ownership_mismatch(&live, release, namespace)
        {
            return Err(Error::Ownership {
                id: id.to_string(),
                release: release.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

/// Whether `objects` holds an object with `obj`'s identity.
#[must_use]
pub fn contains(objects: &[Value], obj: &Value) -> bool {
    let id = ObjectId::of(obj);
    objects.iter().any(|o| same(&ObjectId::of(o), &id))
}

/// The same object, whatever the API version it was written with.
fn same(a: &ObjectId, b: &ObjectId) -> bool {
    a.group == b.group && a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// Server-side applies the objects in Flux's staged order.
///
/// # Errors
/// [`Error::Apply`] for the first object refused.
pub async fn apply(applier: &Applier, objects: &[Value], force: bool) -> Result<(), Error> {
    applier.apply_all(objects, force).await?;
    Ok(())
}

/// Creates (and with [`CrdPolicy::CreateReplace`] updates) the chart's CRDs, waiting until
/// they are established.
///
/// # Errors
/// [`Error::Document`] for a CRD file that does not read, [`Error::Apply`] when one is refused.
pub async fn apply_crds(
    applier: &Applier,
    crds: &[(String, String)],
    policy: CrdPolicy,
) -> Result<(), Error> {
    let mut objects = Vec::new();
    for (path, text) in crds {
        let docs = ferroflux_yaml::parse_documents_helm(text).map_err(|e| Error::Document {
            source_path: path.clone(),
            message: e.to_string(),
        })?;
        objects.extend(docs.into_iter().filter(Value::is_object));
    }
    let mut missing = Vec::new();
    for obj in objects {
        if policy == CrdPolicy::CreateReplace || applier.get(&ObjectId::of(&obj)).await?.is_none() {
            missing.push(obj);
        }
    }
    applier.apply_all(&missing, false).await?;
    Ok(())
}

/// Deletes the objects of the old revision that the new one no longer has, if they still
/// belong to the release and do not say `helm.sh/resource-policy: keep`.
///
/// # Errors
/// [`Error::Apply`] for the first delete that fails.
pub async fn delete_removed(
    applier: &Applier,
    old: &[Value],
    new: &[Value],
    release: &str,
    namespace: &str,
) -> Result<(), Error> {
    let removed: Vec<Value> = old.iter().filter(|o| !contains(new, o)).cloned().collect();
    delete_released(
        applier,
        &removed,
        release,
        namespace,
        &PropagationPolicy::Background,
    )
    .await
}

/// Deletes the release's objects in reverse apply order, skipping those that belong to
/// another release or say `helm.sh/resource-policy: keep`; their dependents go as
/// `propagation` says (`helm uninstall --cascade`).
///
/// # Errors
/// [`Error::Apply`] for the first delete that fails.
pub async fn delete_released(
    applier: &Applier,
    objects: &[Value],
    release: &str,
    namespace: &str,
    propagation: &PropagationPolicy,
) -> Result<(), Error> {
    let mut ids: Vec<ObjectId> = objects.iter().map(ObjectId::of).collect();
    ferroflux_ssa::apply::sort_ids(&mut ids);
    let owned = |live: &Value| {
        ownership_mismatch(live, release, namespace).is_none()
            && live
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(RESOURCE_POLICY))
                .and_then(Value::as_str)
                != Some("keep")
    };
    for id in ids.iter().rev() {
        let _: Action = applier.delete_if(id, &owned, propagation).await?;
    }
    Ok(())
}

/// Waits until every object is ready in kstatus's sense (or, for the kinds `checks` name, by their
/// CEL expressions), or `timeout` passes.
///
/// # Errors
/// [`Error::Timeout`] naming what is not ready; [`Error::Apply`] when a read fails.
pub async fn wait(
    applier: &Applier,
    objects: &[Value],
    timeout: Duration,
    checks: &[health::CustomCheck],
) -> Result<(), Error> {
    let ids: Vec<ObjectId> = objects.iter().map(ObjectId::of).collect();
    let pending: Mutex<String> = Mutex::new(String::new());
    let ready = ferroflux_ssa::apply::poll_until(Duration::from_secs(1), timeout, || {
        let ids = &ids;
        let pending = &pending;
        async move {
            for id in ids {
                let status = match applier.get(id).await? {
                    Some(live) => health::status_with(&live, checks),
                    None => health::Status::InProgress("not found".to_owned()),
                };
                match status {
                    health::Status::Current => {}
                    health::Status::InProgress(why) | health::Status::Failed(why) => {
                        *pending.lock().unwrap_or_else(PoisonError::into_inner) =
                            format!("{id} ({why})");
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
    })
    .await?;
    if ready {
        Ok(())
    } else {
        Err(Error::Timeout {
            timeout,
            pending: pending.into_inner().unwrap_or_else(PoisonError::into_inner),
        })
    }
}
