//! `ferroflux-notification-controller`: flags and wiring. Flag names follow
//! Flux's notification-controller.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::notification::Receiver;
use ferroflux_notification_controller::dispatch::Dispatcher;
use ferroflux_notification_controller::metrics::Stats;
use ferroflux_notification_controller::receivers::{self, ReceiverReconciler};
use ferroflux_notification_controller::server;
use ferroflux_notification_controller::stores::Stores;
use ferroflux_runtime::controller;
use ferroflux_runtime::events::Events;
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::process::{self, CommonFlags};
use kube::Client;
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
    /// Receivers reconciled at once.
    #[arg(long, default_value_t = 4)]
    concurrent: u16,
    #[command(flatten)]
    common: CommonFlags,
}

/// The leader-election Lease, named as Flux names it.
const LEASE: &str = "notification-controller-leader-election";
/// The controller's name: field manager and event source.
const CONTROLLER: &str = "notification-controller";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    process::init_logging(&flags.common.log_level, &flags.common.log_encoding)?;
    let rate_limit = process::duration_flag("rate-limit-interval", &flags.rate_limit_interval)?;
    let cross_namespace = !flags.no_cross_namespace_refs;

    let (stop, stopped) = watch::channel(false);
    let metrics = Metrics::new();
    let stats = Stats::registered(&metrics);
    // Every replica serves events and webhooks (only the Receivers'
    // reconciles are the leader's), so each is ready for traffic at once.
    let serving = metrics::Readiness::default();
    serving.set();
    let mut servers = flags
        .common
        .serve_probes(&metrics, &stopped, &serving)
        .await?;

    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let namespace =
        (!flags.common.watch_all_namespaces).then(|| flags.common.runtime_namespace.clone());
    let stores = Stores::watch(&client, namespace.as_deref());
    let instance = process::instance_name(CONTROLLER);
    let (queue, inbox) = mpsc::channel(flags.queue_size);
    let dispatcher = Arc::new(Dispatcher::new(
        client.clone(),
        ferroflux_tls::http_client(),
        stores.alerts.clone(),
        stores.providers.clone(),
        cross_namespace,
        rate_limit,
        stats.clone(),
        Some(Events::new(client.clone(), CONTROLLER, &instance, None)),
    ));
    servers.push(
        process::serve_on(
            &flags.events_addr,
            "events-addr",
            server::router(queue, stats),
            &stopped,
        )
        .await?,
    );
    servers.push(
        process::serve_on(
            &flags.receiver_addr,
            "receiver-addr",
            receivers::router(client.clone(), stores.receivers.clone(), cross_namespace),
            &stopped,
        )
        .await?,
    );
    let ready = stores.delivery_ready();
    let deliveries = tokio::spawn(async move {
        match ready.await {
            Ok(()) => dispatcher.run(inbox).await,
            Err(e) => tracing::error!(error = %e, "events cannot be delivered"),
        }
    });

    let lease = flags.common.lease_name(LEASE);
    let Some(leadership) = flags
        .common
        .lead(&client, &lease, &instance, &serving)
        .await?
    else {
        return Ok(());
    };
    let options = flags.common.options(
        &client,
        CONTROLLER,
        &instance,
        metrics,
        flags.concurrent,
        None,
    );
    let webhooks = controller::run::<Receiver, _>(
        client.clone(),
        Arc::new(ReceiverReconciler::new(client, cross_namespace)),
        options,
        process::until(&stopped),
    );
    // Either loop ending ends the process (see run_until_shutdown).
    let controller = tokio::spawn(async move {
        tokio::select! {
            _ = deliveries => {}
            () = webhooks => {}
        }
    });
    Ok(process::run_until_shutdown(leadership, &lease, &stop, controller, servers).await?)
}
