//! `ferroflux-testenv`: starts a test control plane by hand (`make testenv`),
//! prints how to reach it, and stops it on Ctrl-C or SIGTERM.

#![expect(clippy::print_stdout, reason = "a command-line tool reports on stdout")]

use std::time::Instant;

use anyhow::Context as _;
use ferroflux_testenv::{ControlPlane, KUBERNETES_VERSION};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let cp = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .context("control plane start-up task failed")?
        .context("the test control plane did not start")?;
    let pids: Vec<String> = cp
        .pids()
        .iter()
        .map(|(name, pid)| format!("{name}={pid}"))
        .collect();
    println!(
        "Control plane ready (Kubernetes {KUBERNETES_VERSION}) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    println!("  export KUBECONFIG={}", cp.kubeconfig().display());
    println!("  server: {}", cp.server());
    println!("  state directory: {}", cp.dir().display());
    println!("  component pids: {}", pids.join(" "));
    println!("Press Ctrl-C to stop.");

    let mut term =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler failed")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C failed")?,
        _ = term.recv() => {}
    }
    println!("Stopping the control plane...");
    tokio::task::spawn_blocking(move || cp.stop())
        .await
        .context("control plane shutdown task failed")?;
    println!("Stopped.");
    Ok(())
}
