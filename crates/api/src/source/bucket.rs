//! `Bucket` (`source.toolkit.fluxcd.io/v1`): an object storage bucket (S3
//! compatible, AWS S3, Google Cloud Storage or Azure Blob Storage) whose
//! objects the source-controller packs into an artifact.

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

/// The desired state of a Bucket.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "Bucket",
    plural = "buckets",
    namespaced,
    status = "BucketStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".spec.endpoint"),
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
    doc = "An object storage bucket whose objects are packed into an artifact."
)]
#[serde(rename_all = "camelCase")]
pub struct BucketSpec {
    /// Storage provider: `generic` (any S3-compatible API, the default), `aws`, `gcp` or `azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["generic", "aws", "gcp", "azure"], "default" = "generic"))]
    pub provider: Option<String>,
    /// Name of the bucket.
    pub bucket_name: String,
    /// Address of the object storage service.
    pub endpoint: String,
    /// Security Token Service to get temporary credentials from (`aws` and `generic` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<BucketSTSSpec>,
    /// Connects to the endpoint over plain HTTP.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Region the bucket is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Key prefix the server filters the listed objects by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Secret with the provider's credentials (for example `accesskey` and `secretkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// `ServiceAccount` used for workload identity; not for the `generic` provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or a CA (`ca.crt`);
    /// `generic` provider only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Secret with the proxy (`address`, `username`, `password`) to reach the server through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// How often the bucket is checked for changes.
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: GoDuration,
    /// Timeout for listing and downloading objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(TIMEOUT_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<GoDuration>,
    /// Exclusion patterns in `.sourceignore` (gitignore) format, replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciling this object while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// A Security Token Service that hands out temporary bucket credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketSTSSpec {
    /// Kind of service: `aws` or `ldap`.
    #[schemars(extend("enum" = ["aws", "ldap"]))]
    pub provider: String,
    /// HTTP(S) address of the service.
    #[schemars(pattern(r"^(http|https)://.*$"))]
    pub endpoint: String,
    /// Secret with `username` and `password` for the service; `ldap` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with a client certificate (`tls.crt`, `tls.key`) and/or a CA (`ca.crt`) for the
    /// service; `ldap` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
}

/// The observed state of a Bucket.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `FetchFailed`, `ArtifactInStorage`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest artifact (best effort; prefer `artifact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The exclusion patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

impl Kind for Bucket {
    type Status = BucketStatus;

    const CONTRACT: Contract = Contract {
        negative: &[STORAGE_OPERATION_FAILED, FETCH_FAILED],
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
