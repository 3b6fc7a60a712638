//! The kustomization `crds` field: files of `OpenAPI` definitions whose
//! `x-kubernetes-*` extensions tell kustomize which fields of custom kinds
//! hold labels, annotations, names and references to other objects, read
//! as kustomize v5.7.1 reads them.
//!
//! A `crds` file is a map of definition names to `OpenAPI` definitions,
//! `{name: {Schema: {properties: ...}}}`, the shape `openapi-gen` writes.
//! It is JSON when its first byte is `{`, else YAML, of which only the first
//! document is read. `CustomResourceDefinition` objects are not accepted
//! (kustomize fails on them too).
//!
//! A definition whose `properties` include `apiVersion`, `kind` and
//! `metadata` describes a kind: the text after the last `.` of the
//! definition's name. Group and version are never derived, and
//! `x-kubernetes-group-version-kind` is ignored, so the field specs select
//! that kind in every group and version. Its properties, and those of the
//! definitions their `$ref`s name (recursively; inline `properties`,
//! `items` and `additionalProperties` are not followed), give field specs,
//! none of which creates a missing field:
//!
//! - `x-kubernetes-annotation`: the field gets `commonAnnotations`;
//! - `x-kubernetes-label-selector`: the field gets `commonLabels` (and the
//!   `labels` entries with `includeSelectors`);
//! - `x-kubernetes-identity`: `namePrefix` (never `nameSuffix`) is
//!   prepended to the field;
//! - `x-kubernetes-object-ref-api-version` with `x-kubernetes-object-ref-kind`:
//!   `<field>/<x-kubernetes-object-ref-name-key, default name>` names an
//!   object of that kind whose *version* equals the api-version text
//!   (`v1` matches `apps/v1` Deployments; `apps/v1` matches nothing).
//!
//! An extension counts only under its lowercase key and with a string value
//! (`""` included). Nothing else is read: `x-kubernetes-patch-merge-key` and
//! `x-kubernetes-patch-strategy` do not change strategic merges.
//!
//! What the files give is merged into the accumulation's [`Config`], not
//! kept by one kustomization: after the kustomization's `resources` and
//! before its generators, components and transformers. Components share
//! it, and a base hands its configuration (its own `crds` and its bases')
//! up to the kustomization that lists it, whose transformers and the final
//! name references use it; sibling bases never see each other's. kustomize's
//! merge has faults, reproduced in [`Config`]: an extension on
//! `metadata/labels` or `metadata/annotations` fails one level up
//! (conflicting fieldspecs), and one on `metadata/name` stops the parent's
//! `namePrefix` from renaming objects of other kinds.
//!
//! # Caveats
//! kustomize decodes the YAML form as YAML 1.1 (`yes`, `on`, `y` are
//! booleans, so such an extension value or property name differs) and keeps
//! the last of duplicate keys; this builder reads YAML 1.2-style, as for
//! resources, and refuses duplicate keys. kustomize also type-checks every
//! standard schema keyword (`type: 5` fails); only the structure read here
//! (`Schema`, `Dependencies`, `properties`, `$ref`) is checked. kustomize
//! visits definitions in Go's random map order, which only matters when a
//! file describes a kind-less definition (a name ending in `.`) beside a
//! kind with the same field; here the order is the names'.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use crate::config::Config;
use crate::config::{merge_name_reference, merge_one};
use crate::fieldspec::{FieldSpec, NameReference};
use crate::resource::Id;
use crate::yaml;

const ANNOTATION: &str = "x-kubernetes-annotation";
const LABEL_SELECTOR: &str = "x-kubernetes-label-selector";
const IDENTITY: &str = "x-kubernetes-identity";
const REF_API_VERSION: &str = "x-kubernetes-object-ref-api-version";
const REF_KIND: &str = "x-kubernetes-object-ref-kind";
const REF_NAME_KEY: &str = "x-kubernetes-object-ref-name-key";

/// Most properties one file may reach through `$ref`s: shared definitions
/// are walked once per path to them, so a file of chained diamonds grows
/// exponentially.
const PROPERTY_BUDGET: usize = 1_000_000;

