//! The build: a kustomization directory into objects, in kustomize's order.
//!
//! Each kustomization is accumulated as kustomize does it: its `resources`
//! (files, and directories built completely as bases), then its
//! `components` (built into the same accumulator, their transformers over
//! everything so far), then its own transformers in kustomize's fixed order.
//! When the kustomization built has `buildMetadata`, each object's origin
//! and every transformer that ran over it are tracked as kustomize tracks
//! them (in the object's annotations while building), and written at the
//! end as asked. Fields not implemented yet are refused by name, never
//! ignored.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::Error;
use crate::fieldspec::{FieldSpec, TABLES};
use crate::kustomization::Kustomization;
use crate::replacement::{self, Replacement};
use crate::resource::{
    Id, ORIGIN_ANNOTATION, Origin, Resource, TRANSFORMATIONS_ANNOTATION, Transformation, api_kind,
    is_cluster_scoped,
};
use crate::vars::{self, Var};
use crate::{config, crds, generator, nameref, openapi, patch, yaml};

mod helm;
mod plugin;
mod value_add;

/// Which files a kustomization may read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Files only at or below the kustomization's own directory (kustomize's
    /// default); bases may be anywhere inside the build root.
    #[default]
    RootOnly,
    /// Any file inside the build root (`--load-restrictor=LoadRestrictionsNone`,
    /// what Flux uses).
    None,
}

/// How to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// No file outside this directory is read, whatever the kustomizations
    /// say (symlinks are resolved first).
    pub root: PathBuf,
    /// The kustomize load restrictor.
    pub load_restrictor: LoadRestrictor,
    /// Inflate `helmCharts` and `HelmChartInflationGenerator` entries
    /// (kustomize's `--enable-helm`), with Ferroflux's own Helm renderer
    /// and only from charts already in the tree; refused when off.
    pub enable_helm: bool,
}

/// Builds the kustomization in `dir` and returns its objects in output order.
///
/// # Errors
/// [`Error`] naming the file and what is wrong: a missing or escaping path,
/// malformed YAML, a duplicate object, an unsupported field, a cycle.
pub fn build(dir: &Path, options: &Options) -> Result<Vec<Value>, Error> {
    let root = options
        .root
        .canonicalize()
        .map_err(|e| Error::io(&options.root, &e))?;
    let mut builder = Builder {
        root,
        restrictor: options.load_restrictor,
        enable_helm: options.enable_helm,
        schema: RefCell::default(),
        track: false,
        logical: RefCell::new(Vec::new()),
    };
    let dir = builder.confine(dir, None)?;
    builder.logical.borrow_mut().push(dir.clone());
    // kustomize tracks origins and transformers (in the objects'
    // annotations) through the whole build as soon as the kustomization
    // built asks for any build metadata. A kustomization that fails to load
    // fails below, with its error.
    builder.track = Kustomization::load(&dir).is_ok_and(|(_, k)| !k.build_metadata.is_empty());
    let mut stack = Vec::new();
    let (mut acc, kustomization, vars, config) = builder.target_of(&dir, &mut stack, true)?;
    // Done once, at the top: hashes of the final content, then references
    // to every renamed object.
    generator::apply_hashes(&mut acc);
    nameref::fix(&mut acc, &config.name_references).map_err(|message| Error::Invalid {
        file: dir.clone(),
        message: format!("name reference: {message}"),
    })?;
    // Unused variables are not an error (kustomize only warns).
    vars::resolve(&mut acc, &vars, &config.var_reference).map_err(|message| Error::Invalid {
        file: dir.clone(),
        message: format!("vars: {message}"),
    })?;
    build_metadata(&mut acc, &kustomization, &dir)?;
    acc.retain(|r| {
        r.obj
            .pointer("/metadata/annotations/config.kubernetes.io~1local-config")
            .and_then(Value::as_str)
            != Some("true")
    });
    crate::transform::sort(&mut acc, kustomization.sort_options.as_ref(), &dir)?;
    Ok(acc.into_iter().map(|r| finish(r.obj)).collect())
}

