//! The Kustomization reconciler: fetch the source's artifact, build the
//! path, apply it, record the inventory and prune what left it.
//!
//! Sub-reconcilers, in order:
//! 0. [`reconcile_supported`]: refuses spec fields not implemented yet, by
//!    name, rather than ignoring them. Stalls with `UnsupportedConfiguration`.
//! 1. [`KustomizationReconciler::reconcile_source`]: resolves `spec.sourceRef`
//!    (a GitRepository) and its artifact; waits with `ArtifactFailed` while
//!    there is none. Sets `status.lastAttemptedRevision`.
//! 2. [`KustomizationReconciler::reconcile_build`]: downloads and verifies the
//!    artifact into a temporary directory (always removed), prepares
//!    `spec.path` as Flux does and builds it. Fails with `ArtifactFailed` or
//!    `BuildFailed`; the objects of the last good revision stay as they are.
//!    [`KustomizationReconciler::reconcile_substitute`] then runs
//!    `spec.postBuild` substitution (`BuildFailed` naming the object and the
//!    variable).
//! 3. [`KustomizationReconciler::reconcile_apply`]: normalises the objects and
//!    server-side applies them in stages. Fails with `ReconciliationFailed`.
//!    Sets `status.inventory`.
//! 4. [`KustomizationReconciler::reconcile_prune`]: with `spec.prune`, deletes
//!    what left the inventory. Fails with `PruneFailed`.
//!
//! 5. [`KustomizationReconciler::reconcile_health`]: with `spec.wait` or
//!    `spec.healthChecks`, waits up to `spec.timeout` for the objects to be
//!    ready. Sets `Healthy`; fails with `HealthCheckFailed`.
//!
//! Before step 1's download, [`KustomizationReconciler::reconcile_dependencies`]
//! waits (`DependencyNotReady`) until every `spec.dependsOn` Kustomization is
//! Ready.
//!
//! Then `status.lastAppliedRevision` is set and Ready says `Applied revision:
//! <revision>`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferroflux_api::kustomize::{
    Kustomization, KustomizationSpec, KustomizationStatus, ResourceInventory, ResourceRef,
};
use ferroflux_api::meta::Artifact;
use ferroflux_artifact::fetch::{self, HttpClient};
use ferroflux_runtime::acl::{self, CrossNamespace};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::scrub::Scrubbed;
use ferroflux_runtime::tenant::{KubeConfigPolicy, Tenancy};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client, ResourceExt as _};
use serde_json::Value;

use ferroflux_ssa::apply::{self, Action, Applier, Change, ObjectId};
use ferroflux_ssa::health;

use ferroflux_kustomization::owner::{self, normalize_all};
use ferroflux_kustomization::{generate, substitute};

use crate::sources;

/// Flux's reason and condition names for Kustomizations.
pub mod names {
    /// The source or its artifact is missing, or the download failed.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The path could not be built.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// An object could not be applied.
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// An object could not be pruned.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// The objects did not become ready in time.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// A new source revision stopped a health check.
    pub const HEALTH_CHECK_CANCELED: &str = "HealthCheckCanceled";
    /// A `dependsOn` Kustomization is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The condition saying whether the applied objects are ready.
    pub const HEALTHY: &str = "Healthy";
    /// A spec field this controller does not implement yet.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
    /// The field manager of every apply.
    pub const FIELD_MANAGER: &str = "kustomize-controller";
}

/// Reconciles Kustomizations.
pub struct KustomizationReconciler {
    client: Client,
    http: HttpClient,
    events: Option<Events>,
    cross_namespace: CrossNamespace,
    requeue_dependency: Duration,
    tenancy: Tenancy,
}

impl KustomizationReconciler {
    /// A reconciler using `http` (from `ferroflux_tls`) for
    /// artifacts.
    #[must_use]
    pub fn new(client: Client, http: HttpClient) -> Self {
        Self {
            http,
            events: None,
            cross_namespace: CrossNamespace::Allowed,
            requeue_dependency: Duration::from_secs(30),
            tenancy: Tenancy::new(client.clone()),
            client,
        }
    }

