//! What the benchmarks (`make bench-*`, the crates' `examples/`) and the
//! soak (`make soak`) share: the release binary next to the running
//! example, and a process's resident and peak memory.

use std::path::PathBuf;

/// The release binary `name` built beside the running example
/// (`target/release/examples/<bench>` → `target/release/<name>`).
///
/// # Panics
/// When it is not built; the message says which.
#[must_use]
#[allow(
    clippy::expect_used,
    reason = "benchmark support: a missing binary is a failed run"
)]
pub fn release_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running example's path");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join(name))
        .unwrap_or_default();
    assert!(bin.is_file(), "build it first: {}", bin.display());
    bin
}

/// The peak resident set size (`VmHWM`) of process `pid`, in MiB; 0 when
/// it cannot be read.
#[must_use]
pub fn peak_rss_mib(pid: u32) -> f64 {
    // Up to 4 TiB fits a u32 of KiB, and so an f64 exactly.
    status_kib(pid, "VmHWM:")
        .and_then(|kib| u32::try_from(kib).ok())
        .map_or(0.0, f64::from)
        / 1024.0
}

/// The resident set size (`VmRSS`) of process `pid` now, in KiB; `None`
/// when the process is gone or its status cannot be read.
#[must_use]
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// The `field` (such as `VmRSS:`) of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
