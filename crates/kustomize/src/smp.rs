//! Strategic merge patch of one object, exactly as kustomize v5.7.1 applies a
//! `patches` entry: kyaml's `merge2` walk over (object, patch) with patch
//! elements put first in merged lists, driven by the patch metadata of
//! [`crate::openapi`] (the built-in schema or a kustomization's custom one,
//! as the [`View`] given says).
//!
//! The rules, all checked against `kubectl kustomize` (kustomize v5.7.1):
//! - Maps merge key by key; a `null` patch value deletes the key (and adds
//!   nothing). A map's `$patch: replace` replaces it, `$patch: delete` removes
//!   it, `$patch: merge` is dropped; another value is an error, except in a
//!   map the object does not have yet, where it stays as an ordinary key.
//! - Lists whose field has the `merge` strategy merge element-wise on the
//!   merge key (on `x-kubernetes-list-map-keys` when the field has them, e.g.
//!   container ports on `containerPort` and `protocol`; on the values for
//!   lists of scalars such as `finalizers`). The patch's elements come first
//!   in patch order, each merged into the object's element with the same key,
//!   then the object's other elements in their order. An element
//!   `{$patch: replace}` or `{$patch: delete}` (alone in its map) replaces or
//!   deletes the whole list; an element with `$patch: delete` deletes the
//!   matching element.
//! - Every other list, and every list of a kind without a schema (custom
//!   resources), is replaced. A map inside such a kind that names a known
//!   `apiVersion` and `kind` (an embedded object) uses that kind's schema.
//! - A patch value of another node kind (map, list, scalar) than the object's
//!   is an error. `$setElementOrder/…`, `$deleteFromPrimitiveList/…` and
//!   `$retainKeys` mean nothing to kustomize: they are merged as ordinary
//!   keys. The `retainKeys` strategy is ignored too (a volume changed from
//!   `emptyDir` to `configMap` keeps both).
//! - A top-level `$patch: delete` deletes the object; a top-level
//!   `$patch: replace` leaves it unchanged (kustomize discards the
//!   replacement).
//!
//! kustomize's quirks are reproduced on purpose, since the output must be
//! the same: an element with `$patch: replace` inside a merged list leaves
//! the object's element as it was; an element without its merge key deletes
//! every element that has one; of elements sharing a key, the last one's
//! content wins at the first one's place; a port patched without `protocol`
//! is dropped when the object's port has one; `null` elements and `{}`
//! elements are dropped; in a list the object does not have yet, list
//! directives are not read (a `{$patch: replace}` element stays, and being
//! keyless deletes the keyed elements). The whole object is walked, so these
//! also apply to lists the patch does not mention.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::openapi::{Field, View};

/// Why a strategic merge patch could not be applied, in kustomize's words.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A patch value whose node kind (map, list, scalar) differs from the
    /// object's.
    #[error("wrong node kind: expected {expected} but got {got}: node contents:\n{contents}")]
    WrongKind {
        /// The node kind the object has there (kyaml's name, `MappingNode`).
        expected: &'static str,
        /// The node kind the patch has there.
        got: &'static str,
        /// The patch's value.
        contents: Value,
    },
    /// A `$patch` value other than `merge`, `replace` and `delete`.
    #[error("unknown patch strategy '{0}'")]
    UnknownStrategy(String),
    /// The object to patch is not a map.
    #[error("the object to patch is not a map")]
    NotAMap,
}

/// What a patch did to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The patch was merged into the object (which may be unchanged).
    Patched,
    /// The patch is a top-level `$patch: delete`: the object is to be removed.
    Deleted,
}

