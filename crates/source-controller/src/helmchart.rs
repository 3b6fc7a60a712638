//! The HelmChart reconciler: resolve the chart from its source, build it
//! (values files merged, version suffixed as the strategy asks), and store
//! the packaged chart.
//!
//! Sources: an HTTP(S) HelmRepository (the version resolved as a semver
//! range over its stored index), an OCI HelmRepository (`type: oci`: the
//! chart `<url>/<chart>` in the registry, the version resolved over its
//! tags, see [`oci`]), or a GitRepository or Bucket (the chart directory at
//! `spec.chart` inside its artifact, with the dependencies its `charts/`
//! folder holds, `file://` ones from the artifact, those from chart
//! repositories resolved through the HelmRepositories of the namespace, and
//! `oci://` ones pulled from their registry with the login of the OCI
//! HelmRepository of the namespace with that URL, if any).
//!
//! Sub-reconcilers, in order:
//! 1. [`HelmChartReconciler::reconcile_storage`]: checks that the recorded
//!    artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`HelmChartReconciler::reconcile_source`]: finds the source and its
//!    artifact; for a HelmRepository, resolves `spec.version` over the
//!    chart's versions in its index (streamed: only this chart's versions
//!    are kept), or, for one of `type: oci`, over the chart's tags in the
//!    registry (an exact version is not listed). Waits while the source has
//!    no artifact. Sets or clears `FetchFailed` (`SourceUnavailable`,
//!    `ChartReferenceError`, and for OCI `ChartPullError`,
//!    `AuthenticationFailed`, `URLInvalid`).
//! 3. [`HelmChartReconciler::reconcile_artifact`]: unless the stored chart
//!    is that version built from the same spec, gets the chart (downloaded,
//!    credentials only to the repository's host unless `passCredentials`,
//!    the index's digest verified; pulled from the registry, the chart
//!    layer's digest verified; or read from the Git or Bucket artifact), loads it
//!    with the Helm loader's caps, merges `spec.valuesFiles` into its
//!    `values.yaml`, and stores it as `<chart>-<version>.tgz`, revision the
//!    chart version. Sets or clears `FetchFailed` (`ChartPullError`,
//!    `AuthenticationFailed`) and `BuildFailed` (`ChartPackageError`,
//!    `ValuesFilesError`), sets `ArtifactInStorage`.
//!    `observedSourceArtifactRevision` is the source's artifact revision
//!    (the index's, the commit's); an OCI HelmRepository has no artifact,
//!    so it is left empty, as in Flux.

pub mod oci;
pub mod package;
pub mod triggers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{Bucket, GitRepository, HelmChart, HelmChartStatus, HelmRepository};
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_helm::chart::{Dependency, File};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use kube::{Api, Client, ResourceExt as _};

use crate::helmrepository::http::{self, Cap, FetchError};
use crate::helmrepository::index::{self, ChartVersion};
use crate::helmrepository::{DEFAULT_TIMEOUT, storage_failed};
use crate::semver;

/// Conditions and reasons this reconciler writes, as Flux names them.
pub mod names {
    pub use ferroflux_api::source::conditions::{
        ARTIFACT_IN_STORAGE, BUILD_FAILED, FETCH_FAILED, STORAGE_OPERATION_FAILED,
    };

    /// Reason: the source object is missing or has no artifact.
    pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
    /// Reason: no chart or version in the index matches the spec.
    pub const CHART_REFERENCE_ERROR: &str = "ChartReferenceError";
    /// Reason: downloading or verifying the chart failed.
    pub const CHART_PULL_ERROR: &str = "ChartPullError";
    /// Reason: the chart does not load or cannot be packaged.
    pub const CHART_PACKAGE_ERROR: &str = "ChartPackageError";
    /// Reason: a values file is missing or not valid values.
    pub const VALUES_FILES_ERROR: &str = "ValuesFilesError";
    /// Reason: the spec asks for something this controller cannot do.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
    /// Reason: credentials were missing, malformed or refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: the repository URL and chart name make no registry address.
    pub const URL_INVALID: &str = "URLInvalid";
}

/// The kind name used in storage paths.
pub(crate) const KIND: &str = "HelmChart";

/// The default of `--helm-chart-max-size`: 10 MiB, as Flux's.
pub const DEFAULT_MAX_CHART_SIZE: u64 = 10 << 20;

/// Reconciles HelmCharts into packaged chart artifacts.
pub struct HelmChartReconciler {
    client: Client,
    storage: Storage,
    max_chart_size: u64,
    /// Charts (and chart dependencies) downloaded from chart repositories
    /// and registries, for tests and benchmarks: a current chart downloads none.
    pub pulls: AtomicU64,
}

