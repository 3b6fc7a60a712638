//! The Bucket reconciler: index the objects of an S3-compatible bucket,
//! and only when the index changed, download them and store them as an
//! artifact, as Flux's source-controller does.
//!
//! The revision is Flux's: `sha256:` over the index (the keys, sorted, each
//! on a line with its etag: `<key> <etag>\n`). An unchanged index downloads
//! nothing. Servers that leave etags out of their listings (`s3s-fs` does)
//! get a `HEAD` per such object, whose etag goes in the index instead (no
//! object is downloaded for it); when even that has none, the index holds
//! `<size>-<last-modified>`, so a changed object still changes the revision.
//! Flux would index an empty etag there and miss the change.
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses what this controller does not
//!    implement: cloud identities (`aws` without `secretRef`, `gcp`,
//!    `azure`, `serviceAccountName`) and `sts`. Stalls with
//!    `UnsupportedConfiguration`.
//! 1. [`BucketReconciler::reconcile_storage`]: checks that the recorded
//!    artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`BucketReconciler::reconcile_source`]: reads `secretRef`
//!    (`accesskey`, `secretkey`), `certSecretRef` and `proxySecretRef`,
//!    reads the bucket's root `.sourceignore`, lists the objects under
//!    `spec.prefix` minus the ignored ones, computes the revision, and only
//!    when it differs from the artifact's downloads the objects
//!    (concurrently, at most [`MAX_CONCURRENT_FETCHES`] at once, within
//!    `--max-bucket-size`, every key confined below the artifact root). Sets
//!    or clears `FetchFailed`.
//! 3. [`BucketReconciler::reconcile_artifact`]: archives the downloaded
//!    objects into storage and records the artifact. Sets
//!    `ArtifactInStorage`, sets or clears `StorageOperationFailed`.

pub mod store;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::source::{Bucket, BucketStatus};
use ferroflux_artifact::digest::HashingWriter;
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{self, Options, Reconciler};
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use futures_util::StreamExt as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt as _};

use crate::sourceignore::{SOURCEIGNORE, SourceIgnore};
use store::{Listed, Settings, Store};

/// Conditions and reasons this reconciler writes, as Flux names them.
pub mod names {
    pub use ferroflux_api::source::conditions::{
        ARTIFACT_IN_STORAGE, FETCH_FAILED, STORAGE_OPERATION_FAILED,
    };

    /// Reason: listing or downloading the objects failed.
    pub const BUCKET_OPERATION_FAILED: &str = "BucketOperationFailed";
    /// Reason: a Secret was missing or malformed.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: `spec.endpoint` is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Reason: the spec asks for something this controller cannot do.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
}

/// The kind name used in storage paths.
pub const KIND: &str = "Bucket";

/// How long listing, and then downloading, may each take when
/// `spec.timeout` is omitted, as in Flux.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of [`BucketReconciler::with_max_size`]: 1 GiB, the most the
/// artifact client unpacks by default.
pub const DEFAULT_MAX_BUCKET_SIZE: u64 = 1 << 30;

/// Objects downloaded (or `HEAD`ed) at once. Flux allows 100; a smaller
/// bound keeps the controller's sockets and memory small beside the other
/// kinds it reconciles at the same time, and still fills a fast link.
pub const MAX_CONCURRENT_FETCHES: usize = 32;

/// The most of a `.sourceignore` object read.
const MAX_SOURCEIGNORE: u64 = 1 << 20;

/// Reconciles Buckets into artifacts in `storage`.
pub struct BucketReconciler {
    client: Client,
    storage: Storage,
    max_size: u64,
    /// Objects downloaded (`GET`s of listed objects), for metrics and tests:
    /// an unchanged index downloads none.
    pub downloads: AtomicU64,
}

/// Runs the Bucket controller until `shutdown`, after removing the artifacts
/// of Buckets deleted while no controller ran: the source-controller
/// binary's one call.
pub fn spawn(
    client: Client,
    storage: Storage,
    options: Options,
    max_size: u64,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let ns = options.namespace.as_deref();
        match crate::artifacts::remove_orphaned::<Bucket>(&client, &storage, KIND, ns).await {
            Ok(removed) => {
                tracing::info!(count = removed.len(), "removed orphaned Bucket artifacts");
            }
            Err(e) => {
                tracing::warn!(error = %e, "removing orphaned Bucket artifacts failed; continuing");
            }
        }
        let reconciler =
            Arc::new(BucketReconciler::new(client.clone(), storage).with_max_size(max_size));
        controller::run::<Bucket, _>(client, reconciler, options, shutdown).await;
    })
}

