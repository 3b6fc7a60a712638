//! Watching the sources of HelmCharts (HelmRepositories, GitRepositories,
//! Buckets)
//! so that a new artifact reconciles the HelmCharts using it at once
//! instead of at their next interval, as Flux does.

use std::fmt::Debug;

use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{Bucket, GitRepository, HelmChart, HelmRepository};
use futures_util::{Stream, StreamExt as _};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

/// A source kind of HelmCharts: its kind name and artifact.
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

impl Source for HelmRepository {
    const KIND: &'static str = "HelmRepository";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

impl Source for GitRepository {
    const KIND: &'static str = "GitRepository";
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

/// The HelmCharts to reconcile because a source they use (in `namespace`,
/// or anywhere) has a new artifact; only those matching `label_selector`.
pub fn artifact_triggers(
    client: Client,
    namespace: Option<&str>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<HelmChart>> + Send + 'static {
    futures_util::stream::select_all([
        watch::<HelmRepository>(client.clone(), namespace, label_selector.clone()).boxed(),
        watch::<GitRepository>(client.clone(), namespace, label_selector.clone()).boxed(),
        watch::<Bucket>(client, namespace, label_selector).boxed(),
    ])
}

fn watch<K: Source>(
    client: Client,
    namespace: Option<&str>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<HelmChart>> + Send + 'static {
    let sources: Api<K> = match namespace {
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
            let selector = label_selector.clone();
            async move { users::<K>(client, selector.as_deref(), &source).await }
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

/// The HelmCharts of the source's namespace whose `sourceRef` names it.
async fn users<K: Source>(
    client: Client,
    label_selector: Option<&str>,
    source: &K,
) -> Vec<ObjectRef<HelmChart>> {
    let ns = source.namespace().unwrap_or_default();
    let name = source.name_any();
    let mut params = ListParams::default();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    // A failed list is retried on the source's next change or the
    // HelmCharts' own interval.
    let Ok(list) = Api::<HelmChart>::namespaced(client, &ns)
        .list(&params)
        .await
    else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|c| c.spec.source_ref.kind == K::KIND && c.spec.source_ref.name == name)
        .map(ObjectRef::from_obj)
        .collect()
}
