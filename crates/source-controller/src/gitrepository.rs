//! The GitRepository reconciler: resolve the ref, fetch the revision when it
//! changed, pack it into an artifact, and clean up on deletion.
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses spec fields this controller does not
//!    implement yet, rather than ignoring them (an ignored `verify` would hand
//!    out unverified artifacts). Stalls with `UnsupportedConfiguration`.
//! 1. [`GitRepositoryReconciler::reconcile_storage`]: checks that the recorded
//!    artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`GitRepositoryReconciler::reconcile_source`]: reads credentials, resolves
//!    the ref with an ls-remote, and clones only when the revision changed or
//!    the artifact is missing. Sets or clears `FetchFailed`.
//! 3. [`GitRepositoryReconciler::reconcile_artifact`]: archives the checkout
//!    (minus ignored files) into storage and records it in status. Sets
//!    `ArtifactInStorage`, sets or clears `StorageOperationFailed`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::source::{GitRepository, GitRepositoryRef, GitRepositoryStatus};
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::object::parse_duration;
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt as _};

use crate::git::{self, Checkout, Credentials, RemoteRef};
use crate::semver;
use crate::sourceignore::SourceIgnore;

/// Conditions and reasons this reconciler writes.
pub mod names {
    /// Negative: the last fetch failed.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// Positive: the artifact in status exists in storage.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// Negative: writing to or reading from storage failed.
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// Reason: a git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Reason: credentials were missing or refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: the spec asks for something this controller cannot do.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
}

/// The kind name used in storage paths.
const KIND: &str = "GitRepository";

/// Reconciles GitRepositories into artifacts in `storage`.
pub struct GitRepositoryReconciler {
    client: Client,
    storage: Storage,
    /// Clones performed, for metrics and tests (an unchanged remote does none).
    pub clones: AtomicU64,
}

