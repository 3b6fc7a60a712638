//! A Ferroflux controller binary run as its own process against the shared
//! control plane, as in production: its own metrics and health ports, a log
//! file, killed and reaped on drop, restarted in place as a kubelet would.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::error::{Error, Result};

/// A free loopback port (bound once, then released for the process to take),
/// never one this process handed out before: the kernel may give a port
/// just released straight back, and two of a controller's ports (metrics
/// and health, asked for one after the other) then collided.
///
/// # Panics
/// When no port can be bound on 127.0.0.1.
#[must_use]
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Bounded: the loopback range holds tens of thousands of ports, and
    // every attempt holds its listener so the next one gets another port.
    let mut held = Vec::new();
    for _ in 0..1000 {
        #[allow(
            clippy::expect_used,
            reason = "a test machine without loopback cannot run tests"
        )]
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        #[allow(clippy::expect_used, reason = "a bound listener has a local address")]
        let port = listener.local_addr().expect("a bound address").port();
        if handed_out.insert(port) {
            return port;
        }
        held.push(listener);
    }
    #[allow(
        clippy::panic,
        reason = "a thousand ports in a row already handed out: the test process is broken"
    )]
    {
        panic!("no loopback port left that this process has not handed out already")
    }
}

/// A binary of this workspace, built into the same target directory as the
/// running binary: beside it (`target/debug/<name>` for another binary) or
/// one directory up (a test binary runs from `target/debug/deps/`).
/// `cargo test --workspace` builds every binary before running tests.
///
/// # Panics
/// When the binary is not built, naming the command that builds it.
#[must_use]
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let beside = exe.parent().map(|d| d.join(name)).unwrap_or_default();
    if beside.is_file() {
        return beside;
    }
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(name))
        .unwrap_or_default();
    assert!(
        path.is_file(),
        "{} is not built; run `cargo build --workspace --bins` (make test builds every binary)",
        path.display()
    );
    path
}

/// A running controller.
pub struct ControllerProcess {
    child: Child,
    /// The port `/metrics` is served on.
    pub metrics_port: u16,
    /// The port `/healthz` is served on.
    pub health_port: u16,
    launch: Launch,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

/// How a controller was started, to start it again the same way.
struct Launch {
    binary: PathBuf,
    args: Vec<String>,
    kubeconfig: PathBuf,
    ns: String,
    pod: String,
}

impl Launch {
    /// Starts the process with its stderr going to `log`.
    fn spawn(&self, log: std::fs::File) -> std::io::Result<Child> {
        Command::new(&self.binary)
            .args(&self.args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUNTIME_NAMESPACE", &self.ns)
            .env("POD_NAME", &self.pod)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
    }
}

impl ControllerProcess {
    /// Starts `binary` watching only namespace `ns`, as pod `pod`, with the
    /// control plane's kubeconfig and `extra` flags.
    ///
    /// # Panics
    /// When the process cannot be started.
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "test support: a failed start is a failed test"
    )]
    pub fn start(binary: &Path, kubeconfig: &Path, ns: &str, pod: &str, extra: &[String]) -> Self {
        let (metrics_port, health_port) = (free_port(), free_port());
        let log_dir = tempfile::tempdir().expect("a temporary directory for the log");
        let log = log_dir.path().join(format!("{pod}.log"));
        // Debug logs unless the caller chose a level (benchmarks do).
        let level = if extra.iter().any(|a| a.starts_with("--log-level")) {
            None
        } else {
            Some("--log-level=debug".to_owned())
        };
        let mut args = vec![
            "--watch-all-namespaces=false".to_owned(),
            "--log-encoding=console".to_owned(),
        ];
        args.extend(level);
        args.push(format!("--metrics-addr=127.0.0.1:{metrics_port}"));
        args.push(format!("--health-addr=127.0.0.1:{health_port}"));
        args.extend_from_slice(extra);
        let launch = Launch {
            binary: binary.to_path_buf(),
            args,
            kubeconfig: kubeconfig.to_path_buf(),
            ns: ns.to_owned(),
            pod: pod.to_owned(),
        };
        let child = launch
            .spawn(std::fs::File::create(&log).expect("creating the log file"))
            .expect("starting the controller binary");
        Self {
            child,
            metrics_port,
            health_port,
            launch,
            log,
            _log_dir: log_dir,
        }
    }

    /// The process id (of the latest process, after a restart).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with `SIGKILL`, as the OOM killer or a lost node
    /// would (no shutdown code runs), and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the controller again, as a kubelet restarts a crashed
    /// container: the same binary, flags, environment and ports (so the
    /// same listen addresses and, for the source-controller, the same
    /// artifact storage), its output appended to the same log after a
    /// line saying so. A process still running is killed first
    /// ([`ControllerProcess::kill`]).
    ///
    /// # Errors
    /// [`Error::Spawn`] when the log cannot be opened or the binary
    /// started; the old process is gone by then.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let spawn_err = |source| Error::Spawn {
            component: "a controller (restart)",
            source,
        };
        let mut log = std::fs::File::options()
            .append(true)
            .open(&self.log)
            .map_err(spawn_err)?;
        writeln!(log, "--- ferroflux-testenv: controller restarted ---").map_err(spawn_err)?;
        self.child = self.launch.spawn(log).map_err(spawn_err)?;
        Ok(())
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How the process ended, once it has (it is reaped then); `None`
    /// while it runs.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Everything the process logged so far (every process, after a
    /// restart).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The source-controller binary of this workspace, serving artifacts from
/// its own temporary storage on a free port; both go on drop.
pub struct SourceController {
    /// The process.
    pub process: ControllerProcess,
    _storage: tempfile::TempDir,
}

impl SourceController {
    /// Starts `binary` (the source-controller) for namespace `ns` with
    /// `extra` flags.
    ///
    /// # Panics
    /// When the storage directory or the process cannot be made.
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "test support: a failed start is a failed test"
    )]
    pub fn start(binary: &Path, kubeconfig: &Path, ns: &str, extra: &[String]) -> Self {
        let storage = tempfile::tempdir().expect("a temporary artifact storage");
        let port = free_port();
        let mut args = vec![
            format!("--storage-path={}", storage.path().display()),
            format!("--storage-addr=127.0.0.1:{port}"),
            format!("--storage-adv-addr=127.0.0.1:{port}"),
        ];
        args.extend_from_slice(extra);
        Self {
            process: ControllerProcess::start(binary, kubeconfig, ns, "source-controller-0", &args),
            _storage: storage,
        }
    }
}
