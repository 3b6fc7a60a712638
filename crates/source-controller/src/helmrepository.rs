//! The HelmRepository reconciler: fetch a chart repository's `index.yaml`,
//! check it is an index, and store it as the artifact, writing nothing
//! when its digest did not change.
//!
//! `type: oci` HelmRepositories are static objects, as in Flux: the
//! runtime leaves them alone ([`ferroflux_api::kind::Kind::is_static`]);
//! HelmCharts read their URL and Secrets.
//!
//! Sub-reconcilers, in order:
//! 1. [`HelmRepositoryReconciler::reconcile_storage`]: checks that the
//!    recorded artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`HelmRepositoryReconciler::reconcile_source`]: reads the Secrets,
//!    downloads the index (streamed to a file, within `spec.timeout` and
//!    `--helm-index-max-size`) and, when its digest differs from the stored
//!    artifact's, checks that it is an index without holding it in memory.
//!    Sets or clears `FetchFailed` (`AuthenticationFailed`,
//!    `IndexationFailed`, `URLInvalid`).
//! 3. [`HelmRepositoryReconciler::reconcile_artifact`]: stores the index as
//!    `index-<hex digest>.yaml` with revision `sha256:<hex>`. Sets
//!    `ArtifactInStorage`, sets or clears `StorageOperationFailed`.

pub mod http;
pub mod index;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::source::{HelmChart, HelmRepository, HelmRepositoryStatus};
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{self, Options, Reconciler};
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use kube::{Client, ResourceExt as _};

use crate::helmchart::HelmChartReconciler;
use http::{Cap, FetchError};

/// Conditions and reasons this reconciler writes, as Flux names them.
pub mod names {
    pub use ferroflux_api::source::conditions::{
        ARTIFACT_IN_STORAGE, FETCH_FAILED, STORAGE_OPERATION_FAILED,
    };

    /// Reason: credentials were missing, malformed or refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: the index could not be fetched or is not an index.
    pub const INDEXATION_FAILED: &str = "IndexationFailed";
    /// Reason: `spec.url` cannot be used.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Reason: storing the artifact failed.
    pub const STORAGE_FAILED: &str = "StorageOperationFailed";
}

/// How long a fetch may take when `spec.timeout` is omitted, as in Flux.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of `--helm-index-max-size`: 50 MiB, as Flux's.
pub const DEFAULT_MAX_INDEX_SIZE: u64 = 50 << 20;

/// The kind name used in storage paths.
const KIND: &str = "HelmRepository";

/// The Helm flags of the source-controller, named as Flux's.
#[derive(Clone, Debug, clap::Args)]
pub struct HelmFlags {
    /// Largest Helm repository index fetched, e.g. `50Mi`.
    #[arg(long, default_value = "50Mi")]
    pub helm_index_max_size: String,
    /// Largest packaged chart downloaded, e.g. `10Mi`.
    #[arg(long, default_value = "10Mi")]
    pub helm_chart_max_size: String,
}

/// Starts the HelmRepository and HelmChart controllers, stopping when
/// `shutdown` completes; the returned future ends when both have.
///
/// # Errors
/// An invalid size flag.
pub fn spawn<S>(
    client: &Client,
    storage: &Storage,
    options: &Options,
    flags: &HelmFlags,
    shutdown: impl Fn() -> S,
) -> Result<impl Future<Output = ()> + Send + 'static, ferroflux_runtime::process::Error>
where
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let index_size =
        ferroflux_runtime::process::size_flag("helm-index-max-size", &flags.helm_index_max_size)?;
    let chart_size =
        ferroflux_runtime::process::size_flag("helm-chart-max-size", &flags.helm_chart_max_size)?;
    let repos = Arc::new(
        HelmRepositoryReconciler::new(client.clone(), storage.clone())
            .with_max_index_size(index_size),
    );
    let charts = Arc::new(
        HelmChartReconciler::new(client.clone(), storage.clone()).with_max_chart_size(chart_size),
    );
    let repos = tokio::spawn(controller::run::<HelmRepository, _>(
        client.clone(),
        repos,
        options.clone(),
        shutdown(),
    ));
    let triggers = crate::helmchart::triggers::artifact_triggers(
        client.clone(),
        options.namespace.as_deref(),
        options.label_selector.clone(),
    );
    let charts = tokio::spawn(controller::run_with_triggers::<HelmChart, _>(
        client.clone(),
        charts,
        options.clone(),
        triggers,
        shutdown(),
    ));
    Ok(async move {
        let _ = tokio::join!(repos, charts);
    })
}

