//! `HelmRelease` (`helm.toolkit.fluxcd.io/v2`): a Helm chart release that the
//! helm-controller installs and keeps up to date, with configurable tests, drift
//! correction and failure remediation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::kind::{Contract, DurationField, Kind, durations};
use crate::kustomize::{
    CommonMetadata, CustomHealthCheck, DependencyReference, Image, KubeConfigReference, Patch,
    ResourceInventory, Selector,
};
use crate::meta::RECONCILIATION_SUCCEEDED_REASON;
use crate::meta::{
    Condition, DURATION_PATTERN, LocalObjectReference, ReconcileRequestStatus, ValuesReference,
    is_false,
};

/// The desired state of a HelmRelease.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "helm.toolkit.fluxcd.io",
    version = "v2",
    kind = "HelmRelease",
    plural = "helmreleases",
    namespaced,
    status = "HelmReleaseStatus",
    shortname = "hr",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-appliers",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
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
    doc = "A Helm chart release that is installed, upgraded, tested and remediated."
)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// Template of the `HelmChart` created for this release; exclusive with `chartRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// An existing source object holding the chart artifact; exclusive with `chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<CrossNamespaceSourceReference>,
    /// How often the release is reconciled.
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: GoDuration,
    /// Kubeconfig of a remote cluster to release to instead of the local one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Stops reconciling this object while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Name of the Helm release; `[<targetNamespace>-]<name>` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,
    /// Namespace the release is installed into; the `HelmRelease`'s namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Namespace Helm keeps the release records in; the `HelmRelease`'s namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Other `HelmRelease` objects that must be ready before this one is reconciled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,
    /// Timeout of each Kubernetes operation (such as hook Jobs) in a Helm action; `5m` when
    /// omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// Release revisions Helm keeps; `0` is unlimited, `5` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,
    /// `ServiceAccount` impersonated to perform the Helm actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
    /// Reuses one Kubernetes client for a whole reconcile; `true` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// How differences between the release manifest and the cluster are detected and handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Settings of Helm install actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// Settings of Helm upgrade actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Settings of Helm test actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Settings of Helm rollback actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Settings of Helm uninstall actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// `ConfigMap` and `Secret` values merged, in order, before `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,
    /// Inline chart values, merged last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("type" = "object", "x-kubernetes-preserve-unknown-fields" = true))]
    pub values: Option<serde_json::Value>,
    /// Post-renderers applied, in order, to the rendered manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<PostRenderer>,
    /// How post-renderers treat chart hooks: `nohooks`, `combined` or `separate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["nohooks", "combined", "separate"]))]
    pub post_render_strategy: Option<String>,
    /// Labels and annotations set on every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// CEL expressions that compute the health of custom resource kinds in the release.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<CustomHealthCheck>,
    /// How the controller waits for the release's objects to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,
}

/// The template of the `HelmChart` the controller creates next to the chart's source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplate {
    /// Labels and annotations of the `HelmChart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HelmChartTemplateObjectMeta>,
    /// Spec of the `HelmChart`.
    pub spec: HelmChartTemplateSpec,
}

/// Labels and annotations of a templated `HelmChart`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateObjectMeta {
    /// Labels of the `HelmChart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations of the `HelmChart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The spec of a templated `HelmChart`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name in a `HelmRepository`, or chart path in a `GitRepository` or Bucket.
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,
    /// Semver constraint on the chart version; ignored for Git and Bucket sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
    /// The source the chart is fetched from.
    pub source_ref: CrossNamespaceObjectReference,
    /// How often the source is checked for a new chart; the release's `interval` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: Option<GoDuration>,
    /// What produces a new chart artifact: a new `ChartVersion` or any source `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["ChartVersion", "Revision"], "default" = "ChartVersion"))]
    pub reconcile_strategy: Option<String>,
    /// Values files in the source merged, in order, as the chart's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Skips listed values files that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,
    /// Signature verification of OCI charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HelmChartTemplateVerification>,
}

/// How the signature of an OCI chart is verified.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateVerification {
    /// The signing technology: `cosign` or `notation`.
    #[serde(default = "crate::meta::default_verification_provider")]
    #[schemars(extend("enum" = ["cosign", "notation"], "default" = "cosign"))]
    pub provider: String,
    /// Secret with the trusted public keys or certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// The source a templated `HelmChart` fetches the chart from, in any namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the source.
    #[schemars(extend("enum" = ["HelmRepository", "GitRepository", "Bucket"]))]
    pub kind: String,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source; the `HelmRelease`'s namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// An existing source object holding a chart artifact, in any namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the source.
    #[schemars(extend("enum" = ["OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: String,
    /// Name of the source.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the source; the `HelmRelease`'s namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

