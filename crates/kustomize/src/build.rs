//! The build: a kustomization directory into objects, in kustomize's order.
//!
//! Each kustomization is accumulated as kustomize does it: its `resources`
//! (files, and directories built completely as bases), then its
//! `components` (built into the same accumulator, their transformers over
//! everything so far), then its own transformers in kustomize's fixed order.
//! Fields not implemented yet are refused by name, never ignored.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::Error;
use crate::fieldspec::{FieldSpec, TABLES, group_version};
use crate::kustomization::Kustomization;
use crate::yaml;

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
    let builder = Builder {
        root,
        restrictor: options.load_restrictor,
    };
    let dir = builder.confine(dir, None)?;
    let mut stack = Vec::new();
    let (mut resources, kustomization) = builder.target(&dir, &mut stack)?;
    Builder::sort(&mut resources, &kustomization, &dir)?;
    Ok(resources.into_iter().map(finish).collect())
}

struct Builder {
    root: PathBuf,
    restrictor: LoadRestrictor,
}

/// What kustomize drops on output: empty `metadata.annotations`.
fn finish(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        && meta
            .get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
    {
        meta.remove("annotations");
    }
    obj
}

impl Builder {
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

    /// Builds one kustomization (not a component) into a fresh accumulator.
    fn target(
        &self,
        dir: &Path,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(Vec<Value>, Kustomization), Error> {
        for parent in stack.iter() {
            if parent.starts_with(dir) {
                return Err(Error::Cycle {
                    dir: dir.to_path_buf(),
                });
            }
        }
        let (file, k) = Kustomization::load(dir)?;
        if k.is_component() {
            return Err(Error::Invalid {
                file,
                message: "a Component cannot be used in resources; list it under components".into(),
            });
        }
        stack.push(dir.to_path_buf());
        let mut acc = Vec::new();
        self.accumulate(dir, &file, &k, &mut acc, stack)?;
        stack.pop();
        Ok((acc, k))
    }

    fn accumulate(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        acc: &mut Vec<Value>,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), Error> {
        k.refuse_unsupported(file)?;
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
            let path = dir.join(entry);
            let meta = std::fs::metadata(&path).map_err(|e| Error::Missing {
                file: file.to_path_buf(),
                entry: entry.clone(),
                reason: e.to_string(),
            })?;
            if meta.is_dir() {
                let real = self.confine(&path, None)?;
                let (objs, _) = self.target(&real, stack)?;
                for obj in objs {
                    add(acc, obj, file)?;
                }
            } else {
                let real = self.confine(&path, Some(dir))?;
                for obj in read_objects(&real)? {
                    add(acc, obj, &real)?;
                }
            }
        }
        for entry in &k.components {
            let path = self.confine(&dir.join(entry), None)?;
            let (cfile, component) = Kustomization::load(&path)?;
            if !component.is_component() {
                return Err(Error::Invalid {
                    file: cfile,
                    message: "listed under components but its kind is not Component".into(),
                });
            }
            self.accumulate(&path, &cfile, &component, acc, stack)?;
        }
        Self::transform(file, k, acc)
    }

    fn transform(file: &Path, k: &Kustomization, acc: &mut [Value]) -> Result<(), Error> {
        if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
            let moved: Vec<(String, String, String)> = acc
                .iter()
                .filter_map(|obj| {
                    let (_, kind, old_ns, name) = id_of(obj);
                    (kind == "ServiceAccount" || kind == "Service").then_some((kind, name, old_ns))
                })
                .collect();
            for obj in acc.iter_mut() {
                set_namespace(obj, ns);
            }
            for obj in acc.iter_mut() {
                follow_moved_references(obj, &moved, ns);
            }
            check_unique(acc, file, "namespace transformation produces ID conflict")?;
        }
        for entry in &k.labels {
            let mut specs: Vec<FieldSpec> = entry.fields.clone();
            if entry.include_selectors {
                specs.extend(TABLES.common_labels.iter().cloned());
            } else if entry.include_templates {
                specs.extend(TABLES.template_labels.iter().cloned());
            } else {
                specs.push(FieldSpec {
                    path: "metadata/labels".into(),
                    create: true,
                    ..FieldSpec::default()
                });
            }
            apply_pairs(acc, &specs, &entry.pairs);
        }
        if !k.common_labels.is_empty() {
            apply_pairs(acc, &TABLES.common_labels, &k.common_labels);
        }
        if !k.common_annotations.is_empty() {
            apply_pairs(acc, &TABLES.common_annotations, &k.common_annotations);
        }
        for r in &k.replicas {
            crate::transform::replicas(acc, r, file)?;
        }
        for image in &k.images {
            crate::transform::images(acc, image);
        }
        Ok(())
    }

    fn sort(acc: &mut [Value], k: &Kustomization, dir: &Path) -> Result<(), Error> {
        crate::transform::sort(acc, k.sort_options.as_ref()).map_err(|message| Error::Invalid {
            file: dir.to_path_buf(),
            message,
        })
    }
}

