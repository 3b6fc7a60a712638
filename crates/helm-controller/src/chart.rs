//! Where a HelmRelease's chart comes from, as Flux resolves it: `spec.chartRef` names an
//! existing `HelmChart`, `OCIRepository` or `ExternalArtifact` whose artifact holds the chart
//! (a chart directory at its root or in its one top-level directory, or a packaged `.tgz` at
//! its root, as an ArtifactGenerator composes one); `spec.chart` is a
//! template from which the controller creates (and keeps up to date) a `HelmChart` named
//! `<namespace>-<name>` in the source's namespace. The artifact is downloaded, its digest
//! verified, unpacked within limits, and loaded with `ferroflux-helm`'s loader (which refuses
//! what Helm refuses).

use std::path::Path;

use ferroflux_api::helm::HelmRelease;
use ferroflux_api::meta::{Artifact, Condition};
use ferroflux_api::source::{ExternalArtifact, HelmChart, OCIRepository};
use ferroflux_artifact::fetch::{self, HttpClient};
use ferroflux_helm::chart::Chart;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt as _};
use serde_json::json;

/// The field manager of the HelmCharts this controller creates.
pub const FIELD_MANAGER: &str = "helm-controller";

/// The chart kinds `spec.chartRef` may name.
pub const CHART_REF_KINDS: [&str; 3] = ["HelmChart", "OCIRepository", "ExternalArtifact"];

/// Why the chart is not available.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Neither `spec.chart` nor `spec.chartRef`, or both.
    #[error("exactly one of spec.chart and spec.chartRef must be set")]
    Spec,
    /// `spec.chartRef` names a kind this controller cannot use (yet).
    #[error(
        "spec.chartRef.kind '{0}' is not supported: use HelmChart, OCIRepository or ExternalArtifact"
    )]
    Kind(String),
    /// The source object does not exist.
    #[error("{kind} '{namespace}/{name}' not found")]
    NotFound {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The source has no artifact yet: `why` is its own `Ready=False` message, or "it has no
    /// artifact yet" while it has none.
    #[error("{kind} '{namespace}/{name}' is not ready: {why}")]
    NotReady {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why, from the source's status.
        why: String,
    },
    /// Creating or updating the templated `HelmChart` failed.
    #[error("creating or updating HelmChart '{namespace}/{name}' failed: {message}")]
    Template {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API server's message.
        message: String,
    },
    /// The API server failed.
    #[error("reading {kind} '{namespace}/{name}' failed: {message}")]
    Api {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API server's message.
        message: String,
    },
    /// The download failed or the digest did not match.
    #[error("chart artifact of revision {revision}: {source}")]
    Fetch {
        /// The artifact's revision.
        revision: String,
        /// Why.
        source: fetch::Error,
    },
    /// The artifact holds no loadable chart.
    #[error("chart artifact of revision {revision} does not load: {message}")]
    Load {
        /// The artifact's revision.
        revision: String,
        /// Why.
        message: String,
    },
}

