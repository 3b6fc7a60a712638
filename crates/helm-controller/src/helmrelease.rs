//! The HelmRelease reconciler: resolve the chart, compose the values, then install, upgrade,
//! remediate or do nothing, as Flux's helm-controller decides, with Helm's actions from
//! `ferroflux-helm-action` and Helm's release Secrets as the record of what is deployed.
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses spec fields not implemented yet, by name (Stalled,
//!    `UnsupportedConfiguration`), rather than ignoring them.
//! 1. [`HelmReleaseReconciler::reconcile_dependencies`]: waits (`DependencyNotReady`) until
//!    every `spec.dependsOn` HelmRelease is Ready at its current generation.
//! 2. [`HelmReleaseReconciler::reconcile_chart`]: creates or updates the `HelmChart` of
//!    `spec.chart`, reads the source's artifact (waiting with `ArtifactFailed` while there is
//!    none), downloads, verifies and loads the chart (`ChartLoadError`). Sets
//!    `status.helmChart` and `status.lastAttemptedRevision` (the chart version).
//! 3. [`HelmReleaseReconciler::reconcile_values`]: composes `valuesFrom` and `values`
//!    (`InitFailed`). Sets `status.lastAttemptedConfigDigest`.
//! 4. [`HelmReleaseReconciler::reconcile_release`]: recovers a release left pending, then
//!    installs, upgrades, or leaves an in-sync release alone; on failure applies the
//!    strategy (`RetryOnFailure`) or the remediation (`retries`, rollback or uninstall).
//!    Sets `Released` and `Remediated`, the failure counters, `history`,
//!    `storageNamespace` and `lastAttemptedReleaseAction`.
//!
//! Ready is `True` with the last action's message once the release is deployed and in sync.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroflux_api::helm::helmrelease::names;
use ferroflux_api::helm::{HelmRelease, HelmReleaseSpec, HelmReleaseStatus, Snapshot};
use ferroflux_api::meta::RECONCILE_REQUEST_ANNOTATION;
use ferroflux_artifact::fetch::HttpClient;
use ferroflux_helm::chart::Chart;
use ferroflux_helm::release::{self, Release, Status};
use ferroflux_helm::values::Values;
use ferroflux_helm_action::cluster::{self, Capabilities, ClusterLookup};
use ferroflux_helm_action::drift::{IgnoreRule, Target};
use ferroflux_helm_action::{CrdPolicy, Helm, Options, Origin, PropagationPolicy, Uninstall};
use ferroflux_runtime::acl::{self, CrossNamespace};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::scrub::Scrubbed;
use ferroflux_runtime::tenant::{KubeConfigPolicy, Tenancy, TenantClient, TenantError};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt as _};

use crate::chart;
use crate::postrender::{self, PostRenderers};
use crate::values::{self, Composed};

/// The API group whose labels mark the objects a HelmRelease applies.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";

/// Longest release name Helm accepts.
const MAX_RELEASE_NAME: usize = 53;

/// `flux reconcile hr --reset`: clears the failure counts (with `requestedAt` of the same value).
const RESET_ANNOTATION: &str = "reconcile.fluxcd.io/resetAt";

/// `flux reconcile hr --force`: one upgrade (or install) whatever the state (with `requestedAt`
/// of the same value).
const FORCE_ANNOTATION: &str = "reconcile.fluxcd.io/forceAt";

/// `TestSuccess`'s reasons, as Flux's.
const TEST_SUCCEEDED: &str = "TestSucceeded";
const TEST_FAILED: &str = "TestFailed";

/// Revisions kept in `status.history`.
const MAX_SNAPSHOTS: usize = 5;

/// Reconciles HelmReleases.
pub struct HelmReleaseReconciler {
    client: Client,
    http: HttpClient,
    events: Option<Events>,
    cross_namespace: CrossNamespace,
    requeue_dependency: Duration,
    /// Each cluster's `.Capabilities` (`None`: the controller's own, else a remote cluster's
    /// address), rediscovered once older than [`CAPABILITIES_TTL`].
    capabilities: tokio::sync::Mutex<HashMap<Option<String>, (Instant, Capabilities)>>,
    /// Which client each HelmRelease acts through.
    tenancy: Tenancy,
}

/// How long discovered `.Capabilities` are reused: a CRD installed by one release shows in the
/// next renders within this time, and a thousand releases cost one discovery, not a thousand.
const CAPABILITIES_TTL: Duration = Duration::from_secs(30);

impl HelmReleaseReconciler {
    /// A reconciler using `http` (from `ferroflux_tls`) for chart artifacts.
    #[must_use]
    pub fn new(client: Client, http: HttpClient) -> Self {
        Self {
            http,
            events: None,
            cross_namespace: CrossNamespace::Allowed,
            requeue_dependency: Duration::from_secs(5),
            capabilities: tokio::sync::Mutex::new(HashMap::new()),
            tenancy: Tenancy::new(client.clone()),
            client,
        }
    }

    /// The controller's own client configuration, from which clients impersonating a
    /// HelmRelease's `spec.serviceAccountName` are made.
    #[must_use]
    pub fn with_config(mut self, config: kube::Config) -> Self {
        self.tenancy = self.tenancy.with_config(config);
        self
    }

    /// The ServiceAccount impersonated for HelmReleases that name none (Flux's
    /// `--default-service-account`). Needs [`Self::with_config`].
    #[must_use]
    pub fn with_default_service_account(mut self, account: Option<String>) -> Self {
        self.tenancy = self.tenancy.with_default_service_account(account);
        self
    }

    /// What the kubeconfigs of `spec.kubeConfig` may use
    /// (`--insecure-kubeconfig-exec`, `--insecure-kubeconfig-tls`).
    #[must_use]
    pub fn with_kubeconfig_policy(mut self, policy: KubeConfigPolicy) -> Self {
        self.tenancy = self.tenancy.with_kubeconfig_policy(policy);
        self
    }

    /// The client Helm's actions run with for `obj`: one for the remote cluster of
    /// `spec.kubeConfig`, else the controller's own or one impersonating
    /// `spec.serviceAccountName` (or the default account) in the HelmRelease's namespace, as
    /// Flux's does: objects, release Secrets and `lookup` are then limited to what that
    /// ServiceAccount may do. See [`ferroflux_runtime::tenant`].
    async fn tenant_client(&self, obj: &HelmRelease) -> Result<TenantClient, TenantError> {
        self.tenancy
            .client(
                &obj.namespace().unwrap_or_default(),
                obj.spec.service_account_name.as_deref(),
                obj.spec.kube_config.as_ref(),
            )
            .await
    }

    /// Publishes Flux's events (install, upgrade, remediation) through `events`.
    #[must_use]
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// Refuses (or allows) references to sources in other namespaces.
    #[must_use]
    pub fn with_cross_namespace(mut self, policy: CrossNamespace) -> Self {
        self.cross_namespace = policy;
        self
    }

    /// How soon a HelmRelease waiting for a dependency or a chart looks again.
    #[must_use]
    pub fn with_requeue_dependency(mut self, after: Duration) -> Self {
        self.requeue_dependency = after;
        self
    }

