//! Helm's release lifecycle against a cluster, as Helm's `pkg/action` runs it, for the
//! helm-controller and the CLI: [`Helm::install`], [`Helm::upgrade`], [`Helm::rollback`] and
//! [`Helm::uninstall`] render with `ferroflux-helm`, run the hooks ([`hooks`]), apply and delete
//! the release's objects with `ferroflux-ssa` ([`resources`]), and record every revision in
//! release Secrets ([`storage`]) that the reference `helm` reads and writes too: a release this
//! crate installed can be upgraded with `helm upgrade`, and the other way round. [`drift`]
//! compares a deployed release with the cluster and corrects it.
//!
//! Statuses move as Helm's do: a revision is written `pending-install`, `pending-upgrade` or
//! `pending-rollback` before anything is applied, then `deployed` (the previous one
//! `superseded`) or `failed` with Helm's description. Remediation (retries, rollback on a
//! failed upgrade) is the caller's policy, not this crate's.

pub mod cluster;
pub mod drift;
pub mod hooks;
pub mod resources;
pub mod storage;

use std::time::Duration;

use ferroflux_helm::action::{Notices, RenderOptions, Rendered};
use ferroflux_helm::chart::Chart;
use ferroflux_helm::engine::Release as RenderRelease;
use ferroflux_helm::release::{self, ChartRecord, Hook, Info, Release, Status};
use ferroflux_helm::values::Values;
use ferroflux_ssa::apply::{Applier, Owner};

pub use ferroflux_ssa::apply::PropagationPolicy;
pub use storage::Storage;

/// How [`Helm::uninstall`] uninstalls (`helm uninstall`'s flags).
#[derive(Clone, Debug)]
pub struct Uninstall {
    /// `--keep-history`: the latest revision stays, marked `uninstalled`.
    pub keep_history: bool,
    /// `--no-hooks`.
    pub disable_hooks: bool,
    /// How long each hook may take.
    pub timeout: Duration,
    /// `--cascade`: how the objects' dependents are deleted.
    pub propagation: PropagationPolicy,
}

impl Default for Uninstall {
    fn default() -> Self {
        Self {
            keep_history: false,
            disable_hooks: false,
            timeout: Duration::from_secs(300),
            propagation: PropagationPolicy::Background,
        }
    }
}

/// The field manager objects are applied with: Helm's own, so that `helm upgrade` or
/// `helm rollback` run by hand on a release this crate manages (and the other way round) do
/// not conflict over fields. Server-side apply conflicts between two managers would make the
/// reference `helm` refuse to touch the release.
pub const FIELD_MANAGER: &str = "helm";

/// Why an action failed; each says what, to which release, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chart does not render.
    #[error("chart {chart} does not render for release {release}: {source}")]
    Render {
        /// `<name>-<version>`.
        chart: String,
        /// The release.
        release: String,
        /// Why.
        source: Box<ferroflux_helm::action::Error>,
    },
    /// The release store failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// Installing a name that has a live release.
    #[error(
        "release {name} already exists (revision {version}, {status}); upgrade it or uninstall it first"
    )]
    Exists {
        /// The release.
        name: String,
        /// Its latest revision.
        version: u32,
        /// That revision's status.
        status: Status,
    },
    /// Upgrading, rolling back or uninstalling a release that has no revision.
    #[error("release {0} has no revision in the storage namespace; install it first")]
    NotFound(String),
    /// The latest revision is still pending: another operation runs, or one was interrupted.
    #[error(
        "release {name} revision {version} is {status}: another operation is in progress (or was interrupted; mark it failed to continue)"
    )]
    Pending {
        /// The release.
        name: String,
        /// The pending revision.
        version: u32,
        /// Its status.
        status: Status,
    },
    /// No earlier revision to roll back to.
    #[error("release {name} has no revision {version} to roll back to")]
    NoRollbackTarget {
        /// The release.
        name: String,
        /// The revision asked for (0: the previous one).
        version: u32,
    },
    /// A rendered document, or a stored manifest, is not an object.
    #[error(transparent)]
    Resources(#[from] resources::Error),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] hooks::Error),
    /// An upgrade failed, and deleting what it had created failed too.
    #[error("{failure}; cleaning up the objects the upgrade created failed too: {cleanup}")]
    Cleanup {
        /// The upgrade's failure.
        failure: String,
        /// The cleanup's.
        cleanup: String,
    },
    /// The post-renderer refused the rendered manifests.
    #[error("post-rendering release {release} failed: {message}")]
    PostRender {
        /// The release.
        release: String,
        /// Why.
        message: String,
    },
    /// The render's thread ended without a result (it panicked or the runtime shut down).
    #[error("rendering release {release} was interrupted ({reason}); retry the operation")]
    Interrupted {
        /// The release.
        release: String,
        /// What the runtime said.
        reason: String,
    },
}

