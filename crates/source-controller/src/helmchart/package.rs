//! Building the chart a HelmChart stores: load the chart's files with the
//! Helm loader (its path checks and caps, its metadata validation), merge
//! `spec.valuesFiles` into `values.yaml` in order, add the `+<revision>`
//! version suffix of `reconcileStrategy: Revision`, and package it anew
//! (deterministically) when anything changed.

use ferroflux_helm::chart::{self, File};
use ferroflux_helm::values::Values;
use ferroflux_helm::values::read::{merge_into, read_values};

/// Building a chart failed. Every message names the chart (and its
/// version, once known).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chart does not load (malformed archive, a path escaping the
    /// chart, a cap passed, invalid `Chart.yaml` or `values.yaml`).
    #[error("the chart does not load: {0}")]
    Load(String),
    /// A values file is missing or not valid values.
    #[error("{0}")]
    Values(String),
    /// The chart cannot be packaged.
    #[error("packaging the chart failed: {0}")]
    Package(String),
}

/// What to build.
pub struct Input<'a> {
    /// The chart's files, names relative to its root.
    pub files: Vec<File>,
    /// Names the chart in errors (`<chart>` or `<chart> <version>`).
    pub origin: &'a str,
    /// `spec.valuesFiles`, paths inside the chart.
    pub values_files: &'a [String],
    /// `spec.ignoreMissingValuesFiles`.
    pub ignore_missing: bool,
    /// The values files' contents when they are not the chart's own files
    /// (a chart from a source: Flux reads them relative to the source's
    /// root), `None` for a missing one; `None` to read them from the chart.
    pub external_values: Option<Vec<Option<Vec<u8>>>>,
    /// The version's build metadata to set (`reconcileStrategy: Revision`).
    pub version_metadata: Option<&'a str>,
    /// Package even when nothing changed (a chart from a directory).
    pub always_package: bool,
}

/// A built chart.
#[derive(Debug)]
pub struct Built {
    /// `Chart.yaml`'s name.
    pub name: String,
    /// The version, with its metadata suffix when one was set.
    pub version: String,
    /// The new package, or `None` when the input package is unchanged.
    pub package: Option<Vec<u8>>,
    /// The values files merged (the missing ones left out when ignored).
    pub values_files: Vec<String>,
}

/// Builds the chart `input` describes.
///
/// # Errors
/// [`Error`] naming the chart and what is wrong.
pub fn build(input: Input<'_>) -> Result<Built, Error> {
    let Input {
        mut files,
        origin,
        values_files,
        ignore_missing,
        external_values,
        version_metadata,
        always_package,
    } = input;
    let loaded =
        chart::load_files(files.clone(), origin).map_err(|e| Error::Load(e.to_string()))?;
    let name = loaded.metadata.name.clone();
    let mut version = loaded.metadata.version.clone();
    let mut changed = false;
    let mut merged_files = Vec::new();
    // As Flux: a lone `values.yaml` is the chart's own values, nothing to merge.
    let merge = !(values_files.is_empty()
        || (external_values.is_none()
            && values_files.len() == 1
            && clean(&values_files[0]) == "values.yaml"));
    if merge {
        let mut merged = Values::new();
        for (i, path) in values_files.iter().enumerate() {
            let wanted = clean(path);
            let data = match &external_values {
                Some(external) => external.get(i).cloned().flatten(),
                None => files
                    .iter()
                    .find(|f| f.name == wanted)
                    .map(|f| f.data.clone()),
            };
            let Some(data) = data else {
                if ignore_missing {
                    continue;
                }
                return Err(Error::Values(format!(
                    "no values file found at path '{path}' in chart '{name}' version '{version}': fix spec.valuesFiles or set spec.ignoreMissingValuesFiles"
                )));
            };
            let values = read_values(&String::from_utf8_lossy(&data), &wanted).map_err(|e| {
                Error::Values(format!(
                    "values file '{path}' of chart '{name}' version '{version}' is not valid values: {e}"
                ))
            })?;
            merge_into(&mut merged, values);
            merged_files.push(path.clone());
        }
        let text = ferroflux_yaml::to_yaml(&serde_json::Value::Object(merged));
        set_file(&mut files, "values.yaml", text.into_bytes());
        changed = true;
    } else if values_files.len() == 1 {
        merged_files.push(values_files[0].clone());
    }
    if let Some(meta) = version_metadata {
        let base = version.split_once('+').map_or(version.as_str(), |(v, _)| v);
        version = format!("{base}+{meta}");
        let chart_yaml = files
            .iter()
            .find(|f| f.name == "Chart.yaml")
            .ok_or_else(|| Error::Load(format!("chart '{name}': Chart.yaml is missing")))?;
        let text = String::from_utf8_lossy(&chart_yaml.data);
        let mut docs = ferroflux_yaml::read::parse_documents(&text)
            .map_err(|e| Error::Load(format!("chart '{name}': Chart.yaml: {e}")))?;
        let Some(serde_json::Value::Object(doc)) = docs.first_mut() else {
            return Err(Error::Load(format!(
                "chart '{name}': Chart.yaml is not a mapping"
            )));
        };
        doc.insert("version".into(), serde_json::Value::String(version.clone()));
        let text = ferroflux_yaml::to_yaml(&serde_json::Value::Object(doc.clone()));
        set_file(&mut files, "Chart.yaml", text.into_bytes());
        changed = true;
    }
    let package = if changed || always_package {
        // Chart.yaml first, as `helm package` writes it.
        files.sort_by_key(|f| f.name != "Chart.yaml");
        Some(
            chart::package::write_package(&name, &files, Vec::new())
                .map_err(|e| Error::Package(e.to_string()))?,
        )
    } else {
        None
    };
    Ok(Built {
        name,
        version,
        package,
        values_files: merged_files,
    })
}

