//! `helm template` as one call: the checks Helm makes before rendering (installable chart,
//! dependencies present, `kubeVersion`), dependency processing and value coalescing, the
//! render, then the output as `helm template` prints it (CRDs with `--include-crds`, the
//! manifests in install order, then the hooks).

use std::fmt::Write as _;

use crate::chart::Chart;
use crate::engine::{self, Release};
use crate::manifest;
use crate::objects::{KubeVersion, capabilities, cluster_capabilities};
use crate::values::options::ValueOptions;
use crate::values::{coalesce, deps};

/// What `helm template` takes besides the chart.
#[derive(Debug, Clone)]
pub struct TemplateOptions {
    /// The release.
    pub release: Release,
    /// The user's values.
    pub values: ValueOptions,
    /// `--kube-version` (default `v1.35.0`).
    pub kube_version: Option<String>,
    /// `-a/--api-versions`.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--show-only`: only the documents of templates matching these patterns (Go's
    /// `filepath.Match` against the path inside the chart), in pattern order.
    pub show_only: Vec<String>,
}

impl TemplateOptions {
    /// `helm template NAME CHART -n NAMESPACE` with nothing else set.
    #[must_use]
    pub fn new(name: &str, namespace: &str) -> TemplateOptions {
        TemplateOptions {
            release: Release {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                revision: 1,
                is_upgrade: false,
            },
            values: ValueOptions::default(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            show_only: Vec::new(),
        }
    }
}

/// What Helm logs on stderr while rendering, without failing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notices {
    /// Warnings (`level=WARN`): the chart is deprecated.
    pub warnings: Vec<String>,
    /// Information (`level=INFO`): value type clashes, hooks skipped for unknown events.
    pub info: Vec<String>,
}

/// Why a chart does not render.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A library chart is rendered on its own.
    #[error("library charts are not installable")]
    Library,
    /// Dependencies listed in `Chart.yaml` are missing from `charts/`.
    #[error(
        "an error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        .0.join(", ")
    )]
    MissingDependencies(Vec<String>),
    /// `--kube-version` is not a version.
    #[error("invalid kube version {0:?}: give a semantic version such as 1.35.0")]
    KubeVersion(String),
    /// The chart's `kubeVersion` excludes the target Kubernetes version.
    #[error(
        "chart requires kubeVersion: {constraint} which is incompatible with Kubernetes {version}"
    )]
    IncompatibleKube {
        /// The chart's constraint.
        constraint: String,
        /// The target version.
        version: String,
    },
    /// A values file or `--set` flag does not read.
    #[error(transparent)]
    Values(#[from] crate::values::options::Error),
    /// The values fail a chart's `values.schema.json`.
    #[error(transparent)]
    Schema(#[from] crate::values::schema::Error),
    /// Values cannot be coalesced.
    #[error(transparent)]
    Coalesce(#[from] coalesce::Error),
    /// A template fails.
    #[error(transparent)]
    Render(#[from] engine::Error),
    /// A rendered document is not YAML.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// A `--show-only` pattern matches no template.
    #[error("could not find template {0} in chart")]
    ShowOnly(String),
}

impl Error {
    /// Whether Helm prints its `--debug` hint after this error: the errors raised once the
    /// release exists (Helm's `renderResources`: the `kubeVersion` check, render and YAML
    /// errors).
    #[must_use]
    pub fn debug_hint(&self) -> bool {
        matches!(
            self,
            Error::IncompatibleKube { .. } | Error::Render(_) | Error::Manifest(_)
        )
    }
}

/// What an install or upgrade renders besides the chart and the user's values.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The release (`.Release`).
    pub release: Release,
    /// The target Kubernetes version (default `v1.35.0`, as `helm template`'s).
    pub kube_version: Option<String>,
    /// The API versions the cluster serves besides the built-in ones (`.Capabilities`).
    pub api_versions: Vec<String>,
    /// Whether `api_versions` is the cluster's whole discovered set, replacing the defaults
    /// (an install or upgrade against a live cluster) rather than added to them.
    pub api_versions_from_cluster: bool,
    /// Skips `values.schema.json` (Helm's `--skip-schema-validation`).
    pub skip_schema_validation: bool,
    /// Where `lookup` reads objects from; `None` answers empty maps, as `helm template` does.
    pub lookup: Option<std::sync::Arc<dyn crate::lookup::Lookup>>,
}

/// A chart rendered for a release: what Helm installs, in Helm's order.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The plain manifests, in install order.
    pub manifests: Vec<manifest::Manifest>,
    /// The hooks, in install order (run by weight, then name).
    pub hooks: Vec<manifest::Manifest>,
    /// The top-level chart's rendered `NOTES.txt` (`""` when it has none).
    pub notes: String,
    /// The `crds/` files of the chart and its enabled subcharts: the path Helm prints
    /// (`<chart>/crds/<file>`) and the content.
    pub crds: Vec<(String, String)>,
    /// The values the templates saw (the chart's defaults coalesced with the user's).
    pub values: crate::values::Values,
    /// What a post-renderer made of the plain manifests: when set, it is the release's
    /// manifest as is (Helm stores a post-renderer's output unchanged).
    pub post_rendered: Option<String>,
}

impl Rendered {
    /// The release's manifest as Helm stores it: each plain manifest as
    /// `---\n# Source: <path>\n<document>\n`, in install order, or the post-renderer's output.
    #[must_use]
    pub fn manifest(&self) -> String {
        if let Some(text) = &self.post_rendered {
            return text.clone();
        }
        let mut out = String::new();
        for m in &self.manifests {
            let _ = write!(out, "---\n# Source: {}\n{}\n", m.source, m.content);
        }
        out
    }
}

/// Renders `chart` with the user's values `user` as `helm install` and `helm upgrade` render
/// it: the checks Helm makes first, dependencies, coalescing, the schema, then the templates;
/// what Helm would log goes to `notices`, also when the render fails.
///
/// # Errors
/// [`Error`]: the first check, value, template or document that fails.
pub fn render(
    mut chart: Chart,
    user: &crate::values::Values,
    opts: &RenderOptions,
    notices: &mut Notices,
) -> Result<Rendered, Error> {
    let kube = match &opts.kube_version {
        None => KubeVersion::new("v1.35.0", "1", "35"),
        Some(v) => KubeVersion::parse(v).ok_or_else(|| Error::KubeVersion(v.clone()))?,
    };
    if chart.metadata.chart_type == "library" {
        return Err(Error::Library);
    }
    if chart.metadata.deprecated {
        notices.warnings.push("this chart is deprecated".to_owned());
    }
    let warnings = &mut notices.info;
    if chart.metadata.dependencies_declared {
        let missing: Vec<String> = chart
            .metadata
            .dependencies
            .iter()
            .filter(|r| !chart.dependencies.iter().any(|d| d.name() == r.name))
            .map(|r| r.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingDependencies(missing));
        }
    }
    deps::process(&mut chart, user, warnings)?;
    let values = coalesce::coalesce_values(&chart, user, warnings)?;
    if !opts.skip_schema_validation {
        crate::values::schema::validate(&chart, &values)?;
    }
    if !chart.metadata.kube_version.is_empty()
        && !crate::funcs::semver::satisfies(&chart.metadata.kube_version, kube.version())
            .unwrap_or(false)
    {
        return Err(Error::IncompatibleKube {
            constraint: chart.metadata.kube_version.clone(),
            version: kube.version().to_owned(),
        });
    }
    let caps = if opts.api_versions_from_cluster {
        cluster_capabilities(&kube, opts.api_versions.clone())
    } else {
        capabilities(&kube, &opts.api_versions)
    };
    let mut files = engine::render(&chart, &values, &opts.release, &caps, opts.lookup.as_ref())?;
    let notes_path = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files.get(&notes_path).cloned().unwrap_or_default();
    files.retain(|name, _| !name.ends_with("NOTES.txt"));
    let manifest::Sorted {
        generic,
        hooks,
        skipped,
    } = manifest::sort(&files)?;
    warnings.extend(skipped);
    let mut crds = Vec::new();
    collect_crds(&chart, chart.name(), &mut crds);
    Ok(Rendered {
        manifests: generic,
        hooks,
        notes,
        crds,
        values,
        post_rendered: None,
    })
}

