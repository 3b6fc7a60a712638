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