    async fn publish(&self, obj: &HelmRelease, severity: Severity, reason: &str, message: &str) {
        if let Some(events) = &self.events {
            let revision = obj
                .status
                .as_ref()
                .and_then(|s| s.last_attempted_revision.clone());
            events
                .publish(
                    obj,
                    severity,
                    reason,
                    &Scrubbed::new(message),
                    revision.as_deref(),
                )
                .await;
        }
    }

    /// Step 1: every `dependsOn` HelmRelease Ready at its current generation.
    async fn reconcile_dependencies(&self, obj: &HelmRelease) -> Result<(), ReconcileError> {
        let own = obj.namespace().unwrap_or_default();
        let expressions = ferroflux_runtime::cel::ready_expressions(&obj.spec.depends_on)?;
        for (dep, expression) in obj.spec.depends_on.iter().zip(&expressions) {
            let ns = dep.namespace.clone().unwrap_or_else(|| own.clone());
            acl::check_reference(
                self.cross_namespace,
                "spec.dependsOn",
                &own,
                (ns != own).then_some(ns.as_str()),
            )?;
            let waiting = |why: &str| {
                ReconcileError::waiting(
                    self.requeue_dependency,
                    names::DEPENDENCY_NOT_READY,
                    Scrubbed::new(&format!(
                        "dependency '{ns}/{}' {why}, retrying in {:?}",
                        dep.name, self.requeue_dependency
                    )),
                )
            };
            let found = Api::<HelmRelease>::namespaced(self.client.clone(), &ns)
                .get_opt(&dep.name)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::DEPENDENCY_NOT_READY,
                        Scrubbed::new(&e.to_string()),
                    )
                })?;
            // `readyExpr` replaces the built-in check, as in Flux.
            if let (Some(expression), Some(found)) = (expression, &found) {
                ferroflux_runtime::cel::dependency_ready(expression, obj, found)
                    .map_err(|why| waiting(&why))?;
                continue;
            }
            let ready = found.as_ref().is_some_and(|d| {
                d.status.as_ref().is_some_and(|s| {
                    s.observed_generation == d.metadata.generation
                        && conditions::get(&s.conditions, "Ready")
                            .is_some_and(|c| c.status == "True")
                })
            });
            if !ready {
                return Err(waiting("is not ready"));
            }
        }
        Ok(())
    }

    /// Step 2: the chart, from its source's artifact.
    async fn reconcile_chart(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
    ) -> Result<Chart, ReconcileError> {
        let own = obj.namespace().unwrap_or_default();
        let source = chart::source_ref(obj).map_err(|e| {
            ReconcileError::stalled(names::UNSUPPORTED, Scrubbed::new(&e.to_string()))
        })?;
        let field = if obj.spec.chart.is_some() {
            "spec.chart.spec.sourceRef"
        } else {
            "spec.chartRef"
        };
        acl::check_reference(
            self.cross_namespace,
            field,
            &own,
            (source.namespace != own).then_some(source.namespace.as_str()),
        )?;
        let applied = chart::apply_template(&self.client, obj)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::HELM_CHART_RECONCILIATION_FAILED,
                    Scrubbed::new(&e.to_string()),
                )
            })?;
        let current = applied
            .is_some()
            .then(|| format!("{}/{}", source.namespace, source.name));
        // The HelmChart this HelmRelease templated before, if it no longer uses it.
        if let Some(previous) = status.helm_chart.clone()
            && Some(&previous) != current.as_ref()
            && let Some((namespace, name)) = previous.split_once('/')
        {
            chart::delete_chart(&self.client, namespace, name)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::HELM_CHART_RECONCILIATION_FAILED,
                        Scrubbed::new(&e.to_string()),
                    )
                })?;
        }
        status.helm_chart = current;
        // The applied HelmChart comes back with its status: no second read for the artifact.
        let artifact = match applied {
            Some(helm_chart) => {
                let status = helm_chart.status.unwrap_or_default();
                chart::usable(&source, status.artifact, &status.conditions)
            }
            None => chart::artifact(&self.client, &source).await,
        };
        let artifact = artifact.map_err(|e| match e {
            chart::Error::NotFound { .. } | chart::Error::NotReady { .. } => {
                ReconcileError::waiting(
                    self.requeue_dependency,
                    names::ARTIFACT_FAILED,
                    Scrubbed::new(&e.to_string()),
                )
            }
            other => {
                ReconcileError::transient(names::ARTIFACT_FAILED, Scrubbed::new(&other.to_string()))
            }
        })?;
        let mut loaded = chart::load(&self.http, &artifact).await.map_err(|e| {
            let mut err =
                ReconcileError::transient(names::CHART_LOAD_ERROR, Scrubbed::new(&e.to_string()));
            err.event = true;
            err
        })?;
        loaded.metadata.version = chart::release_version(
            &source.kind,
            &loaded.metadata.version,
            &artifact,
        )
        .map_err(|e| {
            let mut err =
                ReconcileError::transient(names::CHART_LOAD_ERROR, Scrubbed::new(&e.to_string()));
            err.event = true;
            err
        })?;
        status.last_attempted_revision = Some(loaded.metadata.version.clone());
        status.last_attempted_revision_digest = (source.kind != "HelmChart")
            .then(|| artifact.digest.clone())
            .flatten();
        Ok(loaded)
    }

    /// Step 3: the values.
    async fn reconcile_values(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
    ) -> Result<Composed, ReconcileError> {
        let composed = values::compose(&self.client, obj).await.map_err(|e| {
            let mut err =
                ReconcileError::transient(names::INIT_FAILED, Scrubbed::new(&e.to_string()));
            err.event = true;
            err
        })?;
        status.last_attempted_config_digest = Some(values::digest(&composed.values));
        Ok(composed)
    }

    /// Step 4: install, upgrade, remediate or nothing.
    #[expect(
        clippy::too_many_lines,
        reason = "one decision table, read top to bottom as Flux's state machine"
    )]
    async fn reconcile_release(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
        loaded: Chart,
        composed: &Composed,
    ) -> Result<Outcome, ReconcileError> {
        let spec = &obj.spec;
        let own = obj.namespace().unwrap_or_default();
        let name = release_name(obj);
        let target = spec.target_namespace.clone().unwrap_or_else(|| own.clone());
        let storage_ns = spec
            .storage_namespace
            .clone()
            .unwrap_or_else(|| own.clone());
        let TenantClient {
            client: tenant,
            remote,
        } = self
            .tenant_client(obj)
            .await
            .map_err(|e| e.into_reconcile_error(names::INIT_FAILED))?;
        self.uninstall_moved(obj, status, &tenant, &name, &target, &storage_ns)
            .await?;
        status.storage_namespace = Some(storage_ns.clone());
        let helm = Helm::new(
            tenant.clone(),
            &storage_ns,
            Origin {
                group: GROUP.to_owned(),
                name: obj.name_any(),
                namespace: own.clone(),
            },
        );
        let hide = |text: &str| {
            let secrets: Vec<&str> = composed.secrets.iter().map(String::as_str).collect();
            Scrubbed::with_secrets(text, &secrets)
        };
        let store_error = |e: &dyn std::fmt::Display| {
            ReconcileError::transient(names::GET_LAST_RELEASE_FAILED, hide(&e.to_string()))
        };

        // One list of the release Secrets, read again only when a revision was left pending:
        // the API server reads every Secret of the storage namespace for each list, so lists
        // are what a namespace holding many releases pays for (`make bench-mttp-helm`).
        let mut history = helm
            .storage()
            .history(&name)
            .await
            .map_err(|e| store_error(&e))?;
        if history.last().is_some_and(|r| r.status().is_pending())
            && let Some(version) = helm
                .unlock_pending(&name)
                .await
                .map_err(|e| store_error(&e))?
        {
            let message =
                format!("release {storage_ns}/{name}.v{version} was left pending; marked failed");
            self.publish(obj, Severity::Error, "PendingRelease", &message)
                .await;
            history = helm
                .storage()
                .history(&name)
                .await
                .map_err(|e| store_error(&e))?;
        }
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.status() == Status::Deployed);
        let last = history.last();
        // `upgrade.preserveValues` (Helm's `--reuse-values`): the deployed release's values with
        // the composed ones merged over them are the desired values.
        let desired = match deployed {
            Some(d) if spec.upgrade.as_ref().is_some_and(|u| u.preserve_values) => {
                let mut merged = d.config.clone();
                ferroflux_helm::values::read::merge_into(&mut merged, composed.values.clone());
                merged
            }
            _ => composed.values.clone(),
        };
        let digest = values::digest(&desired);
        // New post-renderers make a new release, as in Flux.
        let post_digest = postrender::digest(&spec.post_renderers);
        let common_digest = postrender::common_metadata_digest(spec.common_metadata.as_ref());
        let chart_version = loaded.metadata.version.clone();
        let chart_name = loaded.metadata.name.clone();

        // Nothing deployed (never installed, uninstalled, or only failed installs): install.
        let action = match (last, deployed) {
            (Some(l), Some(d)) if l.status() != Status::Uninstalled => {
                // A deployed revision this HelmRelease did not record (a `helm install` taken
                // over, a `helm upgrade` or `helm rollback` by hand) is upgraded, as Flux
                // upgrades an unmanaged release.
                if l.version == d.version
                    && in_sync(d, &chart_name, &chart_version, &digest)
                    && managed(status, d)
                    && status.observed_post_renderers_digest == post_digest
                    && status.observed_common_metadata_digest == common_digest
                {
                    Action::None
                } else {
                    Action::Upgrade
                }
            }
            _ => Action::Install,
        };

        // `flux reconcile hr --reset` / `--force`: honoured once per value, and only together
        // with a `requestedAt` of the same value, as Flux does.
        let annotation = |key: &str| {
            obj.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(key))
                .filter(|v| {
                    obj.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(RECONCILE_REQUEST_ANNOTATION))
                        == Some(*v)
                })
                .cloned()
        };
        if let Some(reset) = annotation(RESET_ANNOTATION)
            .filter(|v| status.last_handled_reset_at.as_ref() != Some(v))
        {
            status.failures = None;
            status.install_failures = None;
            status.upgrade_failures = None;
            status.last_handled_reset_at = Some(reset);
        }
        let forced = annotation(FORCE_ANNOTATION)
            .filter(|v| status.last_handled_force_at.as_ref() != Some(v));
        let action = match (action, &forced) {
            (Action::None, Some(_)) => Action::Upgrade,
            (action, _) => action,
        };
        if let Some(force) = forced.clone() {
            status.last_handled_force_at = Some(force);
        }

        let mut opts = Self::options(spec, &name, &target, desired, action);
        opts.health_checks =
            ferroflux_runtime::cel::health_checks(&spec.health_check_exprs)?.into();
        if action != Action::None {
            // An install or upgrade renders against the live cluster, as Helm's does.
            let caps = self.capabilities(&tenant, remote.as_ref()).await?;
            opts.kube_version = Some(caps.kube_version);
            opts.api_versions = caps.api_versions;
            opts.api_versions_from_cluster = true;
            opts.lookup = Some(Arc::new(ClusterLookup::new(tenant.clone())));
            if let Some(post) = PostRenderers::new(spec) {
                opts.post_render = Some(Arc::new(post));
            }
        }
        let started = Instant::now();
        let result = match action {
            Action::None => {
                if let Some(current) = deployed {
                    self.reconcile_drift(obj, &helm, current).await?;
                }
                update_history(status, &history);
                conditions::remove(&mut status.conditions, names::REMEDIATED);
                if !spec.test.as_ref().is_some_and(|t| t.enable) {
                    conditions::remove(&mut status.conditions, names::TEST_SUCCESS);
                } else if let Some(current) = deployed {
                    if needs_tests(spec, current) {
                        // Tests not passed yet for this release (never run, or a failure not
                        // ignored): run them, within the upgrade's retries.
                        if let Some(exhausted) = exhausted(status, spec, Action::Upgrade) {
                            return Err(exhausted);
                        }
                        self.run_tests(obj, status, &helm, &name, Action::Upgrade, &opts)
                            .await?;
                    } else {
                        // Tested already: `TestSuccess` says how, for this generation (the
                        // filters may have changed which hooks count).
                        tested(obj, status, &storage_ns, current);
                    }
                }
                return Ok(Outcome::CONTINUE);
            }
            Action::Install => {
                if forced.is_none()
                    && let Some(exhausted) = exhausted(status, spec, Action::Install)
                {
                    return Err(exhausted);
                }
                if spec.install.as_ref().is_some_and(|i| i.create_namespace) {
                    Self::create_namespace(&tenant, &target).await?;
                }
                status.last_attempted_release_action = Some("install".to_owned());
                // Over the history read above: one list of the release Secrets fewer.
                helm.install_over(loaded, &opts, &history).await
            }
            Action::Upgrade => {
                if forced.is_none()
                    && let Some(exhausted) = exhausted(status, spec, Action::Upgrade)
                {
                    return Err(exhausted);
                }
                status.last_attempted_release_action = Some("upgrade".to_owned());
                helm.upgrade(loaded, &opts).await
            }
        };
        status.last_attempted_release_action_duration =
            Some(format!("{:.3}s", started.elapsed().as_secs_f64()));
        let history_now = match &result {
            // A first install that succeeded leaves its own revision and nothing else (nothing
            // to supersede or prune): the list it would take is saved, as on every cluster
            // installing its releases for the first time.
            Ok(rel) if history.is_empty() => vec![rel.clone()],
            _ => helm
                .storage()
                .history(&name)
                .await
                .map_err(|e| store_error(&e))?,
        };
        match result {
            Ok(rel) => {
                let (reason, verb) = if action == Action::Install {
                    (names::INSTALL_SUCCEEDED, "install")
                } else {
                    (names::UPGRADE_SUCCEEDED, "upgrade")
                };
                let message = format!(
                    "Helm {verb} succeeded for release {storage_ns}/{name}.v{} with chart {chart_name}@{chart_version}",
                    rel.version
                );
                conditions::set(
                    &mut status.conditions,
                    names::RELEASED,
                    true,
                    reason,
                    &message,
                    obj.metadata.generation,
                );
                conditions::remove(&mut status.conditions, names::REMEDIATED);
                status.failures = None;
                status.install_failures = None;
                status.upgrade_failures = None;
                status.observed_post_renderers_digest = post_digest;
                status.observed_common_metadata_digest = common_digest;
                update_history(status, &history_now);
                if spec.test.as_ref().is_some_and(|t| t.enable) {
                    self.run_tests(obj, status, &helm, &name, action, &opts)
                        .await?;
                } else {
                    conditions::remove(&mut status.conditions, names::TEST_SUCCESS);
                }
                // The runtime publishes the success event with Ready's reason and message.
                Ok(Outcome::CONTINUE)
            }
            Err(e) => {
                let (reason, verb) = if action == Action::Install {
                    (names::INSTALL_FAILED, "install")
                } else {
                    (names::UPGRADE_FAILED, "upgrade")
                };
                let message = hide(&format!(
                    "Helm {verb} failed for release {storage_ns}/{name} with chart {chart_name}@{chart_version}: {e}"
                ));
                conditions::set(
                    &mut status.conditions,
                    names::RELEASED,
                    false,
                    reason,
                    message.as_str(),
                    obj.metadata.generation,
                );
                status.failures = Some(status.failures.unwrap_or(0) + 1);
                let count = if action == Action::Install {
                    let n = status.install_failures.unwrap_or(0) + 1;
                    status.install_failures = Some(n);
                    n
                } else {
                    let n = status.upgrade_failures.unwrap_or(0) + 1;
                    status.upgrade_failures = Some(n);
                    n
                };
                self.publish(obj, Severity::Error, reason, message.as_str())
                    .await;
                update_history(status, &history_now);
                if let Some(after) = retry_on_failure(spec, action) {
                    return Err(ReconcileError::waiting(after, reason, message));
                }
                if remediates(spec, action, count) {
                    self.remediate(obj, status, &helm, &name, action, &opts)
                        .await?;
                    let after = helm
                        .storage()
                        .history(&name)
                        .await
                        .map_err(|e| store_error(&e))?;
                    update_history(status, &after);
                }
                let mut err = ReconcileError::transient(reason, message);
                err.event = false;
                Err(err)
            }
        }
    }

    /// `spec.driftDetection` on an in-sync release: in `warn` mode an event lists the drifted
    /// objects; in `enabled` mode they are re-applied and the event says so.
    async fn reconcile_drift(
        &self,
        obj: &HelmRelease,
        helm: &Helm,
        current: &Release,
    ) -> Result<(), ReconcileError> {
        let Some(detection) = &obj.spec.drift_detection else {
            return Ok(());
        };
        let mode = detection.mode.as_deref().unwrap_or("disabled");
        if mode == "disabled" {
            return Ok(());
        }
        let ignore = ignore_rules(&obj.spec);
        let drifts = helm.detect_drift(current, &ignore).await.map_err(|e| {
            ReconcileError::transient("DriftDetectionFailed", Scrubbed::new(&e.to_string()))
        })?;
        if drifts.is_empty() {
            return Ok(());
        }
        let list = drifts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let release = format!(
            "{}/{}.v{}",
            helm.storage().namespace(),
            current.name,
            current.version
        );
        if mode == "warn" {
            self.publish(
                obj,
                Severity::Error,
                "DriftDetected",
                &format!(
                    "Cluster state of release {release} has drifted from the desired state: {list}"
                ),
            )
            .await;
            return Ok(());
        }
        helm.correct_drift(current, &drifts, &ignore)
            .await
            .map_err(|e| {
                ReconcileError::transient("DriftCorrectionFailed", Scrubbed::new(&e.to_string()))
            })?;
        self.publish(
            obj,
            Severity::Info,
            "DriftCorrected",
            &format!("Cluster state of release {release} has been corrected: {list}"),
        )
        .await;
        Ok(())
    }

    /// `spec.test`: runs the release's test hooks (minus `filters`' exclusions, or only its
    /// inclusions) after an install or upgrade and sets `TestSuccess`; a failure counts as the
    /// action's failure, and is remediated as one, unless `ignoreFailures` (or the action's
    /// `remediation.ignoreTestFailures`) says to ignore it.
    #[expect(
        clippy::too_many_lines,
        reason = "one flow read top to bottom: run, record, then judge the outcome as Flux does"
    )]
    async fn run_tests(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
        helm: &Helm,
        name: &str,
        action: Action,
        opts: &Options,
    ) -> Result<(), ReconcileError> {
        let spec = &obj.spec;
        let test = spec.test.clone().unwrap_or_default();
        let mut test_opts = opts.clone();
        test_opts.timeout = test
            .timeout
            .as_ref()
            .or(spec.timeout.as_ref())
            .and_then(|t| t.get().ok())
            .unwrap_or(Duration::from_secs(300));
        let run = |hook: &str| test_selected(&test, hook);
        let storage_ns = helm.storage().namespace().to_owned();
        let store_error = |e: &dyn std::fmt::Display| {
            ReconcileError::transient(
                names::GET_LAST_RELEASE_FAILED,
                Scrubbed::new(&e.to_string()),
            )
        };
        let (rel, failed) = helm
            .test(name, &test_opts, &run)
            .await
            .map_err(|e| store_error(&e))?;
        let history = helm
            .storage()
            .history(name)
            .await
            .map_err(|e| store_error(&e))?;
        // The record now holds the test runs: the snapshot follows it.
        update_history(status, &history);
        let count = rel
            .hooks
            .iter()
            .filter(|h| h.events.iter().any(|e| e == "test") && run(&h.name))
            .count();
        let release = format!("{storage_ns}/{name}.v{}", rel.version);
        let chart = rel.chart_label();
        let Some(e) = failed else {
            let message = format!(
                "Helm test succeeded for release {release} with chart {chart}: {}",
                if count == 0 {
                    "no test hooks".to_owned()
                } else {
                    format!("{count} test hook(s) completed successfully")
                }
            );
            conditions::set(
                &mut status.conditions,
                names::TEST_SUCCESS,
                true,
                TEST_SUCCEEDED,
                &message,
                obj.metadata.generation,
            );
            self.publish(obj, Severity::Info, TEST_SUCCEEDED, &message)
                .await;
            return Ok(());
        };
        let message = format!("Helm test failed for release {release} with chart {chart}: {e}");
        conditions::set(
            &mut status.conditions,
            names::TEST_SUCCESS,
            false,
            TEST_FAILED,
            &message,
            obj.metadata.generation,
        );
        self.publish(obj, Severity::Error, TEST_FAILED, &message)
            .await;
        let ignore_override = match action {
            Action::Install => spec
                .install
                .as_ref()
                .and_then(|i| i.remediation.as_ref())
                .and_then(|r| r.ignore_test_failures),
            _ => spec
                .upgrade
                .as_ref()
                .and_then(|u| u.remediation.as_ref())
                .and_then(|r| r.ignore_test_failures),
        };
        if ignore_override.unwrap_or(test.ignore_failures) {
            return Ok(());
        }
        status.failures = Some(status.failures.unwrap_or(0) + 1);
        let count = if action == Action::Install {
            let n = status.install_failures.unwrap_or(0) + 1;
            status.install_failures = Some(n);
            n
        } else {
            let n = status.upgrade_failures.unwrap_or(0) + 1;
            status.upgrade_failures = Some(n);
            n
        };
        if remediates(spec, action, count) {
            self.remediate(obj, status, helm, name, action, opts)
                .await?;
            let after = helm
                .storage()
                .history(name)
                .await
                .map_err(|e| store_error(&e))?;
            update_history(status, &after);
        }
        // Published above; the runtime must not publish it a second time.
        let mut err = ReconcileError::transient(TEST_FAILED, Scrubbed::new(&message));
        err.event = false;
        Err(err)
    }

    /// A release whose identity changed (`releaseName`, `targetNamespace` or
    /// `storageNamespace`): the release recorded in status is uninstalled, as Flux does, before
    /// the new one is installed, and the history cleared.
    async fn uninstall_moved(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
        client: &Client,
        name: &str,
        target: &str,
        storage_ns: &str,
    ) -> Result<(), ReconcileError> {
        let Some(latest) = status.history.first() else {
            return Ok(());
        };
        let old_storage = status
            .storage_namespace
            .clone()
            .unwrap_or_else(|| storage_ns.to_owned());
        if latest.name == name && latest.namespace == target && old_storage == storage_ns {
            return Ok(());
        }
        let old = format!("{old_storage}/{}.v{}", latest.name, latest.version);
        let helm = Helm::new(
            client.clone(),
            &old_storage,
            Origin {
                group: GROUP.to_owned(),
                name: obj.name_any(),
                namespace: obj.namespace().unwrap_or_default(),
            },
        );
        match helm
            .uninstall(&latest.name, &uninstall_options(&obj.spec))
            .await
        {
            Ok(()) | Err(ferroflux_helm_action::Error::NotFound(_)) => {}
            Err(e) => {
                return Err(ReconcileError::transient(
                    names::UNINSTALL_FAILED,
                    Scrubbed::new(&format!(
                        "release {old} moved (release name, target or storage namespace changed) and uninstalling it failed: {e}"
                    )),
                ));
            }
        }
        self.publish(
            obj,
            Severity::Info,
            names::UNINSTALL_SUCCEEDED,
            &format!(
                "Helm uninstall succeeded for release {old}: the release name, target or storage namespace changed"
            ),
        )
        .await;
        status.history.clear();
        status.failures = None;
        status.install_failures = None;
        status.upgrade_failures = None;
        Ok(())
    }

    /// Rolls a failed upgrade back (or uninstalls, per `strategy`), or uninstalls a failed
    /// install; sets `Remediated`.
    async fn remediate(
        &self,
        obj: &HelmRelease,
        status: &mut HelmReleaseStatus,
        helm: &Helm,
        name: &str,
        action: Action,
        opts: &Options,
    ) -> Result<(), ReconcileError> {
        let spec = &obj.spec;
        let uninstall = action == Action::Install
            || spec
                .upgrade
                .as_ref()
                .and_then(|u| u.remediation.as_ref())
                .and_then(|r| r.strategy.as_deref())
                == Some("uninstall");
        let storage_ns = helm.storage().namespace().to_owned();
        let (ok_reason, failed_reason, result) = if uninstall {
            let result = helm
                .uninstall(name, &uninstall_options(spec))
                .await
                .map(|()| format!("Helm uninstall succeeded for release {storage_ns}/{name}"));
            (names::UNINSTALL_SUCCEEDED, names::UNINSTALL_FAILED, result)
        } else {
            let result = helm.rollback(name, 0, &rollback_options(spec, opts)).await.map(|rel| {
                format!(
                    "Helm rollback to previous release {storage_ns}/{name}.v{} with chart {} succeeded",
                    rel.version,
                    rel.chart_label()
                )
            });
            (names::ROLLBACK_SUCCEEDED, names::ROLLBACK_FAILED, result)
        };
        match result {
            Ok(message) => {
                conditions::set(
                    &mut status.conditions,
                    names::REMEDIATED,
                    true,
                    ok_reason,
                    &message,
                    obj.metadata.generation,
                );
                self.publish(obj, Severity::Info, ok_reason, &message).await;
                Ok(())
            }
            Err(e) => {
                let message =
                    format!("Helm remediation failed for release {storage_ns}/{name}: {e}");
                conditions::set(
                    &mut status.conditions,
                    names::REMEDIATED,
                    false,
                    failed_reason,
                    &message,
                    obj.metadata.generation,
                );
                self.publish(obj, Severity::Error, failed_reason, &message)
                    .await;
                // Published above; the runtime must not publish it a second time.
                let mut err = ReconcileError::transient(failed_reason, Scrubbed::new(&message));
                err.event = false;
                Err(err)
            }
        }
    }

    /// `install.createNamespace`, with the tenant's client (impersonation applies).
    async fn create_namespace(client: &Client, name: &str) -> Result<(), ReconcileError> {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(ReconcileError::transient(
                names::INSTALL_FAILED,
                Scrubbed::new(&format!("creating target namespace {name} failed: {e}")),
            )),
        }
    }

    /// The `.Capabilities` of the cluster `client` talks to (`remote`: its address, `None` for
    /// the controller's own), from the cache while fresh.
    async fn capabilities(
        &self,
        client: &Client,
        remote: Option<&String>,
    ) -> Result<Capabilities, ReconcileError> {
        let mut cached = self.capabilities.lock().await;
        let key = remote.cloned();
        if let Some((at, caps)) = cached.get(&key)
            && at.elapsed() < CAPABILITIES_TTL
        {
            return Ok(caps.clone());
        }
        // The controller's own rights discover its own cluster; a remote cluster is asked with
        // the tenant's credentials, the only ones there are.
        let discover = if remote.is_some() {
            client
        } else {
            &self.client
        };
        let caps = cluster::capabilities(discover).await.map_err(|e| {
            ReconcileError::transient(
                names::INIT_FAILED,
                Scrubbed::new(&format!(
                    "discovering the cluster's version and API versions (for .Capabilities) failed: {e}"
                )),
            )
        })?;
        cached.retain(|_, (at, _)| at.elapsed() < CAPABILITIES_TTL);
        cached.insert(key, (Instant::now(), caps.clone()));
        Ok(caps)
    }

    fn options(
        spec: &HelmReleaseSpec,
        name: &str,
        target: &str,
        values: Values,
        action: Action,
    ) -> Options {
        let mut opts = Options::new(name, target);
        opts.values = values;
        let timeout = spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(Duration::from_secs(300));
        opts.timeout = timeout;
        opts.max_history = usize::try_from(spec.max_history.unwrap_or(5)).unwrap_or(0);
        match action {
            Action::Install | Action::None => {
                let install = spec.install.clone().unwrap_or_default();
                opts.timeout = install
                    .timeout
                    .as_ref()
                    .and_then(|t| t.get().ok())
                    .unwrap_or(timeout);
                opts.disable_hooks = install.disable_hooks;
                opts.wait = !install.disable_wait;
                opts.wait_for_jobs = !install.disable_wait_for_jobs;
                opts.skip_schema_validation = install.disable_schema_validation;
                opts.take_ownership = !install.disable_take_ownership;
                opts.crds = if install.skip_crds {
                    CrdPolicy::Skip
                } else {
                    crd_policy(install.crds.as_deref(), CrdPolicy::Create)
                };
            }
            Action::Upgrade => {
                let upgrade = spec.upgrade.clone().unwrap_or_default();
                opts.timeout = upgrade
                    .timeout
                    .as_ref()
                    .and_then(|t| t.get().ok())
                    .unwrap_or(timeout);
                opts.disable_hooks = upgrade.disable_hooks;
                opts.wait = !upgrade.disable_wait;
                opts.wait_for_jobs = !upgrade.disable_wait_for_jobs;
                opts.skip_schema_validation = upgrade.disable_schema_validation;
                opts.take_ownership = !upgrade.disable_take_ownership;
                opts.cleanup_on_fail = upgrade.cleanup_on_fail;
                opts.force = upgrade.force;
                opts.crds = crd_policy(upgrade.crds.as_deref(), CrdPolicy::Skip);
            }
        }
        opts
    }
}

