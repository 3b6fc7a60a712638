//! `ferroflux-source-controller`: flags and wiring. Flag names follow Flux's
//! source-controller so its manifests and habits carry over.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::source::GitRepository;
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_runtime::controller::{self, Options, Stats};
use ferroflux_runtime::events::Events;
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::object::parse_duration;
use ferroflux_source_controller::gitrepository::GitRepositoryReconciler;
use tokio::signal::unix::{SignalKind, signal};

/// Fetches sources and serves them as artifacts.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Directory the artifacts are stored in.
    #[arg(long, default_value = "/data")]
    storage_path: std::path::PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, default_value = ":9090")]
    storage_addr: String,
    /// Host (and port) other controllers reach the artifact server at.
    #[arg(
        long,
        env = "STORAGE_ADV_ADDR",
        default_value = "source-controller.flux-system.svc.cluster.local."
    )]
    storage_adv_addr: String,
    /// Newest artifacts kept per object.
    #[arg(long, default_value_t = 2)]
    artifact_retention_records: usize,
    /// How long older artifacts are kept beyond the newest records.
    #[arg(long, default_value = "60s")]
    artifact_retention_ttl: String,
    /// Objects reconciled at once.
    #[arg(long, default_value_t = 2)]
    concurrent: u16,
    /// Watch every namespace; when false, only the one in `RUNTIME_NAMESPACE`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// The controller's own namespace.
    #[arg(long, env = "RUNTIME_NAMESPACE", default_value = "flux-system")]
    runtime_namespace: String,
    /// Reconcile only objects matching this label selector (sharding).
    #[arg(long)]
    watch_label_selector: Option<String>,
    /// Address of the notification-controller's event endpoint; events are
    /// only recorded as Kubernetes Events when empty.
    #[arg(long, env = "EVENTS_ADDR")]
    events_addr: Option<String>,
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

/// `:9090` means every interface, as in Go.
fn listen_addr(flag: &str) -> anyhow::Result<SocketAddr> {
    let full = if flag.starts_with(':') {
        format!("0.0.0.0{flag}")
    } else {
        flag.to_owned()
    };
    full.parse()
        .with_context(|| format!("{flag:?} is not an address such as :9090 or 127.0.0.1:9090"))
}

/// Serves `router` on the address of flag `--{name}` until shutdown.
async fn serve_on(
    flag: &str,
    name: &str,
    router: axum::Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let addr = listen_addr(flag).with_context(|| format!("--{name}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --{name} to {addr}"))?;
    tracing::info!(%addr, "{name} listening");
    Ok(tokio::spawn(metrics::serve(listener, router, async move {
        let _ = stopped.wait_for(|s| *s).await;
    })))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&flags.log_level).context("--log-level")?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if flags.log_encoding == "console" {
        logs.init();
    } else {
        logs.json().init();
    }

    let ttl = parse_duration(&flags.artifact_retention_ttl)
        .map_err(anyhow::Error::msg)
        .context("--artifact-retention-ttl")?;
    let retention = Retention {
        records: flags.artifact_retention_records,
        ttl,
    };
    let storage = Storage::new(&flags.storage_path, &flags.storage_adv_addr, retention)
        .with_context(|| format!("opening the storage at {}", flags.storage_path.display()))?;

    let addr = listen_addr(&flags.storage_addr).context("--storage-addr")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the artifact server to {addr}"))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(ferroflux_artifact::server::serve(
        listener,
        storage.root().to_path_buf(),
        {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        },
    ));
    tracing::info!(%addr, root = %storage.root().display(), "artifact server listening");

    let metrics = Metrics::new("gitrepository");
    let metrics_server = serve_on(
        &flags.metrics_addr,
        "metrics-addr",
        metrics::metrics_router(metrics.clone()),
        stopped.clone(),
    )
    .await?;
    let health_server = serve_on(
        &flags.health_addr,
        "health-addr",
        metrics::health_router(),
        stopped.clone(),
    )
    .await?;

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let instance = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "source-controller".into());
    let events_addr = flags.events_addr.clone().filter(|a| !a.is_empty());
    let events = Events::new(client.clone(), "source-controller", &instance, events_addr);
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let options = Options {
        field_manager: "source-controller".into(),
        concurrency: flags.concurrent,
        namespace: (!flags.watch_all_namespaces).then(|| flags.runtime_namespace.clone()),
        label_selector: flags.watch_label_selector.clone(),
        events: Some(events),
        metrics: Some(metrics),
        ..Options::default()
    };
    let controller = tokio::spawn(controller::run::<GitRepository, _>(
        client,
        reconciler,
        options,
        Arc::new(Stats::default()),
        {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        },
    ));

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = controller.await;
        let _ = server.await;
        let _ = metrics_server.await;
        let _ = health_server.await;
    })
    .await;
    Ok(())
}
