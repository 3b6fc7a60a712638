//! The ArtifactGenerator reconciler: validate the spec, observe the
//! sources' artifacts, and when they (or the spec) changed, fetch them,
//! apply each output artifact's copy operations, store the result and write
//! the ExternalArtifact; then delete the ExternalArtifacts that left the spec.
//!
//! # Guarantees
//! - An artifact whose copied content is unchanged keeps its file, digest,
//!   revision and `lastUpdateTime`: archives are deterministic, so equal
//!   content gives an equal digest, and nothing is rewritten. A commit that
//!   touches only `apps/` leaves the `infrastructure` ExternalArtifact as it
//!   was, and the Kustomizations using it are not triggered.
//! - All outputs are built before any is published: one failing copy
//!   operation leaves every ExternalArtifact on its last good artifact, which
//!   keeps being served.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferroflux_api::extensions::artifactgenerator::{
    self, ACCESS_DENIED_REASON, BUILD_FAILED_REASON, GENERATOR_LABEL, ORIGIN_REVISION_ANNOTATION,
    RECONCILIATION_FAILED_REASON, SOURCE_FETCH_FAILED_REASON, VALIDATION_FAILED_REASON,
};
use ferroflux_api::extensions::{
    ArtifactGenerator, ArtifactGeneratorStatus, ExternalArtifactReference, OutputArtifact,
};
use ferroflux_api::meta::{Artifact, READY_CONDITION, SUCCEEDED_REASON};
use ferroflux_api::source::ExternalArtifact;
use ferroflux_artifact::archive;
use ferroflux_artifact::digest::HashingWriter;
use ferroflux_artifact::fetch::{self, HttpClient};
use ferroflux_artifact::storage::{ObjectKey, Storage};
use ferroflux_runtime::acl::{self, CrossNamespace};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::events::{Events, Severity};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource as _, ResourceExt};

use crate::copy;
use crate::sources;

/// The controller's name: field manager, `app.kubernetes.io/managed-by` and event source.
pub const CONTROLLER: &str = "source-watcher";
/// The storage kind of generated artifacts (`externalartifact/<ns>/<name>/<file>`).
pub const STORAGE_KIND: &str = "ExternalArtifact";

/// Reconciles ArtifactGenerators into ExternalArtifacts.
#[derive(Clone)]
pub struct GeneratorReconciler {
    client: Client,
    http: HttpClient,
    storage: Storage,
    cross_namespace: CrossNamespace,
    requeue_dependency: Duration,
    fetch: fetch::Options,
    events: Option<Events>,
}

impl GeneratorReconciler {
    /// A reconciler writing artifacts to `storage`, downloading sources with `http`.
    #[must_use]
    pub fn new(client: Client, http: HttpClient, storage: Storage) -> Self {
        Self {
            client,
            http,
            storage,
            cross_namespace: CrossNamespace::Allowed,
            requeue_dependency: Duration::from_secs(5),
            fetch: fetch::Options::default(),
            events: None,
        }
    }

    /// Refuses sources in other namespaces (`--no-cross-namespace-refs`).
    #[must_use]
    pub fn with_cross_namespace(mut self, policy: CrossNamespace) -> Self {
        self.cross_namespace = policy;
        self
    }

    /// How soon a generator whose source is missing or not ready looks again
    /// (`--requeue-dependency`).
    #[must_use]
    pub fn with_requeue_dependency(mut self, after: Duration) -> Self {
        self.requeue_dependency = after;
        self
    }

    /// Download bounds and retries for source artifacts.
    #[must_use]
    pub fn with_fetch_options(mut self, options: fetch::Options) -> Self {
        self.fetch = options;
        self
    }

    /// Emits an event for each ExternalArtifact given a new revision or deleted.
    #[must_use]
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }
}

/// One source as observed: where it is and its current artifact.
#[derive(Clone, Debug)]
struct Observed {
    artifact: Artifact,
}

/// An output artifact built in the staging directory and archived.
struct Built {
    name: String,
    archive: PathBuf,
    digest: String,
    revision: String,
    metadata: Option<BTreeMap<String, String>>,
}

fn stalled(reason: &'static str, message: &str) -> ReconcileError {
    ReconcileError::stalled(reason, Scrubbed::new(message))
}

