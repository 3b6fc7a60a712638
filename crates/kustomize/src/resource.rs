//! An object being built and what kustomize remembers about it: the ids it
//! had before transformers renamed or moved it, the name prefixes and
//! suffixes applied to it, whether a generator asked for a hash suffix, and
//! where it came from and which transformers ran over it (for
//! `buildMetadata`).
//!
//! kustomize keeps this history in internal annotations; here it is a
//! struct beside the object, so it can never leak into the output. Only
//! the build-metadata annotations ([`ORIGIN_ANNOTATION`],
//! [`TRANSFORMATIONS_ANNOTATION`]) sit in the object while it is built, as
//! empty placeholders, when the build tracks them: a transformer that
//! removes them then has the effect it has in kustomize. They are written
//! or removed at the end.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::fieldspec::{FieldSpec, group_version};

/// kustomize's resource id: group, version, kind, namespace and name. The
/// namespace is the effective one: no namespace is `default`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Id {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, `default` when the object has none.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Id {
    /// The id of an object as it is now.
    #[must_use]
    pub fn of(obj: &Value) -> Self {
        let (api_version, kind) = api_kind(obj);
        let (group, version) = group_version(&api_version);
        let mut namespace = metadata_str(obj, "namespace").to_owned();
        if namespace.is_empty() {
            namespace = "default".into();
        }
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind,
            namespace,
            name: metadata_str(obj, "name").to_owned(),
        }
    }

    /// Whether `spec`'s group, version and kind (each empty = any) select
    /// this id.
    #[must_use]
    pub fn selected_by(&self, spec: &FieldSpec) -> bool {
        (spec.group.is_empty() || spec.group == self.group)
            && (spec.version.is_empty() || spec.version == self.version)
            && (spec.kind.is_empty() || spec.kind == self.kind)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let api_version = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        write!(
            f,
            "{} {} ({api_version}) in namespace {}",
            self.kind, self.name, self.namespace
        )
    }
}

/// The annotation kustomize keeps an object's origin in
/// (`buildMetadata: [originAnnotations]`).
pub const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";

/// The annotation kustomize keeps the transformers that ran over an object
/// in (`buildMetadata: [transformerAnnotations]`).
pub const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";

/// An object and its build history.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The object.
    pub obj: Value,
    /// The ids it had before each rename or namespace change, oldest first.
    pub previous: Vec<Id>,
    /// Name prefixes applied, innermost kustomization first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost kustomization first.
    pub suffixes: Vec<String>,
    /// A generated ConfigMap or Secret whose name gets the content hash.
    pub needs_hash: bool,
    /// Where the object came from, for `buildMetadata: [originAnnotations]`.
    pub origin: Option<Origin>,
    /// Every transformer that ran over the object, in the order they ran,
    /// for `buildMetadata: [transformerAnnotations]`.
    pub transformations: Vec<Arc<Transformation>>,
}

/// A transformer that ran over objects, as kustomize records it in
/// `alpha.config.kubernetes.io/transformations`.
///
/// kustomize records every transformer over every object in the
/// accumulator when it ran, whether or not it changed the object: one per
/// `patches`, `patchesJson6902`, `replicas` and `images` entry, one for all
/// of `patchesStrategicMerge`, one each for a non-empty `namespace`,
/// `namePrefix`, `nameSuffix`, `commonAnnotations` and `replacements`, one
/// per `labels` entry plus one for `commonLabels` when either is set, and
/// one per configuration of `transformers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transformation {
    /// The file that configured it: the kustomization for its own fields
    /// and inline `transformers` entries, else the file holding the
    /// configuration.
    pub configured_in: PathBuf,
    /// The built-in plugin's kind (`PatchTransformer`, `PrefixTransformer`,
    /// ...).
    pub kind: String,
    /// A `transformers` configuration's `metadata.name`.
    pub name: Option<String>,
    /// A `transformers` configuration's `metadata.namespace`.
    pub namespace: Option<String>,
}

impl Transformation {
    /// A transformer configured by a field of the kustomization `file`.
    #[must_use]
    pub fn builtin(file: &Path, kind: &str) -> Arc<Self> {
        Arc::new(Self {
            configured_in: file.to_path_buf(),
            kind: kind.to_owned(),
            name: None,
            namespace: None,
        })
    }

    /// The `alpha.config.kubernetes.io/transformations` annotation kustomize
    /// writes for `list` (a YAML sequence, paths relative to `top`, the
    /// directory of the kustomization built).
    #[must_use]
    pub fn annotation(list: &[Arc<Self>], top: &Path) -> String {
        list.iter().map(|t| t.lines(top, "- ")).collect()
    }

    /// The transformer as a YAML mapping (as kustomize's origin writes
    /// it), its first line starting with `first` (`- ` in a sequence) and
    /// the others indented to match.
    fn lines(&self, top: &Path, first: &str) -> String {
        configured_by(
            &self.configured_in,
            &self.kind,
            [&self.name, &self.namespace],
            top,
            first,
        )
    }
}