/// Where and how objects are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The owning object's API group: its `<group>/name` and `<group>/namespace` labels mark
    /// every object applied (`helm.toolkit.fluxcd.io` for a HelmRelease).
    pub group: String,
    /// The owning object's name.
    pub name: String,
    /// The owning object's namespace.
    pub namespace: String,
}

/// How `crds/` are handled, as Flux's `install.crds` / `upgrade.crds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrdPolicy {
    /// Neither created nor updated.
    Skip,
    /// Created when missing, never updated (Helm's behaviour; Flux's default for install).
    #[default]
    Create,
    /// Created, and replaced when they differ.
    CreateReplace,
}

/// What an install or upgrade is asked to do.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors Helm's action options, which are independent switches"
)]
pub struct Options {
    /// The release name.
    pub name: String,
    /// The namespace the release's objects go to (and `.Release.Namespace`).
    pub namespace: String,
    /// The user's values (stored as the release's `config`).
    pub values: Values,
    /// `crds/` handling.
    pub crds: CrdPolicy,
    /// Skip the hooks.
    pub disable_hooks: bool,
    /// Wait until the applied objects are ready (kstatus).
    pub wait: bool,
    /// How long waits (objects, hooks) may take.
    pub timeout: Duration,
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// When an upgrade fails, delete the objects it created (Helm's `--cleanup-on-fail`).
    pub cleanup_on_fail: bool,
    /// Revisions kept (0: all).
    pub max_history: usize,
    /// The cluster's Kubernetes version (`v1.33.1`), for `.Capabilities`.
    pub kube_version: Option<String>,
    /// The API versions the cluster serves, for `.Capabilities.APIVersions`: with
    /// `api_versions_from_cluster`, the whole set ([`cluster::capabilities`]); otherwise added
    /// to `helm template`'s defaults.
    pub api_versions: Vec<String>,
    /// Whether `api_versions` replaces the defaults.
    pub api_versions_from_cluster: bool,
    /// Skips `values.schema.json` validation.
    pub skip_schema_validation: bool,
    /// Adopts objects that exist and belong to no release or another one (Helm's
    /// `--take-ownership`; Flux's default unless `disableTakeOwnership`) instead of refusing.
    pub take_ownership: bool,
    /// With `wait`, waits for Jobs to complete too (Flux's default unless
    /// `disableWaitForJobs`).
    pub wait_for_jobs: bool,
    /// Where `lookup` reads from ([`cluster::ClusterLookup`]); `None` answers empty maps.
    pub lookup: Option<std::sync::Arc<dyn ferroflux_helm::lookup::Lookup>>,
    /// Helm's post-renderer: rewrites the plain manifests (not the hooks) after the render;
    /// its output is the release's manifest.
    pub post_render: Option<std::sync::Arc<dyn PostRender>>,
    /// Readiness rules for custom kinds (Flux's `healthCheckExprs`), used by `wait`.
    pub health_checks: std::sync::Arc<[ferroflux_ssa::health::CustomCheck]>,
}

/// A post-renderer (Helm's `--post-renderer`; Flux's `spec.postRenderers`), run on the render's
/// blocking thread.
pub trait PostRender: Send + Sync + std::fmt::Debug {
    /// The manifests rewritten.
    ///
    /// # Errors
    /// Why the manifests cannot be rewritten, naming what is at fault.
    fn run(&self, manifest: &str) -> Result<String, String>;
}

