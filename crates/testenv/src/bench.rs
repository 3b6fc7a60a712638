//! What the benchmarks (`make bench-*`, the crates' `examples/`) share: the
//! release binary next to the running example, and a process's peak RSS.

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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