/// The root kustomization's `buildMetadata`: origin annotations, transformer
/// annotations and the managed-by label.
fn build_metadata(acc: &mut [Resource], k: &Kustomization, dir: &Path) -> Result<(), Error> {
    // Both annotations go unless asked for, even ones the objects were
    // written with, as kustomize removes them.
    for (key, asked) in [
        (ORIGIN_ANNOTATION, "originAnnotations"),
        (TRANSFORMATIONS_ANNOTATION, "transformerAnnotations"),
    ] {
        if k.build_metadata.iter().any(|o| o == asked) {
            continue;
        }
        for res in acc.iter_mut() {
            if let Some(annotations) = res
                .obj
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove(key);
            }
        }
    }
    for option in &k.build_metadata {
        match option.as_str() {
            "originAnnotations" => {
                for res in acc.iter_mut() {
                    if let Some(origin) = &res.origin {
                        let text = origin.annotation(dir);
                        set_map_entry(&mut res.obj, "annotations", ORIGIN_ANNOTATION, text);
                    }
                }
            }
            "managedByLabel" => {
                for res in acc.iter_mut() {
                    set_map_entry(
                        &mut res.obj,
                        "labels",
                        "app.kubernetes.io/managed-by",
                        format!("kustomize-{KUSTOMIZE_VERSION}"),
                    );
                }
            }
            "transformerAnnotations" => {
                for res in acc.iter_mut().filter(|r| !r.transformations.is_empty()) {
                    let text = Transformation::annotation(&res.transformations, dir);
                    set_map_entry(
                        &mut res.obj,
                        "annotations",
                        TRANSFORMATIONS_ANNOTATION,
                        text,
                    );
                }
            }
            other => {
                return Err(Error::Invalid {
                    file: dir.to_path_buf(),
                    message: format!(
                        "buildMetadata option '{other}' is not one of originAnnotations, transformerAnnotations, managedByLabel"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The kustomize version this builder matches, as `managedByLabel` writes it.
pub const KUSTOMIZE_VERSION: &str = "v5.7.1";

/// Sets `metadata.<map>.<key>`, creating the maps.
fn set_map_entry(obj: &mut Value, map: &str, key: &str, value: String) {
    let entries = obj
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()))
        })
        .and_then(Value::as_object_mut)
        .map(|m| m.entry(map).or_insert_with(|| Value::Object(Map::new())))
        .and_then(Value::as_object_mut);
    if let Some(entries) = entries {
        entries.insert(key.to_owned(), Value::String(value));
    }
}

/// How many kustomizations (bases and components) may be nested inside one
/// another. Real trees nest a handful deep; the bound keeps a deep chain of
/// directories from recursing until the worker's stack overflows.
pub const MAX_DEPTH: usize = 64;

/// Checks that the kustomization in `dir` may be entered from the chain
/// `stack` (the kustomizations being built, outermost first): it must not be
/// one of them or contain one (kustomize's cycle rule, applied to bases and
/// components alike) and the chain must stay within [`MAX_DEPTH`].
fn enter(dir: &Path, stack: &[PathBuf]) -> Result<(), Error> {
    if stack.iter().any(|parent| parent.starts_with(dir)) {
        return Err(Error::Cycle {
            dir: dir.to_path_buf(),
        });
    }
    if stack.len() >= MAX_DEPTH {
        return Err(Error::Invalid {
            file: dir.to_path_buf(),
            message: format!(
                "kustomizations are nested more than {MAX_DEPTH} deep (bases and components); flatten the tree"
            ),
        });
    }
    Ok(())
}

struct Builder {
    root: PathBuf,
    restrictor: LoadRestrictor,
    enable_helm: bool,
    /// The build's `openapi` setting (see [`SchemaState`]).
    schema: RefCell<SchemaState>,
    /// Whether origins and transformers are tracked (the kustomization
    /// built has `buildMetadata`).
    track: bool,
    /// The directories of the kustomizations being built, outermost first,
    /// as kustomize names them in origins: the directory built, then each
    /// entry joined to its parent's and cleaned lexically (a symlinked base
    /// keeps the name it was listed under).
    logical: RefCell<Vec<PathBuf>>,
}

/// The one built-in schema version kustomize v5.7.1 has.
const BUILTIN_OPENAPI_VERSION: &str = "v1.21.2";

/// The schema strategic merges read, as kustomize keeps it: one setting for
/// the whole build, given by the top kustomization's `openapi` if it has
/// one, else by the first base or component (in build order: resources in
/// their order, depth first, then components) whose `openapi` sets one.
/// Patches applied before that base or component is reached used the
/// built-in schema. Later settings are ignored, though their files are
/// still read.
///
/// kustomize reads the built-in schema lazily and adds a custom one over
/// whatever it has read already: a custom schema from a base or component
/// is layered over the built-in one when, before it was set, a strategic
/// merge ran, an object of a kind outside kyaml's precomputed scope table
/// was loaded (kustomize looks its scope up in the schema) or a plugin
/// configuration was loaded; else it is used alone.
#[derive(Debug, Default)]
struct SchemaState {
    setting: Setting,
    /// While nothing is set: whether kustomize has read its built-in schema.
    read_builtin: bool,
}

#[derive(Debug, Default)]
enum Setting {
    #[default]
    Unset,
    /// `version: v1.21.2`.
    Builtin,
    /// `path`: the parsed schema, and whether the built-in one lies under it.
    Custom {
        table: Rc<openapi::Table>,
        over: bool,
    },
}

/// What a list entry names (see [`Builder::entry`]), resolved and confined.
enum Entry {
    /// A kustomization directory.
    Dir(PathBuf),
    /// A file.
    File(PathBuf),
}

/// What kustomize does to every object on output: empty
/// `metadata.annotations` are dropped, and annotation values are strings
/// (read as the text written, see [`yaml::parse_objects`]; a value a JSON
/// patch set is written as JSON writes it, `null` as the empty string).
fn finish(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for value in annotations.values_mut() {
                let text = match &*value {
                    Value::String(_) | Value::Array(_) | Value::Object(_) => continue,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                *value = Value::String(text);
            }
        }
        if meta
            .get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
        {
            meta.remove("annotations");
        }
    }
    obj
}

impl Builder {
    /// The entry `entry` of the kustomization being built, as origins name
    /// it (see [`Builder::logical`]).
    fn logical_entry(&self, entry: &str) -> PathBuf {
        let logical = self.logical.borrow();
        clean(&logical.last().map_or_else(PathBuf::new, |d| d.join(entry)))
    }

    /// The kustomization file `file` being built, as origins name it.
    fn logical_file(&self, file: &Path) -> PathBuf {
        self.logical_entry(&file.file_name().unwrap_or_default().to_string_lossy())
    }

    /// Enters the kustomization directory listed as `entry` (see
    /// [`Builder::logical`]); [`Builder::leave_logical`] leaves it.
    fn enter_logical(&self, entry: &str) {
        let dir = self.logical_entry(entry);
        self.logical.borrow_mut().push(dir);
    }

    /// Leaves the directory [`Builder::enter_logical`] entered.
    fn leave_logical(&self) {
        self.logical.borrow_mut().pop();
    }

    /// Records that `transformer` ran over every object built so far, as
    /// kustomize does after each transformer while it tracks build
    /// metadata.
    fn record(&self, acc: &mut [Resource], transformer: &Arc<Transformation>) {
        if self.track {
            for res in acc {
                res.transformed_by(transformer);
            }
        }
    }

    /// Starts tracking build metadata on the objects of `acc` not tracked
    /// yet, as kustomize does on the objects it reads and generates.
    fn start_tracking(&self, file: &Path, acc: &mut [Resource]) -> Result<(), Error> {
        if !self.track {
            return Ok(());
        }
        if let Some(res) = acc.iter().find(|r| r.has_written_transformations()) {
            // kustomize reads such a list and adds to it (or fails on one it
            // cannot read); this builder does not.
            return Err(Error::Unsupported {
                file: file.to_path_buf(),
                fields: format!(
                    "buildMetadata over {}, written with its own {TRANSFORMATIONS_ANNOTATION} annotation (remove the annotation)",
                    res.id()
                ),
            });
        }
        acc.iter_mut().for_each(Resource::track);
        Ok(())
    }

    /// Resolves `path` (relative to the build root's filesystem) and checks
    /// it stays inside the root and, for files under `RootOnly`, inside
    /// `kustomization_dir`.
    fn confine(&self, path: &Path, kustomization_dir: Option<&Path>) -> Result<PathBuf, Error> {
        let real = path.canonicalize().map_err(|e| Error::io(path, &e))?;
        if !real.starts_with(&self.root) {
            return Err(Error::Escape {
                path: path.to_path_buf(),
                root: self.root.clone(),
            });
        }
        if let (Some(dir), LoadRestrictor::RootOnly) = (kustomization_dir, self.restrictor)
            && !real.starts_with(dir)
        {
            return Err(Error::Restricted {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
        Ok(real)
    }

    /// Reads a file a kustomization in `dir` names, confined like every
    /// other file.
    fn read(&self, dir: &Path, entry: &str) -> Result<Vec<u8>, Error> {
        let real = self.confine(&dir.join(entry), Some(dir))?;
        std::fs::read(&real).map_err(|e| Error::io(&real, &e))
    }

    /// Loads a patch from exactly one of `path` (confined like every file)
    /// and `inline`; `None` when both or neither are given.
    fn patch_text(
        &self,
        dir: &Path,
        path: Option<&str>,
        inline: Option<&str>,
    ) -> Result<Option<patch::Loaded>, Error> {
        match (path, inline.map(str::trim).filter(|p| !p.is_empty())) {
            (Some(path), None) => self.patch_file(dir, path).map(Some),
            (None, Some(inline)) => patch::load(inline).map(Some).map_err(|e| Error::Invalid {
                file: dir.to_path_buf(),
                message: e.to_string(),
            }),
            _ => Ok(None),
        }
    }

    /// Loads a patch file, confined like every file.
    fn patch_file(&self, dir: &Path, path: &str) -> Result<patch::Loaded, Error> {
        let bytes = self.read(dir, path)?;
        let invalid = |message: String| Error::Invalid {
            file: dir.join(path),
            message,
        };
        let text =
            String::from_utf8(bytes).map_err(|_| invalid("the patch is not UTF-8 text".into()))?;
        patch::load(&text).map_err(|e| invalid(e.to_string()))
    }

    /// Builds one kustomization (not a component) into a fresh accumulator.
    fn target(
        &self,
        dir: &Path,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(Vec<Resource>, Kustomization, Vec<Var>, config::Config), Error> {
        self.target_of(dir, stack, false)
    }

    /// [`Self::target`]; at the top of the build (`top`) a `Component` is
    /// built as a kustomization is, as kustomize does.
    fn target_of(
        &self,
        dir: &Path,
        stack: &mut Vec<PathBuf>,
        top: bool,
    ) -> Result<(Vec<Resource>, Kustomization, Vec<Var>, config::Config), Error> {
        enter(dir, stack)?;
        let (file, k) = Kustomization::load(dir)?;
        if k.is_component() && !top {
            return Err(Error::Invalid {
                file,
                message: "a Component cannot be used in resources; list it under components".into(),
            });
        }
        self.set_schema(dir, &file, &k, stack.is_empty())?;
        stack.push(dir.to_path_buf());
        let mut acc = Vec::new();
        let mut config = config::Config::default();
        let vars = self.accumulate(dir, &file, &k, &mut acc, &mut config, stack)?;
        stack.pop();
        Ok((acc, k, vars, config))
    }

    /// What a list entry (`resources`, `generators`, `transformers`) names:
    /// a directory to build as a kustomization, or a file to read, each
    /// confined as kustomize's load restrictor says.
    fn entry(&self, dir: &Path, file: &Path, entry: &str) -> Result<Entry, Error> {
        let path = dir.join(entry);
        let meta = std::fs::metadata(&path).map_err(|e| Error::Missing {
            file: file.to_path_buf(),
            entry: entry.to_owned(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            Ok(Entry::Dir(self.confine(&path, None)?))
        } else {
            Ok(Entry::File(self.confine(&path, Some(dir))?))
        }
    }

    /// The kustomization's `resources` (and `bases`): files read, and
    /// directories built as bases, whose configuration and variables join
    /// this one's. Returns the variables.
    fn resources(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        acc: &mut Vec<Resource>,
        config: &mut config::Config,
        stack: &mut Vec<PathBuf>,
    ) -> Result<Vec<Var>, Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message,
        };
        let mut vars = Vec::new();
        for entry in k.resources.iter().chain(&k.bases) {
            if entry.contains("://")
                || entry.starts_with("github.com/")
                || entry.starts_with("git@")
            {
                return Err(Error::Invalid {
                    file: file.to_path_buf(),
                    message: format!(
                        "resources entry '{entry}' is remote; remote bases are not allowed, vendor them into the repository"
                    ),
                });
            }
            match self.entry(dir, file, entry)? {
                Entry::Dir(real) => {
                    self.enter_logical(entry);
                    let built = self.target(&real, stack);
                    self.leave_logical();
                    let (objs, _, base_vars, base_config) = built?;
                    append(acc, objs, file)?;
                    config
                        .merge(&base_config)
                        .map_err(|e| invalid(e.to_string()))?;
                    merge_vars(&mut vars, base_vars, file)?;
                }
                Entry::File(real) => {
                    let origin = self.logical_entry(entry);
                    let objs = read_objects(&real)?;
                    self.loaded(&objs);
                    let objs = objs.into_iter().map(|obj| {
                        let mut res = Resource::new(obj);
                        res.origin = Some(Origin::File(origin.clone()));
                        res
                    });
                    append(acc, objs, &real)?;
                }
            }
        }
        Ok(vars)
    }

    fn accumulate(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        acc: &mut Vec<Resource>,
        config: &mut config::Config,
        stack: &mut Vec<PathBuf>,
    ) -> Result<Vec<Var>, Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message,
        };
        k.refuse_unsupported(file)?;
        let mut vars = self.resources(dir, file, k, acc, config, stack)?;
        config
            .merge(&self.configurations(dir, file, k)?)
            .map_err(|e| invalid(e.to_string()))?;
        config
            .merge(&self.crds_config(dir, k)?)
            .map_err(|e| invalid(format!("crds: {e}")))?;
        let read = |entry: &str| self.read(dir, entry);
        let logical_file = self.logical_file(file);
        for (kind, args) in k
            .config_map_generator
            .iter()
            .map(|a| (generator::Kind::ConfigMap, a))
            .chain(
                k.secret_generator
                    .iter()
                    .map(|a| (generator::Kind::Secret, a)),
            )
        {
            let configured = generator::Configured {
                file: &logical_file,
                name: None,
                namespace: None,
            };
            generator::generate(
                kind,
                args,
                k.generator_options.as_ref(),
                configured,
                &read,
                acc,
            )?;
        }
        self.helm_charts(dir, file, k, acc)?;
        // Plugin configurations (inline or in files) are loaded as objects
        // of kinds kustomize does not know by heart; the objects of
        // kustomization directories are noted as they are loaded.
        self.read_builtin(
            k.generators
                .iter()
                .chain(&k.transformers)
                .any(|entry| !dir.join(entry).is_dir()),
        );
        self.run_plugins(
            dir,
            file,
            plugin::Field::Generators,
            &k.generators,
            acc,
            stack,
        )?;
        // What this kustomization read and generated is tracked from here
        // (what its bases built already is).
        self.start_tracking(file, acc)?;
        for entry in &k.components {
            let path = self.confine(&dir.join(entry), None)?;
            enter(&path, stack)?;
            let (cfile, component) = Kustomization::load(&path)?;
            if !component.is_component() {
                return Err(Error::Invalid {
                    file: cfile,
                    message: "listed under components but its kind is not Component".into(),
                });
            }
            self.set_schema(&path, &cfile, &component, false)?;
            stack.push(path.clone());
            self.enter_logical(entry);
            let component_vars = self.accumulate(&path, &cfile, &component, acc, config, stack);
            self.leave_logical();
            let component_vars = component_vars?;
            stack.pop();
            *config = config.re_merged().map_err(|e| invalid(e.to_string()))?;
            merge_vars(&mut vars, component_vars, &cfile)?;
        }
        self.transform(dir, file, k, acc, config)?;
        self.run_plugins(
            dir,
            file,
            plugin::Field::Transformers,
            &k.transformers,
            acc,
            stack,
        )?;
        self.run_plugins(
            dir,
            file,
            plugin::Field::Validators,
            &k.validators,
            acc,
            stack,
        )?;
        // A variable is tied to its object here, in the kustomization that
        // declares it, and read at the top.
        let mut own = k.vars.clone();
        vars::bind(acc, &mut own).map_err(|message| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("vars: {message}"),
        })?;
        merge_vars(&mut vars, own, file)?;
        Ok(vars)
    }

    /// The field specs the kustomization's `crds` files add.
    fn crds_config(&self, dir: &Path, k: &Kustomization) -> Result<config::Config, Error> {
        let mut found = config::Config::default();
        for entry in &k.crds {
            let bytes = self.read(dir, entry)?;
            let invalid = |message: String| Error::Invalid {
                file: dir.join(entry),
                message: format!("crds: {message}"),
            };
            let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
            found
                .merge(&crds::load(&text).map_err(|e| invalid(e.to_string()))?)
                .map_err(|e| invalid(e.to_string()))?;
        }
        Ok(found)
    }

    /// This kustomization's transformers, in kustomize's fixed order.
    fn transform(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        acc: &mut Vec<Resource>,
        config: &config::Config,
    ) -> Result<(), Error> {
        // After each transformer, every object built so far records it,
        // whether or not it changed (kustomize's `transformerAnnotations`).
        let logical_file = self.logical_file(file);
        let ran = |acc: &mut [Resource], kind: &str| {
            self.record(acc, &Transformation::builtin(&logical_file, kind));
        };
        if !k.patches_strategic_merge.is_empty() {
            self.strategic_merge_patches(
                dir,
                file,
                &k.patches_strategic_merge,
                "patchesStrategicMerge",
                acc,
            )?;
            ran(acc, "PatchStrategicMergeTransformer");
        }
        for (i, entry) in k.patches.iter().enumerate() {
            self.apply_patch(dir, file, entry, &format!("patches[{i}]"), acc)?;
            ran(acc, "PatchTransformer");
        }
        if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
            for res in acc.iter_mut() {
                res.remember_id();
                apply_namespace(
                    &mut res.obj,
                    ns,
                    &config.namespace,
                    NamespaceMode::default(),
                );
            }
            check_unique(acc, file, "namespace transformation produces ID conflict")?;
            ran(acc, "NamespaceTransformer");
        }
        if let Some(prefix) = k.name_prefix.as_deref().filter(|p| !p.is_empty()) {
            rename(acc, prefix, true, &config.name_prefix).map_err(|message| Error::Invalid {
                file: file.to_path_buf(),
                message: format!("namePrefix: {message}"),
            })?;
            ran(acc, "PrefixTransformer");
        }
        if let Some(suffix) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
            rename(acc, suffix, false, &[]).map_err(|message| Error::Invalid {
                file: file.to_path_buf(),
                message,
            })?;
            ran(acc, "SuffixTransformer");
        }
        for entry in &k.labels {
            let mut specs: Vec<FieldSpec> = entry.fields.clone();
            if entry.include_selectors {
                specs.extend(config.common_labels.iter().cloned());
            } else if entry.include_templates {
                specs.extend(config.template_labels.iter().cloned());
            } else {
                specs.push(FieldSpec {
                    path: "metadata/labels".into(),
                    create: true,
                    ..FieldSpec::default()
                });
            }
            // The configuration's `labels` table serves every entry (not
            // `commonLabels`), as kubectl shows.
            specs.extend(config.labels.iter().cloned());
            apply_pairs(acc, &specs, &entry.pairs);
            ran(acc, "LabelTransformer");
        }
        if !k.common_labels.is_empty() {
            apply_pairs(acc, &config.common_labels, &k.common_labels);
        }
        // kustomize runs the commonLabels transformer, empty or not, as soon
        // as either labels field is set.
        if !k.common_labels.is_empty() || !k.labels.is_empty() {
            ran(acc, "LabelTransformer");
        }
        if !k.common_annotations.is_empty() {
            apply_pairs(acc, &config.common_annotations, &k.common_annotations);
            ran(acc, "AnnotationsTransformer");
        }
        for (i, entry) in k.patches_json6902.iter().enumerate() {
            self.json6902_patch(dir, file, entry, &format!("patchesJson6902[{i}]"), acc)?;
            ran(acc, "PatchJson6902Transformer");
        }
        for r in &k.replicas {
            crate::transform::replicas(acc, r, &config.replicas, file)?;
            ran(acc, "ReplicaCountTransformer");
        }
        for image in &k.images {
            crate::transform::images(acc, image, &config.images);
            ran(acc, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            let replacements = self.resolve_replacements(dir, file, &k.replacements)?;
            replacement::apply(acc, &replacements).map_err(|e| Error::Invalid {
                file: file.to_path_buf(),
                message: e.to_string(),
            })?;
            ran(acc, "ReplacementTransformer");
        }
        Ok(())
    }

    /// The kustomization's transformer configuration: kustomize's defaults
    /// with its `configurations` merged in, inline entries first, then the
    /// files (merged together first), as kustomize does.
    fn configurations(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
    ) -> Result<config::Config, Error> {
        let mut merged = config::Config::defaults()
            .re_merged()
            .map_err(|e| Error::Invalid {
                file: file.to_path_buf(),
                message: format!("configurations: {e}"),
            })?;
        let mut files = config::Config::default();
        for entry in &k.configurations {
            let inline = entry.contains('\n') || entry.contains('\r');
            let (at, text) = if inline {
                (file.to_path_buf(), entry.clone())
            } else {
                let bytes = self.read(dir, entry)?;
                let text = String::from_utf8(bytes).map_err(|_| Error::Invalid {
                    file: dir.join(entry),
                    message: "configurations: not UTF-8 text".into(),
                })?;
                (dir.join(entry), text)
            };
            let invalid = |e: config::Error| Error::Invalid {
                file: at.clone(),
                message: format!("configurations: {e}"),
            };
            let loaded = config::Config::load(&text).map_err(invalid)?;
            if inline {
                merged.merge(&loaded).map_err(invalid)?;
            } else {
                files.merge(&loaded).map_err(invalid)?;
            }
        }
        merged.merge(&files).map_err(|e| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("configurations: {e}"),
        })?;
        Ok(merged)
    }

    /// Replacements with `path` entries replaced by their files' entries.
    fn resolve_replacements(
        &self,
        dir: &Path,
        file: &Path,
        entries: &[Replacement],
    ) -> Result<Vec<Replacement>, Error> {
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let Some(path) = &entry.path else {
                out.push(entry.clone());
                continue;
            };
            if entry.source.is_some() || !entry.targets.is_empty() {
                return Err(Error::Invalid {
                    file: file.to_path_buf(),
                    message: format!(
                        "replacements[{i}]: give either path or source and targets, not both"
                    ),
                });
            }
            let bytes = self.read(dir, path)?;
            let invalid = |message: String| Error::Invalid {
                file: dir.join(path),
                message,
            };
            let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
            let docs = yaml::parse_documents(&yaml::normalise(&text)).map_err(|e| Error::Yaml {
                file: dir.join(path),
                source: e,
            })?;
            let doc = docs.into_iter().next().unwrap_or(Value::Null);
            out.extend(Replacement::from_value(&doc).map_err(|e| invalid(e.to_string()))?);
        }
        Ok(out)
    }

    /// Applies a kustomization's `openapi` as kustomize's `SetSchema` does
    /// (see [`SchemaState`]); `top` is the kustomization built.
    ///
    /// # Errors
    /// The schema file cannot be read (even when another setting wins, as
    /// kustomize reads it first), both `path` and `version`, an unknown
    /// version, a custom schema that is malformed or uses what this builder
    /// does not read.
    fn set_schema(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        top: bool,
    ) -> Result<(), Error> {
        let Some(field) = &k.openapi else {
            return Ok(());
        };
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("openapi: {message}"),
        };
        let text = match field.get("path") {
            Some(path) => Some(self.read_schema(dir, path)?),
            None => None,
        };
        let mut state = self.schema.borrow_mut();
        if !top && !matches!(state.setting, Setting::Unset) {
            return Ok(());
        }
        match (text, field.get("version").map(String::as_str)) {
            (Some(_), Some(_)) => Err(invalid(
                "builtin version and custom schema provided, cannot use both; keep path or version"
                    .into(),
            )),
            (Some((path, text)), None) => {
                let table = openapi::Table::parse_custom(&text).map_err(|e| match e {
                    openapi::Error::Invalid(message) => Error::Invalid {
                        file: path.clone(),
                        message: format!("openapi schema: {message}"),
                    },
                    openapi::Error::Unsupported(what) => Error::Unsupported {
                        file: file.to_path_buf(),
                        fields: format!("openapi: {what}"),
                    },
                })?;
                let over = !top && state.read_builtin;
                state.setting = Setting::Custom {
                    table: Rc::new(table),
                    over,
                };
                Ok(())
            }
            (None, None | Some("")) => Ok(()),
            (None, Some(BUILTIN_OPENAPI_VERSION)) => {
                state.setting = Setting::Builtin;
                Ok(())
            }
            (None, Some(version)) => Err(invalid(format!(
                "version '{version}': the specified OpenAPI version is not built in (kustomize v5.7.1 has only {BUILTIN_OPENAPI_VERSION}); remove it or set {BUILTIN_OPENAPI_VERSION}"
            ))),
        }
    }

    /// Reads a custom schema file, confined like every file and at most
    /// [`openapi::MAX_CUSTOM_SCHEMA_BYTES`] long.
    fn read_schema(&self, dir: &Path, entry: &str) -> Result<(PathBuf, String), Error> {
        let real = self.confine(&dir.join(entry), Some(dir))?;
        let invalid = |message: String| Error::Invalid {
            file: real.clone(),
            message: format!("openapi schema: {message}"),
        };
        let size = std::fs::metadata(&real)
            .map_err(|e| Error::io(&real, &e))?
            .len();
        if size > openapi::MAX_CUSTOM_SCHEMA_BYTES {
            return Err(invalid(format!(
                "the file is {size} bytes, more than the {} MiB a custom schema may have; keep only the definitions patches need",
                openapi::MAX_CUSTOM_SCHEMA_BYTES >> 20
            )));
        }
        let bytes = std::fs::read(&real).map_err(|e| Error::io(&real, &e))?;
        let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".into()))?;
        Ok((real, text))
    }

    /// Notes objects loaded while no schema is set: kustomize reads its
    /// built-in schema to learn the scope of every object it accumulates
    /// whose kind it does not know by heart (a targeted patch selecting
    /// nothing does not count).
    fn loaded(&self, objects: &[Value]) {
        self.read_builtin(objects.iter().any(|obj| {
            let (api_version, kind) = api_kind(obj);
            openapi::scope_reads_schema(&api_version, &kind)
        }));
    }

    /// Records that kustomize has read its built-in schema, if `read` and
    /// nothing is set yet.
    fn read_builtin(&self, read: bool) {
        let mut state = self.schema.borrow_mut();
        if read && matches!(state.setting, Setting::Unset) {
            state.read_builtin = true;
        }
    }

    /// Runs strategic merges (`merge` returns how many objects it merged)
    /// with the schema the build has at this point.
    ///
    /// # Errors
    /// The merge's error, as [`Error::Invalid`] naming `field`.
    fn strategic(
        &self,
        file: &Path,
        field: &str,
        merge: impl FnOnce(openapi::View<'_>) -> Result<usize, patch::Error>,
    ) -> Result<(), Error> {
        let table = match &self.schema.borrow().setting {
            Setting::Custom { table, over } => Some((Rc::clone(table), *over)),
            Setting::Unset | Setting::Builtin => None,
        };
        let view = match &table {
            None => openapi::View::Builtin,
            Some((table, false)) => openapi::View::Custom(table),
            Some((table, true)) => openapi::View::Layered(table),
        };
        let merged = merge(view).map_err(|e| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("{field}: {e}"),
        })?;
        self.read_builtin(merged > 0);
        Ok(())
    }

    /// Strategic-merge patches given as file paths or inline YAML (the
    /// entries of `field`).
    fn strategic_merge_patches(
        &self,
        dir: &Path,
        file: &Path,
        entries: &[String],
        field: &str,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let invalid = |field: &str, message: String| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("{field}: {message}"),
        };
        for (i, entry) in entries.iter().enumerate() {
            let field = format!("{field}[{i}]");
            // An entry is inline YAML when it parses as objects, else a path.
            let inline = yaml::parse_objects(entry)
                .ok()
                .filter(|d| !d.is_empty() && d.iter().all(Value::is_object));
            let docs = if let Some(docs) = inline {
                docs
            } else {
                match self.patch_file(dir, entry)? {
                    patch::Loaded::Strategic(docs) => docs,
                    patch::Loaded::Json(_) => {
                        return Err(invalid(
                            &field,
                            "is a JSON 6902 patch; list it under patches with a target".into(),
                        ));
                    }
                }
            };
            for doc in &docs {
                self.strategic(file, &field, |schema| {
                    patch::strategic_by_id(acc, doc, schema).map(|()| 1)
                })?;
            }
        }
        Ok(())
    }

    /// `patches` entries (the entries of `field`): strategic-merge or JSON
    /// 6902, by file or inline, with or without a target.
    fn apply_patches(
        &self,
        dir: &Path,
        file: &Path,
        entries: &[patch::Patch],
        field: &str,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        for (i, entry) in entries.iter().enumerate() {
            self.apply_patch(dir, file, entry, &format!("{field}[{i}]"), acc)?;
        }
        Ok(())
    }

    /// One `patches` entry (`field` names it in errors).
    fn apply_patch(
        &self,
        dir: &Path,
        file: &Path,
        entry: &patch::Patch,
        field: &str,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("{field}: {message}"),
        };
        let loaded = self
            .patch_text(dir, entry.path.as_deref(), entry.patch.as_deref())
            .and_then(|l| l.ok_or_else(|| invalid("needs exactly one of path and patch".into())))?;
        match (loaded, &entry.target) {
            (patch::Loaded::Strategic(docs), None) => {
                for doc in &docs {
                    self.strategic(file, field, |schema| {
                        patch::strategic_by_id(acc, doc, schema).map(|()| 1)
                    })?;
                }
            }
            (patch::Loaded::Strategic(docs), Some(target)) => {
                for doc in &docs {
                    self.strategic(file, field, |schema| {
                        patch::strategic_targeted(acc, doc, target, &entry.options, schema)
                    })?;
                }
            }
            (patch::Loaded::Json(ops), Some(target)) => {
                patch::json(acc, &ops, target, true).map_err(|e| invalid(e.to_string()))?;
            }
            (patch::Loaded::Json(_), None) => {
                return Err(invalid("a JSON 6902 patch needs a target".into()));
            }
        }
        Ok(())
    }

    /// JSON 6902 patches in the deprecated `patchesJson6902` form (the
    /// entries of `field`), which run after labels and annotations and,
    /// unlike `patches`, do not record renames.
    fn json6902_patches(
        &self,
        dir: &Path,
        file: &Path,
        entries: &[patch::Patch],
        field: &str,
        acc: &mut [Resource],
    ) -> Result<(), Error> {
        for (i, entry) in entries.iter().enumerate() {
            self.json6902_patch(dir, file, entry, &format!("{field}[{i}]"), acc)?;
        }
        Ok(())
    }

    /// One JSON 6902 patch in the deprecated form (`field` names it in
    /// errors).
    fn json6902_patch(
        &self,
        dir: &Path,
        file: &Path,
        entry: &patch::Patch,
        field: &str,
        acc: &mut [Resource],
    ) -> Result<(), Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("{field}: {message}"),
        };
        let Some(target) = entry.target.as_ref().filter(|t| !t.name.is_empty()) else {
            return Err(invalid("needs a target with a name".into()));
        };
        match self.patch_text(dir, entry.path.as_deref(), entry.patch.as_deref())? {
            Some(patch::Loaded::Json(ops)) => {
                patch::json(acc, &ops, target, false).map_err(|e| invalid(e.to_string()))?;
            }
            Some(patch::Loaded::Strategic(_)) => {
                return Err(invalid("is not a JSON 6902 operation list".into()));
            }
            None => return Err(invalid("needs exactly one of path and patch".into())),
        }
        Ok(())
    }
}

