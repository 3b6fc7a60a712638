//! TLS for the test servers (the git server, the JSON sink): a fresh CA
//! per server and a certificate for loopback signed by it; for mutual TLS,
//! also a client certificate the server demands.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// A TLS acceptor with a fresh CA and a server certificate for loopback, and the CA's PEM.
pub(crate) fn acceptor() -> Result<(tokio_rustls::TlsAcceptor, String)> {
    let (acceptor, ca_pem, _) = acceptor_with(false)?;
    Ok((acceptor, ca_pem))
}

/// A client certificate and its key, both PEM, signed by a server's CA.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// The certificate (`tls.crt`).
    pub cert_pem: String,
    /// Its private key (`tls.key`).
    pub key_pem: String,
}

/// Like [`acceptor`], and with `client_auth` the server demands a client
/// certificate signed by the same CA (mutual TLS); one is returned.
pub(crate) fn acceptor_with(
    client_auth: bool,
) -> Result<(tokio_rustls::TlsAcceptor, String, Option<ClientCertificate>)> {
    let fail = |e: &dyn std::fmt::Display| Error::Prepare {
        step: "create the test TLS certificates",
        source: std::io::Error::other(e.to_string()),
    };
    let ca_key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Ferroflux test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| fail(&e))?;
    let key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| fail(&e))?;
    let cert = params.signed_by(&key, &ca).map_err(|e| fail(&e))?;
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?;
    let (builder, client) = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).map_err(|e| fail(&e))?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| fail(&e))?;
        let client_key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
        let client_cert = rcgen::CertificateParams::new(vec!["ferroflux-client".to_owned()])
            .map_err(|e| fail(&e))?
            .signed_by(&client_key, &ca)
            .map_err(|e| fail(&e))?;
        let client = ClientCertificate {
            cert_pem: client_cert.pem(),
            key_pem: client_key.serialize_pem(),
        };
        (builder.with_client_cert_verifier(verifier), Some(client))
    } else {
        (builder.with_no_client_auth(), None)
    };
    let config = builder
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key_der)
        .map_err(|e| fail(&e))?;
    Ok((
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca.pem(),
        client,
    ))
}

/// A TLS-terminating proxy on loopback in front of a plain-TCP server at
/// `upstream` (`host:port`), for servers that speak no TLS themselves (the
/// S3 server): each TLS connection is relayed, bytes unchanged, to a new
/// connection to `upstream`. Returns the proxy's `127.0.0.1:port` and the
/// PEM of the CA that signed its certificate; it runs until the test's
/// runtime ends.
///
/// # Errors
/// The certificates cannot be made or the port cannot be bound.
pub async fn terminating_proxy(upstream: String) -> Result<(String, String)> {
    let (acceptor, ca_pem) = acceptor()?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Prepare {
            step: "bind the TLS proxy",
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Prepare {
        step: "read the TLS proxy's address",
        source,
    })?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok((addr.to_string(), ca_pem))
}

/// Accepts TLS connections on `listener` and serves `app` on each.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

/// A fresh CA and a server certificate for loopback signed by it, all PEM,
/// for servers that read their certificate from files (the OCI registry).
#[derive(Clone, Debug)]
pub(crate) struct ServerPem {
    /// The CA's certificate.
    pub(crate) ca: String,
    /// The server's certificate chain (its own, then the CA's).
    pub(crate) cert: String,
    /// The server's private key.
    pub(crate) key: String,
}

/// Issues a [`ServerPem`] for `127.0.0.1` and `localhost`.
pub(crate) fn server_pem() -> Result<ServerPem> {
    let fail = |e: &dyn std::fmt::Display| Error::Prepare {
        step: "create the test TLS certificates",
        source: std::io::Error::other(e.to_string()),
    };
    let ca_key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Ferroflux test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| fail(&e))?;
    let key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(|e| fail(&e))?
        .signed_by(&key, &ca)
        .map_err(|e| fail(&e))?;
    Ok(ServerPem {
        ca: ca.pem(),
        cert: format!("{}{}", cert.pem(), ca.pem()),
        key: key.serialize_pem(),
    })
}