/// Where an object came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from this file.
    File(PathBuf),
    /// Made by a generator of this kustomization file.
    Generator {
        /// The file that configured the generator: the kustomization, or
        /// the file holding a `generators` entry's configuration.
        kustomization: PathBuf,
        /// `ConfigMapGenerator`, `SecretGenerator` or `IAMPolicyGenerator`.
        kind: &'static str,
        /// The configuration's `metadata.name`, for a `generators` entry.
        name: Option<String>,
        /// The configuration's `metadata.namespace`, for a `generators`
        /// entry.
        namespace: Option<String>,
    },
    /// A transformer that ran over the object when it had no origin: one
    /// whose annotations a transformer removed (kustomize keeps an
    /// object's origin in its annotations while it builds).
    Transformer(Arc<Transformation>),
}

impl Origin {
    /// The `config.kubernetes.io/origin` annotation kustomize writes, paths
    /// relative to `top` (the directory of the kustomization built).
    #[must_use]
    pub fn annotation(&self, top: &Path) -> String {
        match self {
            Self::File(path) => format!("path: {}\n", scalar(&relative(path, top))),
            Self::Generator {
                kustomization,
                kind,
                name,
                namespace,
            } => configured_by(kustomization, kind, [name, namespace], top, ""),
            Self::Transformer(t) => t.lines(top, ""),
        }
    }
}

/// A built-in plugin's origin as kustomize writes it (a YAML mapping):
/// `configuredIn` relative to `top`, `configuredBy` its kind and its
/// configuration's `[name, namespace]`. The first line starts with `first`
/// (`- ` in a sequence), the others are indented to match.
fn configured_by(
    configured_in: &Path,
    kind: &str,
    [name, namespace]: [&Option<String>; 2],
    top: &Path,
    first: &str,
) -> String {
    let pad = " ".repeat(first.len());
    let identity: String = [("name", name), ("namespace", namespace)]
        .into_iter()
        .filter_map(|(key, value)| {
            let value = value.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{pad}  {key}: {}\n", scalar(value)))
        })
        .collect();
    format!(
        "{first}configuredIn: {}\n{pad}configuredBy:\n{pad}  apiVersion: builtin\n{pad}  kind: {}\n{identity}",
        scalar(&relative(configured_in, top)),
        scalar(kind)
    )
}

/// `text` as a YAML scalar, quoted where YAML needs it, as kustomize's
/// writer does.
fn scalar(text: &str) -> String {
    crate::yaml::to_yaml(&Value::String(text.to_owned()))
        .trim_end()
        .to_owned()
}

/// `path` relative to `base`, with `..` where it lies outside.
fn relative(path: &Path, base: &Path) -> String {
    let path: Vec<Component<'_>> = path.components().collect();
    let base: Vec<Component<'_>> = base.components().collect();
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - shared];
    parts.extend(
        path[shared..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

impl Resource {
    /// An object with no history.
    #[must_use]
    pub fn new(obj: Value) -> Self {
        Self {
            obj,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            origin: None,
            transformations: Vec::new(),
        }
    }

    /// The id now.
    #[must_use]
    pub fn id(&self) -> Id {
        Id::of(&self.obj)
    }

    /// The id it was read or generated with.
    #[must_use]
    pub fn original_id(&self) -> Id {
        self.previous.first().cloned().unwrap_or_else(|| self.id())
    }

    /// Whether `pred` holds for the current id or any earlier one.
    pub fn any_id(&self, pred: impl Fn(&Id) -> bool) -> bool {
        pred(&self.id()) || self.previous.iter().any(pred)
    }

    /// Marks the object as tracked for `buildMetadata`, as kustomize does
    /// when it reads or generates an object: the origin annotation is set
    /// (to a placeholder; [`Origin::annotation`] is written at the end).
    pub fn track(&mut self) {
        if !self.has_annotation(ORIGIN_ANNOTATION) {
            self.set_annotation(ORIGIN_ANNOTATION);
        }
    }

    /// Records that `transformer` ran over a tracked object, as kustomize
    /// does while it tracks build metadata in the object's annotations: a
    /// transformer that removed them removed the record so far, and an
    /// object left with no origin takes the transformer as its origin
    /// instead of a transformation.
    pub fn transformed_by(&mut self, transformer: &Arc<Transformation>) {
        if !self.has_annotation(TRANSFORMATIONS_ANNOTATION) {
            self.transformations.clear();
        }
        if self.has_annotation(ORIGIN_ANNOTATION) {
            self.transformations.push(Arc::clone(transformer));
            self.set_annotation(TRANSFORMATIONS_ANNOTATION);
        } else {
            self.origin = Some(Origin::Transformer(Arc::clone(transformer)));
            self.set_annotation(ORIGIN_ANNOTATION);
        }
    }

    /// Whether the object carries an `alpha.config.kubernetes.io/transformations`
    /// annotation of its own (the placeholder [`Resource::transformed_by`]
    /// sets is empty).
    #[must_use]
    pub fn has_written_transformations(&self) -> bool {
        self.obj
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(TRANSFORMATIONS_ANNOTATION))
            .is_some_and(|v| v.as_str().is_none_or(|s| !s.is_empty()))
    }

    fn has_annotation(&self, key: &str) -> bool {
        self.obj
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| a.contains_key(key))
    }

    /// Sets annotation `key` to a placeholder if it is not there, creating
    /// the maps.
    fn set_annotation(&mut self, key: &str) {
        let Some(obj) = self.obj.as_object_mut() else {
            return;
        };
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(meta) = meta.as_object_mut() else {
            return;
        };
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if annotations.is_null() {
            *annotations = Value::Object(Map::new());
        }
        if let Some(annotations) = annotations.as_object_mut() {
            annotations
                .entry(key)
                .or_insert_with(|| Value::String(String::new()));
        }
    }

    /// Records the current id before a transformer changes it.
    pub fn remember_id(&mut self) {
        let id = self.id();
        self.previous.push(id);
    }

    /// The current name.
    #[must_use]
    pub fn name(&self) -> &str {
        metadata_str(&self.obj, "name")
    }

    /// The current namespace as written (empty when none).
    #[must_use]
    pub fn namespace(&self) -> &str {
        metadata_str(&self.obj, "namespace")
    }

    /// Sets a `metadata` string field, creating `metadata` if needed.
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        if let Some(meta) = self
            .obj
            .as_object_mut()
            .map(|o| {
                o.entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()))
            })
            .and_then(Value::as_object_mut)
        {
            meta.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }

    /// Whether the object is cluster-scoped, by kustomize's table.
    #[must_use]
    pub fn is_cluster_scoped(&self) -> bool {
        let (api_version, kind) = api_kind(&self.obj);
        is_cluster_scoped(&api_version, &kind)
    }
}

