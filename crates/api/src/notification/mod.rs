//! `notification.toolkit.fluxcd.io`: the kinds the notification-controller uses
//! to forward events (`Provider` and `Alert`, `v1beta3`) and to turn incoming
//! webhooks into reconcile requests (`Receiver`, `v1`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod alert;
pub mod provider;
pub mod receiver;

pub use alert::{Alert, AlertSpec};
pub use provider::{Provider, ProviderSpec};
pub use receiver::{
    OidcProvider, OidcValidation, OidcVariable, Receiver, ReceiverResource, ReceiverSpec,
    ReceiverStatus,
};

/// The API group of the notification kinds.
pub const GROUP: &str = "notification.toolkit.fluxcd.io";

/// A typed reference to Flux objects in any namespace, by name, `*` or labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the referent; any version of the kind when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent; only Flux kinds are accepted.
    #[schemars(extend("enum" = [
        "Bucket",
        "GitRepository",
        "Kustomization",
        "HelmRelease",
        "HelmChart",
        "HelmRepository",
        "ImageRepository",
        "ImagePolicy",
        "ImageUpdateAutomation",
        "OCIRepository",
        "ArtifactGenerator",
        "ExternalArtifact",
        "FluxInstance",
        "ResourceSet",
        "ResourceSetInputProvider"
    ]))]
    pub kind: String,
    /// Name of the referent, or `*` for every object of the kind.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent, or `*` (with name `*`) for every namespace;
    /// the referrer's namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the referents must all carry; needs name `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}