    /// The ServiceAccount impersonated for Kustomizations that name none
    /// (Flux's `--default-service-account`): multi-tenant lock-down, so a
    /// tenant that leaves out `spec.serviceAccountName` gets that account's
    /// rights in its own namespace instead of the controller's. Needs
    /// [`Self::with_config`].
    #[must_use]
    pub fn with_default_service_account(mut self, account: Option<String>) -> Self {
        self.tenancy = self.tenancy.with_default_service_account(account);
        self
    }

    /// The controller's own client configuration, from which clients that
    /// impersonate a Kustomization's `spec.serviceAccountName` are made.
    #[must_use]
    pub fn with_config(mut self, config: kube::Config) -> Self {
        self.tenancy = self.tenancy.with_config(config);
        self
    }

    /// What the kubeconfigs of `spec.kubeConfig` may use
    /// (`--insecure-kubeconfig-exec`, `--insecure-kubeconfig-tls`).
    #[must_use]
    pub fn with_kubeconfig_policy(mut self, policy: KubeConfigPolicy) -> Self {
        self.tenancy = self.tenancy.with_kubeconfig_policy(policy);
        self
    }

    /// The client that applies, prunes and checks health for `obj`: one for
    /// the remote cluster of `spec.kubeConfig`, else the controller's own or
    /// one impersonating `spec.serviceAccountName` (or the default account)
    /// in the Kustomization's namespace (multi-tenancy: the objects are then
    /// limited to what that ServiceAccount may do). See
    /// [`ferroflux_runtime::tenant`].
    async fn tenant_client(&self, obj: &Kustomization) -> Result<Client, ReconcileError> {
        self.tenancy
            .client(
                &obj.namespace().unwrap_or_default(),
                obj.spec.service_account_name.as_deref(),
                obj.spec.kube_config.as_ref(),
            )
            .await
            .map(|tenant| tenant.client)
            .map_err(|e| e.into_reconcile_error(names::RECONCILIATION_FAILED))
    }

    /// Publishes change-set events through `events`.
    #[must_use]
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// `--no-cross-namespace-refs`.
    #[must_use]
    pub fn with_cross_namespace(mut self, policy: CrossNamespace) -> Self {
        self.cross_namespace = policy;
        self
    }

    /// `--requeue-dependency`: how soon a Kustomization waiting for its
    /// source's artifact looks again.
    #[must_use]
    pub fn with_requeue_dependency(mut self, after: Duration) -> Self {
        self.requeue_dependency = after;
        self
    }

