//! kustomize's deprecated `vars`: `$(NAME)` in the fields of the
//! `varReference` table becomes a field of another object, read from that
//! object as it is at the end of the build (`$(SVC)` is the prefixed,
//! namespaced, hash-suffixed name).
//!
//! kustomize ties a var to its object where the kustomization declaring it
//! merges its vars: after that kustomization's transformers, among the
//! objects it accumulated (its own, its bases', its components'), matched by
//! kind, apiVersion, name and, when given, namespace against every id the
//! object has had. So a base's var never sees an overlay's objects, and two
//! bases may each hold an object the var's name fits. [`bind`] does that;
//! [`resolve`] reads the values and expands them once, at the top, after
//! hash suffixes and name references.
//!
//! Expansion is Kubernetes' env expansion as kustomize adapted it: `$(NAME)`
//! is replaced, `$$` is a literal `$`, undefined and unterminated references
//! stay as written, and a field that is exactly `$(NAME)` takes the value
//! with its type (a port stays an integer).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Number, Value};

use crate::fieldspec::FieldSpec;
use crate::resource::{Id, Resource, api_kind};

/// Why vars could not be bound or resolved, in kustomize's words.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A var names no object.
    #[error("var '{var}' cannot be mapped to a field in the set of known resources")]
    Unmapped {
        /// The var, as kustomize renders it (`{NAME Kind.version.group {fieldpath}}`).
        var: String,
    },
    /// A var names several objects.
    #[error("found {count} resId matches for var {var} (unable to disambiguate)")]
    Ambiguous {
        /// How many objects it names.
        count: usize,
        /// The var, as kustomize renders it.
        var: String,
    },
    /// A var's object lacks the field.
    #[error("field specified in var '{var}' not found in corresponding resource")]
    NoField {
        /// The var, as kustomize renders it.
        var: String,
    },
    /// A `varReference` field that cannot be expanded.
    #[error("considering field '{path}' of object {object}: {reason}")]
    Expansion {
        /// The field, as the `varReference` table writes it.
        path: String,
        /// The object.
        object: String,
        /// What is wrong with the field.
        reason: String,
    },
}

/// The field a var reads when its `fieldref` names none.
const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// One `vars` entry: `$(name)` expands to the `fieldref` field of the
/// object `objref` names.
///
/// Field names are spelled as kustomize documents them (`objref`,
/// `fieldref`, `fieldpath`); `objRef`, `fieldRef` and `fieldPath` are
/// accepted too, as kustomize's case-insensitive JSON decoding accepts them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Var {
    /// The name written as `$(NAME)`.
    pub name: String,
    /// The object holding the value.
    #[serde(alias = "objRef")]
    pub objref: ObjRef,
    /// The field of that object holding the value.
    #[serde(alias = "fieldRef")]
    pub fieldref: FieldRef,
    /// The object [`bind`] tied the var to.
    #[serde(skip)]
    binding: Binding,
}

/// The object a var reads: group, version and kind exactly, a name the
/// object has had, and a namespace (empty matches any).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ObjRef {
    /// `group/version` or `version`; when set it overrides `version`, and
    /// `group` too when it has a slash (more than one slash: ignored).
    pub api_version: String,
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace; empty matches any.
    pub namespace: String,
}

/// The field of the object a var reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldRef {
    /// A dotted path (`spec.ports[0].port`, `spec.ports.0.port`,
    /// `spec.ports.-.port` for the last item, `spec.ports.[name=http].port`);
    /// `metadata.name` when empty.
    #[serde(alias = "fieldPath")]
    pub fieldpath: String,
}

/// Where a var's object is.
#[derive(Clone, Debug, Default)]
enum Binding {
    /// [`bind`] was not called: the object is looked for at the top.
    #[default]
    Unbound,
    /// [`bind`] found no object.
    Missing,
    /// [`bind`] found the object that had these ids, oldest first.
    To(Vec<Id>),
}

