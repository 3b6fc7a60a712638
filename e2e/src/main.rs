//! `ferroflux-demo` (`make demo`): Ferroflux delivering a sample app from
//! git on this machine, with nothing installed by hand. See `demo.rs` for
//! what it shows; this file only wires the stop signal.

mod demo;

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    // Registered before anything starts, so Ctrl-C during start-up also
    // ends in the clean-up below rather than the default abrupt exit.
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        demo::say("ferroflux-demo: cannot install the Ctrl-C handler");
        return ExitCode::FAILURE;
    };
    let outcome = tokio::select! {
        outcome = demo::run() => outcome,
        _ = interrupt.recv() => Ok(()),
        _ = terminate.recv() => Ok(()),
    };
    // `run` has been dropped here: the controllers, the git server and the
    // control plane it started are stopped and their directories removed.
    match outcome {
        Ok(()) => {
            demo::say("\nStopped: the controllers, the git server and the control plane are gone.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            demo::say(&format!("\nferroflux-demo failed: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
