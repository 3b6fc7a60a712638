//! Field specs: which fields of which kinds a transformer touches, from
//! `data/fieldspecs.yaml` (kustomize v5.7.1's tables), and the walk that
//! reaches them.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One entry: kinds it applies to (empty = any) and the `/`-separated path.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct FieldSpec {
    /// API group; empty matches any.
    pub group: String,
    /// API version; empty matches any.
    pub version: String,
    /// Kind; empty matches any.
    pub kind: String,
    /// The path, `/`-separated; `name[]` marks a sequence.
    pub path: String,
    /// Whether missing fields on the way are created.
    pub create: bool,
    /// Whether this is a selector field (used only with `includeSelectors`).
    pub selector: bool,
}

/// The tables of `data/fieldspecs.yaml` this crate uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tables {
    /// `namePrefix` (and `nameSuffix`).
    pub name_prefix: Vec<FieldSpec>,
    /// `nameSuffix`, merged but never read (as in kustomize).
    pub name_suffix: Vec<FieldSpec>,
    /// `namespace`, beyond `metadata/namespace` and role binding subjects.
    pub namespace: Vec<FieldSpec>,
    /// `commonLabels` and `labels` with `includeSelectors`.
    pub common_labels: Vec<FieldSpec>,
    /// `labels` with `includeTemplates`.
    pub template_labels: Vec<FieldSpec>,
    /// `commonAnnotations`.
    pub common_annotations: Vec<FieldSpec>,
    /// `images`.
    pub images: Vec<FieldSpec>,
    /// `replicas`.
    pub replicas: Vec<FieldSpec>,
    /// `(apiVersion, kind)` pairs that are cluster-scoped.
    pub cluster_scoped: Vec<ApiKind>,
    /// Which fields of which kinds refer to objects of which kind by name.
    pub name_reference: Vec<NameReference>,
    /// Fields where `vars` are expanded (`$(NAME)`).
    pub var_reference: Vec<FieldSpec>,
    /// Kinds `namePrefix` and `nameSuffix` leave alone.
    pub prefix_suffix_skip: Vec<FieldSpec>,
    /// The default legacy output order.
    pub legacy_sort_order: LegacyOrder,
}

/// The fields (`referrers`) that hold the name of an object of one kind
/// (`target`, matched by group, version and kind).
#[derive(Debug, Deserialize)]
pub struct NameReference {
    /// The referenced kind; only its group, version and kind are set.
    #[serde(flatten)]
    pub target: FieldSpec,
    /// The fields holding the name.
    pub referrers: Vec<FieldSpec>,
}

/// An `(apiVersion, kind)` pair.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKind {
    /// e.g. `rbac.authorization.k8s.io/v1`.
    pub api_version: String,
    /// e.g. `ClusterRole`.
    pub kind: String,
}

/// Kinds first and last in the legacy order.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyOrder {
    /// Kinds printed first, in this order.
    pub order_first: Vec<String>,
    /// Kinds printed last, in this order.
    pub order_last: Vec<String>,
}

/// The tables, parsed once.
///
/// # Panics
/// Never in a built crate: the embedded file is checked by a unit test.
pub static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let text = include_str!("../data/fieldspecs.yaml");
    let docs = crate::yaml::parse_documents(text).unwrap_or_default();
    #[allow(clippy::expect_used, reason = "embedded data, checked by a unit test")]
    serde_json::from_value(docs.into_iter().next().unwrap_or_default())
        .expect("data/fieldspecs.yaml parses")
});

/// `(group, version)` of an `apiVersion`.
#[must_use]
pub fn group_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

impl FieldSpec {
    /// Whether the spec applies to an object of this apiVersion and kind.
    #[must_use]
    pub fn applies(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = group_version(api_version);
        (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
            && (self.kind.is_empty() || self.kind == kind)
    }

    /// Calls `f` on every field the path reaches in `obj`, creating missing
    /// maps on the way when the spec says so (the last field is created as
    /// `make()`).
    pub fn visit(&self, obj: &mut Value, make: &dyn Fn() -> Value, f: &mut dyn FnMut(&mut Value)) {
        let segments = split_path(&self.path);
        walk(obj, &segments, self.create, make, f);
    }
}

fn split_path(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                if let Some(s) = out.last_mut() {
                    s.push('/');
                }
            }
            '/' => out.push(String::new()),
            c => {
                if let Some(s) = out.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    out
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: bool,
    make: &dyn Fn() -> Value,
    f: &mut dyn FnMut(&mut Value),
) {
    if let Value::Array(items) = node {
        for item in items {
            walk(item, path, create, make, f);
        }
        return;
    }
    let Some((first, rest)) = path.split_first() else {
        f(node);
        return;
    };
    let Value::Object(map) = node else {
        return;
    };
    // `name[]` is a sequence: walked when present, never created.
    let (field, sequence) = first
        .strip_suffix("[]")
        .map_or((first.as_str(), false), |f| (f, true));
    if !map.contains_key(field) || map[field].is_null() {
        if !create || sequence {
            return;
        }
        let fresh = if rest.is_empty() {
            make()
        } else {
            Value::Object(Map::new())
        };
        map.insert(field.to_owned(), fresh);
    }
    if let Some(child) = map.get_mut(field) {
        walk(child, rest, create, make, f);
    }
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    #[test]
    fn the_embedded_tables_parse() {
        assert!(TABLES.common_labels.iter().any(|s| s.selector));
        assert!(
            TABLES
                .cluster_scoped
                .iter()
                .any(|k| k.kind == "ClusterRole")
        );
        assert_eq!(TABLES.legacy_sort_order.order_first[0], "Namespace");
    }
}
