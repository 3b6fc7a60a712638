//! `helm.toolkit.fluxcd.io/v2`: the `HelmRelease` kind the helm-controller turns into
//! Helm install, upgrade, test, rollback and uninstall actions.

pub mod helmrelease;

pub use helmrelease::{
    CrossNamespaceObjectReference, CrossNamespaceSourceReference, DriftDetection, Filter,
    HelmChartTemplate, HelmChartTemplateObjectMeta, HelmChartTemplateSpec,
    HelmChartTemplateVerification, HelmRelease, HelmReleaseSpec, HelmReleaseStatus, IgnoreRule,
    Install, InstallRemediation, InstallStrategy, Kustomize, PostRenderer, Rollback, Snapshot,
    Test, TestHookStatus, Uninstall, Upgrade, UpgradeRemediation, UpgradeStrategy, WaitStrategy,
};

/// The API group of the helm kinds.
pub const GROUP: &str = "helm.toolkit.fluxcd.io";
