//! The HTTP client a Provider's deliveries go through: the shared client,
//! or one built for the Provider's proxy (`proxySecretRef`, or the
//! deprecated `spec.proxy`) and TLS material (`certSecretRef`: `ca.crt`
//! added to the system roots, `tls.crt` with `tls.key` for mutual TLS).
//!
//! Built clients are kept by their settings, so a Provider's connections
//! are reused from one event to the next and a rotated Secret gets a new
//! client.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How many built clients are kept before the cache starts over; more
/// distinct proxy and TLS settings than this are not expected.
const KEPT: usize = 64;

/// Why a Provider's proxy or TLS settings cannot be used. No variant holds
/// the proxy credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The proxy address is not a URL.
    #[error("the proxy address is not a URL")]
    ProxyAddress,
    /// `ca.crt` holds no PEM certificate.
    #[error("ca.crt holds no PEM certificate")]
    Ca,
    /// `tls.crt` and `tls.key` are not a PEM certificate and key.
    #[error("tls.crt and tls.key are not a PEM certificate and key")]
    ClientCertificate,
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A Provider's proxy and TLS settings, read from its Secrets.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct Settings {
    /// The proxy URL.
    pub proxy: Option<String>,
    /// Basic-auth user and password for the proxy.
    pub proxy_auth: Option<(String, String)>,
    /// PEM CA certificates trusted besides the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain and key, for mutual TLS.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

/// The shared client and the clients built for particular settings.
pub struct Clients {
    shared: reqwest::Client,
    built: Mutex<HashMap<Settings, reqwest::Client>>,
}

impl Clients {
    /// Clients that fall back to `shared` for Providers with no proxy or
    /// TLS settings.
    #[must_use]
    pub fn new(shared: reqwest::Client) -> Self {
        Self {
            shared,
            built: Mutex::default(),
        }
    }

    /// The client for `settings`.
    ///
    /// # Errors
    /// An [`Error`] naming the setting that cannot be used: a proxy address
    /// that is not a URL, a `ca.crt` that holds no PEM certificate, a
    /// `tls.crt`/`tls.key` pair that is not PEM. It never quotes the proxy
    /// credentials.
    pub fn get(&self, settings: &Settings) -> Result<reqwest::Client, Error> {
        if *settings == Settings::default() {
            return Ok(self.shared.clone());
        }
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = built.get(settings) {
            return Ok(client.clone());
        }
        let client = build(settings)?;
        if built.len() >= KEPT {
            built.clear();
        }
        built.insert(settings.clone(), client.clone());
        Ok(client)
    }
}

fn build(settings: &Settings) -> Result<reqwest::Client, Error> {
    let mut builder = ferroflux_tls::http_client_builder();
    if let Some(address) = &settings.proxy {
        let mut proxy = reqwest::Proxy::all(address.as_str()).map_err(|_| Error::ProxyAddress)?;
        if let Some((user, password)) = &settings.proxy_auth {
            proxy = proxy.basic_auth(user, password);
        }
        builder = builder.proxy(proxy);
    }
    if let Some(pem) = &settings.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or(Error::Ca)?;
        builder = builder.tls_certs_merge(certs);
    }
    if let Some((cert, key)) = &settings.client_pem {
        let mut pem = cert.clone();
        pem.push(b'\n');
        pem.extend_from_slice(key);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|_| Error::ClientCertificate)?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(Error::Build)
}

#[cfg(test)]
mod tests {
    use super::{Clients, Settings};

    #[test]
    fn bad_settings_say_which_and_keep_credentials_out() {
        let clients = Clients::new(ferroflux_tls::http_client());
        assert!(clients.get(&Settings::default()).is_ok());
        let err = clients
            .get(&Settings {
                proxy: Some("not a url".into()),
                proxy_auth: Some(("user".into(), "hunter22".into())),
                ..Settings::default()
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("proxy address"), "{err}");
        assert!(!err.contains("hunter22"));
        let err = clients
            .get(&Settings {
                ca_pem: Some(b"not pem".to_vec()),
                ..Settings::default()
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("ca.crt"), "{err}");
        let proxied = Settings {
            proxy: Some("http://127.0.0.1:3128".into()),
            ..Settings::default()
        };
        assert!(clients.get(&proxied).is_ok());
        assert_eq!(clients.built.lock().unwrap().len(), 1);
        assert!(clients.get(&proxied).is_ok());
        assert_eq!(clients.built.lock().unwrap().len(), 1);
    }
}