    /// Step 0b: every `dependsOn` Kustomization is Ready at its latest
    /// generation (and, when it uses the same source, has applied the same
    /// revision). Waits with `DependencyNotReady` otherwise.
    async fn reconcile_dependencies(
        &self,
        obj: &Kustomization,
        artifact: &Artifact,
    ) -> Result<(), ReconcileError> {
        let own_ns = obj.namespace().unwrap_or_default();
        let expressions = ferroflux_runtime::cel::ready_expressions(&obj.spec.depends_on)?;
        for (dep, expression) in obj.spec.depends_on.iter().zip(&expressions) {
            let ns = dep.namespace.clone().unwrap_or_else(|| own_ns.clone());
            acl::check_reference(
                self.cross_namespace,
                "spec.dependsOn",
                &own_ns,
                dep.namespace.as_deref(),
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
            let Some(other) = Api::<Kustomization>::namespaced(self.client.clone(), &ns)
                .get_opt(&dep.name)
                .await
                .map_err(|e| {
                    ReconcileError::transient(
                        names::DEPENDENCY_NOT_READY,
                        Scrubbed::new(&e.to_string()),
                    )
                })?
            else {
                return Err(waiting("not found"));
            };
            // `readyExpr` replaces the built-in check, as in Flux.
            if let Some(expression) = expression {
                ferroflux_runtime::cel::dependency_ready(expression, obj, &other)
                    .map_err(|why| waiting(&why))?;
                continue;
            }
            let status = other.status.clone().unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if !ready || status.observed_generation != other.metadata.generation {
                return Err(waiting("is not ready"));
            }
            let same_source = other.spec.source_ref.kind == obj.spec.source_ref.kind
                && other.spec.source_ref.name == obj.spec.source_ref.name
                && other
                    .spec
                    .source_ref
                    .namespace
                    .clone()
                    .unwrap_or_else(|| ns.clone())
                    == obj
                        .spec
                        .source_ref
                        .namespace
                        .clone()
                        .unwrap_or_else(|| own_ns.clone());
            if same_source && status.last_applied_revision.as_deref() != Some(&artifact.revision) {
                return Err(waiting("has not applied this revision yet"));
            }
        }
        Ok(())
    }

    /// Step 5: with `spec.wait` (every applied object) or
    /// `spec.healthChecks`, waits until the objects are ready, up to
    /// `spec.timeout`. Sets `Healthy`; fails with `HealthCheckFailed`.
    ///
    /// A new artifact of the source cancels the wait: the Kustomization is
    /// reconciled again at once with the new revision, as in Flux.
    async fn reconcile_health(
        &self,
        obj: &Kustomization,
        applier: &Applier,
        artifact: &Artifact,
        changes: &[Change],
        checks: &[health::CustomCheck],
        status: &mut KustomizationStatus,
    ) -> Result<(), ReconcileError> {
        let ids = health_targets(obj, changes);
        let generation = obj.metadata.generation;
        if ids.is_empty() {
            conditions::remove(&mut status.conditions, names::HEALTHY);
            return Ok(());
        }
        let timeout = timeout(&obj.spec);
        let started = tokio::time::Instant::now();
        loop {
            if let Some(newer) = self.newer_revision(obj, artifact).await {
                conditions::remove(&mut status.conditions, names::HEALTHY);
                return Err(ReconcileError::waiting(
                    Duration::from_millis(100),
                    names::HEALTH_CHECK_CANCELED,
                    Scrubbed::new(&format!(
                        "health check canceled: the source has a new revision, {newer}"
                    )),
                ));
            }
            let mut waiting = Vec::new();
            let mut failed = false;
            for id in &ids {
                let state = match applier.get(id).await {
                    Ok(Some(live)) => health::status_with(&live, checks),
                    Ok(None) => health::Status::InProgress("not found".into()),
                    Err(e) => health::Status::InProgress(e.to_string()),
                };
                match &state {
                    health::Status::Current => {}
                    health::Status::InProgress(why) | health::Status::Failed(why) => {
                        failed |= matches!(state, health::Status::Failed(_));
                        waiting.push(format!("{id} status: '{}': {why}", state.name()));
                    }
                }
            }
            let elapsed = started.elapsed();
            if waiting.is_empty() {
                conditions::set(
                    &mut status.conditions,
                    names::HEALTHY,
                    true,
                    conditions::reason::SUCCEEDED,
                    &format!("Health check passed in {elapsed:.1?}"),
                    generation,
                );
                return Ok(());
            }
            if failed || elapsed >= timeout {
                let what = if failed {
                    "failed early"
                } else {
                    "timeout waiting for"
                };
                let message = format!(
                    "health check failed after {elapsed:.1?}: {what}: [{}]",
                    waiting.join(", ")
                );
                conditions::set(
                    &mut status.conditions,
                    names::HEALTHY,
                    false,
                    names::HEALTH_CHECK_FAILED,
                    &message,
                    generation,
                );
                let mut err =
                    ReconcileError::transient(names::HEALTH_CHECK_FAILED, Scrubbed::new(&message));
                err.event = true;
                return Err(err);
            }
            // Polling the API server: readiness has no single event to await.
            tokio::time::sleep(HEALTH_POLL.min(timeout.saturating_sub(elapsed))).await;
        }
    }

    /// The source's current revision when it is no longer `artifact`'s.
    async fn newer_revision(&self, obj: &Kustomization, artifact: &Artifact) -> Option<String> {
        let source = &obj.spec.source_ref;
        let ns = source
            .namespace
            .clone()
            .or_else(|| obj.namespace())
            .unwrap_or_default();
        let current = sources::artifact(&self.client, &source.kind, &ns, &source.name)
            .await
            .ok()???;
        (current.digest != artifact.digest).then_some(current.revision)
    }

    /// Step 1: the source's artifact.
    async fn reconcile_source(
        &self,
        obj: &Kustomization,
        status: &mut KustomizationStatus,
    ) -> Result<Artifact, ReconcileError> {
        let own_ns = obj.namespace().unwrap_or_default();
        let source = &obj.spec.source_ref;
        let ns = source.namespace.clone().unwrap_or_else(|| own_ns.clone());
        acl::check_reference(
            self.cross_namespace,
            "spec.sourceRef",
            &own_ns,
            source.namespace.as_deref(),
        )?;
        let waiting = |message: String| {
            ReconcileError::waiting(
                self.requeue_dependency,
                names::ARTIFACT_FAILED,
                Scrubbed::new(&message),
            )
        };
        let artifact = sources::artifact(&self.client, &source.kind, &ns, &source.name)
            .await
            .map_err(|e| {
                ReconcileError::transient(names::ARTIFACT_FAILED, Scrubbed::new(&e.to_string()))
            })?
            .ok_or_else(|| {
                waiting(format!(
                    "{} {ns}/{} not found, retrying in {:?}",
                    source.kind, source.name, self.requeue_dependency
                ))
            })?
            .filter(|a| a.digest.is_some())
            .ok_or_else(|| {
                waiting(format!(
                    "Source artifact not found, retrying in {:?}",
                    self.requeue_dependency
                ))
            })?;
        status.last_attempted_revision = Some(artifact.revision.clone());
        Ok(artifact)
    }

    /// Step 2: download, verify, prepare and build.
    async fn reconcile_build(
        &self,
        obj: &Kustomization,
        artifact: &Artifact,
    ) -> Result<Vec<Value>, ReconcileError> {
        let tmp = tempfile::tempdir().map_err(|e| {
            ReconcileError::transient(names::ARTIFACT_FAILED, Scrubbed::new(&e.to_string()))
        })?;
        let digest = artifact.digest.as_deref().unwrap_or_default();
        fetch::fetch(
            &self.http,
            &artifact.url,
            digest,
            tmp.path(),
            fetch::Options::default(),
        )
        .await
        .map_err(|e| {
            ReconcileError::transient(
                names::ARTIFACT_FAILED,
                Scrubbed::new(&format!("artifact of revision {}: {e}", artifact.revision)),
            )
        })?;
        let keys = self.decryption_keys(obj).await?;
        let spec = obj.spec.clone();
        let root = tmp.path().to_path_buf();
        let built = tokio::task::spawn_blocking(move || {
            generate::build_decrypting(&root, &spec, keys.as_ref())
        })
        .await
        .map_err(|e| {
            ReconcileError::transient(names::BUILD_FAILED, Scrubbed::new(&e.to_string()))
        })?;
        // The temporary directory goes here, whatever the outcome, off the
        // async threads (an artifact may hold many files).
        let _ = tokio::task::spawn_blocking(move || drop(tmp)).await;
        built.map_err(|e| {
            let mut err =
                ReconcileError::transient(names::BUILD_FAILED, Scrubbed::new(&e.to_string()));
            err.event = true;
            err
        })
    }

    /// The keys of `spec.decryption.secretRef`, read at each reconcile
    /// (`*.agekey` age identities, `*.asc` PGP private keys). A missing
    /// Secret fails the build (`BuildFailed`) naming it; nothing is applied.
    async fn decryption_keys(
        &self,
        obj: &Kustomization,
    ) -> Result<Option<ferroflux_sops::Keys>, ReconcileError> {
        let Some(decryption) = &obj.spec.decryption else {
            return Ok(None);
        };
        let failed = |message: String| {
            let mut err = ReconcileError::transient(names::BUILD_FAILED, Scrubbed::new(&message));
            err.event = true;
            err
        };
        let Some(reference) = &decryption.secret_ref else {
            return Ok(Some(ferroflux_sops::Keys::new()));
        };
        let ns = obj.namespace().unwrap_or_default();
        let secret = Api::<Secret>::namespaced(self.client.clone(), &ns)
            .get_opt(&reference.name)
            .await
            .map_err(|e| failed(format!("decryption Secret {ns}/{}: {e}", reference.name)))?
            .ok_or_else(|| {
                failed(format!(
                    "decryption Secret {ns}/{} not found; create it with the age (*.agekey) or PGP (*.asc) private keys",
                    reference.name
                ))
            })?;
        let data = secret.data.unwrap_or_default();
        ferroflux_sops::Keys::from_entries(data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())))
            .map(Some)
            .map_err(|e| failed(format!("decryption Secret {ns}/{}: {e}", reference.name)))
    }

    /// Step 2b: `spec.postBuild` substitution, variables from
    /// `substituteFrom` (in order, later ones winning) then `substitute`.
    ///
    /// Returns the values read from Secrets, which no message may show.
    async fn reconcile_substitute(
        &self,
        obj: &Kustomization,
        objects: &mut [Value],
    ) -> Result<Vec<String>, ReconcileError> {
        let Some(post_build) = &obj.spec.post_build else {
            return Ok(Vec::new());
        };
        let mut secret_values: Vec<String> = Vec::new();
        let failed = |message: String, secrets: &[String]| {
            let mut err = ReconcileError::transient(names::BUILD_FAILED, hide(&message, secrets));
            err.event = true;
            err
        };
        let ns = obj.namespace().unwrap_or_default();
        let mut vars = BTreeMap::new();
        for reference in &post_build.substitute_from {
            let what = format!("substituteFrom {}/{}", reference.kind, reference.name);
            let data: Option<BTreeMap<String, String>> = match reference.kind.as_str() {
                "ConfigMap" => Api::<ConfigMap>::namespaced(self.client.clone(), &ns)
                    .get_opt(&reference.name)
                    .await
                    .map_err(|e| failed(format!("{what}: {e}"), &[]))?
                    .map(|cm| cm.data.unwrap_or_default()),
                "Secret" => Api::<Secret>::namespaced(self.client.clone(), &ns)
                    .get_opt(&reference.name)
                    .await
                    .map_err(|e| failed(format!("{what}: {e}"), &[]))?
                    .map(|secret| {
                        let data: BTreeMap<String, String> = secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect();
                        secret_values.extend(data.values().cloned());
                        data
                    }),
                other => {
                    return Err(ReconcileError::stalled(
                        names::BUILD_FAILED,
                        Scrubbed::new(&format!(
                            "spec.postBuild.substituteFrom kind '{other}' is neither ConfigMap nor Secret"
                        )),
                    ));
                }
            };
            match data {
                Some(data) => vars.extend(data),
                None if reference.optional => {}
                None => {
                    return Err(failed(
                        format!(
                            "{what} not found in namespace {ns}; create it or mark the reference optional"
                        ),
                        &[],
                    ));
                }
            }
        }
        vars.extend(post_build.substitute.clone().unwrap_or_default());
        // Values are single-line, as in Flux.
        for value in vars.values_mut() {
            value.retain(|c| c != '\n');
        }
        substitute::check_names(&vars)
            .map_err(|e| failed(format!("post build: {e}"), &secret_values))?;
        for o in objects.iter_mut() {
            let id = ObjectId::of(o);
            substitute::substitute_object(o, &vars).map_err(|e| {
                failed(format!("post build failed for '{id}': {e}"), &secret_values)
            })?;
        }
        // Also as they appear in messages once the newlines are gone.
        secret_values.retain(|v| !v.is_empty());
        let single_line: Vec<String> = secret_values.iter().map(|v| v.replace('\n', "")).collect();
        secret_values.extend(single_line);
        Ok(secret_values)
    }

    /// Step 3: normalise and apply; records the inventory.
    async fn reconcile_apply(
        &self,
        obj: &Kustomization,
        applier: &Applier,
        objects: &mut [Value],
        status: &mut KustomizationStatus,
    ) -> Result<Vec<Change>, ReconcileError> {
        let name = obj.name_any();
        let namespace = obj.namespace().unwrap_or_default();
        normalize_all(
            objects,
            (&name, &namespace),
            obj.spec.common_metadata.as_ref(),
        );
        let changes = applier
            .apply_all(objects, obj.spec.force)
            .await
            .map_err(|e| {
                let mut err = ReconcileError::transient(
                    names::RECONCILIATION_FAILED,
                    Scrubbed::new(&e.to_string()),
                );
                err.event = true;
                err
            })?;
        status.inventory = Some(ResourceInventory {
            entries: changes
                .iter()
                .map(|c| ResourceRef {
                    id: c.id.inventory_id(),
                    v: c.id.version.clone(),
                })
                .collect(),
        });
        Ok(changes)
    }

    /// Step 4: delete what left the inventory.
    ///
    /// When a delete fails, the stale objects go back into the inventory, so
    /// the next run tries again instead of forgetting them.
    async fn reconcile_prune(
        &self,
        obj: &Kustomization,
        applier: &Applier,
        previous: Option<&ResourceInventory>,
        current: &[Change],
        status: &mut KustomizationStatus,
    ) -> Result<Vec<Change>, ReconcileError> {
        if !obj.spec.prune {
            return Ok(Vec::new());
        }
        let kept: Vec<String> = current.iter().map(|c| c.id.inventory_id()).collect();
        let stale: Vec<ObjectId> = previous
            .map(|inv| inv.entries.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|e| !kept.contains(&e.id))
            .filter_map(|e| ObjectId::from_inventory(&e.id, &e.v))
            .collect();
        if stale.is_empty() {
            return Ok(Vec::new());
        }
        let mut stale = stale;
        apply::sort_ids(&mut stale);
        let name = obj.name_any();
        let namespace = obj.namespace().unwrap_or_default();
        applier
            .delete_all(&stale, (&name, &namespace))
            .await
            .map_err(|e| {
                if let Some(inventory) = status.inventory.as_mut() {
                    inventory.entries.extend(stale.iter().map(|id| ResourceRef {
                        id: id.inventory_id(),
                        v: id.version.clone(),
                    }));
                }
                let mut err =
                    ReconcileError::transient(names::PRUNE_FAILED, Scrubbed::new(&e.to_string()));
                err.event = true;
                err
            })
    }

    async fn publish(&self, obj: &Kustomization, changes: &[Change], revision: &str) {
        let lines: Vec<String> = changes
            .iter()
            .filter(|c| {
                matches!(
                    c.action,
                    Action::Created | Action::Configured | Action::Deleted
                )
            })
            .map(|c| format!("{} {}", c.id, c.action))
            .collect();
        if let (Some(events), false) = (&self.events, lines.is_empty()) {
            events
                .publish(
                    obj,
                    Severity::Info,
                    ferroflux_runtime::conditions::reason::PROGRESSING,
                    &Scrubbed::new(&lines.join("\n")),
                    Some(revision),
                )
                .await;
        }
    }
}

