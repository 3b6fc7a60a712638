//! The S3 side of a Bucket: a client for one bucket of an S3-compatible
//! endpoint (`object_store`'s S3 implementation over the workspace's reqwest,
//! so custom CAs, client certificates and proxies work as in the other
//! sources), listing with Flux's raw key prefix, `HEAD`s for servers whose
//! listings carry no etag, and capped, confined downloads.
//!
//! # Caveats
//! `object_store` parses every listed key as a path: a key with `.` or `..`
//! segments, empty segments (`a//b`) or control characters makes the listing
//! fail ([`Error::UnsafeKey`]), and a trailing `/` (a "directory marker") is
//! dropped; the reconciler skips an empty object whose key is the directory
//! of another one, as Flux skips keys ending in `/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore as _, ObjectStoreExt as _, RetryConfig};
use tokio::io::AsyncWriteExt as _;

/// Why talking to the bucket failed. Messages name the bucket or object and
/// the endpoint, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be built from the settings.
    #[error("{0}")]
    Settings(String),
    /// The bucket does not exist at the endpoint.
    #[error("bucket '{bucket}' not found at {endpoint}")]
    BucketNotFound {
        /// The bucket.
        bucket: String,
        /// The endpoint URL.
        endpoint: String,
    },
    /// The server refused the credentials or their rights.
    #[error(
        "access to bucket '{bucket}' at {endpoint} was denied ({detail}); check the accesskey and secretkey of spec.secretRef"
    )]
    Denied {
        /// The bucket.
        bucket: String,
        /// The endpoint URL.
        endpoint: String,
        /// What the server said.
        detail: String,
    },
    /// A listed key cannot become a file below the artifact root.
    #[error(
        "bucket '{bucket}' holds an object key that cannot be a file below the artifact root ({detail}); keys with '.' or '..' segments, empty segments, a leading '/' or control characters are refused: rename or remove the object"
    )]
    UnsafeKey {
        /// The bucket.
        bucket: String,
        /// The key and what is wrong with it.
        detail: String,
    },
    /// The objects take more than the cap.
    #[error(
        "the objects of bucket '{bucket}' take more than the {max} bytes allowed by --max-bucket-size (at object '{key}'); narrow spec.prefix or spec.ignore, or raise the limit"
    )]
    TooLarge {
        /// The bucket.
        bucket: String,
        /// The object whose size crossed the cap.
        key: String,
        /// The cap.
        max: u64,
    },
    /// Any other failure of a request.
    #[error("{operation} in bucket '{bucket}' at {endpoint} failed: {detail}")]
    Request {
        /// What was done, e.g. `listing objects` or `getting object 'a.yaml'`.
        operation: String,
        /// The bucket.
        bucket: String,
        /// The endpoint URL.
        endpoint: String,
        /// The client's error.
        detail: String,
    },
    /// Writing a downloaded object failed.
    #[error("writing object '{key}' to {} failed: {source}", path.display())]
    Write {
        /// The object.
        key: String,
        /// Where it was written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to reach the bucket.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `spec.endpoint`, a host (and port) or a URL.
    pub endpoint: String,
    /// Plain HTTP (`spec.insecure`).
    pub insecure: bool,
    /// `spec.bucketName`.
    pub bucket: String,
    /// `spec.region`; `us-east-1` when empty, as minio-go signs by default.
    pub region: Option<String>,
    /// Access key and secret key; anonymous requests without them.
    pub keys: Option<(String, String)>,
    /// PEM CA bundle to trust besides the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate and key.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// Proxy URL and its optional basic auth.
    pub proxy: Option<(String, Option<(String, String)>)>,
    /// The longest one request may take.
    pub timeout: Duration,
}

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its etag without quotes, when the listing carries one.
    pub etag: Option<String>,
    /// Its last modification, RFC 3339.
    pub last_modified: String,
}

/// A client for one bucket.
#[derive(Debug)]
pub struct Store {
    s3: AmazonS3,
    bucket: String,
    endpoint: String,
}

