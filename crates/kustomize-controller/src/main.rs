//! `ferroflux-kustomize-controller`: flags and wiring. Flag names follow
//! Flux's kustomize-controller so its manifests and habits carry over.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use ferroflux_api::kustomize::Kustomization;
use ferroflux_kustomize_controller::kustomization::KustomizationReconciler;
use ferroflux_kustomize_controller::sources;
use ferroflux_runtime::acl::CrossNamespace;
use ferroflux_runtime::controller;
use ferroflux_runtime::metrics::{self, Metrics};
use ferroflux_runtime::process::{self, CommonFlags, EventsFlags, KubeConfigFlags};
use tokio::sync::watch;

/// Builds Kustomizations from source artifacts and applies them.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Objects reconciled at once.
    #[arg(long, default_value_t = 4)]
    concurrent: u16,
    /// Refuse references to sources in other namespaces.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_cross_namespace_refs: bool,
    /// How soon a Kustomization waiting for its source's artifact looks again.
    #[arg(long, default_value = "30s")]
    requeue_dependency: String,
    /// The ServiceAccount to impersonate, in each Kustomization's own
    /// namespace, for Kustomizations without `spec.serviceAccountName`
    /// (multi-tenant lock-down; empty: the controller's own account).
    #[arg(long, default_value = "")]
    default_service_account: String,
    #[command(flatten)]
    kubeconfig: KubeConfigFlags,
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    events: EventsFlags,
}

/// The leader-election Lease, named as Flux names it.
const LEASE: &str = "kustomize-controller-leader-election";
/// The controller's name: field manager and event source.
const CONTROLLER: &str = "kustomize-controller";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    process::init_logging(&flags.common.log_level, &flags.common.log_encoding)?;
    let requeue_dependency =
        process::duration_flag("requeue-dependency", &flags.requeue_dependency)?;

    let (stop, stopped) = watch::channel(false);
    let ready = metrics::Readiness::default();
    let metrics = Metrics::new();
    let servers = flags
        .common
        .serve_probes(&metrics, &stopped, &ready)
        .await?;

    let config = kube::Config::infer()
        .await
        .context("reading the Kubernetes client configuration")?;
    let client =
        kube::Client::try_from(config.clone()).context("connecting to the Kubernetes API")?;
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

    let mut reconciler = KustomizationReconciler::new(client.clone(), ferroflux_tls::http_client())
        .with_cross_namespace(CrossNamespace::from_flag(flags.no_cross_namespace_refs))
        .with_requeue_dependency(requeue_dependency)
        .with_default_service_account(Some(flags.default_service_account))
        .with_kubeconfig_policy(flags.kubeconfig.policy())
        .with_config(config);
    if let Some(events) = options.events.clone() {
        reconciler = reconciler.with_events(events);
    }
    let triggers = sources::artifact_triggers(
        client.clone(),
        options.namespace.clone(),
        options.label_selector.clone(),
    );
    let controller = tokio::spawn(controller::run_with_triggers::<Kustomization, _>(
        client,
        Arc::new(reconciler),
        options,
        triggers,
        process::until(&stopped),
    ));
    Ok(process::run_until_shutdown(leadership, &lease, &stop, controller, servers).await?)
}