impl ObjRef {
    /// `(group, version)` as kustomize reads them.
    fn group_version(&self) -> (&str, &str) {
        if self.api_version.is_empty() {
            return (&self.group, &self.version);
        }
        let mut parts = self.api_version.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(version), None, _) => (&self.group, version),
            (Some(group), Some(version), None) => (group, version),
            // kustomize ignores an apiVersion with more than one slash.
            _ => (&self.group, &self.version),
        }
    }

    /// Whether `id` is the one this names.
    fn names(&self, id: &Id, cluster_scoped: bool) -> bool {
        let (group, version) = self.group_version();
        id.group == group
            && id.version == version
            && id.kind == self.kind
            && id.name == self.name
            && (self.namespace.is_empty() || cluster_scoped || id.namespace == self.namespace)
    }
}

impl Var {
    /// The field path, defaulted.
    fn field_path(&self) -> &str {
        if self.fieldref.fieldpath.is_empty() {
            DEFAULT_FIELD_PATH
        } else {
            &self.fieldref.fieldpath
        }
    }

    /// kustomize's rendering, `{NAME Kind.version.group {fieldpath}}`, so
    /// messages read as kustomize's do.
    fn describe(&self, field_path: &str) -> String {
        let (group, version) = self.objref.group_version();
        format!(
            "{{{} {}.{}.{} {{{field_path}}}}}",
            self.name,
            or_placeholder(&self.objref.kind, "[noKind]"),
            or_placeholder(version, "[noVer]"),
            or_placeholder(group, "[noGrp]"),
        )
    }

    /// Whether `res`, under its current id or an earlier one, is the
    /// object this var names.
    fn matches(&self, res: &Resource) -> bool {
        let cluster_scoped = res.is_cluster_scoped();
        res.any_id(|id| self.objref.names(id, cluster_scoped))
    }

    fn unmapped(&self) -> Error {
        Error::Unmapped {
            var: self.describe(self.field_path()),
        }
    }

    fn ambiguous(&self, count: usize) -> Error {
        Error::Ambiguous {
            count,
            var: self.describe(&self.fieldref.fieldpath),
        }
    }
}

fn or_placeholder<'a>(text: &'a str, placeholder: &'a str) -> &'a str {
    if text.is_empty() { placeholder } else { text }
}

/// Ties each of one kustomization's vars to the object it names among
/// `acc`: call it with the kustomization's own accumulator, after its
/// transformers, where kustomize merges its vars (and before they join the
/// parent's). A var naming nothing stays unbound to anything and fails in
/// [`resolve`], as in kustomize.
///
/// # Errors
/// [`Error::Ambiguous`] for a var naming more than one object of `acc`.
pub fn bind(acc: &[Resource], vars: &mut [Var]) -> Result<(), Error> {
    for var in vars.iter_mut() {
        let found: Vec<&Resource> = acc.iter().filter(|r| var.matches(r)).collect();
        var.binding = match found.as_slice() {
            [] => Binding::Missing,
            [one] => Binding::To(history(one)),
            many => return Err(var.ambiguous(many.len())),
        };
    }
    Ok(())
}

