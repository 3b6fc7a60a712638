//! Errors of the test control plane: each names the step that failed and, for a
//! process, the tail of its log.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while starting or using the test control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A binary the control plane needs is not where the installer puts it.
    #[error(
        "{name} not found at {}: run `make deps` (scripts/install-deps.sh) to build the control plane, \
         or point FERROFLUX_CONTROL_PLANE_BIN at a directory holding etcd, kube-apiserver and kube-controller-manager",
        path.display()
    )]
    MissingBinary {
        /// The binary's name.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Preparing the control plane's files or ports failed.
    #[error("preparing the control plane failed at step '{step}': {source}")]
    Prepare {
        /// The step, e.g. "generate the service-account key".
        step: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component could not be started at all.
    #[error("starting {component} failed: {source}")]
    Spawn {
        /// The component, e.g. "kube-apiserver".
        component: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A component exited while the control plane was starting.
    #[error("{component} exited during start-up ({status}); last lines of its log:\n{log_tail}")]
    Exited {
        /// The component that exited.
        component: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its log file.
        log_tail: String,
    },
    /// The control plane did not reach a step in time.
    #[error(
        "the control plane did not {step} within {waited:?}: {last_error}; last lines of the {component} log:\n{log_tail}"
    )]
    NotReady {
        /// What was waited for, e.g. "answer /readyz".
        step: &'static str,
        /// How long it was waited for.
        waited: Duration,
        /// The last error seen while polling.
        last_error: String,
        /// The component whose log is shown.
        component: &'static str,
        /// The end of that component's log.
        log_tail: String,
    },
    /// Building a Kubernetes client for the control plane failed.
    #[error("connecting to the test control plane failed: {0}")]
    Client(String),
    /// A request to the test control plane failed.
    #[error("test control plane request '{step}' failed: {source}")]
    Request {
        /// The request, e.g. "create namespace".
        step: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
