//! The `replacements` transformer: reads one field of one object (the
//! source) and writes it into fields of other objects (the targets), as
//! kustomize v5.7.1's `ReplacementTransformer` does.
//!
//! What kustomize does, and so what this module does:
//! - Entries run in order; each reads its source after earlier entries wrote.
//!   A write never records an earlier id, even when it renames an object.
//! - A source, `select` and `reject` compare group, version, kind, name and
//!   namespace exactly (empty = any; no namespace equals `default`) against
//!   the object's current id and every id it had before. `select` and
//!   `reject` may add label and annotation selectors on the current object.
//!   A `reject` rejects on its selectors alone and, separately, on its id
//!   fields alone; an empty `reject` rejects nothing.
//! - A field path is dot-separated (`\.` escapes a dot, `[a.b]` is the key
//!   `a.b`, a leading dot is ignored). A number indexes a list and
//!   `[k=v]` picks list elements. In a source, `[k=v]` takes the first
//!   element whose `k` is exactly `v`, `-` the last element, and `*` is
//!   refused. In a target, `v` is an unanchored regular expression matched
//!   against the field as YAML, `[=v]` ends the path at the matching
//!   element itself, and `*` visits every element of a list. A target path
//!   that reaches nothing is an error.
//! - `create` adds missing mappings, list elements (only at index = length;
//!   `[k=v]` appends `{k: v}`) and the leaf. A path that walks into a null
//!   value writes into a node kustomize never prints: nothing changes.
//! - A scalar target keeps its type and only its text changes. Text that
//!   does not read back as that type (`v` into an integer) fails once all
//!   entries ran, unless a later entry overwrote it: kustomize fails only
//!   when it next converts the object to JSON. A created scalar takes the
//!   type its text reads as. A list or mapping target is replaced by the
//!   source node.
//!
//! # Caveats
//! kustomize keeps an unfit value through the rest of the build, so a
//! replacement of a parent kustomization could still repair it; here the
//! build fails at the end of the kustomization that wrote it. Scalars are
//! read as JSON values, so a source written `1.0` or `0x1F` copies as `1`
//! or `31`, and a target written `1.0` counts as an integer.

use std::fmt;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::resource::{Id, Resource};
use crate::selector::matches_selector;
use crate::yaml;

/// The field a source or target names when it gives no `fieldPath`.
const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// One `replacements` entry of a kustomization, or one entry of a
/// replacements file (see [`Replacement::from_value`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Replacement {
    /// A file holding one replacement or a list of them. Such an entry is
    /// replaced by the file's entries before [`apply`] runs; kustomize
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
    /// A message when the contents are neither a mapping nor a list, or a
    /// known field has the wrong type.
    pub fn from_value(value: &Value) -> Result<Vec<Self>, String> {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            Value::Object(_) => std::slice::from_ref(value),
            other => {
                return Err(format!(
                    "a replacements file holds one replacement (a mapping) or a list of them, not {}",
                    describe(other)
                ));
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
                    .map_err(|e| format!("entry {i} of the replacements file: {e}"))
            })
            .collect()
    }
}

/// The parts of a replacement, for dropping the fields kustomize ignores.
#[derive(Clone, Copy)]
enum Shape {
    Replacement,
    Source,
    Target,
    Selector,
    Options,
}