/// Builds the client from the reqwest client configured by [`Settings`].
#[derive(Debug)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

impl Store {
    /// A client for `settings`.
    ///
    /// # Errors
    /// [`Error::Settings`] naming the setting that cannot be used (never
    /// quoting a credential).
    pub fn new(settings: &Settings) -> Result<Self> {
        let endpoint = endpoint_url(&settings.endpoint, settings.insecure)?;
        let http = http_client(settings)?;
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_bucket_name(&settings.bucket)
            .with_region(
                settings
                    .region
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .unwrap_or("us-east-1"),
            )
            .with_allow_http(settings.insecure)
            .with_http_connector(Connector(http))
            // One quick retry: the reconcile's own backoff handles outages,
            // and spec.timeout bounds the whole fetch.
            .with_retry(RetryConfig {
                max_retries: 1,
                retry_timeout: settings.timeout,
                ..RetryConfig::default()
            });
        builder = match &settings.keys {
            Some((access, secret)) => builder
                .with_access_key_id(access)
                .with_secret_access_key(secret),
            // Without keys the requests go unsigned, never to the instance
            // metadata service.
            None => builder.with_skip_signature(true),
        };
        let s3 = builder.build().map_err(|e| {
            Error::Settings(format!(
                "spec.endpoint '{}' with bucket '{}': {e}",
                settings.endpoint, settings.bucket
            ))
        })?;
        Ok(Self {
            s3,
            bucket: settings.bucket.clone(),
            endpoint,
        })
    }

    /// The endpoint URL the requests go to.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every object whose key starts with `prefix` (a raw string prefix, as
    /// Flux passes it to the server), in key order.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], [`Error::Denied`], [`Error::UnsafeKey`],
    /// [`Error::Request`].
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        // object_store lists below a directory; the raw prefix is applied
        // to the keys of its directory.
        let dir = prefix.trim_start_matches('/');
        let dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
        let from = (!dir.is_empty()).then(|| ObjectPath::from(dir));
        let mut stream = self.s3.list(from.as_ref());
        let mut listed = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.error("listing objects", &e, true))?;
            let key = meta.location.as_ref().to_owned();
            if !key.starts_with(prefix.trim_start_matches('/')) {
                continue;
            }
            listed.push(Listed {
                key,
                size: meta.size,
                etag: meta.e_tag.as_deref().map(unquote),
                last_modified: meta.last_modified.to_rfc3339(),
            });
        }
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }

    /// The etag of `key` from a `HEAD`, for listings without them.
    ///
    /// # Errors
    /// [`Error::Denied`], [`Error::Request`]; a vanished object is `None`.
    pub async fn head_etag(&self, key: &str) -> Result<Option<Option<String>>> {
        match self.s3.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.e_tag.as_deref().map(unquote))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(&format!("reading object '{key}'"), &e, false)),
        }
    }

    /// Downloads `key` to `dest`, counting its bytes against `budget`
    /// (the bytes left under `max`); `None` when the object is gone, else
    /// its etag as served.
    ///
    /// # Errors
    /// [`Error::TooLarge`], [`Error::Denied`], [`Error::Request`],
    /// [`Error::Write`].
    pub async fn download(
        &self,
        key: &str,
        dest: &Path,
        budget: &AtomicU64,
        max: u64,
    ) -> Result<Option<Option<String>>> {
        let operation = || format!("getting object '{key}'");
        let got = match self.s3.get(&ObjectPath::from(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(&operation(), &e, false)),
        };
        let etag = got.meta.e_tag.as_deref().map(unquote);
        let write = |source| Error::Write {
            key: key.to_owned(),
            path: dest.to_path_buf(),
            source,
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(write)?;
        }
        let mut file = tokio::fs::File::create(dest).await.map_err(write)?;
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(&operation(), &e, false))?;
            take(budget, chunk.len() as u64).ok_or_else(|| Error::TooLarge {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                max,
            })?;
            file.write_all(&chunk).await.map_err(write)?;
        }
        file.flush().await.map_err(write)?;
        Ok(Some(etag))
    }

    /// The content of `key` when it exists, at most `max` bytes (for
    /// `.sourceignore`).
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], [`Error::Denied`], [`Error::Request`],
    /// [`Error::TooLarge`].
    pub async fn get_small(&self, key: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let budget = AtomicU64::new(max);
        let operation = format!("getting object '{key}'");
        let got = match self.s3.get(&ObjectPath::from(key)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(&operation, &e, true)),
        };
        let mut out = Vec::new();
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(&operation, &e, false))?;
            take(&budget, chunk.len() as u64).ok_or_else(|| Error::TooLarge {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                max,
            })?;
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }

    /// Classifies a client error; `bucket_level` when a not-found means
    /// the bucket is missing.
    fn error(&self, operation: &str, e: &object_store::Error, bucket_level: bool) -> Error {
        let detail = with_root_cause(e);
        // Listing errors come back generic: the server's S3 error code,
        // quoted in the message, tells them apart.
        let code = |codes: &[&str]| codes.iter().any(|c| detail.contains(c));
        let missing = matches!(e, object_store::Error::NotFound { .. })
            || code(&["<Code>NoSuchBucket</Code>"]);
        let denied = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || code(&[
            "<Code>AccessDenied</Code>",
            "<Code>SignatureDoesNotMatch</Code>",
            "<Code>InvalidAccessKeyId</Code>",
            "403 Forbidden",
            "401 Unauthorized",
        ]);
        if missing && bucket_level {
            return Error::BucketNotFound {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
            };
        }
        if denied {
            return Error::Denied {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
                detail,
            };
        }
        if matches!(e, object_store::Error::InvalidPath { .. }) {
            return Error::UnsafeKey {
                bucket: self.bucket.clone(),
                detail,
            };
        }
        Error::Request {
            operation: operation.to_owned(),
            bucket: self.bucket.clone(),
            endpoint: self.endpoint.clone(),
            detail,
        }
    }
}

