//! TLS for the test servers (the git server, the JSON sink): a fresh CA
//! per server and a certificate for loopback signed by it.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// A TLS acceptor with a fresh CA and a server certificate for loopback, and the CA's PEM.
pub(crate) fn acceptor() -> Result<(tokio_rustls::TlsAcceptor, String)> {
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
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| fail(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key_der)
    .map_err(|e| fail(&e))?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem()))
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
