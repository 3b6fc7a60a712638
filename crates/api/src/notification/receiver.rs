//! `Receiver` (`notification.toolkit.fluxcd.io/v1`): an incoming webhook that,
//! once its payload is authenticated, asks Flux objects to reconcile at once.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CrossNamespaceObjectReference;
use crate::duration::GoDuration;
use crate::kind::{Contract, DurationField, Kind, durations};
use crate::meta::SUCCEEDED_REASON;
use crate::meta::{
    Condition, DURATION_PATTERN, LocalObjectReference, ReconcileRequestStatus, is_false,
};

/// The desired state of a Receiver.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    status = "ReceiverStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message"
    ),
    doc = "A webhook endpoint that triggers reconciles of Flux objects."
)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// The webhook sender; decides how requests are authenticated and parsed.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = [
        "generic",
        "generic-hmac",
        "generic-oidc",
        "github",
        "gitlab",
        "bitbucket",
        "harbor",
        "dockerhub",
        "quay",
        "gcr",
        "nexus",
        "acr",
        "cdevents"
    ]))]
    pub r#type: String,
    /// How often the Receiver is reconciled against its Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN), extend("default" = "10m"))]
    pub interval: Option<GoDuration>,
    /// Event types to act on, e.g. `push` (GitHub) or `Push Hook` (GitLab); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The objects asked to reconcile when a webhook is accepted.
    pub resources: Vec<ReceiverResource>,
    /// CEL expression, evaluated per resource, that must be true for it to be reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// Secret whose `token` authenticates the payload; needed by every type but
    /// `generic-oidc` (GCR also reads `email` and `audience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// The OIDC issuers trusted by a `generic-oidc` Receiver, one per issuer URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["issuerURL"]
    ))]
    pub oidc_providers: Vec<OidcProvider>,
    /// Ignores incoming webhooks while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// An object to reconcile, with an optional CEL filter of its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResource {
    /// The referenced objects.
    #[serde(flatten)]
    pub reference: CrossNamespaceObjectReference,
    /// CEL expression that, with `resourceFilter`, must be true for a match to be reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// An OIDC issuer whose tokens authenticate requests to a `generic-oidc` Receiver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    /// Issuer URL, used for discovery; must equal the token's `iss` claim.
    #[serde(rename = "issuerURL")]
    #[schemars(pattern(r"^https?://"))]
    pub issuer_url: String,
    /// Expected `aud` claim; `notification-controller` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Named CEL expressions over the claims, evaluated in order and exposed as `vars.<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<OidcVariable>,
    /// CEL checks over the claims and variables; all must be true to accept a request.
    #[schemars(length(min = 1))]
    pub validations: Vec<OidcValidation>,
}

/// A named CEL expression over the OIDC token claims.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcVariable {
    /// Variable name, a valid CEL identifier.
    pub name: String,
    /// CEL expression giving the variable's value.
    pub expression: String,
}

/// A CEL check over the OIDC token claims and variables.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcValidation {
    /// CEL expression that must evaluate to `true`.
    pub expression: String,
    /// Message returned to the caller when the expression is `false`.
    pub message: String,
}

/// The observed state of a Receiver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The path the webhook is served at, `/hook/<sha256 of token, name and namespace>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

/// How often a Receiver is reconciled when `spec.interval` is omitted, as in Flux.
pub const DEFAULT_INTERVAL: &str = "10m";

impl Kind for Receiver {
    type Status = ReceiverStatus;

    const CONTRACT: Contract = Contract {
        negative: &[],
        ready_reason: SUCCEEDED_REASON,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> GoDuration {
        self.spec
            .interval
            .clone()
            .unwrap_or_else(|| GoDuration::new(DEFAULT_INTERVAL))
    }
    fn durations(&self) -> Vec<DurationField<'_>> {
        durations(&[("spec.interval", self.spec.interval.as_ref())])
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition> {
        &mut status.conditions
    }
    fn set_observed_generation(status: &mut Self::Status, generation: i64) {
        status.observed_generation = Some(generation);
    }
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String> {
        &mut status.reconcile_request.last_handled_reconcile_at
    }
}
