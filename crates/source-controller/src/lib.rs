//! The source-controller: turns sources (GitRepository, OCIRepository,
//! HelmRepository, HelmChart, Bucket) into verified artifacts served by the artifact server.

pub mod artifacts;
pub mod bucket;
pub mod git;
pub mod gitrepository;
pub mod helmchart;
pub mod helmrepository;
pub mod ocirepository;
pub mod semver;
pub mod sourceignore;
pub mod worktree;
