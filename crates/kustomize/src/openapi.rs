//! The strategic-merge-patch facts of the Kubernetes schema, from
//! `data/openapi.json` (generated from the Kubernetes `OpenAPI` document; see
//! `data/README.md`): which definition describes a kind, and for each field
//! of a definition its patch strategy, merge key and child definitions.
//!
//! Fields the table leaves out have default semantics: maps merge, lists are
//! replaced.
//!
//! A kustomization's `openapi: {path: <file>}` gives a custom schema
//! instead ([`Table::parse_custom`], in `custom`), parsed once per build;
//! a [`View`] says which schema one strategic merge reads. The built-in
//! table is parsed once per process and never changes.

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

/// The patch metadata of a schema, by definition name: the built-in table
/// ([`builtin`]) or a kustomization's custom schema ([`Table::parse_custom`]).
#[derive(Debug, Default, Deserialize)]
pub struct Table {
    defs: HashMap<String, HashMap<String, Field>>,
    kinds: HashMap<String, Kind>,
    /// A definition's `additionalProperties`: the field every key without
    /// a property of its own gets (custom schemas only; the built-in table
    /// says `map` on the parent field instead).
    #[serde(default)]
    additional: HashMap<String, Field>,
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

/// The built-in table (kustomize's Kubernetes v1.21.2 schema), parsed on
/// first use and shared by every build.
#[must_use]
pub fn builtin() -> &'static Table {
    &TABLE
}

/// The key of a kind in [`Table::kinds`]: `<group>/<version>/<Kind>`, the
/// core group being empty.
fn kind_key(api_version: &str, kind: &str) -> String {
    if api_version.contains('/') {
        format!("{api_version}/{kind}")
    } else {
        format!("/{api_version}/{kind}")
    }
}

impl Table {
    /// The definition of a kind in this table alone.
    fn kind_def(&self, api_version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .get(&kind_key(api_version, kind))
            .map(|k| k.def.as_str())
    }

    /// Whether this table defines `def` (which then hides the built-in
    /// definition of that name, as kyaml's definitions map does).
    fn defines(&self, def: &str) -> bool {
        self.defs.contains_key(def) || self.additional.contains_key(def)
    }

    /// A field of `def` in this table alone: its property, else the
    /// definition's `additionalProperties`.
    fn def_field(&self, def: &str, field: &str) -> Option<&Field> {
        self.defs
            .get(def)
            .and_then(|fields| fields.get(field))
            .or_else(|| self.additional.get(def))
    }
}

/// The schema one strategic merge reads: which one depends on the
/// kustomizations' `openapi` fields (see `build`).
#[derive(Clone, Copy, Debug)]
pub enum View<'a> {
    /// kustomize's built-in Kubernetes v1.21.2 schema (no `openapi`, or
    /// `openapi: {version: v1.21.2}`).
    Builtin,
    /// A custom schema alone: kinds it does not define have no schema.
    Custom(&'a Table),
    /// A custom schema over the built-in one: its definitions replace the
    /// built-in ones of the same name and its kinds are added. kustomize
    /// ends up here when a base or component sets the custom schema after
    /// the build has already read the built-in one.
    Layered(&'a Table),
}

impl<'a> View<'a> {
    /// The schema definition name of a kind, e.g. `("apps/v1",
    /// "Deployment")` → `Some("io.k8s.api.apps.v1.Deployment")`; `None` for
    /// kinds without a schema (custom resources).
    #[must_use]
    pub fn definition(self, api_version: &str, kind: &str) -> Option<&'a str> {
        match self {
            Self::Builtin => builtin().kind_def(api_version, kind),
            Self::Custom(table) => table.kind_def(api_version, kind),
            Self::Layered(table) => table
                .kind_def(api_version, kind)
                .or_else(|| builtin().kind_def(api_version, kind)),
        }
    }

    /// The patch metadata of `field` inside definition `def` (`None` = no
    /// metadata: default semantics).
    #[must_use]
    pub fn field(self, def: &str, field: &str) -> Option<&'a Field> {
        match self {
            Self::Custom(table) => table.def_field(def, field),
            Self::Layered(table) if table.defines(def) => table.def_field(def, field),
            Self::Builtin | Self::Layered(_) => builtin().def_field(def, field),
        }
    }
}

/// The schema definition name of a kind in the built-in table (see
/// [`View::definition`]).
#[must_use]
pub fn definition(api_version: &str, kind: &str) -> Option<&'static str> {
    View::Builtin.definition(api_version, kind)
}

/// The patch metadata of `field` inside definition `def` of the built-in
/// table (see [`View::field`]).
#[must_use]
pub fn field(def: &str, field: &str) -> Option<&'static Field> {
    View::Builtin.field(def, field)
}

mod custom;
pub use custom::{Error, MAX_CUSTOM_SCHEMA_BYTES, scope_reads_schema};

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