/// Why a `crds` file could not be read or merged, or a name prefix written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Merging what the file adds into the configuration failed.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The file is not a map of definitions.
    #[error(
        "the file is {found}, not a map of OpenAPI definition names to definitions ({{name: {{Schema: {{properties: ...}}}}}})"
    )]
    NotDefinitions {
        /// What it is instead (`a list`).
        found: &'static str,
    },
    /// `$ref`s leading back to a definition on the way.
    #[error("$ref cycle {cycle} (kustomize overflows its stack on it); break the cycle")]
    Cycle {
        /// The definitions, `a -> b -> a`.
        cycle: String,
    },
    /// Too many properties reached through `$ref`s.
    #[error("more than {PROPERTY_BUDGET} properties reached through $ref from kind '{kind}'")]
    TooManyProperties {
        /// The kind whose definition was walked.
        kind: String,
    },
    /// Content kustomize refuses: empty, malformed, a `Schema`, `properties`
    /// or property that is not a map, a `$ref` Go's URL parser rejects.
    #[error("{0}")]
    Invalid(String),
    /// A `namePrefix` field kustomize cannot prefix.
    #[error("{object}: namePrefix field {path}: {reason}")]
    Prefix {
        /// The object, by its original id.
        object: String,
        /// The field spec's path.
        path: String,
        /// What stands at the field.
        reason: String,
    },
}

/// Reads one `crds` file's text into the configuration it adds, without
/// the defaults (the caller names the file in errors). A kustomization's
/// files are merged in their order into an empty [`Config`], which is then
/// merged into the accumulation's, where a spec conflicting with a default
/// one fails.
///
/// # Errors
/// What kustomize refuses, said plainly: an empty file, malformed JSON or
/// YAML, a file that is not a map of definitions (a `CustomResourceDefinition`
/// object, a list), a `Schema`, `properties` or property that is not a map,
/// `Dependencies` that are not a list of names, a `$ref` Go's URL parser
/// rejects. Also a `$ref` cycle reachable from a kind, on which kustomize
/// overflows its stack, and more than a million properties reached through
/// `$ref`s. A conflict between field specs ([`Error::Config`]).
pub fn load(text: &str) -> Result<Config, Error> {
    let root = parse(text).map_err(Error::Invalid)?;
    let definitions = match &root {
        Value::Null => return Ok(Config::default()),
        Value::Object(map) => map,
        other => {
            return Err(Error::NotDefinitions {
                found: describe(other),
            });
        }
    };
    let mut properties = BTreeMap::new();
    for (name, definition) in definitions {
        let schema = schema_of(name, definition).map_err(Error::Invalid)?;
        if let Some(schema) = schema {
            check_schema(schema, name).map_err(Error::Invalid)?;
        }
        properties.insert(
            name.as_str(),
            schema
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object),
        );
    }
    let mut walk = Walk {
        properties: &properties,
        kind: "",
        found: Config::default(),
        budget: PROPERTY_BUDGET,
    };
    let mut config = Config::default();
    for (&name, props) in &properties {
        let Some(props) = props else { continue };
        if !["apiVersion", "kind", "metadata"]
            .iter()
            .all(|key| props.contains_key(*key))
        {
            continue;
        }
        walk.kind = name.rsplit('.').next().unwrap_or(name);
        walk.visit(name, &mut Vec::new(), &mut vec![name.to_owned()])?;
        config.merge(&std::mem::take(&mut walk.found))?;
    }
    Ok(config)
}

/// The name references one `crds` file adds; [`load`] without the rest.
///
/// # Errors
/// As [`load`].
pub fn name_references(text: &str) -> Result<Vec<NameReference>, Error> {
    load(text).map(|config| config.name_references)
}

/// `namePrefix` on one object: prepends `prefix` to the fields of `specs`
/// (the accumulation's [`Config::name_prefix`]) that select the object's
/// `original` id, except `metadata/name`. Missing fields, and null ones on
/// the way, are left alone; sequences on the way are walked element by
/// element. The caller skips the kinds kustomize never renames.
///
/// Returns how many selecting specs are `metadata/name`, the number of
/// times kustomize renames the object (each time remembering the id,
/// recording the prefix and prepending it to the name): 1 with the
/// defaults, 2 for a kind with an `x-kubernetes-identity` name (`p-p-name`),
/// 0 once a re-merge has dropped the default spec (see [`Config`]).
///
/// # Errors
/// [`Error::Prefix`] where kustomize fails: the field is a map or a
/// sequence, or a scalar
/// stands where the path goes on. A number, boolean or null field is
/// refused too: kustomize prepends the prefix to its YAML source text
/// (`p-0x10`, `p-~`), which is not kept.
pub fn prefix_fields(
    obj: &mut Value,
    original: &Id,
    specs: &[FieldSpec],
    prefix: &str,
) -> Result<usize, Error> {
    affix_fields(obj, original, specs, prefix, true)
}