/// `apiVersion` and `kind` of an object.
#[must_use]
pub fn api_kind(obj: &Value) -> (String, String) {
    let text = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("apiVersion"), text("kind"))
}

/// A string field of `metadata`, empty when absent.
#[must_use]
pub fn metadata_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether kustomize treats this exact `(apiVersion, kind)` as
/// cluster-scoped (kyaml's table; anything unknown is namespaced).
#[must_use]
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    crate::fieldspec::TABLES
        .cluster_scoped
        .iter()
        .any(|c| c.api_version == api_version && c.kind == kind)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use serde_json::json;

    use super::{Origin, Resource, Transformation};

    fn object() -> Resource {
        let mut res = Resource::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
        );
        res.origin = Some(Origin::File("/top/cm.yaml".into()));
        res.track();
        res
    }

    #[test]
    fn transformers_are_recorded_in_the_order_they_ran() {
        let mut res = object();
        let prefix = Transformation::builtin(
            Path::new("/top/base/kustomization.yaml"),
            "PrefixTransformer",
        );
        let labels =
            Transformation::builtin(Path::new("/top/kustomization.yaml"), "LabelTransformer");
        res.transformed_by(&prefix);
        res.transformed_by(&labels);
        assert_eq!(
            Transformation::annotation(&res.transformations, Path::new("/top")),
            "- configuredIn: base/kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n\
             - configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: LabelTransformer\n"
        );
        assert!(
            !res.has_written_transformations(),
            "the placeholder is not the object's own"
        );
    }

    #[test]
    fn removed_annotations_make_the_next_transformer_the_origin() {
        let mut res = object();
        let first =
            Transformation::builtin(Path::new("/top/kustomization.yaml"), "PatchTransformer");
        res.transformed_by(&first);
        res.obj["metadata"]
            .as_object_mut()
            .map(|m| m.remove("annotations"));
        let second =
            Transformation::builtin(Path::new("/top/kustomization.yaml"), "SuffixTransformer");
        res.transformed_by(&second);
        assert!(res.transformations.is_empty());
        assert_eq!(res.origin, Some(Origin::Transformer(Arc::clone(&second))));
        assert_eq!(
            res.origin.as_ref().map(|o| o.annotation(Path::new("/top"))),
            Some("configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: SuffixTransformer\n".to_owned())
        );
        res.transformed_by(&first);
        assert_eq!(res.transformations, vec![first]);
    }

    #[test]
    fn a_plugin_is_named_as_yaml_writes_it() {
        let plugin = Arc::new(Transformation {
            configured_in: "/top/plugins/t.yaml".into(),
            kind: "NamespaceTransformer".into(),
            name: Some("true".into()),
            namespace: Some("team-a".into()),
        });
        assert_eq!(
            Transformation::annotation(&[plugin], Path::new("/top/overlay")),
            "- configuredIn: ../plugins/t.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: NamespaceTransformer\n    name: \"true\"\n    namespace: team-a\n"
        );
    }

    #[test]
    fn an_object_written_with_its_own_transformations_is_told_apart() {
        let mut res = Resource::new(json!({"metadata": {"annotations": {
            "alpha.config.kubernetes.io/transformations": "- configuredIn: x.yaml\n"
        }}}));
        assert!(res.has_written_transformations());
        res.obj["metadata"]["annotations"]["alpha.config.kubernetes.io/transformations"] =
            json!("");
        assert!(!res.has_written_transformations());
    }
}
