//! Talking to a Helm chart repository over HTTP(S): the credentials and
//! trust a HelmRepository's Secrets give, and downloads streamed to a file
//! under a size cap, hashed as they are written.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use ferroflux_api::source::HelmRepository;
use ferroflux_artifact::digest::HashingWriter;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

/// Credentials and trust for one repository, from `secretRef` and
/// `certSecretRef`.
#[derive(Clone, Default)]
pub struct Auth {
    /// `username` and `password` for basic auth.
    pub basic: Option<(String, String)>,
    /// Extra CA certificates trusted for HTTPS (`ca.crt`).
    pub ca_certs: Vec<reqwest::Certificate>,
    /// The client certificate and key (`tls.crt`, `tls.key`).
    pub identity: Option<reqwest::Identity>,
}

impl Auth {
    /// The secret values to mask in any message.
    #[must_use]
    pub fn secrets(&self) -> Vec<String> {
        self.basic
            .as_ref()
            .map(|(_, p)| p.clone())
            .into_iter()
            .collect()
    }

    /// An HTTP client trusting the CA and presenting the certificate, with
    /// `timeout` for a whole request.
    ///
    /// # Errors
    /// The builder's error (a certificate rustls refuses).
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, String> {
        let mut builder = ferroflux_tls::http_client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)));
        if !self.ca_certs.is_empty() {
            builder = builder.tls_certs_merge(self.ca_certs.clone());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        builder.build().map_err(|e| error_chain(&e))
    }
}

/// A Secret a HelmRepository names that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Reading the Secret failed.
    #[error("reading Secret '{secret}' failed: {message}")]
    Read {
        /// `namespace/name`.
        secret: String,
        /// The API error.
        message: String,
    },
    /// The Secret does not exist.
    #[error("Secret '{secret}' named in {field} does not exist: create it with {keys}")]
    Missing {
        /// `namespace/name`.
        secret: String,
        /// `spec.secretRef` or `spec.certSecretRef`.
        field: &'static str,
        /// The keys it should hold.
        keys: &'static str,
    },
    /// A key is missing or its value is invalid.
    #[error("Secret '{secret}': {problem}")]
    Invalid {
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        problem: String,
    },
}

/// Reads the credentials of `repo` (in namespace `ns`): `username` and
/// `password` from `secretRef`, `ca.crt`, `tls.crt` and `tls.key` from
/// `certSecretRef` (or, as Flux still accepts, from `secretRef`).
///
/// # Errors
/// [`AuthError`] naming the Secret and what is wrong.
pub async fn read_auth(
    client: &Client,
    ns: &str,
    repo: &HelmRepository,
) -> Result<Auth, AuthError> {
    let mut auth = Auth::default();
    if let Some(r) = &repo.spec.secret_ref {
        let data = secret_data(
            client,
            ns,
            &r.name,
            "spec.secretRef",
            "'username' and 'password'",
        )
        .await?;
        let text = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        let secret = format!("{ns}/{}", r.name);
        match (text("username"), text("password")) {
            (Some(u), Some(p)) => auth.basic = Some((u, p)),
            (None, None) => {}
            _ => {
                return Err(AuthError::Invalid {
                    secret,
                    problem: "must hold both 'username' and 'password'".into(),
                });
            }
        }
        if repo.spec.cert_secret_ref.is_none() {
            tls_from(&mut auth, &data, &secret)?;
        }
    }
    if let Some(r) = &repo.spec.cert_secret_ref {
        let data = secret_data(
            client,
            ns,
            &r.name,
            "spec.certSecretRef",
            "'ca.crt' and/or 'tls.crt' with 'tls.key'",
        )
        .await?;
        tls_from(&mut auth, &data, &format!("{ns}/{}", r.name))?;
    }
    Ok(auth)
}

/// The data of a Secret, by key.
pub(crate) type SecretData = std::collections::BTreeMap<String, k8s_openapi::ByteString>;

