//! The kinds the reconcile loop can run: any namespaced Kubernetes resource
//! whose facts (Ready contract, interval, suspension, duration fields, status
//! fields) are declared by [`Kind`] beside its type in the API crate.

use ferroflux_api::kind::Kind;
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind the runtime can reconcile. Implemented for every namespaced
/// resource that implements [`Kind`]; nothing to implement by hand.
pub trait Object:
    Kind
    + Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Object for K where
    K: Kind
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}