/// What the release needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    None,
    Install,
    Upgrade,
}

fn crd_policy(text: Option<&str>, default: CrdPolicy) -> CrdPolicy {
    match text {
        Some("Skip") => CrdPolicy::Skip,
        Some("Create") => CrdPolicy::Create,
        Some("CreateReplace") => CrdPolicy::CreateReplace,
        _ => default,
    }
}

/// The release name: `spec.releaseName`, else `[<targetNamespace>-]<name>`, shortened past
/// 53 characters to 40 characters, a dash and 12 hex digits of its SHA-256, as Flux does.
#[must_use]
pub fn release_name(obj: &HelmRelease) -> String {
    let full = match (&obj.spec.release_name, &obj.spec.target_namespace) {
        (Some(n), _) if !n.is_empty() => n.clone(),
        (_, Some(ns)) if !ns.is_empty() => format!("{ns}-{}", obj.name_any()),
        _ => obj.name_any(),
    };
    if full.len() <= MAX_RELEASE_NAME {
        return full;
    }
    let hex = values::sha256_hex(full.as_bytes());
    let cut = full
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= MAX_RELEASE_NAME - 13)
        .last()
        .unwrap_or(0);
    format!("{}-{}", &full[..cut], &hex[..12])
}

/// Whether the deployed revision has the desired chart (name and version) and values (by
/// digest): when it does and it is the latest revision, the reconciler leaves the release alone.
#[must_use]
pub fn in_sync(deployed: &Release, chart_name: &str, chart_version: &str, digest: &str) -> bool {
    deployed
        .chart
        .as_ref()
        .is_some_and(|c| c.metadata.name == chart_name && c.metadata.version == chart_version)
        && values::digest(&deployed.config) == digest
}

