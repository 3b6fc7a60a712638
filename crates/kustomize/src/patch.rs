//! The patch transformers: `patches` (strategic merge or JSON 6902, with
//! an optional `target`), and the deprecated `patchesStrategicMerge` and
//! `patchesJson6902`.
//!
//! A patch without a target finds its object by its own id (any id the
//! object has had); a targeted patch applies to every selected object, and
//! selecting nothing is not an error, as in kustomize.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::resource::{Id, Resource, api_kind};
use crate::selector::Selector;
use crate::{json6902, openapi, selector, smp, yaml};

/// Why a patch could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Text starting with `[` is not valid JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Malformed YAML.
    #[error(transparent)]
    Yaml(#[from] yaml::Error),
    /// A JSON 6902 operation list of the wrong shape.
    #[error(transparent)]
    Operations(#[from] json6902::Error),
    /// The patch has no document.
    #[error("the patch is empty")]
    Empty,
    /// Documents that are neither all mappings nor one sequence.
    #[error("the patch is neither strategic-merge objects nor a JSON 6902 operation list")]
    Neither,
    /// No object has the id of a patch without a target.
    #[error(
        "no object is {id}; a patch without a target names its object by apiVersion, kind, name and namespace"
    )]
    NoObject {
        /// The patch's id.
        id: String,
    },
    /// Several objects have the id of a patch without a target.
    #[error("several objects match {id}")]
    SeveralObjects {
        /// The patch's id.
        id: String,
    },
    /// A malformed `target`.
    #[error(transparent)]
    Target(#[from] selector::Error),
    /// A strategic merge failed on an object.
    #[error("{id}: strategic merge: {source}")]
    Strategic {
        /// The object.
        id: String,
        /// Why the merge failed.
        #[source]
        source: smp::Error,
    },
    /// A JSON 6902 operation failed on an object.
    #[error("{id}: {source}")]
    Operation {
        /// The object.
        id: String,
        /// Which operation failed, and why.
        #[source]
        source: json6902::Error,
    },
}

/// One `patches` (or `patchesJson6902`) entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Patch {
    /// A file holding the patch.
    pub path: Option<String>,
    /// The patch, inline.
    pub patch: Option<String>,
    /// The objects to patch.
    pub target: Option<Selector>,
    /// `allowNameChange`, `allowKindChange`.
    pub options: BTreeMap<String, bool>,
}

/// A loaded patch.
pub enum Loaded {
    /// Strategic-merge patches, one per document.
    Strategic(Vec<Value>),
    /// A JSON 6902 operation list.
    Json(Vec<json6902::Operation>),
}

/// Parses a patch's text as strategic-merge documents (mappings) or a JSON
/// 6902 operation list (a sequence, JSON or YAML).
///
/// # Errors
/// An [`Error`] when the text is neither, or malformed.
pub fn load(text: &str) -> Result<Loaded, Error> {
    // JSON text is read as JSON, so `1.0` stays a float for `test`.
    if text.trim_start().starts_with('[') {
        let ops: Value = serde_json::from_str(text)?;
        return Ok(Loaded::Json(json6902::parse(&ops)?));
    }
    let docs = yaml::parse_patches(&yaml::normalise(text))?;
    match docs.as_slice() {
        [] => Err(Error::Empty),
        [ops @ Value::Array(_)] => Ok(Loaded::Json(json6902::parse(ops)?)),
        docs if docs.iter().all(Value::is_object) => Ok(Loaded::Strategic(docs.to_vec())),
        _ => Err(Error::Neither),
    }
}

/// Applies a strategic-merge patch to the one object whose id (current or
/// earlier) is the patch's own, with the schema `schema` says.
///
/// # Errors
/// [`Error::NoObject`] or [`Error::SeveralObjects`] when no object, or more
/// than one, has that id, [`Error::Strategic`] when the merge fails.
pub fn strategic_by_id(
    acc: &mut Vec<Resource>,
    patch: &Value,
    schema: openapi::View<'_>,
) -> Result<(), Error> {
    let id = Id::of(patch);
    let found: Vec<usize> = acc
        .iter()
        .enumerate()
        .filter(|(_, r)| r.any_id(|other| *other == id))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [i] => {
            let i = *i;
            if !strategic(&mut acc[i], patch, &BTreeMap::new(), schema)? {
                acc.remove(i);
            }
            Ok(())
        }
        [] => Err(Error::NoObject { id: id.to_string() }),
        _ => Err(Error::SeveralObjects { id: id.to_string() }),
    }
}

/// Applies a strategic-merge patch to every object `target` selects.
///
/// # Errors
/// [`Error::Target`] when the target is malformed, [`Error::Strategic`] when
/// a merge fails.
pub fn strategic_targeted(
    acc: &mut Vec<Resource>,
    patch: &Value,
    target: &Selector,
    options: &BTreeMap<String, bool>,
    schema: openapi::View<'_>,
) -> Result<usize, Error> {
    let selector = target.compile()?;
    let mut kept = Vec::with_capacity(acc.len());
    let mut merged = 0;
    for mut res in std::mem::take(acc) {
        if selector.matches(&res) {
            merged += 1;
            if !strategic(&mut res, patch, options, schema)? {
                continue;
            }
        }
        kept.push(res);
    }
    *acc = kept;
    Ok(merged)
}