impl HelmChartReconciler {
    /// A reconciler reading objects with `client` and writing to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            max_chart_size: DEFAULT_MAX_CHART_SIZE,
            pulls: AtomicU64::new(0),
        }
    }

    /// Refuses packaged charts larger than `bytes` (`--helm-chart-max-size`).
    #[must_use]
    pub fn with_max_chart_size(mut self, bytes: u64) -> Self {
        self.max_chart_size = bytes;
        self
    }

    /// The storage key of `obj`'s artifacts.
    #[must_use]
    pub fn key(obj: &HelmChart) -> ObjectKey {
        crate::artifacts::key(KIND, obj)
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut HelmChartStatus) {
        crate::artifacts::reconcile_storage(
            &self.storage,
            status.artifact.as_ref(),
            &mut status.conditions,
            |a| {
                format!(
                    "packaged '{}' chart with version '{}'",
                    chart_name(a),
                    a.revision
                )
            },
            "built again",
        );
    }

    /// Finds the source and its artifact; for a HelmRepository, resolves
    /// the chart version in its index.
    async fn reconcile_source(
        &self,
        obj: &HelmChart,
        status: &mut HelmChartStatus,
    ) -> Result<Resolved, ReconcileError> {
        if obj.spec.verify.is_some() {
            return Err(ReconcileError::stalled(
                names::UNSUPPORTED,
                Scrubbed::new(
                    "spec.verify (cosign/notation) is not supported by Ferroflux yet; remove it or keep this HelmChart on Flux",
                ),
            ));
        }
        let source = &obj.spec.source_ref;
        let ns = obj.namespace().unwrap_or_default();
        let resolved = match source.kind.as_str() {
            "HelmRepository" => self.resolve_in_repository(obj, &ns).await?,
            "GitRepository" => Resolved::Artifact {
                artifact: self.source_artifact::<GitRepository>(obj, &ns).await?,
            },
            "Bucket" => Resolved::Artifact {
                artifact: self.source_artifact::<Bucket>(obj, &ns).await?,
            },
            other => {
                return Err(ReconcileError::stalled(
                    names::UNSUPPORTED,
                    Scrubbed::new(&format!(
                        "spec.sourceRef.kind '{other}' is not one of HelmRepository, GitRepository, Bucket"
                    )),
                ));
            }
        };
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        Ok(resolved)
    }

    /// The stored artifact of the GitRepository or Bucket `spec.sourceRef`
    /// names; waits while it has none.
    async fn source_artifact<K>(
        &self,
        obj: &HelmChart,
        ns: &str,
    ) -> Result<Artifact, ReconcileError>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + ferroflux_api::kind::Kind
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
        K::Status: SourceStatus,
    {
        let kind = &obj.spec.source_ref.kind;
        let name = &obj.spec.source_ref.name;
        let source = Api::<K>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                fetch_failed(
                    names::SOURCE_UNAVAILABLE,
                    &format!("reading {kind} '{ns}/{name}' failed: {e}"),
                    &[],
                )
            })?
            .ok_or_else(|| unavailable(obj, &format!("{kind} '{ns}/{name}' does not exist")))?;
        source
            .status()
            .and_then(SourceStatus::artifact)
            .filter(|a| self.storage.exists(a))
            .cloned()
            .ok_or_else(|| {
                unavailable(
                    obj,
                    &format!("{kind} '{ns}/{name}' has no artifact yet; retrying"),
                )
            })
    }

    /// Resolves `spec.version` of `obj`'s chart over its HelmRepository's index.
    async fn resolve_in_repository(
        &self,
        obj: &HelmChart,
        ns: &str,
    ) -> Result<Resolved, ReconcileError> {
        let name = &obj.spec.source_ref.name;
        let repo = Api::<HelmRepository>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                fetch_failed(
                    names::SOURCE_UNAVAILABLE,
                    &format!("reading HelmRepository '{ns}/{name}' failed: {e}"),
                    &[],
                )
            })?
            .ok_or_else(|| {
                unavailable(obj, &format!("HelmRepository '{ns}/{name}' does not exist"))
            })?;
        let constraint = obj.spec.version.as_deref().unwrap_or("*");
        if repo.is_oci() {
            let remote = oci::Remote::connect(&self.client, &repo).await?;
            let what = format!("chart '{}' version '{constraint}'", obj.spec.chart);
            let found = remote.resolve(&obj.spec.chart, constraint, &what).await?;
            return Ok(Resolved::Oci {
                remote: Box::new(remote),
                found,
            });
        }
        let (index_revision, version) = self
            .resolve_version(&repo, &obj.spec.chart, constraint)
            .await
            .map_err(|e| e.unwrap_or_else(|m| unavailable(obj, &m)))?;
        Ok(Resolved::Repo {
            repo: Box::new(repo),
            index_revision,
            version,
        })
    }

    /// The index revision of `repo` and the highest version of `chart` in
    /// it matching `constraint`. `Err(Err(message))` when the repository
    /// has no index yet (worth waiting for).
    async fn resolve_version(
        &self,
        repo: &HelmRepository,
        chart: &str,
        constraint: &str,
    ) -> Result<(String, ChartVersion), Result<ReconcileError, String>> {
        let ns = repo.namespace().unwrap_or_default();
        let name = repo.name_any();
        let artifact = repo.status.as_ref().and_then(|s| s.artifact.clone());
        let Some((artifact, path)) =
            artifact.and_then(|a| self.storage.local_path(&a).map(|p| (a, p)))
        else {
            return Err(Err(format!(
                "HelmRepository '{ns}/{name}' has no stored index yet; retrying"
            )));
        };
        let wanted = chart.to_owned();
        let versions = tokio::task::spawn_blocking(move || index::versions_of(&path, &wanted))
            .await
            .map_err(|e| Ok(storage_failed(&format!("reading the index failed: {e}"))))?
            .map_err(|e| {
                Ok(reference_error(&format!(
                    "reading the index of HelmRepository '{ns}/{name}' (revision '{}') failed: {e}",
                    artifact.revision
                )))
            })?;
        if versions.is_empty() {
            return Err(Ok(reference_error(&format!(
                "no chart named '{chart}' in the index of HelmRepository '{ns}/{name}' ({})",
                repo.spec.url
            ))));
        }
        let picked = pick(constraint, &versions).map_err(|m| {
            Ok(reference_error(&format!(
                "chart '{chart}' in HelmRepository '{ns}/{name}' ({}): {m}",
                repo.spec.url
            )))
        })?;
        Ok((artifact.revision, picked.clone()))
    }

    /// Whether the stored chart was built from the same source revision
    /// and spec (chart name, values files), so nothing needs doing.
    fn is_current(obj: &HelmChart, status: &HelmChartStatus, source_revision: &str) -> bool {
        status.observed_source_artifact_revision.as_deref() == Some(source_revision)
            && Self::same_spec(obj, status)
    }

    /// Whether the stored chart was built from the spec as it is: the same
    /// chart and values files ([`Self::same_chart_and_values`]), the same
    /// strategy (a `+<revision>` version or not).
    fn same_spec(obj: &HelmChart, status: &HelmChartStatus) -> bool {
        let revision_strategy = revision_strategy(obj);
        Self::same_chart_and_values(obj, status)
            && status
                .artifact
                .as_ref()
                .is_some_and(|a| a.revision.contains('+') == revision_strategy)
    }

    /// Whether the stored chart is of the same chart with the same values
    /// files (those found, when missing ones are ignored). For a chart from
    /// a registry this is the whole spec: the strategy does not apply, and
    /// its version may carry `+` metadata of its own.
    fn same_chart_and_values(obj: &HelmChart, status: &HelmChartStatus) -> bool {
        if status.artifact.is_none() {
            return false;
        }
        let values = if obj.spec.ignore_missing_values_files {
            status
                .observed_values_files
                .iter()
                .all(|f| obj.spec.values_files.contains(f))
        } else {
            status.observed_values_files == obj.spec.values_files
        };
        status.observed_chart_name.as_deref() == Some(obj.spec.chart.as_str()) && values
    }

    /// Downloads `version` of a chart from `repo`.
    async fn download_chart(
        &self,
        repo: &HelmRepository,
        version: &ChartVersion,
        what: &str,
    ) -> Result<Vec<u8>, ReconcileError> {
        let ns = repo.namespace().unwrap_or_default();
        let auth = http::read_auth(&self.client, &ns, repo)
            .await
            .map_err(|e| fetch_failed(names::AUTHENTICATION_FAILED, &e.to_string(), &[]))?;
        let secrets = auth.secrets();
        let url = chart_url(&repo.spec.url, version).map_err(|m| {
            fetch_failed(names::CHART_PULL_ERROR, &format!("{what}: {m}"), &secrets)
        })?;
        let basic = (repo.spec.pass_credentials || same_host(&repo.spec.url, &url))
            .then_some(auth.basic.as_ref())
            .flatten();
        let timeout = repo
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        let client = auth.client(timeout).map_err(|m| {
            fetch_failed(
                names::AUTHENTICATION_FAILED,
                &format!("building an HTTP client with the repository's certificates failed: {m}"),
                &secrets,
            )
        })?;
        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a download directory failed: {e}")))?;
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let cap = Cap {
            max: self.max_chart_size,
            flag: "--helm-chart-max-size",
        };
        let download = http::download(&client, url.as_str(), basic, cap, dir.path())
            .await
            .map_err(|e| {
                let reason = if matches!(e, FetchError::Unauthorized { .. }) {
                    names::AUTHENTICATION_FAILED
                } else {
                    names::CHART_PULL_ERROR
                };
                fetch_failed(reason, &format!("failed to download {what}: {e}"), &secrets)
            })?;
        if let Some(want) = &version.digest {
            let got = download
                .digest
                .strip_prefix("sha256:")
                .unwrap_or(&download.digest);
            if !got.eq_ignore_ascii_case(want) {
                return Err(fetch_failed(
                    names::CHART_PULL_ERROR,
                    &format!(
                        "{what} downloaded from {url} has digest sha256:{got}, but the index says {want}; it was not used"
                    ),
                    &secrets,
                ));
            }
        }
        std::fs::read(download.file.path())
            .map_err(|e| storage_failed(&format!("reading the download of {what} failed: {e}")))
    }

    /// Builds the chart from its source and stores it.
    async fn reconcile_artifact(
        &self,
        obj: &HelmChart,
        status: &mut HelmChartStatus,
        resolved: Resolved,
    ) -> Result<(), ReconcileError> {
        let chart = &obj.spec.chart;
        let revision_strategy = revision_strategy(obj);
        let (source_revision, input, what, tagged) = match resolved {
            Resolved::Repo {
                repo,
                index_revision,
                version,
            } => {
                // The chart version alone decides: a new index naming the
                // same version builds nothing.
                let current = Self::same_spec(obj, status)
                    && status
                        .artifact
                        .as_ref()
                        .is_some_and(|a| a.revision == version.version && self.storage.exists(a));
                if current {
                    status.observed_source_artifact_revision = Some(index_revision);
                    return Ok(());
                }
                let what = format!("chart '{chart}' version '{}'", version.version);
                let bytes = self.download_chart(&repo, &version, &what).await?;
                conditions::remove(&mut status.conditions, names::FETCH_FAILED);
                let files = ferroflux_helm::chart::archive_files(&bytes).map_err(|m| {
                    build_failed(names::CHART_PACKAGE_ERROR, &format!("{what}: {m}"))
                })?;
                (
                    Some(index_revision),
                    Source::Package { files, bytes },
                    what,
                    None,
                )
            }
            Resolved::Oci { remote, found } => {
                let Some((input, what)) = self.pull_oci(obj, status, &remote, &found).await? else {
                    return Ok(());
                };
                (None, input, what, Some(found.version))
            }
            Resolved::Artifact { artifact } => {
                if Self::is_current(obj, status, &artifact.revision)
                    && status
                        .artifact
                        .as_ref()
                        .is_some_and(|a| self.storage.exists(a))
                {
                    return Ok(());
                }
                let what = format!("chart '{chart}' of revision '{}'", artifact.revision);
                let (files, values) = self.artifact_chart_files(obj, &artifact, &what).await?;
                (
                    Some(artifact.revision.clone()),
                    Source::Dir { files, values },
                    what,
                    None,
                )
            }
        };
        // No source revision for a chart from a registry: the strategy does
        // not apply to it, as in Flux.
        let version_metadata = source_revision
            .as_deref()
            .filter(|_| revision_strategy)
            .map(short_revision);
        let (built, original) = Self::build(obj, input, version_metadata, &what).await?;
        if let Some(tag_version) = tagged.as_deref()
            && built.version != tag_version
        {
            // Helm pushes a chart under its own version; anything else
            // would store a chart whose revision is not its version.
            return Err(build_failed(
                names::CHART_PACKAGE_ERROR,
                &format!(
                    "{what}: its Chart.yaml says version '{}', not the version it is tagged with; push it with helm push, which tags a chart with its version",
                    built.version
                ),
            ));
        }
        conditions::remove(&mut status.conditions, names::BUILD_FAILED);
        let same_spec = if tagged.is_some() {
            Self::same_chart_and_values(obj, status)
        } else {
            Self::same_spec(obj, status)
        };
        let unchanged = status
            .artifact
            .as_ref()
            .is_some_and(|a| a.revision == built.version && self.storage.exists(a))
            && same_spec;
        if unchanged {
            // A new source revision with the same chart version: as Flux,
            // the stored chart stays (ChartVersion strategy).
            status.observed_source_artifact_revision = source_revision;
            return Ok(());
        }
        self.store(obj, status, built, original, source_revision, &what)
    }

    /// Builds the chart from its files (values files merged, the version
    /// metadata set); returns it and the downloaded package it came from.
    async fn build(
        obj: &HelmChart,
        input: Source,
        version_metadata: Option<String>,
        what: &str,
    ) -> Result<(package::Built, Option<Vec<u8>>), ReconcileError> {
        let (files, original, always_package, external_values) = match input {
            Source::Package { files, bytes } => (files, Some(bytes), false, None),
            Source::Dir { files, values } => (files, None, true, Some(values)),
        };
        let values_files = obj.spec.values_files.clone();
        let ignore_missing = obj.spec.ignore_missing_values_files;
        let origin = what.to_owned();
        let built = tokio::task::spawn_blocking(move || {
            package::build(package::Input {
                files,
                origin: &origin,
                values_files: &values_files,
                ignore_missing,
                external_values,
                version_metadata: version_metadata.as_deref(),
                always_package,
            })
        })
        .await
        .map_err(|e| storage_failed(&format!("building {what} failed: {e}")))?
        .map_err(|e| {
            let reason = match e {
                package::Error::Values(_) => names::VALUES_FILES_ERROR,
                _ => names::CHART_PACKAGE_ERROR,
            };
            build_failed(reason, &format!("{what}: {e}"))
        })?;
        Ok((built, original))
    }

    /// Pulls the chart `found` from its registry, unless the stored chart
    /// is that version of the same chart with the same values files (as
    /// in Flux, the version alone decides: nothing is downloaded). Returns
    /// the package and what names it in messages; `None` when current.
    async fn pull_oci(
        &self,
        obj: &HelmChart,
        status: &mut HelmChartStatus,
        remote: &oci::Remote,
        found: &oci::Found,
    ) -> Result<Option<(Source, String)>, ReconcileError> {
        // An OCI HelmRepository has no artifact to have observed.
        status.observed_source_artifact_revision = None;
        let current = Self::same_chart_and_values(obj, status)
            && status
                .artifact
                .as_ref()
                .is_some_and(|a| a.revision == found.version && self.storage.exists(a));
        if current {
            return Ok(None);
        }
        let what = format!("chart '{}' version '{}'", obj.spec.chart, found.version);
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let bytes = remote.pull(found, self.max_chart_size, &what).await?;
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        let what = format!("{what} from {}", found.reference());
        let files = ferroflux_helm::chart::archive_files(&bytes)
            .map_err(|m| build_failed(names::CHART_PACKAGE_ERROR, &format!("{what}: {m}")))?;
        Ok(Some((Source::Package { files, bytes }, what)))
    }

    /// Stores the built chart (the new package, else the downloaded one)
    /// and records it in status.
    fn store(
        &self,
        obj: &HelmChart,
        status: &mut HelmChartStatus,
        built: package::Built,
        original: Option<Vec<u8>>,
        source_revision: Option<String>,
        what: &str,
    ) -> Result<(), ReconcileError> {
        let chart = &obj.spec.chart;
        let Some(bytes) = built.package.or(original) else {
            return Err(storage_failed(&format!("{what}: nothing to store")));
        };
        let key = Self::key(obj);
        let file_name = format!("{}-{}.tgz", built.name, built.version);
        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a build directory failed: {e}")))?;
        let tmp = dir.path().join(&file_name);
        std::fs::write(&tmp, &bytes)
            .map_err(|e| storage_failed(&format!("writing {what} failed: {e}")))?;
        let artifact = self
            .storage
            .store_file(&key, &tmp, &file_name, &built.version)
            .map_err(|e| storage_failed(&format!("storing {what} failed: {e}")))?;
        if let Err(e) = self.storage.garbage_collect(&key, &artifact) {
            tracing::warn!(error = %e, "removing old artifacts failed");
        }
        conditions::set(
            &mut status.conditions,
            names::ARTIFACT_IN_STORAGE,
            true,
            "Succeeded",
            &format!(
                "packaged '{}' chart with version '{}'",
                built.name, built.version
            ),
            None,
        );
        conditions::remove(&mut status.conditions, names::STORAGE_OPERATION_FAILED);
        status.url = Some(artifact.url.clone());
        status.artifact = Some(artifact);
        status.observed_chart_name = Some(chart.clone());
        status.observed_source_artifact_revision = source_revision;
        status.observed_values_files = built.values_files;
        Ok(())
    }

    /// The files of the chart at `spec.chart` in the GitRepository's or Bucket's
    /// artifact, with its missing dependencies added under `charts/`, and
    /// the contents of `spec.valuesFiles` (paths in the artifact).
    async fn artifact_chart_files(
        &self,
        obj: &HelmChart,
        artifact: &Artifact,
        what: &str,
    ) -> Result<(Vec<File>, Vec<Option<Vec<u8>>>), ReconcileError> {
        let chart_path = confined(&obj.spec.chart).ok_or_else(|| {
            ReconcileError::stalled(
                names::CHART_REFERENCE_ERROR,
                Scrubbed::new(&format!(
                    "spec.chart '{}' must be a relative path inside the source artifact",
                    obj.spec.chart
                )),
            )
            .with_condition(names::FETCH_FAILED)
        })?;
        let archive = self.storage.local_path(artifact).ok_or_else(|| {
            unavailable(obj, &format!("the artifact of {what} is gone; retrying"))
        })?;
        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a build directory failed: {e}")))?;
        let root = dir.path().to_path_buf();
        let (files, missing) = {
            let root = root.clone();
            let chart_path = chart_path.clone();
            let what = what.to_owned();
            tokio::task::spawn_blocking(move || {
                read_artifact_chart(&archive, &root, &chart_path, &what)
            })
            .await
            .map_err(|e| storage_failed(&format!("reading {e}")))?
        }?;
        let values = obj
            .spec
            .values_files
            .iter()
            .map(|f| confined(f).and_then(|rel| std::fs::read(root.join(rel)).ok()))
            .collect();
        let mut files = files;
        for dep in missing {
            let tgz = self.dependency(obj, &root, &chart_path, &dep, what).await?;
            files.push(File {
                name: format!("charts/{}-{}.tgz", dep.name, tgz.0),
                data: tgz.1,
            });
        }
        Ok((files, values))
    }

    /// A dependency missing from `charts/`: its version and packaged bytes,
    /// from a `file://` path inside the artifact, from the HelmRepository
    /// of the namespace with its repository URL, or from the registry of an
    /// `oci://` one.
    async fn dependency(
        &self,
        obj: &HelmChart,
        root: &std::path::Path,
        chart_path: &str,
        dep: &Dependency,
        what: &str,
    ) -> Result<(String, Vec<u8>), ReconcileError> {
        let dep_what = format!("dependency '{}' ({}) of {what}", dep.name, dep.repository);
        let failed = |m: String| build_failed(names::CHART_PACKAGE_ERROR, &m);
        if let Some(rel) = dep.repository.strip_prefix("file://") {
            let joined = format!("{chart_path}/{rel}");
            let path = confined(&joined).ok_or_else(|| {
                failed(format!("{dep_what}: the path leaves the source artifact"))
            })?;
            let dir = root.join(path);
            let files = ferroflux_helm::chart::dir_files(&dir)
                .map_err(|e| failed(format!("{dep_what}: {e}")))?;
            let loaded = ferroflux_helm::chart::load_files(files.clone(), &dep_what)
                .map_err(|e| failed(format!("{dep_what}: {e}")))?;
            let bytes = ferroflux_helm::chart::package::write_package(
                &loaded.metadata.name,
                &files,
                Vec::new(),
            )
            .map_err(|e| failed(format!("{dep_what}: {e}")))?;
            return Ok((loaded.metadata.version, bytes));
        }
        let oci = dep.repository.starts_with("oci://");
        if !(oci || dep.repository.starts_with("http://") || dep.repository.starts_with("https://"))
        {
            return Err(failed(format!(
                "{dep_what}: only http(s)://, oci:// and file:// dependency repositories are supported; vendor it under charts/"
            )));
        }
        let ns = obj.namespace().unwrap_or_default();
        let want = dep.repository.trim_end_matches('/');
        let repos = Api::<HelmRepository>::namespaced(self.client.clone(), &ns)
            .list(&kube::api::ListParams::default())
            .await
            .map_err(|e| {
                fetch_failed(
                    names::SOURCE_UNAVAILABLE,
                    &format!("listing the HelmRepositories of '{ns}' for {dep_what} failed: {e}"),
                    &[],
                )
            })?;
        let mut repos = repos
            .items
            .into_iter()
            .filter(|r| r.is_oci() == oci && r.spec.url.trim_end_matches('/') == want);
        if oci {
            return self.oci_dependency(repos.next(), dep, &dep_what).await;
        }
        let repo = repos.next().ok_or_else(|| {
            failed(format!(
                "{dep_what}: no HelmRepository in namespace '{ns}' has URL '{want}'; create one"
            ))
        })?;
        let constraint = if dep.version.is_empty() {
            "*"
        } else {
            dep.version.as_str()
        };
        let (_, version) = self
            .resolve_version(&repo, &dep.name, constraint)
            .await
            .map_err(|e| e.unwrap_or_else(|m| unavailable(obj, &format!("{dep_what}: {m}"))))?;
        let bytes = self.download_chart(&repo, &version, &dep_what).await?;
        Ok((version.version, bytes))
    }

    /// An `oci://` dependency: its version and packaged bytes, pulled with
    /// the login of `repo` (the OCI HelmRepository with its URL), else
    /// anonymously over HTTPS, as Flux does.
    async fn oci_dependency(
        &self,
        repo: Option<HelmRepository>,
        dep: &Dependency,
        what: &str,
    ) -> Result<(String, Vec<u8>), ReconcileError> {
        let remote = match &repo {
            Some(repo) => oci::Remote::connect(&self.client, repo).await?,
            None => oci::Remote::anonymous(&dep.repository)?,
        };
        let constraint = if dep.version.is_empty() {
            "*"
        } else {
            dep.version.as_str()
        };
        let found = remote.resolve(&dep.name, constraint, what).await?;
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let what = format!("{what} version '{}'", found.version);
        let bytes = remote.pull(&found, self.max_chart_size, &what).await?;
        Ok((found.version, bytes))
    }
}