/// What `spec.wait` (every applied object but the Kustomization itself) or
/// `spec.healthChecks` (an empty apiVersion meaning `apps/v1`) asks to check.
fn health_targets(obj: &Kustomization, changes: &[Change]) -> Vec<ObjectId> {
    let own_ns = obj.namespace().unwrap_or_default();
    if obj.spec.wait {
        // Never the Kustomization itself: it is reconciling right now.
        changes
            .iter()
            .filter(|c| c.action != Action::Skipped)
            .filter(|c| {
                !(c.id.group == ferroflux_api::kustomize::GROUP
                    && c.id.kind == "Kustomization"
                    && c.id.namespace == own_ns
                    && c.id.name == obj.name_any())
            })
            .map(|c| c.id.clone())
            .collect()
    } else {
        obj.spec
            .health_checks
            .iter()
            .map(|r| {
                let api_version = r.api_version.as_deref().unwrap_or("apps/v1");
                let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
                ObjectId {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone().unwrap_or_else(|| own_ns.clone()),
                    name: r.name.clone(),
                }
            })
            .collect()
    }
}

/// `message` with every one of `secrets` masked.
fn hide(message: &str, secrets: &[String]) -> Scrubbed {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Scrubbed::with_secrets(message, &secrets)
}

/// `err` with every one of `secrets` masked in its message (the API
/// server's errors can quote the values of the objects applied).
fn hide_in(mut err: ReconcileError, secrets: &[String]) -> ReconcileError {
    if !secrets.is_empty() {
        err.message = hide(err.message.as_str(), secrets);
    }
    err
}

