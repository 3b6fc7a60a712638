//! `kustomize.toolkit.fluxcd.io/v1`: the `Kustomization` kind the kustomize-controller
//! builds and applies, plus the Kustomize building blocks (patches, selectors, image
//! overrides, CEL health checks) that mirror `github.com/fluxcd/pkg/apis/kustomize` and
//! that the `HelmRelease` post-renderers reuse.

pub mod kustomization;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use kustomization::{
    CommonMetadata, CrossNamespaceSourceReference, Decryption, DependencyReference,
    HistorySnapshot, KubeConfigReference, Kustomization, KustomizationSpec, KustomizationStatus,
    PostBuild, ResourceInventory, ResourceRef, SubstituteReference,
};

/// The API group of the kustomize kinds.
pub const GROUP: &str = "kustomize.toolkit.fluxcd.io";

/// An image override: a new name, tag or digest for every use of an image.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image name to match, without a tag.
    pub name: String,
    /// Replacement for the image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement for the image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// Replacement digest; takes precedence over `newTag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Selects resources; a resource must match every field that is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// API group of the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version of the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind of the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name (or regular expression over names) of the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Label-selector expression matched against the resources' annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Label-selector expression matched against the resources' labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// An inline strategic-merge or JSON 6902 patch and the resources it applies to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    /// The patch document, as YAML or JSON text.
    pub patch: String,
    /// The resources to patch; those named by the patch itself when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// CEL expressions that compute the health of a custom resource kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the resources the expressions apply to.
    pub api_version: String,
    /// Kind of the resources the expressions apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Expression that is true once the resource has reached its desired state.
    pub current: String,
    /// Expression that is true while the resource is still progressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// Expression that is true when the resource has failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}
