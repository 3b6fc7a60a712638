//! A chart as Helm loads it: `Chart.yaml` ([`metadata`]), `values.yaml`, the schema,
//! `templates/`, the other files (`.Files`, `crds/`) and the subcharts under `charts/`
//! (directories or `.tgz` archives), from a chart directory ([`dir`]) or a packaged chart
//! ([`archive`]). Loading checks what Helm checks; rendering is elsewhere.

pub mod archive;
pub mod dir;
pub mod ignore;
pub mod metadata;
pub mod package;

use std::collections::BTreeMap;

pub use metadata::{Dependency, Metadata};

use crate::values::Values;
use crate::values::read::read_values;

/// One file of a chart, its name relative to the chart's root with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The path inside the chart (`templates/deployment.yaml`).
    pub name: String,
    /// The content.
    pub data: Vec<u8>,
}

/// A loaded chart and its subcharts.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `Chart.yaml` (with `requirements.yaml`'s dependencies for an `apiVersion: v1` chart).
    pub metadata: Metadata,
    /// `values.yaml`, read as Helm reads it.
    pub values: Values,
    /// `values.schema.json`, if any.
    pub schema: Option<Vec<u8>>,
    /// The files under `templates/`, in load order.
    pub templates: Vec<File>,
    /// Every other file (what `.Files` sees; `crds/` among them), in load order.
    pub files: Vec<File>,
    /// The subcharts found under `charts/`, by directory or archive name order.
    pub dependencies: Vec<Chart>,
}

/// A chart Helm would refuse to load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chart has no `Chart.yaml`.
    #[error("{chart}: Chart.yaml file is missing; a chart needs one")]
    NoChartYaml {
        /// Where the chart was loaded from.
        chart: String,
    },
    /// `Chart.yaml` or `requirements.yaml` is malformed or fails Helm's validation; printed as
    /// Helm prints it, without the chart's path.
    #[error("{source}")]
    Metadata {
        /// Where the chart was loaded from.
        chart: String,
        /// What is wrong.
        source: metadata::Error,
    },
    /// `values.yaml` does not read.
    #[error("cannot load values.yaml: {source}")]
    Values {
        /// Where the chart was loaded from.
        chart: String,
        /// What is wrong.
        source: crate::values::read::Error,
    },
    /// A subchart does not load; Helm's wording, naming the parent chart by its name.
    #[error("error unpacking subchart {name} in {chart}: {source}")]
    Subchart {
        /// The parent chart's name.
        chart: String,
        /// The subchart's directory or archive under `charts/`.
        name: String,
        /// Why.
        source: Box<Error>,
    },
    /// A packaged subchart is not a readable archive.
    #[error("{chart}: error unpacking subchart {name}: {message}")]
    Archive {
        /// The parent chart.
        chart: String,
        /// The archive under `charts/`.
        name: String,
        /// Why.
        message: String,
    },
    /// Reading the chart directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something in the chart directory cannot be part of a chart.
    #[error("{path}: {message}")]
    Unsupported {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// Reads a packaged subchart (a `.tgz` under `charts/`) into its files; provided by the caller so
/// this module needs no archive reader of its own.
pub type ArchiveReader<'a> = &'a dyn Fn(&[u8]) -> Result<Vec<File>, String>;

impl Chart {
    /// The chart's name (`Chart.yaml`'s `name`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Builds a chart from its files, as Helm's `LoadFiles` does. `origin` names the chart in
    /// errors; `read_archive` unpacks `charts/*.tgz`.
    ///
    /// # Errors
    /// A missing or invalid `Chart.yaml`, unreadable values, a subchart that does not load.
    pub fn from_files(
        files: Vec<File>,
        origin: &str,
        read_archive: ArchiveReader<'_>,
    ) -> Result<Chart, Error> {
        let mut chart_yaml = None;
        let mut requirements = None;
        let mut values = Values::new();
        let mut schema = None;
        let mut templates = Vec::new();
        let mut other = Vec::new();
        let mut subcharts: BTreeMap<String, Vec<File>> = BTreeMap::new();
        for file in files {
            let name = file.name.as_str();
            if name == "Chart.yaml" {
                chart_yaml = Some(file.data);
            } else if name == "requirements.yaml" {
                requirements = Some(file.data.clone());
                other.push(file);
            } else if matches!(name, "Chart.lock" | "requirements.lock") {
                // Lock files only pin what `helm dependency build` downloads.
            } else if name == "values.yaml" {
                let text = String::from_utf8_lossy(&file.data);
                values = read_values(&text, "values.yaml").map_err(|source| Error::Values {
                    chart: origin.to_owned(),
                    source,
                })?;
            } else if name == "values.schema.json" {
                schema = Some(file.data);
            } else if name.starts_with("templates/") {
                templates.push(file);
            } else if let Some(rest) = name.strip_prefix("charts/") {
                let first = rest.split('/').next().unwrap_or_default();
                if first.starts_with(['_', '.']) {
                    continue;
                }
                subcharts.entry(first.to_owned()).or_default().push(File {
                    name: rest.to_owned(),
                    data: file.data,
                });
            } else {
                other.push(file);
            }
        }
        let Some(chart_yaml) = chart_yaml else {
            return Err(Error::NoChartYaml {
                chart: origin.to_owned(),
            });
        };
        let metadata = Metadata::parse(&chart_yaml, requirements.as_deref()).map_err(|source| {
            Error::Metadata {
                chart: origin.to_owned(),
                source,
            }
        })?;
        let mut dependencies = Vec::new();
        for (name, files) in subcharts {
            let sub_origin = format!("{origin}/charts/{name}");
            let wrap = |source: Error| Error::Subchart {
                chart: metadata.name.clone(),
                name: name.clone(),
                source: Box::new(source),
            };
            let chart = if std::path::Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tgz"))
            {
                let data = files.into_iter().next().map(|f| f.data).unwrap_or_default();
                let unpacked = read_archive(&data).map_err(|message| Error::Archive {
                    chart: origin.to_owned(),
                    name: name.clone(),
                    message,
                })?;
                Chart::from_files(unpacked, &sub_origin, read_archive).map_err(wrap)?
            } else {
                let prefix = format!("{name}/");
                let inner = files
                    .into_iter()
                    .filter_map(|f| {
                        f.name.strip_prefix(&prefix).map(|n| File {
                            name: n.to_owned(),
                            data: f.data.clone(),
                        })
                    })
                    .collect();
                Chart::from_files(inner, &sub_origin, read_archive).map_err(wrap)?
            };
            dependencies.push(chart);
        }
        Ok(Chart {
            metadata,
            values,
            schema,
            templates,
            files: other,
            dependencies,
        })
    }

    /// The `crds/` files of this chart (`.yaml`, `.yml`, `.json`), in load order.
    pub fn crds(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| {
            f.name.starts_with("crds/")
                && [".yaml", ".yml", ".json"]
                    .iter()
                    .any(|ext| f.name.ends_with(ext))
        })
    }
}