/// [`prefix_fields`] for a prefix (`prefix` true) or a suffix.
///
/// # Errors
/// As [`prefix_fields`].
pub fn affix_fields(
    obj: &mut Value,
    original: &Id,
    specs: &[FieldSpec],
    affix: &str,
    prefix: bool,
) -> Result<usize, Error> {
    let mut renames = 0;
    for spec in specs.iter().filter(|spec| original.selected_by(spec)) {
        if spec.path == "metadata/name" {
            renames += 1;
            continue;
        }
        let segments: Vec<&str> = spec.path.split('/').collect();
        affix_at(obj, &segments, affix, prefix).map_err(|reason| Error::Prefix {
            object: original.to_string(),
            path: spec.path.clone(),
            reason,
        })?;
    }
    Ok(renames)
}

fn affix_at(node: &mut Value, path: &[&str], affix: &str, prefix: bool) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return match node {
            Value::String(s) => {
                if prefix {
                    s.insert_str(0, affix);
                } else {
                    s.push_str(affix);
                }
                Ok(())
            }
            Value::Object(_) => Err("a map, where kustomize expects a scalar and fails".into()),
            Value::Array(_) => Err("a sequence, where kustomize expects a scalar and fails".into()),
            other => Err(format!(
                "{}: kustomize would prepend the prefix to its YAML source text, which this builder does not keep; quote the value",
                describe(other)
            )),
        };
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| affix_at(item, path, affix, prefix)),
        Value::Object(map) => match map.get_mut(*first) {
            Some(child) => affix_at(child, rest, affix, prefix),
            None => Ok(()),
        },
        _ => Err(format!(
            "a scalar where the path goes on to '{first}': kustomize expects a sequence or a map and fails"
        )),
    }
}

/// Parses the file as kustomize does: JSON when the first byte is `{`,
/// else the first YAML document.
fn parse(text: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Err(
            "the file is empty (kustomize crashes on it); give it OpenAPI definitions".into(),
        );
    }
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"));
    }
    let text = yaml::normalise(text);
    let docs = yaml::parse_documents(first_document(&text)?).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
}

/// The first document of a YAML stream (later ones are not read, so not
/// even their syntax matters): everything up to the `---` or `...` line
/// that follows a `---` or some content.
///
/// # Errors
/// A `...` line before the first document, on which kustomize's YAML
/// reader fails.
pub(crate) fn first_document(text: &str) -> Result<&str, String> {
    let mut started = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        let marker = |m: &str| {
            bare.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") || marker("...") {
            if started {
                return Ok(&text[..offset]);
            }
            if marker("...") {
                return Err(
                    "a '...' document end before any document; kustomize fails to read it, remove the line".into(),
                );
            }
            started = true;
        } else if !started {
            let trimmed = bare.trim_start();
            started = !(trimmed.is_empty() || trimmed.starts_with('#') || bare.starts_with('%'));
        }
        offset += line.len();
    }
    Ok(text)
}

/// A definition's `Schema`: Go's decoder matches the field name without
/// regard to case; `Dependencies` must be a list of names.
fn schema_of<'a>(name: &str, definition: &'a Value) -> Result<Option<&'a Value>, String> {
    let map = match definition {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "definition '{name}' is {}, not a map with a Schema; crds takes OpenAPI definitions as openapi-gen writes them, not CustomResourceDefinition objects",
                describe(other)
            ));
        }
    };
    let field = |wanted: &str| {
        map.get(wanted).or_else(|| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                .map(|(_, value)| value)
        })
    };
    let names = match field("Dependencies") {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().all(|i| i.is_string() || i.is_null()),
        Some(_) => false,
    };
    if !names {
        return Err(format!(
            "definition '{name}': Dependencies is not a list of definition names"
        ));
    }
    Ok(field("Schema").filter(|schema| !schema.is_null()))
}

