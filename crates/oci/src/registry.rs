//! A registry client over `oci-client`: one [`Registry`] per login and TLS
//! setting (oci-client keeps one login per registry host for the life of a
//! client, so a client is never shared between objects with different
//! Secrets). Errors are classified ([`Error`]) so callers can tell a refused
//! login from a missing tag or an unreachable registry.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use ferroflux_artifact::digest::HashingWriter;
use futures_util::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};

use crate::auth::Credentials;

use crate::url::OciUrl;
/// A blob's descriptor in a manifest (`oci-client`'s type).
pub use oci_client::manifest::OciDescriptor as Descriptor;
/// An OCI image manifest (`oci-client`'s type).
pub use oci_client::manifest::OciImageManifest as ImageManifest;

/// Why a registry operation failed. Messages name the operation and the
/// `oci://` address, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry refused the login (or anonymous access).
    #[error("{operation} {url}: the registry refused the credentials (401/403): {message}")]
    Unauthorized {
        /// What was being done.
        operation: &'static str,
        /// The address.
        url: String,
        /// The registry's answer.
        message: String,
    },
    /// The tag, manifest, repository or blob does not exist.
    #[error("{operation} {url}: not found: {message}")]
    NotFound {
        /// What was being done.
        operation: &'static str,
        /// The address.
        url: String,
        /// The registry's answer.
        message: String,
    },
    /// The registry could not be reached (connection refused, TLS, timeout).
    #[error("{operation} {url}: the registry could not be reached: {message}")]
    Unreachable {
        /// What was being done.
        operation: &'static str,
        /// The address.
        url: String,
        /// The transport error, with its causes.
        message: String,
    },
    /// Any other failure the registry or the client reported.
    #[error("{operation} {url} failed: {message}")]
    Registry {
        /// What was being done.
        operation: &'static str,
        /// The address.
        url: String,
        /// The error, with its causes.
        message: String,
    },
    /// A blob is larger than the cap.
    #[error(
        "the layer {digest} of {url} is {size} bytes, more than the {max} allowed; raise the size limit or push a smaller artifact"
    )]
    TooLarge {
        /// The address.
        url: String,
        /// The blob's digest.
        digest: String,
        /// Its size, as announced or as read so far.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// A downloaded blob does not have the digest its manifest gives.
    #[error(
        "the layer of {url} has digest {actual}, but the manifest says {expected}; it was discarded"
    )]
    DigestMismatch {
        /// The address.
        url: String,
        /// The manifest's digest.
        expected: String,
        /// The content's digest.
        actual: String,
    },
    /// The client could not be built (an invalid CA certificate).
    #[error("building the registry client failed: {0}; check the CA certificate (ca.crt)")]
    Client(String),
    /// Writing a downloaded blob failed.
    #[error("writing the layer of {url} failed: {source}")]
    Write {
        /// The address.
        url: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Tags asked for per page of the tag list.
const PAGE: usize = 1000;

/// The most tags read from one repository, so a registry that never ends
/// its list cannot exhaust memory.
const MAX_TAGS: usize = 100_000;

/// How a registry is reached.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Plain HTTP instead of HTTPS (`spec.insecure`, `--insecure-registry`).
    pub insecure: bool,
    /// PEM CA certificates trusted besides the system roots (`ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// The login; anonymous when `None`.
    pub credentials: Option<Credentials>,
    /// The most a single request may take to connect and to read.
    pub timeout: Option<Duration>,
}

/// A client for one registry login.
pub struct Registry {
    client: oci_client::Client,
    auth: RegistryAuth,
}

/// A resolved manifest: its digest and content.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// `sha256:<hex>` of the manifest as the registry serves it.
    pub digest: String,
    /// The image manifest.
    pub manifest: OciImageManifest,
}

impl Manifest {
    /// The manifest's annotations (empty when it has none).
    #[must_use]
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.manifest.annotations.clone().unwrap_or_default()
    }
}