impl GitRepositoryReconciler {
    /// A reconciler that reads Secrets with `client` and writes to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            clones: AtomicU64::new(0),
        }
    }

    fn key(obj: &GitRepository) -> ObjectKey {
        ObjectKey::new(KIND, obj.namespace().unwrap_or_default(), obj.name_any())
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut GitRepositoryStatus) {
        match &status.artifact {
            Some(a) if self.storage.exists(a) => {
                conditions::set(
                    &mut status.conditions,
                    names::ARTIFACT_IN_STORAGE,
                    true,
                    "Succeeded",
                    &format!("stored artifact for revision '{}'", a.revision),
                    None,
                );
            }
            Some(a) => {
                conditions::set(
                    &mut status.conditions,
                    names::ARTIFACT_IN_STORAGE,
                    false,
                    "ArtifactMissing",
                    &format!(
                        "the artifact for revision '{}' is gone from storage; it will be rebuilt",
                        a.revision
                    ),
                    None,
                );
            }
            None => conditions::remove(&mut status.conditions, names::ARTIFACT_IN_STORAGE),
        }
    }

    /// Resolves the revision and fetches it when needed. Returns the checkout
    /// (directory and revision), or `None` when the stored artifact is current.
    async fn reconcile_source(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
    ) -> Result<Option<Fetched>, ReconcileError> {
        let url = obj.spec.url.clone();
        let ns = obj.namespace().unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("ssh://"))
        {
            return Err(ReconcileError::stalled(
                names::UNSUPPORTED,
                Scrubbed::new(&format!(
                    "spec.url {url}: only http://, https:// and ssh:// remotes are supported"
                )),
            ));
        }
        let creds = self.credentials(obj, &ns).await?;
        if creds.basic.is_some() && url.starts_with("http://") {
            tracing::warn!(object = %format!("{ns}/{}", obj.name_any()), "sending basic auth over plain http://; use https:// outside a trusted network");
        }
        let timeout = obj
            .spec
            .timeout
            .as_deref()
            .map_or(Ok(Duration::from_secs(60)), parse_duration)
            .map_err(|m| {
                ReconcileError::stalled(
                    "InvalidTimeout",
                    Scrubbed::new(&format!("spec.timeout: {m}")),
                )
            })?;
        let secrets: Vec<String> = creds
            .basic
            .as_ref()
            .map(|(_, p)| p.clone())
            .into_iter()
            .chain(creds.bearer_token.clone())
            .collect();
        let fail = |e: git::Error| fetch_error(&e, &secrets);

        let target = if let Some(target) = pinned(obj.spec.reference.as_ref()) {
            target
        } else {
            let (u, c) = (url.clone(), creds.clone());
            let refs = blocking(timeout, &url, move |_| git::ls_remote(&u, &c))
                .await
                .map_err(fail)?;
            pick(obj.spec.reference.as_ref(), &refs).map_err(|m| {
                fetch_failed(
                    names::GIT_OPERATION_FAILED,
                    Scrubbed::new(&format!("{m} at {url}")),
                )
            })?
        };

        // Unchanged means the same revision, still stored, built with the same
        // ignore rules (a changed spec.ignore must rebuild the artifact).
        if let (Some(revision), Some(artifact)) = (&target.revision, &status.artifact)
            && artifact.revision == *revision
            && self.storage.exists(artifact)
            && status.observed_ignore == obj.spec.ignore
        {
            conditions::remove(&mut status.conditions, names::FETCH_FAILED);
            return Ok(None);
        }

        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a checkout directory failed: {e}")))?;
        let dest = dir.path().join("checkout");
        self.clones.fetch_add(1, Ordering::Relaxed);
        let checkout = target.checkout.clone();
        let (u, d) = (url.clone(), dest.clone());
        let sha = blocking(timeout, &url, move |cancel| {
            git::clone(&u, &d, &checkout, &creds, cancel)
        })
        .await
        .map_err(fail)?;
        conditions::remove(&mut status.conditions, names::FETCH_FAILED);
        let revision = match &target.name {
            Some(name) => format!("{name}@sha1:{sha}"),
            None => format!("sha1:{sha}"),
        };
        Ok(Some(Fetched {
            _dir: dir,
            path: dest,
            revision,
            sha,
        }))
    }

    /// Archives the checkout into storage and records the artifact.
    fn reconcile_artifact(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
        fetched: &Fetched,
    ) -> Result<(), ReconcileError> {
        let ignore = SourceIgnore::load(&fetched.path, obj.spec.ignore.as_deref())
            .map_err(|e| ReconcileError::stalled("InvalidIgnore", Scrubbed::new(&e.to_string())))?;
        let key = Self::key(obj);
        let artifact = self
            .storage
            .archive(
                &key,
                &fetched.path,
                &ignore,
                &format!("{}.tar.gz", fetched.sha),
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
        let message = format!("stored artifact for revision '{}'", artifact.revision);
        conditions::set(
            &mut status.conditions,
            names::ARTIFACT_IN_STORAGE,
            true,
            "Succeeded",
            &message,
            None,
        );
        conditions::remove(&mut status.conditions, names::STORAGE_OPERATION_FAILED);
        status.artifact = Some(artifact);
        status.observed_ignore.clone_from(&obj.spec.ignore);
        Ok(())
    }

    /// Credentials from `spec.secretRef`: `username` and `password`,
    /// `bearerToken` (HTTPS only), `ca.crt` (or the older `caFile`), and for
    /// `ssh://` `identity` and `known_hosts`.
    /// Problems with the Secret's content are retried: fixing the Secret does
    /// not change the GitRepository, so they must not stall it.
    async fn credentials(
        &self,
        obj: &GitRepository,
        ns: &str,
    ) -> Result<Credentials, ReconcileError> {
        let Some(secret_ref) = &obj.spec.secret_ref else {
            return Ok(Credentials::default());
        };
        let name = &secret_ref.name;
        let secret = Api::<Secret>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::AUTHENTICATION_FAILED,
                    Scrubbed::new(&format!("reading Secret '{ns}/{name}' failed: {e}")),
                )
            })?;
        let Some(secret) = secret else {
            return Err(fetch_failed(
                names::AUTHENTICATION_FAILED,
                Scrubbed::new(&format!(
                    "Secret '{ns}/{name}' named in spec.secretRef does not exist: create it with 'username' and 'password', or 'bearerToken', and optionally 'ca.crt'"
                )),
            ));
        };
        let data = secret.data.unwrap_or_default();
        let text = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        let invalid = |reason: &'static str, problem: &str| {
            fetch_failed(
                reason,
                Scrubbed::new(&format!("Secret '{ns}/{name}': {problem}")),
            )
        };
        let mut creds = Credentials::default();
        match (text("username"), text("password")) {
            (Some(u), Some(p)) => creds.basic = Some((u, p)),
            (None, None) => {}
            _ => {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "must hold both 'username' and 'password'",
                ));
            }
        }
        if let Some(token) = text("bearerToken") {
            if !obj.spec.url.starts_with("https://") {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "a bearerToken is only sent over https://; change spec.url to https:// or use 'username' and 'password'",
                ));
            }
            creds.bearer_token = Some(token);
        }
        if let Some(ca) = data.get("ca.crt").or_else(|| data.get("caFile")) {
            creds = creds
                .with_ca_pem(&ca.0)
                .map_err(|m| invalid(names::AUTHENTICATION_FAILED, &m))?;
        }
        if obj.spec.url.starts_with("ssh://") {
            let (Some(identity), Some(known_hosts)) = (text("identity"), text("known_hosts"))
            else {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "an ssh:// URL needs both 'identity' (a private key) and 'known_hosts'",
                ));
            };
            if data.contains_key("password") || identity.contains("ENCRYPTED") {
                return Err(invalid(
                    names::UNSUPPORTED,
                    "password-protected SSH keys are not supported yet; use an unencrypted 'identity'",
                ));
            }
            creds.ssh = Some(git::SshKeys {
                identity,
                known_hosts,
            });
        }
        Ok(creds)
    }
}

