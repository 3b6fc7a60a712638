//! The OCIRepository reconciler: resolve the tag, semver range or digest to a
//! manifest digest, pull the selected layer when that digest changed, and
//! store it as an artifact (extracted and re-packed, or copied as is).
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses spec fields this controller does not
//!    implement (`verify`, `proxySecretRef`,
//!    `credential`, providers other than `generic`). Stalls with
//!    `UnsupportedConfiguration`.
//! 1. [`OCIRepositoryReconciler::reconcile_storage`]: checks that the
//!    recorded artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`OCIRepositoryReconciler::reconcile_source`]: reads `secretRef` (else
//!    the image pull secrets of `serviceAccountName`) and `certSecretRef`, picks the tag (listing tags only for `semver`),
//!    resolves its manifest digest with a `HEAD`, and only when the revision
//!    or the spec fields shaping the artifact changed (or the artifact is
//!    gone) pulls the manifest and the selected layer (size-capped, digest
//!    checked). Sets or clears `FetchFailed`.
//! 3. [`OCIRepositoryReconciler::reconcile_artifact`]: unpacks the layer
//!    (confined paths, size limits) and re-packs it minus ignored files, or
//!    copies it as is, into storage, and records it in status. Sets
//!    `ArtifactInStorage`, sets or clears `StorageOperationFailed`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::source::{OCIRepository, OCIRepositoryStatus};
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_oci::auth::Credentials;
use ferroflux_oci::registry::{Descriptor, Error as OciError, Manifest};
use ferroflux_oci::url::{OciUrl, is_sha256_digest};
use ferroflux_oci::{FLUX_CONTENT_MEDIA_TYPE, Registry, RegistryOptions};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{self, Options, Reconciler};
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::{Api, Client, ResourceExt as _};

use crate::semver;
use crate::sourceignore::SourceIgnore;

/// Conditions and reasons this reconciler writes, as Flux names them.
pub mod names {
    pub use ferroflux_api::source::conditions::{
        ARTIFACT_IN_STORAGE, FETCH_FAILED, STORAGE_OPERATION_FAILED,
    };

    /// Reason: resolving or pulling the artifact failed.
    pub const OCI_PULL_FAILED: &str = "OCIArtifactPullFailed";
    /// Reason: the layer could not be selected, unpacked or copied.
    pub const OCI_LAYER_OPERATION_FAILED: &str = "OCIArtifactLayerOperationFailed";
    /// Reason: listing the tags (for `semver`) failed or matched nothing.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// Reason: a Secret was missing or malformed.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: `spec.url` or `spec.ref` is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Reason: the spec asks for something this controller cannot do.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
}

/// How long registry operations may take when `spec.timeout` is omitted, as in Flux.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The kind name used in storage paths.
const KIND: &str = "OCIRepository";

/// The default of [`OCIRepositoryReconciler::with_max_layer_size`]: 1 GiB,
/// the most the artifact client unpacks by default.
pub const DEFAULT_MAX_LAYER_SIZE: u64 = 1 << 30;

/// Reconciles OCIRepositories into artifacts in `storage`.
pub struct OCIRepositoryReconciler {
    client: Client,
    storage: Storage,
    max_layer_size: u64,
    /// Layers downloaded, for metrics and tests (an unchanged digest downloads none).
    pub pulls: AtomicU64,
}

/// Runs the OCIRepository controller until `shutdown`, after removing the
/// artifacts of OCIRepositories deleted while no controller ran: the
/// source-controller binary's one call, so its wiring stays in this module.
pub fn spawn(
    client: Client,
    storage: Storage,
    options: Options,
    max_layer_size: u64,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match remove_orphaned_artifacts(&client, &storage, options.namespace.as_deref()).await {
            Ok(removed) => {
                tracing::info!(
                    count = removed.len(),
                    "removed orphaned OCIRepository artifacts"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "removing orphaned OCIRepository artifacts failed; continuing");
            }
        }
        let reconciler = Arc::new(
            OCIRepositoryReconciler::new(client.clone(), storage)
                .with_max_layer_size(max_layer_size),
        );
        controller::run::<OCIRepository, _>(client, reconciler, options, shutdown).await;
    })
}