/// The objects to download: key → the value indexed for it.
type Index = BTreeMap<String, String>;

/// Downloaded objects in a temp dir, removed when this is dropped.
struct Fetched {
    dir: tempfile::TempDir,
    revision: String,
    objects: usize,
}

impl BucketReconciler {
    /// A reconciler that reads Secrets with `client` and writes to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            max_size: DEFAULT_MAX_BUCKET_SIZE,
            downloads: AtomicU64::new(0),
        }
    }

    /// Refuses buckets whose selected objects take more than `bytes`
    /// (`--max-bucket-size`).
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    fn key(obj: &Bucket) -> ObjectKey {
        crate::artifacts::key(KIND, obj)
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut BucketStatus) {
        crate::artifacts::reconcile_storage(
            &self.storage,
            status.artifact.as_ref(),
            &mut status.conditions,
            |a| format!("stored artifact: revision '{}'", a.revision),
            "downloaded again",
        );
    }

    /// Indexes the bucket and downloads its objects when the index changed;
    /// `None` when the stored artifact is current.
    async fn reconcile_source(
        &self,
        obj: &Bucket,
        status: &mut BucketStatus,
    ) -> Result<Option<Fetched>, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let bucket = &obj.spec.bucket_name;
        store::endpoint_url(&obj.spec.endpoint, obj.spec.insecure).map_err(|e| {
            ReconcileError::stalled(names::URL_INVALID, Scrubbed::new(&e.to_string()))
        })?;
        // The runtime refuses an invalid timeout before the reconcile starts.
        let timeout = obj
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        let settings = self.settings(obj, &ns, timeout).await?;
        let secrets: Vec<String> = settings
            .keys
            .iter()
            .flat_map(|(a, s)| [a.clone(), s.clone()])
            .chain(
                settings
                    .proxy
                    .iter()
                    .filter_map(|(_, auth)| auth.as_ref().map(|(_, p)| p.clone())),
            )
            .collect();
        let failed = |e: &store::Error| fetch_failed(&e.to_string(), &secrets);
        let store = Arc::new(Store::new(&settings).map_err(|e| {
            fetch_failed_as(names::AUTHENTICATION_FAILED, &e.to_string(), &secrets)
        })?);
        let within = |what: &str| {
            fetch_failed(
                &format!(
                    "{what} bucket '{bucket}' at {} did not finish within {timeout:?}; raise spec.timeout",
                    store.endpoint()
                ),
                &secrets,
            )
        };

        let indexed = tokio::time::timeout(timeout, self.index(obj, &store))
            .await
            .map_err(|_| within("indexing"))?
            .map_err(|e| match e {
                Indexing::Store(e) => failed(&e),
                Indexing::Refused(m) => fetch_failed(&m, &secrets),
            })?;
        let (mut index, ignore_file) = indexed;
        let revision = digest(&index);
        if matches!(&status.artifact, Some(a) if a.revision == revision && self.storage.exists(a))
            && status.observed_ignore == obj.spec.ignore
        {
            conditions::remove(&mut status.conditions, names::FETCH_FAILED);
            return Ok(None);
        }

        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a download directory failed: {e}")))?;
        if let Some(text) = &ignore_file {
            // Flux downloads the root .sourceignore into the artifact too.
            std::fs::write(dir.path().join(SOURCEIGNORE), text)
                .map_err(|e| storage_failed(&format!("writing {SOURCEIGNORE} failed: {e}")))?;
        }
        tokio::time::timeout(timeout, self.download(&store, &mut index, dir.path()))
            .await
            .map_err(|_| within("downloading from"))?
            .map_err(|e| failed(&e))?;
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        // The downloads may have found changed ETags or vanished objects.
        Ok(Some(Fetched {
            dir,
            revision: digest(&index),
            objects: index.len(),
        }))
    }

    /// Reads the root `.sourceignore`, lists the objects under the prefix and
    /// returns the index of those not ignored, with the `.sourceignore` text.
    async fn index(
        &self,
        obj: &Bucket,
        store: &Store,
    ) -> Result<(Index, Option<Vec<u8>>), Indexing> {
        let ignore_file = store.get_small(SOURCEIGNORE, MAX_SOURCEIGNORE).await?;
        let text = ignore_file
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let ignore = SourceIgnore::from_patterns(text.as_deref(), obj.spec.ignore.as_deref())
            .map_err(|e| Indexing::Refused(e.to_string()))?;
        let prefix = obj.spec.prefix.as_deref().unwrap_or_default();
        let listed = store.list(prefix).await?;
        let selected = select(&obj.spec.bucket_name, &listed, &ignore, self.max_size)
            .map_err(Indexing::Refused)?;
        // ETags missing from the listing come from a HEAD of each object.
        let heads = futures_util::stream::iter(selected.into_iter().map(|l| async move {
            match l.etag {
                Some(etag) => Ok(Some((l.key, etag))),
                None => Ok(store.head_etag(&l.key).await?.map(|etag| {
                    let value = etag.unwrap_or_else(|| format!("{}-{}", l.size, l.last_modified));
                    (l.key, value)
                })),
            }
        }))
        .buffer_unordered(MAX_CONCURRENT_FETCHES)
        .collect::<Vec<Result<_, store::Error>>>()
        .await;
        let mut index = Index::new();
        for entry in heads {
            if let Some((key, value)) = entry? {
                index.insert(key, value);
            }
        }
        Ok((index, ignore_file))
    }

    /// Downloads every indexed object below `root`, at most
    /// [`MAX_CONCURRENT_FETCHES`] at once; updates the index with the etags
    /// served and drops objects that vanished since the listing.
    async fn download(
        &self,
        store: &Arc<Store>,
        index: &mut Index,
        root: &std::path::Path,
    ) -> Result<(), store::Error> {
        let budget = Arc::new(AtomicU64::new(self.max_size));
        let max = self.max_size;
        let jobs = index.keys().cloned().map(|key| {
            let (store, budget) = (store.clone(), budget.clone());
            // `select` confined every key already.
            let dest = root.join(store::confine(&key).unwrap_or_default());
            self.downloads.fetch_add(1, Ordering::Relaxed);
            async move {
                let served = store.download(&key, &dest, &budget, max).await?;
                Ok::<_, store::Error>((key, served))
            }
        });
        let results = futures_util::stream::iter(jobs)
            .buffer_unordered(MAX_CONCURRENT_FETCHES)
            .collect::<Vec<_>>()
            .await;
        for result in results {
            match result? {
                (key, None) => {
                    tracing::info!(key, "an indexed object vanished from the bucket");
                    index.remove(&key);
                }
                (key, Some(Some(etag))) => {
                    if let Some(value) = index.get_mut(&key) {
                        *value = etag;
                    }
                }
                (_, Some(None)) => {}
            }
        }
        Ok(())
    }

    /// Archives the downloaded objects into storage and records the artifact.
    fn reconcile_artifact(
        &self,
        obj: &Bucket,
        status: &mut BucketStatus,
        fetched: &Fetched,
    ) -> Result<(), ReconcileError> {
        let key = Self::key(obj);
        let hex = fetched.revision.trim_start_matches("sha256:");
        let artifact = self
            .storage
            .archive(
                &key,
                fetched.dir.path(),
                &ferroflux_artifact::archive::All,
                &format!("{hex}.tar.gz"),
                &fetched.revision,
            )
            .map_err(|e| {
                storage_failed(&format!(
                    "storing the artifact for revision '{}' failed: {e}",
                    fetched.revision
                ))
            })?;
        if let Err(e) = self.storage.garbage_collect(&key, &artifact) {
            tracing::warn!(error = %e, "removing old artifacts failed");
        }
        tracing::info!(
            objects = fetched.objects,
            bucket = %obj.spec.bucket_name,
            revision = %artifact.revision,
            "stored artifact with {} fetched files from '{}' bucket",
            fetched.objects,
            obj.spec.bucket_name
        );
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
        status.observed_ignore.clone_from(&obj.spec.ignore);
        Ok(())
    }

    /// The connection settings from the spec and its Secrets: `secretRef`
    /// (`accesskey`, `secretkey`), `certSecretRef` (`ca.crt`, or `tls.crt`
    /// with `tls.key`), `proxySecretRef` (`address`, `username`,
    /// `password`). Problems with a Secret are retried: fixing it does not
    /// change the Bucket.
    async fn settings(
        &self,
        obj: &Bucket,
        ns: &str,
        timeout: Duration,
    ) -> Result<Settings, ReconcileError> {
        let spec = &obj.spec;
        let mut settings = Settings {
            endpoint: spec.endpoint.clone(),
            insecure: spec.insecure,
            bucket: spec.bucket_name.clone(),
            region: spec.region.clone(),
            timeout,
            ..Settings::default()
        };
        let invalid = |name: &str, field: &str, m: &str| {
            fetch_failed_as(
                names::AUTHENTICATION_FAILED,
                &format!("Secret '{ns}/{name}' named in {field}: {m}"),
                &[],
            )
        };
        if let Some(r) = &spec.secret_ref {
            let data = self.secret_data(ns, &r.name, "spec.secretRef").await?;
            match (text(&data, "accesskey"), text(&data, "secretkey")) {
                (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => {
                    settings.keys = Some((a, s));
                }
                _ => {
                    return Err(invalid(
                        &r.name,
                        "spec.secretRef",
                        "required fields 'accesskey' and 'secretkey' are missing or empty",
                    ));
                }
            }
        }
        if let Some(r) = &spec.cert_secret_ref {
            let data = self.secret_data(ns, &r.name, "spec.certSecretRef").await?;
            settings.ca_pem = data.get("ca.crt").map(|v| v.0.clone());
            match (data.get("tls.crt"), data.get("tls.key")) {
                (Some(c), Some(k)) => settings.client_pem = Some((c.0.clone(), k.0.clone())),
                (None, None) => {}
                _ => {
                    return Err(invalid(
                        &r.name,
                        "spec.certSecretRef",
                        "it must hold both 'tls.crt' and 'tls.key' for a client certificate",
                    ));
                }
            }
            if settings.ca_pem.is_none() && settings.client_pem.is_none() {
                return Err(invalid(
                    &r.name,
                    "spec.certSecretRef",
                    "it holds neither 'ca.crt' nor 'tls.crt' and 'tls.key'",
                ));
            }
        }
        if let Some(r) = &spec.proxy_secret_ref {
            let data = self.secret_data(ns, &r.name, "spec.proxySecretRef").await?;
            let address = text(&data, "address").ok_or_else(|| {
                invalid(
                    &r.name,
                    "spec.proxySecretRef",
                    "the key 'address' is missing",
                )
            })?;
            let auth = match (text(&data, "username"), text(&data, "password")) {
                (None, None) => None,
                (u, p) => Some((u.unwrap_or_default(), p.unwrap_or_default())),
            };
            settings.proxy = Some((address, auth));
        }
        Ok(settings)
    }

    async fn secret_data(
        &self,
        ns: &str,
        name: &str,
        field: &str,
    ) -> Result<BTreeMap<String, ByteString>, ReconcileError> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::AUTHENTICATION_FAILED,
                    Scrubbed::new(&format!("reading Secret '{ns}/{name}' failed: {e}")),
                )
                .with_condition(names::FETCH_FAILED)
            })?
            .ok_or_else(|| {
                fetch_failed_as(
                    names::AUTHENTICATION_FAILED,
                    &format!("Secret '{ns}/{name}' named in {field} does not exist"),
                    &[],
                )
            })?;
        Ok(secret.data.unwrap_or_default())
    }
}

