//! kustomize's transformer configuration: which fields of which kinds each
//! built-in transformer touches (`namePrefix`, `namespace`, `commonLabels`,
//! `templateLabels`, `commonAnnotations`, `nameReference`, `varReference`,
//! `images`, `replicas`, ...), as one accumulation holds it (kustomize's
//! `TransformerConfig`), and the kustomization's `configurations` files that
//! extend it.
//!
//! It starts empty for each kustomization; the configuration of each base is
//! merged in as the base is accumulated, then [`Config::defaults`] with the
//! kustomization's `configurations` merged in, then its `crds` files (see
//! [`crate::crds`]); components share their parent's, which is
//! [`Config::re_merged`] after each of them. The transformers of the
//! kustomization, and the name references and variables at the top, use
//! what it holds then, defaults included.
//!
//! Merging is kustomize's, faults included: an incoming spec is dropped
//! when the list already holds one with the same path whose group, version
//! and kind it selects (empty fields select anything), and refused when
//! that one's `create` differs; the lists are then sorted by group, version
//! and kind. So a spec for every kind (`metadata/name`, `metadata/labels`)
//! is lost on a re-merge when a kind-specific one on the same path sorts
//! before it: a `crds` identity on `metadata/name` of kind `Thing` makes
//! the parent's `namePrefix` rename only `Thing` objects.
//!
//! A `configurations` entry is a file path, or the configuration itself
//! when it spans several lines, as in kustomize. Its keys are those of
//! `TransformerConfig`; unknown keys are ignored, as kustomize's decoder
//! ignores them. `labels` serves every `labels` entry (not `commonLabels`).
//! `nameSuffix` is read and merged but, as in kustomize v5.7.1, no
//! transformer reads it (`nameSuffix` renames the fields of `namePrefix`).

use std::sync::LazyLock;

use serde::Deserialize;

use crate::fieldspec::{FieldSpec, NameReference, TABLES};
use crate::yaml;

static DEFAULTS: LazyLock<Config> = LazyLock::new(Config::load_defaults);

/// Why a configuration could not be read or merged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two field specs on the same path, the incoming one selecting the one
    /// held, that differ in `create`.
    #[error(
        "conflicting fieldspecs: {held} (create: {held_create}) and {incoming} (create: {incoming_create}), refused as by kustomize; remove one of them from the crds or configurations file"
    )]
    Conflict {
        /// The spec held, described (`kind Thing, spec/name`).
        held: String,
        /// Whether it creates its field.
        held_create: bool,
        /// The incoming spec, described.
        incoming: String,
        /// Whether it creates its field.
        incoming_create: bool,
    },
    /// A conflict in one table of the configuration.
    #[error("{table}: {source}")]
    Table {
        /// The table (`namePrefix`, `nameReference to kind Secret`).
        table: String,
        /// The conflict.
        #[source]
        source: Box<Error>,
    },
    /// A `configurations` file that is not a transformer configuration.
    #[error("not a transformer configuration: {0}")]
    Invalid(String),
}

impl Error {
    fn in_table(table: impl Into<String>) -> impl FnOnce(Self) -> Self {
        let table = table.into();
        move |source| Self::Table {
            table,
            source: Box::new(source),
        }
    }
}

/// kustomize's transformer configuration (see the module's documentation).
#[derive(Debug, Default)]
pub struct Config {
    /// `namePrefix` and `nameSuffix` fields: `metadata/name` and
    /// `x-kubernetes-identity` fields; see [`crate::crds::prefix_fields`].
    pub name_prefix: Vec<FieldSpec>,
    /// The `nameSuffix` table: merged, never read (as in kustomize).
    pub name_suffix: Vec<FieldSpec>,
    /// `namespace` fields beyond `metadata/namespace`.
    pub namespace: Vec<FieldSpec>,
    /// `commonLabels` fields, also used by `labels` with `includeSelectors`.
    pub common_labels: Vec<FieldSpec>,
    /// Fields every `labels` entry sets, beyond its own.
    pub labels: Vec<FieldSpec>,
    /// Fields of `labels` entries with `includeTemplates`.
    pub template_labels: Vec<FieldSpec>,
    /// `commonAnnotations` fields.
    pub common_annotations: Vec<FieldSpec>,
    /// `nameReference` entries.
    pub name_references: Vec<NameReference>,
    /// Fields in which `$(VAR)` references are expanded.
    pub var_reference: Vec<FieldSpec>,
    /// Fields holding images.
    pub images: Vec<FieldSpec>,
    /// Fields holding replica counts.
    pub replicas: Vec<FieldSpec>,
}