/// Resolves every var against the final objects and expands `$(NAME)` in
/// the `varReference` fields of every object. Vars [`bind`] tied to an
/// object read that object; the others are matched against all of `acc`.
/// Values are all read before anything is expanded.
///
/// Returns the names of the vars never used, sorted (kustomize logs
/// `well-defined vars that were never replaced: A,B`). A var whose value is
/// a map or a list is left as `$(NAME)` and counts as never used.
///
/// # Errors
/// A var whose object is missing ([`Error::Unmapped`]) or ambiguous
/// ([`Error::Ambiguous`]) or lacks the field ([`Error::NoField`]), and a
/// `varReference` field holding a list with something other than strings
/// ([`Error::Expansion`]).
pub fn resolve(
    acc: &mut [Resource],
    vars: &[Var],
    var_reference: &[FieldSpec],
) -> Result<Vec<String>, Error> {
    if vars.is_empty() {
        return Ok(Vec::new());
    }
    let mut values: HashMap<&str, Value> = HashMap::new();
    for var in vars {
        let res = source(acc, var)?;
        let value = field_value(&res.obj, var.field_path()).ok_or_else(|| Error::NoField {
            var: var.describe(var.field_path()),
        })?;
        values.insert(&var.name, value);
    }
    let mut used: HashSet<String> = HashSet::new();
    let mut lookup = |name: &str| {
        let value = values
            .get(name)
            .filter(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))?;
        used.insert(name.to_owned());
        Some(value.clone())
    };
    for res in acc.iter_mut() {
        let (api_version, kind) = api_kind(&res.obj);
        for spec in var_reference
            .iter()
            .filter(|s| s.applies(&api_version, &kind))
        {
            let path: Vec<&str> = spec.path.split('/').collect();
            // kustomize rewrites an object's own annotations as strings.
            let as_text = spec.path == "metadata/annotations";
            expand_at(&mut res.obj, &path, as_text, &mut lookup).map_err(|reason| {
                Error::Expansion {
                    path: spec.path.clone(),
                    object: res.id().to_string(),
                    reason,
                }
            })?;
        }
    }
    let mut unused: Vec<String> = values
        .keys()
        .filter(|name| !used.contains(**name))
        .map(|name| (*name).to_owned())
        .collect();
    unused.sort();
    Ok(unused)
}

/// The object a var reads.
fn source<'a>(acc: &'a [Resource], var: &Var) -> Result<&'a Resource, Error> {
    match &var.binding {
        Binding::Unbound => {
            let found: Vec<&Resource> = acc.iter().filter(|r| var.matches(r)).collect();
            match found.as_slice() {
                [] => Err(var.unmapped()),
                [one] => Ok(one),
                many => Err(var.ambiguous(many.len())),
            }
        }
        Binding::Missing => Err(var.unmapped()),
        // Ids are only ever added to an object's history, so the bound
        // object's history still starts with what it was when bound.
        Binding::To(ids) => acc
            .iter()
            .find(|r| history(r).starts_with(ids))
            .ok_or_else(|| var.unmapped()),
    }
}

/// Every id an object has had, the current one last.
fn history(res: &Resource) -> Vec<Id> {
    let mut ids = res.previous.clone();
    ids.push(res.id());
    ids
}

/// The value at `path` in `obj`, as kustomize reads it: a null is the
/// string `null`. `None` when the path reaches nothing.
fn field_value(obj: &Value, path: &str) -> Option<Value> {
    let mut node = obj;
    for part in path_parts(path) {
        node = step(node, part)?;
    }
    Some(match node {
        Value::Null => Value::String("null".to_owned()),
        other => other.clone(),
    })
}

/// A field path split as kustomize splits it: on dots, empty parts dropped,
/// a trailing `[N]` made a part of its own (`ports[0]` is `ports`, `0`).
fn path_parts(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for part in path.split('.') {
        if let Some((field, index)) = trailing_index(part) {
            if !field.is_empty() {
                parts.push(field);
            }
            parts.push(index);
        } else if !part.is_empty() {
            parts.push(part);
        }
    }
    parts
}

/// `("ports", "0")` for `ports[0]`.
fn trailing_index(part: &str) -> Option<(&str, &str)> {
    let inner = part.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let digits = &inner[open + 1..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (&inner[..open], digits))
}

/// One step of a field path: a list index, `-` (the last item),
/// `[key=value]` (the first map item whose `key` reads `value`; `[=value]`
/// the first scalar item that reads it) or a map key.
fn step<'a>(node: &'a Value, part: &str) -> Option<&'a Value> {
    if let Ok(index) = part.parse::<i64>() {
        let items = node.as_array()?;
        return usize::try_from(index).ok().and_then(|i| items.get(i));
    }
    if part == "-" {
        return node.as_array()?.last();
    }
    if let Some(selector) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        let (key, want) = selector.split_once('=')?;
        return node.as_array()?.iter().find(|item| {
            let field = if key.is_empty() {
                Some(*item)
            } else {
                item.get(key)
            };
            field.and_then(scalar_text).is_some_and(|text| text == want)
        });
    }
    node.as_object()?.get(part)
}