impl Shape {
    fn fields(self) -> &'static [&'static str] {
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
    fn child(self, field: &str) -> Option<Self> {
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
fn known_fields(value: &Value, shape: Shape) -> Value {
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

/// Applies the replacements in order, each reading its source after the
/// previous ones have written.
///
/// # Errors
/// A message naming the replacement (its position in `replacements`), its
/// source and, for a target, the `select`, the object and the `fieldPath`:
/// a missing source or target, a source selecting no object or several, a
/// missing source field, a target path that reaches nothing, an
/// out-of-range source index, a delimiter on a list or mapping, a value
/// that does not fit the type of the scalar it is written into, a
/// malformed label selector or regular expression, or an entry whose `path`
/// was not expanded.
pub fn apply(acc: &mut [Resource], replacements: &[Replacement]) -> Result<(), String> {
    let mut unfits = Unfits::default();
    for (i, replacement) in replacements.iter().enumerate() {
        apply_one(acc, i, replacement, &mut unfits)
            .map_err(|e| format!("replacements[{i}]: {e}"))?;
    }
    match unfits.0.first() {
        None => Ok(()),
        Some(unfit) => Err(format!(
            "replacements[{}]: {}: field `{}`: `{}` is not {}, and kustomize keeps the type of a scalar it writes into (it fails converting the object to JSON)",
            unfit.replacement,
            acc[unfit.res].id(),
            unfit.pointer,
            unfit.text,
            unfit.tag.noun()
        )),
    }
}

/// A scalar written with text its type cannot hold. kustomize keeps the
/// node's tag with the new text and fails only when it next converts the
/// object to JSON, so a later replacement may still write a fitting value;
/// meanwhile the text is kept as a string.
struct Unfit {
    /// The replacement that wrote it, by position.
    replacement: usize,
    /// The object, by position.
    res: usize,
    /// The field, as a JSON pointer.
    pointer: String,
    tag: Tag,
    text: String,
}

/// The unfit scalars not overwritten yet.
#[derive(Default)]
struct Unfits(Vec<Unfit>);

impl Unfits {
    /// The type kustomize still holds for a field written unfit.
    fn tag(&self, res: usize, pointer: &str) -> Option<Tag> {
        self.0
            .iter()
            .find(|u| u.res == res && u.pointer == pointer)
            .map(|u| u.tag)
    }

    /// Forgets the unfit fields at or under `pointer`, just overwritten.
    fn overwritten(&mut self, res: usize, pointer: &str) {
        self.0.retain(|u| {
            u.res != res
                || !(u.pointer == pointer
                    || u.pointer
                        .strip_prefix(pointer)
                        .is_some_and(|under| under.starts_with('/')))
        });
    }
}

fn apply_one(
    acc: &mut [Resource],
    index: usize,
    replacement: &Replacement,
    unfits: &mut Unfits,
) -> Result<(), String> {
    if let Some(path) = &replacement.path {
        return Err(format!(
            "the entry `path: {path}` must be replaced by the file's replacements before they are applied"
        ));
    }
    let Some(source) = replacement
        .source
        .as_ref()
        .filter(|_| !replacement.targets.is_empty())
    else {
        return Err("a replacement needs a source and at least one target".into());
    };
    let payload = read_source(acc, source, unfits)?;
    for (j, target) in replacement.targets.iter().enumerate() {
        let writing = Writing {
            replacement: index,
            payload: &payload,
            options: target.options.as_ref().unwrap_or(&NO_OPTIONS),
        };
        write_target(acc, target, &writing, unfits).map_err(|e| {
            format!(
                "source {}: targets[{j}]: {e}",
                source.ids().with_field(&source.field_path)
            )
        })?;
    }
    Ok(())
}

/// The id fields of a source, `select` or `reject`.
struct IdPattern<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
}

impl IdPattern<'_> {
    /// Whether every non-empty field equals the id's. The id's namespace is
    /// `default` for none, so `default` selects objects without one.
    fn selects(&self, id: &Id) -> bool {
        let fits = |want: &str, have: &str| want.is_empty() || want == have;
        fits(self.group, &id.group)
            && fits(self.version, &id.version)
            && fits(self.kind, &id.kind)
            && fits(self.name, &id.name)
            && fits(self.namespace, &id.namespace)
    }

    fn is_empty(&self) -> bool {
        [
            self.group,
            self.version,
            self.kind,
            self.name,
            self.namespace,
        ]
        .iter()
        .all(|f| f.is_empty())
    }

    /// The pattern followed by `:fieldPath`, as kustomize names a source.
    fn with_field(&self, field_path: &str) -> String {
        let field_path = if field_path.is_empty() {
            DEFAULT_FIELD_PATH
        } else {
            field_path
        };
        format!("{self}:{field_path}")
    }
}

/// kustomize's notation: `Kind.version.group/name.namespace`, with
/// `[noKind]`-style placeholders for the fields left empty.
impl fmt::Display for IdPattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn or<'a>(value: &'a str, none: &'a str) -> &'a str {
            if value.is_empty() { none } else { value }
        }
        write!(
            f,
            "{}.{}.{}/{}.{}",
            or(self.kind, "[noKind]"),
            or(self.version, "[noVer]"),
            or(self.group, "[noGrp]"),
            or(self.name, "[noName]"),
            or(self.namespace, "[noNs]")
        )
    }
}