fn transient(reason: &'static str, message: &str) -> ReconcileError {
    ReconcileError::transient(reason, Scrubbed::new(message))
}

/// Checks the spec as Flux's source-watcher does, before reading anything:
/// unique aliases and artifact names, known aliases in `revision`,
/// `originRevision` and every `from`, and copy paths confined.
///
/// # Errors
/// Stalled, `ValidationFailed`, naming the field and value.
pub fn validate(obj: &ArtifactGenerator) -> Result<(), ReconcileError> {
    let fail = |message: String| Err(stalled(VALIDATION_FAILED_REASON, &message));
    let mut aliases = BTreeSet::new();
    for (i, source) in obj.spec.sources.iter().enumerate() {
        if !aliases.insert(source.alias.as_str()) {
            return fail(format!(
                "spec.sources[{i}].alias '{}' is used twice; aliases must be unique",
                source.alias
            ));
        }
        if !sources::KINDS.contains(&source.kind.as_str()) {
            return fail(format!(
                "spec.sources[{i}].kind '{}' is not one of {}",
                source.kind,
                sources::KINDS.join(", ")
            ));
        }
    }
    if obj.spec.artifacts.is_empty() {
        return fail("spec.artifacts is empty; name at least one artifact to generate".into());
    }
    let mut names = BTreeSet::new();
    for (i, out) in obj.spec.artifacts.iter().enumerate() {
        if !names.insert(out.name.as_str()) {
            return fail(format!(
                "spec.artifacts[{i}].name '{}' is used twice; artifact names must be unique",
                out.name
            ));
        }
        for (field, value) in [
            ("revision", &out.revision),
            ("originRevision", &out.origin_revision),
        ] {
            if let Some(value) = value {
                match artifactgenerator::alias_of(value) {
                    Some(alias) if aliases.contains(alias) => {}
                    _ => {
                        return fail(format!(
                            "spec.artifacts[{i}].{field} '{value}' must be '@<alias>' of a source in spec.sources"
                        ));
                    }
                }
            }
        }
        if out.copy.is_empty() {
            return fail(format!(
                "spec.artifacts[{i}] ('{}') has no copy operations",
                out.name
            ));
        }
        for (j, op) in out.copy.iter().enumerate() {
            let parsed = copy::parse(op).map_err(|e| {
                stalled(
                    VALIDATION_FAILED_REASON,
                    &format!("spec.artifacts[{i}].copy[{j}]: {e}"),
                )
            })?;
            if !aliases.contains(parsed.alias) {
                return fail(format!(
                    "spec.artifacts[{i}].copy[{j}].from '{}' names the alias '{}', which is not in spec.sources",
                    op.from, parsed.alias
                ));
            }
        }
    }
    Ok(())
}

/// A digest of every source's revision and artifact digest, by alias.
fn sources_digest(observed: &BTreeMap<String, Observed>) -> String {
    let mut text = String::new();
    for (alias, o) in observed {
        let _ = writeln!(
            text,
            "{alias}\t{}\t{}",
            o.artifact.revision,
            o.artifact.digest.as_deref().unwrap_or_default()
        );
    }
    ferroflux_artifact::digest::of(text.as_bytes())
}