/// Extracts the source's artifact into `root` and reads the chart at
/// `chart_path`: its files, and its dependencies `charts/` lacks.
fn read_artifact_chart(
    archive: &std::path::Path,
    root: &std::path::Path,
    chart_path: &str,
    what: &str,
) -> Result<(Vec<File>, Vec<Dependency>), ReconcileError> {
    let failed = |m: String| build_failed(names::CHART_PACKAGE_ERROR, &m);
    let file = std::fs::File::open(archive)
        .map_err(|e| storage_failed(&format!("opening the artifact of {what} failed: {e}")))?;
    ferroflux_artifact::extract::tar_gz(
        std::io::BufReader::new(file),
        root,
        ferroflux_artifact::extract::Limits::default(),
    )
    .map_err(|e| failed(format!("extracting the artifact of {what}: {e}")))?;
    let dir = root.join(chart_path);
    if !dir.join("Chart.yaml").is_file() {
        return Err(ReconcileError::transient(
            names::CHART_REFERENCE_ERROR,
            Scrubbed::new(&format!(
                "{what}: no chart at path '{chart_path}' (no Chart.yaml there); fix spec.chart"
            )),
        )
        .with_condition(names::FETCH_FAILED));
    }
    let files =
        ferroflux_helm::chart::dir_files(&dir).map_err(|e| failed(format!("{what}: {e}")))?;
    let loaded = ferroflux_helm::chart::load_files(files.clone(), what)
        .map_err(|e| failed(format!("{what}: {e}")))?;
    let present: Vec<&str> = loaded
        .dependencies
        .iter()
        .map(|c| c.metadata.name.as_str())
        .collect();
    let missing = loaded
        .metadata
        .dependencies
        .iter()
        .filter(|d| !present.contains(&d.name.as_str()))
        .cloned()
        .collect();
    Ok((files, missing))
}

