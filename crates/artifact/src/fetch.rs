//! The consumer side: download an artifact, verify its digest, extract it.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::digest::Hasher;

use crate::extract::{self, Limits, Stats};
/// The HTTP client [`fetch`] takes; re-exported so consumers need no direct
/// dependency on reqwest. Build one per process and share it.
pub use reqwest::Client as HttpClient;

/// How a download is bounded and retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Largest artifact accepted, in bytes (compressed).
    pub max_download_bytes: u64,
    /// Attempts in all, for connection errors and 5xx answers.
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Caps on the unpacked artifact.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_download_bytes: 512 << 20,
            attempts: 3,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

/// Why an artifact was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached or the transfer broke off.
    #[error("downloading the artifact from {url} failed after {attempts} attempt(s): {message}")]
    Transport {
        /// The artifact URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The server answered with an error status.
    #[error("downloading the artifact from {url} failed: the server answered {status}")]
    Status {
        /// The artifact URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The artifact is larger than allowed.
    #[error("the artifact at {url} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The artifact URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The downloaded bytes do not have the digest the source recorded.
    #[error(
        "the artifact from {url} has digest {actual}, but {expected} was expected; it was not extracted"
    )]
    DigestMismatch {
        /// The artifact URL.
        url: String,
        /// The digest recorded in the source's status.
        expected: String,
        /// The digest of what was downloaded.
        actual: String,
    },
    /// Extraction refused or failed.
    #[error(transparent)]
    Extract(#[from] extract::Error),
    /// The local temporary file failed.
    #[error("buffering the artifact locally failed: {0}")]
    Local(#[source] std::io::Error),
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Downloads `url`, checks it against `expected_digest` (`sha256:<hex>`), and
/// extracts it into the existing directory `dest`.
///
/// # Errors
/// See [`Error`]; on any error nothing from a mismatching download is extracted.
pub async fn fetch(
    client: &HttpClient,
    url: &str,
    expected_digest: &str,
    dest: &Path,
    options: Options,
) -> Result<Stats> {
    let mut last = String::new();
    let mut delay = options.backoff;
    for attempt in 1..=options.attempts.max(1) {
        match download(client, url, options).await {
            Ok(Downloaded { mut file, digest }) => {
                if digest != expected_digest {
                    return Err(Error::DigestMismatch {
                        url: url.to_owned(),
                        expected: expected_digest.to_owned(),
                        actual: digest,
                    });
                }
                file.seek(SeekFrom::Start(0)).map_err(Error::Local)?;
                let dest = dest.to_path_buf();
                let limits = options.limits;
                return tokio::task::spawn_blocking(move || extract::tar_gz(file, &dest, limits))
                    .await
                    .map_err(|e| Error::Local(std::io::Error::other(e)))?
                    .map_err(Error::from);
            }
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Retry(message)) => last = message,
        }
        if attempt < options.attempts {
            // Backoff between download attempts, bounded by `attempts`.
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    Err(Error::Transport {
        url: url.to_owned(),
        attempts: options.attempts.max(1),
        message: last,
    })
}

struct Downloaded {
    file: std::fs::File,
    digest: String,
}

enum Attempt {
    Retry(String),
    Final(Error),
}

async fn download(client: &HttpClient, url: &str, options: Options) -> Result<Downloaded, Attempt> {
    let mut response = client
        .get(url)
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Attempt::Retry(format!("the server answered {status}")));
    }
    if !status.is_success() {
        return Err(Attempt::Final(Error::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        }));
    }
    let too_large = || {
        Attempt::Final(Error::TooLarge {
            url: url.to_owned(),
            limit: options.max_download_bytes,
        })
    };
    if response
        .content_length()
        .is_some_and(|n| n > options.max_download_bytes)
    {
        return Err(too_large());
    }
    let mut file = tempfile::tempfile().map_err(|e| Attempt::Final(Error::Local(e)))?;
    let mut hasher = Hasher::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))?
    {
        if hasher.len() + chunk.len() as u64 > options.max_download_bytes {
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| Attempt::Final(Error::Local(e)))?;
    }
    Ok(Downloaded {
        file,
        digest: hasher.finish(),
    })
}