impl GeneratorReconciler {
    /// Step 1: every source exists, is allowed, and has an artifact.
    ///
    /// Sets no condition; a missing or unready source is `SourceFetchFailed`,
    /// retried after `--requeue-dependency`; a refused cross-namespace source
    /// is `AccessDenied`, stalled.
    async fn reconcile_sources(
        &self,
        obj: &ArtifactGenerator,
    ) -> Result<BTreeMap<String, Observed>, ReconcileError> {
        let own_ns = obj.namespace().unwrap_or_default();
        let mut observed = BTreeMap::new();
        for (i, source) in obj.spec.sources.iter().enumerate() {
            acl::check_reference(
                self.cross_namespace,
                &format!("spec.sources[{i}] ('{}')", source.alias),
                &own_ns,
                source.namespace.as_deref(),
            )
            .map_err(|mut e| {
                e.reason = ACCESS_DENIED_REASON;
                e
            })?;
            let ns = source.namespace.clone().unwrap_or_else(|| own_ns.clone());
            let waiting = |message: String| {
                let mut e = ReconcileError::waiting(
                    self.requeue_dependency,
                    SOURCE_FETCH_FAILED_REASON,
                    Scrubbed::new(&message),
                );
                e.event = true;
                e
            };
            let artifact = sources::artifact(&self.client, &source.kind, &ns, &source.name)
                .await
                .map_err(|e| {
                    transient(
                        SOURCE_FETCH_FAILED_REASON,
                        &format!("reading {} {ns}/{} failed: {e}", source.kind, source.name),
                    )
                })?
                .ok_or_else(|| {
                    waiting(format!(
                        "source '@{}': {} {ns}/{} not found; create it or fix spec.sources[{i}], retrying in {:?}",
                        source.alias, source.kind, source.name, self.requeue_dependency
                    ))
                })?
                .filter(|a| a.digest.is_some())
                .ok_or_else(|| {
                    waiting(format!(
                        "source '@{}': {} {ns}/{} has no artifact yet (not ready), retrying in {:?}",
                        source.alias, source.kind, source.name, self.requeue_dependency
                    ))
                })?;
            observed.insert(source.alias.clone(), Observed { artifact });
        }
        Ok(observed)
    }

    /// Whether nothing changed since the last generation: same sources, the
    /// spec already reconciled, and every inventoried artifact still stored
    /// and recorded in its ExternalArtifact.
    async fn up_to_date(
        &self,
        obj: &ArtifactGenerator,
        status: &ArtifactGeneratorStatus,
        digest: &str,
    ) -> bool {
        let generation = obj.meta().generation;
        let ready_now = conditions::get(&status.conditions, READY_CONDITION)
            .is_some_and(|c| c.status == "True" && c.observed_generation == generation);
        if !ready_now || status.observed_sources_digest.as_deref() != Some(digest) {
            return false;
        }
        let wanted: BTreeSet<&str> = obj.spec.artifacts.iter().map(|a| a.name.as_str()).collect();
        let have: BTreeSet<&str> = status.inventory.iter().map(|r| r.name.as_str()).collect();
        if wanted != have {
            return false;
        }
        let api: Api<ExternalArtifact> =
            Api::namespaced(self.client.clone(), &obj.namespace().unwrap_or_default());
        for entry in &status.inventory {
            let Ok(Some(ea)) = api.get_opt(&entry.name).await else {
                return false;
            };
            let Some(artifact) = ea.status.and_then(|s| s.artifact) else {
                return false;
            };
            if artifact.digest.as_deref() != Some(entry.digest.as_str())
                || !self.storage.exists(&artifact)
            {
                return false;
            }
        }
        true
    }

    /// Step 2: download every source and build every output artifact in a
    /// staging directory, then archive each.
    ///
    /// Errors: `SourceFetchFailed` (download), `BuildFailed` (a copy
    /// operation: a glob matching nothing, a missing path), both retried.
    async fn reconcile_build(
        &self,
        obj: &ArtifactGenerator,
        observed: &BTreeMap<String, Observed>,
        work: &Path,
    ) -> Result<Vec<Built>, ReconcileError> {
        let mut dirs = BTreeMap::new();
        for (alias, o) in observed {
            let dir = work.join("sources").join(alias);
            std::fs::create_dir_all(&dir).map_err(|e| {
                transient(
                    SOURCE_FETCH_FAILED_REASON,
                    &format!("creating a directory for '@{alias}': {e}"),
                )
            })?;
            let digest = o.artifact.digest.as_deref().unwrap_or_default();
            fetch::fetch(&self.http, &o.artifact.url, digest, &dir, self.fetch)
                .await
                .map_err(|e| {
                    transient(
                        SOURCE_FETCH_FAILED_REASON,
                        &format!("source '@{alias}' (revision {}): {e}", o.artifact.revision),
                    )
                })?;
            dirs.insert(alias.clone(), dir);
        }
        let outputs = obj.spec.artifacts.clone();
        let observed = observed.clone();
        let work = work.to_path_buf();
        tokio::task::spawn_blocking(move || build_all(&outputs, &dirs, &observed, &work))
            .await
            .map_err(|e| transient(BUILD_FAILED_REASON, &e.to_string()))?
    }

