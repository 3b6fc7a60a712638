//! The spec of a replacement: `replacements` entries and replacement files,
//! read with the fields kustomize ignores dropped.

use serde::Deserialize;
use serde_json::Value;

use super::{Error, describe};

/// The field a source or target names when it gives no `fieldPath`.
pub(super) const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// One `replacements` entry of a kustomization, or one entry of a
/// replacements file (see [`Replacement::from_value`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Replacement {
    /// A file holding one replacement or a list of them. Such an entry is
    /// replaced by the file's entries before [`apply`](super::apply) runs; kustomize
    /// refuses an entry with both `path` and `source` or `targets`.
    pub path: Option<String>,
    /// Where the value is read.
    pub source: Option<Source>,
    /// Where it is written, in order.
    pub targets: Vec<Target>,
}

/// The one object, and its field, a replacement reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Source {
    /// API group, exact; empty for any.
    pub group: String,
    /// API version, exact; empty for any.
    pub version: String,
    /// Kind, exact; empty for any.
    pub kind: String,
    /// Name, exact (current or earlier); empty for any.
    pub name: String,
    /// Namespace, exact (current or earlier, `default` for none); empty for
    /// any.
    pub namespace: String,
    /// The field read; `metadata.name` when empty.
    pub field_path: String,
    /// `delimiter` and `index` pick one part of the value.
    pub options: Option<FieldOptions>,
}

/// The objects and fields a replacement writes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Target {
    /// The objects written; required (`{}` selects every object).
    pub select: Option<ObjectSelector>,
    /// Objects skipped even when selected.
    pub reject: Vec<ObjectSelector>,
    /// The fields written in each object; `metadata.name` when empty.
    pub field_paths: Vec<String>,
    /// `delimiter`, `index` and `create`.
    pub options: Option<FieldOptions>,
}

/// A `select` or `reject`: exact id fields (not regular expressions, unlike
/// patch targets) plus label and annotation selectors.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ObjectSelector {
    /// API group, exact; empty for any.
    pub group: String,
    /// API version, exact; empty for any.
    pub version: String,
    /// Kind, exact; empty for any.
    pub kind: String,
    /// Name, exact (current or earlier); empty for any.
    pub name: String,
    /// Namespace, exact (current or earlier, `default` for none); empty for
    /// any.
    pub namespace: String,
    /// A label selector in Kubernetes syntax.
    pub label_selector: String,
    /// An annotation selector in the same syntax.
    pub annotation_selector: String,
}

/// `options` of a source or target.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FieldOptions {
    /// Splits the text at this string; empty for no splitting.
    pub delimiter: String,
    /// With `delimiter`: the part read (source, must exist) or replaced
    /// (target: negative prepends, past the end appends).
    pub index: i64,
    /// Accepted and ignored, as kustomize ignores it.
    pub encoding: String,
    /// Targets only: create the fields the path names when missing.
    pub create: bool,
}

impl Replacement {
    /// The entries of a replacements file (`path:`), already parsed: one
    /// replacement (a mapping) or a list of them. Unlike a kustomization's
    /// inline entries, fields kustomize does not know are ignored here
    /// (`path` among them), as kustomize reads these files leniently.
    ///
    /// # Errors
    /// [`Error::FileShape`] when the contents are neither a mapping nor a
    /// list, [`Error::FileEntry`] when a known field has the wrong type.
    pub fn from_value(value: &Value) -> Result<Vec<Self>, Error> {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            Value::Object(_) => std::slice::from_ref(value),
            other => {
                return Err(Error::FileShape {
                    found: describe(other),
                });
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                if item.is_null() {
                    // Go decodes null into an empty replacement, which
                    // `apply` then refuses for its missing source.
                    return Ok(Self::default());
                }
                serde_json::from_value(known_fields(item, Shape::Replacement))
                    .map_err(|source| Error::FileEntry { index: i, source })
            })
            .collect()
    }
}

/// The parts of a replacement, for dropping the fields kustomize ignores.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    Replacement,
    Source,
    Target,
    Selector,
    Options,
}

impl Shape {
    pub(super) fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Replacement => &["source", "targets"],
            Self::Source => &[
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "fieldPath",
                "options",
            ],
            Self::Target => &["select", "reject", "fieldPaths", "options"],
            Self::Selector => &[
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "labelSelector",
                "annotationSelector",
            ],
            Self::Options => &["delimiter", "index", "encoding", "create"],
        }
    }

    /// The shape of what `field` holds, when it holds more structure.
    pub(super) fn child(self, field: &str) -> Option<Self> {
        match (self, field) {
            (Self::Replacement, "source") => Some(Self::Source),
            (Self::Replacement, "targets") => Some(Self::Target),
            (Self::Target, "select" | "reject") => Some(Self::Selector),
            (Self::Source | Self::Target, "options") => Some(Self::Options),
            _ => None,
        }
    }
}

/// `value` without the fields `shape` does not have, recursively; lists
/// are pruned element by element.
pub(super) fn known_fields(value: &Value, shape: Shape) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| shape.fields().contains(&k.as_str()))
                .map(|(k, v)| {
                    let v = match shape.child(k) {
                        Some(child) => known_fields(v, child),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| known_fields(v, shape)).collect()),
        other => other.clone(),
    }
}