impl Options {
    /// Options for release `name` in `namespace` with Helm's defaults (5 minutes, hooks on,
    /// no wait, CRDs created, 10 revisions kept).
    #[must_use]
    pub fn new(name: &str, namespace: &str) -> Options {
        Options {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            values: Values::new(),
            crds: CrdPolicy::Create,
            disable_hooks: false,
            wait: false,
            timeout: Duration::from_secs(300),
            force: false,
            max_history: 10,
            kube_version: None,
            api_versions: Vec::new(),
            api_versions_from_cluster: false,
            skip_schema_validation: false,
            take_ownership: false,
            cleanup_on_fail: false,
            wait_for_jobs: true,
            lookup: None,
            post_render: None,
            health_checks: std::sync::Arc::new([]),
        }
    }
}

/// Runs Helm's actions for releases kept in one storage namespace.
pub struct Helm {
    applier: Applier,
    storage: Storage,
    origin: Origin,
}

impl Helm {
    /// Actions writing objects as [`FIELD_MANAGER`] on behalf of `origin`, keeping release
    /// records in `storage_namespace`.
    #[must_use]
    pub fn new(client: kube::Client, storage_namespace: &str, origin: Origin) -> Helm {
        Helm {
            applier: Applier::new(client.clone(), FIELD_MANAGER, Owner::new(&origin.group)),
            storage: Storage::new(client, storage_namespace),
            origin,
        }
    }

    /// The release store.
    #[must_use]
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// [`Self::render`] on a blocking thread: a `lookup` blocks on the cluster, and a large
    /// chart must not hold up the runtime's workers.
    async fn render_off_runtime(
        chart: Chart,
        opts: &Options,
        revision: u32,
        is_upgrade: bool,
    ) -> Result<Rendered, Error> {
        let opts = opts.clone();
        let release = opts.name.clone();
        tokio::task::spawn_blocking(move || Self::render(chart, &opts, revision, is_upgrade))
            .await
            .map_err(|e| Error::Interrupted {
                release,
                reason: e.to_string(),
            })?
    }

    fn render(
        chart: Chart,
        opts: &Options,
        revision: u32,
        is_upgrade: bool,
    ) -> Result<Rendered, Error> {
        let label = format!("{}-{}", chart.metadata.name, chart.metadata.version);
        let mut notices = Notices::default();
        ferroflux_helm::action::render(
            chart,
            &opts.values,
            &RenderOptions {
                release: RenderRelease {
                    name: opts.name.clone(),
                    namespace: opts.namespace.clone(),
                    revision: i64::from(revision),
                    is_upgrade,
                },
                kube_version: opts.kube_version.clone(),
                api_versions: opts.api_versions.clone(),
                api_versions_from_cluster: opts.api_versions_from_cluster,
                skip_schema_validation: opts.skip_schema_validation,
                lookup: opts.lookup.clone(),
            },
            &mut notices,
        )
        .map_err(|e| Error::Render {
            chart: label,
            release: opts.name.clone(),
            source: Box::new(e),
        })
        .and_then(|mut rendered| {
            if let Some(post) = &opts.post_render {
                let out = post
                    .run(&rendered.manifest())
                    .map_err(|message| Error::PostRender {
                        release: opts.name.clone(),
                        message,
                    })?;
                rendered.post_rendered = Some(out);
            }
            Ok(rendered)
        })
    }

    fn record(chart: &Chart, rendered: &Rendered, opts: &Options, version: u32) -> Release {
        let (now, _) = release::now();
        Release {
            name: opts.name.clone(),
            info: Some(Info {
                first_deployed: now.clone(),
                last_deployed: now.clone(),
                status: Status::Unknown,
                notes: rendered.notes.clone(),
                ..Info::default()
            }),
            chart: Some(ChartRecord::from_chart(chart, &now)),
            config: opts.values.clone(),
            manifest: rendered.manifest(),
            hooks: rendered.hooks.iter().map(Hook::from_manifest).collect(),
            version,
            namespace: opts.namespace.clone(),
            apply_method: "ssa".to_owned(),
            ..Release::default()
        }
    }