/// Merges `patch` into `target`; `def` is the target kind's definition in
/// `view` ([`View::definition`]; `None` for kinds without a schema: maps
/// merge, every list is replaced wholesale).
///
/// # Errors
/// [`Error`], with kustomize's messages: a patch value whose node kind (map,
/// list, scalar) differs from the object's (`wrong node kind: expected
/// MappingNode but got ScalarNode: …`), and an unknown `$patch` value
/// (`unknown patch strategy 'x'`). `target` is unchanged on error.
///
/// # Caveats
/// kustomize keeps an object's `key: null` (or `~`) that the patch does not
/// mention but drops an empty `key:`; a [`Value`] cannot tell them apart, so
/// both are kept.
pub fn apply(
    target: &mut Value,
    patch: &Value,
    view: View<'_>,
    def: Option<&str>,
) -> Result<Outcome, Error> {
    let schema = Schema {
        view,
        at: def.map_or(At::None, At::Def),
    };
    let Value::Object(patch) = patch else {
        return Err(wrong_kind(Kind::Map, patch));
    };
    let Some(object) = target.as_object_mut() else {
        return Err(Error::NotAMap);
    };
    match directive(patch)? {
        Some(Directive::Delete) => Ok(Outcome::Deleted),
        Some(Directive::Replace) => {
            // kyaml builds the replacement as a new node, which kustomize
            // drops: only changes made in place reach the object. Errors in
            // the replacement still fail the build.
            let mut replacement = patch.clone();
            replacement.remove(DIRECTIVE);
            normalize_fields(replacement, schema)?;
            Ok(Outcome::Patched)
        }
        elided => {
            *object = merge_fields(object.clone(), Some(patch), elided.is_some(), schema)?;
            Ok(Outcome::Patched)
        }
    }
}

/// The key of the patch directives.
const DIRECTIVE: &str = "$patch";

/// A `$patch` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

impl Directive {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "merge" => Some(Self::Merge),
            "replace" => Some(Self::Replace),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// The directive of a patch map: `None` without `$patch`.
fn directive(map: &Map<String, Value>) -> Result<Option<Directive>, Error> {
    let Some(value) = map.get(DIRECTIVE) else {
        return Ok(None);
    };
    let value = text(value);
    Directive::parse(&value)
        .map(Some)
        .ok_or(Error::UnknownStrategy(value))
}

/// Removes a known `$patch` from a map, as kyaml does once it has read it.
fn elide(node: &mut Value) {
    if let Value::Object(map) = node
        && let Ok(Some(_)) = directive(map)
    {
        map.remove(DIRECTIVE);
    }
}

/// The directive of a patch list: the first map element holding `$patch`
/// decides, if `$patch` is its only key. The directive elements are removed
/// (and, kyaml being kyaml, `null` and `{}` elements with them).
fn list_directive(list: &mut Vec<Value>) -> Result<Directive, Error> {
    let Some(element) = list
        .iter()
        .filter_map(Value::as_object)
        .find(|m| m.contains_key(DIRECTIVE))
    else {
        return Ok(Directive::Merge);
    };
    if element.len() > 1 {
        return Ok(Directive::Merge);
    }
    let value = element.get(DIRECTIVE).map(text).unwrap_or_default();
    let found = Directive::parse(&value).ok_or_else(|| Error::UnknownStrategy(value.clone()))?;
    list.retain(|e| match e {
        Value::Null => false,
        Value::Object(m) => !m.is_empty() && m.get(DIRECTIVE).is_none_or(|v| text(v) != value),
        _ => true,
    });
    Ok(found)
}

/// The node kinds kyaml distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Map,
    Seq,
    Scalar,
}

impl Kind {
    fn of(value: &Value) -> Self {
        match value {
            Value::Object(_) => Self::Map,
            Value::Array(_) => Self::Seq,
            _ => Self::Scalar,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Map => "MappingNode",
            Self::Seq => "SequenceNode",
            Self::Scalar => "ScalarNode",
        }
    }
}

fn wrong_kind(expected: Kind, got: &Value) -> Error {
    Error::WrongKind {
        expected: expected.name(),
        got: Kind::of(got).name(),
        contents: got.clone(),
    }
}

/// The text of a node as kyaml compares it: a scalar's text, `""` for maps
/// and lists.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// An element's merge-key value: `""` when missing or null.
fn key_value(element: &Value, key: &str) -> String {
    element
        .get(key)
        .filter(|v| !v.is_null())
        .map(text)
        .unwrap_or_default()
}