impl Source {
    fn ids(&self) -> IdPattern<'_> {
        IdPattern {
            group: &self.group,
            version: &self.version,
            kind: &self.kind,
            name: &self.name,
            namespace: &self.namespace,
        }
    }
}

impl ObjectSelector {
    fn ids(&self) -> IdPattern<'_> {
        IdPattern {
            group: &self.group,
            version: &self.version,
            kind: &self.kind,
            name: &self.name,
            namespace: &self.namespace,
        }
    }

    fn has_metadata_selectors(&self) -> bool {
        !self.label_selector.is_empty() || !self.annotation_selector.is_empty()
    }

    /// Whether the object's current labels and annotations satisfy both
    /// selectors (kustomize parses both before combining them).
    fn matches_metadata(&self, res: &Resource) -> Result<bool, String> {
        let annotations = matches_selector(
            &self.annotation_selector,
            res.obj.pointer("/metadata/annotations"),
        )
        .map_err(|e| format!("annotationSelector `{}`: {e}", self.annotation_selector))?;
        let labels = matches_selector(&self.label_selector, res.obj.pointer("/metadata/labels"))
            .map_err(|e| format!("labelSelector `{}`: {e}", self.label_selector))?;
        Ok(annotations && labels)
    }
}

impl fmt::Display for ObjectSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ids())?;
        if !self.label_selector.is_empty() {
            write!(f, " labelSelector `{}`", self.label_selector)?;
        }
        if !self.annotation_selector.is_empty() {
            write!(f, " annotationSelector `{}`", self.annotation_selector)?;
        }
        Ok(())
    }
}

/// How a scalar's text reads back: kustomize keeps a scalar node's YAML tag
/// when it changes the text, and the JSON conversion then insists on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Str,
    Int,
    Float,
    Bool,
    Null,
    /// A created node without a tag: the text reads as whatever it is.
    Plain,
}

impl Tag {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::String(_) => Some(Self::Str),
            Value::Number(n) if n.is_f64() => Some(Self::Float),
            Value::Number(_) => Some(Self::Int),
            Value::Bool(_) => Some(Self::Bool),
            Value::Null => Some(Self::Null),
            Value::Object(_) | Value::Array(_) => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Str => "a string",
            Self::Plain => "a value JSON can hold",
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Bool => "a boolean",
            Self::Null => "null",
        }
    }
}

/// The value of a scalar with this tag and text; `None` when the text does
/// not read back as that type (or, untagged, as any JSON value).
fn typed(tag: Tag, text: &str) -> Option<Value> {
    if tag == Tag::Str {
        return Some(Value::String(text.to_owned()));
    }
    let value = yaml::resolve_plain(text).ok()?;
    let fits = match tag {
        Tag::Str | Tag::Plain => true,
        Tag::Int => matches!(&value, Value::Number(n) if !n.is_f64()) && !float_literal(text),
        Tag::Float => value.is_number(),
        Tag::Bool => value.is_boolean(),
        Tag::Null => value.is_null(),
    };
    fits.then_some(value)
}

/// Whether a number's text is a float literal (`1.0`, `1e3`), which YAML
/// does not read as an integer even when the value is integral.
fn float_literal(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let prefixed = ["0x", "0X", "0o", "0O", "0b", "0B"]
        .iter()
        .any(|p| body.starts_with(p));
    !prefixed && body.contains(['.', 'e', 'E'])
}

