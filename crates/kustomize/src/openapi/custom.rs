//! A kustomization's custom schema (`openapi: {path: <file>}`), read as
//! kustomize v5.7.1 (kyaml's `openapi` package) reads it, into the same
//! [`Table`] shape as the built-in schema.
//!
//! The file is a Swagger-like document, JSON when its first byte is `{`,
//! else YAML (`sigs.k8s.io/yaml`: YAML 1.1, first document only). Only
//! `definitions` is read:
//!
//! - a definition's `x-kubernetes-group-version-kind` entries (each a map
//!   with `version`, `kind` and an optional `group`) make it the schema of
//!   those kinds;
//! - a property (or `additionalProperties`, for every key without a
//!   property) is first resolved through its `$ref` chain
//!   (`#/definitions/<name>`); what it resolves to replaces it entirely,
//!   so extensions beside a `$ref` are ignored, as in kyaml;
//! - the resolved schema's `x-kubernetes-patch-strategy`,
//!   `x-kubernetes-patch-merge-key` and `x-kubernetes-list-map-keys` drive
//!   the merge of a list there, whose elements are described by `items`
//!   when `type` is `array`;
//! - `properties` and `additionalProperties` lead further down, inline or
//!   through `$ref`s to other definitions (looked up by name when the merge
//!   gets there, so recursive definitions are fine).
//!
//! Refused, where kustomize crashes or loops: an empty or malformed file,
//! a definition or property that is not a map, an extension of the wrong
//! type, a group-version-kind entry without `version` or `kind`, tuple
//! `items`, a `$ref` chain that comes back to itself. Refused as not
//! implemented (kustomize does something this builder does not model):
//! `paths` (which tell kustomize which custom kinds are cluster-scoped), a
//! `$ref` that is not `#/definitions/<name>`, two definitions claiming one
//! kind (kustomize picks one at random), a schema both object and list,
//! and a patch strategy on the elements of a list.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Field, Kind, Table, kind_key};
use crate::yaml;

/// The largest custom schema file read (a tenant's input in a controller):
/// Kubernetes' own full schema is about 3.5 MiB of JSON.
pub const MAX_CUSTOM_SCHEMA_BYTES: u64 = 8 << 20;

/// Why a custom schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Content kustomize fails (or crashes, or loops) on.
    #[error("{0}")]
    Invalid(String),
    /// Content this builder does not model.
    #[error("{0}")]
    Unsupported(String),
}

const REF: &str = "$ref";
const REF_PREFIX: &str = "#/definitions/";
const GVK: &str = "x-kubernetes-group-version-kind";
const STRATEGY: &str = "x-kubernetes-patch-strategy";
const MERGE_KEY: &str = "x-kubernetes-patch-merge-key";
const LIST_MAP_KEYS: &str = "x-kubernetes-list-map-keys";
/// Names of inline schemas start with this, which no definition name in a
/// Kubernetes document does.
const INLINE: &str = "\u{0}inline:";

impl Table {
    /// Reads a custom schema file's text.
    ///
    /// # Errors
    /// [`Error::Invalid`] for what kustomize fails on, [`Error::Unsupported`]
    /// for what this builder does not model (see the module docs).
    pub fn parse_custom(text: &str) -> Result<Self, Error> {
        let root = parse(text)?;
        let root = match root {
            Value::Null => return Ok(Self::default()),
            Value::Object(root) => root,
            other => {
                return Err(Error::Invalid(format!(
                    "the schema is {}, not a map with definitions",
                    describe(&other)
                )));
            }
        };
        if root
            .get("paths")
            .and_then(Value::as_object)
            .is_some_and(|paths| !paths.is_empty())
        {
            return Err(Error::Unsupported(
                "paths in a custom schema (kustomize reads custom kinds' scope from them)".into(),
            ));
        }
        let empty = Map::new();
        let definitions = match root.get("definitions") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(definitions)) => definitions,
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "definitions is {}, not a map of definition names to schemas",
                    describe(other)
                )));
            }
        };
        let mut compiler = Compiler {
            definitions,
            table: Self::default(),
        };
        for (name, schema) in definitions {
            let schema = schema_map(schema, name)?;
            compiler.def(name, schema)?;
            compiler.kinds(name, schema)?;
        }
        Ok(compiler.table)
    }
}

/// The document: JSON when the text starts with `{`, else the first YAML
/// document.
fn parse(text: &str) -> Result<Value, Error> {
    if text.is_empty() {
        return Err(Error::Invalid(
            "the schema file is empty (kustomize crashes on it)".into(),
        ));
    }
    if text.starts_with('{') {
        return serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("not valid JSON: {e}")));
    }
    let text = yaml::normalise(text);
    let first = crate::crds::first_document(&text).map_err(Error::Invalid)?;
    let docs = yaml::parse_documents_helm(first)
        .map_err(|e| Error::Invalid(format!("not valid YAML: {e}")))?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
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

/// A schema, which must be a map.
fn schema_map<'v>(value: &'v Value, at: &str) -> Result<&'v Map<String, Value>, Error> {
    value.as_object().ok_or_else(|| {
        Error::Invalid(format!(
            "{}: the schema is {}, not a map",
            shown(at),
            describe(value)
        ))
    })
}