/// How often health checks look at the objects.
const HEALTH_POLL: Duration = Duration::from_secs(2);

/// `spec.timeout`, else the interval less 30 s, at least 30 s, as in Flux.
/// (The runtime refuses an invalid duration before the reconcile starts.)
fn timeout(spec: &KustomizationSpec) -> Duration {
    spec.timeout
        .as_ref()
        .and_then(|t| t.get().ok())
        .unwrap_or_else(|| {
            spec.interval
                .get()
                .unwrap_or_default()
                .saturating_sub(Duration::from_secs(30))
                .max(Duration::from_secs(30))
        })
}

/// Step 0: refuses the fields this controller does not implement yet.
///
/// # Errors
/// A stalled `UnsupportedConfiguration` naming every such field.
pub fn reconcile_supported(spec: &KustomizationSpec) -> Result<(), ReconcileError> {
    let mut fields = Vec::new();
    if !crate::sources::KINDS.contains(&spec.source_ref.kind.as_str()) {
        fields.push(format!("spec.sourceRef.kind {}", spec.source_ref.kind));
    }
    for (present, field) in [(
        spec.decryption
            .as_ref()
            .is_some_and(|d| d.provider != "sops"),
        "spec.decryption.provider (only sops)",
    )] {
        if present {
            fields.push(field.to_owned());
        }
    }
    if fields.is_empty() {
        return Ok(());
    }
    Err(ReconcileError::stalled(
        names::UNSUPPORTED,
        Scrubbed::new(&format!(
            "not supported by this kustomize-controller yet: {}",
            fields.join(", ")
        )),
    ))
}

