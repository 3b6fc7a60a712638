//! Built-in plugins listed under a kustomization's `generators`,
//! `transformers` and `validators`, as kustomize runs them.
//!
//! An entry is the plugin configuration itself when it reads as YAML
//! objects, else a path: a file of configurations, or a directory built as
//! a kustomization whose objects are the configurations. A configuration
//! with `apiVersion: builtin` names one of kustomize's built-in plugins by
//! its kind, and runs with exactly the field specs it gives (the
//! kustomization's transformer configuration is not used). Generators run
//! after the kustomization's own generators; transformers after all of the
//! kustomization's own transformers: the inline configurations first, in
//! the order listed, then those of the files and directories, in the order
//! listed (as kustomize loads them).
//!
//! Refused by name, never skipped: exec, Go and container plugins (any
//! other `apiVersion`; kustomize as Flux runs it refuses them too), every
//! validator, `HelmChartInflationGenerator` (Helm is not run by the
//! builder), and the built-ins not implemented here (`SortOrderTransformer`,
//! `HashTransformer`, `ValueAddTransformer`, `IAMPolicyGenerator`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    Builder, Entry, NamespaceMode, Subjects, apply_namespace, apply_pairs, read_objects, rename,
};
use crate::Error;
use crate::fieldspec::FieldSpec;
use crate::generator::{self, GeneratorArgs};
use crate::kustomization::{Image, Replicas};
use crate::patch;
use crate::replacement::{self, Replacement};
use crate::resource::{Origin, Resource, Transformation};
use crate::selector::Selector;
use crate::yaml;

/// The `apiVersion` of kustomize's built-in plugins.
const BUILTIN: &str = "builtin";

/// Which kustomization field the plugins come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// `generators`.
    Generators,
    /// `transformers`.
    Transformers,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Generators => "generators",
            Self::Transformers => "transformers",
        }
    }
}

/// A plugin configuration and where it came from.
struct Plugin {
    config: Value,
    kind: String,
    /// The file the configuration was read from (the kustomization for an
    /// inline one), as origin and transformer annotations name it.
    configured_in: std::path::PathBuf,
}

impl Plugin {
    /// The transformer as `transformerAnnotations` records it.
    fn transformation(&self) -> Arc<Transformation> {
        let meta = |key: &str| {
            self.config
                .pointer(&format!("/metadata/{key}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Arc::new(Transformation {
            configured_in: self.configured_in.clone(),
            kind: self.kind.clone(),
            name: meta("name"),
            namespace: meta("namespace"),
        })
    }
}

impl Builder {
    /// Runs the plugins of `field` of the kustomization in `dir` on `acc`.
    pub(super) fn run_plugins(
        &self,
        dir: &Path,
        file: &Path,
        field: Field,
        entries: &[String],
        acc: &mut Vec<Resource>,
        stack: &mut Vec<std::path::PathBuf>,
    ) -> Result<(), Error> {
        for plugin in self.plugin_configs(dir, file, field, entries, stack)? {
            let invalid = |message: String| Error::Invalid {
                file: file.to_path_buf(),
                message: format!("{} {}: {message}", field.name(), plugin.kind),
            };
            match (field, plugin.kind.as_str()) {
                (Field::Generators, "ConfigMapGenerator") => {
                    self.generate(dir, &plugin, generator::Kind::ConfigMap, acc)?;
                }
                (Field::Generators, "SecretGenerator") => {
                    self.generate(dir, &plugin, generator::Kind::Secret, acc)?;
                }
                (Field::Transformers, _) => {
                    self.transform_with(dir, file, &plugin, acc)
                        .map_err(|e| match e {
                            Error::Invalid { message, .. } => invalid(message),
                            other => other,
                        })?;
                    self.record(acc, &plugin.transformation());
                }
                (Field::Generators, _) => {
                    return Err(unsupported(file, field, &plugin.kind));
                }
            }
        }
        Ok(())
    }