/// Reconciles HelmRepositories into stored indexes.
pub struct HelmRepositoryReconciler {
    client: Client,
    storage: Storage,
    max_index_size: u64,
    /// Index downloads performed, for tests and benchmarks.
    pub fetches: AtomicU64,
}

impl HelmRepositoryReconciler {
    /// A reconciler reading Secrets with `client` and writing to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            max_index_size: DEFAULT_MAX_INDEX_SIZE,
            fetches: AtomicU64::new(0),
        }
    }

    /// Refuses indexes larger than `bytes` (`--helm-index-max-size`).
    #[must_use]
    pub fn with_max_index_size(mut self, bytes: u64) -> Self {
        self.max_index_size = bytes;
        self
    }

    /// The storage key of `obj`'s artifacts.
    #[must_use]
    pub fn key(obj: &HelmRepository) -> ObjectKey {
        crate::artifacts::key(KIND, obj)
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut HelmRepositoryStatus) {
        crate::artifacts::reconcile_storage(
            &self.storage,
            status.artifact.as_ref(),
            &mut status.conditions,
            |a| format!("stored artifact: revision '{}'", a.revision),
            "fetched again",
        );
    }

    /// Downloads the index; returns it when it differs from the stored one,
    /// checked to be an index.
    async fn reconcile_source(
        &self,
        obj: &HelmRepository,
        status: &mut HelmRepositoryStatus,
    ) -> Result<Option<Fetched>, ReconcileError> {
        let url = obj.spec.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ReconcileError::stalled(
                names::URL_INVALID,
                Scrubbed::new(&format!(
                    "spec.url '{url}': a HelmRepository of type 'default' needs an http:// or https:// URL (use type 'oci' for oci://)"
                )),
            ));
        }
        let ns = obj.namespace().unwrap_or_default();
        let auth = http::read_auth(&self.client, &ns, obj)
            .await
            .map_err(|e| fetch_failed(names::AUTHENTICATION_FAILED, &e.to_string(), &[]))?;
        let secrets = auth.secrets();
        let timeout = obj
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        let client = auth.client(timeout).map_err(|m| {
            fetch_failed(
                names::AUTHENTICATION_FAILED,
                &format!(
                    "building an HTTP client with the certificates of the Secrets failed: {m}"
                ),
                &secrets,
            )
        })?;
        let index_url = format!("{url}/index.yaml");
        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a download directory failed: {e}")))?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let cap = Cap {
            max: self.max_index_size,
            flag: "--helm-index-max-size",
        };
        let download = http::download(&client, &index_url, auth.basic.as_ref(), cap, dir.path())
            .await
            .map_err(|e| {
                let reason = if matches!(e, FetchError::Unauthorized { .. }) {
                    names::AUTHENTICATION_FAILED
                } else {
                    names::INDEXATION_FAILED
                };
                fetch_failed(
                    reason,
                    &format!("failed to fetch Helm repository index: {e}"),
                    &secrets,
                )
            })?;
        let revision = download.digest.clone();
        if let Some(a) = &status.artifact
            && a.digest.as_deref() == Some(revision.as_str())
            && self.storage.exists(a)
        {
            conditions::remove(&mut status.conditions, names::FETCH_FAILED);
            return Ok(None);
        }
        let path = download.file.path().to_path_buf();
        let summary = tokio::task::spawn_blocking(move || index::summarize(&path))
            .await
            .map_err(|e| {
                fetch_failed(
                    names::INDEXATION_FAILED,
                    &format!("reading the index: {e}"),
                    &[],
                )
            })?
            .map_err(|e| {
                fetch_failed(
                    names::INDEXATION_FAILED,
                    &format!("failed to load Helm repository from index YAML {index_url}: {e}"),
                    &secrets,
                )
            })?;
        tracing::debug!(
            object = %format!("{ns}/{}", obj.name_any()),
            charts = summary.charts,
            versions = summary.versions,
            size = download.size,
            "fetched a new index"
        );
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        Ok(Some(Fetched {
            path: download.file.path().to_path_buf(),
            _file: download.file,
            _dir: dir,
            revision,
        }))
    }

    /// Stores the index and records the artifact.
    fn reconcile_artifact(
        &self,
        obj: &HelmRepository,
        status: &mut HelmRepositoryStatus,
        fetched: &Fetched,
    ) -> Result<(), ReconcileError> {
        let key = Self::key(obj);
        let hex = fetched
            .revision
            .strip_prefix("sha256:")
            .unwrap_or(&fetched.revision);
        let artifact = self
            .storage
            .store_file(
                &key,
                &fetched.path,
                &format!("index-{hex}.yaml"),
                &fetched.revision,
            )
            .map_err(|e| {
                storage_failed(&format!(
                    "storing the index of revision '{}' failed: {e}",
                    fetched.revision
                ))
            })?;
        if let Err(e) = self.storage.garbage_collect(&key, &artifact) {
            tracing::warn!(error = %e, "removing old artifacts failed");
        }
        conditions::set(
            &mut status.conditions,
            names::ARTIFACT_IN_STORAGE,
            true,
            "Succeeded",
            &format!("stored artifact: revision '{}'", artifact.revision),
            None,
        );
        conditions::remove(&mut status.conditions, names::STORAGE_OPERATION_FAILED);
        status.url = Some(artifact.url.clone());
        status.artifact = Some(artifact);
        Ok(())
    }
}