/// A chart-relative path with `.` segments dropped, or `None` when it is
/// absolute or climbs out with `..`.
fn confined(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// The first 12 characters of the hash in a source revision
/// (`main@sha1:<hex>` or `sha256:<hex>`), as Flux's `+<revision>` suffix.
fn short_revision(revision: &str) -> String {
    let hash = revision.rsplit(':').next().unwrap_or(revision);
    hash.chars().take(12).collect()
}

/// The status of a source whose artifact holds chart directories.
trait SourceStatus {
    fn artifact(&self) -> Option<&Artifact>;
}

impl SourceStatus for ferroflux_api::source::GitRepositoryStatus {
    fn artifact(&self) -> Option<&Artifact> {
        self.artifact.as_ref()
    }
}

impl SourceStatus for ferroflux_api::source::BucketStatus {
    fn artifact(&self) -> Option<&Artifact> {
        self.artifact.as_ref()
    }
}

/// Where the chart comes from.
enum Resolved {
    /// A version in a HelmRepository's index.
    Repo {
        repo: Box<HelmRepository>,
        index_revision: String,
        version: ChartVersion,
    },
    /// A version in an OCI HelmRepository's registry, and the registry.
    Oci {
        remote: Box<oci::Remote>,
        found: oci::Found,
    },
    /// A GitRepository's or Bucket's artifact.
    Artifact { artifact: Artifact },
}

/// The chart's files, as read.
enum Source {
    /// A downloaded package and its files.
    Package { files: Vec<File>, bytes: Vec<u8> },
    /// A directory's files, and the values files read from the source's
    /// root (`None` for a missing one).
    Dir {
        files: Vec<File>,
        values: Vec<Option<Vec<u8>>>,
    },
}

/// The highest version matching `constraint`, as Helm picks (Masterminds'
/// constraints; the first entry wins among equal versions).
fn pick<'a>(constraint: &str, versions: &'a [ChartVersion]) -> Result<&'a ChartVersion, String> {
    let best = semver::highest_match(constraint, versions.iter().map(|v| v.version.as_str()))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("no chart version found that matches the constraint '{constraint}'")
        })?;
    versions
        .iter()
        .find(|v| v.version == best)
        .ok_or_else(|| format!("version '{best}' has no entry"))
}

