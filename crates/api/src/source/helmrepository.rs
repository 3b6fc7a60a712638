//! `HelmRepository` (`source.toolkit.fluxcd.io/v1`): a Helm chart repository,
//! either an HTTP(S) index whose `index.yaml` the source-controller stores as
//! an artifact, or an OCI registry that `HelmChart` objects pull from.

use std::collections::BTreeMap;

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

/// The interval of a HelmRepository without `spec.interval`, as Flux's
/// CRD defaults it.
pub const DEFAULT_INTERVAL: &str = "10m";

/// The desired state of a HelmRepository.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "HelmRepository",
    plural = "helmrepositories",
    namespaced,
    status = "HelmRepositoryStatus",
    shortname = "helmrepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
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
    doc = "A Helm chart repository: an HTTP(S) index or an OCI registry."
)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// Address of the repository: `http://`, `https://` or `oci://`.
    #[schemars(pattern(r"^(http|https|oci)://.*$"))]
    pub url: String,
    /// Secret with credentials, `username` and `password` for basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or a CA (`ca.crt`);
    /// wins over TLS data in `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Sends the credentials also to hosts other than the repository's (chart URLs in the index).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pass_credentials: bool,
    /// How often the index is fetched; has no effect for the `oci` type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: Option<GoDuration>,
    /// Allows a plain-HTTP registry; only for the `oci` type.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Timeout for fetching the index or pulling OCI charts; 60s when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(TIMEOUT_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// Stops reconciling this object while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Namespaces allowed to refer to this object (provisional, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<AccessFrom>,
    /// Repository type: `default` (an HTTP(S) index) or `oci` (the URL must start with `oci://`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["default", "oci"]))]
    pub repository_type: Option<String>,
    /// Authentication provider for the `oci` type: `generic` (the default), `aws`, `azure`
    /// or `gcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["generic", "aws", "azure", "gcp"], "default" = "generic"))]
    pub provider: Option<String>,
}

/// An access control list of the namespaces that may refer to an object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Selectors of the allowed namespaces; a namespace matching any one is allowed.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// Selects namespaces by their labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Labels a namespace must all carry to be selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// The observed state of a HelmRepository.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositoryStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `FetchFailed`, `ArtifactInStorage`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest artifact (best effort; prefer `artifact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact (the stored index) of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

impl HelmRepository {
    /// Whether this is an OCI repository (`type: oci`): a static object
    /// HelmCharts read their registry settings from.
    #[must_use]
    pub fn is_oci(&self) -> bool {
        self.spec.repository_type.as_deref() == Some("oci")
    }
}

impl Kind for HelmRepository {
    type Status = HelmRepositoryStatus;

    const CONTRACT: Contract = Contract {
        negative: &[FETCH_FAILED, STORAGE_OPERATION_FAILED],
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
        durations(&[
            ("spec.interval", self.spec.interval.as_ref()),
            ("spec.timeout", self.spec.timeout.as_ref()),
        ])
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn is_static(&self) -> bool {
        self.is_oci()
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