/// Whether `status.history` records `deployed` as it is stored (same revision and digest):
/// a deployed revision it does not record (made by hand) is upgraded even when in sync.
#[must_use]
pub fn managed(status: &HelmReleaseStatus, deployed: &Release) -> bool {
    let seen = snapshot(deployed);
    // Digests recorded before they were taken over the JSON: over the stored encoding, whose
    // gzip bytes depend on the compression backend the binary was built with.
    let legacy = release::encode(deployed)
        .map(|encoded| format!("sha256:{}", values::sha256_hex(encoded.as_bytes())))
        .unwrap_or_default();
    status.history.iter().any(|s| {
        s.name == seen.name
            && s.version == seen.version
            && (s.digest == seen.digest || s.digest == legacy)
    })
}

/// A rollback's options: `spec.rollback`'s (timeout, hooks, wait, force), the release's
/// name, namespace and history limit from `opts`.
fn rollback_options(spec: &HelmReleaseSpec, opts: &Options) -> Options {
    let rollback = spec.rollback.clone().unwrap_or_default();
    let mut out = Options::new(&opts.name, &opts.namespace);
    out.max_history = opts.max_history;
    out.timeout = rollback
        .timeout
        .as_ref()
        .and_then(|t| t.get().ok())
        .or_else(|| spec.timeout.as_ref().and_then(|t| t.get().ok()))
        .unwrap_or(Duration::from_secs(300));
    out.disable_hooks = rollback.disable_hooks;
    out.wait = !rollback.disable_wait;
    out.wait_for_jobs = !rollback.disable_wait_for_jobs;
    out.force = rollback.force || rollback.recreate;
    out.cleanup_on_fail = rollback.cleanup_on_fail;
    out.health_checks = std::sync::Arc::clone(&opts.health_checks);
    out
}