/// The chart's download URL: the entry's first URL, resolved against the
/// repository URL when relative (as Helm resolves it).
fn chart_url(repo_url: &str, version: &ChartVersion) -> Result<reqwest::Url, String> {
    let first = version
        .urls
        .first()
        .ok_or("the index lists no URL for it")?;
    let base = reqwest::Url::parse(&format!("{}/", repo_url.trim_end_matches('/')))
        .map_err(|e| format!("spec.url of the HelmRepository is not a URL: {e}"))?;
    base.join(first)
        .map_err(|e| format!("the index's URL '{first}' is not a URL: {e}"))
}

/// Whether `url` is on the repository's host (scheme, host and port), where
/// its credentials may go.
fn same_host(repo_url: &str, url: &reqwest::Url) -> bool {
    reqwest::Url::parse(repo_url).is_ok_and(|r| {
        r.scheme() == url.scheme()
            && r.host_str() == url.host_str()
            && r.port_or_known_default() == url.port_or_known_default()
    })
}

/// The chart name of a stored artifact, from its file name.
fn chart_name(a: &Artifact) -> String {
    let file = a.path.rsplit('/').next().unwrap_or(&a.path);
    file.strip_suffix(&format!("-{}.tgz", a.revision))
        .unwrap_or(file)
        .to_owned()
}