/// A merge-key value written back as an untagged YAML scalar reads.
fn plain(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

fn is_empty_map(value: &Value) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

/// Where in the schema a node is, and which schema that is.
#[derive(Clone, Copy, Debug)]
struct Schema<'a> {
    view: View<'a>,
    at: At<'a>,
}

/// A place in a schema.
#[derive(Clone, Copy, Debug)]
enum At<'a> {
    /// No schema: maps merge, lists are replaced.
    None,
    /// An object of this definition.
    Def(&'a str),
    /// A map whose values are objects of this definition.
    Values(&'a str),
    /// A field with patch metadata but no definition (a list, mostly).
    Field(&'a Field),
}

impl<'a> Schema<'a> {
    fn at(self, at: At<'a>) -> Self {
        Self {
            view: self.view,
            at,
        }
    }

    fn of(self, field: &'a Field) -> Self {
        self.at(if let Some(def) = &field.reference {
            At::Def(def)
        } else if let Some(def) = &field.map {
            At::Values(def)
        } else {
            At::Field(field)
        })
    }

    fn child(self, key: &str) -> Self {
        match self.at {
            At::Def(def) => self
                .view
                .field(def, key)
                .map_or(self.at(At::None), |f| self.of(f)),
            At::Values(def) => self.at(At::Def(def)),
            At::None | At::Field(_) => self.at(At::None),
        }
    }

    fn elements(self) -> Self {
        match self.at {
            At::Field(field) => self.at(field.items.as_deref().map_or(At::None, At::Def)),
            At::None | At::Def(_) | At::Values(_) => self.at(At::None),
        }
    }

    /// The merge keys when a list here merges element-wise: empty for a
    /// list of scalars; `None` when the list is replaced.
    fn merge_keys(self) -> Option<Vec<String>> {
        let At::Field(field) = self.at else {
            return None;
        };
        if !field.merges() {
            return None;
        }
        Some(if field.list_map_keys.is_empty() {
            field.key.iter().cloned().collect()
        } else {
            field.list_map_keys.clone()
        })
    }

    /// kyaml's fallback for a map without a schema: the schema of the kind
    /// it names, the object's side first (an object embedded in a custom
    /// resource).
    fn or_embedded(self, sources: [Option<&Map<String, Value>>; 2]) -> Self {
        if !matches!(self.at, At::None) {
            return self;
        }
        for map in sources.into_iter().flatten() {
            let field = |name: &str| map.get(name).and_then(Value::as_str).unwrap_or_default();
            let (api_version, kind) = (field("apiVersion"), field("kind"));
            if api_version.is_empty() || kind.is_empty() {
                continue;
            }
            if let Some(def) = self.view.definition(api_version, kind) {
                return self.at(At::Def(def));
            }
        }
        self
    }
}

/// Merges one node of the patch (`origin`) into the object's (`dest`);
/// `None` = the field goes away.
fn walk(
    dest: Option<Value>,
    origin: Option<&Value>,
    schema: Schema<'_>,
) -> Result<Option<Value>, Error> {
    let dest_kind = dest.as_ref().filter(|v| !v.is_null()).map(Kind::of);
    let origin_kind = origin.filter(|v| !v.is_null()).map(Kind::of);
    let Some(kind) = dest_kind.or(origin_kind) else {
        // Both missing or null. kustomize keeps an explicit null of the
        // object that the patch does not mention (`creationTimestamp: null`).
        return Ok(if origin.is_none() { dest } else { None });
    };
    if let (Some(got), Some(value)) = (origin_kind, origin)
        && got != kind
    {
        return Err(wrong_kind(kind, value));
    }
    let dest = dest.filter(|v| !v.is_null());
    match kind {
        Kind::Map => {
            let schema = schema.or_embedded([
                dest.as_ref().and_then(Value::as_object),
                origin.and_then(Value::as_object),
            ]);
            walk_map(dest, origin, schema)
        }
        Kind::Seq => match schema.merge_keys() {
            Some(keys) => walk_list(dest, origin, &keys, schema.elements()),
            None => Ok(replaced(dest, origin)),
        },
        Kind::Scalar => Ok(replaced(dest, origin)),
    }
}

/// A scalar or a list without merge strategy: the patch's value if it has
/// one (`null` clears), else the object's.
fn replaced(dest: Option<Value>, origin: Option<&Value>) -> Option<Value> {
    match origin {
        Some(value) => (!value.is_null()).then(|| value.clone()),
        None => dest,
    }
}

fn walk_map(
    dest: Option<Value>,
    origin: Option<&Value>,
    schema: Schema<'_>,
) -> Result<Option<Value>, Error> {
    let Some(Value::Object(dest)) = dest else {
        // Added by the patch. Its own directive is read leniently (an unknown
        // one stays as a key); the rest is merged with itself.
        let Some(Value::Object(added)) = origin else {
            return Ok(None);
        };
        let mut added = added.clone();
        match directive(&added) {
            Ok(Some(Directive::Delete)) => return Ok(None),
            Ok(Some(_)) => {
                added.remove(DIRECTIVE);
            }
            Ok(None) | Err(_) => {}
        }
        return Ok(Some(Value::Object(normalize_fields(added, schema)?)));
    };
    let patch = match origin {
        None => {
            return Ok(Some(Value::Object(merge_fields(
                dest, None, false, schema,
            )?)));
        }
        Some(Value::Object(patch)) => patch,
        Some(_) => return Ok(None),
    };
    match directive(patch)? {
        Some(Directive::Delete) => Ok(None),
        Some(Directive::Replace) => {
            let mut replacement = patch.clone();
            replacement.remove(DIRECTIVE);
            Ok(Some(Value::Object(normalize_fields(replacement, schema)?)))
        }
        elided => Ok(Some(Value::Object(merge_fields(
            dest,
            Some(patch),
            elided.is_some(),
            schema,
        )?))),
    }
}

/// Merges the fields of `patch` into `dest` (every field of both is walked,
/// in sorted order as kyaml does); `skip_directive` leaves out the patch's
/// `$patch`, already read.
fn merge_fields(
    mut dest: Map<String, Value>,
    patch: Option<&Map<String, Value>>,
    skip_directive: bool,
    schema: Schema<'_>,
) -> Result<Map<String, Value>, Error> {
    let mut keys: BTreeSet<String> = dest.keys().cloned().collect();
    if let Some(patch) = patch {
        keys.extend(
            patch
                .keys()
                .filter(|k| !(skip_directive && *k == DIRECTIVE))
                .cloned(),
        );
    }
    for key in keys {
        let from_patch = patch
            .filter(|_| !(skip_directive && key == DIRECTIVE))
            .and_then(|p| p.get(&key));
        if let Some(value) = walk(dest.remove(&key), from_patch, schema.child(&key))? {
            dest.insert(key, value);
        }
    }
    Ok(dest)
}

/// A node the patch adds, merged with itself as kyaml does (it walks the
/// patch's node as both sides): nulls go, directives are applied, merged
/// lists are normalised.
fn normalize(value: Value, schema: Schema<'_>) -> Result<Option<Value>, Error> {
    match value {
        Value::Null => Ok(None),
        Value::Object(mut map) => {
            let schema = schema.or_embedded([Some(&map), None]);
            if let Some(found) = directive(&map)? {
                if found == Directive::Delete {
                    return Ok(None);
                }
                map.remove(DIRECTIVE);
            }
            Ok(Some(Value::Object(normalize_fields(map, schema)?)))
        }
        Value::Array(mut list) => {
            let Some(keys) = schema.merge_keys() else {
                return Ok(Some(Value::Array(list)));
            };
            if list_directive(&mut list)? == Directive::Delete {
                return Ok(None);
            }
            let merged = merge_list(list, Source::Same, &keys, schema.elements())?;
            Ok(Some(Value::Array(merged)))
        }
        scalar => Ok(Some(scalar)),
    }
}

fn normalize_fields(
    mut map: Map<String, Value>,
    schema: Schema<'_>,
) -> Result<Map<String, Value>, Error> {
    let keys: BTreeSet<String> = map.keys().cloned().collect();
    for key in keys {
        let Some(value) = map.remove(&key) else {
            continue;
        };
        if let Some(value) = normalize(value, schema.child(&key))? {
            map.insert(key, value);
        }
    }
    Ok(map)
}

/// A list with the merge strategy (`keys` empty: a list of scalars).
fn walk_list(
    dest: Option<Value>,
    origin: Option<&Value>,
    keys: &[String],
    elements: Schema<'_>,
) -> Result<Option<Value>, Error> {
    let Some(Value::Array(dest)) = dest else {
        // Added by the patch: no directive is read, the list is merged with
        // itself.
        let Some(Value::Array(added)) = origin else {
            return Ok(None);
        };
        let merged = merge_list(added.clone(), Source::Same, keys, elements)?;
        return Ok(Some(Value::Array(merged)));
    };
    let merged = match origin {
        None => merge_list(dest, Source::Absent, keys, elements)?,
        Some(Value::Array(patch)) => {
            let mut patch = patch.clone();
            match list_directive(&mut patch)? {
                Directive::Delete => return Ok(None),
                Directive::Replace => merge_list(patch, Source::Same, keys, elements)?,
                Directive::Merge => merge_list(dest, Source::Separate(patch), keys, elements)?,
            }
        }
        Some(_) => return Ok(None),
    };
    Ok(Some(Value::Array(merged)))
}

/// The patch side of a merged list.
enum Source {
    /// The patch does not have the list.
    Absent,
    /// The patch's elements.
    Separate(Vec<Value>),
    /// The list is the patch's own, merged with itself.
    Same,
}

/// kyaml's associative-list merge. Elements live in one arena so the
/// identity of kyaml's nodes is kept: an element merged in place is still
/// the object's element, one taken from the patch is not, and kyaml's last
/// step re-inserts the object's elements by key over the merged ones.
fn merge_list(
    dest: Vec<Value>,
    origin: Source,
    keys: &[String],
    elements: Schema<'_>,
) -> Result<Vec<Value>, Error> {
    // A list of scalars is matched on the values, which kyaml writes as the
    // merge key "".
    let keys: Vec<String> = if keys.is_empty() {
        vec![String::new()]
    } else {
        keys.to_vec()
    };
    let scalars = keys.iter().all(String::is_empty);
    let mut nodes = dest;
    let mut dest_ids: Vec<usize> = (0..nodes.len()).collect();
    let same = matches!(origin, Source::Same);
    let origin_ids: Vec<usize> = match origin {
        Source::Separate(list) => {
            let start = nodes.len();
            nodes.extend(list);
            (start..nodes.len()).collect()
        }
        Source::Absent | Source::Same => Vec::new(),
    };

    // The key values of every element, the patch's first, without repeats.
    let first = if same { &dest_ids } else { &origin_ids };
    let mut tuples: Vec<Vec<String>> = Vec::new();
    for &id in first.iter().chain(&dest_ids) {
        let tuple = if scalars {
            vec![text(&nodes[id])]
        } else {
            keys.iter().map(|k| key_value(&nodes[id], k)).collect()
        };
        if !tuples.contains(&tuple) {
            tuples.push(tuple);
        }
    }
    if keys.len() > 1 {
        unify(&mut tuples);
    }
    // The keys some element has a value for.
    let used: Vec<bool> = (0..keys.len())
        .map(|i| tuples.iter().any(|t| !t[i].is_empty()))
        .collect();

    let mut items: Vec<usize> = Vec::new();
    for tuple in &tuples {
        let (valid_keys, valid_values) = valid(&used, tuple, &keys);
        let present: Vec<bool> = valid_values.iter().map(|v| !v.is_empty()).collect();
        let (find_keys, find_values) = valid(&present, &valid_values, &valid_keys);
        let d = find(&nodes, &dest_ids, &find_keys, &find_values);
        let o = if same {
            d
        } else {
            find(&nodes, &origin_ids, &find_keys, &find_values)
        };
        let walked = walk_element(&mut nodes, d, o, same, elements)?;
        let Some(id) = walked.filter(|&id| !nodes[id].is_null() && !is_empty_map(&nodes[id]))
        else {
            set_element(&nodes, &mut dest_ids, &valid_keys, &valid_values, None)?;
            continue;
        };
        for (key, value) in valid_keys.iter().zip(&valid_values) {
            if !value.is_empty() {
                ensure_key(&mut nodes[id], key, value)?;
            }
        }
        set_element(&nodes, &mut items, &valid_keys, &valid_values, Some(id))?;
    }
    let Some(last) = tuples.last() else {
        return Ok(dest_ids.iter().map(|&id| nodes[id].clone()).collect());
    };
    // The object's remaining elements go after the patch's, each replacing
    // a merged element with the same key.
    let (valid_keys, _) = valid(&used, last, &keys);
    append_elements(&nodes, &mut items, &dest_ids, &valid_keys)?;
    Ok(items.iter().map(|&id| nodes[id].clone()).collect())
}

/// Merges key tuples that differ only where one is empty and share a value
/// (a port without `protocol` and the same port with one), as kyaml does,
/// in place and in its order.
fn unify(tuples: &mut [Vec<String>]) {
    for i in 0..tuples.len() {
        let first = tuples[i].clone();
        for j in 0..tuples.len() {
            if let Some(merged) = combine(&first, &tuples[j]) {
                tuples[i].clone_from(&merged);
                tuples[j] = merged;
            }
        }
    }
}

fn combine(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut merged = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            merged.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if x.is_empty() {
            merged.push(y.clone());
        } else {
            merged.push(x.clone());
        }
    }
    common.then_some(merged)
}

/// The keys marked in `used` with their values (all keys when none is).
fn valid(used: &[bool], values: &[String], keys: &[String]) -> (Vec<String>, Vec<String>) {
    if !used.iter().any(|&u| u) {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys = keys
        .iter()
        .zip(used)
        .filter(|(_, u)| **u)
        .map(|(k, _)| k.clone())
        .collect();
    let valid_values = values
        .iter()
        .zip(used)
        .filter(|(v, u)| **u || !v.is_empty())
        .map(|(v, _)| v.clone())
        .collect();
    (valid_keys, valid_values)
}

/// The first element whose keys have exactly these values (for scalars,
/// whose value is `values[0]`).
fn find(nodes: &[Value], ids: &[usize], keys: &[String], values: &[String]) -> Option<usize> {
    if keys.first().is_none_or(String::is_empty) {
        let value = values.first().map_or("", String::as_str);
        return ids.iter().copied().find(|&id| text(&nodes[id]) == value);
    }
    ids.iter().copied().find(|&id| {
        nodes[id].as_object().is_some_and(|map| {
            keys.iter()
                .zip(values)
                .all(|(k, v)| map.get(k).is_some_and(|f| text(f) == *v))
        })
    })
}

/// Merges one element pair; returns the arena slot holding the result, or
/// `None` when the element goes away.
fn walk_element(
    nodes: &mut [Value],
    d: Option<usize>,
    o: Option<usize>,
    same: bool,
    schema: Schema<'_>,
) -> Result<Option<usize>, Error> {
    if same {
        let Some(id) = d else {
            return Ok(None);
        };
        return Ok(if let Some(value) = normalize(nodes[id].clone(), schema)? {
            nodes[id] = value;
            Some(id)
        } else {
            elide(&mut nodes[id]);
            None
        });
    }
    match (d, o) {
        (None, None) => Ok(None),
        (Some(d), None) => Ok(walk(Some(nodes[d].clone()), None, schema)?.map(|value| {
            nodes[d] = value;
            d
        })),
        (d, Some(o)) => {
            let patch = nodes[o].clone();
            let dest = d.map(|d| nodes[d].clone());
            // kyaml merges into the object's element in place only when both
            // are maps and the patch element neither replaces nor deletes it;
            // otherwise the result is the patch's element.
            let in_place = match (&dest, &patch) {
                (Some(Value::Object(_)), Value::Object(p)) => !matches!(
                    directive(p),
                    Ok(Some(Directive::Replace | Directive::Delete))
                ),
                _ => false,
            };
            let result = walk(dest, Some(&patch), schema)?;
            elide(&mut nodes[o]);
            Ok(result.map(|value| {
                let id = match d {
                    Some(d) if in_place => d,
                    _ => o,
                };
                nodes[id] = value;
                id
            }))
        }
    }
}

/// Sets a merge key the merged element lost (a patch `name: null`).
fn ensure_key(node: &mut Value, key: &str, value: &str) -> Result<(), Error> {
    let kind = Kind::of(node);
    if key.is_empty() {
        // A list of scalars: kyaml sets the element to the value it has,
        // which only a scalar (or a map with the key "") accepts.
        if kind == Kind::Seq || (kind == Kind::Map && node.get("").is_none()) {
            return Err(wrong_kind(Kind::Scalar, node));
        }
        return Ok(());
    }
    if let Value::Object(map) = node {
        map.entry(key).or_insert_with(|| plain(value));
        return Ok(());
    }
    Err(wrong_kind(Kind::Map, node))
}

/// kyaml's `ElementSetter` over `list`: drops `null` and `{}` elements, then
/// replaces every element matching the keys with `element` (appending it if
/// none does), or deletes them when `element` is `None`.
fn set_element(
    nodes: &[Value],
    list: &mut Vec<usize>,
    keys: &[String],
    values: &[String],
    element: Option<usize>,
) -> Result<(), Error> {
    let map_setter = keys.first().is_some_and(|k| !k.is_empty())
        && values.first().is_some_and(|v| !v.is_empty());
    let mut kept = Vec::with_capacity(list.len() + 1);
    let mut found_any = false;
    for &id in &*list {
        let node = &nodes[id];
        if node.is_null() || is_empty_map(node) {
            continue;
        }
        if map_setter && !node.is_object() {
            kept.push(id);
            continue;
        }
        // As in kyaml, a key without a value reuses the previous match.
        let mut matched = false;
        let mut found = true;
        for (j, key) in keys.iter().enumerate() {
            if let Some(value) = values.get(j) {
                matched = field_matches(node, key, value)?;
            }
            if !matched {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                kept.push(id);
            }
            continue;
        }
        found_any = true;
        kept.extend(element);
    }
    *list = kept;
    if let Some(element) = element
        && !found_any
        && !nodes[element].is_null()
    {
        list.push(element);
    }
    Ok(())
}

/// kyaml's `FieldMatcher`: whether `node` has the field `key` with the text
/// `value` (any value when `value` is empty; the node's own text when `key`
/// is empty).
fn field_matches(node: &Value, key: &str, value: &str) -> Result<bool, Error> {
    if node.is_null() {
        return Ok(false);
    }
    if key.is_empty() {
        if Kind::of(node) != Kind::Scalar {
            return Err(wrong_kind(Kind::Scalar, node));
        }
        return Ok(text(node) == value);
    }
    let Value::Object(map) = node else {
        return Err(wrong_kind(Kind::Map, node));
    };
    Ok(map
        .get(key)
        .is_some_and(|f| value.is_empty() || text(f) == value))
}

/// kyaml's last step: each of the object's elements replaces the merged
/// elements with its key values, or is appended. With several keys it is
/// moved to the end; without a key it replaces everything.
fn append_elements(
    nodes: &[Value],
    items: &mut Vec<usize>,
    dest_ids: &[usize],
    keys: &[String],
) -> Result<(), Error> {
    for &id in dest_ids {
        if keys.first().is_none_or(String::is_empty) {
            set_element(nodes, items, keys, &[text(&nodes[id])], Some(id))?;
            continue;
        }
        let mut values = Vec::new();
        for key in keys {
            match &nodes[id] {
                Value::Null => items.push(id),
                Value::Object(map) => match map.get(key) {
                    Some(field) => values.push(text(field)),
                    None => items.push(id),
                },
                other => return Err(wrong_kind(Kind::Map, other)),
            }
        }
        if keys.len() > 1 {
            set_element(nodes, items, keys, &values, None)?;
        }
        set_element(nodes, items, keys, &values, Some(id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
