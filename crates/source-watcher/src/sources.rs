//! The sources an ArtifactGenerator may name (GitRepository, OCIRepository,
//! Bucket, HelmChart, ExternalArtifact): reading one's artifact, and
//! watching them so that a new artifact regenerates the generators using it
//! at once rather than at their next interval.

use std::fmt::Debug;

use ferroflux_api::extensions::ArtifactGenerator;
use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{Bucket, ExternalArtifact, GitRepository, HelmChart, OCIRepository};
use futures_util::{Stream, StreamExt as _};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

/// The source kinds an ArtifactGenerator may reference.
pub const KINDS: [&str; 5] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "HelmChart",
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

macro_rules! source {
    ($ty:ty, $kind:literal) => {
        impl Source for $ty {
            const KIND: &'static str = $kind;
            fn artifact(&self) -> Option<&Artifact> {
                self.status.as_ref()?.artifact.as_ref()
            }
        }
    };
}

source!(GitRepository, "GitRepository");
source!(OCIRepository, "OCIRepository");
source!(Bucket, "Bucket");
source!(HelmChart, "HelmChart");
source!(ExternalArtifact, "ExternalArtifact");

/// The artifact of source `kind` `ns/name`: `None` when the source does not
/// exist, `Some(None)` while it has no artifact.
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
        "HelmChart" => get::<HelmChart>(client, ns, name).await,
        "ExternalArtifact" => get::<ExternalArtifact>(client, ns, name).await,
        _ => get::<GitRepository>(client, ns, name).await,
    }
}

/// The ArtifactGenerators to reconcile because a source they name (in
/// `namespace`, or anywhere) has a new artifact, appeared or went away.
/// Only generators matching `label_selector` (the controller's shard) are named.
pub fn artifact_triggers(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<ArtifactGenerator>> + Send + 'static {
    let (c, n, l) = (client, namespace, label_selector);
    futures_util::stream::select_all([
        watch::<GitRepository>(c.clone(), n.clone(), l.clone()).boxed(),
        watch::<OCIRepository>(c.clone(), n.clone(), l.clone()).boxed(),
        watch::<Bucket>(c.clone(), n.clone(), l.clone()).boxed(),
        watch::<HelmChart>(c.clone(), n.clone(), l.clone()).boxed(),
        watch::<ExternalArtifact>(c, n, l).boxed(),
    ])
}

fn watch<K: Source>(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<ArtifactGenerator>> + Send + 'static {
    let sources: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher(sources, watcher::Config::default())
        .default_backoff()
        .touched_objects()
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

/// What makes a source's change worth passing on: its artifact, and its
/// deletion (a generator using it must say its source is gone).
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
    source.meta().deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

/// The ArtifactGenerators with a `spec.sources` entry naming `source`.
async fn users<K: Source>(
    client: Client,
    namespace: Option<&str>,
    label_selector: Option<&str>,
    source: &K,
) -> Vec<ObjectRef<ArtifactGenerator>> {
    let api: Api<ArtifactGenerator> = match namespace {
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
    // generators' own interval.
    let Ok(list) = api.list(&params).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|generator| {
            let own_ns = generator.namespace().unwrap_or_default();
            generator.spec.sources.iter().any(|s| {
                s.kind == K::KIND
                    && s.name == source_name
                    && s.namespace.as_deref().unwrap_or(&own_ns) == source_ns
            })
        })
        .map(ObjectRef::from_obj)
        .collect()
}
