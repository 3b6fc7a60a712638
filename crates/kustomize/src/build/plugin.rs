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
//! listed (as kustomize loads them); validators after the transformers,
//! each a built-in transformer that must leave every object as it found it
//! (but for a `validated-by` label, which stays).
//!
//! Refused as kustomize, as Flux runs it, refuses them: exec, Go and
//! container plugins (any other `apiVersion`), kinds kustomize has no
//! built-in for (`SortOrderTransformer` among them: kustomize 5.7.1 does
//! not load it as a plugin), a generator listed as a transformer or the
//! other way round, and `HelmChartInflationGenerator` unless the build
//! enables Helm (kustomize's `--enable-helm`, which Flux never passes;
//! `build::helm` inflates it when enabled).

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

use super::value_add::ValueAdd;

/// The `apiVersion` of kustomize's built-in plugins.
const BUILTIN: &str = "builtin";

/// kustomize 5.7.1's built-in generators.
const GENERATORS: &[&str] = &[
    "ConfigMapGenerator",
    "SecretGenerator",
    "IAMPolicyGenerator",
    "HelmChartInflationGenerator",
];

/// kustomize 5.7.1's built-in transformers (what `validators` may list too).
const TRANSFORMERS: &[&str] = &[
    "AnnotationsTransformer",
    "HashTransformer",
    "ImageTagTransformer",
    "LabelTransformer",
    "NamespaceTransformer",
    "PatchJson6902Transformer",
    "PatchStrategicMergeTransformer",
    "PatchTransformer",
    "PrefixSuffixTransformer",
    "PrefixTransformer",
    "SuffixTransformer",
    "ReplacementTransformer",
    "ReplicaCountTransformer",
    "ValueAddTransformer",
];

/// The label a validator may add: kustomize ignores it when checking that
/// a validator changed nothing, and keeps it.
const VALIDATED_BY: &str = "validated-by";

