//! The sources a Kustomization can use (GitRepository, OCIRepository,
//! Bucket, ExternalArtifact): reading one's artifact, and watching them so that a new
//! artifact reconciles the Kustomizations using it at once instead of at
//! their next interval, as Flux does.

use std::fmt::Debug;

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{Bucket, ExternalArtifact, GitRepository, OCIRepository};
use futures_util::{Stream, StreamExt as _};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

/// The source kinds a Kustomization may reference.
pub const KINDS: [&str; 4] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "ExternalArtifact",
];

/// A source kind: where its artifact is.
trait Source:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: &'static str;
    fn artifact(&self) -> Option<&Artifact>;
}

impl Source for GitRepository {
    const KIND: &'static str = "GitRepository";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Source for OCIRepository {
    const KIND: &'static str = "OCIRepository";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Source for Bucket {
    const KIND: &'static str = "Bucket";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Source for ExternalArtifact {
    const KIND: &'static str = "ExternalArtifact";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

/// The artifact of source `kind` `ns/name`: `None` when the source does
/// not exist, `Some(None)` while it has no artifact.
///
/// # Errors
/// The API server's error. A kind not in [`KINDS`] is read as a
/// GitRepository; callers refuse other kinds first.
pub async fn artifact(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<Option<Option<Artifact>>, kube::Error> {
    async fn get<K: Source>(
        client: &Client,
        ns: &str,
        name: &str,
    ) -> Result<Option<Option<Artifact>>, kube::Error> {
        Ok(Api::<K>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await?
            .map(|s| s.artifact().cloned()))
    }
    match kind {
        "OCIRepository" => get::<OCIRepository>(client, ns, name).await,
        "Bucket" => get::<Bucket>(client, ns, name).await,
        "ExternalArtifact" => get::<ExternalArtifact>(client, ns, name).await,
        _ => get::<GitRepository>(client, ns, name).await,
    }
}

/// The Kustomizations to reconcile because a source they use (in
/// `namespace`, or anywhere) has a new artifact. Only Kustomizations
/// matching `label_selector` (the controller's shard) are named.
pub fn artifact_triggers(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<Kustomization>> + Send + 'static {
    futures_util::stream::select_all([
        watch::<GitRepository>(client.clone(), namespace.clone(), label_selector.clone()).boxed(),
        watch::<OCIRepository>(client.clone(), namespace.clone(), label_selector.clone()).boxed(),
        watch::<Bucket>(client.clone(), namespace.clone(), label_selector.clone()).boxed(),
        watch::<ExternalArtifact>(client, namespace, label_selector).boxed(),
    ])
}

fn watch<K: Source>(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<Kustomization>> + Send + 'static {
    let sources: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher(sources, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(artifact_hash::<K>, PredicateConfig::default())
        // A failed watch is retried by the backoff; nothing to trigger.
        .filter_map(|source| async move { source.ok() })
        .then(move |source| {
            let client = client.clone();
            let namespace = namespace.clone();
            let selector = label_selector.clone();
            async move { users::<K>(client, namespace.as_deref(), selector.as_deref(), &source).await }
        })
        .flat_map(futures_util::stream::iter)
}

/// What makes a source's change worth passing on: its artifact.
#[expect(
    clippy::unnecessary_wraps,
    reason = "kube's predicates return Option<u64>"
)]
fn artifact_hash<K: Source>(source: &K) -> Option<u64> {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source
        .artifact()
        .map(|a| (&a.revision, &a.digest))
        .hash(&mut h);
    Some(h.finish())
}

/// The Kustomizations whose `sourceRef` names `source`.
async fn users<K: Source>(
    client: Client,
    namespace: Option<&str>,
    label_selector: Option<&str>,
    source: &K,
) -> Vec<ObjectRef<Kustomization>> {
    let api: Api<Kustomization> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let source_ns = source.namespace().unwrap_or_default();
    let source_name = source.name_any();
    let mut params = ListParams::default();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    // A failed list is retried on the source's next change or the
    // Kustomizations' own interval.
    let Ok(list) = api.list(&params).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|ks| {
            let reference = &ks.spec.source_ref;
            let ks_ns = ks.namespace().unwrap_or_default();
            reference.kind == K::KIND
                && reference.name == source_name
                && reference.namespace.as_deref().unwrap_or(&ks_ns) == source_ns
        })
        .map(ObjectRef::from_obj)
        .collect()
}