/// An uninstall's `(keepHistory, disableHooks, timeout)` from `spec.uninstall`.
fn uninstall_options(spec: &HelmReleaseSpec) -> Uninstall {
    let uninstall = spec.uninstall.clone().unwrap_or_default();
    let timeout = uninstall
        .timeout
        .as_ref()
        .and_then(|t| t.get().ok())
        .or_else(|| spec.timeout.as_ref().and_then(|t| t.get().ok()))
        .unwrap_or(Duration::from_secs(300));
    // The API's enum admits only these; `reconcile_supported` refuses anything else.
    let propagation = match uninstall.deletion_propagation.as_deref() {
        Some("foreground") => PropagationPolicy::Foreground,
        Some("orphan") => PropagationPolicy::Orphan,
        _ => PropagationPolicy::Background,
    };
    Uninstall {
        keep_history: uninstall.keep_history,
        disable_hooks: uninstall.disable_hooks,
        timeout,
        propagation,
    }
}

/// `RetryOnFailure`'s delay for the action, if that is its strategy.
fn retry_on_failure(spec: &HelmReleaseSpec, action: Action) -> Option<Duration> {
    let (name, interval) = match action {
        Action::Install => spec
            .install
            .as_ref()
            .and_then(|i| i.strategy.as_ref())
            .map(|s| (s.name.as_str(), s.retry_interval.as_ref()))?,
        Action::Upgrade => spec
            .upgrade
            .as_ref()
            .and_then(|u| u.strategy.as_ref())
            .map(|s| (s.name.as_str(), s.retry_interval.as_ref()))?,
        Action::None => return None,
    };
    (name == "RetryOnFailure").then(|| {
        interval
            .and_then(|i| i.get().ok())
            .unwrap_or(Duration::from_secs(300))
    })
}