/// The first line of `e`'s message, and the innermost error of its source
/// chain when the message does not say it already: the client reports a
/// refused certificate or connection only as "error sending request".
fn with_root_cause(e: &dyn std::error::Error) -> String {
    let detail = first_line(&e.to_string());
    let mut root = None;
    let mut next = e.source();
    while let Some(cause) = next {
        root = Some(cause);
        next = cause.source();
    }
    match root.map(|cause| first_line(&cause.to_string())) {
        Some(cause) if !cause.is_empty() && !detail.contains(&cause) => {
            format!("{detail}: {cause}")
        }
        _ => detail,
    }
}

/// Takes `n` bytes from `budget`; `None` when fewer are left.
fn take(budget: &AtomicU64, n: u64) -> Option<u64> {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(n)
        })
        .ok()
}

/// The error's first line, bounded: servers may answer with whole pages.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    let mut cut: String = line.chars().take(400).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

/// An etag without its quotes, as minio-go (Flux's client) records it.
fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// `spec.endpoint` as a URL: a bare host gets `https://`, or `http://`
/// with `spec.insecure`, as Flux's minio client does.
///
/// # Errors
/// [`Error::Settings`] when the endpoint is empty, has a path, or its
/// scheme contradicts `spec.insecure`.
pub fn endpoint_url(endpoint: &str, insecure: bool) -> Result<String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let invalid = |why: &str| Error::Settings(format!("spec.endpoint '{endpoint}' {why}"));
    let (scheme, host) = match endpoint.split_once("://") {
        Some(("http", host)) if insecure => ("http", host),
        Some(("http", _)) => {
            return Err(invalid(
                "is http:// but spec.insecure is false; set spec.insecure: true for plain HTTP",
            ));
        }
        Some(("https", host)) => ("https", host),
        Some((other, _)) => {
            return Err(invalid(&format!(
                "has the scheme '{other}'; use a host name, http:// or https://"
            )));
        }
        None => (if insecure { "http" } else { "https" }, endpoint),
    };
    if host.is_empty() {
        return Err(invalid("names no host"));
    }
    if host.contains('/') || host.contains('@') {
        return Err(invalid(
            "must be a host and optional port, without a path or credentials",
        ));
    }
    Ok(format!("{scheme}://{host}"))
}