/// Checks what kustomize's decoder would refuse in the parts read here: a
/// schema or `properties` that is not a map, a `$ref` that is not a URL.
/// A `$ref` that is not a string is ignored, as by kustomize.
fn check_schema(schema: &Value, at: &str) -> Result<(), String> {
    let map = match schema {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "{at}: the schema is {}, not a map",
                describe(other)
            ));
        }
    };
    if let Some(Value::String(reference)) = map.get("$ref") {
        normalise_ref(reference).map_err(|e| format!("{at}: $ref: {e}"))?;
    }
    match map.get("properties") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(properties)) => properties
            .iter()
            .try_for_each(|(name, property)| check_schema(property, &format!("{at}/{name}"))),
        Some(other) => Err(format!(
            "{at}: properties is {}, not a map",
            describe(other)
        )),
    }
}

/// The walk from one kind's definition through `$ref`s.
struct Walk<'a> {
    /// Each definition's `properties`.
    properties: &'a BTreeMap<&'a str, Option<&'a Map<String, Value>>>,
    /// The kind the field specs select.
    kind: &'a str,
    /// What this kind's walk found.
    found: Config,
    budget: usize,
}

impl Walk<'_> {
    /// Visits definition `name`'s properties at `path`; `stack` holds the
    /// definitions on the way, for cycles.
    fn visit(
        &mut self,
        name: &str,
        path: &mut Vec<String>,
        stack: &mut Vec<String>,
    ) -> Result<(), Error> {
        let all = self.properties;
        let Some(Some(properties)) = all.get(name) else {
            return Ok(());
        };
        for (property, schema) in *properties {
            self.budget = self
                .budget
                .checked_sub(1)
                .ok_or_else(|| Error::TooManyProperties {
                    kind: self.kind.to_owned(),
                })?;
            path.push(property.clone());
            let field = path.join("/");
            let extension = |key: &str| schema.get(key).and_then(Value::as_str);
            let spec = |path: String| FieldSpec {
                kind: self.kind.to_owned(),
                path,
                ..FieldSpec::default()
            };
            let found = &mut self.found;
            if extension(ANNOTATION).is_some() {
                merge_one(&mut found.common_annotations, &spec(field.clone()))?;
            }
            if extension(LABEL_SELECTOR).is_some() {
                merge_one(&mut found.common_labels, &spec(field.clone()))?;
            }
            if extension(IDENTITY).is_some() {
                merge_one(&mut found.name_prefix, &spec(field.clone()))?;
            }
            if let (Some(version), Some(kind)) = (extension(REF_API_VERSION), extension(REF_KIND)) {
                let key = extension(REF_NAME_KEY).unwrap_or("name");
                let backref = NameReference {
                    target: FieldSpec {
                        version: version.to_owned(),
                        kind: kind.to_owned(),
                        ..FieldSpec::default()
                    },
                    referrers: vec![spec(format!("{field}/{key}"))],
                };
                merge_name_reference(&mut found.name_references, &backref)?;
            }
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                let target = normalise_ref(reference).map_err(Error::Invalid)?;
                if all.contains_key(target.as_str()) {
                    if stack.contains(&target) {
                        stack.push(target);
                        return Err(Error::Cycle {
                            cycle: stack.join(" -> "),
                        });
                    }
                    stack.push(target.clone());
                    self.visit(&target, path, stack)?;
                    stack.pop();
                }
            }
            path.pop();
        }
        Ok(())
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The definition name a `$ref` looks up: the reference parsed by Go's
/// `net/url`, normalised as go-openapi's `jsonreference` does (scheme and
/// host lowercased, `:80`/`:443` dropped for http/https, runs of `/` in the
/// path collapsed, escapes decoded) and printed back (path and fragment
/// re-escaped, the query as written). `a//b` looks up `a/b`, `a b` looks up
/// `a%20b`, `Foo:bar` looks up `foo:bar`.
///
/// # Caveats
/// Hosts and user info are only lowercased, not validated or re-escaped.
///
/// # Errors
/// What Go's parser refuses: a control character, a `%` without two hex
/// digits, a missing scheme (`:x`), a colon in a first path segment that is
/// not a scheme (`1a:b`).
fn normalise_ref(reference: &str) -> Result<String, String> {
    let fail = |why: &str| format!("parse \"{reference}\": {why}");
    let (url, fragment) = match reference.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (reference, None),
    };
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(fail("net/url: invalid control character in URL"));
    }
    let mut query = None;
    let mut out = if url == "*" {
        "*".to_owned()
    } else {
        let (scheme, rest) = split_scheme(url).map_err(fail)?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
            query = Some("");
            &rest[..rest.len() - 1]
        } else if let Some((rest, q)) = rest.split_once('?') {
            query = Some(q);
            rest
        } else {
            rest
        };
        if !scheme.is_empty() && !rest.starts_with('/') {
            // Opaque, printed as written.
            format!("{scheme}:{rest}")
        } else {
            hierarchical(&scheme, rest).map_err(|e| fail(&e))?
        }
    };
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = fragment {
        let fragment = unescape(fragment).map_err(|e| fail(&e))?;
        if !fragment.is_empty() {
            out.push('#');
            out.push_str(&escape(&fragment, true));
        }
    }
    Ok(out)
}

