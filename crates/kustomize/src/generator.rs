//! `configMapGenerator`, `secretGenerator` and `generatorOptions`: objects
//! made from env files, literals and files, absorbed into the build with
//! their `behavior` (create, merge or replace), and the content hash kustomize
//! appends to their names.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::Error;
use crate::resource::{Origin, Resource};

/// One `configMapGenerator` or `secretGenerator` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeneratorArgs {
    /// The object's name (before prefixes and the hash).
    pub name: String,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// `create` (the default), `merge` or `replace`.
    pub behavior: Option<String>,
    /// `key=value` pairs.
    pub literals: Vec<String>,
    /// Files, `path` or `key=path`.
    pub files: Vec<String>,
    /// Env files of `key=value` lines.
    pub envs: Vec<String>,
    /// The deprecated single env file.
    pub env: Option<String>,
    /// Options for this generator.
    pub options: Option<GeneratorOptions>,
    /// The Secret type (`Opaque` by default); secrets only.
    #[serde(rename = "type")]
    pub secret_type: Option<String>,
}

/// `generatorOptions`, or one generator's `options`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeneratorOptions {
    /// Labels on the generated object.
    pub labels: BTreeMap<String, String>,
    /// Annotations on the generated object.
    pub annotations: BTreeMap<String, String>,
    /// No hash suffix on the name.
    pub disable_name_suffix_hash: bool,
    /// `immutable: true` on the object.
    pub immutable: bool,
}

impl GeneratorOptions {
    /// This generator's options with the kustomization-wide ones merged in:
    /// local labels and annotations win, either flag set sets it.
    #[must_use]
    pub fn with_global(local: Option<&Self>, global: Option<&Self>) -> Self {
        let mut merged = local.cloned().unwrap_or_default();
        if let Some(global) = global {
            for (k, v) in &global.labels {
                merged.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &global.annotations {
                merged
                    .annotations
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
            merged.disable_name_suffix_hash |= global.disable_name_suffix_hash;
            merged.immutable |= global.immutable;
        }
        merged
    }
}

/// Where a generator was configured, for errors and origin annotations.
#[derive(Clone, Copy, Debug)]
pub struct Configured<'a> {
    /// The kustomization file, or the file holding a `generators` entry.
    pub file: &'a Path,
    /// A `generators` entry's `metadata.name`.
    pub name: Option<&'a str>,
    /// A `generators` entry's `metadata.namespace`.
    pub namespace: Option<&'a str>,
}

/// What a generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Self::ConfigMap => "configMapGenerator",
            Self::Secret => "secretGenerator",
        }
    }
}

/// How a generated object joins the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behavior {
    Create,
    Merge,
    Replace,
}

/// Reads a file the generator names; the caller confines the path.
pub type ReadFile<'a> = dyn Fn(&str) -> Result<Vec<u8>, Error> + 'a;

/// Runs one generator entry and absorbs its object into `acc`.
///
/// # Errors
/// [`Error::Invalid`] for a malformed literal, file source or env file, a
/// repeated key, or a `behavior` that finds no object (merge, replace) or an
/// existing one (create); errors of `read`.
pub fn generate(
    kind: Kind,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    configured: Configured<'_>,
    read: &ReadFile<'_>,
    acc: &mut Vec<Resource>,
) -> Result<(), Error> {
    let file = configured.file;
    let invalid = |message: String| Error::Invalid {
        file: file.to_path_buf(),
        message: format!("{}[{}]: {message}", kind.field(), args.name),
    };
    // Any other value (`Create`, `upsert`, "") is kustomize's unspecified
    // behavior, which creates: an object of that name already there is then
    // an error, as for `create`.
    let behavior = match args.behavior.as_deref().unwrap_or_default() {
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        _ => Behavior::Create,
    };
    let options = GeneratorOptions::with_global(args.options.as_ref(), global);
    let pairs = pairs(args, read).map_err(invalid)?;
    if kind == Kind::ConfigMap
        && let Some((key, _)) = pairs
            .iter()
            .find(|(_, v)| v.first() == Some(&b'\t') && v.contains(&b'\n'))
    {
        // kustomize writes such a value as a literal block and fails to
        // read it back; building it would differ from kustomize.
        return Err(invalid(format!(
            "the value of '{key}' spans several lines and starts with a tab, which kustomize v5.7.1 fails on (yaml: found a tab character where an indentation space is expected); start it with another character"
        )));
    }
    let mut res = make(kind, args, &options, pairs);
    res.origin = Some(Origin::Generator {
        kustomization: configured.file.to_path_buf(),
        kind: match kind {
            Kind::ConfigMap => "ConfigMapGenerator",
            Kind::Secret => "SecretGenerator",
        },
        name: configured.name.map(str::to_owned),
        namespace: configured.namespace.map(str::to_owned),
    });
    absorb(acc, res, behavior).map_err(invalid)
}

