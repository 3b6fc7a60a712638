//! Talking to git remotes with gix: list a remote's refs without cloning, and
//! shallow-clone one ref into a directory.
//!
//! # Guarantees
//! No system, user or environment git configuration is read, no credential
//! helper or prompt runs: credentials come only from [`Credentials`].
//!
//! # Caveats
//! Blocking: call from `tokio::task::spawn_blocking`. `http://` and `https://`
//! (with an optional custom CA and bearer token) and `ssh://` (the system
//! `ssh` with the Secret's key and known hosts, unknown hosts refused).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use gix::remote::Direction;

/// Credentials and trust for one remote, from a GitRepository's `secretRef`.
#[derive(Clone, Default)]
pub struct Credentials {
    /// HTTP basic auth username and password.
    pub basic: Option<(String, String)>,
    /// A token sent as `Authorization: Bearer <token>` (HTTPS only).
    pub bearer_token: Option<String>,
    /// Extra CA certificates trusted for HTTPS, besides the system's.
    pub ca_certs: Vec<reqwest::Certificate>,
    /// The client certificate and key presented over HTTPS (mutual TLS).
    pub client_identity: Option<reqwest::Identity>,
    /// The SSH key and the known host keys, for `ssh://`.
    pub ssh: Option<SshKeys>,
}

/// What `ssh://` needs: a private key and the server's known host keys.
/// Unknown hosts are always refused.
#[derive(Clone)]
pub struct SshKeys {
    /// The private key (OpenSSH or PEM format, unencrypted).
    pub identity: String,
    /// Lines in `known_hosts` format.
    pub known_hosts: String,
}

impl std::fmt::Debug for SshKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("SshKeys")
            .field("known_hosts", &self.known_hosts.lines().count())
            .finish_non_exhaustive()
    }
}

impl SshKeys {
    /// Keys from a Secret's `identity` and `known_hosts`, decrypting an
    /// OpenSSH `identity` with `password` when it is passphrase-protected.
    ///
    /// # Errors
    /// A [`CredentialsError`] naming the Secret key at fault: an encrypted
    /// key without `password`, a `password` that does not decrypt it, or an
    /// encrypted key in the legacy PEM format. The passphrase is never part
    /// of it.
    pub fn new(
        identity: String,
        known_hosts: String,
        password: Option<&str>,
    ) -> std::result::Result<Self, CredentialsError> {
        let identity = if identity.contains("BEGIN OPENSSH PRIVATE KEY") {
            let key = ssh_key::PrivateKey::from_openssh(identity.trim())
                .map_err(CredentialsError::InvalidIdentity)?;
            if key.is_encrypted() {
                let password = password.ok_or(CredentialsError::MissingPassword)?;
                let key = key
                    .decrypt(password)
                    .map_err(|_| CredentialsError::WrongPassword)?;
                let text = key
                    .to_openssh(ssh_key::LineEnding::LF)
                    .map_err(CredentialsError::Reencode)?;
                text.as_str().to_owned()
            } else {
                identity
            }
        } else if identity.contains("ENCRYPTED") {
            return Err(CredentialsError::LegacyEncrypted);
        } else {
            identity
        };
        Ok(Self {
            identity,
            known_hosts,
        })
    }
}

impl Credentials {
    /// Parses the PEM bundle of a `ca.crt` Secret key into [`Credentials::ca_certs`].
    ///
    /// # Errors
    /// [`CredentialsError::InvalidCa`] or [`CredentialsError::EmptyCa`] when
    /// the data is not PEM certificates.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> std::result::Result<Self, CredentialsError> {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(CredentialsError::InvalidCa)?;
        if certs.is_empty() {
            return Err(CredentialsError::EmptyCa);
        }
        self.ca_certs = certs;
        Ok(self)
    }

    /// Reads the PEM client certificate `tls.crt` and its key `tls.key`
    /// into [`Credentials::client_identity`].
    ///
    /// # Errors
    /// [`CredentialsError::InvalidClientCertificate`] naming the keys when
    /// they are not a PEM certificate and a matching private key (it never
    /// shows their contents).
    pub fn with_client_pem(
        mut self,
        cert: &[u8],
        key: &[u8],
    ) -> std::result::Result<Self, CredentialsError> {
        let mut pem = cert.to_vec();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend_from_slice(key);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|_| CredentialsError::InvalidClientCertificate)?;
        self.client_identity = Some(identity);
        Ok(self)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        f.debug_struct("Credentials")
            .field("basic", &self.basic.as_ref().map(|(u, _)| u))
            .field("bearer_token", &self.bearer_token.is_some())
            .field("ca_certs", &self.ca_certs.len())
            .field("client_identity", &self.client_identity.is_some())
            .field("ssh", &self.ssh.is_some())
            .finish()
    }
}

