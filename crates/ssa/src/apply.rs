//! Server-side apply of a built set of objects, as Flux's shared `ssa`
//! package does it for its controllers: CRDs, Namespaces and `ClusterRole`s
//! first (CRDs waited on until established), then the rest; every object
//! dry-run first and written only when the dry-run differs from the live
//! object, so a reconcile without changes makes no writes.
//!
//! The labels and annotations that mark what was applied, and that opt an
//! object out of apply or prune, live under the owning kind's API group (an
//! [`Owner`]), so the crate serves every controller without naming a kind.
//!
//! # Caveats
//! Objects are applied one after another, not concurrently; the change set
//! is in apply order.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub use kube::api::PropagationPolicy;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Api, Client};
use serde_json::{Map, Value};

/// The labels and annotations by which an owning kind marks the objects it
/// applies, all under its API group as in Flux (for a Kustomization,
/// `kustomize.toolkit.fluxcd.io/name`, `kustomize.toolkit.fluxcd.io/ssa`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `<group>/name`: the label naming the object that applied an object.
    pub name_label: String,
    /// `<group>/namespace`: the label naming that object's namespace.
    pub namespace_label: String,
    /// `<group>/ssa`: `Merge`, `IfNotPresent` or `Ignore`, how an object is
    /// applied.
    pub ssa_annotation: String,
    /// `<group>/force`: `enabled` recreates the object when an immutable
    /// field changed.
    pub force_annotation: String,
    /// `<group>/reconcile`: `disabled`, never applied nor pruned.
    pub reconcile_annotation: String,
    /// `<group>/prune`: `disabled`, never pruned.
    pub prune_annotation: String,
}

impl Owner {
    /// The labels and annotations of the kinds of API group `group`.
    #[must_use]
    pub fn new(group: &str) -> Self {
        Self {
            name_label: format!("{group}/name"),
            namespace_label: format!("{group}/namespace"),
            ssa_annotation: format!("{group}/ssa"),
            force_annotation: format!("{group}/force"),
            reconcile_annotation: format!("{group}/reconcile"),
            prune_annotation: format!("{group}/prune"),
        }
    }

    /// The owner labels of the objects applied by the object `name` in
    /// `namespace`: the name label, then the namespace label.
    #[must_use]
    pub fn labels(&self, name: &str, namespace: &str) -> Vec<(String, String)> {
        vec![
            (self.name_label.clone(), name.to_owned()),
            (self.namespace_label.clone(), namespace.to_owned()),
        ]
    }
}

/// [`Error::what`] when the API server does not serve the kind.
pub const UNKNOWN_KIND: &str = "discovery of an unknown kind";

/// An object's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectId {
    /// The id of a built object.
    #[must_use]
    pub fn of(obj: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let api_version = text(obj.get("apiVersion"));
        let (group, version) = api_version
            .split_once('/')
            .map_or((String::new(), api_version.clone()), |(g, v)| {
                (g.to_owned(), v.to_owned())
            });
        Self {
            group,
            version,
            kind: text(obj.get("kind")),
            namespace: text(obj.pointer("/metadata/namespace")),
            name: text(obj.pointer("/metadata/name")),
        }
    }

    /// Flux's inventory id: `<namespace>_<name>_<group>_<kind>`.
    #[must_use]
    pub fn inventory_id(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace,
            self.name.replace(':', "__"),
            self.group,
            self.kind
        )
    }

    /// Parses an inventory id and its version back into an id.
    #[must_use]
    pub fn from_inventory(id: &str, version: &str) -> Option<Self> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, group) = rest.rsplit_once('_')?;
        Some(Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.replace("__", ":"),
        })
    }

    fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::gvk(&self.group, &self.version, &self.kind)
    }
}

impl fmt::Display for ObjectId {
    /// `Kind/namespace/name`, or `Kind/name` when cluster-scoped, as Flux
    /// prints change sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It did not exist.
    Created,
    /// It differed and was updated.
    Configured,
    /// It already matched.
    Unchanged,
    /// An annotation said to leave it alone.
    Skipped,
    /// It was deleted.
    Deleted,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
            Self::Deleted => "deleted",
        })
    }
}

/// One line of a change set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The object.
    pub id: ObjectId,
    /// What happened.
    pub action: Action,
}

