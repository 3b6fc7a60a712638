//! Flux-compatible API types for Ferroflux.
//!
//! Every kind matches Flux's group, version, kind and JSON field names, so
//! existing Flux manifests deserialise, apply and round-trip unchanged. This
//! crate holds types only (serde, schemars and kube's derive): no I/O, nothing
//! async. The CRD YAML under `crds/` is generated from [`all_crds`].

#![expect(
    clippy::duplicated_attributes,
    reason = "kube's derive takes one `category` or `printcolumn` per entry, so those keys repeat"
)]

pub mod helm;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod source;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs of every kind this crate defines, in a stable order.
#[must_use]
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        source::GitRepository::crd(),
        source::OCIRepository::crd(),
        source::HelmRepository::crd(),
        source::HelmChart::crd(),
        source::Bucket::crd(),
        kustomize::Kustomization::crd(),
        helm::HelmRelease::crd(),
        notification::Provider::crd(),
        notification::Alert::crd(),
        notification::Receiver::crd(),
    ]
}
