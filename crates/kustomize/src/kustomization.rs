//! The kustomization file: finding it, parsing it strictly, and refusing
//! the fields this builder does not implement yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Error;
use crate::fieldspec::FieldSpec;
use crate::generator::{GeneratorArgs, GeneratorOptions};
use crate::patch::Patch;
use crate::replacement::Replacement;
use crate::vars::Var;
use crate::yaml;

/// The file names kustomize looks for, in its order.
pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A parsed kustomization (or component). Unknown fields are an error, as
/// in kustomize.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Kustomization {
    /// `kustomize.config.k8s.io/v1beta1` (or `v1alpha1` for components).
    pub api_version: Option<String>,
    /// `Kustomization` or `Component`.
    pub kind: Option<String>,
    /// Ignored, as in kustomize.
    pub metadata: Option<Value>,
    /// Files and directories.
    pub resources: Vec<String>,
    /// The deprecated form of directory `resources`.
    pub bases: Vec<String>,
    /// Component directories.
    pub components: Vec<String>,
    /// The namespace set on every namespaced object.
    pub namespace: Option<String>,
    /// Labels with selectors and templates.
    pub common_labels: Map<String, Value>,
    /// Label entries.
    pub labels: Vec<Labels>,
    /// Annotations set on every object and pod template.
    pub common_annotations: Map<String, Value>,
    /// Image rewrites.
    pub images: Vec<Image>,
    /// Replica counts.
    pub replicas: Vec<Replicas>,
    /// Output order.
    pub sort_options: Option<Value>,
    /// Prepended to every object's name.
    pub name_prefix: Option<String>,
    /// Appended to every object's name.
    pub name_suffix: Option<String>,
    /// Strategic-merge and JSON 6902 patches.
    pub patches: Vec<Patch>,
    /// The deprecated strategic-merge patches: file paths or inline YAML.
    pub patches_strategic_merge: Vec<String>,
    /// The deprecated JSON 6902 patches.
    pub patches_json6902: Vec<Patch>,
    /// ConfigMaps to generate.
    pub config_map_generator: Vec<GeneratorArgs>,
    /// Secrets to generate.
    pub secret_generator: Vec<GeneratorArgs>,
    /// Options for every generator of this kustomization.
    pub generator_options: Option<GeneratorOptions>,
    /// Values copied from one object's field into others.
    pub replacements: Vec<Replacement>,
    /// The deprecated `$(VAR)` variables.
    pub vars: Vec<Var>,
    /// Files of `OpenAPI` definitions (see [`crate::crds`]).
    pub crds: Vec<String>,
    /// `originAnnotations`, `transformerAnnotations`, `managedByLabel`;
    /// only the kustomization built counts.
    pub build_metadata: Vec<String>,
    /// Transformer configuration files (or inline configurations), see
    /// [`crate::config`].
    pub configurations: Vec<String>,
    /// Charts to inflate: refused, as by kustomize, without `--enable-helm`
    /// (which Flux never passes); see `build::helm`.
    pub helm_charts: Option<Value>,
    /// Settings for `helmCharts`; without charts, nothing reads them.
    pub helm_globals: Option<Value>,
    /// Generator plugins: kustomize's built-ins run, others are refused
    /// (see `build::plugin`).
    pub generators: Vec<String>,
    /// Transformer plugins: kustomize's built-ins run, others are refused.
    pub transformers: Vec<String>,
    /// Validator plugins: kustomize's built-in transformers, run to check
    /// that they change nothing; others are refused.
    pub validators: Vec<String>,
    /// The schema strategic merges read: `version` (kustomize's built-in
    /// `v1.21.2`) or `path` (a custom schema file), see
    /// [`crate::openapi`]. A map of strings, as in kustomize (other keys are
    /// ignored).
    pub openapi: Option<BTreeMap<String, String>>,
}

/// One `labels` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Labels {
    /// The labels.
    pub pairs: Map<String, Value>,
    /// Also set selectors (and templates).
    pub include_selectors: bool,
    /// Also set pod-template labels.
    pub include_templates: bool,
    /// Extra fields to set the labels in.
    pub fields: Vec<FieldSpec>,
}