/// A scalar's text (`null` for null); empty for a list or mapping, as a
/// YAML node of those kinds has no text.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Object(_) | Value::Array(_) => String::new(),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "a mapping",
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

/// What a replacement writes: the source's scalar (its tag and, after
/// `delimiter`/`index`, possibly only part of its text), or a list or
/// mapping.
#[derive(Debug)]
enum Payload {
    Scalar { tag: Tag, text: String },
    Tree(Value),
}

impl Payload {
    fn text(&self) -> &str {
        match self {
            Self::Scalar { text, .. } => text,
            Self::Tree(_) => "",
        }
    }
}

fn read_source(acc: &[Resource], source: &Source, unfits: &Unfits) -> Result<Payload, String> {
    let pattern = source.ids();
    let named = pattern.with_field(&source.field_path);
    let mut selected = acc
        .iter()
        .enumerate()
        .filter(|(_, res)| res.any_id(|id| pattern.selects(id)));
    let (index, res) = match (selected.next(), selected.next()) {
        (Some(found), None) => found,
        (None, _) => {
            return Err(format!(
                "source {named}: nothing selected (source fields match current or earlier ids exactly)"
            ));
        }
        (Some((_, a)), Some((_, b))) => {
            return Err(format!(
                "source {named}: several objects selected, among them {} and {}; a source must select one",
                a.id(),
                b.id()
            ));
        }
    };
    let field_path = if source.field_path.is_empty() {
        DEFAULT_FIELD_PATH
    } else {
        &source.field_path
    };
    let missing = || {
        format!(
            "source {named}: the field is missing or empty in {}",
            res.id()
        )
    };
    let (node, pointer) = lookup(&res.obj, field_path)
        .map_err(|e| format!("source {named}: {}: {e}", res.id()))?
        .ok_or_else(missing)?;
    let empty = match node {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        return Err(missing());
    }
    // A field written unfit earlier still has its old type in kustomize.
    let tag = unfits.tag(index, &pointer).or_else(|| Tag::of(node));
    refine(node, tag, source.options.as_ref()).map_err(|e| format!("source {named}: {e}"))
}

/// The source value (`tag` is its scalar type, `None` for a list or
/// mapping), or the part `delimiter` and `index` pick.
fn refine(
    node: &Value,
    tag: Option<Tag>,
    options: Option<&FieldOptions>,
) -> Result<Payload, String> {
    let Some(options) = options.filter(|o| !o.delimiter.is_empty()) else {
        return Ok(match tag {
            Some(tag) => Payload::Scalar {
                tag,
                text: scalar_text(node),
            },
            None => Payload::Tree(node.clone()),
        });
    };
    let Some(tag) = tag else {
        return Err(format!(
            "options.delimiter needs a scalar source field, found {}",
            describe(node)
        ));
    };
    let text = scalar_text(node);
    let piece = usize::try_from(options.index)
        .ok()
        .and_then(|i| text.split(options.delimiter.as_str()).nth(i))
        .ok_or_else(|| {
            format!(
                "options.index {} is out of bounds for value {text} split at `{}`",
                options.index, options.delimiter
            )
        })?;
    Ok(Payload::Scalar {
        tag,
        text: piece.to_owned(),
    })
}

/// Splits a field path at dots, as kustomize does: `\.` is a literal dot,
/// a leading dot is dropped, and a part opening a bracket runs to the part
/// closing it (`[name=a.b]` stays one part; `[a.b]`, without `=`, becomes
/// the key `a.b`).
fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<&str> = path.split('.').collect();
    if raw.len() > 1 && raw[0].is_empty() {
        raw.remove(0);
    }
    let mut pieces: Vec<String> = Vec::with_capacity(raw.len());
    for piece in raw {
        match pieces.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => pieces.push(piece.to_owned()),
        }
    }
    let mut parts = Vec::with_capacity(pieces.len());
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        if !piece.starts_with('[') || piece.ends_with(']') {
            parts.push(piece);
            continue;
        }
        let mut joined = piece;
        for next in pieces.by_ref() {
            joined.push('.');
            joined.push_str(&next);
            if next.ends_with(']') {
                break;
            }
        }
        if joined.contains('=') {
            parts.push(joined);
        } else {
            parts.push(joined.trim_matches(['[', ']']).to_owned());
        }
    }
    parts
}

