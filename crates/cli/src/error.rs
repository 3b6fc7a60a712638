//! What can go wrong, said so the user knows what to do next, and the
//! exit code each failure gives.

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags that do not fit together, or a value that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// No kubeconfig, or the API server does not answer.
    #[error("cannot reach the cluster: {0}; check KUBECONFIG, --kubeconfig and --context")]
    Connect(String),
    /// The Flux CRDs are not installed.
    #[error("{0} is not known to the cluster; install the CRDs with `ferroflux install`")]
    NotInstalled(String),
    /// The object does not exist.
    #[error(
        "{kind} '{name}' not found in namespace '{namespace}'; list them with `ferroflux get {cli}`"
    )]
    NotFound {
        /// `GitRepository`.
        kind: String,
        /// The name asked for.
        name: String,
        /// The namespace looked in.
        namespace: String,
        /// How the kind is typed in the CLI.
        cli: String,
    },
    /// The API server refused a request.
    #[error("{what}: {reason}")]
    Api {
        /// What was being done.
        what: String,
        /// The server's answer.
        reason: String,
    },
    /// The object reconciled and is not Ready.
    #[error("{0}")]
    NotReady(String),
    /// Waiting took longer than `--timeout`.
    #[error(
        "timed out after {seconds}s waiting for {what}; check it with `ferroflux events` and `ferroflux get`"
    )]
    Timeout {
        /// What was awaited.
        what: String,
        /// The timeout.
        seconds: u64,
    },
    /// An OCI registry refused or failed an artifact verb.
    #[error("{0}")]
    Registry(String),
    /// The local build failed.
    #[error("{0}")]
    Build(String),
    /// Checks found problems, or a diff found drift; the details were
    /// printed.
    #[error("{0}")]
    Found(String),
}

impl Error {
    /// The process exit code: 1 when the operation failed or found a
    /// problem, 2 for bad usage, 3 when the cluster cannot be reached or
    /// lacks the CRDs.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Connect(_) | Self::NotInstalled(_) => 3,
            _ => 1,
        }
    }

    /// An API error while doing `what`; a 404 for an unknown resource type
    /// means the CRDs are missing.
    #[must_use]
    pub fn api(what: &str, error: &kube::Error) -> Self {
        match error {
            kube::Error::Api(status)
                if status.code == 404
                    && status.reason == "NotFound"
                    && status
                        .message
                        .contains("the server could not find the requested resource") =>
            {
                Self::NotInstalled(what.to_owned())
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => {
                Self::Connect(format!("{what}: {error}"))
            }
            kube::Error::Api(status) => Self::Api {
                what: what.to_owned(),
                reason: status.message.clone(),
            },
            other => Self::Api {
                what: what.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// A command's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