/// The `(key, value)` pairs: env files, then literals, then files.
fn pairs(args: &GeneratorArgs, read: &ReadFile<'_>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for env in args.envs.iter().chain(&args.env) {
        let bytes = read(env).map_err(|e| e.to_string())?;
        let text =
            String::from_utf8(bytes).map_err(|_| format!("env file {env} is not valid UTF-8"))?;
        for (n, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line = if n == 0 {
                line.strip_prefix('\u{feff}').unwrap_or(line)
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            out.push((key.to_owned(), value.as_bytes().to_vec()));
        }
    }
    for literal in &args.literals {
        let Some((key, value)) = literal.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("literal '{literal}' is not of the form key=value"));
        };
        let unquoted = match value.as_bytes() {
            [q, .., l] if q == l && (*q == b'"' || *q == b'\'') => &value[1..value.len() - 1],
            _ => value,
        };
        out.push((key.to_owned(), unquoted.as_bytes().to_vec()));
    }
    for source in &args.files {
        let (key, path) = match source.matches('=').count() {
            0 => (
                source.rsplit('/').next().unwrap_or(source).to_owned(),
                source.as_str(),
            ),
            1 => {
                let (k, p) = source.split_once('=').unwrap_or_default();
                if k.is_empty() || p.is_empty() {
                    return Err(format!("file source '{source}' needs both key=path"));
                }
                (k.to_owned(), p)
            }
            _ => {
                return Err(format!(
                    "file source '{source}': key names and paths cannot contain '='"
                ));
            }
        };
        out.push((key, read(path).map_err(|e| e.to_string())?));
    }
    for (i, (key, _)) in out.iter().enumerate() {
        if out[..i].iter().any(|(k, _)| k == key) {
            return Err(format!("the key '{key}' is repeated"));
        }
    }
    Ok(out)
}