/// A post-renderer applied to the rendered manifests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostRenderer {
    /// Kustomize patches and image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<Kustomize>,
}

/// A Kustomize post-renderer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Kustomize {
    /// Inline patches applied to the rendered objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// Image name, tag and digest overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// How drift between the release manifest and the cluster is handled.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftDetection {
    /// `enabled` corrects drift, `warn` only reports it, `disabled` (the default) ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["enabled", "warn", "disabled"]))]
    pub mode: Option<String>,
    /// Changes left out of drift detection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

/// Fields that drift detection disregards.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// JSON Pointers (RFC 6901) of the ignored fields.
    pub paths: Vec<String>,
    /// The objects the rule applies to; every object of the release when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Which waiter decides that the release's objects are ready.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitStrategy {
    /// `poller` (kstatus-based) or `legacy` (Helm's original waiter).
    #[schemars(extend("enum" = ["poller", "legacy"]))]
    pub name: String,
}

/// Settings of Helm install actions.
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors Flux's API, whose options are independent booleans"
)]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Timeout of each Kubernetes operation during an install; the release's `timeout`
    /// when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// What to do when an install fails; nothing when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Whether a failed install is remediated or simply retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<InstallStrategy>,
    /// Does not wait for the objects to become ready after installing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Does not wait for Jobs to complete after installing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Skips the chart's hooks during the install.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Skips validating the rendered manifests against the cluster's `OpenAPI` schema.
    #[serde(
        rename = "disableOpenAPIValidation",
        default,
        skip_serializing_if = "is_false"
    )]
    pub disable_openapi_validation: bool,
    /// Skips validating the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Refuses to adopt existing objects not yet owned by the release.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Reuses the release name when it belongs to a deleted release kept in the history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace: bool,
    /// Skips installing CRDs; deprecated in favour of `crds: Skip`.
    #[serde(rename = "skipCRDs", default, skip_serializing_if = "is_false")]
    pub skip_crds: bool,
    /// CRD policy for the chart's `crds` directory: `Skip`, `Create` (the default) or
    /// `CreateReplace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Skip", "Create", "CreateReplace"]))]
    pub crds: Option<String>,
    /// Creates the target namespace when missing; it is never deleted on uninstall.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_namespace: bool,
    /// Applies the objects with server-side apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

/// How a failed install is handled between attempts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Attempts after the first failure, uninstalling in between; negative is unlimited,
    /// `0` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Ignores failed tests after an install; `test.ignoreFailures` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediates the last failure once no retries remain; `false` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

/// Whether a failed install is remediated or retried.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallStrategy {
    /// `RemediateOnFailure` applies `remediation`; `RetryOnFailure` retries without it.
    #[schemars(extend("enum" = ["RemediateOnFailure", "RetryOnFailure"]))]
    pub name: String,
    /// Delay between retries, only with `RetryOnFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub retry_interval: Option<GoDuration>,
}

/// Settings of Helm upgrade actions.
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors Flux's API, whose options are independent booleans"
)]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Timeout of each Kubernetes operation during an upgrade; the release's `timeout`
    /// when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// What to do when an upgrade fails; nothing when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Whether a failed upgrade is remediated or simply retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<UpgradeStrategy>,
    /// Does not wait for the objects to become ready after upgrading.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Does not wait for Jobs to complete after upgrading.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Skips the chart's hooks during the upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Skips validating the rendered manifests against the cluster's `OpenAPI` schema.
    #[serde(
        rename = "disableOpenAPIValidation",
        default,
        skip_serializing_if = "is_false"
    )]
    pub disable_openapi_validation: bool,
    /// Skips validating the values against the chart's JSON schema.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Refuses to adopt existing objects not yet owned by the release.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Replaces objects whose update fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Reuses the previous release's values and merges the new ones over them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_values: bool,
    /// Deletes objects created by a failed upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// CRD policy for the chart's `crds` directory: `Skip` (the default), `Create` or
    /// `CreateReplace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Skip", "Create", "CreateReplace"]))]
    pub crds: Option<String>,
    /// Server-side apply for upgrades: `enabled`, `disabled`, or `auto` to keep what the
    /// release was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["enabled", "disabled", "auto"]))]
    pub server_side_apply: Option<String>,
    /// What happens when the chart's name changes: `InPlaceUpdate` or `Reinstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["InPlaceUpdate", "Reinstall"]))]
    pub chart_name_change_strategy: Option<String>,
}