/// The source is missing or has no artifact yet: waited for at the
/// HelmChart's interval.
fn unavailable(obj: &HelmChart, message: &str) -> ReconcileError {
    let interval = obj
        .spec
        .interval
        .get()
        .ok()
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT);
    ReconcileError::waiting(interval, names::SOURCE_UNAVAILABLE, Scrubbed::new(message))
        .with_condition(names::FETCH_FAILED)
}

fn fetch_failed(reason: &'static str, message: &str, secrets: &[String]) -> ReconcileError {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    ReconcileError::transient(reason, Scrubbed::with_secrets(message, &secrets))
        .with_condition(names::FETCH_FAILED)
}

/// Building the chart failed: retried with backoff, with an event.
fn build_failed(reason: &'static str, message: &str) -> ReconcileError {
    ReconcileError::transient(reason, Scrubbed::new(message)).with_condition(names::BUILD_FAILED)
}

/// No chart or version matches: retried (a new index may bring it), with
/// an event.
fn reference_error(message: &str) -> ReconcileError {
    ReconcileError::transient(names::CHART_REFERENCE_ERROR, Scrubbed::new(message))
        .with_condition(names::FETCH_FAILED)
}

impl Reconciler<HelmChart> for HelmChartReconciler {
    async fn reconcile(
        &self,
        obj: Arc<HelmChart>,
        status: &mut HelmChartStatus,
    ) -> Result<Outcome, ReconcileError> {
        self.reconcile_storage(status);
        let resolved = self.reconcile_source(&obj, status).await?;
        self.reconcile_artifact(&obj, status, resolved).await?;
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<HelmChart>) -> Result<(), ReconcileError> {
        self.storage
            .remove_all(&Self::key(&obj))
            .map_err(|e| storage_failed(&format!("removing the artifacts failed: {e}")))
    }