/// `namePrefix` (`prefix` true) or `nameSuffix`: every object but the kinds
/// kustomize skips (CRDs, `APIService`s, Namespaces) is renamed, and the
/// rename remembered for name references. The field specs select the kinds
/// and fields; the kustomization's `nameSuffix` gives none (every kind's
/// name), a `SuffixTransformer` plugin gives its own.
fn rename(
    acc: &mut [Resource],
    affix: &str,
    prefix: bool,
    name_prefix: &[FieldSpec],
) -> Result<(), String> {
    for res in acc.iter_mut() {
        let original = res.original_id();
        if TABLES
            .prefix_suffix_skip
            .iter()
            .any(|s| original.selected_by(s))
        {
            continue;
        }
        if affix.is_empty() {
            continue;
        }
        if prefix {
            let times = crds::prefix_fields(&mut res.obj, &original, name_prefix, affix)
                .map_err(|e| e.to_string())?;
            for _ in 0..times {
                res.remember_id();
                res.prefixes.push(affix.to_owned());
                let name = format!("{affix}{}", res.name());
                res.set_metadata("name", &name);
            }
        } else if name_prefix.is_empty() {
            res.remember_id();
            res.suffixes.push(affix.to_owned());
            let name = format!("{}{affix}", res.name());
            res.set_metadata("name", &name);
        } else {
            // A suffix plugin's own field specs: only the kinds they
            // select are renamed (once per `metadata/name` spec), as with
            // a prefix.
            let times = crds::affix_fields(&mut res.obj, &original, name_prefix, affix, false)
                .map_err(|e| e.to_string())?;
            for _ in 0..times {
                res.remember_id();
                res.suffixes.push(affix.to_owned());
                let name = format!("{}{affix}", res.name());
                res.set_metadata("name", &name);
            }
        }
    }
    Ok(())
}

