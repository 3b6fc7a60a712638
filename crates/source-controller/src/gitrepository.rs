//! The GitRepository reconciler: resolve the ref, fetch the revision when it
//! changed, pack it into an artifact, and clean up on deletion.
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses spec fields this controller does not
//!    implement yet, rather than ignoring them (an ignored `verify` would hand
//!    out unverified artifacts). Stalls with `UnsupportedConfiguration`.
//! 1. [`GitRepositoryReconciler::reconcile_storage`]: checks that the recorded
//!    artifact is still in storage. Sets `ArtifactInStorage`.
//! 2. [`GitRepositoryReconciler::reconcile_include`]: finds the artifacts of
//!    the GitRepositories in `spec.include`. Sets or clears `IncludeUnavailable`.
//! 3. [`GitRepositoryReconciler::reconcile_source`]: reads credentials, resolves
//!    the ref with an ls-remote, and clones (with submodules when asked)
//!    only when the revision, the
//!    included artifacts or the spec fields shaping the artifact changed, or
//!    the artifact is missing. Applies `spec.sparseCheckout` and the size cap.
//!    Sets or clears `FetchFailed`.
//! 4. [`GitRepositoryReconciler::reconcile_artifact`]: copies the included
//!    artifacts in, archives the checkout (minus ignored files) into storage
//!    and records it in status. Sets `ArtifactInStorage`, sets or clears
//!    `StorageOperationFailed`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{GitRepository, GitRepositoryRef, GitRepositoryStatus};
use ferroflux_artifact::digest::HashingWriter;
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt as _};

use crate::git::{self, Checkout, Credentials, RemoteRef};
use crate::semver;
use crate::sourceignore::SourceIgnore;
use crate::worktree;

/// Conditions and reasons this reconciler writes.
pub mod names {
    pub use ferroflux_api::source::conditions::{
        ARTIFACT_IN_STORAGE, FETCH_FAILED, INCLUDE_UNAVAILABLE, STORAGE_OPERATION_FAILED,
    };

    /// Reason: a git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Reason: credentials were missing or refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// Reason: the spec asks for something this controller cannot do.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
    /// Reason: the fetched repository is larger than `--max-repository-size`.
    pub const REPOSITORY_TOO_LARGE: &str = "RepositoryTooLarge";
}

/// How long git operations may take when `spec.timeout` is omitted, as in Flux.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The kind name used in storage paths.
const KIND: &str = "GitRepository";

/// Reconciles GitRepositories into artifacts in `storage`.
pub struct GitRepositoryReconciler {
    client: Client,
    storage: Storage,
    max_repository_size: u64,
    /// Clones performed, for metrics and tests (an unchanged remote does none).
    pub clones: AtomicU64,
}

/// The default of [`GitRepositoryReconciler::with_max_repository_size`]:
/// 1 GiB, the most the artifact client unpacks by default.
pub const DEFAULT_MAX_REPOSITORY_SIZE: u64 = 1 << 30;

impl GitRepositoryReconciler {
    /// A reconciler that reads Secrets with `client` and writes to `storage`.
    #[must_use]
    pub fn new(client: Client, storage: Storage) -> Self {
        Self {
            client,
            storage,
            max_repository_size: DEFAULT_MAX_REPOSITORY_SIZE,
            clones: AtomicU64::new(0),
        }
    }

    /// Refuses repositories whose fetched size (history and worktree) exceeds
    /// `bytes` (`--max-repository-size`).
    #[must_use]
    pub fn with_max_repository_size(mut self, bytes: u64) -> Self {
        self.max_repository_size = bytes;
        self
    }

    fn key(obj: &GitRepository) -> ObjectKey {
        crate::artifacts::key(KIND, obj)
    }

    /// Sets `ArtifactInStorage` from whether the recorded artifact's file exists.
    fn reconcile_storage(&self, status: &mut GitRepositoryStatus) {
        crate::artifacts::reconcile_storage(
            &self.storage,
            status.artifact.as_ref(),
            &mut status.conditions,
            |a| format!("stored artifact for revision '{}'", a.revision),
            "rebuilt",
        );
    }

