//! `HelmChart` (`source.toolkit.fluxcd.io/v1`): a Helm chart taken from a
//! `HelmRepository`, `GitRepository` or `Bucket` and packaged by the
//! source-controller into an artifact.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ocirepository::OCIRepositoryVerification;
use crate::duration::GoDuration;
use crate::kind::{Contract, DurationField, Kind, durations};
use crate::meta::SUCCEEDED_REASON;
use crate::meta::{Artifact, Condition, DURATION_PATTERN, ReconcileRequestStatus, is_false};
use crate::source::conditions::{BUILD_FAILED, FETCH_FAILED, STORAGE_OPERATION_FAILED};

/// The desired state of a HelmChart.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "HelmChart",
    plural = "helmcharts",
    namespaced,
    status = "HelmChartStatus",
    shortname = "hc",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    printcolumn(name = "Chart", type_ = "string", json_path = ".spec.chart"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(
        name = "Source Kind",
        type_ = "string",
        json_path = ".spec.sourceRef.kind"
    ),
    printcolumn(
        name = "Source Name",
        type_ = "string",
        json_path = ".spec.sourceRef.name"
    ),
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
    doc = "A Helm chart from a source, packaged into an artifact."
)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartSpec {
    /// Chart name in a `HelmRepository`, or the chart's path in a `GitRepository` or `Bucket`.
    pub chart: String,
    /// Semver constraint on the chart version (only for `HelmRepository` sources); `*` (the
    /// latest) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
    /// The source object the chart is taken from.
    pub source_ref: LocalHelmChartSourceReference,
    /// How often the source is checked for a new chart.
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: GoDuration,
    /// What triggers a new artifact: `ChartVersion` (the default) or the source's `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["ChartVersion", "Revision"], "default" = "ChartVersion"))]
    pub reconcile_strategy: Option<String>,
    /// Values files in the source merged, in order, into the chart's default values
    /// (the chart's own `values.yaml` only if listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Skips listed values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,
    /// Stops reconciling this object while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// How the chart's signature is checked; only for `oci` `HelmRepository` sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OCIRepositoryVerification>,
}

/// A typed reference to the source of a chart, in the chart's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalHelmChartSourceReference {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent: `HelmRepository`, `GitRepository` or `Bucket`.
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: String,
    /// Name of the referent.
    pub name: String,
}

/// The observed state of a HelmChart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The source artifact revision the current chart was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_source_artifact_revision: Option<String>,
    /// The chart name resolved from the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_chart_name: Option<String>,
    /// The values files merged into the current chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_values_files: Vec<String>,
    /// `Ready`, `Reconciling`, `Stalled`, `FetchFailed`, `ArtifactInStorage`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Download address of the latest artifact (best effort; prefer `artifact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The packaged chart of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

impl Kind for HelmChart {
    type Status = HelmChartStatus;

    const CONTRACT: Contract = Contract {
        negative: &[FETCH_FAILED, BUILD_FAILED, STORAGE_OPERATION_FAILED],
        ready_reason: SUCCEEDED_REASON,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> GoDuration {
        self.spec.interval.clone()
    }
    fn durations(&self) -> Vec<DurationField<'_>> {
        durations(&[("spec.interval", Some(&self.spec.interval))])
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