    /// Step 3: store each built artifact (unless its content is already
    /// stored), write its ExternalArtifact and status, and collect old files.
    ///
    /// Errors: `ReconciliationFailed` (storage or API), retried; an
    /// ExternalArtifact of the same name not generated by this generator,
    /// stalled.
    async fn reconcile_publish(
        &self,
        obj: &ArtifactGenerator,
        built: Vec<Built>,
    ) -> Result<Vec<ExternalArtifactReference>, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<ExternalArtifact> = Api::namespaced(self.client.clone(), &ns);
        let current = self.owned(obj, &api, &built).await?;
        let mut refs = Vec::new();
        for (b, existing) in built.into_iter().zip(current) {
            let failed = |what: &str, e: &dyn std::fmt::Display| {
                transient(
                    RECONCILIATION_FAILED_REASON,
                    &format!("ExternalArtifact {ns}/{}: {what}: {e}", b.name),
                )
            };
            let hex = b.digest.strip_prefix("sha256:").unwrap_or(&b.digest);
            let file_name = format!("{hex}.tar.gz");
            let key = ObjectKey::new(STORAGE_KIND, ns.clone(), b.name.clone());
            let previous = existing
                .as_ref()
                .and_then(|ea| ea.status.as_ref()?.artifact.clone());
            let unchanged = previous.as_ref().filter(|a| {
                a.digest.as_deref() == Some(b.digest.as_str())
                    && a.revision == b.revision
                    && a.metadata == b.metadata
                    && self.storage.exists(a)
            });
            let artifact = if let Some(a) = unchanged {
                a.clone()
            } else {
                let mut stored = self
                    .storage
                    .store_file(&key, &b.archive, &file_name, &b.revision)
                    .map_err(|e| failed("storing its artifact failed", &e))?;
                if previous.as_ref().and_then(|a| a.digest.as_deref()) == Some(b.digest.as_str()) {
                    // Same content, new revision or metadata: the file is the same one.
                    if let Some(p) = &previous {
                        stored.last_update_time = p.last_update_time.clone();
                    }
                }
                stored.metadata.clone_from(&b.metadata);
                stored
            };
            self.apply_object(obj, &api, &b.name)
                .await
                .map_err(|e| failed("applying it failed", &e))?;
            let status_current = existing
                .as_ref()
                .and_then(|ea| ea.status.as_ref())
                .is_some_and(|s| {
                    s.artifact.as_ref() == Some(&artifact)
                        && conditions::is_true(&s.conditions, READY_CONDITION)
                });
            if !status_current {
                self.apply_status(&api, &b.name, &artifact)
                    .await
                    .map_err(|e| failed("writing its status failed", &e))?;
                let new_revision = previous
                    .as_ref()
                    .is_none_or(|p| p.revision != artifact.revision || p.digest != artifact.digest);
                if let Some(events) = self.events.as_ref().filter(|_| new_revision) {
                    let message = format!(
                        "ExternalArtifact/{ns}/{} reconciled with revision {}",
                        b.name, artifact.revision
                    );
                    events
                        .publish(
                            obj,
                            Severity::Info,
                            READY_CONDITION,
                            &Scrubbed::new(&message),
                            Some(&artifact.revision),
                        )
                        .await;
                }
            }
            if let Err(e) = self.storage.garbage_collect(&key, &artifact) {
                tracing::warn!(error = %e, artifact = %b.name, "collecting old artifacts failed");
            }
            refs.push(ExternalArtifactReference {
                name: b.name.clone(),
                namespace: ns.clone(),
                digest: b.digest.clone(),
                filename: file_name,
            });
        }
        Ok(refs)
    }

    /// The current ExternalArtifact of each built artifact, if any, once every name is checked:
    /// an object of the same name that this generator did not make stops the whole
    /// publication before anything is written (stalled, naming it).
    async fn owned(
        &self,
        obj: &ArtifactGenerator,
        api: &Api<ExternalArtifact>,
        built: &[Built],
    ) -> Result<Vec<Option<ExternalArtifact>>, ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let uid = obj.uid().unwrap_or_default();
        let mut current = Vec::with_capacity(built.len());
        for b in built {
            let existing = api.get_opt(&b.name).await.map_err(|e| {
                transient(
                    RECONCILIATION_FAILED_REASON,
                    &format!("ExternalArtifact {ns}/{}: reading it failed: {e}", b.name),
                )
            })?;
            if let Some(ea) = &existing {
                let owner = ea.labels().get(GENERATOR_LABEL).map(String::as_str);
                if owner != Some(uid.as_str()) {
                    return Err(stalled(
                        VALIDATION_FAILED_REASON,
                        &format!(
                            "ExternalArtifact {ns}/{} exists and was not generated by this ArtifactGenerator; rename spec.artifacts '{}' or delete that object",
                            b.name, b.name
                        ),
                    ));
                }
            }
            current.push(existing);
        }
        Ok(current)
    }

    async fn apply_object(
        &self,
        obj: &ArtifactGenerator,
        api: &Api<ExternalArtifact>,
        name: &str,
    ) -> Result<(), kube::Error> {
        let ns = obj.namespace().unwrap_or_default();
        let patch = serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "ExternalArtifact",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {
                    "app.kubernetes.io/managed-by": CONTROLLER,
                    GENERATOR_LABEL: obj.uid().unwrap_or_default(),
                },
                "ownerReferences": [{
                    "apiVersion": "source.extensions.fluxcd.io/v1beta1",
                    "kind": "ArtifactGenerator",
                    "name": obj.name_any(),
                    "uid": obj.uid().unwrap_or_default(),
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "sourceRef": {
                    "apiVersion": "source.extensions.fluxcd.io/v1beta1",
                    "kind": "ArtifactGenerator",
                    "name": obj.name_any(),
                    "namespace": ns,
                }
            }
        });
        api.patch(
            name,
            &PatchParams::apply(CONTROLLER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map(drop)
    }

    async fn apply_status(
        &self,
        api: &Api<ExternalArtifact>,
        name: &str,
        artifact: &Artifact,
    ) -> Result<(), kube::Error> {
        let generation = api
            .get_opt(name)
            .await?
            .and_then(|ea| ea.metadata.generation);
        let patch = serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "ExternalArtifact",
            "status": {
                "artifact": artifact,
                "conditions": [{
                    "type": READY_CONDITION,
                    "status": "True",
                    "reason": SUCCEEDED_REASON,
                    "message": format!("stored artifact for revision '{}'", artifact.revision),
                    "observedGeneration": generation,
                    "lastTransitionTime": Time(Timestamp::now()),
                }],
            }
        });
        api.patch_status(
            name,
            &PatchParams::apply(CONTROLLER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map(drop)
    }

    /// Deletes the ExternalArtifacts in `orphans` (generated by `obj`) and
    /// their stored artifacts.
    async fn delete_artifacts(
        &self,
        obj: &ArtifactGenerator,
        orphans: &[String],
    ) -> Result<(), ReconcileError> {
        let ns = obj.namespace().unwrap_or_default();
        let uid = obj.uid().unwrap_or_default();
        let api: Api<ExternalArtifact> = Api::namespaced(self.client.clone(), &ns);
        for name in orphans {
            let failed = |e: &dyn std::fmt::Display| {
                transient(
                    RECONCILIATION_FAILED_REASON,
                    &format!("deleting ExternalArtifact {ns}/{name} failed: {e}"),
                )
            };
            if let Some(ea) = api.get_opt(name).await.map_err(|e| failed(&e))? {
                // Only what this generator made: a same-named object of
                // someone else's stays.
                if ea.labels().get(GENERATOR_LABEL) == Some(&uid) {
                    match api.delete(name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(status)) if status.code == 404 => {}
                        Err(e) => return Err(failed(&e)),
                    }
                    if let Some(events) = &self.events {
                        let message = format!("ExternalArtifact/{ns}/{name} deleted");
                        events
                            .publish(
                                obj,
                                Severity::Info,
                                "GarbageCollectionSucceeded",
                                &Scrubbed::new(&message),
                                None,
                            )
                            .await;
                    }
                }
            }
            self.storage
                .remove_all(&ObjectKey::new(STORAGE_KIND, ns.clone(), name.clone()))
                .map_err(|e| failed(&e))?;
        }
        Ok(())
    }
}