/// One `images` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Image {
    /// The image name to match.
    pub name: String,
    /// The replacement name.
    pub new_name: Option<String>,
    /// The replacement tag.
    pub new_tag: Option<String>,
    /// The replacement digest.
    pub digest: Option<String>,
    /// Appended to the tag when neither a new tag nor a digest is given.
    pub tag_suffix: Option<String>,
}

/// One `replicas` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Replicas {
    /// The object's name.
    pub name: String,
    /// The count.
    pub count: i64,
}

impl Kustomization {
    /// Finds and parses the kustomization file in `dir`.
    ///
    /// # Errors
    /// [`Error::NoKustomization`], [`Error::Yaml`] or [`Error::Invalid`].
    pub fn load(dir: &Path) -> Result<(PathBuf, Self), Error> {
        let found: Vec<PathBuf> = KUSTOMIZATION_FILES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        let file = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(Error::NoKustomization {
                    dir: dir.to_path_buf(),
                });
            }
            _ => {
                return Err(Error::Invalid {
                    file: dir.to_path_buf(),
                    message: "found more than one kustomization file; keep one".into(),
                });
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, &e))?;
        let docs =
            yaml::parse_documents_yaml11(&yaml::normalise(&text)).map_err(|e| Error::Yaml {
                file: file.clone(),
                source: e,
            })?;
        let mut doc = docs.into_iter().next().unwrap_or(Value::Object(Map::new()));
        fold_field_names(&mut doc).map_err(|message| Error::Invalid {
            file: file.clone(),
            message,
        })?;
        go_nulls(&mut doc);
        if is_empty(&doc) {
            return Err(Error::Invalid {
                file,
                message: "the kustomization sets nothing (kustomize refuses an empty kustomization); list its resources or remove it".into(),
            });
        }
        let k: Self = serde_json::from_value(doc).map_err(|e| Error::Invalid {
            file: file.clone(),
            message: e.to_string(),
        })?;
        k.enforce_kind().map_err(|message| Error::Invalid {
            file: file.clone(),
            message,
        })?;
        for (field, map) in [
            ("commonLabels", &k.common_labels),
            ("commonAnnotations", &k.common_annotations),
        ]
        .into_iter()
        .chain(k.labels.iter().map(|l| ("labels[].pairs", &l.pairs)))
        {
            if let Some((key, _)) = map.iter().find(|(_, v)| !(v.is_string() || v.is_null())) {
                return Err(Error::Invalid {
                    file,
                    message: format!("{field}: the value of '{key}' must be a string; quote it"),
                });
            }
        }
        Ok((file, k))
    }

    /// kustomize's check of `kind` and `apiVersion`: the kind, when given,
    /// is `Kustomization` or `Component`, and the apiVersion, when given,
    /// is `kustomize.config.k8s.io/v1beta1` for a kustomization and
    /// `kustomize.config.k8s.io/v1alpha1` for a component.
    fn enforce_kind(&self) -> Result<(), String> {
        let kind = self
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or("Kustomization");
        if kind != "Kustomization" && kind != "Component" {
            return Err(format!(
                "kind should be Kustomization or Component, not {kind}"
            ));
        }
        let required = if kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        match self.api_version.as_deref() {
            Some(given) if !given.is_empty() && given != required => Err(format!(
                "apiVersion for {kind} should be {required}, not {given}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether this is a `Component`.
    #[must_use]
    pub fn is_component(&self) -> bool {
        self.kind.as_deref() == Some("Component")
    }

    /// Checks what the fields alone show is wrong: every kustomization
    /// field is implemented now (what is still refused depends on the
    /// field's content and is refused where it is read).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a `helmCharts` that is not a list.
    pub fn refuse_unsupported(&self, file: &Path) -> Result<(), Error> {
        if matches!(&self.helm_charts, Some(c) if !c.is_null() && !c.is_array()) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: "helmCharts must be a list of charts".into(),
            });
        }
        Ok(())
    }
}

