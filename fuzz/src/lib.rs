//! What the fuzz targets share: splitting one input into parts, and a
//! scratch directory per process.

use std::path::Path;
use std::sync::OnceLock;

/// The parts of `data` separated by NUL bytes, as text; `None` when the
/// input is not UTF-8 (the parsers under test take text).
#[must_use]
pub fn parts(data: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split('\0').collect())
}

/// The first YAML document of each of the first two parts of `data`; `None`
/// when either is missing or does not parse.
#[must_use]
pub fn two_documents(data: &[u8]) -> Option<(serde_json::Value, serde_json::Value)> {
    let parts = parts(data)?;
    let first = ferroflux_kustomize::yaml::parse_documents(parts.first()?).ok()?;
    let second = ferroflux_kustomize::yaml::parse_documents(parts.get(1)?).ok()?;
    Some((first.into_iter().next()?, second.into_iter().next()?))
}

/// A directory for this process's scratch files, created once and kept
/// for the whole run (a fresh one per input would dominate the time).
///
/// # Panics
/// When no temporary directory can be created: the run cannot go on.
#[must_use]
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory for the fuzz target"))
        .path()
}