/// Builds every output into `work/out/<name>` and archives it into
/// `work/<name>.tar.gz`: all or none.
fn build_all(
    outputs: &[OutputArtifact],
    dirs: &BTreeMap<String, PathBuf>,
    observed: &BTreeMap<String, Observed>,
    work: &Path,
) -> Result<Vec<Built>, ReconcileError> {
    let mut built = Vec::new();
    for out in outputs {
        let fail = |message: String| {
            let mut e = transient(BUILD_FAILED_REASON, &message);
            e.event = true;
            e
        };
        let staging = work.join("out").join(&out.name);
        std::fs::create_dir_all(&staging)
            .map_err(|e| fail(format!("artifact '{}': {e}", out.name)))?;
        copy::apply(&out.copy, dirs, &staging)
            .map_err(|e| fail(format!("artifact '{}': {e}", out.name)))?;
        let archive_path = work.join(format!("{}.tar.gz", out.name));
        let file = std::fs::File::create(&archive_path)
            .map_err(|e| fail(format!("artifact '{}': {e}", out.name)))?;
        let writer = archive::write_tar_gz(&staging, &archive::All, HashingWriter::new(file))
            .map_err(|e| fail(format!("artifact '{}': {e}", out.name)))?;
        let (_, digest, _) = writer.finish();
        let source_of = |field: &Option<String>| {
            field
                .as_deref()
                .and_then(artifactgenerator::alias_of)
                .and_then(|alias| observed.get(alias))
        };
        let revision = source_of(&out.revision).map_or_else(
            || format!("latest@{digest}"),
            |o| o.artifact.revision.clone(),
        );
        let metadata = source_of(&out.origin_revision).map(|o| {
            let origin = o
                .artifact
                .metadata
                .as_ref()
                .and_then(|m| m.get(ORIGIN_REVISION_ANNOTATION))
                .cloned()
                .unwrap_or_else(|| o.artifact.revision.clone());
            BTreeMap::from([(ORIGIN_REVISION_ANNOTATION.to_owned(), origin)])
        });
        built.push(Built {
            name: out.name.clone(),
            archive: archive_path,
            digest,
            revision,
            metadata,
        });
    }
    Ok(built)
}