    fn success_reason(&self) -> &'static str {
        "ChartPullSucceeded"
    }

    fn ready_message(&self, status: &HelmChartStatus) -> String {
        status.artifact.as_ref().map_or_else(String::new, |a| {
            format!(
                "packaged '{}' chart with version '{}'",
                chart_name(a),
                a.revision
            )
        })
    }
}

/// Whether `reconcileStrategy: Revision` applies: as in Flux, only to charts built from a
/// GitRepository or Bucket; a HelmRepository's chart versions are what they are (its index
/// digest changes with every chart in it).
fn revision_strategy(obj: &HelmChart) -> bool {
    obj.spec.reconcile_strategy.as_deref() == Some("Revision")
        && obj.spec.source_ref.kind != "HelmRepository"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_leaving_the_artifact_are_refused() {
        assert_eq!(confined("./charts/app/").as_deref(), Some("charts/app"));
        assert_eq!(confined("a/../b").as_deref(), Some("b"));
        assert_eq!(confined("../x"), None);
        assert_eq!(confined("/etc"), None);
    }

    #[test]
    fn revision_suffix_is_the_first_twelve_hash_characters() {
        assert_eq!(
            short_revision("main@sha1:0123456789abcdef0123456789abcdef01234567"),
            "0123456789ab"
        );
        assert_eq!(short_revision("sha256:fedcba9876543210aa"), "fedcba987654");
    }

    #[test]
    fn relative_chart_urls_resolve_against_the_repository() {
        let v = ChartVersion {
            urls: vec!["charts/demo-1.0.0.tgz".into()],
            ..ChartVersion::default()
        };
        let url = chart_url("http://h:1/repo", &v).unwrap();
        assert_eq!(url.as_str(), "http://h:1/repo/charts/demo-1.0.0.tgz");
        assert!(same_host("http://h:1/repo", &url));
        assert!(!same_host("http://h:2/repo", &url));
    }

    #[test]
    fn the_highest_matching_version_is_picked() {
        let v = |s: &str| ChartVersion {
            version: s.into(),
            ..ChartVersion::default()
        };
        let versions = [v("1.0.0"), v("1.2.0"), v("2.0.0")];
        assert_eq!(pick("^1", &versions).unwrap().version, "1.2.0");
        assert!(
            pick(">=3", &versions)
                .unwrap_err()
                .contains("no chart version")
        );
    }
}