    /// Looks up the artifact of every GitRepository in `spec.include` (same
    /// namespace) and checks the paths. Waits while one has no artifact yet.
    async fn reconcile_include(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
    ) -> Result<Vec<Included>, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let api = Api::<GitRepository>::namespaced(self.client.clone(), &ns);
        let mut included = Vec::new();
        for (i, include) in obj.spec.include.iter().enumerate() {
            let name = &include.git_repository_ref.name;
            let field = |f: &str| format!("spec.include[{i}].{f}");
            let invalid =
                |m: String| ReconcileError::stalled(names::UNSUPPORTED, Scrubbed::new(&m));
            if *name == obj.name_any() {
                return Err(invalid(format!(
                    "{}: a GitRepository cannot include itself",
                    field("repository.name")
                )));
            }
            let from = worktree::relative(
                &field("fromPath"),
                include.from_path.as_deref().unwrap_or(""),
            )
            .map_err(|e| invalid(e.to_string()))?;
            let to =
                worktree::relative(&field("toPath"), include.to_path.as_deref().unwrap_or(name))
                    .map_err(|e| invalid(e.to_string()))?;
            if to.as_os_str().is_empty() || to.starts_with(".git") {
                return Err(invalid(format!(
                    "{} must name a directory below the repository root, other than .git",
                    field("toPath")
                )));
            }
            let unavailable = |m: String| {
                ReconcileError::transient(names::INCLUDE_UNAVAILABLE, Scrubbed::new(&m))
                    .with_condition(names::INCLUDE_UNAVAILABLE)
            };
            let other = api.get_opt(name).await.map_err(|e| {
                unavailable(format!("reading GitRepository '{ns}/{name}' failed: {e}"))
            })?;
            let Some(other) = other else {
                return Err(unavailable(format!(
                    "{}: GitRepository '{ns}/{name}' does not exist",
                    field("repository.name")
                )));
            };
            let artifact = other.status.and_then(|s| s.artifact);
            let Some((artifact, path)) =
                artifact.and_then(|a| self.storage.local_path(&a).map(|p| (a, p)))
            else {
                return Err(unavailable(format!(
                    "{}: GitRepository '{ns}/{name}' has no artifact yet; retrying",
                    field("repository.name")
                )));
            };
            included.push(Included {
                artifact,
                path,
                from,
                to,
            });
        }
        conditions::remove(&mut status.conditions, names::INCLUDE_UNAVAILABLE);
        Ok(included)
    }

    /// Resolves the revision and fetches it when needed. Returns the checkout
    /// (directory and revision), or `None` when the stored artifact is current.
    async fn reconcile_source(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
        included: &[Included],
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
        // The runtime refuses an invalid timeout before the reconcile starts.
        let timeout = obj
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
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
            let refs = blocking(timeout, &url, None, move |_| git::ls_remote(&u, &c))
                .await
                .map_err(|e| fail(e.into_git(&url)))?;
            pick(obj.spec.reference.as_ref(), &refs).map_err(|m| {
                fetch_failed(
                    names::GIT_OPERATION_FAILED,
                    Scrubbed::new(&format!("{m} at {url}")),
                )
            })?
        };

        let sparse = obj
            .spec
            .sparse_checkout
            .iter()
            .map(|d| worktree::relative("spec.sparseCheckout", d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ReconcileError::stalled(names::UNSUPPORTED, Scrubbed::new(&e.to_string()))
            })?;

        if self.is_current(obj, status, &target, included) {
            conditions::remove(&mut status.conditions, names::FETCH_FAILED);
            return Ok(None);
        }

        let dir = tempfile::tempdir()
            .map_err(|e| storage_failed(&format!("creating a checkout directory failed: {e}")))?;
        let dest = dir.path().join("checkout");
        let sha = self
            .clone_into(obj, &dest, &target.checkout, creds, timeout)
            .await
            .map_err(|e| match e {
                Fetch::TooLarge(size) => self.too_large(&url, "while fetching", size, obj),
                Fetch::Git(e) => fail(e),
            })?;
        self.check_size(&dest, &url, &sha, obj)?;
        if !sparse.is_empty() {
            worktree::retain_sparse(&dest, &sparse).map_err(|m| {
                fetch_failed(
                    names::GIT_OPERATION_FAILED,
                    Scrubbed::new(&format!("{m} (commit {sha})")),
                )
            })?;
        }
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

    /// Clones `checkout` (and the submodules when asked) into `dest`,
    /// within `timeout` and the size cap; returns the commit's sha1.
    async fn clone_into(
        &self,
        obj: &GitRepository,
        dest: &Path,
        checkout: &Checkout,
        creds: git::Credentials,
        timeout: Duration,
    ) -> Result<String, Fetch> {
        self.clones.fetch_add(1, Ordering::Relaxed);
        let url = obj.spec.url.clone();
        let (u, d, checkout) = (url.clone(), dest.to_path_buf(), checkout.clone());
        let submodules = obj.spec.recurse_submodules;
        let watch = SizeWatch {
            dir: dest.to_path_buf(),
            max: self.max_repository_size,
        };
        blocking(timeout, &url, Some(&watch), move |cancel| {
            let sha = git::clone(&u, &d, &checkout, &creds, cancel)?;
            if submodules {
                git::update_submodules(&u, &d, &creds, cancel)?;
            }
            Ok(sha)
        })
        .await
    }

    /// Whether the stored artifact is current: the same revision, still
    /// stored, built from the same included artifacts and with the same spec
    /// fields shaping it (ignore rules, includes, sparse checkout, submodules).
    fn is_current(
        &self,
        obj: &GitRepository,
        status: &GitRepositoryStatus,
        target: &Target,
        included: &[Included],
    ) -> bool {
        let spec = &obj.spec;
        matches!((&target.revision, &status.artifact), (Some(revision), Some(artifact))
            if artifact.revision == *revision && self.storage.exists(artifact))
            && status.observed_ignore == spec.ignore
            && status.observed_include == spec.include
            && status.observed_sparse_checkout == spec.sparse_checkout
            && status.observed_recurse_submodules == spec.recurse_submodules
            && same_artifacts(&status.included_artifacts, included)
    }

    /// Refuses a fetched repository above the size cap. Retried at the
    /// interval: only a new commit can make it smaller.
    fn check_size(
        &self,
        dest: &Path,
        url: &str,
        sha: &str,
        obj: &GitRepository,
    ) -> Result<(), ReconcileError> {
        let size = worktree::size(dest)
            .map_err(|e| storage_failed(&format!("measuring the checkout failed: {e}")))?;
        if size <= self.max_repository_size {
            return Ok(());
        }
        Err(self.too_large(url, &format!("(commit {sha})"), size, obj))
    }

    /// The error for a repository above the size cap, found at `when`
    /// (`(commit <sha>)` after the checkout, `while fetching` before it
    /// finished).
    fn too_large(&self, url: &str, when: &str, size: u64, obj: &GitRepository) -> ReconcileError {
        // Zero (no periodic reconcile) must not turn into an immediate retry.
        let interval = obj
            .spec
            .interval
            .get()
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(60));
        let mut error = ReconcileError::waiting(
            interval,
            names::REPOSITORY_TOO_LARGE,
            Scrubbed::new(&format!(
                "the repository at {url} {when} takes {size} bytes, more than the {} allowed by --max-repository-size; use spec.sparseCheckout or spec.ignore on a smaller repository, or raise the limit",
                self.max_repository_size
            )),
        )
        .with_condition(names::FETCH_FAILED);
        error.event = true;
        error
    }

    /// Copies the included artifacts into the checkout, archives it into
    /// storage and records the artifact.
    fn reconcile_artifact(
        &self,
        obj: &GitRepository,
        status: &mut GitRepositoryStatus,
        fetched: &Fetched,
        included: &[Included],
    ) -> Result<(), ReconcileError> {
        for (i, include) in included.iter().enumerate() {
            include_artifact(include, &fetched.path, i).map_err(|m| {
                storage_failed(&format!(
                    "including the artifact of spec.include[{i}] (revision '{}') failed: {m}",
                    include.artifact.revision
                ))
            })?;
        }
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
        status.observed_include.clone_from(&obj.spec.include);
        status
            .observed_sparse_checkout
            .clone_from(&obj.spec.sparse_checkout);
        status.observed_recurse_submodules = obj.spec.recurse_submodules;
        status.included_artifacts = included.iter().map(|i| i.artifact.clone()).collect();
        Ok(())
    }

    /// Credentials from `spec.secretRef`: `username` and `password`,
    /// `bearerToken` (HTTPS only), `ca.crt` (or the older `caFile`),
    /// `tls.crt` with `tls.key` (a client certificate, HTTPS only), and for
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
        let ssh = obj.spec.url.starts_with("ssh://");
        // Over ssh://, `password` is the passphrase of `identity`.
        match (text("username"), text("password")) {
            _ if ssh => {}
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
                .map_err(|e| invalid(names::AUTHENTICATION_FAILED, &e.to_string()))?;
        }
        match (data.get("tls.crt"), data.get("tls.key")) {
            (None, None) => {}
            (Some(cert), Some(key)) if obj.spec.url.starts_with("https://") => {
                creds = creds
                    .with_client_pem(&cert.0, &key.0)
                    .map_err(|e| invalid(names::AUTHENTICATION_FAILED, &e.to_string()))?;
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "a client certificate (tls.crt, tls.key) is only presented over https://; change spec.url to https://",
                ));
            }
            _ => {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "must hold both 'tls.crt' and 'tls.key' for a client certificate",
                ));
            }
        }
        if ssh {
            let (Some(identity), Some(known_hosts)) = (text("identity"), text("known_hosts"))
            else {
                return Err(invalid(
                    names::AUTHENTICATION_FAILED,
                    "an ssh:// URL needs both 'identity' (a private key) and 'known_hosts'",
                ));
            };
            let keys = git::SshKeys::new(identity, known_hosts, text("password").as_deref())
                .map_err(|e| invalid(names::AUTHENTICATION_FAILED, &e.to_string()))?;
            creds.ssh = Some(keys);
        }
        Ok(creds)
    }
}

