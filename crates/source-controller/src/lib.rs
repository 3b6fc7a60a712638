//! The source-controller: turns sources (GitRepository, OCIRepository,
//! HelmRepository, HelmChart) into verified artifacts served by the artifact server.

pub mod git;
pub mod gitrepository;
pub mod helmchart;
pub mod helmrepository;
pub mod ocirepository;
pub mod semver;
pub mod sourceignore;
pub mod worktree;