fn apply_pairs(acc: &mut [Resource], specs: &[FieldSpec], pairs: &Map<String, Value>) {
    for res in acc.iter_mut() {
        let (api_version, kind) = api_kind(&res.obj);
        for spec in specs {
            if !spec.applies(&api_version, &kind) {
                continue;
            }
            spec.visit(&mut res.obj, &|| Value::Object(Map::new()), &mut |field| {
                if let Value::Object(map) = field {
                    for (k, v) in pairs {
                        map.insert(k.clone(), v.clone());
                    }
                }
            });
        }
    }
}

/// `path` cleaned lexically, as Go's `path.Join` does: `.` dropped, `..`
/// taking back the component before it.
fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(part),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// Which role-binding subjects the namespace transformer moves
/// (`setRoleBindingSubjects`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Subjects {
    /// Subjects named `default` (kustomize's default, `defaultOnly`).
    #[default]
    DefaultOnly,
    /// Every `ServiceAccount` subject (`allServiceAccounts`).
    AllServiceAccounts,
    /// None (`none`).
    None,
}

/// How the namespace transformer sets a field.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NamespaceMode {
    /// Only where the field is absent or empty (`unsetOnly`).
    pub(crate) unset_only: bool,
    /// Which role-binding subjects it moves.
    pub(crate) subjects: Subjects,
}