    /// The configurations the entries name, checked to be built-ins.
    fn plugin_configs(
        &self,
        dir: &Path,
        file: &Path,
        field: Field,
        entries: &[String],
        stack: &mut Vec<std::path::PathBuf>,
    ) -> Result<Vec<Plugin>, Error> {
        // kustomize takes every inline configuration first, in order, then
        // the files and directories, in order.
        let mut configs = Vec::new();
        let mut paths = Vec::new();
        for entry in entries {
            let inline = yaml::parse_documents(entry)
                .ok()
                .filter(|docs| !docs.is_empty() && docs.iter().all(Value::is_object));
            match inline {
                Some(docs) => {
                    let origin = self.logical_file(file);
                    configs.extend(docs.into_iter().map(|d| (d, origin.clone())));
                }
                None => paths.push(entry),
            }
        }
        for entry in paths {
            match self.entry(dir, file, entry)? {
                Entry::Dir(real) => {
                    // A configuration built from a directory was configured
                    // in the file it was read from.
                    self.enter_logical(entry);
                    let built = self.target(&real, stack);
                    self.leave_logical();
                    let (objs, _, _, _) = built?;
                    configs.extend(objs.into_iter().map(|r| {
                        let from = match r.origin {
                            Some(Origin::File(path)) => path,
                            _ => real.clone(),
                        };
                        (r.obj, from)
                    }));
                }
                Entry::File(real) => {
                    let origin = self.logical_entry(entry);
                    configs.extend(
                        read_objects(&real)?
                            .into_iter()
                            .map(|o| (o, origin.clone())),
                    );
                }
            }
        }
        configs
            .into_iter()
            .map(|(config, configured_in)| {
                let api_version = config
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let kind = config
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if api_version != BUILTIN {
                    return Err(Error::Unsupported {
                        file: file.to_path_buf(),
                        fields: format!(
                            "{}: plugin {api_version}/{kind} (only kustomize's built-in plugins, apiVersion: builtin, are run; exec, Go and container plugins are not)",
                            field.name()
                        ),
                    });
                }
                Ok(Plugin {
                    config,
                    kind,
                    configured_in,
                })
            })
            .collect()
    }

    /// One built-in transformer.
    fn transform_with(
        &self,
        dir: &Path,
        file: &Path,
        plugin: &Plugin,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message,
        };
        match plugin.kind.as_str() {
            "LabelTransformer" => {
                let c: Pairs = read_config(&plugin.config, file)?;
                apply_pairs(acc, &c.field_specs, &c.labels);
            }
            "AnnotationsTransformer" => {
                let c: Pairs = read_config(&plugin.config, file)?;
                apply_pairs(acc, &c.field_specs, &c.annotations);
            }
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let c: Affixes = read_config(&plugin.config, file)?;
                if plugin.kind != "SuffixTransformer" && !c.prefix.is_empty() {
                    rename(acc, &c.prefix, true, &c.field_specs).map_err(invalid)?;
                }
                if plugin.kind != "PrefixTransformer" && !c.suffix.is_empty() {
                    rename(acc, &c.suffix, false, &c.field_specs).map_err(invalid)?;
                }
            }
            "NamespaceTransformer" => namespace(file, &plugin.config, acc)?,
            "ImageTagTransformer" => {
                let c: ImageTag = read_config(&plugin.config, file)?;
                if c.image_tag.tag_suffix.is_some() {
                    return Err(Error::Unsupported {
                        file: file.to_path_buf(),
                        fields: "transformers: ImageTagTransformer imageTag.tagSuffix".into(),
                    });
                }
                crate::transform::images(acc, &c.image_tag, &c.field_specs);
            }
            "ReplicaCountTransformer" => {
                let c: ReplicaCount = read_config(&plugin.config, file)?;
                crate::transform::replicas(acc, &c.replica, &c.field_specs, file)?;
            }
            "PatchTransformer" | "PatchStrategicMergeTransformer" | "PatchJson6902Transformer" => {
                self.patch_with(dir, file, plugin, acc)?;
            }
            "ReplacementTransformer" => {
                let c: Replacements = read_config(&plugin.config, file)?;
                let replacements = self.resolve_replacements(dir, file, &c.replacements)?;
                replacement::apply(acc, &replacements).map_err(|e| invalid(e.to_string()))?;
            }
            other => return Err(unsupported(file, Field::Transformers, other)),
        }
        Ok(())
    }

    /// The three patch transformers, with their configuration as the
    /// kustomization's `patches`, `patchesStrategicMerge` and
    /// `patchesJson6902` entries would give it.
    fn patch_with(
        &self,
        dir: &Path,
        file: &Path,
        plugin: &Plugin,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        match plugin.kind.as_str() {
            "PatchTransformer" => {
                let c: PatchConfig = read_config(&plugin.config, file)?;
                let entry = patch::Patch {
                    path: c.path,
                    patch: c.patch,
                    target: c.target,
                    options: c.options,
                };
                self.apply_patches(
                    dir,
                    file,
                    std::slice::from_ref(&entry),
                    "PatchTransformer",
                    acc,
                )?;
            }
            "PatchStrategicMergeTransformer" => {
                let c: StrategicMerge = read_config(&plugin.config, file)?;
                let mut entries = c.paths;
                if let Some(inline) = c.patches.filter(|p| !p.trim().is_empty()) {
                    entries.push(inline);
                }
                self.strategic_merge_patches(
                    dir,
                    file,
                    &entries,
                    "PatchStrategicMergeTransformer",
                    acc,
                )?;
            }
            "PatchJson6902Transformer" => {
                let c: Json6902 = read_config(&plugin.config, file)?;
                let entry = patch::Patch {
                    path: c.path,
                    patch: c.json_op,
                    target: c.target,
                    options: BTreeMap::new(),
                };
                self.json6902_patches(
                    dir,
                    file,
                    std::slice::from_ref(&entry),
                    "PatchJson6902Transformer",
                    acc,
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A `ConfigMapGenerator` or `SecretGenerator`: the kustomization's
    /// generator with this configuration (its name and namespace from
    /// `metadata` when not given beside it), without `generatorOptions`.
    fn generate(
        &self,
        dir: &Path,
        plugin: &Plugin,
        kind: generator::Kind,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let file = plugin.configured_in.as_path();
        let mut fields = plugin.config.as_object().cloned().unwrap_or_default();
        let metadata = fields
            .remove("metadata")
            .unwrap_or(Value::Object(Map::new()));
        fields.remove("apiVersion");
        fields.remove("kind");
        for key in ["name", "namespace"] {
            let given = fields
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty());
            if let (false, Some(value)) = (given, metadata.get(key)) {
                fields.insert(key.to_owned(), value.clone());
            }
        }
        let name = metadata.get("name").and_then(Value::as_str);
        let namespace = metadata.get("namespace").and_then(Value::as_str);
        let args: GeneratorArgs = read_config(&Value::Object(fields), file)?;
        let read = |entry: &str| self.read(dir, entry);
        let configured = generator::Configured {
            file,
            name,
            namespace,
        };
        generator::generate(kind, &args, None, configured, &read, acc)
    }
}

/// A `NamespaceTransformer`: kustomize's namespace transformer with the
/// plugin's own field specs.
fn namespace(file: &Path, config: &Value, acc: &mut [Resource]) -> Result<(), Error> {
    let c: Namespace = read_config(config, file)?;
    let subjects = match c.set_role_binding_subjects.as_str() {
        "" | "defaultOnly" => Subjects::DefaultOnly,
        "allServiceAccounts" => Subjects::AllServiceAccounts,
        "none" => Subjects::None,
        other => {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: format!(
                    "transformers NamespaceTransformer: setRoleBindingSubjects '{other}' is not one of defaultOnly, allServiceAccounts, none"
                ),
            });
        }
    };
    let mode = NamespaceMode {
        unset_only: c.unset_only,
        subjects,
    };
    if let Some(ns) = c.metadata.namespace.filter(|n| !n.is_empty()) {
        for res in acc.iter_mut() {
            res.remember_id();
            apply_namespace(&mut res.obj, &ns, &c.field_specs, mode);
        }
        super::check_unique(acc, file, "namespace transformation produces ID conflict")?;
    }
    Ok(())
}

