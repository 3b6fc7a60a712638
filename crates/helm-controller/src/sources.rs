//! Watches on the chart sources a HelmRelease can use (`HelmChart`, `OCIRepository`,
//! `ExternalArtifact`), so a new
//! artifact reconciles the HelmReleases using it at once instead of at their next interval,
//! as Flux does.
//!
//! Finding the HelmReleases that use a source takes a list of the HelmReleases, and every
//! HelmRelease of `spec.chart` has a HelmChart of its own: a thousand HelmCharts getting their
//! artifacts make a thousand lookups. Sources that change while a lookup runs are looked up
//! together with one list, served from the API server's watch cache (as Flux's informer cache
//! serves it) rather than read from etcd, and a source without an artifact looks nothing up.

use std::collections::HashSet;
use std::fmt::Debug;

use ferroflux_api::helm::HelmRelease;
use ferroflux_api::meta::Artifact;
use ferroflux_api::source::{ExternalArtifact, HelmChart, OCIRepository};
use futures_util::{Stream, StreamExt as _};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

use crate::chart;

/// Most source changes looked up with one list of the HelmReleases.
const MAX_BATCH: usize = 128;

/// A chart source kind: where its artifact is.
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

impl Source for HelmChart {
    const KIND: &'static str = "HelmChart";
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

impl Source for ExternalArtifact {
    const KIND: &'static str = "ExternalArtifact";
    fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref()?.artifact.as_ref()
    }
}

/// The HelmReleases to reconcile because a chart source they use (in `namespace`, or
/// anywhere) has a new artifact; only those matching `label_selector` (the shard).
pub fn artifact_triggers(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<HelmRelease>> + Send + 'static {
    futures_util::stream::select_all([
        watch::<HelmChart>(client.clone(), namespace.clone(), label_selector.clone()).boxed(),
        watch::<OCIRepository>(client.clone(), namespace.clone(), label_selector.clone()).boxed(),
        watch::<ExternalArtifact>(client, namespace, label_selector).boxed(),
    ])
}

fn watch<K: Source>(
    client: Client,
    namespace: Option<String>,
    label_selector: Option<String>,
) -> impl Stream<Item = ObjectRef<HelmRelease>> + Send + 'static {
    let sources: Api<K> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher(sources, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(artifact_hash::<K>, PredicateConfig::default())
        // A failed watch is retried by the backoff; nothing to trigger. A source without an
        // artifact has nothing for its HelmReleases.
        .filter_map(|source| async move { source.ok().filter(|s| s.artifact().is_some()) })
        // Whatever changed while the previous lookup ran is looked up at once.
        .ready_chunks(MAX_BATCH)
        .then(move |batch| {
            let client = client.clone();
            let namespace = namespace.clone();
            let selector = label_selector.clone();
            async move { users::<K>(client, namespace.as_deref(), selector.as_deref(), &batch).await }
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

/// The HelmReleases whose chart source is one of `sources`.
async fn users<K: Source>(
    client: Client,
    namespace: Option<&str>,
    label_selector: Option<&str>,
    sources: &[K],
) -> Vec<ObjectRef<HelmRelease>> {
    let api: Api<HelmRelease> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let wanted: HashSet<(String, String)> = sources
        .iter()
        .map(|s| (s.namespace().unwrap_or_default(), s.name_any()))
        .collect();
    // From the watch cache: a HelmRelease it does not hold yet was created or changed just
    // now, and is reconciled for that anyway.
    let mut params = ListParams::default().match_any();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    // A failed list is retried on the source's next change or the releases' own interval.
    let Ok(list) = api.list(&params).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|hr| {
            chart::source_ref(hr)
                .is_ok_and(|r| r.kind == K::KIND && wanted.contains(&(r.namespace, r.name)))
        })
        .map(ObjectRef::from_obj)
        .collect()
}
