//! Helm charts in a kustomization (`helmCharts`, and the
//! `HelmChartInflationGenerator` plugin), inflated with Ferroflux's own
//! Helm renderer (`ferroflux-helm`) instead of a `helm` binary.
//!
//! Only with [`Options::enable_helm`](super::Options), as kustomize only
//! with `--enable-helm`. The chart must already be in the kustomization's
//! tree, where kustomize looks before pulling: `<chartHome>/<name>`
//! (`chartHome` defaults to `charts`), or `<chartHome>/<name>-<version>/<name>`
//! when both `repo` and `version` are given. Charts are never pulled from
//! a repository: a missing chart is refused by name, so is an empty
//! `releaseName` (helm would make up a random name on every build) and
//! `nameTemplate`.
//!
//! Values as kustomize hands them to `helm template`: the values file
//! (`valuesFile`, by default the chart's `values.yaml`, which must exist)
//! as is, or, when `valuesInline` is given, the two merged as `valuesMerge`
//! says (`override`, the default: inline wins; `merge`: the file wins;
//! `replace`: inline alone), then every `additionalValuesFiles` entry.
//! kustomize merges with kyaml's merge, which merges lists of mappings by
//! key and drops fields set to `null`; those two cases are refused by name
//! rather than merged differently. The documents are `helm template`'s
//! (`includeCRDs`, `skipHooks`, `skipTests`, `apiVersions`, `kubeVersion`),
//! in its order, `List` kinds expanded.

use std::path::{Path, PathBuf};

use ferroflux_helm::action::{RenderOptions, render};
use ferroflux_helm::engine::Release;
use ferroflux_helm::values::options::ValueOptions;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Builder, objects_from_text};
use crate::Error;
use crate::generator;
use crate::kustomization::Kustomization;
use crate::resource::{Origin, Resource};
use crate::yaml;

/// kustomize's `HelmChart` (a `helmCharts` entry), with the `HelmGlobals`
/// fields a plugin configuration carries inline.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct HelmChart {
    name: String,
    version: String,
    repo: String,
    release_name: String,
    namespace: String,
    name_template: String,
    values_file: String,
    additional_values_files: Vec<String>,
    values_inline: Option<Map<String, Value>>,
    values_merge: String,
    #[serde(rename = "includeCRDs")]
    include_crds: bool,
    skip_hooks: bool,
    skip_tests: bool,
    api_versions: Vec<String>,
    kube_version: String,
    /// `HelmGlobals.chartHome`, in a plugin configuration.
    chart_home: String,
}

/// kustomize's `HelmGlobals`.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct HelmGlobals {
    chart_home: String,
}

/// Where a chart's configuration came from, for errors and origins.
pub(super) struct Configured<'a> {
    /// The file holding the configuration (the kustomization for a
    /// `helmCharts` entry).
    pub(super) file: &'a Path,
    /// That file as origin annotations name it (see `Builder::logical`).
    pub(super) origin: PathBuf,
    /// The plugin configuration's `metadata.name`.
    pub(super) name: Option<String>,
    /// The plugin configuration's `metadata.namespace`.
    pub(super) namespace: Option<String>,
}

impl HelmChart {
    /// A `helmCharts` entry, with the kustomization's `helmGlobals`.
    pub(super) fn from_entry(
        entry: &Value,
        globals: Option<&Value>,
        file: &Path,
    ) -> Result<Self, Error> {
        let invalid = |e: serde_json::Error| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("helmCharts: {e}"),
        };
        let mut chart: HelmChart = serde_json::from_value(entry.clone()).map_err(invalid)?;
        let globals: HelmGlobals = globals
            .map(|g| serde_json::from_value(g.clone()))
            .transpose()
            .map_err(invalid)?
            .unwrap_or_default();
        chart.chart_home = globals.chart_home;
        Ok(chart)
    }

    /// A `HelmChartInflationGenerator` plugin configuration.
    pub(super) fn from_plugin(config: &Value, file: &Path) -> Result<Self, Error> {
        serde_json::from_value(config.clone()).map_err(|e| Error::Invalid {
            file: file.to_path_buf(),
            message: format!("generators HelmChartInflationGenerator: {e}"),
        })
    }
}

/// Errors about one chart, naming it.
struct Say<'a> {
    file: &'a Path,
    label: String,
}

impl Say<'_> {
    fn invalid(&self, message: &str) -> Error {
        Error::Invalid {
            file: self.file.to_path_buf(),
            message: format!("{}: {message}", self.label),
        }
    }

    fn unsupported(&self, what: &str) -> Error {
        Error::Unsupported {
            file: self.file.to_path_buf(),
            fields: format!("{}.{what}", self.label),
        }
    }
}

impl Builder {
    /// The kustomization's own `helmCharts`, inflated into `acc`.
    pub(super) fn helm_charts(
        &self,
        dir: &Path,
        file: &Path,
        k: &Kustomization,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let charts = match &k.helm_charts {
            Some(Value::Array(charts)) => charts.as_slice(),
            _ => &[],
        };
        for entry in charts {
            let chart = HelmChart::from_entry(entry, k.helm_globals.as_ref(), file)?;
            let configured = Configured {
                file,
                origin: self.logical_file(file),
                name: None,
                namespace: None,
            };
            self.inflate(dir, &chart, &configured, acc)?;
        }
        Ok(())
    }

