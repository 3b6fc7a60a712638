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

pub mod duration;
pub mod event;
pub mod extensions;
pub mod helm;
pub mod kind;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod source;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

/// The CRDs of every kind this crate defines, in a stable order.
///
/// Optional fields are not marked `nullable`, as in Flux's CRDs: the API server
/// then drops an explicit `null` and applies the field's default, where a
/// nullable field would keep the `null`.
#[must_use]
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        source::GitRepository::crd(),
        source::OCIRepository::crd(),
        source::HelmRepository::crd(),
        source::HelmChart::crd(),
        source::Bucket::crd(),
        source::ExternalArtifact::crd(),
        extensions::ArtifactGenerator::crd(),
        kustomize::Kustomization::crd(),
        helm::HelmRelease::crd(),
        notification::Provider::crd(),
        notification::Alert::crd(),
        notification::Receiver::crd(),
    ];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
            {
                strip_nullable(schema);
            }
        }
    }
    crds
}

fn strip_nullable(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.not.as_deref_mut());
    for child in children {
        strip_nullable(child);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => strip_nullable(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(strip_nullable),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        strip_nullable(extra);
    }
}