/// A URL with a scheme (lowercase) and `rest` starting with `/`, or without
/// a scheme, printed back normalised, without its query and fragment.
fn hierarchical(scheme: &str, rest: &str) -> Result<String, String> {
    if scheme.is_empty()
        && !rest.starts_with('/')
        && rest.split('/').next().is_some_and(|s| s.contains(':'))
    {
        return Err("first path segment in URL cannot contain colon".into());
    }
    let (authority, raw_path) =
        if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let authority = &rest[2..];
            match authority.find('/') {
                Some(i) => (Some(&authority[..i]), &authority[i..]),
                None => (Some(authority), ""),
            }
        } else {
            (None, rest)
        };
    let (user, host) = match authority.map(|a| (a.rfind('@'), a)) {
        Some((Some(i), a)) => (Some(&a[..i]), &a[i + 1..]),
        Some((None, a)) => (None, a),
        None => (None, ""),
    };
    let mut host = host.to_lowercase();
    for (default_scheme, port) in [("http", ":80"), ("https", ":443")] {
        if scheme == default_scheme && host.ends_with(port) {
            host.truncate(host.len() - port.len());
        }
    }
    let mut path = unescape(raw_path)?;
    path.dedup_by(|a, b| *a == b'/' && *b == b'/');
    let path = if path == b"*" {
        "*".to_owned()
    } else {
        escape(&path, false)
    };
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push(':');
    }
    let authority_part = !scheme.is_empty() || !host.is_empty() || user.is_some();
    // Go omits `//` for `scheme:/path`, whose authority is absent.
    let omitted = !scheme.is_empty() && authority.is_none() && host.is_empty() && user.is_none();
    if authority_part && !omitted {
        if !host.is_empty() || !path.is_empty() || user.is_some() {
            out.push_str("//");
        }
        if let Some(user) = user {
            out.push_str(user);
            out.push('@');
        }
        out.push_str(&host);
    }
    if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
        out.push('/');
    }
    // A first segment with a colon would read back as a scheme.
    if out.is_empty() && path.split('/').next().is_some_and(|s| s.contains(':')) {
        out.push_str("./");
    }
    out.push_str(&path);
    Ok(out)
}

/// Go's `getScheme`: `(scheme, rest)`, the scheme empty when there is none.
fn split_scheme(url: &str) -> Result<(&str, &str), &'static str> {
    for (i, c) in url.bytes().enumerate() {
        match c {
            b'0'..=b'9' | b'+' | b'-' | b'.' if i == 0 => return Ok(("", url)),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'+' | b'-' | b'.' => {}
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok((&url[..i], &url[i + 1..])),
            _ => return Ok(("", url)),
        }
    }
    Ok(("", url))
}

/// Decodes `%XX` escapes.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| {
                bytes
                    .get(j)
                    .and_then(|b| char::from(*b).to_digit(16))
                    .and_then(|d| u8::try_from(d).ok())
            };
            let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
                let end = bytes.len().min(i + 3);
                return Err(format!(
                    "invalid URL escape \"{}\"",
                    String::from_utf8_lossy(&bytes[i..end])
                ));
            };
            out.push((high << 4) | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Go's `escape` for a path (`fragment` false) or a fragment: `%XX` for
/// every byte but letters, digits, `-_.~` and `$&+,/:;=@` (plus `?!()*` in
/// a fragment).
fn escape(bytes: &[u8], fragment: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &c in bytes {
        let keep = c.is_ascii_alphanumeric()
            || b"-_.~$&+,/:;=@".contains(&c)
            || (fragment && b"?!()*".contains(&c));
        if keep {
            out.push(char::from(c));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests;