    /// Inflates `chart` for the kustomization in `dir` and adds its objects
    /// to `acc`.
    pub(super) fn inflate(
        &self,
        dir: &Path,
        chart: &HelmChart,
        configured: &Configured<'_>,
        acc: &mut Vec<Resource>,
    ) -> Result<(), Error> {
        let say = Say {
            file: configured.file,
            label: format!("helmCharts[{}]", chart.name),
        };
        if !self.enable_helm {
            return Err(say.invalid(
                "kustomize inflates Helm charts only with --enable-helm, which Flux never passes (its controllers run no external binaries); render the chart with a HelmRelease instead",
            ));
        }
        if chart.name.is_empty() {
            return Err(say.invalid("the chart name cannot be empty"));
        }
        let precedence = match chart.values_merge.as_str() {
            "" | "override" => Precedence::Inline,
            "merge" => Precedence::File,
            "replace" => Precedence::InlineOnly,
            other => {
                return Err(say.invalid(&format!(
                    "valuesMerge '{other}' must be one of merge, override, replace"
                )));
            }
        };
        if chart.release_name.is_empty() {
            return Err(say.unsupported(
                "releaseName (empty: helm would make up a random release name on every build; name the release)",
            ));
        }
        if !chart.name_template.is_empty() {
            return Err(say.unsupported("nameTemplate"));
        }
        let home = chart_home(dir, chart, &say)?;
        let real = self.confine(&dir.join(&home).join(&chart.name), Some(dir))?;
        let loaded =
            ferroflux_helm::chart::load_dir(&real).map_err(|e| say.invalid(&e.to_string()))?;
        let user = self.user_values(dir, chart, &home, precedence, &say)?;
        let namespace = if chart.namespace.is_empty() {
            "default"
        } else {
            chart.namespace.as_str()
        };
        let options = RenderOptions {
            release: Release {
                name: chart.release_name.clone(),
                namespace: namespace.to_owned(),
                revision: 1,
                is_upgrade: false,
            },
            kube_version: Some(chart.kube_version.clone()).filter(|v| !v.is_empty()),
            api_versions: chart.api_versions.clone(),
            api_versions_from_cluster: false,
            skip_schema_validation: false,
            lookup: None,
        };
        let mut notices = ferroflux_helm::action::Notices::default();
        let rendered = render(loaded, &user, &options, &mut notices)
            .map_err(|e| say.invalid(&e.to_string()))?;
        let objects = objects_from_text(&documents(&rendered, chart), configured.file).map_err(
            |e| match e {
                Error::Yaml { source, .. } => say.invalid(&format!("the chart's output: {source}")),
                Error::Invalid { message, .. } => {
                    say.invalid(&format!("the chart's output: {message}"))
                }
                other => other,
            },
        )?;
        self.loaded(&objects);
        for obj in objects {
            let mut res = Resource::new(obj);
            res.origin = Some(Origin::Generator {
                kustomization: configured.origin.clone(),
                kind: "HelmChartInflationGenerator",
                name: configured.name.clone(),
                namespace: configured.namespace.clone(),
            });
            generator::add_generated(acc, res).map_err(|e| say.invalid(&e))?;
        }
        Ok(())
    }

    /// The user values kustomize hands `helm template`: the values file or
    /// its merge with `valuesInline`, then the additional values files.
    fn user_values(
        &self,
        dir: &Path,
        chart: &HelmChart,
        home: &Path,
        precedence: Precedence,
        say: &Say<'_>,
    ) -> Result<ferroflux_helm::values::Values, Error> {
        let values_file = if chart.values_file.is_empty() {
            home.join(&chart.name)
                .join("values.yaml")
                .to_string_lossy()
                .into_owned()
        } else {
            chart.values_file.clone()
        };
        let read_text = |entry: &str| -> Result<String, Error> {
            let bytes = self.read(dir, entry)?;
            String::from_utf8(bytes)
                .map_err(|_| say.invalid(&format!("values file {entry} is not UTF-8 text")))
        };
        let mut files = Vec::new();
        if let Some(inline) = chart.values_inline.as_ref().filter(|v| !v.is_empty()) {
            let inline = Value::Object(inline.clone());
            let merged = if precedence == Precedence::InlineOnly {
                inline
            } else {
                let from_file = values_map(&read_text(&values_file)?)
                    .map_err(|e| say.invalid(&format!("values file {values_file}: {e}")))?;
                let (base, over) = if precedence == Precedence::Inline {
                    (from_file, inline)
                } else {
                    (inline, from_file)
                };
                merge_values(base, over, "").map_err(|path| {
                    say.unsupported(&format!(
                        "valuesInline ({path}: kustomize merges it with kyaml's merge, which this builder does not reproduce for a null or for lists holding mappings)"
                    ))
                })?
            };
            files.push(("valuesInline".into(), yaml::to_yaml(&merged)));
        } else {
            files.push((values_file.clone(), read_text(&values_file)?));
        }
        for extra in &chart.additional_values_files {
            files.push((extra.clone(), read_text(extra)?));
        }
        ValueOptions {
            files,
            ..ValueOptions::default()
        }
        .merge(&mut |path| {
            Err(std::io::Error::other(format!(
                "{path}: no files are read from values"
            )))
        })
        .map_err(|e| say.invalid(&e.to_string()))
    }
}