/// The namespace transformer on one object, as kustomize's: the object's
/// own `metadata/namespace` when its kind is namespaced, and role-binding
/// subjects as `mode` says, whatever `specs` say; then every spec of
/// `specs` that selects the object, set (or created, where the spec says
/// so) to `ns`, except `metadata/namespace` (done above) and
/// `metadata/name` of any apiVersion but `v1` (a Namespace of another
/// group keeps its name). With `unset_only`, only empty fields are set.
fn apply_namespace(obj: &mut Value, ns: &str, specs: &[FieldSpec], mode: NamespaceMode) {
    let set = |field: &mut Value| {
        let empty = match &*field {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if !mode.unset_only || empty {
            *field = Value::String(ns.to_owned());
        }
    };
    let (api_version, kind) = api_kind(obj);
    if !is_cluster_scoped(&api_version, &kind)
        && let Some(meta) = obj
            .as_object_mut()
            .map(|o| {
                o.entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()))
            })
            .and_then(Value::as_object_mut)
    {
        set(meta.entry("namespace").or_insert(Value::Null));
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut)
    {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let text = |key: &str| s.get(key).and_then(Value::as_str).map(str::to_owned);
            let moved = match mode.subjects {
                Subjects::DefaultOnly => text("name").as_deref() == Some("default"),
                Subjects::AllServiceAccounts => text("kind").as_deref() == Some("ServiceAccount"),
                Subjects::None => false,
            };
            if moved {
                set(s.entry("namespace").or_insert(Value::Null));
            }
        }
    }
    for spec in specs.iter().filter(|s| s.applies(&api_version, &kind)) {
        if spec.path == "metadata/namespace"
            || (spec.path == "metadata/name" && api_version != "v1")
        {
            continue;
        }
        spec.visit(obj, &|| Value::Null, &mut |field| set(field));
    }
}