/// `[k=v]` as `(k, v)`; `None` for a part that is not bracketed, and
/// `Some(Err)` for a bracketed part without `=`.
fn bracketed(part: &str) -> Option<Result<(&str, &str), String>> {
    let inner = part.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split_once('=').ok_or_else(|| {
        format!("`{part}` must be [field=value] (or [=value] for a list of scalars)")
    }))
}

/// The elements of a list; none for null.
fn elements<'v>(node: &'v Value, part: &str) -> Result<&'v [Value], String> {
    match node {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(format!("`{part}` needs a list, found {}", describe(other))),
    }
}

/// Reads a source field and its JSON pointer; `None` when the path reaches
/// nothing. Parts are trimmed and empty parts skipped, as kustomize's
/// source lookup does.
fn lookup<'v>(obj: &'v Value, field_path: &str) -> Result<Option<(&'v Value, String)>, String> {
    let mut node = obj;
    let mut pointer = String::new();
    for part in split_path(field_path) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let index = if let Ok(index) = part.parse::<i64>() {
            let index = usize::try_from(index)
                .map_err(|_| format!("array index {index} cannot be negative"))?;
            (index < elements(node, part)?.len()).then_some(index)
        } else if part == "-" {
            elements(node, part)?.len().checked_sub(1)
        } else if let Some(pair) = bracketed(part) {
            let (key, value) = pair?;
            elements(node, part)?.iter().position(|element| {
                let field = if key.is_empty() {
                    Some(element)
                } else {
                    element.as_object().and_then(|m| m.get(key))
                };
                field.is_some_and(|f| scalar_text(f) == value)
            })
        } else if part == "*" {
            return Err("`*` works in target fieldPaths only; a source reads one field".into());
        } else {
            let found = match node {
                Value::Object(map) => map.get(part),
                Value::Null => None,
                other => {
                    return Err(format!(
                        "`{part}` needs a mapping, found {}",
                        describe(other)
                    ));
                }
            };
            let Some(found) = found else {
                return Ok(None);
            };
            node = found;
            push_token(&mut pointer, part);
            continue;
        };
        let Some(index) = index else {
            return Ok(None);
        };
        // `index` came from `elements(node)`, so `node` is a list holding it.
        let Some(found) = node.get(index) else {
            return Ok(None);
        };
        node = found;
        push_token(&mut pointer, &index.to_string());
    }
    Ok(Some((node, pointer)))
}

/// Appends one JSON pointer token, escaped.
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// One part of a target field path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A mapping key.
    Field(String),
    /// A list index (a non-negative decimal number).
    Index(usize),
    /// `*`: every element of a list.
    Every,
    /// `[key=pattern]`, or `[=pattern]` with an empty key.
    Element { key: String, pattern: String },
    /// A bracketed part without `=`: an error once reached.
    Malformed(String),
}

impl Step {
    fn parse(part: String) -> Self {
        // Go's Atoi: an optional sign and decimal digits. A negative number
        // is not an index, so it names a mapping key.
        if let Some(index) = part
            .parse::<i64>()
            .ok()
            .and_then(|i| usize::try_from(i).ok())
        {
            return Self::Index(index);
        }
        let element = bracketed(&part).map(|r| r.map(|(k, p)| (k.to_owned(), p.to_owned())));
        match element {
            Some(Ok((key, pattern))) => Self::Element { key, pattern },
            Some(Err(_)) => Self::Malformed(part),
            None if part == "*" => Self::Every,
            None => Self::Field(part),
        }
    }
}