/// A location for messages: inline schemas lose their marker.
fn shown(at: &str) -> &str {
    at.strip_prefix(INLINE).unwrap_or(at)
}

/// A string extension, which kyaml casts without checking.
fn string_ext<'v>(
    schema: &'v Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'v str>, Error> {
    match schema.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::Invalid(format!(
            "{}: {key} is {}, not a string (kustomize crashes on it)",
            shown(at),
            describe(other)
        ))),
    }
}

/// A resolved `$ref`: the definition's name, and its schema when the file
/// has it.
type Resolved<'d> = (String, Option<&'d Map<String, Value>>);

struct Compiler<'d> {
    definitions: &'d Map<String, Value>,
    table: Table,
}

impl<'d> Compiler<'d> {
    /// Records the kinds a definition is the schema of.
    fn kinds(&mut self, name: &str, schema: &Map<String, Value>) -> Result<(), Error> {
        let Some(Value::Array(entries)) = schema.get(GVK) else {
            return Ok(());
        };
        for entry in entries {
            let Value::Object(entry) = entry else {
                continue;
            };
            let text = |key: &str| match entry.get(key) {
                Some(Value::String(s)) => Ok(s.as_str()),
                _ => Err(Error::Invalid(format!(
                    "{name}: {GVK} entry without a string '{key}' (kustomize crashes on it)"
                ))),
            };
            let (version, kind) = (text("version")?, text("kind")?);
            let api_version = match entry.get("group") {
                Some(Value::String(group)) if !group.is_empty() => format!("{group}/{version}"),
                _ => version.to_owned(),
            };
            let key = kind_key(&api_version, kind);
            if let Some(other) = self.table.kinds.get(&key)
                && other.def != name
            {
                return Err(Error::Unsupported(format!(
                    "kind {kind} of {api_version} claimed by both definitions '{}' and '{name}' in a custom schema (kustomize picks one at random)",
                    other.def
                )));
            }
            self.table.kinds.insert(
                key,
                Kind {
                    def: name.to_owned(),
                },
            );
        }
        Ok(())
    }

    /// Compiles the fields of the object schema `name`.
    fn def(&mut self, name: &str, schema: &'d Map<String, Value>) -> Result<(), Error> {
        let mut fields = HashMap::new();
        match schema.get("properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(properties)) => {
                for (property, value) in properties {
                    let at = format!("{name}/properties/{property}");
                    fields.insert(property.clone(), self.field(value, &at)?);
                }
            }
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "{}: properties is {}, not a map",
                    shown(name),
                    describe(other)
                )));
            }
        }
        if let Some(Value::Object(_)) = schema.get("additionalProperties") {
            let value = &schema["additionalProperties"];
            let field = self.field(value, &format!("{name}/additionalProperties"))?;
            self.table.additional.insert(name.to_owned(), field);
        }
        self.table.defs.insert(name.to_owned(), fields);
        Ok(())
    }

    /// The definition a `$ref` names, following definitions that are
    /// themselves `$ref`s: `(name, its schema if the file defines it)`.
    fn resolve(&self, reference: &Value, at: &str) -> Result<Resolved<'d>, Error> {
        let mut seen: Vec<String> = Vec::new();
        let mut reference = reference;
        loop {
            let Value::String(text) = reference else {
                return Err(Error::Invalid(format!(
                    "{}: $ref is {}, not a string",
                    shown(at),
                    describe(reference)
                )));
            };
            let Some(escaped) = text.strip_prefix(REF_PREFIX).filter(|n| !n.contains('/')) else {
                return Err(Error::Unsupported(format!(
                    "{}: $ref '{text}' in a custom schema (only #/definitions/<name> is read)",
                    shown(at)
                )));
            };
            let name = escaped.replace("~1", "/").replace("~0", "~");
            if seen.contains(&name) {
                seen.push(name);
                return Err(Error::Invalid(format!(
                    "{}: $ref cycle {} (kustomize loops forever on it); break the cycle",
                    shown(at),
                    seen.join(" -> ")
                )));
            }
            let Some(target) = self.definitions.get(&name) else {
                return Ok((name, None));
            };
            let target = schema_map(target, &name)?;
            match target.get(REF) {
                Some(next) => {
                    seen.push(name);
                    reference = next;
                }
                None => return Ok((name, Some(target))),
            }
        }
    }

    /// The patch metadata of a property (or `additionalProperties`) at `at`.
    fn field(&mut self, value: &'d Value, at: &str) -> Result<Field, Error> {
        let schema = schema_map(value, at)?;
        // What the property resolves to, and the definition name it has
        // (its own, or a synthetic one for an inline schema).
        let (name, resolved) = match schema.get(REF) {
            Some(reference) => match self.resolve(reference, at)? {
                (name, Some(target)) => (name, target),
                // Not in this file: only the built-in schema may have it.
                (name, None) => {
                    return Ok(Field {
                        reference: Some(name),
                        ..Field::default()
                    });
                }
            },
            None => (inline_name(at), schema),
        };
        let strategy = string_ext(resolved, STRATEGY, at)?.map(str::to_owned);
        let key = string_ext(resolved, MERGE_KEY, at)?.map(str::to_owned);
        let list_map_keys = match resolved.get(LIST_MAP_KEYS) {
            None => Vec::new(),
            Some(Value::Array(keys)) => keys
                .iter()
                .map(|k| k.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: {LIST_MAP_KEYS} holds a value that is not a string (kustomize crashes on it)",
                        shown(at)
                    ))
                })?,
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "{}: {LIST_MAP_KEYS} is {}, not a list of strings (kustomize crashes on it)",
                    shown(at),
                    describe(other)
                )));
            }
        };
        let list = is_array(resolved.get("type"));
        let object = resolved.get("properties").is_some_and(Value::is_object)
            || resolved
                .get("additionalProperties")
                .is_some_and(Value::is_object);
        if object && (list || strategy.is_some()) {
            return Err(Error::Unsupported(format!(
                "{}: a schema that is both an object and a list (or carries a patch strategy) in a custom schema",
                shown(at)
            )));
        }
        let mut field = Field {
            list,
            strategy,
            key,
            list_map_keys,
            ..Field::default()
        };
        if object {
            if name.starts_with(INLINE) {
                self.def(&name, resolved)?;
            }
            field.reference = Some(name);
        } else if list {
            field.items = self.items(resolved, at)?;
        }
        Ok(field)
    }

    /// The definition of a list's elements, as kyaml's `Elements` finds it.
    fn items(&mut self, list: &'d Map<String, Value>, at: &str) -> Result<Option<String>, Error> {
        let items = match list.get("items") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(items)) => items,
            Some(other) => {
                return Err(Error::Invalid(format!(
                    "{}: items is {}, not one schema (kustomize crashes on it)",
                    shown(at),
                    describe(other)
                )));
            }
        };
        let at = format!("{at}/items");
        let (name, resolved) = match items.get(REF) {
            Some(reference) => match self.resolve(reference, &at)? {
                (name, Some(target)) => (name, target),
                (name, None) => return Ok(Some(name)),
            },
            None => (inline_name(&at), items),
        };
        if resolved.contains_key(STRATEGY) {
            return Err(Error::Unsupported(format!(
                "{}: a patch strategy on the elements of a list (a list of lists) in a custom schema",
                shown(&at)
            )));
        }
        if name.starts_with(INLINE) {
            self.def(&name, resolved)?;
        }
        Ok(Some(name))
    }
}

