//! A local HTTP sink standing in for what cannot run here (the
//! notification-controller's event endpoint, Slack, a webhook): it keeps
//! every JSON body posted to it, for tests to check the exact payload.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::routing::post;
use serde_json::Value;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The path (and query) requested.
    pub path: String,
    /// The headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The body as sent.
    pub body: Vec<u8>,
}

/// A running sink; it stops with the test's runtime.
pub struct JsonSink {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    ca_pem: Option<String>,
}

impl JsonSink {
    /// Starts a sink on a free loopback port; every path accepts POSTs.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        Self::answering(200).await
    }

    /// A sink that answers every request with HTTP `status` (a failing
    /// provider when 500), still keeping what it receives.
    ///
    /// # Panics
    /// When no loopback port can be bound or `status` is not a status code.
    pub async fn answering(status: u16) -> Self {
        Self::serve(status, false).await
    }

    /// A sink answering 200 over HTTPS, with a certificate for `127.0.0.1`
    /// signed by a fresh CA ([`JsonSink::ca_pem`]).
    ///
    /// # Panics
    /// When no loopback port can be bound or the certificates cannot be made.
    pub async fn start_tls() -> Self {
        Self::serve(200, true).await
    }

    #[allow(
        clippy::expect_used,
        reason = "test support: a failed start is a failed test"
    )]
    async fn serve(status: u16, tls: bool) -> Self {
        let status = axum::http::StatusCode::from_u16(status).expect("an HTTP status code");
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let store = received.clone();
        let keep = post(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                v.to_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    store
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Received {
                            path: uri
                                .path_and_query()
                                .map_or_else(|| uri.path().to_owned(), ToString::to_string),
                            headers,
                            body: body.to_vec(),
                        });
                    (status, "ok")
                }
            },
        );
        let app = axum::Router::new()
            .route("/", keep.clone())
            .route("/{*path}", keep);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the sink's address");
        if tls {
            let (acceptor, ca_pem) = crate::tls::acceptor().expect("test certificates");
            tokio::spawn(crate::tls::serve(listener, acceptor, app));
            Self {
                url: format!("https://{addr}/"),
                received,
                ca_pem: Some(ca_pem),
            }
        } else {
            tokio::spawn(async move { axum::serve(listener, app).await });
            Self {
                url: format!("http://{addr}/"),
                received,
                ca_pem: None,
            }
        }
    }

    /// The PEM of the CA that signed an HTTPS sink's certificate.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The URL to POST to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every body received so far (`null` for one that was not JSON).
    #[must_use]
    pub fn received(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// Every request received so far, headers and raw body.
    #[must_use]
    pub fn requests(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to `timeout`) for a body `pick` accepts and returns it.
    ///
    /// # Panics
    /// After `timeout`, naming `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pick: impl Fn(&Value) -> bool,
    ) -> Value {
        let pick = &pick;
        crate::eventually(
            &format!("the sink to receive {what}"),
            timeout,
            || async move { self.received().into_iter().find(|v| pick(v)) },
        )
        .await
    }
}
