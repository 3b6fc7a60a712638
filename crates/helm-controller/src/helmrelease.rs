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

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroflux_api::helm::helmrelease::names;
use ferroflux_api::helm::{HelmRelease, HelmReleaseSpec, HelmReleaseStatus, Snapshot};
use ferroflux_artifact::fetch::HttpClient;
use ferroflux_helm::chart::Chart;
use ferroflux_helm::release::{self, Release, Status};
use ferroflux_helm::values::Values;
use ferroflux_helm_action::{CrdPolicy, Helm, Options, Origin};
use ferroflux_runtime::acl::{self, CrossNamespace};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt as _};

use crate::chart;
use crate::values::{self, Composed};

/// The API group whose labels mark the objects a HelmRelease applies.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";

/// Longest release name Helm accepts.
const MAX_RELEASE_NAME: usize = 53;

/// Revisions kept in `status.history`.
const MAX_SNAPSHOTS: usize = 5;

/// Reconciles HelmReleases.
pub struct HelmReleaseReconciler {
    client: Client,
    http: HttpClient,
    events: Option<Events>,
    cross_namespace: CrossNamespace,
    requeue_dependency: Duration,
}

impl HelmReleaseReconciler {
    /// A reconciler using `http` (from `ferroflux_tls`) for chart artifacts.
    #[must_use]
    pub fn new(client: Client, http: HttpClient) -> Self {
        Self {
            client,
            http,
            events: None,
            cross_namespace: CrossNamespace::Allowed,
            requeue_dependency: Duration::from_secs(5),
        }
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
        for dep in &obj.spec.depends_on {
            let ns = dep.namespace.clone().unwrap_or_else(|| own.clone());
            let found = Api::<HelmRelease>::namespaced(self.client.clone(), &ns)
                .get_opt(&dep.name)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::DEPENDENCY_NOT_READY,
                        Scrubbed::new(&e.to_string()),
                    )
                })?;
            let ready = found.as_ref().is_some_and(|d| {
                d.status.as_ref().is_some_and(|s| {
                    s.observed_generation == d.metadata.generation
                        && conditions::get(&s.conditions, "Ready")
                            .is_some_and(|c| c.status == "True")
                })
            });
            if !ready {
                return Err(ReconcileError::waiting(
                    self.requeue_dependency,
                    names::DEPENDENCY_NOT_READY,
                    Scrubbed::new(&format!(
                        "dependency '{ns}/{}' is not ready, retrying in {:?}",
                        dep.name, self.requeue_dependency
                    )),
                ));
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
        if obj.spec.chart.is_some() {
            chart::apply_template(&self.client, obj)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::HELM_CHART_RECONCILIATION_FAILED,
                        Scrubbed::new(&e.to_string()),
                    )
                })?;
            status.helm_chart = Some(format!("{}/{}", source.namespace, source.name));
        } else {
            status.helm_chart = None;
        }
        let artifact = chart::artifact(&self.client, &source)
            .await
            .map_err(|e| match e {
                chart::Error::NotFound { .. } | chart::Error::NotReady { .. } => {
                    ReconcileError::waiting(
                        self.requeue_dependency,
                        names::ARTIFACT_FAILED,
                        Scrubbed::new(&e.to_string()),
                    )
                }
                other => ReconcileError::transient(
                    names::ARTIFACT_FAILED,
                    Scrubbed::new(&other.to_string()),
                ),
            })?;
        let loaded = chart::load(&self.http, &artifact).await.map_err(|e| {
            let mut err =
                ReconcileError::transient(names::CHART_LOAD_ERROR, Scrubbed::new(&e.to_string()));
            err.event = true;
            err
        })?;
        status.last_attempted_revision = Some(loaded.metadata.version.clone());
        status.last_attempted_revision_digest = (source.kind == "OCIRepository")
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
        status.storage_namespace = Some(storage_ns.clone());
        let helm = Helm::new(
            self.client.clone(),
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

        if let Some(version) = helm
            .unlock_pending(&name)
            .await
            .map_err(|e| store_error(&e))?
        {
            let message =
                format!("release {storage_ns}/{name}.v{version} was left pending; marked failed");
            self.publish(obj, Severity::Error, "PendingRelease", &message)
                .await;
        }
        let history = helm
            .storage()
            .history(&name)
            .await
            .map_err(|e| store_error(&e))?;
        let digest = values::digest(&composed.values);
        let chart_version = loaded.metadata.version.clone();
        let chart_name = loaded.metadata.name.clone();
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.status() == Status::Deployed);
        let last = history.last();

        // Nothing deployed (never installed, uninstalled, or only failed installs): install.
        let action = match (last, deployed) {
            (Some(l), Some(d)) if l.status() != Status::Uninstalled => {
                if l.version == d.version && in_sync(d, &chart_name, &chart_version, &digest) {
                    Action::None
                } else {
                    Action::Upgrade
                }
            }
            _ => Action::Install,
        };

        let opts = Self::options(spec, &name, &target, composed.values.clone(), action);
        let started = Instant::now();
        let result = match action {
            Action::None => {
                update_history(status, &history);
                conditions::remove(&mut status.conditions, names::REMEDIATED);
                return Ok(Outcome::CONTINUE);
            }
            Action::Install => {
                if let Some(exhausted) = exhausted(status, spec, Action::Install) {
                    return Err(exhausted);
                }
                if spec.install.as_ref().is_some_and(|i| i.create_namespace) {
                    self.create_namespace(&target).await?;
                }
                status.last_attempted_release_action = Some("install".to_owned());
                helm.install(loaded, &opts).await
            }
            Action::Upgrade => {
                if let Some(exhausted) = exhausted(status, spec, Action::Upgrade) {
                    return Err(exhausted);
                }
                status.last_attempted_release_action = Some("upgrade".to_owned());
                helm.upgrade(loaded, &opts).await
            }
        };
        status.last_attempted_release_action_duration =
            Some(format!("{:.3}s", started.elapsed().as_secs_f64()));
        let history_now = helm
            .storage()
            .history(&name)
            .await
            .map_err(|e| store_error(&e))?;
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
                update_history(status, &history_now);
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
            let keep = spec.uninstall.as_ref().is_some_and(|u| u.keep_history);
            let result = helm
                .uninstall(name, keep, opts.disable_hooks, opts.timeout)
                .await
                .map(|()| format!("Helm uninstall succeeded for release {storage_ns}/{name}"));
            (names::UNINSTALL_SUCCEEDED, names::UNINSTALL_FAILED, result)
        } else {
            let result = helm.rollback(name, 0, opts).await.map(|rel| {
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
                    true,
                    failed_reason,
                    &message,
                    obj.metadata.generation,
                );
                self.publish(obj, Severity::Error, failed_reason, &message)
                    .await;
                Err(ReconcileError::transient(
                    failed_reason,
                    Scrubbed::new(&message),
                ))
            }
        }
    }

    async fn create_namespace(&self, name: &str) -> Result<(), ReconcileError> {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match Api::<Namespace>::all(self.client.clone())
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
    let encoded = release::encode(rel).unwrap_or_default();
    Snapshot {
        api_version: Some("v2".to_owned()),
        action: None,
        digest: format!("sha256:{}", values::sha256_hex(encoded.as_bytes())),
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
        test_hooks: None,
        oci_digest: None,
    }
}