    /// Installs `chart` as a new release, as `helm install` does: the record is written
    /// `pending-install`, CRDs handled by policy, `pre-install` hooks run, the objects applied
    /// (refusing objects another owner holds) and waited on when asked, `post-install` hooks
    /// run, then the record says `deployed` ("Install complete") or `failed` with the reason.
    /// A name whose latest revision is `uninstalled` or `failed` is reinstalled as the next
    /// revision.
    ///
    /// # Errors
    /// [`Error`]; when the release record was written, it says `failed` with the same reason.
    pub async fn install(&self, chart: Chart, opts: &Options) -> Result<Release, Error> {
        let history = self.storage.history(&opts.name).await?;
        self.install_over(chart, opts, &history).await
    }

    /// [`Helm::install`] over the release's `history` ([`Storage::history`]) as the caller
    /// has just read it, for a caller that read it to decide on the install: every list of
    /// release Secrets makes the API server read all the Secrets of the storage namespace,
    /// which is most of its work when a namespace holds many releases.
    ///
    /// # Errors
    /// As [`Helm::install`].
    pub async fn install_over(
        &self,
        chart: Chart,
        opts: &Options,
        history: &[Release],
    ) -> Result<Release, Error> {
        let previous = history.last();
        if let Some(p) = previous
            && !matches!(p.status(), Status::Uninstalled | Status::Failed)
        {
            return Err(Error::Exists {
                name: opts.name.clone(),
                version: p.version,
                status: p.status(),
            });
        }
        let version = previous.as_ref().map_or(1, |p| p.version + 1);
        let rendered = Self::render_off_runtime(chart.clone(), opts, version, false).await?;
        let objects = self.objects_of(&rendered.manifest(), opts).await?;
        if !opts.take_ownership {
            resources::check_ownership(&self.applier, &objects, &opts.name, &opts.namespace)
                .await?;
        }
        let mut rel = Self::record(&chart, &rendered, opts, version);
        rel.set_status(Status::PendingInstall, "Initial install underway");
        self.storage.create(&rel).await?;
        let result = self
            .deploy(&mut rel, &rendered, &objects, None, opts, "install")
            .await;
        self.finish(
            rel,
            result,
            "Install complete",
            "Release",
            opts,
            history.len() + 1,
        )
        .await
    }

    /// Upgrades release `opts.name` to `chart`, as `helm upgrade` does: a new revision written
    /// `pending-upgrade`, `pre-upgrade` hooks, the new objects applied, objects the previous
    /// revision had and this one does not deleted (unless `helm.sh/resource-policy: keep`),
    /// `post-upgrade` hooks, then the new revision `deployed` ("Upgrade complete") and the
    /// previous deployed one `superseded`, or the new one `failed`.
    ///
    /// # Errors
    /// [`Error`]: no release, one still pending, or the failure recorded in the new revision.
    pub async fn upgrade(&self, chart: Chart, opts: &Options) -> Result<Release, Error> {
        let history = self.storage.history(&opts.name).await?;
        let Some(last) = history.last() else {
            return Err(Error::NotFound(opts.name.clone()));
        };
        if last.status().is_pending() {
            return Err(Error::Pending {
                name: opts.name.clone(),
                version: last.version,
                status: last.status(),
            });
        }
        let current = history
            .iter()
            .rev()
            .find(|r| r.status() == Status::Deployed)
            .unwrap_or(last)
            .clone();
        let version = last.version + 1;
        let rendered = Self::render_off_runtime(chart.clone(), opts, version, true).await?;
        let objects = self.objects_of(&rendered.manifest(), opts).await?;
        let old = self.objects_of(&current.manifest, opts).await?;
        let added: Vec<serde_json::Value> = objects
            .iter()
            .filter(|o| !resources::contains(&old, o))
            .cloned()
            .collect();
        if !opts.take_ownership {
            resources::check_ownership(&self.applier, &added, &opts.name, &opts.namespace).await?;
        }
        let created = self.to_be_created(&added, opts).await?;
        let mut rel = Self::record(&chart, &rendered, opts, version);
        if let (Some(info), Some(first)) = (
            rel.info.as_mut(),
            current.info.as_ref().map(|i| i.first_deployed.clone()),
        ) {
            info.first_deployed = first;
        }
        rel.set_status(Status::PendingUpgrade, "Preparing upgrade");
        self.storage.create(&rel).await?;
        let result = self
            .deploy(&mut rel, &rendered, &objects, Some(&old), opts, "upgrade")
            .await;
        let result = self.clean_up_on_fail(result, &created, opts).await;
        let ok = result.is_ok();
        let done = self
            .finish(
                rel,
                result,
                "Upgrade complete",
                "Upgrade",
                opts,
                history.len() + 1,
            )
            .await;
        if ok && current.status() == Status::Deployed {
            let mut old = current;
            supersede(&mut old);
            self.storage.update(&old).await?;
        }
        done
    }