/// What to check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checkout {
    /// The tip of a branch.
    Branch(String),
    /// A tag (annotated or lightweight).
    Tag(String),
    /// A full reference name such as `refs/pull/42/head`.
    Name(String),
    /// A commit by its full sha1.
    Commit(String),
}

/// One advertised ref of a remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// The full name, e.g. `refs/heads/main`, `refs/tags/v1.0.0`, `HEAD`.
    pub name: String,
    /// The object the ref points at (a tag object for annotated tags).
    pub target: Option<String>,
    /// The commit an annotated tag points at.
    pub peeled: Option<String>,
}

impl RemoteRef {
    /// The commit this ref resolves to.
    #[must_use]
    pub fn commit(&self) -> Option<&str> {
        self.peeled.as_deref().or(self.target.as_deref())
    }
}

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote refused the credentials, or demanded some and none were given.
    #[error("authentication to {url} failed: check the username and password in the secretRef")]
    Unauthenticated {
        /// The remote URL.
        url: String,
    },
    /// The remote or the requested ref does not exist.
    #[error("{what} was not found at {url}")]
    NotFound {
        /// The ref or repository.
        what: String,
        /// The remote URL.
        url: String,
    },
    /// Any other git failure (network, protocol, checkout).
    #[error("git operation '{operation}' on {url} failed: {message}")]
    Git {
        /// "ls-remote", "clone" or "checkout".
        operation: &'static str,
        /// The remote URL.
        url: String,
        /// gix's message.
        message: String,
    },
    /// The operation was cancelled (timeout or shutdown).
    #[error("git operation on {url} was cancelled")]
    Cancelled {
        /// The remote URL.
        url: String,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why credentials from a Secret cannot be used. No variant holds a
/// passphrase or key material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// `identity` does not parse as an OpenSSH private key.
    #[error("'identity' is not a valid OpenSSH private key: {0}")]
    InvalidIdentity(#[source] ssh_key::Error),
    /// `identity` is encrypted and there is no `password`.
    #[error("'identity' is passphrase-protected; add the passphrase as 'password'")]
    MissingPassword,
    /// `password` does not decrypt `identity`.
    #[error("'password' does not decrypt 'identity'")]
    WrongPassword,
    /// The decrypted key could not be written back as OpenSSH text.
    #[error("re-encoding the decrypted 'identity' failed: {0}")]
    Reencode(#[source] ssh_key::Error),
    /// `identity` is encrypted in the legacy PEM format.
    #[error(
        "'identity' is a passphrase-protected key in the legacy PEM format; convert it with 'ssh-keygen -p -f <file>' (which writes the OpenSSH format) and store that"
    )]
    LegacyEncrypted,
    /// `ca.crt` is not PEM.
    #[error("ca.crt is not a PEM certificate bundle: {0}")]
    InvalidCa(#[source] reqwest::Error),
    /// `ca.crt` holds no certificate.
    #[error("ca.crt holds no certificate")]
    EmptyCa,
    /// `tls.crt` and `tls.key` are not a certificate and its key.
    #[error("tls.crt and tls.key are not a PEM certificate and its private key")]
    InvalidClientCertificate,
}

/// Options that make gix read no outside configuration and run no helper,
/// plus `extra` overrides (the SSH command).
fn open_options(extra: &[String]) -> gix::open::Options {
    let mut overrides: Vec<String> = [
        "credential.helper=",
        "gitoxide.credentials.terminalPrompt=false",
        "protocol.allow=never",
        "protocol.http.allow=always",
        "protocol.https.allow=always",
        "protocol.ssh.allow=always",
    ]
    .map(str::to_owned)
    .to_vec();
    overrides.extend_from_slice(extra);
    gix::open::Options::isolated().config_overrides(overrides)
}

/// For `ssh://`: writes the key and known hosts into a private directory and
/// returns it (keep it alive during the operation) with the config that makes
/// gix run `ssh` with them, strict host checking and no agent or user config.
/// A server that stops answering is dropped after a minute (keep-alives
/// every 15 s, four missed), so a stalled remote cannot pin a blocking
/// thread; over HTTP the same bound comes from the client's per-operation
/// timeout.
fn ssh_setup(url: &str, creds: &Credentials) -> Result<(Option<tempfile::TempDir>, Vec<String>)> {
    use std::os::unix::fs::PermissionsExt as _;
    if !url.starts_with("ssh://") {
        return Ok((None, Vec::new()));
    }
    let io = |e: std::io::Error| Error::Git {
        operation: "ssh setup",
        url: url.to_owned(),
        message: e.to_string(),
    };
    let dir = tempfile::tempdir().map_err(io)?;
    let known_hosts = dir.path().join("known_hosts");
    let keys = creds.ssh.clone().unwrap_or(SshKeys {
        identity: String::new(),
        known_hosts: String::new(),
    });
    std::fs::write(&known_hosts, &keys.known_hosts).map_err(io)?;
    let mut command = format!(
        "ssh -F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile='{}' \
         -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=30 \
         -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
        known_hosts.display()
    );
    if !keys.identity.is_empty() {
        let identity = dir.path().join("identity");
        let mut text = keys.identity.clone();
        if !text.ends_with('\n') {
            // ssh refuses a key file without a final newline.
            text.push('\n');
        }
        std::fs::write(&identity, text).map_err(io)?;
        std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        command = format!("{command} -i '{}'", identity.display());
    }
    Ok((
        Some(dir),
        vec![
            format!("core.sshCommand={command}"),
            "ssh.variant=ssh".to_owned(),
        ],
    ))
}

fn classify(operation: &'static str, url: &str, err: &gix::Error) -> Error {
    let url = url.to_owned();
    if err.is_unauthenticated() {
        Error::Unauthenticated { url }
    } else if err.is_cancelled() {
        Error::Cancelled { url }
    } else {
        Error::Git {
            operation,
            url,
            message: err.to_string(),
        }
    }
}

type CredentialsFn = Box<
    dyn FnMut(
            gix::credentials::helper::Action,
        ) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
        + Send
        + Sync,
>;

/// The callback gix asks for credentials; without one it would run helpers.
fn credentials_fn(creds: &Credentials) -> CredentialsFn {
    let basic = creds.basic.clone();
    Box::new(move |action| match (action, &basic) {
        (gix::credentials::helper::Action::Get(ctx), Some((username, password))) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.clone(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            }))
        }
        _ => Ok(None),
    })
}