/// Which kustomization field the plugins come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// `generators`.
    Generators,
    /// `transformers`.
    Transformers,
    /// `validators`.
    Validators,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Generators => "generators",
            Self::Transformers => "transformers",
            Self::Validators => "validators",
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
            let kind = plugin.kind.as_str();
            let invalid = |message: String| Error::Invalid {
                file: file.to_path_buf(),
                message: format!("{} {kind}: {message}", field.name()),
            };
            let generator = GENERATORS.contains(&kind);
            if kind == "HelmChartInflationGenerator" && !self.enable_helm {
                return Err(invalid(
                    "kustomize inflates Helm charts only with --enable-helm, which Flux never passes (its controllers run no external binaries); render the chart with a HelmRelease instead".into(),
                ));
            }
            if !generator && !TRANSFORMERS.contains(&kind) {
                return Err(invalid(format!(
                    "kustomize has no built-in plugin of this kind; its built-ins are {} and {}",
                    GENERATORS.join(", "),
                    TRANSFORMERS.join(", ")
                )));
            }
            match (field, generator) {
                (Field::Generators, false) => {
                    return Err(invalid(
                        "this is a transformer, not a generator; list it under transformers".into(),
                    ));
                }
                (Field::Transformers | Field::Validators, true) => {
                    return Err(invalid(
                        "this is a generator, not a transformer; list it under generators".into(),
                    ));
                }
                (Field::Generators, true) => self.generate_with(dir, &plugin, acc)?,
                (Field::Transformers, false) => {
                    self.transform_with(dir, file, &plugin, acc)
                        .map_err(|e| match e {
                            Error::Invalid { message, .. } => invalid(message),
                            other => other,
                        })?;
                    self.record(acc, &plugin.transformation());
                }
                (Field::Validators, false) => {
                    let before: Vec<Value> = acc.iter().map(|r| r.obj.clone()).collect();
                    self.transform_with(dir, file, &plugin, acc)
                        .map_err(|e| match e {
                            Error::Invalid { message, .. } => invalid(message),
                            other => other,
                        })?;
                    // Transformers neither add nor remove objects, so
                    // comparing them pairwise is comparing the sets.
                    if let Some(changed) = acc
                        .iter()
                        .zip(&before)
                        .find(|(res, old)| without_validated_by(&res.obj) != **old)
                        .map(|(res, _)| res.id())
                    {
                        return Err(invalid(format!(
                            "a validator must not change the objects, but it changed {changed}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// One built-in generator.
    fn generate_with(
        &self,
        dir: &Path,
        plugin: &Plugin,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        match plugin.kind.as_str() {
            "ConfigMapGenerator" => self.generate(dir, plugin, generator::Kind::ConfigMap, acc),
            "SecretGenerator" => self.generate(dir, plugin, generator::Kind::Secret, acc),
            "HelmChartInflationGenerator" => {
                let file = plugin.configured_in.as_path();
                let chart = super::helm::HelmChart::from_plugin(&plugin.config, file)?;
                let meta = |key: &str| {
                    plugin
                        .config
                        .pointer(&format!("/metadata/{key}"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let configured = super::helm::Configured {
                    file,
                    origin: file.to_path_buf(),
                    name: meta("name"),
                    namespace: meta("namespace"),
                };
                self.inflate(dir, &chart, &configured, acc)
            }
            _ => iam_policy(plugin, acc),
        }
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
                    return Err(Error::Invalid {
                        file: file.to_path_buf(),
                        message: format!(
                            "{}: plugin {kind} (apiVersion {api_version}) is an exec, Go or container plugin; kustomize as Flux runs it loads only its built-in plugins (apiVersion: builtin), and so does this builder",
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
                let Some(field_specs) = c.field_specs else {
                    return Err(invalid(
                        "fieldSpecs is missing; kustomize refuses this plugin without them (give e.g. fieldSpecs: [{path: metadata/name}])".into(),
                    ));
                };
                if plugin.kind != "SuffixTransformer" && !c.prefix.is_empty() {
                    rename(acc, &c.prefix, true, &field_specs).map_err(invalid)?;
                }
                // No field specs, nothing renamed (an empty list here would
                // mean every name to `rename`).
                if plugin.kind != "PrefixTransformer"
                    && !c.suffix.is_empty()
                    && !field_specs.is_empty()
                {
                    rename(acc, &c.suffix, false, &field_specs).map_err(invalid)?;
                }
            }
            "NamespaceTransformer" => namespace(file, &plugin.config, acc)?,
            "ImageTagTransformer" => {
                let c: ImageTag = read_config(&plugin.config, file)?;
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
            "HashTransformer" => generator::apply_hashes(acc),
            "ValueAddTransformer" => {
                let c: ValueAdd = read_config(&plugin.config, file)?;
                let read = |entry: &str| self.read(dir, entry);
                c.configure(dir, file, &read)?.apply(acc).map_err(invalid)?;
            }
            other => {
                return Err(invalid(format!(
                    "{other} is not one of kustomize's built-in transformers"
                )));
            }
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
        // kustomize decodes the configuration leniently: fields its
        // generator arguments do not have (a top-level
        // `disableNameSuffixHash`, say) are dropped, not refused.
        fields.retain(|key, _| GENERATOR_FIELDS.contains(&key.as_str()));
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

/// kustomize's `IAMPolicyGenerator`: the GKE workload-identity
/// ServiceAccount, written as kustomize writes it (a YAML text read back,
/// so values read as YAML reads them).
fn iam_policy(plugin: &Plugin, acc: &mut Vec<Resource>) -> Result<(), Error> {
    let file = plugin.configured_in.as_path();
    let invalid = |message: String| Error::Invalid {
        file: file.to_path_buf(),
        message: format!("generators IAMPolicyGenerator: {message}"),
    };
    let c: IamPolicy = read_config(&plugin.config, file)?;
    if c.cloud != "gke" {
        return Err(invalid(format!(
            "cloud provider '{}' is not supported (kustomize knows only gke)",
            c.cloud
        )));
    }
    let mut text = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    iam.gke.io/gcp-service-account: {}@{}.iam.gserviceaccount.com\n  name: {}\n",
        c.service_account.name, c.service_account.project_id, c.kubernetes_service.name
    );
    if !c.kubernetes_service.namespace.is_empty() {
        text.push_str("  namespace: ");
        text.push_str(&c.kubernetes_service.namespace);
        text.push('\n');
    }
    let mut docs = yaml::parse_documents(&text).map_err(|e| {
        invalid(format!(
            "the names given do not make a valid ServiceAccount: {e}"
        ))
    })?;
    let (Some(obj @ Value::Object(_)), true) = (docs.pop(), docs.is_empty()) else {
        return Err(invalid(
            "the names given do not make one ServiceAccount".into(),
        ));
    };
    let mut res = Resource::new(obj);
    res.origin = Some(crate::resource::Origin::Generator {
        kustomization: file.to_path_buf(),
        kind: "IAMPolicyGenerator",
        name: plugin
            .config
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        namespace: plugin
            .config
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
    });
    generator::add_generated(acc, res).map_err(invalid)
}

/// An object's labels without the `validated-by` one (and without an
/// empty `labels` left behind), as kustomize compares a validator's output.
fn without_validated_by(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let emptied = meta
            .get_mut("labels")
            .and_then(Value::as_object_mut)
            .is_some_and(|labels| labels.remove(VALIDATED_BY).is_some() && labels.is_empty());
        if emptied {
            meta.remove("labels");
        }
    }
    obj
}

/// The fields of a `ConfigMapGenerator` or `SecretGenerator` configuration
/// kustomize reads (beside `metadata`); the others are ignored.
const GENERATOR_FIELDS: [&str; 9] = [
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "options",
    "type",
];

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
    /// Required: kustomize refuses these plugins without them.
    field_specs: Option<Vec<FieldSpec>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct IamPolicy {
    cloud: String,
    kubernetes_service: KubernetesService,
    service_account: GcpServiceAccount,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KubernetesService {
    namespace: String,
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct GcpServiceAccount {
    name: String,
    project_id: String,
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