/// Why an apply or delete failed; the message names the object.
#[derive(Debug, thiserror::Error)]
#[error("{id} {what} failed: {message}")]
pub struct Error {
    /// The object.
    pub id: ObjectId,
    /// `dry-run`, `apply`, `delete` or `discovery`.
    pub what: &'static str,
    /// The API server's message.
    pub message: String,
}

/// Objects [`Applier::delete_all`] could not delete.
#[derive(Debug, thiserror::Error)]
#[error("delete failed: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct DeleteFailed {
    /// One error per object, in the order they were tried.
    pub errors: Vec<Error>,
}

/// How the API server serves a kind.
type Served = (ApiResource, ApiCapabilities);

/// Applies and deletes objects for one owning object (a Kustomization, a
/// `HelmRelease`).
pub struct Applier {
    client: Client,
    field_manager: String,
    owner: Owner,
    kinds: Mutex<HashMap<(String, String, String), Served>>,
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .or_else(|| {
            obj.pointer("/metadata/labels")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
        })
}

fn says(obj: Option<&Value>, key: &str, value: &str) -> bool {
    obj.and_then(|o| annotation(o, key))
        .is_some_and(|v| v.eq_ignore_ascii_case(value))
}

/// Flux's apply order within a stage: these kinds first, in this order,
/// then every other kind, then webhook configurations (which could reject
/// everything applied after them). Prunes run in the reverse order.
const KIND_ORDER: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// The sort key of an object in apply order.
fn order_key(id: &ObjectId) -> (usize, &str, &str, &str, &str) {
    let rank = match id.kind.as_str() {
        "MutatingWebhookConfiguration" => KIND_ORDER.len() + 1,
        "ValidatingWebhookConfiguration" => KIND_ORDER.len() + 2,
        kind => KIND_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(KIND_ORDER.len()),
    };
    (rank, &id.group, &id.kind, &id.namespace, &id.name)
}

/// Sorts ids in apply order (deletes go in reverse).
pub fn sort_ids(ids: &mut [ObjectId]) {
    ids.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
}

/// The first stage: what other objects may need to exist first.
fn first_stage(id: &ObjectId) -> bool {
    (id.group == "apiextensions.k8s.io" && id.kind == "CustomResourceDefinition")
        || (id.group.is_empty() && id.kind == "Namespace")
        || (id.group == "rbac.authorization.k8s.io" && id.kind == "ClusterRole")
}

impl Applier {
    /// An applier writing as `field_manager`, honouring the labels and
    /// annotations of `owner`.
    #[must_use]
    pub fn new(client: Client, field_manager: &str, owner: Owner) -> Self {
        Self {
            client,
            field_manager: field_manager.to_owned(),
            owner,
            kinds: Mutex::default(),
        }
    }