/// Why indexing failed.
enum Indexing {
    /// A request failed.
    Store(store::Error),
    /// The bucket's content or the ignore rules are refused.
    Refused(String),
}

impl From<store::Error> for Indexing {
    fn from(e: store::Error) -> Self {
        Self::Store(e)
    }
}

/// A Secret value as text, trimmed of a trailing newline.
fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Option<String> {
    data.get(key).map(|v| {
        String::from_utf8_lossy(&v.0)
            .trim_end_matches(['\n', '\r'])
            .to_owned()
    })
}

/// The listed objects to download, as Flux picks them: not the root
/// `.sourceignore`, not directory markers (an empty object whose key is the
/// directory of another), not ignored; every key confined below the
/// artifact root, and their listed sizes within `max`.
///
/// # Errors
/// The refusal, naming the bucket and the key.
fn select(
    bucket: &str,
    listed: &[Listed],
    ignore: &SourceIgnore,
    max: u64,
) -> Result<Vec<Listed>, String> {
    let mut selected: Vec<Listed> = Vec::with_capacity(listed.len());
    let mut total: u64 = 0;
    for (i, l) in listed.iter().enumerate() {
        if l.key == SOURCEIGNORE || l.key.ends_with('/') {
            continue;
        }
        let refused = |m: String| format!("bucket '{bucket}': {m}; rename or remove the object");
        let path = store::confine(&l.key).map_err(refused)?;
        let dir = format!("{}/", l.key);
        // Sorted by key: the first key not below `dir` would be a child.
        let after = &listed[i + 1..];
        let first = after.partition_point(|n| n.key.as_str() < dir.as_str());
        if after.get(first).is_some_and(|n| n.key.starts_with(&dir)) {
            if l.size == 0 {
                continue;
            }
            return Err(refused(format!(
                "object key '{}' is both an object and the directory of other objects",
                l.key
            )));
        }
        if ignore.excluded(&path.to_string_lossy(), false) {
            continue;
        }
        total = total.saturating_add(l.size);
        if total > max {
            return Err(format!(
                "the objects of bucket '{bucket}' take more than the {max} bytes allowed by --max-bucket-size (at object '{}'); narrow spec.prefix or spec.ignore, or raise the limit",
                l.key
            ));
        }
        selected.push(l.clone());
    }
    Ok(selected)
}