/// A chart-relative path as the chart's file list names it (`./a.yaml` is
/// `a.yaml`).
fn clean(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

fn set_file(files: &mut Vec<File>, name: &str, data: Vec<u8>) {
    match files.iter_mut().find(|f| f.name == name) {
        Some(f) => f.data = data,
        None => files.push(File {
            name: name.to_owned(),
            data,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<File> {
        [
            ("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"),
            ("values.yaml", "a: 1\nb:\n  c: x\n"),
            ("prod.yaml", "b:\n  d: prod\n"),
        ]
        .into_iter()
        .map(|(n, d)| File {
            name: n.into(),
            data: d.as_bytes().to_vec(),
        })
        .collect()
    }

    fn input<'a>(values: &'a [String], meta: Option<&'a str>) -> Input<'a> {
        Input {
            files: files(),
            origin: "demo",
            values_files: values,
            ignore_missing: false,
            external_values: None,
            version_metadata: meta,
            always_package: false,
        }
    }

    #[test]
    fn an_unchanged_chart_is_not_repackaged() {
        let built = build(input(&[], None)).unwrap();
        assert!(built.package.is_none());
        assert_eq!(
            (built.name.as_str(), built.version.as_str()),
            ("demo", "1.0.0")
        );
    }

    #[test]
    fn values_files_merge_in_order_into_values_yaml() {
        let values = ["values.yaml".to_owned(), "./prod.yaml".to_owned()];
        let built = build(input(&values, None)).unwrap();
        let chart = chart::load_archive(&built.package.unwrap(), "demo").unwrap();
        assert_eq!(
            serde_json::Value::Object(chart.values),
            serde_json::json!({"a": 1.0, "b": {"c": "x", "d": "prod"}})
        );
        assert_eq!(built.values_files, values);
    }

    #[test]
    fn a_missing_values_file_fails_unless_ignored() {
        let values = ["missing.yaml".to_owned(), "prod.yaml".to_owned()];
        let err = build(input(&values, None)).unwrap_err();
        assert!(err.to_string().contains("missing.yaml"), "{err}");
        let built = build(Input {
            ignore_missing: true,
            ..input(&values, None)
        })
        .unwrap();
        assert_eq!(built.values_files, ["prod.yaml"]);
    }

    #[test]
    fn revision_metadata_is_set_in_the_packaged_version() {
        let built = build(input(&[], Some("abcdef123456"))).unwrap();
        assert_eq!(built.version, "1.0.0+abcdef123456");
        let chart = chart::load_archive(&built.package.unwrap(), "demo").unwrap();
        assert_eq!(chart.metadata.version, "1.0.0+abcdef123456");
    }
}