impl OCIRepositoryReconciler {
    /// A reconciler that reads Secrets with `client` and writes to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            max_layer_size: DEFAULT_MAX_LAYER_SIZE,
            pulls: AtomicU64::new(0),
        }
    }

    /// Refuses layers larger than `bytes`, compressed or unpacked
    /// (`--max-oci-layer-size`).
    #[must_use]
    pub fn with_max_layer_size(mut self, bytes: u64) -> Self {
        self.max_layer_size = bytes;
        self
    }

    fn key(obj: &OCIRepository) -> ObjectKey {
        crate::artifacts::key(KIND, obj)
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut OCIRepositoryStatus) {
        crate::artifacts::reconcile_storage(
            &self.storage,
            status.artifact.as_ref(),
            &mut status.conditions,
            |a| format!("stored artifact for digest '{}'", a.revision),
            "pulled again",
        );
    }

    /// Resolves the revision and pulls the layer when needed; `None` when
    /// the stored artifact is current.
    async fn reconcile_source(
        &self,
        obj: &OCIRepository,
        status: &mut OCIRepositoryStatus,
    ) -> Result<Option<Pulled>, ReconcileError> {
        let url = OciUrl::parse(&obj.spec.url, false).map_err(|e| {
            ReconcileError::stalled(names::URL_INVALID, Scrubbed::new(&e.to_string()))
        })?;
        let ns = obj.namespace().unwrap_or_default();
        let (credentials, ca_pem) = self.secrets(obj, &ns, &url.registry).await?;
        let secrets: Vec<String> = credentials
            .as_ref()
            .map(|c| c.password.clone())
            .into_iter()
            .collect();
        // The runtime refuses an invalid timeout before the reconcile starts.
        let timeout = obj
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        let registry = Registry::new(RegistryOptions {
            insecure: obj.spec.insecure,
            ca_pem,
            credentials,
            timeout: Some(timeout),
        })
        .map_err(|e| fetch_failed(names::AUTHENTICATION_FAILED, &e.to_string(), &secrets))?;
        let within = |what: &str| {
            format!(
                "{what} {} did not finish within {timeout:?}; raise spec.timeout",
                url.repository_url()
            )
        };

        let (tag, digest) = self
            .pick(obj, &registry, &url, timeout)
            .await
            .map_err(|m| fetch_failed(names::READ_OPERATION_FAILED, &m, &secrets))?;
        let resolved = tokio::time::timeout(
            timeout,
            registry.resolve(&url, tag.as_deref(), digest.as_deref()),
        )
        .await
        .map_err(|_| fetch_failed(names::OCI_PULL_FAILED, &within("resolving"), &secrets))?
        .map_err(|e| {
            fetch_failed(
                names::OCI_PULL_FAILED,
                &format!(
                    "failed to determine artifact digest: {}",
                    hint(&e, obj.spec.insecure)
                ),
                &secrets,
            )
        })?;
        let revision = match (&digest, &tag) {
            (Some(_), _) | (None, None) => resolved.clone(),
            (None, Some(t)) => format!("{t}@{resolved}"),
        };
        if self.is_current(obj, status, &revision) {
            conditions::remove(&mut status.conditions, names::FETCH_FAILED);
            return Ok(None);
        }

        let pull = self.pull(obj, &registry, &url, &resolved, revision, &secrets);
        let pulled = tokio::time::timeout(timeout, pull)
            .await
            .map_err(|_| fetch_failed(names::OCI_PULL_FAILED, &within("pulling"), &secrets))??;
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        Ok(Some(pulled))
    }

    /// Pulls the manifest `resolved` and its selected layer into a temp file.
    async fn pull(
        &self,
        obj: &OCIRepository,
        registry: &Registry,
        url: &OciUrl,
        resolved: &str,
        revision: String,
        secrets: &[String],
    ) -> Result<Pulled, ReconcileError> {
        let hint = |e: &OciError| hint(e, obj.spec.insecure);
        let manifest = registry
            .manifest(url, None, Some(resolved))
            .await
            .map_err(|e| {
                fetch_failed(
                    names::OCI_PULL_FAILED,
                    &format!(
                        "failed to pull artifact from '{}': {}",
                        obj.spec.url,
                        hint(&e)
                    ),
                    secrets,
                )
            })?;
        let layer = select_layer(obj, &manifest)
            .map_err(|m| fetch_failed(names::OCI_LAYER_OPERATION_FAILED, &m, secrets))?;
        let file = tempfile::NamedTempFile::new()
            .map_err(|e| storage_failed(&format!("creating a file for the layer failed: {e}")))?;
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let file = registry
            .pull_blob(url, &layer, file, self.max_layer_size)
            .await
            .map_err(|e| {
                let reason = if matches!(
                    e,
                    OciError::TooLarge { .. } | OciError::DigestMismatch { .. }
                ) {
                    names::OCI_LAYER_OPERATION_FAILED
                } else {
                    names::OCI_PULL_FAILED
                };
                fetch_failed(reason, &hint(&e), secrets)
            })?;
        Ok(Pulled {
            file,
            revision,
            digest: resolved.to_owned(),
            annotations: manifest.annotations(),
        })
    }

    /// The tag and digest to resolve: `ref.digest`, else the highest tag in
    /// the `ref.semver` range (filtered by `semverFilter`), else `ref.tag`,
    /// else `latest`, as Flux orders them.
    async fn pick(
        &self,
        obj: &OCIRepository,
        registry: &Registry,
        url: &OciUrl,
        timeout: Duration,
    ) -> Result<(Option<String>, Option<String>), String> {
        let r = obj.spec.reference.clone().unwrap_or_default();
        if let Some(digest) = r.digest {
            if !is_sha256_digest(&digest) {
                return Err(format!(
                    "spec.ref.digest '{digest}' is not sha256:<64 hex digits>"
                ));
            }
            return Ok((None, Some(digest)));
        }
        let Some(constraint) = r.semver else {
            return Ok((Some(r.tag.unwrap_or_else(|| "latest".to_owned())), None));
        };
        let fail = |m: String| {
            format!(
                "failed to determine the artifact tag for '{}': {m}",
                obj.spec.url
            )
        };
        let filter = r
            .semver_filter
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| {
                fail(format!(
                    "spec.ref.semverFilter is not a valid regular expression: {e}"
                ))
            })?;
        let tags = tokio::time::timeout(timeout, registry.list_tags(url))
            .await
            .map_err(|_| {
                fail(format!(
                    "listing the tags did not finish within {timeout:?}"
                ))
            })?
            .map_err(|e| fail(e.to_string()))?;
        let candidates = tags
            .iter()
            .map(String::as_str)
            .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)));
        let tag = semver::highest_match(&constraint, candidates)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| {
                fail(format!(
                    "no tag of the {} tags matches the semver range '{constraint}'{}",
                    tags.len(),
                    r.semver_filter
                        .map(|f| format!(" and the filter '{f}'"))
                        .unwrap_or_default()
                ))
            })?;
        Ok((Some(tag), None))
    }

    /// Whether the stored artifact is current: the same revision, still
    /// stored, and built with the same ignore rules and layer selector.
    fn is_current(
        &self,
        obj: &OCIRepository,
        status: &OCIRepositoryStatus,
        revision: &str,
    ) -> bool {
        matches!(&status.artifact, Some(a) if a.revision == revision && self.storage.exists(a))
            && status.observed_ignore == obj.spec.ignore
            && status.observed_layer_selector == obj.spec.layer_selector
    }

    /// Stores the pulled layer (unpacked and re-packed minus ignored files,
    /// or copied) and records the artifact.
    fn reconcile_artifact(
        &self,
        obj: &OCIRepository,
        status: &mut OCIRepositoryStatus,
        pulled: &Pulled,
    ) -> Result<(), ReconcileError> {
        let key = Self::key(obj);
        let hex = pulled.digest.trim_start_matches("sha256:");
        let file_name = format!("{hex}.tar.gz");
        let layer_failed = |m: String| {
            ReconcileError::transient(names::OCI_LAYER_OPERATION_FAILED, Scrubbed::new(&m))
                .with_condition(names::FETCH_FAILED)
        };
        let mut artifact = if copy(obj) {
            self.storage
                .store_file(&key, pulled.file.path(), &file_name, &pulled.revision)
        } else {
            let dir = tempfile::tempdir().map_err(|e| {
                storage_failed(&format!("creating a directory for the layer failed: {e}"))
            })?;
            let layer = std::fs::File::open(pulled.file.path())
                .map_err(|e| storage_failed(&format!("reading the layer failed: {e}")))?;
            let limits = ferroflux_artifact::extract::Limits {
                max_bytes: self.max_layer_size,
                ..ferroflux_artifact::extract::Limits::default()
            };
            ferroflux_artifact::extract::tar_gz(std::io::BufReader::new(layer), dir.path(), limits)
                .map_err(|e| {
                    use ferroflux_artifact::extract::Error as Extract;
                    let fix = match e {
                        Extract::TooLarge { .. } => {
                            "raise the source-controller's --max-oci-layer-size or push a smaller artifact"
                        }
                        Extract::Corrupt(_) => {
                            "push a tar.gz layer or set spec.layerSelector.operation: copy"
                        }
                        _ => "push an artifact made by `flux push artifact`",
                    };
                    layer_failed(format!(
                        "extracting the layer of revision '{}' failed: {e}; {fix}",
                        pulled.revision
                    ))
                })?;
            let ignore = SourceIgnore::load(dir.path(), obj.spec.ignore.as_deref()).map_err(|e| {
                ReconcileError::stalled("InvalidIgnore", Scrubbed::new(&e.to_string()))
            })?;
            self.storage
                .archive(&key, dir.path(), &ignore, &file_name, &pulled.revision)
        }
        .map_err(|e| {
            storage_failed(&format!(
                "storing the artifact for revision '{}' failed: {e}",
                pulled.revision
            ))
        })?;
        if !pulled.annotations.is_empty() {
            artifact.metadata = Some(pulled.annotations.clone());
        }
        if let Err(e) = self.storage.garbage_collect(&key, &artifact) {
            tracing::warn!(error = %e, "removing old artifacts failed");
        }
        conditions::set(
            &mut status.conditions,
            names::ARTIFACT_IN_STORAGE,
            true,
            "Succeeded",
            &format!("stored artifact for digest '{}'", artifact.revision),
            None,
        );
        conditions::remove(&mut status.conditions, names::STORAGE_OPERATION_FAILED);
        status.url = Some(artifact.url.clone());
        status.artifact = Some(artifact);
        status.observed_ignore.clone_from(&obj.spec.ignore);
        status
            .observed_layer_selector
            .clone_from(&obj.spec.layer_selector);
        Ok(())
    }

    /// The login from `spec.secretRef` (a `.dockerconfigjson` for the
    /// registry) and the CA from `spec.certSecretRef` (`ca.crt`). Problems
    /// with a Secret are retried: fixing it does not change the object.
    async fn secrets(
        &self,
        obj: &OCIRepository,
        ns: &str,
        registry: &str,
    ) -> Result<(Option<Credentials>, Option<Vec<u8>>), ReconcileError> {
        let mut credentials = None;
        if let Some(r) = &obj.spec.secret_ref {
            let data = self.secret_data(ns, &r.name, "spec.secretRef").await?;
            let invalid = |m: String| {
                fetch_failed(
                    names::AUTHENTICATION_FAILED,
                    &format!("Secret '{ns}/{}' named in spec.secretRef: {m}", r.name),
                    &[],
                )
            };
            let json = data.get(".dockerconfigjson").ok_or_else(|| {
                invalid("it has no '.dockerconfigjson'; create it with kubectl create secret docker-registry".to_owned())
            })?;
            credentials = ferroflux_oci::auth::from_docker_config(&json.0, registry)
                .map_err(|e| invalid(e.to_string()))?;
            if credentials.is_none() {
                return Err(invalid(format!(
                    "it has no login for the registry '{registry}'"
                )));
            }
        }
        if credentials.is_none()
            && let Some(sa) = &obj.spec.service_account_name
        {
            credentials = self.service_account_login(ns, sa, registry).await?;
        }
        let mut ca = None;
        if let Some(r) = &obj.spec.cert_secret_ref {
            let data = self.secret_data(ns, &r.name, "spec.certSecretRef").await?;
            if data.contains_key("tls.crt") || data.contains_key("tls.key") {
                return Err(ReconcileError::stalled(
                    names::UNSUPPORTED,
                    Scrubbed::new(&format!(
                        "Secret '{ns}/{}' named in spec.certSecretRef holds a client certificate (tls.crt, tls.key); client certificates to registries are not supported by Ferroflux yet, keep only ca.crt",
                        r.name
                    )),
                ));
            }
            ca = data
                .get("ca.crt")
                .or_else(|| data.get("caFile"))
                .map(|v| v.0.clone());
            if ca.is_none() {
                return Err(fetch_failed(
                    names::AUTHENTICATION_FAILED,
                    &format!(
                        "Secret '{ns}/{}' named in spec.certSecretRef has no 'ca.crt'",
                        r.name
                    ),
                    &[],
                ));
            }
        }
        Ok((credentials, ca))
    }

    /// The first login for `registry` among the image pull secrets of the
    /// ServiceAccount `name` (`spec.serviceAccountName`), as the kubelet and
    /// Flux read them; `None` when none has one.
    async fn service_account_login(
        &self,
        ns: &str,
        name: &str,
        registry: &str,
    ) -> Result<Option<Credentials>, ReconcileError> {
        let sa = Api::<ServiceAccount>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::AUTHENTICATION_FAILED,
                    Scrubbed::new(&format!("reading ServiceAccount '{ns}/{name}' failed: {e}")),
                )
            })?
            .ok_or_else(|| {
                fetch_failed(
                    names::AUTHENTICATION_FAILED,
                    &format!(
                        "ServiceAccount '{ns}/{name}' named in spec.serviceAccountName does not exist"
                    ),
                    &[],
                )
            })?;
        for pull_secret in sa.image_pull_secrets.unwrap_or_default() {
            let field = format!("the imagePullSecrets of ServiceAccount '{ns}/{name}'");
            let data = self.secret_data(ns, &pull_secret.name, &field).await?;
            let Some(json) = data.get(".dockerconfigjson") else {
                continue;
            };
            let login =
                ferroflux_oci::auth::from_docker_config(&json.0, registry).map_err(|e| {
                    fetch_failed(
                        names::AUTHENTICATION_FAILED,
                        &format!("Secret '{ns}/{}' named in {field}: {e}", pull_secret.name),
                        &[],
                    )
                })?;
            if login.is_some() {
                return Ok(login);
            }
        }
        Ok(None)
    }

    async fn secret_data(
        &self,
        ns: &str,
        name: &str,
        field: &str,
    ) -> Result<std::collections::BTreeMap<String, k8s_openapi::ByteString>, ReconcileError> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::AUTHENTICATION_FAILED,
                    Scrubbed::new(&format!("reading Secret '{ns}/{name}' failed: {e}")),
                )
            })?
            .ok_or_else(|| {
                fetch_failed(
                    names::AUTHENTICATION_FAILED,
                    &format!("Secret '{ns}/{name}' named in {field} does not exist"),
                    &[],
                )
            })?;
        Ok(secret.data.unwrap_or_default())
    }
}