/// The maps of strings of a kustomization, as JSON pointers; `[]` stands
/// for every element of a list.
const STRING_MAPS: &[&str] = &[
    "/commonLabels",
    "/commonAnnotations",
    "/labels[]/pairs",
    "/generatorOptions/labels",
    "/generatorOptions/annotations",
    "/configMapGenerator[]/options/labels",
    "/configMapGenerator[]/options/annotations",
    "/secretGenerator[]/options/labels",
    "/secretGenerator[]/options/annotations",
];

/// `null` as kustomize's decoder (Go's `encoding/json`) reads it: a field
/// left at its zero value (`resources:` with nothing is no resources), and
/// in a map of strings, the empty string.
fn go_nulls(doc: &mut Value) {
    for path in STRING_MAPS {
        for map in at_path(doc, path) {
            if let Value::Object(entries) = map {
                for value in entries.values_mut().filter(|v| v.is_null()) {
                    *value = Value::String(String::new());
                }
            }
        }
    }
    // A chart's inline values are a free-form map: kustomize keeps their
    // nulls (and merges them away), so they stay for `build::helm` to see.
    let inline: Vec<Option<Value>> = at_path(doc, "/helmCharts[]")
        .into_iter()
        .map(|chart| chart.as_object_mut().and_then(|c| c.remove("valuesInline")))
        .collect();
    drop_null_fields(doc);
    for (chart, values) in at_path(doc, "/helmCharts[]").into_iter().zip(inline) {
        if let (Some(chart), Some(values)) = (chart.as_object_mut(), values) {
            chart.insert("valuesInline".into(), values);
        }
    }
}

/// The values at `path` (see [`STRING_MAPS`]).
fn at_path<'a>(doc: &'a mut Value, path: &str) -> Vec<&'a mut Value> {
    let mut found = vec![doc];
    for segment in path.trim_start_matches('/').split('/') {
        let (key, every) = segment
            .strip_suffix("[]")
            .map_or((segment, false), |k| (k, true));
        found = found
            .into_iter()
            .filter_map(|v| v.get_mut(key))
            .flat_map(|v| match (every, v) {
                (true, Value::Array(items)) => items.iter_mut().collect::<Vec<_>>(),
                (true, _) => Vec::new(),
                (false, v) => vec![v],
            })
            .collect();
    }
    found
}

/// The top-level fields of a kustomization, as written.
const FIELDS: [&str; 32] = [
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "sortOptions",
    "namePrefix",
    "nameSuffix",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "crds",
    "buildMetadata",
    "configurations",
    "helmCharts",
    "helmGlobals",
    "generators",
    "transformers",
    "validators",
    "openapi",
];

/// kustomize decodes the kustomization with Go's JSON decoder, which takes
/// a field name in any letter case (`nameprefix` is `namePrefix`): the
/// top-level names are brought to their written case. Two spellings of one
/// field are refused (Go would merge or overwrite them).
fn fold_field_names(doc: &mut Value) -> Result<(), String> {
    let Value::Object(map) = doc else {
        return Ok(());
    };
    let misspelt: Vec<(String, &str)> = map
        .keys()
        .filter(|key| !FIELDS.contains(&key.as_str()))
        .filter_map(|key| {
            FIELDS
                .iter()
                .find(|field| field.eq_ignore_ascii_case(key))
                .map(|field| (key.clone(), *field))
        })
        .collect();
    for (key, field) in misspelt {
        if map.contains_key(field) {
            return Err(format!(
                "'{key}' and '{field}' are the same field to kustomize; keep one"
            ));
        }
        if let Some(value) = map.remove(&key) {
            map.insert(field.to_owned(), value);
        }
    }
    Ok(())
}

/// Removes every `null` field of every mapping, recursively.
fn drop_null_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_null_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_fields),
        _ => {}
    }
}

/// Whether a kustomization is empty as kustomize judges it: every field but
/// `apiVersion` and `kind` at Go's zero value (a list, even empty, or a map
/// of strings is not).
fn is_empty(doc: &Value) -> bool {
    fn zero(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(_) | Value::Object(_) => false,
        }
    }
    doc.as_object().is_some_and(|fields| {
        fields
            .iter()
            .all(|(key, value)| match (key.as_str(), value) {
                ("apiVersion" | "kind", _) => true,
                ("metadata", Value::Object(meta)) => meta.values().all(zero),
                _ => zero(value),
            })
    })
}