impl Registry {
    /// A client as `options` say.
    ///
    /// # Errors
    /// [`Error::Client`] when the CA does not parse.
    pub fn new(options: RegistryOptions) -> Result<Self> {
        ferroflux_tls::install_crypto_provider();
        let config = ClientConfig {
            protocol: if options.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: options
                .ca_pem
                .map(|data| {
                    vec![Certificate {
                        encoding: CertificateEncoding::Pem,
                        data,
                    }]
                })
                .unwrap_or_default(),
            read_timeout: options.timeout,
            connect_timeout: options.timeout,
            user_agent: "ferroflux",
            ..ClientConfig::default()
        };
        let client = oci_client::Client::try_from(config).map_err(|e| Error::Client(chain(&e)))?;
        let auth = options.credentials.map_or(RegistryAuth::Anonymous, |c| {
            RegistryAuth::Basic(c.username, c.password)
        });
        Ok(Self { client, auth })
    }

    /// Every tag of the repository, following pagination.
    ///
    /// # Errors
    /// A classified [`Error`].
    pub async fn list_tags(&self, url: &OciUrl) -> Result<Vec<String>> {
        let reference = reference(url, Some("latest"), None);
        let shown = url.repository_url();
        let mut tags: Vec<String> = Vec::new();
        loop {
            let page = self
                .client
                .list_tags(
                    &reference,
                    &self.auth,
                    Some(PAGE),
                    tags.last().map(String::as_str),
                )
                .await
                .map_err(|e| classify("listing the tags of", &shown, &e))?;
            // Registries may serve fewer than asked per page, so only an
            // empty page, or one that does not move past `last` (a registry
            // ignoring it), ends the list.
            if page.tags.last().is_none_or(|t| Some(t) == tags.last()) {
                return Ok(tags);
            }
            tags.extend(page.tags);
            if tags.len() >= MAX_TAGS {
                return Ok(tags);
            }
        }
    }