/// The configured retries of the action's remediation (negative: unlimited) and whether the
/// last failure is remediated once they run out.
fn retries(spec: &HelmReleaseSpec, action: Action) -> (i64, bool) {
    match action {
        Action::Install => {
            let r = spec.install.as_ref().and_then(|i| i.remediation.as_ref());
            let retries = r.and_then(|r| r.retries).unwrap_or(0);
            let last = r
                .and_then(|r| r.remediate_last_failure)
                .unwrap_or(retries > 0);
            (retries, last)
        }
        Action::Upgrade => {
            let r = spec.upgrade.as_ref().and_then(|u| u.remediation.as_ref());
            let retries = r.and_then(|r| r.retries).unwrap_or(0);
            let last = r
                .and_then(|r| r.remediate_last_failure)
                .unwrap_or(retries > 0);
            (retries, last)
        }
        Action::None => (0, false),
    }
}

/// Whether the `count`-th failure of the action is remediated.
fn remediates(spec: &HelmReleaseSpec, action: Action, count: i64) -> bool {
    let (retries, last) = retries(spec, action);
    retries < 0 || count <= retries || last
}

/// Stalls when the action failed more times than its retries allow, for the same desired
/// state (the counters reset when the generation changes).
fn exhausted(
    status: &HelmReleaseStatus,
    spec: &HelmReleaseSpec,
    action: Action,
) -> Option<ReconcileError> {
    if retry_on_failure(spec, action).is_some() {
        return None;
    }
    let (retries, _) = retries(spec, action);
    let failures = match action {
        Action::Install => status.install_failures.unwrap_or(0),
        Action::Upgrade => status.upgrade_failures.unwrap_or(0),
        Action::None => 0,
    };
    (retries >= 0 && failures > retries).then(|| {
        let verb = if action == Action::Install {
            "install"
        } else {
            "upgrade"
        };
        ReconcileError::stalled(
            "RetriesExceeded",
            Scrubbed::new(&format!(
                "Failed to {verb} after {failures} attempt(s); change the HelmRelease (or request a reset) to try again"
            )),
        )
    })
}