/// The path of `key` below the download root: only normal segments, so no
/// key reaches outside it.
///
/// # Errors
/// The refusal, naming the key.
pub fn confine(key: &str) -> Result<PathBuf, String> {
    if key.starts_with('/') {
        return Err(format!("object key '{key}' is absolute"));
    }
    if key.contains('\\') || key.chars().any(char::is_control) {
        return Err(format!(
            "object key '{}' holds a backslash or control character",
            key.escape_debug()
        ));
    }
    // Segments are checked as written: `Path::components` would quietly
    // drop an inner `.`.
    let mut out = PathBuf::new();
    for segment in key.split('/') {
        match segment {
            "" | "." | ".." => {
                return Err(format!(
                    "object key '{key}' has an empty, '.' or '..' segment and could leave the artifact root"
                ));
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

/// The reqwest client for `settings`: CA, client certificate, proxy, timeout.
fn http_client(settings: &Settings) -> Result<reqwest::Client> {
    let mut builder = ferroflux_tls::http_client_builder()
        .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
        .timeout(settings.timeout);
    if let Some((address, auth)) = &settings.proxy {
        let mut proxy = reqwest::Proxy::all(address.as_str()).map_err(|_| {
            Error::Settings(
                "the 'address' of the Secret named in spec.proxySecretRef is not a URL".into(),
            )
        })?;
        if let Some((user, password)) = auth {
            proxy = proxy.basic_auth(user, password);
        }
        builder = builder.proxy(proxy);
    } else {
        // The proxy comes from spec.proxySecretRef only, not the environment.
        builder = builder.no_proxy();
    }
    if let Some(pem) = &settings.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::Settings(
                    "the 'ca.crt' of the Secret named in spec.certSecretRef holds no PEM certificate"
                        .into(),
                )
            })?;
        builder = builder.tls_certs_merge(certs);
    }
    if let Some((cert, key)) = &settings.client_pem {
        let mut pem = cert.clone();
        pem.push(b'\n');
        pem.extend_from_slice(key);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
            Error::Settings(
                "the 'tls.crt' and 'tls.key' of the Secret named in spec.certSecretRef are not a PEM certificate and key".into(),
            )
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| Error::Settings(format!("building the HTTP client failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::{confine, endpoint_url, unquote};

    #[test]
    fn keys_are_confined_below_the_root() {
        for ok in ["a.yaml", "apps/web/deploy.yaml", "x..y/z"] {
            assert!(confine(ok).is_ok(), "{ok}");
        }
        for bad in [
            "../escape.yaml",
            "a/../../b",
            "/etc/passwd",
            "./a",
            "a/./b",
            "",
            "a\\..\\b",
            "a\nb",
        ] {
            let e = confine(bad).expect_err(bad);
            assert!(e.contains("object key"), "{e}");
        }
    }

    #[test]
    fn endpoints_get_the_scheme_insecure_asks_for() {
        assert_eq!(
            endpoint_url("minio:9000", true).unwrap(),
            "http://minio:9000"
        );
        assert_eq!(
            endpoint_url("s3.amazonaws.com", false).unwrap(),
            "https://s3.amazonaws.com"
        );
        assert_eq!(
            endpoint_url("https://s3.example.com/", false).unwrap(),
            "https://s3.example.com"
        );
        let e = endpoint_url("http://minio:9000", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.insecure"), "{e}");
        let e = endpoint_url("minio:9000/path", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("without a path"), "{e}");
        assert!(endpoint_url("", true).is_err());
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("abc"), "abc");
    }
}