/// Renders `chart` as `helm template` would and returns what it prints on stdout; what Helm
/// would log goes to `notices`, also when the render fails.
///
/// # Errors
/// [`Error`]: the first check, value, template or document that fails.
pub fn template(
    chart: Chart,
    opts: &TemplateOptions,
    notices: &mut Notices,
) -> Result<String, Error> {
    let user = opts
        .values
        .merge(&mut |path| std::fs::read_to_string(path))?;
    let rendered = render(
        chart,
        &user,
        &RenderOptions {
            release: opts.release.clone(),
            kube_version: opts.kube_version.clone(),
            api_versions: opts.api_versions.clone(),
            api_versions_from_cluster: false,
            skip_schema_validation: false,
            lookup: None,
        },
        notices,
    )?;
    let mut buffer = String::new();
    if opts.include_crds {
        for (path, content) in &rendered.crds {
            let _ = write!(buffer, "---\n# Source: {path}\n{content}\n");
        }
    }
    buffer.push_str(&rendered.manifest());
    let mut output = buffer.trim_matches(|c: char| c.is_whitespace()).to_owned();
    output.push('\n');
    for h in &rendered.hooks {
        if opts.skip_tests && h.hook_events.iter().any(|e| e == "test") {
            continue;
        }
        let _ = write!(output, "---\n# Source: {}\n{}\n", h.source, h.content);
    }
    if opts.show_only.is_empty() {
        Ok(output)
    } else {
        show_only(&output, &opts.show_only)
    }
}

/// `--show-only`: the printed documents whose `# Source: <chart>/<path>` path matches a pattern,
/// each printed as `---\n<document>\n`, pattern by pattern.
fn show_only(output: &str, patterns: &[String]) -> Result<String, Error> {
    let docs = manifest::split(output);
    let mut out = String::new();
    for pattern in patterns {
        let mut found = false;
        for doc in &docs {
            let Some(path) = doc
                .find("# Source: ")
                .map(|at| &doc[at + "# Source: ".len()..])
                .map(|rest| rest.lines().next().unwrap_or_default())
                .and_then(|source| source.split_once('/'))
                .map(|(_, path)| path)
            else {
                continue;
            };
            if crate::chart::ignore::glob_match(pattern, path).unwrap_or(false) {
                let _ = write!(out, "---\n{doc}\n");
                found = true;
            }
        }
        if !found {
            return Err(Error::ShowOnly(pattern.clone()));
        }
    }
    Ok(out)
}

/// Every `crds/` file of the chart, then of its enabled subcharts, verbatim, with the path
/// Helm prints for it.
fn collect_crds(chart: &Chart, full_path: &str, out: &mut Vec<(String, String)>) {
    for f in chart.crds() {
        out.push((
            format!("{full_path}/{}", f.name),
            String::from_utf8_lossy(&f.data).into_owned(),
        ));
    }
    for sub in &chart.dependencies {
        crate::template::deep(|| {
            collect_crds(sub, &format!("{full_path}/charts/{}", sub.name()), out);
        });
    }
}
