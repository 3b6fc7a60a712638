//! `OCIRepository` (`source.toolkit.fluxcd.io/v1`): an OCI artifact in a
//! container registry whose selected layer the source-controller stores as an
//! artifact. Also holds the signature verification settings shared with
//! `HelmChart`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::kind::{Contract, DurationField, Kind, durations};
use crate::meta::SUCCEEDED_REASON;
use crate::meta::{
    Artifact, Condition, DURATION_PATTERN, LocalObjectReference, ReconcileRequestStatus,
    TIMEOUT_PATTERN, is_false,
};
use crate::source::conditions::{FETCH_FAILED, STORAGE_OPERATION_FAILED};

/// The desired state of an OCIRepository.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "OCIRepository",
    plural = "ocirepositories",
    namespaced,
    status = "OCIRepositoryStatus",
    shortname = "ocirepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
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
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "An OCI artifact in a container registry, stored as a source artifact."
)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositorySpec {
    /// Address of the artifact's repository, starting with `oci://`.
    #[schemars(pattern(r"^oci://.*$"))]
    pub url: String,
    /// The tag, semver range or digest to pull; the `latest` tag when omitted.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<OCIRepositoryRef>,
    /// Which layer of the artifact is used; the first layer when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<OCILayerSelector>,
    /// Authentication provider: `generic` (the default), `aws`, `azure` or `gcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["generic", "aws", "azure", "gcp"], "default" = "generic"))]
    pub provider: Option<String>,
    /// Kind of credential sent to the provider; only `ServiceAccountToken` (with `generic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["ServiceAccountToken"]))]
    pub credential: Option<String>,
    /// Audience claims put in JWT credentials; needed with `ServiceAccountToken`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Secret of type `kubernetes.io/dockerconfigjson` with the registry login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// How the artifact's signature is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
    /// `ServiceAccount` whose image pull secrets (or token) authenticate the pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or a CA (`ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy (`address`, `username`, `password`) to reach the registry through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// How often the registry is checked for a new artifact.
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: GoDuration,
    /// Timeout for registry operations such as pulling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(TIMEOUT_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<GoDuration>,
    /// Exclusion patterns in `.sourceignore` (gitignore) format, replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allows a plain-HTTP registry.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Stops reconciling this object while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// The artifact version to pull. Precedence: digest, semver, tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryRef {
    /// Exact digest to pull, `sha256:<hex>`; takes precedence over all others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Semver range; the highest matching tag is pulled. Takes precedence over `tag`.
    #[serde(rename = "semver", default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Regular expression the tags in the semver range must also match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// Tag to pull; `latest` when no field is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Which layer of an OCI artifact is used, and how.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCILayerSelector {
    /// Media type to look for; the first layer of that type is selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// `extract` (the default) unpacks the layer; `copy` stores it compressed, as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["extract", "copy"]))]
    pub operation: Option<String>,
}

/// How the signature of an OCI artifact (or OCI Helm chart) is verified.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryVerification {
    /// Signing technology: `cosign` or `notation`.
    #[serde(default = "crate::meta::default_verification_provider")]
    #[schemars(extend("enum" = ["cosign", "notation"], "default" = "cosign"))]
    pub provider: String,
    /// Secret with the trusted public keys (or Notation trust policy and certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Accepted keyless-signing identities; a signature passes if any one matches.
    #[serde(
        rename = "matchOIDCIdentity",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_oidc_identity: Vec<OIDCIdentityMatch>,
    /// Secret with a Sigstore `trusted_root.json`, for self-hosted Sigstore services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_secret_ref: Option<LocalObjectReference>,
}

/// An accepted keyless-signing identity: regular expressions over the
/// certificate's OIDC issuer and subject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCIdentityMatch {
    /// Go regular expression the certificate's OIDC issuer must match.
    pub issuer: String,
    /// Go regular expression the certificate's subject must match.
    pub subject: String,
}

/// The observed state of an OCIRepository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCIRepositoryStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `FetchFailed`, `ArtifactInStorage`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The exclusion patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The layer selector used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_layer_selector: Option<OCILayerSelector>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

impl Kind for OCIRepository {
    type Status = OCIRepositoryStatus;

    const CONTRACT: Contract = Contract {
        negative: &[FETCH_FAILED, STORAGE_OPERATION_FAILED],
        ready_reason: SUCCEEDED_REASON,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> GoDuration {
        self.spec.interval.clone()
    }
    fn durations(&self) -> Vec<DurationField<'_>> {
        durations(&[
            ("spec.interval", Some(&self.spec.interval)),
            ("spec.timeout", self.spec.timeout.as_ref()),
        ])
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
    fn revision(status: &Self::Status) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }
}