    async fn api(&self, id: &ObjectId) -> Result<Api<DynamicObject>, Error> {
        let key = (id.group.clone(), id.version.clone(), id.kind.clone());
        let cached = self
            .kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let (resource, caps) = if let Some(found) = cached {
            found
        } else {
            let found = kube::discovery::pinned_kind(&self.client, &id.gvk())
                .await
                .map_err(|e| Error {
                    id: id.clone(),
                    // Only a kind the API server does not serve is unknown;
                    // anything else (forbidden, unreachable) is a failure.
                    what: if matches!(e, kube::Error::Discovery(_)) || is_not_found(&e) {
                        UNKNOWN_KIND
                    } else {
                        "discovery"
                    },
                    message: format!("{e}; is the kind (or its CRD) installed?"),
                })?;
            self.kinds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, found.clone());
            found
        };
        Ok(match caps.scope {
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            Scope::Namespaced if id.namespace.is_empty() => {
                return Err(Error {
                    id: id.clone(),
                    what: "apply",
                    message:
                        "namespace not specified; set metadata.namespace or spec.targetNamespace"
                            .into(),
                });
            }
            Scope::Namespaced => {
                Api::namespaced_with(self.client.clone(), &id.namespace, &resource)
            }
        })
    }

    /// What applying `obj` would make of it, without writing: the live object (`None` when
    /// it does not exist) and the server-side dry-run result, for drift detection.
    ///
    /// # Errors
    /// [`Error`] when the read or the dry run fails.
    pub async fn dry_run(&self, obj: &Value) -> Result<(Option<Value>, Value), Error> {
        let id = ObjectId::of(obj);
        let api = self.api(&id).await?;
        let failed = |what: &'static str, e: &kube::Error| Error {
            id: id.clone(),
            what,
            message: api_message(e),
        };
        let live = api
            .get_opt(&id.name)
            .await
            .map_err(|e| failed("read", &e))?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
        let mut params = PatchParams::apply(&self.field_manager).force();
        params.dry_run = true;
        let dry = api
            .patch(&id.name, &params, &Patch::Apply(obj))
            .await
            .map_err(|e| failed("dry-run", &e))?;
        Ok((live, serde_json::to_value(dry).unwrap_or(Value::Null)))
    }

    /// Whether the API server serves `id`'s kind namespaced (looked up once per kind), so a
    /// caller can default the namespace of objects written without one, as Helm does.
    ///
    /// # Errors
    /// [`Error`] when the kind is not served or discovery fails.
    pub async fn is_namespaced(&self, id: &ObjectId) -> Result<bool, Error> {
        let probe = ObjectId {
            namespace: "probe".to_owned(),
            ..id.clone()
        };
        let key = (id.group.clone(), id.version.clone(), id.kind.clone());
        self.api(&probe).await?;
        Ok(self
            .kinds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .is_some_and(|(_, caps)| matches!(caps.scope, Scope::Namespaced)))
    }

    /// Applies `objects` in stages and returns the change set, in apply
    /// order. `force` recreates objects whose immutable fields changed.
    ///
    /// # Errors
    /// [`Error`] for the first object that fails; objects before it stay
    /// applied.
    pub async fn apply_all(&self, objects: &[Value], force: bool) -> Result<Vec<Change>, Error> {
        let mut ordered: Vec<(ObjectId, &Value)> =
            objects.iter().map(|o| (ObjectId::of(o), o)).collect();
        ordered.sort_by(|(a, _), (b, _)| order_key(a).cmp(&order_key(b)));
        let (first, rest): (Vec<_>, Vec<_>) =
            ordered.into_iter().partition(|(id, _)| first_stage(id));
        let (classes, rest): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|(id, _)| id.kind.ends_with("Class"));
        let mut changes = Vec::new();
        for (_, obj) in &first {
            changes.push(self.apply_one(obj, force).await?);
        }
        for (id, _) in &first {
            if id.kind == "CustomResourceDefinition" {
                self.wait_established(id).await?;
            }
        }
        for (_, obj) in classes.iter().chain(&rest) {
            changes.push(self.apply_one(obj, force).await?);
        }
        Ok(changes)
    }

    async fn apply_one(&self, obj: &Value, force: bool) -> Result<Change, Error> {
        let id = ObjectId::of(obj);
        let api = self.api(&id).await?;
        let failed = |what: &'static str, e: &kube::Error| Error {
            id: id.clone(),
            what,
            message: api_message(e),
        };
        let live = api
            .get_opt(&id.name)
            .await
            .map_err(|e| failed("read", &e))?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
        let owner = &self.owner;
        if says(Some(obj), &owner.ssa_annotation, "ignore")
            || says(live.as_ref(), &owner.ssa_annotation, "ignore")
            || says(Some(obj), &owner.reconcile_annotation, "disabled")
            || says(live.as_ref(), &owner.reconcile_annotation, "disabled")
            || (live.is_some() && says(Some(obj), &owner.ssa_annotation, "ifnotpresent"))
        {
            return Ok(Change {
                id,
                action: Action::Skipped,
            });
        }
        let params = PatchParams::apply(&self.field_manager).force();
        let mut dry_params = params.clone();
        dry_params.dry_run = true;
        let mut live = live;
        let dry = match api.patch(&id.name, &dry_params, &Patch::Apply(obj)).await {
            Ok(dry) => dry,
            Err(e)
                if live.is_some()
                    && is_immutable(&e)
                    && (force
                        || says(Some(obj), &owner.force_annotation, "enabled")
                        || says(live.as_ref(), &owner.force_annotation, "enabled")) =>
            {
                self.delete_and_wait(&api, &id).await?;
                live = None;
                api.patch(&id.name, &dry_params, &Patch::Apply(obj))
                    .await
                    .map_err(|e| failed("dry-run", &e))?
            }
            Err(e) => return Err(failed("dry-run", &e)),
        };
        let dry = serde_json::to_value(dry).unwrap_or(Value::Null);
        if let Some(live) = &live
            && !drifted(&dry, live)
        {
            return Ok(Change {
                id,
                action: Action::Unchanged,
            });
        }
        api.patch(&id.name, &params, &Patch::Apply(obj))
            .await
            .map_err(|e| failed("apply", &e))?;
        Ok(Change {
            id,
            action: if live.is_some() {
                Action::Configured
            } else {
                Action::Created
            },
        })
    }

    async fn delete_and_wait(&self, api: &Api<DynamicObject>, id: &ObjectId) -> Result<(), Error> {
        let failed = |e: &kube::Error| Error {
            id: id.clone(),
            what: "delete",
            message: api_message(e),
        };
        match api.delete(&id.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(failed(&e)),
        }
        let gone = poll_until(
            Duration::from_millis(250),
            Duration::from_secs(60),
            || async {
                Ok(api
                    .get_opt(&id.name)
                    .await
                    .map_err(|e| failed(&e))?
                    .is_none())
            },
        )
        .await?;
        if gone {
            Ok(())
        } else {
            Err(Error {
                id: id.clone(),
                what: "delete",
                message: "still present 60s after deletion (a finalizer?)".into(),
            })
        }
    }

    async fn wait_established(&self, id: &ObjectId) -> Result<(), Error> {
        let established =
            poll_until(
                Duration::from_millis(200),
                Duration::from_secs(60),
                || async {
                    let crd = self.get(id).await?;
                    Ok(crd.is_some_and(|c| {
                        crate::health::status(&c) == crate::health::Status::Current
                    }))
                },
            )
            .await?;
        if established {
            Ok(())
        } else {
            Err(Error {
                id: id.clone(),
                what: "apply",
                message: "the CustomResourceDefinition was not established within 60s".into(),
            })
        }
    }

    /// The live object, if it exists.
    ///
    /// # Errors
    /// When the kind is unknown or the API server fails.
    pub async fn get(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        let api = self.api(id).await?;
        api.get_opt(&id.name)
            .await
            .map(|o| o.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
            .map_err(|e| Error {
                id: id.clone(),
                what: "read",
                message: api_message(&e),
            })
    }

    /// Deletes the objects of `ids` that the object `owner` (name,
    /// namespace) applied (both owner labels match) and whose prune annotation does not say `disabled`, in
    /// reverse order.
    ///
    /// # Errors
    /// [`DeleteFailed`] with the error of every object that could not be
    /// deleted (the others are deleted all the same).
    pub async fn delete_all(
        &self,
        ids: &[ObjectId],
        owner: (&str, &str),
    ) -> Result<Vec<Change>, DeleteFailed> {
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        for id in ids.iter().rev() {
            match self.delete_one(id, owner).await {
                Ok(action) => changes.push(Change {
                    id: id.clone(),
                    action,
                }),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(DeleteFailed { errors })
        }
    }

    /// Deletes `id` if it exists and `owned` says the live object may be deleted (an owner
    /// other than the label pair of [`Applier::delete_all`], such as Helm's ownership
    /// annotations); `Skipped` otherwise. A kind no longer served counts as deleted. Its
    /// dependents go as `propagation` says (Kubernetes' `propagationPolicy`).
    ///
    /// # Errors
    /// [`Error`] when the read or the delete fails.
    pub async fn delete_if(
        &self,
        id: &ObjectId,
        owned: &(dyn Fn(&Value) -> bool + Sync),
        propagation: &PropagationPolicy,
    ) -> Result<Action, Error> {
        let api = match self.api(id).await {
            Ok(api) => api,
            Err(e) if e.what == UNKNOWN_KIND => return Ok(Action::Deleted),
            Err(e) => return Err(e),
        };
        let failed = |e: &kube::Error| Error {
            id: id.clone(),
            what: "delete",
            message: api_message(e),
        };
        let Some(live) = api.get_opt(&id.name).await.map_err(|e| failed(&e))? else {
            return Ok(Action::Deleted);
        };
        if !owned(&serde_json::to_value(live).unwrap_or(Value::Null)) {
            return Ok(Action::Skipped);
        }
        let params = DeleteParams {
            propagation_policy: Some(propagation.clone()),
            ..DeleteParams::default()
        };
        match api.delete(&id.name, &params).await {
            Ok(_) => Ok(Action::Deleted),
            Err(e) if is_not_found(&e) => Ok(Action::Deleted),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn delete_one(&self, id: &ObjectId, owner: (&str, &str)) -> Result<Action, Error> {
        let api = match self.api(id).await {
            Ok(api) => api,
            // The kind is gone (its CRD was deleted): so are its objects.
            Err(e) if e.what == UNKNOWN_KIND => return Ok(Action::Deleted),
            Err(e) => return Err(e),
        };
        let failed = |e: &kube::Error| Error {
            id: id.clone(),
            what: "delete",
            message: api_message(e),
        };
        let Some(live) = api.get_opt(&id.name).await.map_err(|e| failed(&e))? else {
            return Ok(Action::Deleted);
        };
        let live = serde_json::to_value(live).unwrap_or(Value::Null);
        let label = |k: &str| {
            live.pointer("/metadata/labels")
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
        };
        let keys = &self.owner;
        if label(&keys.name_label) != Some(owner.0)
            || label(&keys.namespace_label) != Some(owner.1)
            || says(Some(&live), &keys.prune_annotation, "disabled")
            || says(Some(&live), &keys.reconcile_annotation, "disabled")
            || says(Some(&live), &keys.ssa_annotation, "ignore")
        {
            return Ok(Action::Skipped);
        }
        match api.delete(&id.name, &DeleteParams::background()).await {
            Ok(_) => Ok(Action::Deleted),
            Err(e) if is_not_found(&e) => Ok(Action::Deleted),
            Err(e) => Err(failed(&e)),
        }
    }
}

/// Calls `done` every `every` until it holds (`true`) or `limit` has passed
/// (`false`); its errors end the wait.
///
/// # Errors
/// The first error of `done`.
pub async fn poll_until<F, Fut>(
    every: Duration,
    limit: Duration,
    mut done: F,
) -> Result<bool, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Error>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        // Polling the API server: deletions, CRD establishment and readiness
        // have no single event to await.
        tokio::time::sleep(every).await;
    }
}

/// Whether the object would change: a label, an annotation, or anything
/// outside `metadata` and `status` differs between the dry-run and the live
/// object.
#[must_use]
pub fn drifted(dry: &Value, live: &Value) -> bool {
    let meta = |o: &Value, k: &str| o.pointer(&format!("/metadata/{k}")).cloned();
    let body = |o: &Value| -> Map<String, Value> {
        o.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "metadata" && *k != "status")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    meta(dry, "labels") != meta(live, "labels")
        || meta(dry, "annotations") != meta(live, "annotations")
        || body(dry) != body(live)
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
        other => other.to_string(),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether the API server refused a change to an immutable field.
fn is_immutable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if (s.code == 422 || s.code == 409)
        && (s.message.contains("immutable") || s.message.contains("Forbidden: updates to")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ObjectId, drifted};

    #[test]
    fn inventory_ids_round_trip() {
        let id = ObjectId::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}}));
        assert_eq!(id.inventory_id(), "prod_web_apps_Deployment");
        assert_eq!(
            ObjectId::from_inventory("prod_web_apps_Deployment", "v1"),
            Some(id)
        );
        let ns = ObjectId::of(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "prod"}}));
        assert_eq!(ns.inventory_id(), "_prod__Namespace");
        assert_eq!(ns.to_string(), "Namespace/prod");
        assert_eq!(ObjectId::from_inventory("_prod__Namespace", "v1"), Some(ns));
        let role = ObjectId::of(&json!({"apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole", "metadata": {"name": "system:x"}}));
        assert_eq!(
            role.inventory_id(),
            "_system__x_rbac.authorization.k8s.io_ClusterRole"
        );
        assert_eq!(
            ObjectId::from_inventory(&role.inventory_id(), "v1"),
            Some(role)
        );
    }

    #[test]
    fn drift_ignores_server_metadata_only() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "1",
            "labels": {"x": "1"}}, "data": {"k": "v"}, "status": {"s": 1}});
        let mut dry = live.clone();
        dry["metadata"]["resourceVersion"] = json!("2");
        dry["status"] = json!({"s": 2});
        assert!(!drifted(&dry, &live));
        dry["data"]["k"] = json!("w");
        assert!(drifted(&dry, &live));
        let mut relabeled = live.clone();
        relabeled["metadata"]["labels"]["x"] = json!("2");
        assert!(drifted(&relabeled, &live));
    }
}