/// Refuses, by name, the spec fields this controller does not implement yet.
///
/// # Errors
/// Stalled `UnsupportedConfiguration` naming the field.
pub fn reconcile_supported(spec: &HelmReleaseSpec) -> Result<(), ReconcileError> {
    let unsupported = [
        ("spec.kubeConfig", spec.kube_config.is_some()),
        (
            "spec.serviceAccountName",
            spec.service_account_name.is_some(),
        ),
        ("spec.postRenderers", !spec.post_renderers.is_empty()),
        (
            "spec.driftDetection",
            spec.drift_detection
                .as_ref()
                .is_some_and(|d| d.mode.as_deref().is_some_and(|m| m != "disabled")),
        ),
        ("spec.test", spec.test.as_ref().is_some_and(|t| t.enable)),
        ("spec.commonMetadata", spec.common_metadata.is_some()),
        ("spec.healthCheckExprs", !spec.health_check_exprs.is_empty()),
        (
            "spec.chart.spec.verify",
            spec.chart.as_ref().is_some_and(|c| c.spec.verify.is_some()),
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
    Ok(())
}

impl Reconciler<HelmRelease> for HelmReleaseReconciler {
    async fn reconcile(
        &self,
        obj: Arc<HelmRelease>,
        status: &mut HelmReleaseStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj.spec)?;
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
        let helm = Helm::new(
            self.client.clone(),
            &storage_ns,
            Origin {
                group: GROUP.to_owned(),
                name: obj.name_any(),
                namespace: own,
            },
        );
        let name = release_name(&obj);
        let uninstall = obj.spec.uninstall.clone().unwrap_or_default();
        let timeout = uninstall
            .timeout
            .as_ref()
            .or(obj.spec.timeout.as_ref())
            .and_then(|t| t.get().ok())
            .unwrap_or(Duration::from_secs(300));
        match helm
            .uninstall(
                &name,
                uninstall.keep_history,
                uninstall.disable_hooks,
                timeout,
            )
            .await
        {
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
