//! The strategic-merge-patch facts of the Kubernetes schema, from
//! `data/openapi.json` (generated from the Kubernetes `OpenAPI` document; see
//! `data/README.md`): which definition describes a kind, and for each field
//! of a definition its patch strategy, merge key and child definitions.
//!
//! Fields the table leaves out have default semantics: maps merge, lists are
//! replaced.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The patch metadata of one field of a schema definition.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Field {
    /// The definition of the field's value when it is an object (`ref`).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Whether the field is a list.
    pub list: bool,
    /// The definition of the list's elements; `None` for lists of scalars.
    pub items: Option<String>,
    /// The definition of the values when the field is a map of objects.
    pub map: Option<String>,
    /// `x-kubernetes-patch-strategy`, verbatim (`merge`, `replace`,
    /// `retainKeys`, `merge,retainKeys`).
    pub strategy: Option<String>,
    /// `x-kubernetes-patch-merge-key`.
    pub key: Option<String>,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`; empty when absent.
    pub list_map_keys: Vec<String>,
}

impl Field {
    /// Whether the patch strategy includes `merge` (alone or with
    /// `retainKeys`), i.e. whether a list here is merged element-wise.
    #[must_use]
    pub fn merges(&self) -> bool {
        self.strategy
            .as_deref()
            .is_some_and(|s| s.split(',').any(|part| part == "merge"))
    }
}

#[derive(Debug, Deserialize)]
struct Table {
    defs: HashMap<String, HashMap<String, Field>>,
    kinds: HashMap<String, Kind>,
}

#[derive(Debug, Deserialize)]
struct Kind {
    def: String,
}

/// The embedded table, parsed once.
static TABLE: LazyLock<Table> = LazyLock::new(|| {
    #[allow(clippy::expect_used, reason = "embedded data, checked by a unit test")]
    serde_json::from_str(include_str!("../data/openapi.json")).expect("data/openapi.json parses")
});

/// The schema definition name of a kind, e.g. `("apps/v1", "Deployment")` →
/// `Some("io.k8s.api.apps.v1.Deployment")`; `None` for kinds not in the table
/// (custom resources).
#[must_use]
pub fn definition(api_version: &str, kind: &str) -> Option<&'static str> {
    // Keys are `<group>/<version>/<Kind>`, the core group being empty.
    let key = if api_version.contains('/') {
        format!("{api_version}/{kind}")
    } else {
        format!("/{api_version}/{kind}")
    };
    let table: &'static Table = &TABLE;
    table.kinds.get(&key).map(|k| k.def.as_str())
}

/// The patch metadata of `field` inside definition `def` (`None` = no
/// metadata: default semantics).
#[must_use]
pub fn field(def: &str, field: &str) -> Option<&'static Field> {
    let table: &'static Table = &TABLE;
    table.defs.get(def)?.get(field)
}

#[cfg(test)]
mod tests {
    use super::{definition, field};

    #[test]
    fn kinds_map_to_their_definitions() {
        assert_eq!(
            definition("apps/v1", "Deployment"),
            Some("io.k8s.api.apps.v1.Deployment")
        );
        assert_eq!(definition("v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        assert_eq!(definition("example.com/v1", "Foo"), None);
        assert_eq!(definition("apps/v1", "Pod"), None);
    }

    #[test]
    fn fields_carry_their_patch_metadata() {
        let containers = field("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
        assert!(containers.list && containers.merges());
        assert_eq!(containers.key.as_deref(), Some("name"));
        assert_eq!(
            containers.items.as_deref(),
            Some("io.k8s.api.core.v1.Container")
        );
        let volumes = field("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(volumes.merges());
        let ports = field("io.k8s.api.core.v1.Container", "ports").unwrap();
        assert_eq!(ports.list_map_keys, ["containerPort", "protocol"]);
        assert_eq!(ports.list_type.as_deref(), Some("map"));
        let finalizers = field(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
        )
        .unwrap();
        assert!(finalizers.merges() && finalizers.items.is_none() && finalizers.key.is_none());
        let spec = field("io.k8s.api.apps.v1.Deployment", "spec").unwrap();
        assert_eq!(
            spec.reference.as_deref(),
            Some("io.k8s.api.apps.v1.DeploymentSpec")
        );
        let strategy = field("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert!(!strategy.merges());
        assert!(field("io.k8s.api.core.v1.Container", "args").is_none());
        assert!(field("no.such.Definition", "spec").is_none());
    }
}
