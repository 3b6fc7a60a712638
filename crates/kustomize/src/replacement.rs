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

use serde_json::Value;

use crate::resource::{Id, Resource};
use crate::selector::matches_selector;
use crate::yaml;

pub(crate) mod path;
mod spec;
mod write;

use path::lookup;
use spec::DEFAULT_FIELD_PATH;
pub use spec::{FieldOptions, ObjectSelector, Replacement, Source, Target};
use write::{NO_OPTIONS, Writing, write_target};

/// Why replacements could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One replacement failed.
    #[error("replacements[{index}]: {reason}")]
    Entry {
        /// The replacement's position, from 0.
        index: usize,
        /// What failed: the source or the target, the object and the field.
        reason: String,
    },
    /// A scalar was left holding text its type cannot hold.
    #[error(
        "replacements[{index}]: {object}: field `{field}`: `{text}` is not {expected}, and kustomize keeps the type of a scalar it writes into (it fails converting the object to JSON)"
    )]
    Unfit {
        /// The replacement that wrote it, by position.
        index: usize,
        /// The object.
        object: String,
        /// The field, as a JSON pointer.
        field: String,
        /// The text written.
        text: String,
        /// The type the field keeps (`an integer`).
        expected: &'static str,
    },
    /// A replacements file (`path:`) that is neither a mapping nor a list.
    #[error("a replacements file holds one replacement (a mapping) or a list of them, not {found}")]
    FileShape {
        /// What it is instead (`a string`).
        found: &'static str,
    },
    /// An entry of a replacements file with a field of the wrong type.
    #[error("entry {index} of the replacements file: {source}")]
    FileEntry {
        /// The entry's position, from 0.
        index: usize,
        /// The decoder's reason.
        #[source]
        source: serde_json::Error,
    },
}

/// Applies the replacements in order, each reading its source after the
/// previous ones have written.
///
/// # Errors
/// An [`Error`] naming the replacement (its position in `replacements`), its
/// source and, for a target, the `select`, the object and the `fieldPath`:
/// a missing source or target, a source selecting no object or several, a
/// missing source field, a target path that reaches nothing, an
/// out-of-range source index, a delimiter on a list or mapping, a value
/// that does not fit the type of the scalar it is written into, a
/// malformed label selector or regular expression, or an entry whose `path`
/// was not expanded.
pub fn apply(acc: &mut [Resource], replacements: &[Replacement]) -> Result<(), Error> {
    let mut unfits = Unfits::default();
    for (i, replacement) in replacements.iter().enumerate() {
        apply_one(acc, i, replacement, &mut unfits)
            .map_err(|reason| Error::Entry { index: i, reason })?;
    }
    match unfits.0.first() {
        None => Ok(()),
        Some(unfit) => Err(Error::Unfit {
            index: unfit.replacement,
            object: acc[unfit.res].id().to_string(),
            field: unfit.pointer.clone(),
            text: unfit.text.clone(),
            expected: unfit.tag.noun(),
        }),
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

#[cfg(test)]
mod tests;