/// A scalar's text, for `[key=value]`.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Walks a field spec's path and expands the field it reaches, in every
/// item of the lists on the way.
fn expand_at(
    node: &mut Value,
    path: &[&str],
    as_text: bool,
    lookup: &mut dyn FnMut(&str) -> Option<Value>,
) -> Result<(), String> {
    let Some((field, rest)) = path.split_first() else {
        return expand_field(node, as_text, lookup);
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| expand_at(item, path, as_text, lookup)),
        Value::Object(map) => map
            .get_mut(*field)
            .map_or(Ok(()), |child| expand_at(child, rest, as_text, lookup)),
        _ => Err("expected sequence or mapping node".to_owned()),
    }
}

/// Expands the field a spec reaches: a string, each string value of a map,
/// or each item of a list, which must all be strings. Other scalars are
/// left alone.
fn expand_field(
    node: &mut Value,
    as_text: bool,
    lookup: &mut dyn FnMut(&str) -> Option<Value>,
) -> Result<(), String> {
    match node {
        Value::String(text) => {
            let expanded = expand(text, lookup);
            *node = typed(expanded, as_text);
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(text) = item else {
                    return Err("invalid value type expect a string".to_owned());
                };
                let expanded = expand(text, lookup);
                *item = typed(expanded, as_text);
            }
        }
        Value::Object(map) => {
            for value in map.values_mut() {
                if let Value::String(text) = value {
                    let expanded = expand(text, lookup);
                    *value = typed(expanded, as_text);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// An expanded value, as a string where the field must hold one.
fn typed(value: Value, as_text: bool) -> Value {
    match value {
        Value::Number(n) if as_text => Value::String(number_text(&n, false)),
        Value::Bool(b) if as_text => Value::String(b.to_string()),
        other => other,
    }
}

/// Expands `$(NAME)` references in `input`, `lookup` giving each name's
/// value (`None` when undefined). An input that is exactly one defined
/// reference becomes the value itself, keeping its type.
fn expand(input: &str, lookup: &mut dyn FnMut(&str) -> Option<Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] != b'$' || cursor + 1 == bytes.len() {
            cursor += 1;
            continue;
        }
        out.push_str(&input[checkpoint..cursor]);
        let rest = &input[cursor + 1..];
        // Bytes consumed after the `$`.
        let consumed = match rest.as_bytes()[0] {
            b'$' => {
                out.push('$');
                1
            }
            b'(' => {
                if let Some(len) = rest[1..].find(')') {
                    let name = &rest[1..=len];
                    let value = lookup(name);
                    if cursor == 0 && len + 3 == input.len() {
                        return value.unwrap_or_else(|| Value::String(input.to_owned()));
                    }
                    match value {
                        Some(value) => out.push_str(&go_text(&value)),
                        None => out.push_str(&input[cursor..cursor + len + 3]),
                    }
                    len + 2
                } else {
                    // Unterminated: kept as written.
                    out.push_str("$(");
                    1
                }
            }
            _ => {
                // Not a reference: the `$` and the character after it.
                let next = rest.chars().next().map_or(1, char::len_utf8);
                out.push_str(&input[cursor..cursor + 1 + next]);
                next
            }
        };
        checkpoint = cursor + 1 + consumed;
        cursor = checkpoint;
    }
    out.push_str(&input[checkpoint..]);
    Value::String(out)
}

/// A value as Go's `%v` prints it, for a reference inside a longer string.
fn go_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => number_text(n, true),
        other => other.to_string(),
    }
}

/// A number's text: integers in decimal, floats in Go's `%v` form
/// (`go_v`) or in plain decimal (Go's `FormatFloat(f, 'f', -1, 64)`).
fn number_text(n: &Number, go_v: bool) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or_default();
    if go_v { go_float(f) } else { format!("{f}") }
}

/// Go's `%v` for a float: the shortest digits, in exponent form when the
/// decimal exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`).
fn go_float(f: f64) -> String {
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..6).contains(&exponent) {
        return format!("{f}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests;