/// `status.history`: the newest revisions first, at most [`MAX_SNAPSHOTS`].
fn update_history(status: &mut HelmReleaseStatus, history: &[Release]) {
    status.history = history
        .iter()
        .rev()
        .take(MAX_SNAPSHOTS)
        .map(snapshot)
        .collect();
}

fn time(text: &str) -> Time {
    Time(text.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH))
}

fn snapshot(rel: &Release) -> Snapshot {
    let info = rel.info.clone().unwrap_or_default();
    let (chart_name, chart_version, app_version) = rel.chart.as_ref().map_or_else(
        || (String::new(), String::new(), None),
        |c| {
            (
                c.metadata.name.clone(),
                c.metadata.version.clone(),
                (!c.metadata.app_version.is_empty()).then(|| c.metadata.app_version.clone()),
            )
        },
    );
    // Over the release's JSON, as Flux's digest is: the same release has the same digest in
    // every process, whatever gzip implementation stored it.
    let json = serde_json::to_vec(rel).unwrap_or_default();
    Snapshot {
        api_version: Some("v2".to_owned()),
        action: None,
        digest: format!("sha256:{}", values::sha256_hex(&json)),
        name: rel.name.clone(),
        namespace: rel.namespace.clone(),
        version: i64::from(rel.version),
        status: rel.status().as_str().to_owned(),
        chart_name,
        chart_version,
        app_version,
        config_digest: values::digest(&rel.config),
        first_deployed: time(&info.first_deployed),
        last_deployed: time(&info.last_deployed),
        deleted: (!info.deleted.is_empty()).then(|| time(&info.deleted)),
        test_hooks: test_hooks(rel),
        oci_digest: None,
    }
}

/// Whether `test.filters` let the test hook `hook` run: not excluded, and among the included
/// names when any is.
fn test_selected(test: &ferroflux_api::helm::Test, hook: &str) -> bool {
    let filters = test.filters.as_deref().unwrap_or_default();
    let mut included = filters.iter().filter(|f| !f.exclude).peekable();
    let listed = included.peek().is_some();
    !filters.iter().any(|f| f.exclude && f.name == hook)
        && (!listed || included.any(|f| f.name == hook))
}

/// Whether `deployed` still needs its tests run: a selected test hook that never ran, or one
/// that failed while failures are not ignored.
fn needs_tests(spec: &HelmReleaseSpec, deployed: &Release) -> bool {
    let Some(test) = spec.test.as_ref().filter(|t| t.enable) else {
        return false;
    };
    let ignored = spec
        .upgrade
        .as_ref()
        .and_then(|u| u.remediation.as_ref())
        .and_then(|r| r.ignore_test_failures)
        .unwrap_or(test.ignore_failures);
    deployed
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test") && test_selected(test, &h.name))
        .any(|h| h.last_run.phase.is_empty() || (h.last_run.phase != "Succeeded" && !ignored))
}

/// Sets `TestSuccess` from the test runs recorded in `rel` (the hooks `test.filters` select).
fn tested(obj: &HelmRelease, status: &mut HelmReleaseStatus, storage_ns: &str, rel: &Release) {
    let Some(test) = obj.spec.test.as_ref() else {
        return;
    };
    let selected: Vec<&release::Hook> = rel
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test") && test_selected(test, &h.name))
        .collect();
    let release = format!("{storage_ns}/{}.v{}", rel.name, rel.version);
    let chart = rel.chart_label();
    let failed: Vec<&str> = selected
        .iter()
        .filter(|h| h.last_run.phase != "Succeeded")
        .map(|h| h.name.as_str())
        .collect();
    let (ok, reason, message) = if failed.is_empty() {
        (
            true,
            TEST_SUCCEEDED,
            format!(
                "Helm test succeeded for release {release} with chart {chart}: {} test hook(s) completed successfully",
                selected.len()
            ),
        )
    } else {
        (
            false,
            TEST_FAILED,
            format!(
                "Helm test failed for release {release} with chart {chart}: {} failed (failures ignored)",
                failed.join(", ")
            ),
        )
    };
    conditions::set(
        &mut status.conditions,
        names::TEST_SUCCESS,
        ok,
        reason,
        &message,
        obj.metadata.generation,
    );
}

/// The test hooks that ran on `rel`, by name, as Flux's snapshot records them; `None` when no
/// test ran.
fn test_hooks(
    rel: &Release,
) -> Option<std::collections::BTreeMap<String, ferroflux_api::helm::TestHookStatus>> {
    let ran: std::collections::BTreeMap<_, _> = rel
        .hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == "test") && !h.last_run.phase.is_empty())
        .map(|h| {
            let at = |t: &str| (!t.is_empty()).then(|| time(t));
            (
                h.name.clone(),
                ferroflux_api::helm::TestHookStatus {
                    last_started: at(&h.last_run.started_at),
                    last_completed: at(&h.last_run.completed_at),
                    phase: Some(h.last_run.phase.clone()),
                },
            )
        })
        .collect();
    (!ran.is_empty()).then_some(ran)
}