fn apply_pairs(acc: &mut [Value], specs: &[FieldSpec], pairs: &Map<String, Value>) {
    for obj in acc.iter_mut() {
        let (api_version, kind) = api_kind(obj);
        for spec in specs {
            if !spec.applies(&api_version, &kind) {
                continue;
            }
            spec.visit(obj, &|| Value::Object(Map::new()), &mut |field| {
                if let Value::Object(map) = field {
                    for (k, v) in pairs {
                        map.insert(k.clone(), v.clone());
                    }
                }
            });
        }
    }
}

/// `apiVersion` and `kind` of an object.
pub(crate) fn api_kind(obj: &Value) -> (String, String) {
    let text = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("apiVersion"), text("kind"))
}

fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    TABLES
        .cluster_scoped
        .iter()
        .any(|c| c.api_version == api_version && c.kind == kind)
}

fn set_namespace(obj: &mut Value, ns: &str) {
    let (api_version, kind) = api_kind(obj);
    if api_version == "v1" && kind == "Namespace" {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("name".into(), Value::String(ns.to_owned()));
        }
        return;
    }
    if is_cluster_scoped(&api_version, &kind) {
    } else if let Some(meta) = obj
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()))
        })
        .and_then(Value::as_object_mut)
    {
        meta.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding")
        && let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut)
    {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            if s.get("name").and_then(Value::as_str) == Some("default") {
                s.insert("namespace".into(), Value::String(ns.to_owned()));
            }
        }
    }
    if group_version(&api_version).0 == "apiregistration.k8s.io"
        && kind == "APIService"
        && let Some(service) = obj
            .pointer_mut("/spec/service")
            .and_then(Value::as_object_mut)
    {
        service.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    if kind == "CustomResourceDefinition"
        && let Some(service) = obj
            .pointer_mut("/spec/conversion/webhook/clientConfig/service")
            .and_then(Value::as_object_mut)
        && service.contains_key("namespace")
    {
        service.insert("namespace".into(), Value::String(ns.to_owned()));
    }
}

/// Name references that follow a namespace change: ServiceAccount subjects
/// of role bindings and the Services of webhook configurations, when the
/// referenced object is part of the build (`moved`: kind, name, namespace
/// before the change, `default` for none).
fn follow_moved_references(obj: &mut Value, moved: &[(String, String, String)], ns: &str) {
    let (_, kind) = api_kind(obj);
    let refers = |kind: &str, r: &Map<String, Value>| {
        let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut old = r
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if old.is_empty() {
            old = "default";
        }
        moved
            .iter()
            .any(|(k, n, o)| k == kind && n == name && o == old)
    };
    if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
        for s in obj
            .get_mut("subjects")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if s.get("kind").and_then(Value::as_str) == Some("ServiceAccount")
                && refers("ServiceAccount", s)
            {
                s.insert("namespace".into(), Value::String(ns.to_owned()));
            }
        }
    }
    if kind == "ValidatingWebhookConfiguration" || kind == "MutatingWebhookConfiguration" {
        for w in obj
            .get_mut("webhooks")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(service) = w
                .pointer_mut("/clientConfig/service")
                .and_then(Value::as_object_mut)
                && refers("Service", service)
            {
                service.insert("namespace".into(), Value::String(ns.to_owned()));
            }
        }
    }
}

/// A string field of `metadata`, empty when absent.
pub(crate) fn metadata_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// kustomize's id: group, kind, namespace (`default` for none) and name.
pub(crate) fn id_of(obj: &Value) -> (String, String, String, String) {
    let (api_version, kind) = api_kind(obj);
    let text = |k: &str| metadata_str(obj, k).to_owned();
    let mut ns = text("namespace");
    if ns.is_empty() {
        ns = "default".into();
    }
    (
        group_version(&api_version).0.to_owned(),
        kind,
        ns,
        text("name"),
    )
}

fn check_unique(acc: &[Value], file: &Path, what: &str) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for obj in acc {
        let id = id_of(obj);
        if !seen.insert(id.clone()) {
            return Err(Error::Invalid {
                file: file.to_path_buf(),
                message: format!("{what}: {} {} in namespace {}", id.1, id.3, id.2),
            });
        }
    }
    Ok(())
}

fn add(acc: &mut Vec<Value>, obj: Value, file: &Path) -> Result<(), Error> {
    let id = id_of(&obj);
    if acc.iter().any(|o| id_of(o) == id) {
        return Err(Error::Invalid {
            file: file.to_path_buf(),
            message: format!(
                "may not add resource with an already registered id: {} {} in namespace {}",
                id.1, id.3, id.2
            ),
        });
    }
    acc.push(obj);
    Ok(())
}

/// The objects of one resource file, `List` kinds expanded.
fn read_objects(path: &Path) -> Result<Vec<Value>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
    let docs = yaml::parse_documents(&yaml::normalise(&text)).map_err(|e| Error::Yaml {
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
                out.extend(items.iter().cloned());
            }
            continue;
        }
        out.push(doc);
    }
    Ok(out)
}