/// What one target writes, and how.
struct Writing<'a> {
    /// The replacement's position, for the error about unfit values.
    replacement: usize,
    payload: &'a Payload,
    options: &'a FieldOptions,
}

/// The options of a target that gives none.
static NO_OPTIONS: FieldOptions = FieldOptions {
    delimiter: String::new(),
    index: 0,
    encoding: String::new(),
    create: false,
};

fn write_target(
    acc: &mut [Resource],
    target: &Target,
    writing: &Writing<'_>,
    unfits: &mut Unfits,
) -> Result<(), String> {
    let Some(select) = &target.select else {
        return Err(
            "`select` is missing; say which objects to write to (`select: {}` selects every object)"
                .into(),
        );
    };
    let default_paths = [DEFAULT_FIELD_PATH.to_owned()];
    let field_paths = if target.field_paths.is_empty() {
        &default_paths[..]
    } else {
        &target.field_paths[..]
    };
    for (index, res) in acc.iter_mut().enumerate() {
        if !chosen(res, select, &target.reject).map_err(|e| format!("select {select}: {e}"))? {
            continue;
        }
        for field_path in field_paths {
            let mut writer = Writer {
                writing,
                unfits: &mut *unfits,
                res: index,
                here: String::new(),
                written: 0,
                discarding: false,
            };
            writer.write(&mut res.obj, field_path).map_err(|e| {
                format!(
                    "select {select}: {}: fieldPath `{field_path}`: {e}",
                    res.id()
                )
            })?;
        }
    }
    Ok(())
}

/// Whether a target writes to `res`, in kustomize's order: `select`'s
/// label and annotation selectors, each `reject`'s, then the ids.
fn chosen(
    res: &Resource,
    select: &ObjectSelector,
    rejects: &[ObjectSelector],
) -> Result<bool, String> {
    if !select.matches_metadata(res)? {
        return Ok(false);
    }
    for reject in rejects {
        if reject.has_metadata_selectors() && reject.matches_metadata(res)? {
            return Ok(false);
        }
    }
    let wanted = select.ids();
    let rejected = rejects.iter().any(|reject| {
        let ids = reject.ids();
        !ids.is_empty() && res.any_id(|id| ids.selects(id))
    });
    Ok(!rejected && res.any_id(|id| wanted.selects(id)))
}

/// Walks one target path in one object, creating what `create` allows,
/// and writes the payload at every field reached.
struct Writer<'a, 'w> {
    writing: &'a Writing<'w>,
    unfits: &'a mut Unfits,
    /// The object, by position.
    res: usize,
    /// Where the walk is, as a JSON pointer.
    here: String,
    /// How many fields were written.
    written: usize,
    /// Whether the walk is inside a null value, where what it writes is
    /// never printed.
    discarding: bool,
}

impl Writer<'_, '_> {
    fn write(&mut self, obj: &mut Value, field_path: &str) -> Result<(), String> {
        let steps: Vec<Step> = split_path(field_path)
            .into_iter()
            .map(Step::parse)
            .collect();
        self.walk(obj, &steps, None)?;
        if self.written > 0 {
            Ok(())
        } else if self.writing.options.create {
            Err("the path reaches no field and none can be created there".into())
        } else {
            Err("no such field in the target (set `options.create: true` to create it)".into())
        }
    }

    /// Walks into `node`, found under `token`.
    fn descend(
        &mut self,
        token: &str,
        node: &mut Value,
        steps: &[Step],
        untagged: Option<&str>,
    ) -> Result<(), String> {
        let len = self.here.len();
        push_token(&mut self.here, token);
        let result = self.walk(node, steps, untagged);
        self.here.truncate(len);
        result
    }

