//! The source-controller: turns sources (GitRepository first) into verified
//! tar.gz artifacts served by the artifact server.

pub mod git;
pub mod gitrepository;
pub mod semver;
pub mod sourceignore;
pub mod worktree;