/// A pulled layer in a temp file, removed when this is dropped.
struct Pulled {
    file: tempfile::NamedTempFile,
    revision: String,
    digest: String,
    annotations: std::collections::BTreeMap<String, String>,
}

/// Whether the layer is kept as is (`layerSelector.operation: copy`).
fn copy(obj: &OCIRepository) -> bool {
    obj.spec
        .layer_selector
        .as_ref()
        .and_then(|l| l.operation.as_deref())
        == Some("copy")
}

/// The layer `spec.layerSelector.mediaType` names; without one, the first
/// layer of Flux's content type, else the first layer.
fn select_layer(obj: &OCIRepository, manifest: &Manifest) -> Result<Descriptor, String> {
    let layers = &manifest.manifest.layers;
    let wanted = obj
        .spec
        .layer_selector
        .as_ref()
        .and_then(|l| l.media_type.as_deref());
    let found = match wanted {
        Some(t) => layers.iter().find(|l| l.media_type == t),
        None => layers
            .iter()
            .find(|l| l.media_type == FLUX_CONTENT_MEDIA_TYPE)
            .or_else(|| layers.first()),
    };
    found.cloned().ok_or_else(|| match wanted {
        Some(t) => format!(
            "the artifact {} has no layer of media type '{t}' (it has: {}); fix spec.layerSelector.mediaType",
            manifest.digest,
            layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("the artifact {} has no layers", manifest.digest),
    })
}

/// The error's message, with a hint when an unreachable registry may
/// simply serve plain HTTP, or naming the flag of the size limit.
fn hint(e: &OciError, insecure: bool) -> String {
    let mut m = e.to_string();
    match e {
        OciError::Unreachable { .. } if !insecure => {
            m.push_str(" (if the registry serves plain HTTP, set spec.insecure: true)");
        }
        OciError::TooLarge { .. } => {
            m.push_str(" (the source-controller's --max-oci-layer-size)");
        }
        _ => {}
    }
    m
}

fn fetch_failed(reason: &'static str, message: &str, secrets: &[String]) -> ReconcileError {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    ReconcileError::transient(reason, Scrubbed::with_secrets(message, &secrets))
        .with_condition(names::FETCH_FAILED)
}

fn storage_failed(message: &str) -> ReconcileError {
    ReconcileError::transient("StorageOperationFailed", Scrubbed::new(message))
        .with_condition(names::STORAGE_OPERATION_FAILED)
}

/// Refuses the spec fields not implemented, naming them all.
///
/// # Errors
/// A stalled [`ReconcileError`] listing the unsupported fields.
pub fn reconcile_supported(obj: &OCIRepository) -> Result<(), ReconcileError> {
    let spec = &obj.spec;
    let mut unsupported = Vec::new();
    if spec.verify.is_some() {
        unsupported.push("spec.verify");
    }
    if spec.proxy_secret_ref.is_some() {
        unsupported.push("spec.proxySecretRef");
    }
    if spec.credential.is_some() {
        unsupported.push("spec.credential");
    }
    if spec.provider.as_deref().is_some_and(|p| p != "generic") {
        unsupported.push("spec.provider (only 'generic')");
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(ReconcileError::stalled(
        names::UNSUPPORTED,
        Scrubbed::new(&format!(
            "{} not supported by Ferroflux yet; remove them, or keep this OCIRepository on Flux for now",
            unsupported.join(", ")
                + if unsupported.len() == 1 {
                    " is"
                } else {
                    " are"
                }
        )),
    ))
}

/// Deletes the artifacts of OCIRepositories that no longer exist (deleted
/// while no controller ran), within `namespace` when given.
///
/// # Errors
/// The API error of listing the OCIRepositories, or the storage error.
pub async fn remove_orphaned_artifacts(
    client: &Client,
    storage: &Storage,
    namespace: Option<&str>,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error + Send + Sync>> {
    crate::artifacts::remove_orphaned::<OCIRepository>(client, storage, KIND, namespace).await
}

impl Reconciler<OCIRepository> for OCIRepositoryReconciler {
    async fn reconcile(
        &self,
        obj: Arc<OCIRepository>,
        status: &mut OCIRepositoryStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj)?;
        self.reconcile_storage(status);
        if let Some(pulled) = self.reconcile_source(&obj, status).await? {
            self.reconcile_artifact(&obj, status, &pulled)?;
        }
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<OCIRepository>) -> Result<(), ReconcileError> {
        self.storage
            .remove_all(&Self::key(&obj))
            .map_err(|e| storage_failed(&format!("removing the artifacts failed: {e}")))
    }

    fn success_reason(&self) -> &'static str {
        "NewArtifact"
    }

    fn ready_message(&self, status: &OCIRepositoryStatus) -> String {
        status.artifact.as_ref().map_or_else(String::new, |a| {
            format!("stored artifact for digest '{}'", a.revision)
        })
    }
}

#[cfg(test)]
mod tests {
    use ferroflux_api::source::{OCILayerSelector, OCIRepository, OCIRepositorySpec};
    use ferroflux_oci::registry::{Descriptor, Manifest};

    use super::{reconcile_supported, select_layer};

    fn repo(spec: OCIRepositorySpec) -> OCIRepository {
        OCIRepository::new("app", spec)
    }

    fn layer(media_type: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            ..Descriptor::default()
        }
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let mut spec = OCIRepositorySpec {
            provider: Some("aws".to_owned()),
            proxy_secret_ref: Some(ferroflux_api::meta::LocalObjectReference {
                name: "proxy".to_owned(),
            }),
            ..OCIRepositorySpec::default()
        };
        let e = reconcile_supported(&repo(spec.clone())).expect_err("refused");
        assert_eq!(e.reason, "UnsupportedConfiguration");
        assert!(
            e.message
                .as_str()
                .contains("spec.proxySecretRef, spec.provider"),
            "{}",
            e.message
        );
        spec.provider = Some("generic".to_owned());
        spec.proxy_secret_ref = None;
        assert!(reconcile_supported(&repo(spec)).is_ok());
    }

    #[test]
    fn the_flux_content_layer_is_selected_unless_the_spec_names_one() {
        let mut manifest = Manifest {
            digest: "sha256:m".to_owned(),
            manifest: ferroflux_oci::registry::ImageManifest::default(),
        };
        manifest.manifest.layers = vec![
            layer("application/vnd.other"),
            layer(ferroflux_oci::FLUX_CONTENT_MEDIA_TYPE),
        ];
        let plain = repo(OCIRepositorySpec::default());
        assert_eq!(
            select_layer(&plain, &manifest).expect("found").media_type,
            ferroflux_oci::FLUX_CONTENT_MEDIA_TYPE
        );
        let named = repo(OCIRepositorySpec {
            layer_selector: Some(OCILayerSelector {
                media_type: Some("application/vnd.missing".to_owned()),
                operation: None,
            }),
            ..OCIRepositorySpec::default()
        });
        let e = select_layer(&named, &manifest).expect_err("missing");
        assert!(e.contains("application/vnd.other"), "{e}");
    }
}