/// A downloaded index that differs from the stored one.
struct Fetched {
    _file: tempfile::NamedTempFile,
    _dir: tempfile::TempDir,
    path: PathBuf,
    revision: String,
}

/// A `FetchFailed` error, retried with backoff, its message scrubbed.
fn fetch_failed(reason: &'static str, message: &str, secrets: &[String]) -> ReconcileError {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    ReconcileError::transient(reason, Scrubbed::with_secrets(message, &secrets))
        .with_condition(names::FETCH_FAILED)
}

/// A `StorageOperationFailed` error.
pub(crate) fn storage_failed(message: &str) -> ReconcileError {
    ReconcileError::transient(names::STORAGE_FAILED, Scrubbed::new(message))
        .with_condition(names::STORAGE_OPERATION_FAILED)
}

/// Deletes the artifacts of HelmRepositories and HelmCharts that no longer
/// exist (deleted while no controller ran), within `namespace` when given.
///
/// # Errors
/// The API error of listing the objects, or the storage error.
pub async fn remove_orphaned_artifacts(
    client: &Client,
    storage: &Storage,
    namespace: Option<&str>,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error + Send + Sync>> {
    let mut removed =
        crate::artifacts::remove_orphaned::<HelmRepository>(client, storage, KIND, namespace)
            .await?;
    removed.extend(
        crate::artifacts::remove_orphaned::<HelmChart>(
            client,
            storage,
            crate::helmchart::KIND,
            namespace,
        )
        .await?,
    );
    Ok(removed)
}

impl Reconciler<HelmRepository> for HelmRepositoryReconciler {
    async fn reconcile(
        &self,
        obj: Arc<HelmRepository>,
        status: &mut HelmRepositoryStatus,
    ) -> Result<Outcome, ReconcileError> {
        self.reconcile_storage(status);
        if let Some(fetched) = self.reconcile_source(&obj, status).await? {
            self.reconcile_artifact(&obj, status, &fetched)?;
        }
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<HelmRepository>) -> Result<(), ReconcileError> {
        self.storage
            .remove_all(&Self::key(&obj))
            .map_err(|e| storage_failed(&format!("removing the artifacts failed: {e}")))
    }

    fn success_reason(&self) -> &'static str {
        "NewArtifact"
    }

    fn ready_message(&self, status: &HelmRepositoryStatus) -> String {
        status.artifact.as_ref().map_or_else(String::new, |a| {
            format!("stored artifact: revision '{}'", a.revision)
        })
    }
}