fn unsupported(file: &Path, field: Field, kind: &str) -> Error {
    let why = match kind {
        "HelmChartInflationGenerator" => "Helm charts are not rendered by the builder",
        _ => "this built-in plugin is not implemented yet",
    };
    Error::Unsupported {
        file: file.to_path_buf(),
        fields: format!("{}: {kind} ({why})", field.name()),
    }
}

/// A plugin's configuration as the built-in reads it: unknown fields are
/// ignored, as kustomize's decoder ignores them.
fn read_config<T: DeserializeOwned>(config: &Value, file: &Path) -> Result<T, Error> {
    serde_json::from_value(config.clone()).map_err(|e| Error::Invalid {
        file: file.to_path_buf(),
        message: format!(
            "the configuration of plugin {}: {e}",
            config
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Pairs {
    labels: Map<String, Value>,
    annotations: Map<String, Value>,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Affixes {
    prefix: String,
    suffix: String,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjectMeta {
    namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Namespace {
    metadata: ObjectMeta,
    field_specs: Vec<FieldSpec>,
    unset_only: bool,
    set_role_binding_subjects: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ImageTag {
    image_tag: Image,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ReplicaCount {
    replica: Replicas,
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PatchConfig {
    path: Option<String>,
    patch: Option<String>,
    target: Option<Selector>,
    options: BTreeMap<String, bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StrategicMerge {
    paths: Vec<String>,
    patches: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Json6902 {
    target: Option<Selector>,
    path: Option<String>,
    json_op: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Replacements {
    replacements: Vec<Replacement>,
}