/// HTTP transport options carrying the bearer token, the extra CAs and the
/// client certificate; `None` for non-HTTP URLs or when nothing needs
/// changing.
fn transport_options(
    repo: &gix::Repository,
    url: &str,
    creds: &Credentials,
) -> gix::Result<Option<Box<dyn std::any::Any>>> {
    use gix::protocol::transport::client::blocking_io::http;
    if creds.bearer_token.is_none() && creds.ca_certs.is_empty() && creds.client_identity.is_none()
    {
        return Ok(None);
    }
    let Some(options) = repo.transport_options(url, None)? else {
        return Ok(None);
    };
    let Ok(mut options) = options.downcast::<http::Options>() else {
        return Ok(None);
    };
    if let Some(token) = &creds.bearer_token {
        options
            .extra_headers
            .push(format!("Authorization: Bearer {token}"));
    }
    if !creds.ca_certs.is_empty() || creds.client_identity.is_some() {
        let certs = creds.ca_certs.clone();
        let identity = creds.client_identity.clone();
        let backend = http::reqwest::Options {
            configure_client: Some(Box::new(move |builder| {
                let builder = builder.tls_certs_merge(certs.clone());
                Ok(match identity.clone() {
                    Some(identity) => builder.identity(identity),
                    None => builder,
                })
            })),
            configure_request: None,
        };
        options.backend = Some(std::sync::Arc::new(std::sync::Mutex::new(backend)));
    }
    Ok(Some(options))
}