    /// Runs the release's test hooks (`helm.sh/hook: test`), as `helm test` does: by weight
    /// then name, each waited on (a Pod until `Succeeded`, a Job until `Complete`) within
    /// `opts.timeout`, with its delete policies; `run` says which hooks, by name, take part
    /// (Flux's `test.filters`). The runs are recorded in the latest revision, which is returned
    /// with the error of the first failing hook, if any.
    ///
    /// # Errors
    /// [`Error::NotFound`] without a revision, [`Error::Storage`]; a failing hook is reported
    /// in the returned pair, not as an error.
    pub async fn test(
        &self,
        name: &str,
        opts: &Options,
        run: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<(Release, Option<hooks::Error>), Error> {
        let Some(mut rel) = self.storage.last(name).await? else {
            return Err(Error::NotFound(name.to_owned()));
        };
        let kept: Vec<release::Hook> = rel.hooks.clone();
        // Hooks left out keep their last run; the others run now.
        rel.hooks.retain(|h| run(&h.name));
        let outcome = hooks::run(&self.applier, &mut rel, "test", opts).await;
        let ran = std::mem::take(&mut rel.hooks);
        rel.hooks = kept
            .into_iter()
            .map(|h| {
                ran.iter()
                    .find(|r| r.name == h.name && r.kind == h.kind && r.path == h.path)
                    .cloned()
                    .unwrap_or(h)
            })
            .collect();
        self.storage.update(&rel).await?;
        Ok((rel, outcome.err()))
    }

    /// Rolls release `name` back to revision `to` (0: the one before the current), as
    /// `helm rollback` does: a new revision with the target's chart, values and manifest,
    /// written `pending-rollback`, `pre-rollback` hooks, applied, objects not in the target
    /// deleted, `post-rollback` hooks, then `deployed` ("Rollback to N") and the previous
    /// deployed revision `superseded`.
    ///
    /// # Errors
    /// [`Error`]: no such revision, one pending, or the failure recorded in the new revision.
    pub async fn rollback(&self, name: &str, to: u32, opts: &Options) -> Result<Release, Error> {
        let history = self.storage.history(name).await?;
        let revisions = history.len() + 1;
        let Some(last) = history.last() else {
            return Err(Error::NotFound(name.to_owned()));
        };
        if last.status().is_pending() {
            return Err(Error::Pending {
                name: name.to_owned(),
                version: last.version,
                status: last.status(),
            });
        }
        let target_version = if to == 0 {
            last.version.saturating_sub(1)
        } else {
            to
        };
        let Some(target) = history.iter().find(|r| r.version == target_version) else {
            return Err(Error::NoRollbackTarget {
                name: name.to_owned(),
                version: to,
            });
        };
        let (now, _) = release::now();
        let mut rel = Release {
            version: last.version + 1,
            ..target.clone()
        };
        if let Some(info) = rel.info.as_mut() {
            info.last_deployed = now;
            info.deleted = String::new();
        }
        rel.hooks.iter_mut().for_each(|h| {
            h.last_run = release::HookExecution::default();
        });
        rel.set_status(
            Status::PendingRollback,
            &format!("Rollback to {target_version}"),
        );
        self.storage.create(&rel).await?;
        let target_opts = Options {
            name: name.to_owned(),
            namespace: target.namespace.clone(),
            ..opts.clone()
        };
        let objects = self.objects_of(&rel.manifest, &target_opts).await?;
        let old = self.objects_of(&last.manifest, &target_opts).await?;
        let added: Vec<serde_json::Value> = objects
            .iter()
            .filter(|o| !resources::contains(&old, o))
            .cloned()
            .collect();
        let created = self.to_be_created(&added, &target_opts).await?;
        let rendered = Rendered::default();
        let result = self
            .deploy(
                &mut rel,
                &rendered,
                &objects,
                Some(&old),
                &target_opts,
                "rollback",
            )
            .await;
        let result = self.clean_up_on_fail(result, &created, &target_opts).await;
        let ok = result.is_ok();
        let description = format!("Rollback to {target_version}");
        if ok {
            // Every deployed revision is superseded by the rollback, as Helm does.
            for mut old in history
                .into_iter()
                .filter(|r| r.status() == Status::Deployed)
            {
                supersede(&mut old);
                self.storage.update(&old).await?;
            }
        }
        self.finish(
            rel,
            result,
            &description,
            "Rollback",
            &target_opts,
            revisions,
        )
        .await
    }

    /// Uninstalls release `name`, as `helm uninstall` does: `pre-delete` hooks, the objects of
    /// the latest revision deleted in reverse install order (unless
    /// `helm.sh/resource-policy: keep`) with `how.propagation`, `post-delete` hooks, then every
    /// revision deleted, or with `how.keep_history` the latest marked `uninstalled`.
    ///
    /// # Errors
    /// [`Error`]: no release, or a hook, delete or store failure (the records are kept then).
    pub async fn uninstall(&self, name: &str, how: &Uninstall) -> Result<(), Error> {
        let Uninstall {
            keep_history,
            disable_hooks,
            timeout,
            ref propagation,
        } = *how;
        let history = self.storage.history(name).await?;
        let Some(mut last) = history.last().cloned() else {
            return Err(Error::NotFound(name.to_owned()));
        };
        let opts = Options {
            disable_hooks,
            timeout,
            ..Options::new(name, &last.namespace)
        };
        last.set_status(Status::Uninstalling, "Deletion in progress");
        self.storage.update(&last).await?;
        if !disable_hooks {
            hooks::run(&self.applier, &mut last, "pre-delete", &opts).await?;
        }
        let objects = self.objects_of(&last.manifest, &opts).await?;
        resources::delete_released(&self.applier, &objects, name, &last.namespace, propagation)
            .await?;
        if !disable_hooks {
            hooks::run(&self.applier, &mut last, "post-delete", &opts).await?;
        }
        if keep_history {
            let (now, _) = release::now();
            if let Some(info) = last.info.as_mut() {
                info.deleted = now;
            }
            last.set_status(Status::Uninstalled, "Uninstallation complete");
            self.storage.update(&last).await?;
        } else {
            for r in &history {
                self.storage.delete(name, r.version).await?;
            }
        }
        Ok(())
    }

    /// Marks the latest revision of `name` `failed` if it was left pending (a controller killed
    /// mid-operation), so the next action can proceed; returns the revision it marked.
    ///
    /// # Errors
    /// [`Error::Storage`].
    pub async fn unlock_pending(&self, name: &str) -> Result<Option<u32>, Error> {
        let Some(mut last) = self.storage.last(name).await? else {
            return Ok(None);
        };
        if !last.status().is_pending() {
            return Ok(None);
        }
        let description = format!(
            "Release was left {}: the operation was interrupted",
            last.status()
        );
        last.set_status(Status::Failed, &description);
        self.storage.update(&last).await?;
        Ok(Some(last.version))
    }

    /// With `opts.cleanup_on_fail`, which of `added` (objects new to the release) an action is
    /// about to create, being absent from the cluster; empty otherwise.
    async fn to_be_created(
        &self,
        added: &[serde_json::Value],
        opts: &Options,
    ) -> Result<Vec<serde_json::Value>, Error> {
        let mut created = Vec::new();
        if opts.cleanup_on_fail {
            for obj in added {
                let id = ferroflux_ssa::apply::ObjectId::of(obj);
                if self
                    .applier
                    .get(&id)
                    .await
                    .map_err(resources::Error::from)?
                    .is_none()
                {
                    created.push(obj.clone());
                }
            }
        }
        Ok(created)
    }

    /// `--cleanup-on-fail`: after a failed upgrade or rollback, deletes what it created. As
    /// Helm, the failure stands; a failed cleanup is added to it.
    async fn clean_up_on_fail<T>(
        &self,
        result: Result<T, Error>,
        created: &[serde_json::Value],
        opts: &Options,
    ) -> Result<T, Error> {
        match result {
            Err(e) if !created.is_empty() => {
                match resources::delete_released(
                    &self.applier,
                    created,
                    &opts.name,
                    &opts.namespace,
                    &PropagationPolicy::Background,
                )
                .await
                {
                    Ok(()) => Err(e),
                    Err(cleanup) => Err(Error::Cleanup {
                        failure: e.to_string(),
                        cleanup: cleanup.to_string(),
                    }),
                }
            }
            other => other,
        }
    }

    async fn objects_of(
        &self,
        manifest: &str,
        opts: &Options,
    ) -> Result<Vec<serde_json::Value>, Error> {
        let mut objects = resources::parse(manifest)?;
        resources::prepare(
            &self.applier,
            &mut objects,
            &opts.name,
            &opts.namespace,
            &self.origin,
        )
        .await?;
        Ok(objects)
    }

    /// Hooks, CRDs, objects, wait, hooks: the part install, upgrade and rollback share.
    async fn deploy(
        &self,
        rel: &mut Release,
        rendered: &Rendered,
        objects: &[serde_json::Value],
        previous: Option<&[serde_json::Value]>,
        opts: &Options,
        verb: &str,
    ) -> Result<(), Error> {
        if !rendered.crds.is_empty() && opts.crds != CrdPolicy::Skip {
            resources::apply_crds(&self.applier, &rendered.crds, opts.crds).await?;
        }
        if !opts.disable_hooks {
            hooks::run(&self.applier, rel, &format!("pre-{verb}"), opts).await?;
        }
        resources::apply(&self.applier, objects, opts.force).await?;
        if let Some(old) = previous {
            resources::delete_removed(&self.applier, old, objects, &opts.name, &opts.namespace)
                .await?;
        }
        if opts.wait {
            let waited: Vec<serde_json::Value> = objects
                .iter()
                .filter(|o| {
                    opts.wait_for_jobs
                        || !(o.get("kind").and_then(serde_json::Value::as_str) == Some("Job")
                            && o.get("apiVersion").and_then(serde_json::Value::as_str)
                                == Some("batch/v1"))
                })
                .cloned()
                .collect();
            resources::wait(&self.applier, &waited, opts.timeout, &opts.health_checks).await?;
        }
        if !opts.disable_hooks {
            hooks::run(&self.applier, rel, &format!("post-{verb}"), opts).await?;
        }
        Ok(())
    }

    /// Records the outcome: `deployed` with `success`, or `failed` with Helm's
    /// `<Verb> "<name>" failed: <reason>` description; then prunes the history, which holds
    /// `revisions` revisions now (the prune, a list of the release Secrets, is skipped when
    /// they are within `max_history`: it would delete nothing).
    async fn finish(
        &self,
        mut rel: Release,
        result: Result<(), Error>,
        success: &str,
        verb: &str,
        opts: &Options,
        revisions: usize,
    ) -> Result<Release, Error> {
        match result {
            Ok(()) => {
                rel.set_status(Status::Deployed, success);
                self.storage.update(&rel).await?;
                if opts.max_history != 0 && revisions > opts.max_history {
                    self.storage.prune(&rel.name, opts.max_history).await?;
                }
                Ok(rel)
            }
            Err(e) => {
                let description = if verb == "Release" {
                    format!("Release \"{}\" failed: {e}", rel.name)
                } else {
                    format!("{verb} \"{}\" failed: {e}", rel.name)
                };
                rel.set_status(Status::Failed, &description);
                self.storage.update(&rel).await?;
                Err(e)
            }
        }
    }
}

/// Marks a revision superseded, its description kept, as Helm does.
fn supersede(rel: &mut Release) {
    if let Some(info) = rel.info.as_mut() {
        info.status = Status::Superseded;
    }
}