/// A fetched checkout; the temp dir is removed when this is dropped.
struct Fetched {
    _dir: tempfile::TempDir,
    path: PathBuf,
    revision: String,
    sha: String,
}

/// The checkout to fetch and, when known before cloning, the revision.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    checkout: Checkout,
    /// The name part of the revision (`main`, `v1.2.3`); `None` for a bare commit.
    name: Option<String>,
    /// The full revision when known before cloning.
    revision: Option<String>,
}

/// The target when the spec pins it without needing a listing: a commit, or
/// a full reference name (which an ls-remote filtered to heads and tags would
/// not show; its revision is known only after the clone).
fn pinned(reference: Option<&GitRepositoryRef>) -> Option<Target> {
    let r = reference.cloned().unwrap_or_default();
    if let Some(commit) = r.commit {
        let revision = match &r.branch {
            Some(b) => format!("{b}@sha1:{commit}"),
            None => format!("sha1:{commit}"),
        };
        return Some(Target {
            checkout: Checkout::Commit(commit),
            name: r.branch,
            revision: Some(revision),
        });
    }
    r.name.map(|name| Target {
        checkout: Checkout::Name(name.clone()),
        name: Some(name),
        revision: None,
    })
}

/// Picks the ref to fetch from the listing: semver, then tag, then branch
/// (default `master`), as Flux orders them.
fn pick(reference: Option<&GitRepositoryRef>, refs: &[RemoteRef]) -> Result<Target, String> {
    let r = reference.cloned().unwrap_or_default();
    let commit_of = |name: &str| {
        refs.iter()
            .find(|x| x.name == name)
            .and_then(RemoteRef::commit)
            .map(str::to_owned)
    };
    if let Some(constraint) = r.semver {
        let tags = refs
            .iter()
            .filter_map(|x| x.name.strip_prefix("refs/tags/"));
        let tag = semver::highest_match(&constraint, tags)?
            .ok_or_else(|| format!("no tag matches the semver constraint '{constraint}'"))?;
        let sha = commit_of(&format!("refs/tags/{tag}"))
            .ok_or_else(|| format!("tag '{tag}' has no commit"))?;
        return Ok(Target {
            revision: Some(format!("{tag}@sha1:{sha}")),
            checkout: Checkout::Tag(tag.clone()),
            name: Some(tag),
        });
    }
    if let Some(tag) = r.tag {
        let sha = commit_of(&format!("refs/tags/{tag}"))
            .ok_or_else(|| format!("tag '{tag}' was not found"))?;
        return Ok(Target {
            revision: Some(format!("{tag}@sha1:{sha}")),
            checkout: Checkout::Tag(tag.clone()),
            name: Some(tag),
        });
    }
    let branch = r.branch.unwrap_or_else(|| "master".to_owned());
    let sha = commit_of(&format!("refs/heads/{branch}"))
        .ok_or_else(|| format!("branch '{branch}' was not found"))?;
    Ok(Target {
        revision: Some(format!("{branch}@sha1:{sha}")),
        checkout: Checkout::Branch(branch.clone()),
        name: Some(branch),
    })
}