/// Lists the remote's refs (branches, tags with their peeled commits, HEAD)
/// without cloning.
///
/// # Errors
/// [`Error::Unauthenticated`], [`Error::Cancelled`], [`Error::Git`].
pub fn ls_remote(url: &str, creds: &Credentials) -> Result<Vec<RemoteRef>> {
    ferroflux_tls::install_crypto_provider();
    let op = "ls-remote";
    let err = |e: gix::Error| classify(op, url, &e);
    let tmp = tempfile::tempdir().map_err(|e| Error::Git {
        operation: op,
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    let (_ssh_dir, ssh_config) = ssh_setup(url, creds)?;
    let repo = gix::ThreadSafeRepository::init_opts(
        tmp.path(),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        open_options(&ssh_config),
    )
    .map_err(err)?
    .to_thread_local();
    let remote = repo
        .remote_at(url)
        .map_err(err)?
        .with_refspecs(
            [
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
                "HEAD",
            ],
            Direction::Fetch,
        )
        .map_err(err)?;
    let mut connection = remote.connect(Direction::Fetch).map_err(err)?;
    connection.set_credentials(credentials_fn(creds));
    if let Some(options) = transport_options(&repo, url, creds).map_err(err)? {
        connection.set_transport_options(options);
    }
    let (map, _handshake) = connection
        .ref_map(
            gix::progress::Discard,
            gix::remote::ref_map::Options::default(),
        )
        .map_err(err)?;
    Ok(map
        .remote_refs
        .iter()
        .map(|r| {
            let (name, target, peeled) = r.unpack();
            RemoteRef {
                name: name.to_string(),
                target: target.map(|id| id.to_hex().to_string()),
                peeled: peeled.map(|id| id.to_hex().to_string()),
            }
        })
        .collect())
}

/// Shallow-clones `url` at `checkout` into the empty or missing directory
/// `dest`, checks out the worktree and returns the checked-out commit's sha1.
///
/// # Errors
/// [`Error::Unauthenticated`], [`Error::NotFound`], [`Error::Cancelled`], [`Error::Git`].
pub fn clone(
    url: &str,
    dest: &Path,
    checkout: &Checkout,
    creds: &Credentials,
    cancel: &AtomicBool,
) -> Result<String> {
    ferroflux_tls::install_crypto_provider();
    let op = "clone";
    let err = |e: gix::Error| classify(op, url, &e);
    let (_ssh_dir, ssh_config) = ssh_setup(url, creds)?;
    let creds = creds.clone();
    let url_owned = url.to_owned();
    let prepare = gix::clone::PrepareFetch::new(
        url,
        dest,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
        open_options(&ssh_config),
    )
    .map_err(err)?
    .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
        std::num::NonZeroU32::MIN,
    ))
    .configure_connection(move |connection| {
        connection.set_credentials(credentials_fn(&creds));
        let repo = connection.remote().repo();
        if let Some(options) = transport_options(repo, &url_owned, &creds)? {
            connection.set_transport_options(options);
        }
        Ok(())
    });
    let prepare = match checkout {
        Checkout::Branch(b) => prepare.with_ref_name(Some(format!("refs/heads/{b}").as_str())),
        Checkout::Tag(t) => prepare.with_ref_name(Some(format!("refs/tags/{t}").as_str())),
        Checkout::Name(n) => prepare.with_ref_name(Some(n.as_str())),
        Checkout::Commit(c) => prepare.with_revision(Some(c.as_str())),
    }
    .map_err(err)?;
    let mut prepare = prepare;
    let (mut checkout_step, _) = prepare
        .fetch_then_checkout(gix::progress::Discard, cancel)
        .map_err(|e| {
            if e.is_not_found() {
                Error::NotFound {
                    what: describe(checkout),
                    url: url.to_owned(),
                }
            } else {
                classify(op, url, &e)
            }
        })?;
    let (repo, outcome) = checkout_step
        .main_worktree(gix::progress::Discard, cancel)
        .map_err(|e| classify("checkout", url, &e))?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Cancelled {
            url: url.to_owned(),
        });
    }
    if !outcome.errors.is_empty() || !outcome.collisions.is_empty() {
        return Err(Error::Git {
            operation: "checkout",
            url: url.to_owned(),
            message: format!(
                "{} files could not be written",
                outcome.errors.len() + outcome.collisions.len()
            ),
        });
    }
    let head = repo.head_id().map_err(|e| classify("checkout", url, &e))?;
    Ok(head.detach().to_hex().to_string())
}

