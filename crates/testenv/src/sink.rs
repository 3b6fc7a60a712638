//! A local HTTP sink standing in for what cannot run here (the
//! notification-controller's event endpoint, Slack, a webhook): it keeps
//! every JSON body posted to it, for tests to check the exact payload.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::routing::post;
use serde_json::Value;

/// A running sink; it stops with the test's runtime.
pub struct JsonSink {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl JsonSink {
    /// Starts a sink on a free loopback port; every path accepts POSTs.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    #[allow(
        clippy::expect_used,
        reason = "test support: a failed start is a failed test"
    )]
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let store = received.clone();
        let keep = post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                store
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(value);
                "ok"
            }
        });
        let app = axum::Router::new()
            .route("/", keep.clone())
            .route("/{*path}", keep);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the sink's address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/"),
            received,
        }
    }

    /// The URL to POST to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every body received so far (`null` for one that was not JSON).
    #[must_use]
    pub fn received(&self) -> Vec<Value> {
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