/// How a failed upgrade is handled between attempts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Attempts after the first failure, remediating in between; negative is unlimited,
    /// `0` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Ignores failed tests after an upgrade; `test.ignoreFailures` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediates the last failure once no retries remain; `true` when `retries` is
    /// positive, else `false`, when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// How a failure is remediated: `rollback` (the default) or `uninstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["rollback", "uninstall"]))]
    pub strategy: Option<String>,
}

/// Whether a failed upgrade is remediated or retried.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    /// `RemediateOnFailure` applies `remediation`; `RetryOnFailure` retries without it.
    #[schemars(extend("enum" = ["RemediateOnFailure", "RetryOnFailure"]))]
    pub name: String,
    /// Delay between retries, only with `RetryOnFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub retry_interval: Option<GoDuration>,
}

/// Settings of Helm test actions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Runs the chart's tests after every install and upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable: bool,
    /// Timeout of each Kubernetes operation during the tests; the release's `timeout`
    /// when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// Does not remediate when tests fail, unless overridden per action.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_failures: bool,
    /// Tests to run or to exclude; all tests when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
}

/// Selects one chart test to run or exclude.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Name of the test.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Excludes the test instead of selecting it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
}

/// Settings of Helm rollback actions.
#[expect(
    clippy::struct_excessive_bools,
    reason = "mirrors Flux's API, whose options are independent booleans"
)]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Timeout of each Kubernetes operation during a rollback; the release's `timeout`
    /// when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// Does not wait for the objects to become ready after rolling back.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Does not wait for Jobs to complete after rolling back.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Skips the chart's hooks during the rollback.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Restarts the pods of the rolled-back workloads.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recreate: bool,
    /// Replaces objects whose update fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Deletes objects created by a failed rollback.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// Server-side apply for rollbacks: `enabled`, `disabled`, or `auto` to keep what the
    /// target revision used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["enabled", "disabled", "auto"]))]
    pub server_side_apply: Option<String>,
}

/// Settings of Helm uninstall actions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Timeout of each Kubernetes operation during an uninstall; the release's `timeout`
    /// when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// Skips the chart's hooks during the uninstall.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Deletes the objects but keeps the release history, marked as uninstalled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_history: bool,
    /// Does not wait for the objects to be gone after uninstalling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Deletion propagation policy: `background` (the default), `foreground` or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["background", "foreground", "orphan"], "default" = "background"))]
    pub deletion_propagation: Option<String>,
}

/// The observed state of a HelmRelease.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Digest of the post-renderers of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_post_renderers_digest: Option<String>,
    /// Digest of the common metadata of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_common_metadata_digest: Option<String>,
    /// The generation of the last reconcile attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `Released`, `TestSuccess`, `Remediated`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `<namespace>/<name>` of the `HelmChart` created for the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<String>,
    /// Namespace of the Helm storage of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// Releases performed, newest first, back to the last successful one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Snapshot>,
    /// The last release action attempted, which selects the active remediation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["install", "upgrade"]))]
    pub last_attempted_release_action: Option<String>,
    /// How long the last release action took, as a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action_duration: Option<String>,
    /// Reconcile failures since the desired state last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// Install failures since the desired state last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// Upgrade failures since the desired state last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
    /// Chart revision of the last attempt (OCI sources append a digest prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Digest of the chart of the last attempt, for OCIRepository sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision_digest: Option<String>,
    /// SHA1 of the values of the last attempt; deprecated for `lastAttemptedConfigDigest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_values_checksum: Option<String>,
    /// Revision of the last successful release; deprecated for `history`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_release_revision: Option<i64>,
    /// Digest of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// The last `reconcile.fluxcd.io/forceAt` value the controller handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
    /// The last `reconcile.fluxcd.io/resetAt` value the controller handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
    /// The objects of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
}

