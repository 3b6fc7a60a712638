//! What an install or upgrade learns from the live cluster, as Helm's action configuration
//! does: `.Capabilities` (the server's version and every API version and kind it serves, by
//! discovery) and the objects `lookup` reads.
//!
//! [`capabilities`] costs one request per API group version, so callers cache it;
//! [`ClusterLookup`] reads one object (or list) per call, blocking on the async client: the
//! render it serves runs on a blocking thread ([`crate::Helm`] arranges that).

use std::collections::BTreeSet;

use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use tokio::runtime::Handle;

/// The cluster's `.Capabilities`: its `gitVersion` (`v1.20.15`) and the API versions Helm's
/// discovery lists (`apps/v1`, `apps/v1/Deployment`, ..., the core group as `v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The server's version.
    pub kube_version: String,
    /// `group/version` and `group/version/Kind` of every resource served, sorted.
    pub api_versions: Vec<String>,
}

/// Asks the API server for its version and discovers what it serves.
///
/// # Errors
/// The API server does not answer the version or the group list. A group version whose
/// resources cannot be listed (an unavailable aggregated API) is left out, as Helm's discovery
/// does with partial results.
pub async fn capabilities(client: &kube::Client) -> Result<Capabilities, kube::Error> {
    let version = client.apiserver_version().await?;
    let mut versions = BTreeSet::new();
    let mut group_versions = Vec::new();
    for v in client.list_core_api_versions().await?.versions {
        group_versions.push(v);
    }
    for group in client.list_api_groups().await?.groups {
        for v in group.versions {
            group_versions.push(v.group_version);
        }
    }
    for gv in group_versions {
        let resources = if gv.contains('/') {
            client.list_api_group_resources(&gv).await
        } else {
            client.list_core_api_resources(&gv).await
        };
        let Ok(list) = resources else {
            continue;
        };
        for r in &list.resources {
            versions.insert(format!("{gv}/{}", r.kind));
        }
        versions.insert(gv);
    }
    Ok(Capabilities {
        kube_version: version.git_version,
        api_versions: versions.into_iter().collect(),
    })
}

/// Helm's `lookup`, answered from the cluster through `client`.
#[derive(Clone)]
pub struct ClusterLookup {
    client: kube::Client,
    handle: Handle,
}

impl std::fmt::Debug for ClusterLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterLookup")
    }
}

impl ClusterLookup {
    /// A lookup through `client`, blocking on the current Tokio runtime.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[must_use]
    pub fn new(client: kube::Client) -> ClusterLookup {
        ClusterLookup {
            client,
            handle: Handle::current(),
        }
    }

    async fn read(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        // As Helm's, a kind the cluster does not serve fails the render; only a missing
        // object answers an empty map.
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| describe(api_version, kind, namespace, name, &e))?;
        let api: Api<DynamicObject> = match (caps.scope, namespace) {
            (Scope::Namespaced, ns) if !ns.is_empty() => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            _ => Api::all_with(self.client.clone(), &resource),
        };
        let found = if name.is_empty() {
            api.list(&ListParams::default())
                .await
                .map(|list| Some(list_object(&resource, list)))
        } else {
            api.get_opt(name)
                .await
                .map(|o| o.and_then(|o| serde_json::to_value(o).ok()))
        };
        match found {
            Ok(v) => Ok(v),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(describe(api_version, kind, namespace, name, &e)),
        }
    }
}

impl ferroflux_helm::lookup::Lookup for ClusterLookup {
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        self.handle
            .block_on(self.read(api_version, kind, namespace, name))
    }
}

/// A list as client-go's unstructured list: `apiVersion`, `kind: <Kind>List`, `metadata`, `items`.
fn list_object(
    resource: &ApiResource,
    list: kube::core::ObjectList<DynamicObject>,
) -> serde_json::Value {
    let items: Vec<serde_json::Value> = list
        .items
        .into_iter()
        .filter_map(|mut o| {
            o.types = Some(kube::core::TypeMeta {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
            });
            serde_json::to_value(o).ok()
        })
        .collect();
    serde_json::json!({
        "apiVersion": resource.api_version,
        "kind": format!("{}List", resource.kind),
        "metadata": serde_json::to_value(&list.metadata).unwrap_or_default(),
        "items": items,
    })
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn describe(api_version: &str, kind: &str, namespace: &str, name: &str, e: &kube::Error) -> String {
    let what = match (namespace, name) {
        ("", "") => "all".to_owned(),
        ("", n) => n.to_owned(),
        (ns, "") => format!("all in namespace {ns}"),
        (ns, n) => format!("{ns}/{n}"),
    };
    format!("lookup of {kind} ({api_version}) {what} failed: {e}")
}
