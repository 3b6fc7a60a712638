//! `ferroflux-source-controller`: flags and wiring. Flag names follow Flux's
//! source-controller so its manifests and habits carry over.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::source::GitRepository;
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_runtime::controller;
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::process::{self, CommonFlags, EventsFlags};
use ferroflux_source_controller::gitrepository::{
    GitRepositoryReconciler, remove_orphaned_artifacts,
};
use ferroflux_source_controller::helmrepository::{self, HelmFlags};
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
    /// Largest OCI layer pulled for an OCIRepository, compressed and
    /// unpacked, e.g. `500Mi`; larger ones are refused with a message.
    #[arg(long, default_value = "1Gi")]
    max_oci_layer_size: String,
    /// Largest total size of the objects a Bucket's artifact is made of,
    /// e.g. `500Mi`; larger ones are refused with a message.
    #[arg(long, default_value = "1Gi")]
    max_bucket_size: String,
    /// Objects reconciled at once.
    #[arg(long, default_value_t = 2)]
    concurrent: u16,
    #[command(flatten)]
    helm: HelmFlags,
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    events: EventsFlags,
}

/// The leader-election Lease, named as Flux names it.
const LEASE: &str = "source-controller-leader-election";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    process::init_logging(&flags.common.log_level, &flags.common.log_encoding)?;
    let retention = Retention {
        records: flags.artifact_retention_records,
        ttl: process::duration_flag("artifact-retention-ttl", &flags.artifact_retention_ttl)?,
    };
    let max_repository_size =
        process::size_flag("max-repository-size", &flags.max_repository_size)?;
    let max_oci_layer_size = process::size_flag("max-oci-layer-size", &flags.max_oci_layer_size)?;
    let max_bucket_size = process::size_flag("max-bucket-size", &flags.max_bucket_size)?;
    let storage = Storage::new(&flags.storage_path, &flags.storage_adv_addr, retention)
        .with_context(|| format!("opening the storage at {}", flags.storage_path.display()))?;

    let (stop, stopped) = watch::channel(false);
    let metrics = Metrics::new();
    let ready = metrics::Readiness::default();
    let mut servers = flags
        .common
        .serve_probes(&metrics, &stopped, &ready)
        .await?;

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let instance = process::instance_name("source-controller");
    let options = flags.common.options(
        &client,
        "source-controller",
        &instance,
        metrics,
        flags.concurrent,
        flags.events.address(),
    );
    let lease = flags.common.lease_name(LEASE);
    let Some(leadership) = flags
        .common
        .lead(&client, &lease, &instance, &ready)
        .await?
    else {
        return Ok(());
    };
    // Artifacts are served by the leader only: a standby's storage is empty
    // (or stale), and would answer 404 to a consumer during a rolling update.
    servers.push(
        process::serve_on(
            &flags.storage_addr,
            "storage-addr",
            ferroflux_artifact::server::router(storage.root()),
            &stopped,
        )
        .await?,
    );

    // Only the leader cleans up: artifacts of GitRepositories deleted while no
    // controller ran would otherwise stay forever.
    match remove_orphaned_artifacts(&client, &storage, options.namespace.as_deref()).await {
        Ok(removed) => tracing::info!(count = removed.len(), "removed orphaned artifacts"),
        Err(e) => tracing::warn!(error = %e, "removing orphaned artifacts failed; continuing"),
    }
    match helmrepository::remove_orphaned_artifacts(&client, &storage, options.namespace.as_deref())
        .await
    {
        Ok(removed) => tracing::info!(count = removed.len(), "removed orphaned Helm artifacts"),
        Err(e) => tracing::warn!(error = %e, "removing orphaned Helm artifacts failed; continuing"),
    }
    let helm = helmrepository::spawn(&client, &storage, &options, &flags.helm, || {
        process::until(&stopped)
    })?;
    let oci = ferroflux_source_controller::ocirepository::spawn(
        client.clone(),
        storage.clone(),
        options.clone(),
        max_oci_layer_size,
        process::until(&stopped),
    );
    let bucket = ferroflux_source_controller::bucket::spawn(
        client.clone(),
        storage.clone(),
        options.clone(),
        max_bucket_size,
        process::until(&stopped),
    );
    let reconciler = Arc::new(
        GitRepositoryReconciler::new(client.clone(), storage)
            .with_max_repository_size(max_repository_size),
    );
    let git =
        controller::run::<GitRepository, _>(client, reconciler, options, process::until(&stopped));
    let controller = tokio::spawn(async move {
        // Every loop ends on shutdown; a panicked OCI or Bucket task is
        // logged, not fatal to the others.
        let ((), (), oci, bucket) = tokio::join!(git, helm, oci, bucket);
        if let Err(e) = oci {
            tracing::error!(error = %e, "the OCIRepository loop failed");
        }
        if let Err(e) = bucket {
            tracing::error!(error = %e, "the Bucket loop failed");
        }
    });

    Ok(process::run_until_shutdown(leadership, &lease, &stop, controller, servers).await?)
}
