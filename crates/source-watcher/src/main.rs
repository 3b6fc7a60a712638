//! `ferroflux-source-watcher`: flags and wiring. Flag names follow Flux's
//! source-watcher so its manifests and habits carry over.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::extensions::ArtifactGenerator;
use ferroflux_artifact::storage::{ObjectKey, Retention, Storage};
use ferroflux_runtime::acl::CrossNamespace;
use ferroflux_runtime::controller;
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::process::{self, CommonFlags, EventsFlags};
use ferroflux_source_watcher::generator::{CONTROLLER, GeneratorReconciler, STORAGE_KIND};
use ferroflux_source_watcher::sources;
use kube::api::ListParams;
use kube::{Api, ResourceExt as _};
use tokio::sync::watch;

/// Generates ExternalArtifacts from source artifacts (ArtifactGenerator).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Directory the generated artifacts are stored in.
    #[arg(long, default_value = "/data")]
    storage_path: std::path::PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, default_value = ":9090")]
    storage_addr: String,
    /// Host (and port) other controllers reach the artifact server at.
    #[arg(
        long,
        env = "STORAGE_ADV_ADDR",
        default_value = "source-watcher.flux-system.svc.cluster.local."
    )]
    storage_adv_addr: String,
    /// Newest artifacts kept per ExternalArtifact.
    #[arg(long, default_value_t = 2)]
    artifact_retention_records: usize,
    /// How long older artifacts are kept beyond the newest records.
    #[arg(long, default_value = "60s")]
    artifact_retention_ttl: String,
    /// Largest source artifact downloaded (compressed), e.g. `500Mi`.
    #[arg(long, default_value = "512Mi")]
    max_source_size: String,
    /// Objects reconciled at once.
    #[arg(long, default_value_t = 2)]
    concurrent: u16,
    /// Refuse sources in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_cross_namespace_refs: bool,
    /// How soon a generator whose source is missing or not ready looks again.
    #[arg(long, default_value = "5s")]
    requeue_dependency: String,
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    events: EventsFlags,
}

/// The leader-election Lease, named as Flux names it.
const LEASE: &str = "source-watcher-leader-election";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    process::init_logging(&flags.common.log_level, &flags.common.log_encoding)?;
    let retention = Retention {
        records: flags.artifact_retention_records,
        ttl: process::duration_flag("artifact-retention-ttl", &flags.artifact_retention_ttl)?,
    };
    let requeue_dependency =
        process::duration_flag("requeue-dependency", &flags.requeue_dependency)?;
    let max_source_size = process::size_flag("max-source-size", &flags.max_source_size)?;
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
    let instance = process::instance_name(CONTROLLER);
    let options = flags.common.options(
        &client,
        CONTROLLER,
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
    // Artifacts are served by the leader only, as by the source-controller:
    // a standby's storage is empty or stale.
    servers.push(
        process::serve_on(
            &flags.storage_addr,
            "storage-addr",
            ferroflux_artifact::server::router(storage.root()),
            &stopped,
        )
        .await?,
    );
    remove_orphans(&client, &storage, options.namespace.as_deref()).await;

    let fetch = ferroflux_artifact::fetch::Options {
        max_download_bytes: max_source_size,
        ..ferroflux_artifact::fetch::Options::default()
    };
    let mut reconciler =
        GeneratorReconciler::new(client.clone(), ferroflux_tls::http_client(), storage)
            .with_cross_namespace(CrossNamespace::from_flag(flags.no_cross_namespace_refs))
            .with_requeue_dependency(requeue_dependency)
            .with_fetch_options(fetch);
    if let Some(events) = options.events.clone() {
        reconciler = reconciler.with_events(events);
    }
    let triggers = sources::artifact_triggers(
        client.clone(),
        options.namespace.clone(),
        options.label_selector.clone(),
    );
    let controller = tokio::spawn(controller::run_with_triggers::<ArtifactGenerator, _>(
        client,
        Arc::new(reconciler),
        options,
        triggers,
        process::until(&stopped),
    ));
    Ok(process::run_until_shutdown(leadership, &lease, &stop, controller, servers).await?)
}

/// Removes the stored artifacts of ExternalArtifacts that no longer exist
/// (deleted while no source-watcher ran). Only the leader does it.
async fn remove_orphans(client: &kube::Client, storage: &Storage, namespace: Option<&str>) {
    let api: Api<ferroflux_api::source::ExternalArtifact> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let live = match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .map(|ea| {
                ObjectKey::new(
                    STORAGE_KIND,
                    ea.namespace().unwrap_or_default(),
                    ea.name_any(),
                )
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing ExternalArtifacts failed; orphaned artifacts stay");
            return;
        }
    };
    match storage.remove_orphans(STORAGE_KIND, namespace, &live) {
        Ok(removed) => tracing::info!(count = removed.len(), "removed orphaned artifacts"),
        Err(e) => tracing::warn!(error = %e, "removing orphaned artifacts failed; continuing"),
    }
}