    /// The digest of the manifest `tag` (or `digest`) names, with a `HEAD`:
    /// nothing is downloaded.
    ///
    /// # Errors
    /// A classified [`Error`].
    pub async fn resolve(
        &self,
        url: &OciUrl,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<String> {
        let reference = reference(url, tag, digest);
        self.client
            .fetch_manifest_digest(&reference, &self.auth)
            .await
            .map_err(|e| classify("resolving", &shown(url, tag, digest), &e))
    }

    /// The image manifest `tag` (or `digest`) names.
    ///
    /// # Errors
    /// A classified [`Error`].
    pub async fn manifest(
        &self,
        url: &OciUrl,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Manifest> {
        let reference = reference(url, tag, digest);
        let (manifest, digest) = self
            .client
            .pull_image_manifest(&reference, &self.auth)
            .await
            .map_err(|e| classify("pulling the manifest of", &shown(url, tag, digest), &e))?;
        Ok(Manifest { digest, manifest })
    }

    /// Downloads the blob `layer` into `out`, refusing more than `max`
    /// bytes and checking its digest. Returns what was written to.
    ///
    /// # Errors
    /// [`Error::TooLarge`], [`Error::DigestMismatch`], [`Error::Write`], or
    /// a classified registry [`Error`].
    pub async fn pull_blob<W: Write>(
        &self,
        url: &OciUrl,
        layer: &OciDescriptor,
        out: W,
        max: u64,
    ) -> Result<W> {
        let shown = format!("{}@{}", url.repository_url(), layer.digest);
        let too_large = |size: u64| Error::TooLarge {
            url: url.repository_url(),
            digest: layer.digest.clone(),
            size,
            max,
        };
        let announced = u64::try_from(layer.size).unwrap_or(0);
        if announced > max {
            return Err(too_large(announced));
        }
        let reference = reference(url, None, Some(&layer.digest));
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &self.auth)
            .await;
        let mut stream = self
            .client
            .pull_blob_stream(&reference, layer)
            .await
            .map_err(|e| classify("downloading", &shown, &e))?;
        let mut writer = HashingWriter::new(out);
        let mut read: u64 = 0;
        while let Some(chunk) = stream.stream.next().await {
            let chunk = chunk.map_err(|e| Error::Unreachable {
                operation: "downloading",
                url: shown.clone(),
                message: chain(&e),
            })?;
            read += chunk.len() as u64;
            if read > max {
                return Err(too_large(read));
            }
            writer.write_all(&chunk).map_err(|source| Error::Write {
                url: shown.clone(),
                source,
            })?;
        }
        let (out, actual, _) = writer.finish();
        if actual != layer.digest {
            return Err(Error::DigestMismatch {
                url: url.repository_url(),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(out)
    }

    /// Pushes a blob (unless the registry has it) and returns its descriptor.
    ///
    /// # Errors
    /// A classified [`Error`].
    pub async fn push_blob(
        &self,
        url: &OciUrl,
        media_type: &str,
        data: Vec<u8>,
    ) -> Result<OciDescriptor> {
        let reference = reference(url, url.tag.as_deref(), None);
        let digest = ferroflux_artifact::digest::of(&data);
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        self.auth_push(&reference, url).await?;
        let shown = url.repository_url();
        let exists = self
            .client
            .blob_exists(&reference, &digest)
            .await
            .map_err(|e| classify("checking a blob of", &shown, &e))?;
        if !exists {
            self.client
                .push_blob(&reference, data, &digest)
                .await
                .map_err(|e| classify("pushing a blob to", &shown, &e))?;
        }
        Ok(OciDescriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            ..OciDescriptor::default()
        })
    }

    /// Pushes `manifest` under `tag`; returns the manifest's digest.
    ///
    /// # Errors
    /// A classified [`Error`].
    pub async fn push_manifest(
        &self,
        url: &OciUrl,
        tag: &str,
        manifest: OciImageManifest,
    ) -> Result<String> {
        let reference = reference(url, Some(tag), None);
        self.auth_push(&reference, url).await?;
        let manifest = OciManifest::Image(manifest);
        let shown = shown(url, Some(tag), None);
        self.client
            .push_manifest(&reference, &manifest)
            .await
            .map_err(|e| classify("pushing the manifest to", &shown, &e))?;
        // The registry stores the bytes as sent; asking it gives the digest
        // consumers will see.
        self.resolve(url, Some(tag), None).await
    }

    async fn auth_push(&self, reference: &Reference, url: &OciUrl) -> Result<()> {
        self.client
            .auth(reference, &self.auth, RegistryOperation::Push)
            .await
            .map(drop)
            .map_err(|e| classify("logging in to", &url.repository_url(), &e))
    }
}

/// The reference to `url` at `digest`, else `tag`, else `latest`.
fn reference(url: &OciUrl, tag: Option<&str>, digest: Option<&str>) -> Reference {
    match digest {
        Some(d) => {
            Reference::with_digest(url.registry.clone(), url.repository.clone(), d.to_owned())
        }
        None => Reference::with_tag(
            url.registry.clone(),
            url.repository.clone(),
            tag.unwrap_or("latest").to_owned(),
        ),
    }
}

/// `oci://repo:tag` or `oci://repo@digest`, for messages.
fn shown(url: &OciUrl, tag: Option<&str>, digest: Option<&str>) -> String {
    match (digest, tag) {
        (Some(d), _) => format!("{}@{d}", url.repository_url()),
        (None, Some(t)) => format!("{}:{t}", url.repository_url()),
        (None, None) => url.repository_url(),
    }
}

/// An error and its causes, joined by `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// Sorts an `oci-client` error into [`Error`]'s kinds.
fn classify(operation: &'static str, url: &str, e: &OciDistributionError) -> Error {
    let url = url.to_owned();
    let message = chain(e);
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => Error::Unauthorized {
            operation,
            url,
            message,
        },
        OciDistributionError::ImageManifestNotFoundError(_)
        | OciDistributionError::ServerError { code: 404, .. } => Error::NotFound {
            operation,
            url,
            message,
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                Error::Unauthorized {
                    operation,
                    url,
                    message,
                }
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown
                )
            }) {
                Error::NotFound {
                    operation,
                    url,
                    message,
                }
            } else {
                Error::Registry {
                    operation,
                    url,
                    message,
                }
            }
        }
        OciDistributionError::RequestError(r) if r.is_connect() || r.is_timeout() => {
            Error::Unreachable {
                operation,
                url,
                message,
            }
        }
        _ => Error::Registry {
            operation,
            url,
            message,
        },
    }
}