/// The chart source a HelmRelease uses: `(kind, namespace, name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// `HelmChart`, `OCIRepository` or `ExternalArtifact`.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// The name of the `HelmChart` made from `spec.chart`: `<namespace>-<name>`.
#[must_use]
pub fn template_name(obj: &HelmRelease) -> String {
    format!("{}-{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// The source `spec.chartRef` or `spec.chart` designates (the latter's `HelmChart`), without
/// creating anything.
///
/// # Errors
/// [`Error::Spec`] or [`Error::Kind`].
pub fn source_ref(obj: &HelmRelease) -> Result<SourceRef, Error> {
    let own = obj.namespace().unwrap_or_default();
    match (&obj.spec.chart, &obj.spec.chart_ref) {
        (Some(template), None) => Ok(SourceRef {
            kind: "HelmChart".to_owned(),
            namespace: template
                .spec
                .source_ref
                .namespace
                .clone()
                .unwrap_or_else(|| own.clone()),
            name: template_name(obj),
        }),
        (None, Some(r)) => {
            if !CHART_REF_KINDS.contains(&r.kind.as_str()) {
                return Err(Error::Kind(r.kind.clone()));
            }
            Ok(SourceRef {
                kind: r.kind.clone(),
                namespace: r.namespace.clone().unwrap_or(own),
                name: r.name.clone(),
            })
        }
        _ => Err(Error::Spec),
    }
}

/// Creates or updates the `HelmChart` of `spec.chart` (server-side apply, so fields the
/// template drops are removed), and returns it as the API server answered, status
/// included: its artifact then needs no second read (`None` without `spec.chart`).
///
/// # Errors
/// [`Error::Template`].
pub async fn apply_template(
    client: &Client,
    obj: &HelmRelease,
) -> Result<Option<HelmChart>, Error> {
    let Some(template) = &obj.spec.chart else {
        return Ok(None);
    };
    let source = source_ref(obj)?;
    let spec = &template.spec;
    let interval = spec
        .interval
        .as_ref()
        .unwrap_or(&obj.spec.interval)
        .to_string();
    let mut chart_spec = json!({
        "chart": spec.chart,
        "version": spec.version.as_deref().unwrap_or("*"),
        "sourceRef": {"kind": spec.source_ref.kind, "name": spec.source_ref.name},
        "interval": interval,
        "reconcileStrategy": spec.reconcile_strategy.as_deref().unwrap_or("ChartVersion"),
    });
    if !spec.values_files.is_empty() {
        chart_spec["valuesFiles"] = json!(spec.values_files);
    }
    if spec.ignore_missing_values_files {
        chart_spec["ignoreMissingValuesFiles"] = json!(true);
    }
    let mut metadata = json!({
        "name": source.name,
        "namespace": source.namespace,
    });
    if let Some(meta) = &template.metadata {
        if let Some(labels) = &meta.labels {
            metadata["labels"] = json!(labels);
        }
        if let Some(annotations) = &meta.annotations {
            metadata["annotations"] = json!(annotations);
        }
    }
    let chart = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": metadata,
        "spec": chart_spec,
    });
    Api::<HelmChart>::namespaced(client.clone(), &source.namespace)
        .patch(
            &source.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&chart),
        )
        .await
        .map(Some)
        .map_err(|e| Error::Template {
            namespace: source.namespace.clone(),
            name: source.name.clone(),
            message: e.to_string(),
        })
}

/// Deletes the `HelmChart` made from `spec.chart` (absent counts as deleted).
///
/// # Errors
/// [`Error::Template`].
pub async fn delete_template(client: &Client, obj: &HelmRelease) -> Result<(), Error> {
    if obj.spec.chart.is_none() {
        return Ok(());
    }
    let source = source_ref(obj)?;
    delete_chart(client, &source.namespace, &source.name).await
}

