//! The in-memory copies of Alerts, Providers and Receivers that the event
//! endpoint, the dispatcher and the webhook server read, kept current by
//! watches in the background.

use ferroflux_api::notification::{Alert, Provider, Receiver};
use futures_util::StreamExt as _;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Client};

/// A watch of the objects that `Alert`s, `Provider`s and `Receiver`s
/// describe, in one namespace or all.
pub struct Stores {
    /// Every Alert.
    pub alerts: reflector::Store<Alert>,
    /// Every Provider.
    pub providers: reflector::Store<Provider>,
    /// Every Receiver.
    pub receivers: reflector::Store<Receiver>,
}

/// A watch of these stores never became ready (the API refused the list).
#[derive(Debug, thiserror::Error)]
#[error("watching {kind}s: the watch ended before the first list")]
pub struct NotReady {
    /// The kind whose watch failed.
    pub kind: &'static str,
}

impl Stores {
    /// Starts the watches, in `namespace` or (with `None`) in every namespace.
    #[must_use]
    pub fn watch(client: &Client, namespace: Option<&str>) -> Self {
        Self {
            alerts: store(api(client, namespace)),
            providers: store(api(client, namespace)),
            receivers: store(api(client, namespace)),
        }
    }

    /// Completes once the Alerts and Providers are listed: the dispatcher
    /// waits for them, while the endpoint already accepts events (they
    /// queue instead of being refused while the controller starts).
    ///
    /// # Errors
    /// [`NotReady`] naming the kind whose watch ended first.
    pub fn delivery_ready(&self) -> impl Future<Output = Result<(), NotReady>> + use<> {
        let (alerts, providers) = (self.alerts.clone(), self.providers.clone());
        async move {
            alerts
                .wait_until_ready()
                .await
                .map_err(|_| NotReady { kind: "Alert" })?;
            providers
                .wait_until_ready()
                .await
                .map_err(|_| NotReady { kind: "Provider" })
        }
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Watches `api` into a store, in the background.
fn store<K>(api: Api<K>) -> reflector::Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    tokio::spawn(stream.for_each(|_| async {}));
    reader
}