/// The synthetic definition name of an inline schema at `at`.
fn inline_name(at: &str) -> String {
    if at.starts_with(INLINE) {
        at.to_owned()
    } else {
        format!("{INLINE}{at}")
    }
}

/// Whether `type` is exactly `array` (kyaml wants one type, `array`).
fn is_array(value: Option<&Value>) -> bool {
    match value {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(types)) => types.len() == 1 && types[0] == "array",
        _ => false,
    }
}

/// Kinds whose scope kyaml knows without reading a schema; an object of
/// any other kind makes kustomize read (and cache) its schema as soon as
/// it is compared with another object.
const PRECOMPUTED_SCOPE: &[(&str, &[&str])] = &[
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    (
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
    ),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("apiregistration.k8s.io/v1beta1", &["APIService"]),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("autoscaling/v1", &["HorizontalPodAutoscaler", "Scale"]),
    ("autoscaling/v2beta1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2beta2", &["HorizontalPodAutoscaler"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("batch/v1beta1", &["CronJob"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    (
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
    ),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("coordination.k8s.io/v1beta1", &["Lease"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("discovery.k8s.io/v1beta1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    ("events.k8s.io/v1beta1", &["Event"]),
    ("extensions/v1beta1", &["Ingress"]),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "networking.k8s.io/v1",
        &["Ingress", "IngressClass", "NetworkPolicy"],
    ),
    ("networking.k8s.io/v1beta1", &["Ingress", "IngressClass"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("node.k8s.io/v1beta1", &["RuntimeClass"]),
    ("policy/v1", &["PodDisruptionBudget"]),
    (
        "policy/v1beta1",
        &["PodDisruptionBudget", "PodSecurityPolicy"],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("scheduling.k8s.io/v1beta1", &["PriorityClass"]),
    (
        "storage.k8s.io/v1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    ),
    (
        "storage.k8s.io/v1beta1",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
        ],
    ),
    (
        "v1",
        &[
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "NodeProxyOptions",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodAttachOptions",
            "PodExecOptions",
            "PodPortForwardOptions",
            "PodProxyOptions",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceProxyOptions",
        ],
    ),
];

/// Whether kustomize may read its schema to learn the scope of an object
/// of this kind (see [`PRECOMPUTED_SCOPE`]).
#[must_use]
pub fn scope_reads_schema(api_version: &str, kind: &str) -> bool {
    !PRECOMPUTED_SCOPE
        .iter()
        .any(|(v, kinds)| *v == api_version && kinds.contains(&kind))
}

#[cfg(test)]
mod tests;