/// Deletes the `HelmChart` `namespace/name` (gone already is fine): a template the HelmRelease
/// no longer uses (its chart moved to `chartRef`, or its source to another namespace).
///
/// # Errors
/// [`Error::Template`] when the API server refuses.
pub async fn delete_chart(client: &Client, namespace: &str, name: &str) -> Result<(), Error> {
    match Api::<HelmChart>::namespaced(client.clone(), namespace)
        .delete(name, &kube::api::DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Template {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The source's artifact.
///
/// # Errors
/// [`Error::NotFound`], [`Error::NotReady`] or [`Error::Api`].
pub async fn artifact(client: &Client, source: &SourceRef) -> Result<Artifact, Error> {
    let api_error = |e: kube::Error| Error::Api {
        kind: source.kind.clone(),
        namespace: source.namespace.clone(),
        name: source.name.clone(),
        message: e.to_string(),
    };
    let found = if source.kind == "OCIRepository" {
        Api::<OCIRepository>::namespaced(client.clone(), &source.namespace)
            .get_opt(&source.name)
            .await
            .map_err(api_error)?
            .map(|s| s.status.map(|st| (st.artifact, st.conditions)))
    } else if source.kind == "ExternalArtifact" {
        Api::<ExternalArtifact>::namespaced(client.clone(), &source.namespace)
            .get_opt(&source.name)
            .await
            .map_err(api_error)?
            .map(|s| s.status.map(|st| (st.artifact, st.conditions)))
    } else {
        Api::<HelmChart>::namespaced(client.clone(), &source.namespace)
            .get_opt(&source.name)
            .await
            .map_err(api_error)?
            .map(|s| s.status.map(|st| (st.artifact, st.conditions)))
    };
    let Some(status) = found else {
        return Err(Error::NotFound {
            kind: source.kind.clone(),
            namespace: source.namespace.clone(),
            name: source.name.clone(),
        });
    };
    let (artifact, conditions) = status.unwrap_or_default();
    usable(source, artifact, &conditions)
}

/// The artifact of a source already read (such as the `HelmChart` [`apply_template`]
/// returns), if it is usable: present, with a digest.
///
/// # Errors
/// [`Error::NotReady`], with the source's Ready=False reason and message when it says why.
pub fn usable(
    source: &SourceRef,
    artifact: Option<Artifact>,
    conditions: &[Condition],
) -> Result<Artifact, Error> {
    artifact.filter(|a| a.digest.is_some()).ok_or_else(|| {
        // A source that failed says why; that is what the HelmRelease's user needs to see.
        let why = conditions
            .iter()
            .find(|c| c.type_ == "Ready" && c.status == "False")
            .map_or_else(
                || "it has no artifact yet".to_owned(),
                |c| format!("{}: {}", c.reason, c.message),
            );
        Error::NotReady {
            kind: source.kind.clone(),
            namespace: source.namespace.clone(),
            name: source.name.clone(),
            why,
        }
    })
}

/// Downloads, verifies and loads the chart of `artifact`.
///
/// # Errors
/// [`Error::Fetch`] or [`Error::Load`].
pub async fn load(http: &HttpClient, artifact: &Artifact) -> Result<Chart, Error> {
    let revision = artifact.revision.clone();
    let load_error = |message: String| Error::Load {
        revision: revision.clone(),
        message,
    };
    let tmp = tempfile::tempdir().map_err(|e| load_error(e.to_string()))?;
    let options = fetch::Options {
        max_download_bytes: 64 << 20,
        ..fetch::Options::default()
    };
    fetch::fetch(
        http,
        &artifact.url,
        artifact.digest.as_deref().unwrap_or_default(),
        tmp.path(),
        options,
    )
    .await
    .map_err(|source| Error::Fetch {
        revision: revision.clone(),
        source,
    })?;
    let root = tmp.path().to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        let path = chart_root(&root)?;
        ferroflux_helm::chart::load(&path).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| load_error(e.to_string()))?;
    // The temporary directory goes off the async threads.
    let _ = tokio::task::spawn_blocking(move || drop(tmp)).await;
    loaded.map_err(load_error)
}

/// The version Flux gives a chart from an OCIRepository: the chart's version with the first 12
/// hex digits of the artifact's manifest digest as build metadata (`6.5.0+0123456789ab`, or
/// `6.5.0+build.0123456789ab`), so each pushed artifact is a distinct release version. The
/// revision is `<tag>@<algorithm>:<hex>` (or just the digest); the tag, with OCI's `_` read as
/// `+`, must be the chart's version.
///
/// # Errors
/// [`Error::Load`] when the tag is not the chart's version or the digest is not one.
pub fn oci_chart_version(version: &str, revision: &str) -> Result<String, Error> {
    let mismatch = |message: String| Error::Load {
        revision: revision.to_owned(),
        message,
    };
    let (tag, digest) = match revision.split_once('@') {
        Some((tag, digest)) => (Some(tag), digest),
        None => (None, revision),
    };
    if let Some(tag) = tag
        && tag.replace('_', "+") != version
    {
        return Err(mismatch(format!(
            "the artifact's tag {tag} is not the chart's version {version}; push the chart with a tag equal to its version"
        )));
    }
    let hex = digest
        .split_once(':')
        .map_or(digest, |(_, hex)| hex)
        .get(..12)
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| mismatch(format!("'{digest}' is not an OCI digest")))?;
    Ok(match version.split_once('+') {
        Some((base, meta)) => format!("{base}+{meta}.{hex}"),
        None => format!("{version}+{hex}"),
    })
}

/// The version a chart is released under: an OCIRepository's carries its manifest digest as
/// build metadata ([`oci_chart_version`]), an ExternalArtifact's its artifact digest (its content
/// can change without the chart's version changing, a generator merging new values in), a
/// HelmChart's is the chart's own.
///
/// # Errors
/// [`Error::Load`] as [`oci_chart_version`].
pub fn release_version(kind: &str, version: &str, artifact: &Artifact) -> Result<String, Error> {
    match kind {
        "OCIRepository" => oci_chart_version(version, &artifact.revision),
        "ExternalArtifact" => {
            oci_chart_version(version, artifact.digest.as_deref().unwrap_or_default())
        }
        _ => Ok(version.to_owned()),
    }
}

/// The chart in an unpacked artifact: the root if it holds `Chart.yaml`, else its only
/// top-level directory that does, else its only packaged chart (`.tgz`) at the root.
fn chart_root(root: &Path) -> Result<std::path::PathBuf, String> {
    if root.join("Chart.yaml").is_file() {
        return Ok(root.to_path_buf());
    }
    let entries = std::fs::read_dir(root).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let mut packaged = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.join("Chart.yaml").is_file() {
            found.push(path);
        } else if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tgz"))
        {
            packaged.push(path);
        }
    }
    match (found.len(), packaged.len()) {
        (1, _) => Ok(found.remove(0)),
        (0, 1) => Ok(packaged.remove(0)),
        (0, 0) => Err(
            "the artifact holds no Chart.yaml at its root or in a top-level directory, and no packaged chart (.tgz) at its root"
                .into(),
        ),
        (0, n) => Err(format!(
            "the artifact holds {n} packaged charts (.tgz) at its root; expected one"
        )),
        (n, _) => Err(format!("the artifact holds {n} charts; expected one")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_chart_versions_carry_the_digest_as_flux_writes_them() {
        let digest = "sha256:0123456789abcdef0123";
        assert_eq!(
            oci_chart_version("6.5.0", &format!("6.5.0@{digest}")).ok(),
            Some("6.5.0+0123456789ab".to_owned())
        );
        assert_eq!(
            oci_chart_version("6.5.0+build", &format!("6.5.0_build@{digest}")).ok(),
            Some("6.5.0+build.0123456789ab".to_owned())
        );
        assert_eq!(
            oci_chart_version("1.0.0", digest).ok(),
            Some("1.0.0+0123456789ab".to_owned())
        );
        assert!(oci_chart_version("6.5.0", &format!("6.4.0@{digest}")).is_err());
        assert!(oci_chart_version("6.5.0", "6.5.0@sha256:xyz").is_err());
    }

    #[test]
    fn an_external_artifacts_chart_version_carries_its_content_digest() {
        let artifact = Artifact {
            path: "externalartifact/ns/chart/x.tar.gz".into(),
            url: "http://w/x".into(),
            revision: "latest@sha256:0123456789abcdef0123".into(),
            digest: Some("sha256:abcdef0123456789abcd".into()),
            last_update_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            size: None,
            metadata: None,
        };
        assert_eq!(
            release_version("ExternalArtifact", "1.0.0", &artifact).ok(),
            Some("1.0.0+abcdef012345".to_owned())
        );
        assert_eq!(
            release_version("HelmChart", "1.0.0", &artifact).ok(),
            Some("1.0.0".to_owned())
        );
    }
}
