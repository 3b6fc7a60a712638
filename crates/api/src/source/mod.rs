//! `source.toolkit.fluxcd.io/v1`: the kinds the source-controller turns into artifacts.

pub mod bucket;
pub mod conditions;
pub mod externalartifact;
pub mod gitrepository;
pub mod helmchart;
pub mod helmrepository;
pub mod ocirepository;

pub use bucket::{Bucket, BucketSTSSpec, BucketSpec, BucketStatus};
pub use externalartifact::{ExternalArtifact, ExternalArtifactSpec, ExternalArtifactStatus};
pub use gitrepository::{
    GitRepository, GitRepositoryInclude, GitRepositoryRef, GitRepositorySpec, GitRepositoryStatus,
    GitRepositoryVerification,
};
pub use helmchart::{HelmChart, HelmChartSpec, HelmChartStatus, LocalHelmChartSourceReference};
pub use helmrepository::{
    AccessFrom, HelmRepository, HelmRepositorySpec, HelmRepositoryStatus, NamespaceSelector,
};
pub use ocirepository::{
    OCILayerSelector, OCIRepository, OCIRepositoryRef, OCIRepositorySpec, OCIRepositoryStatus,
    OCIRepositoryVerification, OIDCIdentityMatch,
};

/// The API group of the source kinds.
pub const GROUP: &str = "source.toolkit.fluxcd.io";