/// A point-in-time record of one Helm release revision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Version of the digest calculation used for this snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The Helm action that produced the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Digest of the stored release object, `<algorithm>:<checksum>`.
    pub digest: String,
    /// Name of the release.
    pub name: String,
    /// Namespace the release is deployed to.
    pub namespace: String,
    /// Revision number of the release.
    pub version: i64,
    /// Helm status of the revision, e.g. `deployed`, `superseded`, `failed`.
    pub status: String,
    /// Name of the chart.
    pub chart_name: String,
    /// Version of the chart.
    pub chart_version: String,
    /// Application version the chart declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Digest of the values of the revision, `<algorithm>:<checksum>`.
    pub config_digest: String,
    /// When the release was first deployed.
    pub first_deployed: Time,
    /// When this revision was deployed.
    pub last_deployed: Time,
    /// When the revision was uninstalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Time>,
    /// Test hooks the controller saw run, by name; empty when the chart has no tests,
    /// absent when tests did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hooks: Option<BTreeMap<String, TestHookStatus>>,
    /// Digest of the OCI artifact the chart came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
}

/// The observed run of one test hook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestHookStatus {
    /// When the hook last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<Time>,
    /// When the hook last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<Time>,
    /// Phase the hook was seen in, e.g. `Succeeded` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// Flux's condition and reason names for HelmReleases.
pub mod names {
    /// Whether the last release action (install, upgrade) succeeded.
    pub const RELEASED: &str = "Released";
    /// Whether the release's tests passed.
    pub const TEST_SUCCESS: &str = "TestSuccess";
    /// `True` once a failed release was remediated (rolled back or uninstalled): negative.
    pub const REMEDIATED: &str = "Remediated";
    /// The install succeeded.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// The install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// The upgrade succeeded.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// The upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// The rollback (remediation) succeeded.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// The rollback failed.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// The uninstall (remediation) succeeded.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// The uninstall failed.
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// The chart or its source is not ready, or did not load.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// The chart failed to load from its artifact.
    pub const CHART_LOAD_ERROR: &str = "ChartLoadError";
    /// The `HelmChart` for `spec.chart` could not be created or updated.
    pub const HELM_CHART_RECONCILIATION_FAILED: &str = "HelmChartReconciliationFailed";
    /// A `valuesFrom` reference could not be read.
    pub const INIT_FAILED: &str = "InitFailed";
    /// The release storage could not be read or written.
    pub const GET_LAST_RELEASE_FAILED: &str = "GetLastReleaseFailed";
    /// A `dependsOn` HelmRelease is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// A spec field this controller does not implement yet.
    pub const UNSUPPORTED: &str = "UnsupportedConfiguration";
    /// A `spec.driftDetection.ignore` rule that cannot be used (a malformed selector).
    pub const INVALID_DRIFT_IGNORE_RULE: &str = "InvalidDriftIgnoreRule";
}

impl Kind for HelmRelease {
    type Status = HelmReleaseStatus;

    // `Remediated=True` makes Ready false with its reason, as Flux's summary does.
    const CONTRACT: Contract = Contract {
        negative: &[names::REMEDIATED],
        ready_reason: RECONCILIATION_SUCCEEDED_REASON,
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
            (
                "spec.install.timeout",
                self.spec.install.as_ref().and_then(|i| i.timeout.as_ref()),
            ),
            (
                "spec.upgrade.timeout",
                self.spec.upgrade.as_ref().and_then(|u| u.timeout.as_ref()),
            ),
            (
                "spec.rollback.timeout",
                self.spec.rollback.as_ref().and_then(|r| r.timeout.as_ref()),
            ),
            (
                "spec.uninstall.timeout",
                self.spec
                    .uninstall
                    .as_ref()
                    .and_then(|u| u.timeout.as_ref()),
            ),
            (
                "spec.test.timeout",
                self.spec.test.as_ref().and_then(|t| t.timeout.as_ref()),
            ),
            (
                "spec.install.strategy.retryInterval",
                self.spec
                    .install
                    .as_ref()
                    .and_then(|i| i.strategy.as_ref())
                    .and_then(|s| s.retry_interval.as_ref()),
            ),
            (
                "spec.upgrade.strategy.retryInterval",
                self.spec
                    .upgrade
                    .as_ref()
                    .and_then(|u| u.strategy.as_ref())
                    .and_then(|s| s.retry_interval.as_ref()),
            ),
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
        status.last_attempted_revision.clone()
    }
}