/// A `configurations` file as written: `TransformerConfig`'s keys, with
/// each `nameReference` entry's referrers under `fieldSpecs`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct File {
    name_prefix: Vec<FieldSpec>,
    name_suffix: Vec<FieldSpec>,
    namespace: Vec<FieldSpec>,
    common_labels: Vec<FieldSpec>,
    labels: Vec<FieldSpec>,
    template_labels: Vec<FieldSpec>,
    common_annotations: Vec<FieldSpec>,
    name_reference: Vec<FileNameReference>,
    var_reference: Vec<FieldSpec>,
    images: Vec<FieldSpec>,
    replicas: Vec<FieldSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FileNameReference {
    group: String,
    version: String,
    kind: String,
    field_specs: Vec<FieldSpec>,
}

impl Config {
    /// kustomize's default configuration (`data/fieldspecs.yaml`), sorted.
    #[must_use]
    pub fn defaults() -> &'static Self {
        &DEFAULTS
    }

    fn load_defaults() -> Self {
        let mut config = Self {
            name_prefix: TABLES.name_prefix.clone(),
            name_suffix: TABLES.name_suffix.clone(),
            namespace: TABLES.namespace.clone(),
            common_labels: TABLES.common_labels.clone(),
            labels: Vec::new(),
            template_labels: TABLES.template_labels.clone(),
            common_annotations: TABLES.common_annotations.clone(),
            name_references: TABLES.name_reference.iter().map(copy).collect(),
            var_reference: TABLES.var_reference.clone(),
            images: TABLES.images.clone(),
            replicas: TABLES.replicas.clone(),
        };
        config.sort();
        config
    }

    /// Reads one `configurations` entry's text (a file's, or the entry
    /// itself) into the configuration it adds, without the defaults.
    ///
    /// # Errors
    /// [`Error::Invalid`] for YAML that is not a transformer configuration;
    /// [`Error::Table`] for field specs in it that conflict with each other.
    pub fn load(text: &str) -> Result<Self, Error> {
        let docs = yaml::parse_documents(&yaml::normalise(text))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let doc = docs.into_iter().next().unwrap_or_default();
        let file: File = if doc.is_null() {
            File::default()
        } else {
            serde_json::from_value(doc).map_err(|e| Error::Invalid(e.to_string()))?
        };
        let incoming = Self {
            name_prefix: file.name_prefix,
            name_suffix: file.name_suffix,
            namespace: file.namespace,
            common_labels: file.common_labels,
            labels: file.labels,
            template_labels: file.template_labels,
            common_annotations: file.common_annotations,
            name_references: file
                .name_reference
                .into_iter()
                .map(|entry| NameReference {
                    target: FieldSpec {
                        group: entry.group,
                        version: entry.version,
                        kind: entry.kind,
                        ..FieldSpec::default()
                    },
                    referrers: entry.field_specs,
                })
                .collect(),
            var_reference: file.var_reference,
            images: file.images,
            replicas: file.replicas,
        };
        // Within one file, specs merge as they do between files.
        incoming.re_merged()
    }

    /// Merges `other` in as kustomize does (see the module's documentation).
    ///
    /// # Errors
    /// [`Error::Table`] for conflicting field specs: an incoming spec and one
    /// already held on the same path, the incoming one selecting it, that
    /// differ in `create`.
    pub fn merge(&mut self, other: &Self) -> Result<(), Error> {
        // kustomize's order, which decides the error reported first.
        for (table, mine, theirs) in [
            ("namePrefix", &mut self.name_prefix, &other.name_prefix),
            ("nameSuffix", &mut self.name_suffix, &other.name_suffix),
            ("namespace", &mut self.namespace, &other.namespace),
            (
                "commonAnnotations",
                &mut self.common_annotations,
                &other.common_annotations,
            ),
            (
                "commonLabels",
                &mut self.common_labels,
                &other.common_labels,
            ),
            ("labels", &mut self.labels, &other.labels),
            (
                "templateLabels",
                &mut self.template_labels,
                &other.template_labels,
            ),
            (
                "varReference",
                &mut self.var_reference,
                &other.var_reference,
            ),
        ] {
            for spec in theirs {
                merge_one(mine, spec).map_err(Error::in_table(table))?;
            }
        }
        for backref in &other.name_references {
            merge_name_reference(&mut self.name_references, backref)?;
        }
        for (table, mine, theirs) in [
            ("images", &mut self.images, &other.images),
            ("replicas", &mut self.replicas, &other.replicas),
        ] {
            for spec in theirs {
                merge_one(mine, spec).map_err(Error::in_table(table))?;
            }
        }
        self.sort();
        Ok(())
    }

    /// The configuration merged into an empty one, as kustomize does when a
    /// base is accumulated into its parent or after each component.
    ///
    /// # Errors
    /// As [`Config::merge`].
    pub fn re_merged(&self) -> Result<Self, Error> {
        let mut fresh = Self::default();
        fresh.merge(self)?;
        Ok(fresh)
    }

    fn sort(&mut self) {
        for specs in [
            &mut self.name_prefix,
            &mut self.name_suffix,
            &mut self.namespace,
            &mut self.common_labels,
            &mut self.labels,
            &mut self.template_labels,
            &mut self.common_annotations,
            &mut self.var_reference,
            &mut self.images,
            &mut self.replicas,
        ] {
            specs.sort_by_cached_key(sort_key);
        }
        // Each entry's referrers keep their merge order, as in kustomize.
        self.name_references
            .sort_by_cached_key(|b| sort_key(&b.target));
    }
}

