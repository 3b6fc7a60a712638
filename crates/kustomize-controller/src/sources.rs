//! Source watches: when a GitRepository gets a new artifact, the
//! Kustomizations that use it are reconciled at once instead of at their
//! next interval, as Flux does.

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::source::GitRepository;
use futures_util::{Stream, StreamExt as _};
use kube::api::ListParams;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt as _, watcher};
use kube::{Api, Client, ResourceExt as _};

/// The Kustomizations to reconcile because a GitRepository they use (in
/// `namespace`, or anywhere) has a new artifact.
pub fn artifact_triggers(
    client: Client,
    namespace: Option<String>,
) -> impl Stream<Item = ObjectRef<Kustomization>> + Send + 'static {
    let repos: Api<GitRepository> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watcher(repos, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(artifact_hash, PredicateConfig::default())
        // A failed watch is retried by the backoff; nothing to trigger.
        .filter_map(|repo| async move { repo.ok() })
        .then(move |repo| {
            let client = client.clone();
            let namespace = namespace.clone();
            async move { users(client, namespace.as_deref(), &repo).await }
        })
        .flat_map(futures_util::stream::iter)
}

/// What makes a GitRepository's change worth passing on: its artifact.
#[expect(
    clippy::unnecessary_wraps,
    reason = "kube's predicates return Option<u64>"
)]
fn artifact_hash(repo: &GitRepository) -> Option<u64> {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let artifact = repo.status.as_ref().and_then(|s| s.artifact.as_ref());
    artifact.map(|a| (&a.revision, &a.digest)).hash(&mut h);
    Some(h.finish())
}

/// The Kustomizations whose `sourceRef` names `repo`.
async fn users(
    client: Client,
    namespace: Option<&str>,
    repo: &GitRepository,
) -> Vec<ObjectRef<Kustomization>> {
    let api: Api<Kustomization> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let repo_ns = repo.namespace().unwrap_or_default();
    let repo_name = repo.name_any();
    // A failed list is retried on the repository's next change or the
    // Kustomizations' own interval.
    let Ok(list) = api.list(&ListParams::default()).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|ks| {
            let source = &ks.spec.source_ref;
            let ks_ns = ks.namespace().unwrap_or_default();
            source.kind == "GitRepository"
                && source.name == repo_name
                && source.namespace.as_deref().unwrap_or(&ks_ns) == repo_ns
        })
        .map(ObjectRef::from_obj)
        .collect()
}
