//! `ferroflux-notification-controller`: flags and wiring. Flag names follow
//! Flux's notification-controller.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::notification::{Alert, Provider, Receiver};
use ferroflux_notification_controller::dispatch::Dispatcher;
use ferroflux_notification_controller::metrics::{self, Stats};
use ferroflux_notification_controller::receivers::{self, ReceiverReconciler};
use ferroflux_notification_controller::server;
use ferroflux_runtime::events::Events;
use ferroflux_runtime::object::parse_duration;
use ferroflux_runtime::process;
use futures_util::StreamExt as _;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};

/// Delivers the controllers' events to Slack and webhooks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Address the event endpoint listens on.
    #[arg(long, default_value = ":9090")]
    events_addr: String,
    /// Address the Receivers' webhooks are served on.
    #[arg(long, default_value = ":9292")]
    receiver_addr: String,
    /// Identical events for the same object within this interval are sent once.
    #[arg(long, default_value = "5m")]
    rate_limit_interval: String,
    /// Events queued for delivery at most; more are dropped and counted.
    #[arg(long, default_value_t = 4096)]
    queue_size: usize,
    /// Refuse event sources in other namespaces than the Alert's, and
    /// Receiver resources in other namespaces than the Receiver's.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_cross_namespace_refs: bool,
    /// Watch every namespace; when false, only the one in `RUNTIME_NAMESPACE`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// The controller's own namespace.
    #[arg(long, env = "RUNTIME_NAMESPACE", default_value = "flux-system")]
    runtime_namespace: String,
    /// Address `/metrics` is served on.
    #[arg(long, default_value = ":8080")]
    metrics_addr: String,
    /// Address `/healthz` and `/readyz` are served on.
    #[arg(long, default_value = ":9440")]
    health_addr: String,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log format: json or console.
    #[arg(long, default_value = "json")]
    log_encoding: String,
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

/// The Alert, Provider and Receiver stores, and a future completing once
/// the first two are filled.
fn watch_stores(
    client: &Client,
    namespace: Option<&String>,
) -> (
    reflector::Store<Alert>,
    reflector::Store<Provider>,
    reflector::Store<Receiver>,
    impl Future<Output = anyhow::Result<()>> + use<>,
) {
    let (alerts, providers, receivers) = match namespace {
        Some(ns) => (
            store(Api::<Alert>::namespaced(client.clone(), ns)),
            store(Api::<Provider>::namespaced(client.clone(), ns)),
            store(Api::<Receiver>::namespaced(client.clone(), ns)),
        ),
        None => (
            store(Api::<Alert>::all(client.clone())),
            store(Api::<Provider>::all(client.clone())),
            store(Api::<Receiver>::all(client.clone())),
        ),
    };
    // The endpoint listens before the stores are filled: events queue in
    // the meantime instead of being refused while the controller starts.
    let ready = {
        let (alerts, providers) = (alerts.clone(), providers.clone());
        async move {
            alerts.wait_until_ready().await.context("watching Alerts")?;
            providers
                .wait_until_ready()
                .await
                .context("watching Providers")
        }
    };

    (alerts, providers, receivers, ready)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    process::init_logging(&flags.log_level, &flags.log_encoding).map_err(anyhow::Error::msg)?;
    let rate_limit = parse_duration(&flags.rate_limit_interval)
        .map_err(anyhow::Error::msg)
        .context("--rate-limit-interval")?;
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let namespace = (!flags.watch_all_namespaces).then(|| flags.runtime_namespace.clone());
    let (alerts, providers, receivers, ready) = watch_stores(&client, namespace.as_ref());

    let (stats, registry) = Stats::registered();
    let (queue, inbox) = mpsc::channel(flags.queue_size);
    let instance = process::instance_name("notification-controller");
    let events = Events::new(client.clone(), "notification-controller", &instance, None);
    let dispatcher = Arc::new(Dispatcher::new(
        client.clone(),
        ferroflux_tls::http_client(),
        alerts,
        providers,
        !flags.no_cross_namespace_refs,
        rate_limit,
        stats.clone(),
        Some(events),
    ));
    let (stop, stopped) = watch::channel(false);
    let mut servers = vec![
        process::serve_on(
            &flags.events_addr,
            "events-addr",
            server::router(queue, stats),
            &stopped,
        )
        .await
        .map_err(anyhow::Error::msg)?,
        process::serve_on(
            &flags.receiver_addr,
            "receiver-addr",
            receivers::router(client.clone(), receivers, !flags.no_cross_namespace_refs),
            &stopped,
        )
        .await
        .map_err(anyhow::Error::msg)?,
    ];
    // Every replica serves events and webhooks (no leader election), so each
    // is ready for traffic at once.
    let serving = ferroflux_runtime::metrics::Readiness::default();
    serving.set();
    servers.extend(
        process::serve_probes(
            &flags.metrics_addr,
            &flags.health_addr,
            metrics::router(registry),
            &stopped,
            &serving,
        )
        .await
        .map_err(anyhow::Error::msg)?,
    );
    let deliveries = async move {
        match ready.await {
            Ok(()) => dispatcher.run(inbox).await,
            Err(e) => {
                tracing::error!(error = %e, "the Alert and Provider watches never became ready");
            }
        }
    };
    let options = ferroflux_runtime::controller::Options {
        field_manager: "notification-controller".into(),
        namespace: namespace.clone(),
        ..ferroflux_runtime::controller::Options::default()
    };
    let webhooks = ferroflux_runtime::controller::run::<Receiver, _>(
        client.clone(),
        Arc::new(ReceiverReconciler::new(
            client,
            !flags.no_cross_namespace_refs,
        )),
        options,
        Arc::new(ferroflux_runtime::controller::Stats::default()),
        process::until(&stopped),
    );
    // Either loop ending ends the process (see run_until_shutdown).
    let controller = tokio::spawn(async move {
        tokio::select! {
            () = deliveries => {}
            () = webhooks => {}
        }
    });
    process::run_until_shutdown(None, "", &stop, controller, servers)
        .await
        .map_err(anyhow::Error::msg)
}