/// An included GitRepository's artifact and where it goes.
struct Included {
    artifact: Artifact,
    /// The artifact's file in storage.
    path: PathBuf,
    /// `fromPath`, checked and normalised (empty for the root).
    from: PathBuf,
    /// `toPath`, checked and normalised.
    to: PathBuf,
}

/// Whether the recorded included artifacts are the current ones.
fn same_artifacts(recorded: &[Artifact], current: &[Included]) -> bool {
    recorded.len() == current.len()
        && recorded
            .iter()
            .zip(current)
            .all(|(r, c)| r.digest == c.artifact.digest && r.revision == c.artifact.revision)
}

/// Checks an included artifact's file against the digest its
/// GitRepository recorded, unpacks it (safely, with the client's limits) and
/// copies its `from` path over `to` in the checkout, never through a link.
fn include_artifact(include: &Included, checkout: &Path, index: usize) -> Result<(), String> {
    let dest = worktree::destination(
        checkout,
        &format!("spec.include[{index}].toPath"),
        &include.to,
    )
    .map_err(|e| e.to_string())?;
    let expected = include
        .artifact
        .digest
        .as_deref()
        .ok_or("the included artifact records no digest")?;
    let actual = file_digest(&include.path).map_err(|e| format!("reading: {e}"))?;
    if actual != expected {
        return Err(format!(
            "the stored file has digest {actual}, but its GitRepository recorded {expected}; it was not included"
        ));
    }
    let unpacked = tempfile::tempdir().map_err(|e| format!("creating a temp dir: {e}"))?;
    let file = std::fs::File::open(&include.path).map_err(|e| format!("opening: {e}"))?;
    ferroflux_artifact::extract::tar_gz(
        std::io::BufReader::new(file),
        unpacked.path(),
        ferroflux_artifact::extract::Limits::default(),
    )
    .map_err(|e| e.to_string())?;
    let src = unpacked.path().join(&include.from);
    if !src.exists() {
        return Err(format!(
            "fromPath '{}' does not exist in the included artifact",
            include.from.display()
        ));
    }
    worktree::replace_with_copy(&src, &dest).map_err(|e| e.to_string())
}