    /// `untagged` is the text of a scalar this walk just created: it has
    /// no type of its own yet.
    fn walk(
        &mut self,
        node: &mut Value,
        steps: &[Step],
        untagged: Option<&str>,
    ) -> Result<(), String> {
        let Some((step, rest)) = steps.split_first() else {
            self.written += 1;
            return self.set(node, untagged);
        };
        if node.is_null() {
            // kyaml walks into null as into an empty collection and attaches
            // what it creates to the null node, which is printed as null:
            // the walk goes on, the object does not change.
            let mut scratch = match step {
                // `*` on null visits no element.
                Step::Every => return Ok(()),
                Step::Field(_) => Value::Object(Map::new()),
                Step::Index(_) | Step::Element { .. } | Step::Malformed(_) => {
                    Value::Array(Vec::new())
                }
            };
            let discarding = std::mem::replace(&mut self.discarding, true);
            let result = self.walk(&mut scratch, steps, None);
            self.discarding = discarding;
            return result;
        }
        match step {
            Step::Field(name) => {
                let Value::Object(map) = node else {
                    return Err(format!(
                        "`{name}` needs a mapping, found {}",
                        describe(node)
                    ));
                };
                if let Some(child) = map.get_mut(name.as_str()) {
                    return self.descend(name, child, rest, None);
                }
                if !self.writing.options.create {
                    return Ok(());
                }
                let (created, untagged) = self.new_node(rest);
                let child = map.entry(name.clone()).or_insert(created);
                self.descend(name, child, rest, untagged)
            }
            Step::Index(index) => {
                let Value::Array(items) = node else {
                    return Err(format!("`{index}` needs a list, found {}", describe(node)));
                };
                let mut untagged = None;
                if *index == items.len() && self.writing.options.create {
                    let (created, text) = self.new_node(rest);
                    items.push(created);
                    untagged = text;
                }
                let len = items.len();
                let item = items.get_mut(*index).ok_or_else(|| {
                    format!("index {index} specified but only {len} elements found")
                })?;
                self.descend(&index.to_string(), item, rest, untagged)
            }
            Step::Every => {
                let Value::Array(items) = node else {
                    return Err(format!("`*` needs a list, found {}", describe(node)));
                };
                for (i, item) in items.iter_mut().enumerate() {
                    self.descend(&i.to_string(), item, rest, None)?;
                }
                Ok(())
            }
            Step::Element { key, pattern } => self.matching_elements(node, key, pattern, rest),
            Step::Malformed(part) => Err(format!(
                "`{part}` must be [field=value] (or [=value] for a list of scalars)"
            )),
        }
    }

    /// `[key=pattern]`: every element whose `key`, written as YAML, matches
    /// the unanchored pattern; `[=pattern]`: every element that does, and
    /// the path ends there. With `create` and nothing written, appends
    /// `{key: pattern}` (or `pattern`) and walks into it.
    fn matching_elements(
        &mut self,
        node: &mut Value,
        key: &str,
        pattern: &str,
        rest: &[Step],
    ) -> Result<(), String> {
        let Value::Array(items) = node else {
            return Err(format!(
                "`[{key}={pattern}]` needs a list, found {}",
                describe(node)
            ));
        };
        let create = self.writing.options.create;
        if items.is_empty() && !create {
            return Ok(());
        }
        let re = Regex::new(pattern).map_err(|e| format!("`[{key}={pattern}]`: {e}"))?;
        // kustomize walks no further than an element matched by value.
        let rest = if key.is_empty() { &[][..] } else { rest };
        let before = self.written;
        for (i, item) in items.iter_mut().enumerate() {
            let field = if key.is_empty() {
                Some(&*item)
            } else {
                item.as_object().and_then(|m| m.get(key))
            };
            if field.is_some_and(|f| re.is_match(&match_text(f))) {
                self.descend(&i.to_string(), item, rest, None)?;
            }
        }
        if self.written > before || !create {
            return Ok(());
        }
        if !re.is_match(pattern) {
            // kustomize recurses forever here.
            return Err(format!(
                "cannot create an element for `[{key}={pattern}]`: `{pattern}` does not match itself as a regular expression"
            ));
        }
        let value = yaml::resolve_plain(pattern).map_err(|e| e.to_string())?;
        let (element, untagged) = if key.is_empty() {
            (value, Some(pattern))
        } else {
            let mut element = Map::new();
            element.insert(key.to_owned(), value);
            (Value::Object(element), None)
        };
        let index = items.len();
        items.push(element);
        match items.get_mut(index) {
            Some(item) => self.descend(&index.to_string(), item, rest, untagged),
            None => Ok(()),
        }
    }