/// Where the chart lies, relative to the kustomization: `chartHome`
/// (`charts` by default), then `<name>-<version>` when a repository
/// and a version are given, as kustomize pulls there.
fn chart_home(dir: &Path, chart: &HelmChart, say: &Say<'_>) -> Result<PathBuf, Error> {
    let mut home = PathBuf::from(if chart.chart_home.is_empty() {
        "charts"
    } else {
        chart.chart_home.as_str()
    });
    if !chart.version.is_empty() && !chart.repo.is_empty() {
        home.push(format!("{}-{}", chart.name, chart.version));
    }
    let shown = home.join(&chart.name);
    if dir.join(&shown).is_dir() {
        return Ok(home);
    }
    Err(if chart.repo.is_empty() {
        say.invalid(&format!(
            "no repo specified for pull, and no chart found at {}",
            shown.display()
        ))
    } else {
        say.unsupported(&format!(
            "repo (the chart is not at {} and the builder never pulls charts; vendor the chart there)",
            shown.display()
        ))
    })
}

/// `helm template`'s documents: the CRDs when asked for, the manifests,
/// then the hooks (none with `skipHooks`; no tests with `skipTests`).
fn documents(rendered: &ferroflux_helm::action::Rendered, chart: &HelmChart) -> String {
    let mut text = String::new();
    let crds = rendered
        .crds
        .iter()
        .filter(|_| chart.include_crds)
        .map(|(_, content)| content);
    let hooks = rendered
        .hooks
        .iter()
        .filter(|h| {
            !(chart.skip_hooks || chart.skip_tests && h.hook_events.iter().any(|e| e == "test"))
        })
        .map(|m| &m.content);
    for content in crds
        .chain(rendered.manifests.iter().map(|m| &m.content))
        .chain(hooks)
    {
        text.push_str("---\n");
        text.push_str(content);
        text.push('\n');
    }
    text
}

/// `valuesMerge`: which side wins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Precedence {
    /// `override` (the default): `valuesInline` over the values file.
    Inline,
    /// `merge`: the values file over `valuesInline`.
    File,
    /// `replace`: `valuesInline` alone.
    InlineOnly,
}

/// A values file as a mapping (an empty file is an empty mapping).
fn values_map(text: &str) -> Result<Value, String> {
    let docs = yaml::parse_documents(text).map_err(|e| e.to_string())?;
    match docs.into_iter().next() {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(map @ Value::Object(_)) => Ok(map),
        Some(_) => Err("the values are not a mapping".into()),
    }
}

/// `over` merged into `base`: mappings key by key, anything else replaced.
/// `Err` names the first path where kyaml's merge might differ: a `null`
/// in `over`, or a list over a non-empty list where either holds a mapping
/// (kyaml merges those by key).
fn merge_values(base: Value, over: Value, path: &str) -> Result<Value, String> {
    match (base, over) {
        (_, Value::Null) => Err(if path.is_empty() {
            "the values".into()
        } else {
            path.to_owned()
        }),
        (Value::Object(mut base), Value::Object(over)) => {
            for (key, value) in over {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let merged = if let Some(old) = base.remove(&key) {
                    merge_values(old, value, &here)?
                } else {
                    check_no_null(&value, &here)?;
                    value
                };
                base.insert(key, merged);
            }
            Ok(Value::Object(base))
        }
        // Over an empty list, kyaml's merge keeps the new list as it is.
        (Value::Array(old), Value::Array(new))
            if !old.is_empty() && old.iter().chain(&new).any(Value::is_object) =>
        {
            Err(path.to_owned())
        }
        (_, over) => {
            check_no_null(&over, path)?;
            Ok(over)
        }
    }
}

/// `Err(path)` when `value` holds a `null` anywhere.
fn check_no_null(value: &Value, path: &str) -> Result<(), String> {
    match value {
        Value::Null => Err(path.to_owned()),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_no_null(v, &format!("{path}.{k}"))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_no_null(v, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_values_merge_key_by_key_and_refuse_what_kyaml_merges_otherwise() {
        let base = serde_json::json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        let over = serde_json::json!({"a": {"c": 3}, "l": [3]});
        assert_eq!(
            merge_values(base.clone(), over, "").unwrap(),
            serde_json::json!({"a": {"b": 1, "c": 3}, "l": [3]})
        );
        let null = serde_json::json!({"a": {"b": null}});
        assert_eq!(merge_values(base.clone(), null, "").unwrap_err(), "a.b");
        let base = serde_json::json!({"env": [{"name": "x"}]});
        let over = serde_json::json!({"env": [{"name": "y"}]});
        assert_eq!(merge_values(base, over, "").unwrap_err(), "env");
    }
}
