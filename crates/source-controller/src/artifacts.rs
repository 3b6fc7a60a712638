//! What every source kind's reconciler does the same way with its
//! artifacts: the storage key of an object, the `ArtifactInStorage`
//! condition, and removing the artifacts of objects deleted while no
//! controller ran.

use std::path::PathBuf;

use ferroflux_api::meta::{Artifact, Condition};
use ferroflux_api::source::conditions::ARTIFACT_IN_STORAGE;
use ferroflux_artifact::storage::{ObjectKey, Storage};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource, ResourceExt as _};

/// The storage key of `obj`, a `kind` object.
#[must_use]
pub fn key<K: Resource>(kind: &str, obj: &K) -> ObjectKey {
    ObjectKey::new(kind, obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Sets `ArtifactInStorage` from whether the recorded `artifact`'s file is
/// still in `storage`: `stored` is the message while it is, and `refetched`
/// says what happens when it is gone (`"downloaded again"`); no artifact
/// recorded removes the condition.
pub fn reconcile_storage(
    storage: &Storage,
    artifact: Option<&Artifact>,
    conditions: &mut Vec<Condition>,
    stored: impl FnOnce(&Artifact) -> String,
    refetched: &str,
) {
    match artifact {
        Some(a) if storage.exists(a) => ferroflux_runtime::conditions::set(
            conditions,
            ARTIFACT_IN_STORAGE,
            true,
            "Succeeded",
            &stored(a),
            None,
        ),
        Some(a) => ferroflux_runtime::conditions::set(
            conditions,
            ARTIFACT_IN_STORAGE,
            false,
            "ArtifactMissing",
            &format!(
                "the artifact for revision '{}' is gone from storage; it will be {refetched}",
                a.revision
            ),
            None,
        ),
        None => ferroflux_runtime::conditions::remove(conditions, ARTIFACT_IN_STORAGE),
    }
}

/// Deletes the artifacts of the `kind` objects (type `K`) that no longer
/// exist, within `namespace` when the controller watches only one, and
/// returns what was removed. Run at start-up by the leader.
///
/// # Errors
/// The API error of listing the objects, or the storage error.
pub async fn remove_orphaned<K>(
    client: &Client,
    storage: &Storage,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error + Send + Sync>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let live = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|o| key(kind, o))
        .collect();
    Ok(storage.remove_orphans(kind, namespace, &live)?)
}