/// Clones the submodules of the checkout at `dest`, recursively, each at the
/// commit the superproject records. Relative submodule URLs are resolved
/// against `url`. Credentials go along only where [`submodule_credentials`]
/// allows: the same host, over the same or a more secure scheme. Returns
/// how many submodules were cloned.
///
/// # Errors
/// The error of reading `.gitmodules` or of a submodule's clone, naming it.
pub fn update_submodules(
    url: &str,
    dest: &Path,
    creds: &Credentials,
    cancel: &AtomicBool,
) -> Result<usize> {
    let fail = |message: String| Error::Git {
        operation: "submodule update",
        url: url.to_owned(),
        message,
    };
    let repo = gix::open_opts(dest, open_options(&[])).map_err(|e| fail(e.to_string()))?;
    let Some(submodules) = repo.submodules().map_err(|e| fail(e.to_string()))? else {
        return Ok(0);
    };
    let mut wanted = Vec::new();
    for sm in submodules {
        let name = sm.name().to_string();
        let path = sm
            .path()
            .map_err(|e| fail(format!("submodule '{name}': {e}")))?;
        let raw = sm
            .url()
            .map_err(|e| fail(format!("submodule '{name}': {e}")))?;
        let commit = sm
            .head_id()
            .map_err(|e| fail(format!("submodule '{name}': {e}")))?
            .ok_or_else(|| {
                fail(format!(
                    "submodule '{name}' has no commit recorded at '{path}'"
                ))
            })?;
        let rel = crate::worktree::relative("submodule path", &path.to_string())
            .map_err(|m| fail(format!("submodule '{name}': {m}")))?;
        wanted.push((
            name,
            rel,
            submodule_url(url, &raw.to_bstring().to_string()),
            commit,
        ));
    }
    for (name, rel, sub_url, commit) in &wanted {
        let sub_dest = dest.join(rel);
        if sub_dest.exists() && std::fs::read_dir(&sub_dest).is_ok_and(|mut d| d.next().is_some()) {
            return Err(fail(format!(
                "submodule '{name}': '{}' is not empty",
                rel.display()
            )));
        }
        let sub_creds = submodule_credentials(url, sub_url, creds);
        clone(
            sub_url,
            &sub_dest,
            &Checkout::Commit(commit.to_hex().to_string()),
            &sub_creds,
            cancel,
        )?;
        update_submodules(sub_url, &sub_dest, &sub_creds, cancel)?;
    }
    Ok(wanted.len())
}

/// What of the superproject's credentials a submodule at `sub_url` gets.
/// The secrets (basic auth, bearer token, client certificate, SSH key) go
/// only to the superproject's own host and port, over the same scheme or
/// from `http://` up to `https://`, and a bearer token only over
/// `https://`: a repository must not be able to send its reader's
/// credentials to a host of its choosing, or in clear text. Trust (extra
/// CAs, known hosts) always goes along.
#[must_use]
pub fn submodule_credentials(parent_url: &str, sub_url: &str, creds: &Credentials) -> Credentials {
    let (Ok(parent), Ok(sub)) = (
        reqwest::Url::parse(parent_url),
        reqwest::Url::parse(sub_url),
    ) else {
        return trust_only(creds);
    };
    let upgrade = parent.scheme() == "http" && sub.scheme() == "https";
    let same_host = parent.host_str().is_some() && parent.host_str() == sub.host_str();
    // `http://` to `https://` changes the default port, not the server.
    let same_port = parent.port_or_known_default() == sub.port_or_known_default()
        || (upgrade && parent.port().is_none() && sub.port().is_none());
    if !(same_host && same_port && (parent.scheme() == sub.scheme() || upgrade)) {
        return trust_only(creds);
    }
    let mut out = creds.clone();
    if sub.scheme() != "https" {
        out.bearer_token = None;
    }
    out
}

/// `creds` without any secret: only what says whom to trust.
fn trust_only(creds: &Credentials) -> Credentials {
    Credentials {
        ca_certs: creds.ca_certs.clone(),
        ssh: creds.ssh.as_ref().map(|keys| SshKeys {
            identity: String::new(),
            known_hosts: keys.known_hosts.clone(),
        }),
        ..Credentials::default()
    }
}

/// A submodule's URL: `./x` and `../x` are relative to the superproject's
/// `parent` URL, as git resolves them; anything else is used as is.
#[must_use]
pub fn submodule_url(parent: &str, url: &str) -> String {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return url.to_owned();
    }
    let mut base = parent.trim_end_matches('/').to_owned();
    let mut rest = url;
    loop {
        if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("../") {
            if let Some(i) = base.rfind('/') {
                base.truncate(i);
            }
            rest = r;
        } else {
            break;
        }
    }
    format!("{base}/{rest}")
}

