//! TLS for every HTTP client in Ferroflux: rustls with the ring provider.
//!
//! A leaf crate (reqwest and rustls only), so a crate that makes HTTP
//! requests does not depend on the artifact crate to get a client.
//!
//! reqwest is built without a built-in crypto provider (so no C TLS library is
//! compiled), and then building any client panics unless a process-wide
//! provider is installed first. Build clients with [`http_client`] or
//! [`http_client_builder`], and call [`install_crypto_provider`] before any
//! library (gix) builds one of its own.

/// Installs ring as the process-wide rustls provider; later calls do nothing.
pub fn install_crypto_provider() {
    // An error means a provider is already installed, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A default HTTP client.
#[must_use]
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap_or_default()
}

/// A client builder, for timeouts or custom roots.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}