impl Reconciler<Kustomization> for KustomizationReconciler {
    async fn reconcile(
        &self,
        obj: Arc<Kustomization>,
        status: &mut KustomizationStatus,
    ) -> Result<Outcome, ReconcileError> {
        reconcile_supported(&obj.spec)?;
        let checks = ferroflux_runtime::cel::health_checks(&obj.spec.health_check_exprs)?;
        let limit = timeout(&obj.spec);
        let applier = Applier::new(
            self.tenant_client(&obj).await?,
            names::FIELD_MANAGER,
            owner::owner(),
        );
        let mut secrets = Vec::new();
        // Everything before the health check within spec.timeout; the
        // health check has its own deadline of the same length.
        let outcome = tokio::time::timeout(limit, async {
            let artifact = self.reconcile_source(&obj, status).await?;
            self.reconcile_dependencies(&obj, &artifact).await?;
            let mut objects = self.reconcile_build(&obj, &artifact).await?;
            secrets = self.reconcile_substitute(&obj, &mut objects).await?;
            let previous = status.inventory.clone();
            let changes = self
                .reconcile_apply(&obj, &applier, &mut objects, status)
                .await?;
            let pruned = self
                .reconcile_prune(&obj, &applier, previous.as_ref(), &changes, status)
                .await?;
            self.publish(
                &obj,
                &changes.iter().chain(&pruned).cloned().collect::<Vec<_>>(),
                &artifact.revision,
            )
            .await;
            Ok((artifact, changes))
        })
        .await
        .unwrap_or_else(|_| {
            Err(ReconcileError::transient(
                names::RECONCILIATION_FAILED,
                Scrubbed::new(&format!(
                    "reconciliation did not finish within spec.timeout ({limit:?})"
                )),
            ))
        });
        let (artifact, changes) = outcome.map_err(|e| hide_in(e, &secrets))?;
        self.reconcile_health(&obj, &applier, &artifact, &changes, &checks, status)
            .await
            .map_err(|e| hide_in(e, &secrets))?;
        status.last_applied_revision = Some(artifact.revision);
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<Kustomization>) -> Result<(), ReconcileError> {
        let policy = obj.spec.deletion_policy.as_deref().unwrap_or("MirrorPrune");
        let delete = match policy {
            "Delete" | "WaitForTermination" => true,
            "MirrorPrune" => obj.spec.prune,
            _ => false,
        };
        // A suspended Kustomization leaves its objects, as in Flux.
        if !delete || obj.spec.suspend {
            return Ok(());
        }
        let ids: Vec<ObjectId> = obj
            .status
            .as_ref()
            .and_then(|s| s.inventory.as_ref())
            .map(|inv| inv.entries.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| ObjectId::from_inventory(&e.id, &e.v))
            .collect();
        let mut ids = ids;
        apply::sort_ids(&mut ids);
        let name = obj.name_any();
        let namespace = obj.namespace().unwrap_or_default();
        let Some(tenant) = self
            .tenancy
            .deletion_client(
                &namespace,
                &name,
                obj.spec.service_account_name.as_deref(),
                obj.spec.kube_config.as_ref(),
            )
            .await
            .map_err(|e| e.into_reconcile_error(names::PRUNE_FAILED))?
        else {
            return Ok(());
        };
        let applier = Applier::new(tenant.client, names::FIELD_MANAGER, owner::owner());
        let changes = applier
            .delete_all(&ids, (&name, &namespace))
            .await
            .map_err(|e| {
                ReconcileError::transient(names::PRUNE_FAILED, Scrubbed::new(&e.to_string()))
            })?;
        if policy != "WaitForTermination" {
            return Ok(());
        }
        // Only what was deleted now is waited for; skipped objects stay.
        let deleted: Vec<&ObjectId> = changes
            .iter()
            .filter(|c| c.action == Action::Deleted)
            .map(|c| &c.id)
            .collect();
        // An object that cannot be read counts as still there.
        let remaining = || async {
            let mut left = Vec::new();
            for id in &deleted {
                if !matches!(applier.get(id).await, Ok(None)) {
                    left.push(id.to_string());
                }
            }
            left
        };
        let gone = apply::poll_until(HEALTH_POLL, timeout(&obj.spec), || async {
            Ok(remaining().await.is_empty())
        })
        .await
        .unwrap_or(false);
        if !gone {
            // As in Flux: the Kustomization goes, and the wait is reported,
            // not retried forever.
            let left = remaining().await;
            tracing::warn!(objects = ?left, "deletion not finished within spec.timeout");
        }
        Ok(())
    }

    fn ready_message(&self, status: &KustomizationStatus) -> String {
        format!(
            "Applied revision: {}",
            status.last_applied_revision.as_deref().unwrap_or_default()
        )
    }
}
