//! Integration tests of the `ferroflux` command: the binary run as users
//! run it, against the shared real control plane, with the source-,
//! kustomize- and helm-controllers as their own processes, a real git
//! server, a real OCI registry and a real S3 server.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod artifacts;
mod bucket;
mod chart;
mod generators;
mod helmrelease;
mod install;
mod sops;
mod workflow;

use std::path::Path;
use std::process::Command;

/// Held by tests that change what every namespace sees (the CRDs), so
/// they never overlap with tests that need them.
pub(crate) static CLUSTER_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What one run of `ferroflux` gave.
pub(crate) struct Run {
    /// The exit code.
    pub code: i32,
    /// What it printed as results.
    pub stdout: String,
    /// Its progress and errors.
    pub stderr: String,
}

/// Runs `ferroflux args` against the cluster of `kubeconfig` (with no
/// terminal, so no colour and no spinner).
pub(crate) fn ferroflux(kubeconfig: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroflux"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`ferroflux`], failing the test unless the exit code is `code`.
pub(crate) fn expect(kubeconfig: &Path, code: i32, args: &[&str]) -> Run {
    let run = ferroflux(kubeconfig, args);
    assert_eq!(
        run.code,
        code,
        "ferroflux {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        run.stdout,
        run.stderr
    );
    run
}