impl Reconciler<ArtifactGenerator> for GeneratorReconciler {
    async fn reconcile(
        &self,
        obj: Arc<ArtifactGenerator>,
        status: &mut ArtifactGeneratorStatus,
    ) -> Result<Outcome, ReconcileError> {
        validate(&obj)?;
        let observed = self.reconcile_sources(&obj).await?;
        let digest = sources_digest(&observed);
        if self.up_to_date(&obj, status, &digest).await {
            return Ok(Outcome::CONTINUE);
        }
        let work = tempfile::tempdir().map_err(|e| {
            transient(
                RECONCILIATION_FAILED_REASON,
                &format!("creating a work directory: {e}"),
            )
        })?;
        let built = self.reconcile_build(&obj, &observed, work.path()).await;
        let published = match built {
            Ok(built) => self.reconcile_publish(&obj, built).await,
            Err(e) => Err(e),
        };
        // The work directory goes off the async threads, whatever the outcome.
        let _ = tokio::task::spawn_blocking(move || drop(work)).await;
        let refs = published?;
        let keep: BTreeSet<&str> = refs.iter().map(|r| r.name.as_str()).collect();
        let orphans: Vec<String> = status
            .inventory
            .iter()
            .filter(|r| !keep.contains(r.name.as_str()))
            .map(|r| r.name.clone())
            .collect();
        self.delete_artifacts(&obj, &orphans).await?;
        status.inventory = refs;
        status.observed_sources_digest = Some(digest);
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, obj: Arc<ArtifactGenerator>) -> Result<(), ReconcileError> {
        let mut names: BTreeSet<String> = obj
            .status
            .as_ref()
            .map(|s| s.inventory.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default();
        // Also what a reconcile created but could not record in the inventory.
        if let Some(uid) = obj.uid() {
            let api: Api<ExternalArtifact> =
                Api::namespaced(self.client.clone(), &obj.namespace().unwrap_or_default());
            let params = ListParams::default().labels(&format!("{GENERATOR_LABEL}={uid}"));
            if let Ok(list) = api.list(&params).await {
                names.extend(list.items.iter().map(ResourceExt::name_any));
            }
        }
        self.delete_artifacts(&obj, &names.into_iter().collect::<Vec<_>>())
            .await
    }

    fn ready_message(&self, status: &ArtifactGeneratorStatus) -> String {
        format!(
            "reconciliation succeeded, generated {} artifact(s)",
            status.inventory.len()
        )
    }

    fn success_reason(&self) -> &'static str {
        SUCCEEDED_REASON
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use ferroflux_api::extensions::ArtifactGenerator;
    use ferroflux_runtime::acl::CrossNamespace;
    use ferroflux_runtime::error::Handling;

    use super::{GeneratorReconciler, validate};

    fn generator(spec: &serde_json::Value) -> ArtifactGenerator {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator",
            "metadata": {"name": "g", "namespace": "ns"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn invalid_specs_are_refused_naming_the_field() {
        let src = serde_json::json!([{"alias": "repo", "kind": "GitRepository", "name": "r"}]);
        let cases = [
            (
                serde_json::json!({"sources": [{"alias": "a", "kind": "GitRepository", "name": "r"}, {"alias": "a", "kind": "Bucket", "name": "b"}],
                    "artifacts": [{"name": "x", "copy": [{"from": "@a/**", "to": "@artifact/"}]}]}),
                "spec.sources[1].alias 'a' is used twice",
            ),
            (
                serde_json::json!({"sources": src, "artifacts": [{"name": "x", "copy": [{"from": "@other/**", "to": "@artifact/"}]}]}),
                "names the alias 'other'",
            ),
            (
                serde_json::json!({"sources": src, "artifacts": [{"name": "x", "originRevision": "@nope", "copy": [{"from": "@repo/**", "to": "@artifact/"}]}]}),
                "spec.artifacts[0].originRevision '@nope'",
            ),
            (
                serde_json::json!({"sources": src, "artifacts": [{"name": "x", "copy": [{"from": "@repo/../x", "to": "@artifact/"}]}]}),
                "spec.artifacts[0].copy[0]",
            ),
            (
                serde_json::json!({"sources": src, "artifacts": [{"name": "x", "copy": [{"from": "@repo/a", "to": "@artifact/"}]}, {"name": "x", "copy": [{"from": "@repo/b", "to": "@artifact/"}]}]}),
                "spec.artifacts[1].name 'x' is used twice",
            ),
        ];
        for (spec, want) in cases {
            let err = validate(&generator(&spec)).unwrap_err();
            assert_eq!(err.reason, "ValidationFailed");
            assert!(
                err.message.as_str().contains(want),
                "{}",
                err.message.as_str()
            );
        }
        let ok = serde_json::json!({"sources": src, "artifacts": [{"name": "x", "revision": "@repo", "copy": [{"from": "@repo/**", "to": "@artifact/"}]}]});
        assert!(validate(&generator(&ok)).is_ok());
    }

    /// `--no-cross-namespace-refs` refuses a source in another namespace before anything is
    /// read (the client below points nowhere).
    #[tokio::test]
    async fn cross_namespace_sources_are_refused_when_denied() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let storage = tempfile::tempdir().unwrap();
        let storage = ferroflux_artifact::storage::Storage::new(
            storage.path(),
            "127.0.0.1:1",
            ferroflux_artifact::storage::Retention::default(),
        )
        .unwrap();
        let reconciler = GeneratorReconciler::new(client, ferroflux_tls::http_client(), storage)
            .with_cross_namespace(CrossNamespace::Denied);
        let spec = serde_json::json!({
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "r", "namespace": "flux-system"}],
            "artifacts": [{"name": "x", "copy": [{"from": "@repo/**", "to": "@artifact/"}]}]
        });
        let err = reconciler
            .reconcile_sources(&generator(&spec))
            .await
            .unwrap_err();
        assert_eq!(
            (err.reason, err.handling),
            ("AccessDenied", Handling::Stalled)
        );
        assert!(
            err.message.as_str().contains("spec.sources[0] ('repo')")
                && err.message.as_str().contains("'flux-system'"),
            "{}",
            err.message.as_str()
        );
    }
}