fn describe(checkout: &Checkout) -> String {
    match checkout {
        Checkout::Branch(b) => format!("branch '{b}'"),
        Checkout::Tag(t) => format!("tag '{t}'"),
        Checkout::Name(n) => format!("reference '{n}'"),
        Checkout::Commit(c) => format!("commit '{c}'"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::{Credentials, SshKeys, submodule_credentials, submodule_url};

    /// Issue 15, defect 6: submodules got the superproject's credentials
    /// for any host, and a bearer token even over plain `http://`.
    #[test]
    fn submodules_get_credentials_only_for_the_same_host_and_a_secure_enough_scheme() {
        let creds = Credentials {
            basic: Some(("user".into(), "pass".into())),
            bearer_token: Some("token".into()),
            ssh: Some(SshKeys {
                identity: "KEY".into(),
                known_hosts: "host ssh-ed25519 AAAA".into(),
            }),
            ..Credentials::default()
        };
        let secrets = |c: &Credentials| {
            (
                c.basic.is_some(),
                c.bearer_token.is_some(),
                c.ssh.as_ref().is_some_and(|k| !k.identity.is_empty()),
            )
        };
        let parent = "https://git.example.com/org/app.git";
        for (sub, want) in [
            ("https://git.example.com/org/lib.git", (true, true, true)),
            (
                "https://git.example.com:443/org/lib.git",
                (true, true, true),
            ),
            (
                "https://evil.example.net/org/lib.git",
                (false, false, false),
            ),
            (
                "https://git.example.com:8443/org/lib.git",
                (false, false, false),
            ),
            ("http://git.example.com/org/lib.git", (false, false, false)),
            (
                "ssh://git@git.example.com/org/lib.git",
                (false, false, false),
            ),
            ("git@git.example.com:org/lib.git", (false, false, false)),
        ] {
            assert_eq!(
                secrets(&submodule_credentials(parent, sub, &creds)),
                want,
                "{sub}"
            );
        }
        // Upgraded from http to https: basic auth goes, and the token only
        // over https.
        let plain = "http://git.example.com/org/app.git";
        assert_eq!(
            secrets(&submodule_credentials(
                plain,
                "http://git.example.com/lib.git",
                &creds
            )),
            (true, false, true)
        );
        assert_eq!(
            secrets(&submodule_credentials(
                plain,
                "https://git.example.com/lib.git",
                &creds
            )),
            (true, true, true)
        );
        // Trust still goes along to another host.
        let other = submodule_credentials(parent, "ssh://git@other/lib.git", &creds);
        assert_eq!(other.ssh.unwrap().known_hosts, "host ssh-ed25519 AAAA");
    }

    /// A fresh ed25519 key from `ssh-keygen`, encrypted with `passphrase`
    /// when it is not empty.
    fn keygen(passphrase: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(file).unwrap()
    }

    #[test]
    fn ssh_keys_are_decrypted_and_bad_ones_are_named_without_the_passphrase() {
        let plain = keygen("");
        let kept = SshKeys::new(plain.clone(), String::new(), None).unwrap();
        assert_eq!(kept.identity, plain);

        let encrypted = keygen("s3cret-pass");
        let decrypted =
            SshKeys::new(encrypted.clone(), String::new(), Some("s3cret-pass")).unwrap();
        assert!(decrypted.identity.contains("BEGIN OPENSSH PRIVATE KEY"));
        assert_ne!(decrypted.identity, encrypted);

        let no_password = SshKeys::new(encrypted.clone(), String::new(), None)
            .unwrap_err()
            .to_string();
        assert!(
            no_password.contains("add the passphrase as 'password'"),
            "{no_password}"
        );
        let wrong = SshKeys::new(encrypted, String::new(), Some("guess-123"))
            .unwrap_err()
            .to_string();
        assert!(
            wrong.contains("does not decrypt") && !wrong.contains("guess-123"),
            "{wrong}"
        );

        let garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n-----END OPENSSH PRIVATE KEY-----\n";
        let err = SshKeys::new(garbage.to_owned(), String::new(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'identity' is not a valid OpenSSH private key"),
            "{err}"
        );
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END RSA PRIVATE KEY-----\n";
        let err = SshKeys::new(legacy.to_owned(), String::new(), Some("x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("legacy PEM format") && err.contains("ssh-keygen -p"),
            "{err}"
        );
    }

    #[test]
    fn relative_submodule_urls_resolve_against_the_superproject() {
        let parent = "https://git.example.com/org/app.git";
        assert_eq!(
            submodule_url(parent, "../lib.git"),
            "https://git.example.com/org/lib.git"
        );
        assert_eq!(
            submodule_url(parent, "../../other/lib.git"),
            "https://git.example.com/other/lib.git"
        );
        assert_eq!(
            submodule_url(parent, "./sub.git"),
            "https://git.example.com/org/app.git/sub.git"
        );
        assert_eq!(
            submodule_url(parent, "ssh://git@example.com/lib.git"),
            "ssh://git@example.com/lib.git"
        );
    }
}