/// The data of Secret `ns/name`, which `field` names; [`AuthError::Missing`]
/// says to create it with `keys`.
pub(crate) async fn secret_data(
    client: &Client,
    ns: &str,
    name: &str,
    field: &'static str,
    keys: &'static str,
) -> Result<SecretData, AuthError> {
    let secret = format!("{ns}/{name}");
    let found = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| AuthError::Read {
            secret: secret.clone(),
            message: e.to_string(),
        })?;
    let Some(found) = found else {
        return Err(AuthError::Missing {
            secret,
            field,
            keys,
        });
    };
    Ok(found.data.unwrap_or_default())
}

fn tls_from(auth: &mut Auth, data: &SecretData, secret: &str) -> Result<(), AuthError> {
    let invalid = |problem: String| AuthError::Invalid {
        secret: secret.to_owned(),
        problem,
    };
    if let Some(ca) = data.get("ca.crt").or_else(|| data.get("caFile")) {
        let certs = reqwest::Certificate::from_pem_bundle(&ca.0).map_err(|e| {
            invalid(format!(
                "'ca.crt' is not PEM certificates: {}",
                error_chain(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(invalid("'ca.crt' holds no certificate".into()));
        }
        auth.ca_certs = certs;
    }
    match (data.get("tls.crt"), data.get("tls.key")) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let mut pem = cert.0.clone();
            if !pem.ends_with(b"\n") {
                pem.push(b'\n');
            }
            pem.extend_from_slice(&key.0);
            auth.identity = Some(reqwest::Identity::from_pem(&pem).map_err(|_| {
                invalid("'tls.crt' and 'tls.key' are not a PEM certificate and its key".into())
            })?);
        }
        _ => {
            return Err(invalid(
                "must hold both 'tls.crt' and 'tls.key' for a client certificate".into(),
            ));
        }
    }
    Ok(())
}

/// A downloaded file: where it is, its digest and size.
#[derive(Debug)]
pub struct Download {
    /// The file (removed when dropped).
    pub file: tempfile::NamedTempFile,
    /// `sha256:<hex>` of its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server refused the credentials (401 or 403).
    #[error("{url} answered {status}: check the credentials in spec.secretRef")]
    Unauthorized {
        /// The URL (no credentials in it).
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server answered with another error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body is larger than the cap.
    #[error(
        "{url} sent more than {max} bytes, the most allowed ({flag}); raise the limit if the file is expected to be that large"
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        max: u64,
        /// The flag setting the cap.
        flag: &'static str,
    },
    /// The request could not be made or the body not read (connection
    /// refused, TLS, timeout).
    #[error("fetching {url} failed: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// The transport's error chain.
        message: String,
    },
    /// Writing the file failed.
    #[error("writing the download of {url} failed: {source}")]
    Io {
        /// The URL.
        url: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a download may take.
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    /// The most bytes.
    pub max: u64,
    /// The flag that sets it, named when it is exceeded.
    pub flag: &'static str,
}

/// Downloads `url` into a temporary file in `dir`, sending `basic` auth
/// when given, stopping at `cap`.
///
/// # Errors
/// [`FetchError`] naming the URL.
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    basic: Option<&(String, String)>,
    cap: Cap,
    dir: &Path,
) -> Result<Download, FetchError> {
    let transport = |e: &reqwest::Error| FetchError::Transport {
        url: url.to_owned(),
        message: error_chain(e),
    };
    let mut request = client.get(url);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let mut response = request.send().await.map_err(|e| transport(&e))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(FetchError::Unauthorized {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: url.to_owned(),
        max: cap.max,
        flag: cap.flag,
    };
    if response.content_length().is_some_and(|n| n > cap.max) {
        return Err(too_large());
    }
    let io = |source| FetchError::Io {
        url: url.to_owned(),
        source,
    };
    let file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(file));
    let mut size: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        size = size.saturating_add(chunk.len() as u64);
        if size > cap.max {
            return Err(too_large());
        }
        writer.write_all(&chunk).map_err(io)?;
    }
    let (buffered, digest, _) = writer.finish();
    let file = buffered.into_inner().map_err(|e| io(e.into_error()))?;
    Ok(Download { file, digest, size })
}

/// An error and its sources, `: `-joined (reqwest's own message alone says
/// only "error sending request").
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