/// Flux's revision of an index: `sha256:` over `<key> <value>\n` lines in
/// key order.
fn digest(index: &Index) -> String {
    let mut hasher = HashingWriter::new(std::io::sink());
    for (key, value) in index {
        // Writing to a sink through the hasher cannot fail.
        let _ = writeln!(hasher, "{key} {value}");
    }
    hasher.finish().1
}

fn fetch_failed(message: &str, secrets: &[String]) -> ReconcileError {
    fetch_failed_as(names::BUCKET_OPERATION_FAILED, message, secrets)
}

fn fetch_failed_as(reason: &'static str, message: &str, secrets: &[String]) -> ReconcileError {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    ReconcileError::transient(reason, Scrubbed::with_secrets(message, &secrets))
        .with_condition(names::FETCH_FAILED)
}

fn storage_failed(message: &str) -> ReconcileError {
    ReconcileError::transient("StorageOperationFailed", Scrubbed::new(message))
        .with_condition(names::STORAGE_OPERATION_FAILED)
}

/// Refuses what this controller does not implement, naming it.
///
/// # Errors
/// A stalled [`ReconcileError`] naming the fields and what to do instead.
pub fn reconcile_supported(obj: &Bucket) -> Result<(), ReconcileError> {
    let spec = &obj.spec;
    let provider = spec.provider.as_deref().unwrap_or("generic");
    let mut refused = Vec::new();
    match provider {
        "generic" => {}
        "aws" if spec.secret_ref.is_some() => {}
        "aws" => refused.push(
            "spec.provider 'aws' without spec.secretRef (AWS IAM identities: IRSA, EKS Pod Identity, instance profiles) is not supported; give it a spec.secretRef with 'accesskey' and 'secretkey'".to_owned(),
        ),
        "gcp" => refused.push(
            "spec.provider 'gcp' (Google Cloud identities and service-account keys) is not supported; for an HMAC key through GCS's S3-compatible API use provider 'generic' with endpoint 'storage.googleapis.com' and spec.secretRef".to_owned(),
        ),
        "azure" => refused.push(
            "spec.provider 'azure' (Azure Blob Storage) is not supported".to_owned(),
        ),
        other => refused.push(format!(
            "spec.provider '{other}' is not one of generic, aws, gcp, azure"
        )),
    }
    if spec.sts.is_some() {
        refused.push(
            "spec.sts (temporary credentials from a Security Token Service) is not supported"
                .to_owned(),
        );
    }
    if spec.service_account_name.is_some() {
        refused.push("spec.serviceAccountName (workload identity) is not supported".to_owned());
    }
    if spec.cert_secret_ref.is_some() && provider != "generic" {
        refused
            .push("spec.certSecretRef can be set only when spec.provider is 'generic'".to_owned());
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(ReconcileError::stalled(
        names::UNSUPPORTED,
        Scrubbed::new(&format!(
            "{}; change the Bucket, or keep it on Flux for now",
            refused.join("; ")
        )),
    ))
}

impl Reconciler<Bucket> for BucketReconciler {
    async fn reconcile(
        &self,
        obj: Arc<Bucket>,
        status: &mut BucketStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj)?;
        self.reconcile_storage(status);
        if let Some(fetched) = self.reconcile_source(&obj, status).await? {
            self.reconcile_artifact(&obj, status, &fetched)?;
        }
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<Bucket>) -> Result<(), ReconcileError> {
        self.storage
            .remove_all(&Self::key(&obj))
            .map_err(|e| storage_failed(&format!("removing the artifacts failed: {e}")))
    }

    fn success_reason(&self) -> &'static str {
        "NewArtifact"
    }

    fn ready_message(&self, status: &BucketStatus) -> String {
        status.artifact.as_ref().map_or_else(String::new, |a| {
            format!("stored artifact: revision '{}'", a.revision)
        })
    }
}

#[cfg(test)]
mod tests;