fn copy(backref: &NameReference) -> NameReference {
    NameReference {
        target: backref.target.clone(),
        referrers: backref.referrers.clone(),
    }
}

/// kustomize's `MergeOne`.
pub(crate) fn merge_one(specs: &mut Vec<FieldSpec>, spec: &FieldSpec) -> Result<(), Error> {
    match specs
        .iter()
        .find(|held| held.path == spec.path && selects(spec, held))
    {
        Some(held) if held.create != spec.create => Err(Error::Conflict {
            held: describe_spec(held),
            held_create: held.create,
            incoming: describe_spec(spec),
            incoming_create: spec.create,
        }),
        Some(_) => Ok(()),
        None => {
            specs.push(spec.clone());
            Ok(())
        }
    }
}

pub(crate) fn merge_name_reference(
    list: &mut Vec<NameReference>,
    backref: &NameReference,
) -> Result<(), Error> {
    let target = &backref.target;
    let held = list.iter_mut().find(|b| {
        b.target.group == target.group
            && b.target.version == target.version
            && b.target.kind == target.kind
    });
    match held {
        Some(held) => {
            for referrer in &backref.referrers {
                merge_one(&mut held.referrers, referrer).map_err(Error::in_table(format!(
                    "nameReference to {}",
                    describe_spec(target)
                )))?;
            }
        }
        None => list.push(copy(backref)),
    }
    Ok(())
}

/// Whether `selector`'s group, version and kind (empty = any) select
/// `spec`'s.
fn selects(selector: &FieldSpec, spec: &FieldSpec) -> bool {
    (selector.group.is_empty() || selector.group == spec.group)
        && (selector.version.is_empty() || selector.version == spec.version)
        && (selector.kind.is_empty() || selector.kind == spec.kind)
}

/// kustomize's order of group-version-kinds: kinds of the legacy output
/// order's first list (in its order), then the others, then those of its
/// last list; then `group_version_kind` text, `~G`, `~V`, `~K` standing for
/// empty fields.
fn sort_key(spec: &FieldSpec) -> ((u8, usize), String) {
    let order = &TABLES.legacy_sort_order;
    let rank = if let Some(i) = order.order_first.iter().position(|k| *k == spec.kind) {
        (0, i)
    } else if let Some(i) = order.order_last.iter().position(|k| *k == spec.kind) {
        (2, i)
    } else {
        (1, 0)
    };
    let or = |field: &str, empty: &'static str| {
        if field.is_empty() {
            empty.to_owned()
        } else {
            field.to_owned()
        }
    };
    (
        rank,
        format!(
            "{}_{}_{}",
            or(&spec.group, "~G"),
            or(&spec.version, "~V"),
            or(&spec.kind, "~K")
        ),
    )
}

fn describe_spec(spec: &FieldSpec) -> String {
    let mut parts = Vec::new();
    for (name, value) in [
        ("group", &spec.group),
        ("version", &spec.version),
        ("kind", &spec.kind),
    ] {
        if !value.is_empty() {
            parts.push(format!("{name} {value}"));
        }
    }
    if parts.is_empty() {
        parts.push("any kind".into());
    }
    if !spec.path.is_empty() {
        parts.push(spec.path.clone());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests;