/// The `sha256:<hex>` digest of a file, read in pieces.
fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut hasher = HashingWriter::new(std::io::sink());
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finish().1)
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
        let tag = semver::highest_match(&constraint, tags)
            .map_err(|e| e.to_string())?
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

/// A directory a fetch writes into, and the most it may hold.
struct SizeWatch {
    dir: PathBuf,
    max: u64,
}

/// How often a fetch's directory is measured against the size cap.
const SIZE_CHECK_EVERY: Duration = Duration::from_millis(250);

/// Why [`blocking`] work did not finish.
enum Fetch {
    /// The git error, a timeout among them.
    Git(git::Error),
    /// The watched directory grew past its cap (the size seen); the work
    /// was cancelled.
    TooLarge(u64),
}

impl Fetch {
    /// The git error, or a too-large directory as one.
    fn into_git(self, url: &str) -> git::Error {
        match self {
            Self::Git(e) => e,
            Self::TooLarge(size) => git::Error::Git {
                operation: "fetch",
                url: url.to_owned(),
                message: format!("stopped at {size} bytes: over the size cap"),
            },
        }
    }
}

/// Runs blocking git work off the async executor, cancelling it after
/// `timeout`, or as soon as the directory of `watch` holds more than its
/// cap (so `--max-repository-size` bounds the scratch space a fetch uses,
/// not only the result).
async fn blocking<T: Send + 'static>(
    timeout: Duration,
    url: &str,
    watch: Option<&SizeWatch>,
    work: impl FnOnce(&AtomicBool) -> git::Result<T> + Send + 'static,
) -> Result<T, Fetch> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let mut task = tokio::task::spawn_blocking(move || work(&flag));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ticks = tokio::time::interval(SIZE_CHECK_EVERY);
    let failed = |message: String| {
        Fetch::Git(git::Error::Git {
            operation: "fetch",
            url: url.to_owned(),
            message,
        })
    };
    loop {
        tokio::select! {
            joined = &mut task => {
                return match joined {
                    Ok(result) => result.map_err(Fetch::Git),
                    Err(join) => Err(failed(join.to_string())),
                };
            }
            // `spec.timeout`: the fetch is cancelled when it runs out.
            () = tokio::time::sleep_until(deadline) => {
                cancel.store(true, Ordering::Relaxed);
                return Err(failed(format!(
                    "timed out after {timeout:?}; raise spec.timeout if the repository is large"
                )));
            }
            _ = ticks.tick(), if watch.is_some() => {
                let Some(watch) = watch else { continue };
                let dir = watch.dir.clone();
                // Unreadable or not yet created: nothing to hold against it.
                let size = tokio::task::spawn_blocking(move || worktree::size(&dir).unwrap_or(0))
                    .await
                    .unwrap_or(0);
                if size > watch.max {
                    cancel.store(true, Ordering::Relaxed);
                    // The work stops at gix's next check of the flag; the
                    // caller's temp dir is removed when it is dropped.
                    return Err(Fetch::TooLarge(size));
                }
            }
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
    crate::artifacts::remove_orphaned::<GitRepository>(client, storage, KIND, namespace).await
}

/// Refuses the spec fields not implemented yet, naming them all.
///
/// # Errors
/// A stalled [`ReconcileError`] listing the unsupported fields.
pub fn reconcile_supported(obj: &GitRepository) -> Result<(), ReconcileError> {
    let spec = &obj.spec;
    let mut unsupported = Vec::new();
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
        let included = self.reconcile_include(&obj, status).await?;
        if let Some(fetched) = self.reconcile_source(&obj, status, &included).await? {
            self.reconcile_artifact(&obj, status, &fetched, &included)?;
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
