//! The source-controller: turns sources (GitRepository, OCIRepository) into
//! verified artifacts served by the artifact server.

pub mod git;
pub mod gitrepository;
pub mod ocirepository;
pub mod semver;
pub mod sourceignore;
pub mod worktree;
