//! `ferroflux-demo` (`make demo`): Ferroflux delivering a sample app from
//! git on this machine, with nothing installed by hand. See `demo.rs` for
//! what it shows; this file only wires the runtime and the stop signals.

mod demo;

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        demo::say("ferroflux-demo: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let outcome = runtime.block_on(run());
    // Dropping the runtime waits for its blocking tasks: a control plane
    // still starting when the signal came is stopped once its start-up
    // returns, so everything is gone by the time this says so.
    drop(runtime);
    match outcome {
        Ok(()) => {
            demo::say("Stopped: the controllers, the git server and the control plane are gone.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            demo::say(&format!("\nferroflux-demo failed: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs the demo until Ctrl-C, `SIGTERM` or a closed terminal; dropping it
/// stops and removes what it started.
async fn run() -> anyhow::Result<()> {
    // Registered before anything starts, so a signal during start-up also
    // ends in the clean-up rather than the default abrupt exit.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::select! {
        outcome = demo::run() => outcome,
        _ = interrupt.recv() => {
            demo::say("\nStopping...");
            Ok(())
        }
        _ = terminate.recv() => {
            demo::say("\nStopping...");
            Ok(())
        }
        // The terminal is gone: nobody to tell.
        _ = hangup.recv() => Ok(()),
    }
}
