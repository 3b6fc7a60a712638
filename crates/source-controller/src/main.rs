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
use ferroflux_runtime::leader::{Elector, Timings};
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::object::{parse_bytes, parse_duration};
use ferroflux_source_controller::gitrepository::{
    GitRepositoryReconciler, remove_orphaned_artifacts,
};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

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
    /// Largest repository (history and files, as fetched) turned into an
    /// artifact, e.g. `500Mi`; larger ones are refused with a message.
    #[arg(long, default_value = "1Gi")]
    max_repository_size: String,
    /// How much `spec.interval` is spread, in percent, so objects created
    /// together do not reconcile together.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    interval_jitter_percentage: u8,
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
    /// Run only while holding the leader-election Lease (for several replicas).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    enable_leader_election: bool,
    /// How long the Lease is valid after its last renewal.
    #[arg(long, default_value = "35s")]
    leader_election_lease_duration: String,
    /// How long the leader keeps trying to renew before giving up.
    #[arg(long, default_value = "30s")]
    leader_election_renew_deadline: String,
    /// How often candidates retry and the leader renews.
    #[arg(long, default_value = "5s")]
    leader_election_retry_period: String,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log format: json or console.
    #[arg(long, default_value = "json")]
    log_encoding: String,
}

/// The leader-election Lease, named as Flux names it.
const LEASE: &str = "source-controller-leader-election";

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

/// Serves `router` on the address of flag `--{name}` until `stopped` turns true.
async fn serve_on(
    flag: &str,
    name: &str,
    router: axum::Router,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let addr = listen_addr(flag).with_context(|| format!("--{name}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --{name} to {addr}"))?;
    tracing::info!(%addr, "{name} listening");
    Ok(tokio::spawn(metrics::serve(
        listener,
        router,
        until(stopped),
    )))
}

/// Completes when `stopped` turns true.
fn until(stopped: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + Sync + 'static {
    let mut stopped = stopped.clone();
    async move {
        let _ = stopped.wait_for(|s| *s).await;
    }
}

fn init_logging(flags: &Flags) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&flags.log_level).context("--log-level")?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if flags.log_encoding == "console" {
        logs.init();
    } else {
        logs.json().init();
    }
    Ok(())
}

impl Flags {
    /// The controller loop's options from the flags.
    fn options(&self, client: &kube::Client, instance: &str, metrics: Arc<Metrics>) -> Options {
        let events_addr = self.events_addr.clone().filter(|a| !a.is_empty());
        Options {
            field_manager: "source-controller".into(),
            concurrency: self.concurrent,
            namespace: (!self.watch_all_namespaces).then(|| self.runtime_namespace.clone()),
            label_selector: self.watch_label_selector.clone(),
            events: Some(Events::new(
                client.clone(),
                "source-controller",
                instance,
                events_addr,
            )),
            metrics: Some(metrics),
            jitter: f64::from(self.interval_jitter_percentage) / 100.0,
            ..Options::default()
        }
    }

    fn timings(&self) -> anyhow::Result<Timings> {
        Ok(Timings {
            lease_duration: duration_flag(
                &self.leader_election_lease_duration,
                "--leader-election-lease-duration",
            )?,
            renew_deadline: duration_flag(
                &self.leader_election_renew_deadline,
                "--leader-election-renew-deadline",
            )?,
            retry_period: duration_flag(
                &self.leader_election_retry_period,
                "--leader-election-retry-period",
            )?,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    init_logging(&flags)?;
    let retention = Retention {
        records: flags.artifact_retention_records,
        ttl: duration_flag(&flags.artifact_retention_ttl, "--artifact-retention-ttl")?,
    };
    let storage = Storage::new(&flags.storage_path, &flags.storage_adv_addr, retention)
        .with_context(|| format!("opening the storage at {}", flags.storage_path.display()))?;

    let (stop, stopped) = watch::channel(false);
    let metrics = Metrics::new("gitrepository");
    let servers = [
        serve_on(
            &flags.storage_addr,
            "storage-addr",
            ferroflux_artifact::server::router(storage.root()),
            &stopped,
        )
        .await?,
        serve_on(
            &flags.metrics_addr,
            "metrics-addr",
            metrics::metrics_router(metrics.clone()),
            &stopped,
        )
        .await?,
        serve_on(
            &flags.health_addr,
            "health-addr",
            metrics::health_router(),
            &stopped,
        )
        .await?,
    ];

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let instance = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "source-controller".into());
    let options = flags.options(&client, &instance, metrics);

    let mut leadership = None;
    if flags.enable_leader_election {
        let elector = Elector::new(
            client.clone(),
            &flags.runtime_namespace,
            LEASE,
            &instance,
            flags.timings()?,
        );
        tracing::info!(lease = LEASE, identity = %instance, "waiting for leadership");
        tokio::select! {
            leading = elector.acquire() => leadership = Some(leading),
            () = shutdown_signal()? => return Ok(()),
        }
    }

    // Only the leader cleans up: artifacts of GitRepositories deleted while no
    // controller ran would otherwise stay forever.
    match remove_orphaned_artifacts(&client, &storage, options.namespace.as_deref()).await {
        Ok(removed) => tracing::info!(count = removed.len(), "removed orphaned artifacts"),
        Err(e) => tracing::warn!(error = %e, "removing orphaned artifacts failed; continuing"),
    }
    let max_repository_size = parse_bytes(&flags.max_repository_size)
        .map_err(anyhow::Error::msg)
        .context("--max-repository-size")?;
    let reconciler = Arc::new(
        GitRepositoryReconciler::new(client.clone(), storage)
            .with_max_repository_size(max_repository_size),
    );
    let stats = Arc::new(Stats::default());
    let controller = tokio::spawn(controller::run::<GitRepository, _>(
        client,
        reconciler,
        options,
        stats,
        until(&stopped),
    ));

    let lost = async {
        match leadership.as_mut() {
            Some(l) => l.lost().await,
            None => std::future::pending().await,
        }
    };
    let lost_leadership = tokio::select! {
        () = shutdown_signal()? => false,
        () = lost => true,
    };
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let _ = controller.await;
        futures_join(servers).await;
    })
    .await;
    if lost_leadership {
        anyhow::bail!("lost the leader-election lease {LEASE}; exiting so a replica can take over");
    }
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    Ok(())
}

/// Waits for every task (their results were logged where they ran).
async fn futures_join<T>(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
}

fn duration_flag(value: &str, flag: &str) -> anyhow::Result<Duration> {
    parse_duration(value)
        .map_err(anyhow::Error::msg)
        .context(flag.to_owned())
}