/// Runs blocking git work off the async executor, cancelling it after `timeout`.
async fn blocking<T: Send + 'static>(
    timeout: Duration,
    url: &str,
    work: impl FnOnce(&AtomicBool) -> git::Result<T> + Send + 'static,
) -> git::Result<T> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let task = tokio::task::spawn_blocking(move || work(&flag));
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(git::Error::Git {
            operation: "fetch",
            url: url.to_owned(),
            message: join.to_string(),
        }),
        Err(_) => {
            cancel.store(true, Ordering::Relaxed);
            let message = format!(
                "timed out after {timeout:?}; raise spec.timeout if the repository is large"
            );
            Err(git::Error::Git {
                operation: "fetch",
                url: url.to_owned(),
                message,
            })
        }
    }
}

fn fetch_failed(reason: &'static str, message: Scrubbed) -> ReconcileError {
    ReconcileError::transient(reason, message).with_condition(names::FETCH_FAILED)
}

fn fetch_error(e: &git::Error, secrets: &[String]) -> ReconcileError {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let message = Scrubbed::with_secrets(&e.to_string(), &secrets);
    let reason = if matches!(e, git::Error::Unauthenticated { .. }) {
        names::AUTHENTICATION_FAILED
    } else {
        names::GIT_OPERATION_FAILED
    };
    fetch_failed(reason, message)
}

fn storage_failed(message: &str) -> ReconcileError {
    ReconcileError::transient("StorageOperationFailed", Scrubbed::new(message))
        .with_condition(names::STORAGE_OPERATION_FAILED)
}

/// Deletes the artifacts of GitRepositories that no longer exist (deleted
/// while no controller ran), within `namespace` when the controller watches
/// only one. Returns what was removed.
///
/// # Errors
/// The API error of listing the GitRepositories, or the storage error.
pub async fn remove_orphaned_artifacts(
    client: &Client,
    storage: &Storage,
    namespace: Option<&str>,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error + Send + Sync>> {
    let api: Api<GitRepository> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let live = api
        .list(&kube::api::ListParams::default())
        .await?
        .items
        .iter()
        .map(GitRepositoryReconciler::key)
        .collect();
    Ok(storage.remove_orphans(KIND, namespace, &live)?)
}

/// Refuses the spec fields not implemented yet, naming them all.
///
/// # Errors
/// A stalled [`ReconcileError`] listing the unsupported fields.
pub fn reconcile_supported(obj: &GitRepository) -> Result<(), ReconcileError> {
    let spec = &obj.spec;
    let mut unsupported = Vec::new();
    if !spec.include.is_empty() {
        unsupported.push("spec.include");
    }
    if spec.recurse_submodules {
        unsupported.push("spec.recurseSubmodules");
    }
    if !spec.sparse_checkout.is_empty() {
        unsupported.push("spec.sparseCheckout");
    }
    if spec.verification.is_some() {
        unsupported.push("spec.verify");
    }
    if spec.proxy_secret_ref.is_some() {
        unsupported.push("spec.proxySecretRef");
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
            "{} not supported by Ferroflux yet; remove them, or keep this GitRepository on Flux for now",
            unsupported.join(", ")
                + if unsupported.len() == 1 {
                    " is"
                } else {
                    " are"
                }
        )),
    ))
}

impl Reconciler<GitRepository> for GitRepositoryReconciler {
    async fn reconcile(
        &self,
        obj: Arc<GitRepository>,
        status: &mut GitRepositoryStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj)?;
        self.reconcile_storage(status);
        if let Some(fetched) = self.reconcile_source(&obj, status).await? {
            self.reconcile_artifact(&obj, status, &fetched)?;
        }
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<GitRepository>) -> Result<(), ReconcileError> {
        self.storage
            .remove_all(&Self::key(&obj))
            .map_err(|e| storage_failed(&format!("removing the artifacts failed: {e}")))
    }

    fn success_reason(&self) -> &'static str {
        "NewArtifact"
    }

    fn ready_message(&self, status: &GitRepositoryStatus) -> String {
        status.artifact.as_ref().map_or_else(String::new, |a| {
            format!("stored artifact for revision '{}'", a.revision)
        })
    }
}

#[cfg(test)]
mod tests;