fn check_unique(acc: &[Resource], file: &Path, what: &str) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for res in acc {
        let id = res.id();
        if seen.contains(&id) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: format!("{what}: {id}"),
            });
        }
        seen.insert(id);
    }
    Ok(())
}

/// Adds variables declared below, refusing a name declared twice.
fn merge_vars(vars: &mut Vec<Var>, more: Vec<Var>, file: &Path) -> Result<(), Error> {
    for var in more {
        if vars.iter().any(|v| v.name == var.name) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: format!("vars: var '{}' already encountered", var.name),
            });
        }
        vars.push(var);
    }
    Ok(())
}

/// Appends objects, refusing one whose id is already taken.
fn append(
    acc: &mut Vec<Resource>,
    objs: impl IntoIterator<Item = Resource>,
    file: &Path,
) -> Result<(), Error> {
    let mut taken: HashSet<Id> = acc.iter().map(Resource::id).collect();
    for res in objs {
        let id = res.id();
        if taken.contains(&id) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: format!("may not add resource with an already registered id: {id}"),
            });
        }
        taken.insert(id);
        acc.push(res);
    }
    Ok(())
}

/// The objects of one resource file, `List` kinds expanded.
fn read_objects(path: &Path) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
    objects_from_text(&text, path)
}

/// The objects of a YAML stream read from `path`, `List` kinds expanded.
fn objects_from_text(text: &str, path: &Path) -> Result<Vec<Value>, Error> {
    let docs = yaml::parse_objects(&yaml::normalise(text)).map_err(|e| Error::Yaml {
        file: path.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    for doc in docs {
        let Value::Object(map) = &doc else {
            return Err(Error::Invalid {
                file: path.to_path_buf(),
                message: "a document is not a mapping".into(),
            });
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() {
            return Err(Error::Invalid {
                file: path.to_path_buf(),
                message: "missing kind in an object".into(),
            });
        }
        if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
            if let Some(Value::Array(items)) = map.get("items") {
                for item in items {
                    require_name(item, path)?;
                }
                out.extend(items.iter().cloned());
            }
            continue;
        }
        require_name(&doc, path)?;
        out.push(doc);
    }
    Ok(out)
}

/// kustomize's resource check (`GetValidatedMetadata`): every object but a
/// `…List` has a `metadata.name`; a `generateName` alone is refused.
fn require_name(obj: &Value, path: &Path) -> Result<(), Error> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.ends_with("List") {
        return Ok(());
    }
    match obj.pointer("/metadata/name") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if name.is_empty() => {}
        Some(_) => return Ok(()),
    }
    Err(Error::Invalid {
        file: path.to_path_buf(),
        message: format!(
            "missing metadata.name in an object of kind '{kind}' (kustomize requires a name; generateName alone is not enough)"
        ),
    })
}