/// Merges `patch` into one object, keeping its name, namespace and kind
/// unless the options allow changing them. Returns false when the patch
/// deletes the object.
fn strategic(
    res: &mut Resource,
    patch: &Value,
    options: &BTreeMap<String, bool>,
    schema: openapi::View<'_>,
) -> Result<bool, Error> {
    let allow_name = options.get("allowNameChange").copied().unwrap_or(false);
    let allow_kind = options.get("allowKindChange").copied().unwrap_or(false);
    let name = res.name().to_owned();
    let namespace = res.namespace().to_owned();
    let (api_version, kind) = api_kind(&res.obj);
    if allow_name || allow_kind {
        res.remember_id();
    }
    let mut patch = patch.clone();
    // The patch takes the object's apiVersion, as kustomize does, so a
    // patch written for another version still applies; a non-string one
    // (`apiVersion: 1`) is kept as the object has it.
    let own_version = res
        .obj
        .get("apiVersion")
        .cloned()
        .unwrap_or_else(|| Value::String(api_version.clone()));
    if let Some(p) = patch.as_object_mut() {
        p.insert("apiVersion".into(), own_version);
    }
    let def = schema.definition(&api_version, &kind);
    let outcome =
        smp::apply(&mut res.obj, &patch, schema, def).map_err(|source| Error::Strategic {
            id: res.id().to_string(),
            source,
        })?;
    if outcome == smp::Outcome::Deleted {
        return Ok(false);
    }
    if !allow_kind && let Some(obj) = res.obj.as_object_mut() {
        obj.insert("kind".into(), Value::String(kind));
    }
    if !allow_name {
        res.set_metadata("name", &name);
    }
    if namespace.is_empty() {
        if let Some(meta) = res.obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
    } else {
        res.set_metadata("namespace", &namespace);
    }
    Ok(true)
}

/// Applies JSON 6902 operations to every object `target` selects;
/// `remember` records the id first (the `patches` field does, the
/// deprecated `patchesJson6902` does not), so renames are followed.
///
/// # Errors
/// [`Error::Target`] when the target is malformed, [`Error::Operation`]
/// naming the object when an operation fails.
pub fn json(
    acc: &mut [Resource],
    ops: &[json6902::Operation],
    target: &Selector,
    remember: bool,
) -> Result<(), Error> {
    let selector = target.compile()?;
    for res in acc.iter_mut().filter(|r| selector.matches(r)) {
        let id = res.id();
        if remember {
            res.remember_id();
            with_build_annotations(res, |obj| json6902::apply(obj, ops))
        } else {
            json6902::apply(&mut res.obj, ops)
        }
        .map_err(|source| Error::Operation {
            id: id.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// The annotations kustomize's `patches` operations see on every object:
/// its earlier ids and name prefixes and suffixes. Because of them, `add
/// /metadata/annotations/x` works on an object without annotations, as it
/// does in kustomize. They are removed again afterwards.
const BUILD_ANNOTATIONS: [&str; 5] = [
    "internal.config.kubernetes.io/previousKinds",
    "internal.config.kubernetes.io/previousNames",
    "internal.config.kubernetes.io/previousNamespaces",
    "internal.config.kubernetes.io/prefixes",
    "internal.config.kubernetes.io/suffixes",
];

fn with_build_annotations(
    res: &mut Resource,
    f: impl FnOnce(&mut Value) -> Result<(), json6902::Error>,
) -> Result<(), json6902::Error> {
    let join = |items: Vec<&str>| items.join(",");
    let values = [
        join(res.previous.iter().map(|id| id.kind.as_str()).collect()),
        join(res.previous.iter().map(|id| id.name.as_str()).collect()),
        join(
            res.previous
                .iter()
                .map(|id| id.namespace.as_str())
                .collect(),
        ),
        join(res.prefixes.iter().map(String::as_str).collect()),
        join(res.suffixes.iter().map(String::as_str).collect()),
    ];
    let Some(meta) = res
        .obj
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(serde_json::Map::new()))
        })
        .and_then(Value::as_object_mut)
    else {
        return f(&mut res.obj);
    };
    if let Some(annotations) = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()
    {
        for (key, value) in BUILD_ANNOTATIONS.iter().zip(values) {
            if !value.is_empty() {
                annotations.insert((*key).to_owned(), Value::String(value));
            }
        }
    }
    let result = f(&mut res.obj);
    if let Some(meta) = res.obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for key in BUILD_ANNOTATIONS {
                annotations.remove(key);
            }
        }
        if meta
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(serde_json::Map::is_empty)
        {
            meta.remove("annotations");
        }
    }
    result
}