/// The generated object.
fn make(
    kind: Kind,
    args: &GeneratorArgs,
    options: &GeneratorOptions,
    pairs: Vec<(String, Vec<u8>)>,
) -> Resource {
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if let Some(ns) = args.namespace.as_deref().filter(|n| !n.is_empty()) {
        meta.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    let strings = |m: &BTreeMap<String, String>| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    if !options.labels.is_empty() {
        meta.insert("labels".into(), strings(&options.labels));
    }
    if !options.annotations.is_empty() {
        meta.insert("annotations".into(), strings(&options.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String(kind.name().into()));
    obj.insert("metadata".into(), Value::Object(meta));
    let mut data = Map::new();
    let mut binary = Map::new();
    for (key, value) in pairs {
        match kind {
            Kind::Secret => {
                data.insert(key, Value::String(wrapped_base64(&value)));
            }
            Kind::ConfigMap => match String::from_utf8(value) {
                Ok(text) => {
                    data.insert(key, Value::String(text));
                }
                Err(e) => {
                    binary.insert(key, Value::String(wrapped_base64(e.as_bytes())));
                }
            },
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if kind == Kind::Secret {
        let t = args.secret_type.as_deref().unwrap_or("Opaque");
        obj.insert("type".into(), Value::String(t.to_owned()));
    }
    if options.immutable {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut res = Resource::new(Value::Object(obj));
    res.needs_hash = !options.disable_name_suffix_hash;
    res
}

/// Base64 as kustomize writes it into Secrets and `binaryData`: when the
/// text is 70 characters or longer, it is cut into lines of 70, each ending
/// with a newline.
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Adds, merges or replaces by kustomize's rules: the generated object is
/// matched against every earlier id of the objects built so far.
/// Adds an object a built-in generator made, refused when its id is taken
/// (kustomize's `create` behavior).
///
/// # Errors
/// Why it cannot be added.
pub fn add_generated(acc: &mut Vec<Resource>, res: Resource) -> Result<(), String> {
    absorb(acc, res, Behavior::Create)
}

fn absorb(acc: &mut Vec<Resource>, mut res: Resource, behavior: Behavior) -> Result<(), String> {
    let id = res.id();
    let matches: Vec<usize> = acc
        .iter()
        .enumerate()
        .filter(|(_, r)| r.any_id(|other| *other == id))
        .map(|(i, _)| i)
        .collect();
    match (behavior, matches.as_slice()) {
        (Behavior::Create, []) => {
            if acc.iter().any(|r| r.id() == id) {
                return Err(format!("{id} already exists"));
            }
            acc.push(res);
            Ok(())
        }
        (_, []) => Err(format!(
            "{id} does not exist; behavior merge and replace need an object to change"
        )),
        (Behavior::Create, _) => Err(format!(
            "{id} already exists; use behavior merge or replace"
        )),
        (_, [i]) => {
            let old = &acc[*i];
            let merge_maps = |key: &str, res: &mut Resource| {
                let mut merged = old
                    .obj
                    .pointer(&format!("/metadata/{key}"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if let Some(new) = res
                    .obj
                    .pointer(&format!("/metadata/{key}"))
                    .and_then(Value::as_object)
                {
                    merged.extend(new.clone());
                }
                if !merged.is_empty()
                    && let Some(meta) = res.obj.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.insert(key.to_owned(), Value::Object(merged));
                }
            };
            merge_maps("labels", &mut res);
            merge_maps("annotations", &mut res);
            if behavior == Behavior::Merge {
                for key in ["data", "binaryData"] {
                    let mut merged = old
                        .obj
                        .get(key)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    if let Some(new) = res.obj.get(key).and_then(Value::as_object) {
                        merged.extend(new.clone());
                    }
                    if !merged.is_empty()
                        && let Some(obj) = res.obj.as_object_mut()
                    {
                        obj.insert(key.to_owned(), Value::Object(merged));
                    }
                }
            }
            // The object keeps the name, namespace and history of the one
            // it replaces, as kustomize's build annotations do.
            res.set_metadata("name", old.name());
            let ns = old.namespace().to_owned();
            if ns.is_empty() {
                if let Some(meta) = res.obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("namespace");
                }
            } else {
                res.set_metadata("namespace", &ns);
            }
            res.previous.clone_from(&old.previous);
            res.prefixes.clone_from(&old.prefixes);
            res.suffixes.clone_from(&old.suffixes);
            // The old object's annotations are merged into the new one's, and
            // the transformers that ran over it with them.
            res.transformations.clone_from(&old.transformations);
            // kustomize hashes the result only when both generators ask
            // for a hash (checked with kubectl: either one's
            // disableNameSuffixHash wins, whatever the behavior).
            res.needs_hash = old.needs_hash && res.needs_hash;
            // A merged object keeps where it was first generated; a
            // replacing one is the overlay's own.
            if behavior == Behavior::Merge {
                res.origin.clone_from(&old.origin);
            }
            acc[*i] = res;
            Ok(())
        }
        _ => Err(format!(
            "{id} matches several objects; merge and replace need exactly one"
        )),
    }
}

/// Appends the content hash to the name of every generated object that
/// asked for it, as kustomize does on the final content.
pub fn apply_hashes(acc: &mut [Resource]) {
    for res in acc.iter_mut().filter(|r| r.needs_hash) {
        let hash = content_hash(&res.obj);
        res.remember_id();
        let name = format!("{}-{hash}", res.name());
        res.set_metadata("name", &name);
    }
}

/// kustomize's name hash of a ConfigMap or Secret: the sha256 of a JSON
/// document of its kind, data and (always empty) name, its first ten hex
/// digits with the vowel-like ones swapped for letters.
#[must_use]
pub fn content_hash(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let mut doc = Map::new();
    doc.insert("kind".into(), Value::String(kind.to_owned()));
    doc.insert("name".into(), Value::String(String::new()));
    doc.insert(
        "data".into(),
        obj.get("data")
            .cloned()
            .unwrap_or(Value::String(String::new())),
    );
    if kind == "Secret" {
        doc.insert(
            "type".into(),
            obj.get("type")
                .cloned()
                .unwrap_or(Value::String(String::new())),
        );
        if let Some(v) = obj.get("stringData") {
            doc.insert("stringData".into(), v.clone());
        }
    } else if let Some(v) = obj.get("binaryData") {
        doc.insert("binaryData".into(), v.clone());
    }
    let mut json = String::new();
    go_json(&Value::Object(doc), &mut json);
    let digest = Sha256::digest(json.as_bytes());
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(10)
        .map(|nibble| match nibble {
            0 => 'g',
            1 => 'h',
            3 => 'k',
            10 => 'm',
            14 => 't',
            n => char::from_digit(u32::from(n), 16).unwrap_or('0'),
        })
        .collect()
}

/// Go's `encoding/json` output: sorted keys, no spaces, HTML characters and
/// line separators escaped.
fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ferroflux_yaml::go_json::quote(out, key, true);
                out.push(':');
                go_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::String(s) => ferroflux_yaml::go_json::quote(out, s, true),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::content_hash;

    #[test]
    fn hashes_match_kustomize() {
        let cm = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        assert_eq!(content_hash(&cm), "4h2mbtbbt6");
        let secret = json!({"kind": "Secret", "data": {"a": "Yg=="}, "type": "Opaque"});
        assert_eq!(content_hash(&secret), "k695gkmbtk");
        assert_eq!(content_hash(&json!({"kind": "ConfigMap"})), "6ct58987ht");
        let escaped = json!({"kind": "ConfigMap", "data": {"a": "x<y&z>", "u": "é"}});
        assert_eq!(content_hash(&escaped), "895dkhm6td");
        let binary = json!({"kind": "ConfigMap", "binaryData": {"bin.dat": "//4AYmlu"}});
        assert_eq!(content_hash(&binary), "cmdh6chtm5");
    }
}
