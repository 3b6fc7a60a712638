//! `ferroflux-soak` (`make soak`): fault injection on one machine. The
//! four controllers run as processes (the helm-controller idle: the soak
//! delivers no HelmRelease) against a real control plane and a git server
//! demanding credentials, while a stream of commits (changes,
//! deletions, broken commits and their reverts) goes on and a driver
//! `SIGKILL`s random controllers, restarts the API server and takes the
//! git server away for a while. Then it checks that nothing was lost, left
//! behind or duplicated, that nothing leaked a credential and that memory
//! stayed flat, prints a report and exits non-zero when a check failed.
//! Settings are `SOAK_*` environment variables (see `config.rs` and
//! `e2e/README.md`).

mod checks;
mod config;
mod driver;
mod model;
mod record;
mod report;

use std::io::Write as _;
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

/// Writes `text` and a newline to stdout at once (progress is for a
/// person watching, so it is flushed line by line).
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            say(&format!("ferroflux-soak: {e:#}"));
            return ExitCode::from(2);
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        say("ferroflux-soak: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let outcome = runtime.block_on(run(&config));
    // Dropping the runtime waits for its blocking tasks (an API-server
    // restart in progress), so every process is gone when this returns.
    drop(runtime);
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            say(&format!("\nferroflux-soak failed: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs the soak until done, Ctrl-C or `SIGTERM`; whether every check
/// passed.
async fn run(config: &config::Config) -> anyhow::Result<bool> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        record = driver::run(config) => {
            let record = record?;
            say(&report::render(&record));
            Ok(record.checks.iter().all(|c| c.pass))
        }
        _ = interrupt.recv() => anyhow::bail!("interrupted"),
        _ = terminate.recv() => anyhow::bail!("terminated"),
    }
}