/// Loads a chart from `path`: a chart directory (its `.helmignore` applied) or a packaged
/// chart (`.tgz`), as `helm template` takes either.
///
/// # Errors
/// [`Error`]: the path cannot be read, the archive is malformed or over the limits, or the
/// chart does not load.
pub fn load(path: &std::path::Path) -> Result<Chart, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    if std::fs::metadata(path).map_err(io)?.is_dir() {
        return load_dir(path);
    }
    let limits = archive::Limits::default();
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > limits.max_total_bytes {
        return Err(Error::Unsupported {
            path: path.display().to_string(),
            message: format!(
                "the chart archive is {size} bytes, over the {} byte limit",
                limits.max_total_bytes
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    load_archive(&bytes, &path.display().to_string())
}

/// Loads a packaged chart (`.tgz` bytes); `origin` names it in errors.
///
/// # Errors
/// [`Error`]: the archive is malformed or over the limits, or the chart does not load.
pub fn load_archive(bytes: &[u8], origin: &str) -> Result<Chart, Error> {
    let files = unpack(bytes).map_err(|message| Error::Unsupported {
        path: origin.to_owned(),
        message,
    })?;
    Chart::from_files(files, origin, &unpack)
}

/// The files of a packaged chart (`.tgz` bytes), names relative to the chart
/// root, read with the path checks and default caps of [`archive`], without
/// loading them as a chart.
///
/// # Errors
/// The archive's error, as text: not gzip, a path escaping the chart, a cap.
pub fn archive_files(bytes: &[u8]) -> Result<Vec<File>, String> {
    unpack(bytes)
}

/// The files of the chart directory `path` its `.helmignore` (and Helm's
/// default rule) keeps, as [`load_dir`] reads them (what `helm package`
/// puts in the package).
///
/// # Errors
/// [`Error`]: the directory cannot be read or `.helmignore` is malformed.
pub fn dir_files(path: &std::path::Path) -> Result<Vec<File>, Error> {
    let ignore_file = path.join(".helmignore");
    let rules = match std::fs::read_to_string(&ignore_file) {
        Ok(text) => ignore::Rules::parse(&text).map_err(|e| Error::Unsupported {
            path: ignore_file.display().to_string(),
            message: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ignore::Rules::default(),
        Err(source) => {
            return Err(Error::Io {
                path: ignore_file.display().to_string(),
                source,
            });
        }
    }
    .with_defaults();
    dir::read_dir_files(path, &|rel, is_dir| rules.ignored(rel, is_dir))
}

/// Loads a chart from files read by [`archive_files`] or [`dir_files`];
/// `origin` names it in errors.
///
/// # Errors
/// [`Error`]: the chart does not load.
pub fn load_files(files: Vec<File>, origin: &str) -> Result<Chart, Error> {
    Chart::from_files(files, origin, &unpack)
}

fn unpack(bytes: &[u8]) -> Result<Vec<File>, String> {
    if !archive::is_gzip(bytes) {
        return Err("the file is not a gzipped chart archive (.tgz)".to_owned());
    }
    archive::read_archive(bytes, &archive::Limits::default())
        .map(|files| {
            files
                .into_iter()
                .map(|f| File {
                    name: f.path,
                    data: f.data,
                })
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// Loads the chart directory `path` with its `.helmignore` rules and Helm's default rule.
///
/// # Errors
/// [`Error`]: the directory cannot be read, `.helmignore` is malformed, or the chart does not
/// load.
pub fn load_dir(path: &std::path::Path) -> Result<Chart, Error> {
    let files = dir_files(path)?;
    let origin = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Chart::from_files(files, &origin, &unpack)
}