/// Refuses, by name, the spec fields this controller does not implement yet.
///
/// # Errors
/// Stalled `UnsupportedConfiguration` naming the field.
pub fn reconcile_supported(spec: &HelmReleaseSpec) -> Result<(), ReconcileError> {
    let unsupported = [
        (
            "spec.postRenderStrategy other than nohooks",
            spec.post_render_strategy
                .as_deref()
                .is_some_and(|p| p != "nohooks"),
        ),
        (
            "spec.chart.spec.verify",
            spec.chart.as_ref().is_some_and(|c| c.spec.verify.is_some()),
        ),
        (
            "spec.upgrade.chartNameChangeStrategy",
            spec.upgrade
                .as_ref()
                .is_some_and(|u| u.chart_name_change_strategy.is_some()),
        ),
        (
            "spec.uninstall.deletionPropagation other than background, foreground or orphan",
            spec.uninstall.as_ref().is_some_and(|u| {
                u.deletion_propagation
                    .as_deref()
                    .is_some_and(|p| !["background", "foreground", "orphan"].contains(&p))
            }),
        ),
        (
            "spec.waitStrategy.name: legacy",
            spec.wait_strategy
                .as_ref()
                .is_some_and(|w| w.name == "legacy"),
        ),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, used)| *used) {
        return Err(ReconcileError::stalled(
            names::UNSUPPORTED,
            Scrubbed::new(&format!(
                "{field} is not supported by this helm-controller yet; remove it to reconcile this HelmRelease"
            )),
        ));
    }
    for (i, rule) in ignore_rules(spec).iter().enumerate() {
        if let Some(Err(e)) = rule.target.as_ref().map(Target::check) {
            return Err(ReconcileError::stalled(
                names::INVALID_DRIFT_IGNORE_RULE,
                Scrubbed::new(&format!(
                    "spec.driftDetection.ignore[{i}].target.{e}; fix the selector"
                )),
            ));
        }
    }
    Ok(())
}

/// `spec.driftDetection.ignore` as helm-action's rules.
fn ignore_rules(spec: &HelmReleaseSpec) -> Vec<IgnoreRule> {
    spec.drift_detection
        .iter()
        .flat_map(|d| &d.ignore)
        .map(|rule| IgnoreRule {
            paths: rule.paths.clone(),
            target: rule.target.as_ref().map(|t| Target {
                group: t.group.clone(),
                version: t.version.clone(),
                kind: t.kind.clone(),
                namespace: t.namespace.clone(),
                name: t.name.clone(),
                label_selector: t.label_selector.clone(),
                annotation_selector: t.annotation_selector.clone(),
            }),
        })
        .collect()
}

impl Reconciler<HelmRelease> for HelmReleaseReconciler {
    async fn reconcile(
        &self,
        obj: Arc<HelmRelease>,
        status: &mut HelmReleaseStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj.spec)?;
        // An expression that does not parse stalls the HelmRelease before anything else.
        ferroflux_runtime::cel::health_checks(&obj.spec.health_check_exprs)?;
        if status.last_attempted_generation != obj.metadata.generation {
            // A new desired state: the failure counters start again.
            status.failures = None;
            status.install_failures = None;
            status.upgrade_failures = None;
        }
        status.last_attempted_generation = obj.metadata.generation;
        self.reconcile_dependencies(&obj).await?;
        let loaded = self.reconcile_chart(&obj, status).await?;
        let composed = self.reconcile_values(&obj, status).await?;
        self.reconcile_release(&obj, status, loaded, &composed)
            .await
    }

    async fn finalize(&self, obj: Arc<HelmRelease>) -> Result<(), ReconcileError> {
        // A suspended HelmRelease leaves its release, as in Flux.
        if obj.spec.suspend {
            return Ok(());
        }
        let own = obj.namespace().unwrap_or_default();
        let storage_ns = obj
            .spec
            .storage_namespace
            .clone()
            .unwrap_or_else(|| own.clone());
        let Some(tenant) = self
            .tenancy
            .deletion_client(
                &own,
                &obj.name_any(),
                obj.spec.service_account_name.as_deref(),
                obj.spec.kube_config.as_ref(),
            )
            .await
            .map_err(|e| e.into_reconcile_error(names::UNINSTALL_FAILED))?
        else {
            return chart::delete_template(&self.client, &obj)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::HELM_CHART_RECONCILIATION_FAILED,
                        Scrubbed::new(&e.to_string()),
                    )
                });
        };
        let helm = Helm::new(
            tenant.client,
            &storage_ns,
            Origin {
                group: GROUP.to_owned(),
                name: obj.name_any(),
                namespace: own,
            },
        );
        let name = release_name(&obj);
        match helm.uninstall(&name, &uninstall_options(&obj.spec)).await {
            Ok(()) | Err(ferroflux_helm_action::Error::NotFound(_)) => {}
            Err(e) => {
                return Err(ReconcileError::transient(
                    names::UNINSTALL_FAILED,
                    Scrubbed::new(&e.to_string()),
                ));
            }
        }
        chart::delete_template(&self.client, &obj)
            .await
            .map_err(|e| {
                ReconcileError::transient(
                    names::HELM_CHART_RECONCILIATION_FAILED,
                    Scrubbed::new(&e.to_string()),
                )
            })
    }

    fn ready_reason(&self, status: &HelmReleaseStatus) -> Option<String> {
        conditions::get(&status.conditions, names::RELEASED)
            .filter(|c| c.status == "True")
            .map(|c| c.reason.clone())
    }

    fn ready_message(&self, status: &HelmReleaseStatus) -> String {
        conditions::get(&status.conditions, names::RELEASED)
            .filter(|c| c.status == "True")
            .map(|c| c.message.clone())
            .or_else(|| {
                status.history.first().map(|s| {
                    format!(
                        "Helm release {}/{}.v{} with chart {}@{} is deployed",
                        status.storage_namespace.as_deref().unwrap_or_default(),
                        s.name,
                        s.version,
                        s.chart_name,
                        s.chart_version
                    )
                })
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_accepts_the_json_digest_and_the_legacy_encoded_one() {
        let rel = Release {
            name: "web".to_owned(),
            namespace: "apps".to_owned(),
            version: 3,
            ..Release::default()
        };
        let mut status = HelmReleaseStatus::default();
        assert!(!managed(&status, &rel));
        status.history = vec![snapshot(&rel)];
        assert!(managed(&status, &rel));
        let json = serde_json::to_vec(&rel).unwrap();
        assert_eq!(
            status.history[0].digest,
            format!("sha256:{}", values::sha256_hex(&json)),
            "the digest is taken over the JSON, not over gzip output"
        );
        let encoded = release::encode(&rel).unwrap();
        status.history[0].digest = format!("sha256:{}", values::sha256_hex(encoded.as_bytes()));
        assert!(
            managed(&status, &rel),
            "digests recorded before still count"
        );
        status.history[0].digest = "sha256:00".to_owned();
        assert!(!managed(&status, &rel));
        let mut other = rel.clone();
        other.version = 4;
        status.history = vec![snapshot(&rel)];
        assert!(!managed(&status, &other));
    }
}