    /// A node for a missing path part: a list before an index or `[k=v]`,
    /// a mapping before a key, and at the end of the path a node of the
    /// payload's kind (an untagged, empty scalar for a scalar payload).
    fn new_node(&self, rest: &[Step]) -> (Value, Option<&'static str>) {
        match (rest.first(), self.writing.payload) {
            (None, Payload::Scalar { .. }) => (Value::Null, Some("")),
            (None, Payload::Tree(Value::Array(_)))
            | (Some(Step::Index(_) | Step::Element { .. } | Step::Malformed(_)), _) => {
                (Value::Array(Vec::new()), None)
            }
            (None, Payload::Tree(_)) | (Some(Step::Field(_) | Step::Every), _) => {
                (Value::Object(Map::new()), None)
            }
        }
    }

    /// Writes the payload into one field: a scalar keeps its type and takes
    /// the payload's text (spliced in with `delimiter`); a list or mapping
    /// becomes the payload. Text that does not fit the type is kept as a
    /// string and remembered as unfit, as kustomize fails only later.
    fn set(&mut self, node: &mut Value, untagged: Option<&str>) -> Result<(), String> {
        let Writing {
            payload, options, ..
        } = *self.writing;
        let delimiter = options.delimiter.as_str();
        let tag = if untagged.is_some() {
            Some(Tag::Plain)
        } else {
            self.unfits
                .tag(self.res, &self.here)
                .or_else(|| Tag::of(node))
        };
        let (tag, text) = match (tag, payload) {
            (None, _) if !delimiter.is_empty() => {
                return Err(format!(
                    "options.delimiter needs a scalar field, found {}",
                    describe(node)
                ));
            }
            (None, Payload::Tree(value)) => {
                *node = value.clone();
                self.unfits.overwritten(self.res, &self.here);
                return Ok(());
            }
            // A list or mapping becomes the source scalar, type and all.
            (None, Payload::Scalar { tag, text }) => (*tag, text.clone()),
            (Some(tag), _) if delimiter.is_empty() => (tag, payload.text().to_owned()),
            (Some(tag), _) => {
                let current = untagged.map_or_else(|| scalar_text(node), str::to_owned);
                let text = splice(&current, delimiter, options.index, payload.text());
                (tag, text)
            }
        };
        self.unfits.overwritten(self.res, &self.here);
        if let Some(value) = typed(tag, &text) {
            *node = value;
        } else {
            *node = Value::String(text.clone());
            if !self.discarding {
                self.unfits.0.push(Unfit {
                    replacement: self.writing.replacement,
                    res: self.res,
                    pointer: self.here.clone(),
                    tag,
                    text,
                });
            }
        }
        Ok(())
    }
}

/// A list element's field as kyaml prints it, for `[k=v]` in targets: a
/// string that would read as something else appears quoted.
fn match_text(value: &Value) -> String {
    yaml::to_yaml(value).trim().to_owned()
}

/// `current` split at `delimiter` with part `index` replaced by `value`:
/// a negative index prepends, one past the parts appends.
fn splice(current: &str, delimiter: &str, index: i64, value: &str) -> String {
    let mut parts: Vec<&str> = current.split(delimiter).collect();
    match usize::try_from(index) {
        Err(_) => parts.insert(0, value),
        Ok(i) if i < parts.len() => parts[i] = value,
        Ok(_) => parts.push(value),
    }
    parts.join(delimiter)
}

#[cfg(test)]
mod tests;
