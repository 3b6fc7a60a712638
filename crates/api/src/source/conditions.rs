//! The condition types the source kinds report besides `Ready`, `Reconciling`
//! and `Stalled`, as Flux's source API names them.

/// Negative: the last fetch failed.
pub const FETCH_FAILED: &str = "FetchFailed";
/// Positive: the artifact in status exists in storage.
pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
/// Negative: writing to or reading from storage failed.
pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
/// Negative: an included GitRepository or its artifact is missing.
pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
/// Negative: building (packaging) the chart failed.
pub const BUILD_FAILED: &str = "BuildFailed";
