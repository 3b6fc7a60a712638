//! The processes of a control plane: each component with its log file, and the
//! guardian that cleans up after a test process that died without cleaning up.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// How long a component gets to exit after `SIGTERM` before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often a stopping process is checked.
const POLL: Duration = Duration::from_millis(50);

/// A running control-plane component whose output goes to a log file.
#[derive(Debug)]
pub(crate) struct Component {
    pub(crate) name: &'static str,
    child: Child,
    log: PathBuf,
    program: PathBuf,
    args: Vec<String>,
}

impl Component {
    /// Starts `program` with `args`, logging to `<dir>/<name>.log`, in its own
    /// process group so a terminal's Ctrl-C reaches only the harness, which then
    /// stops the components in order.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        dir: &Path,
    ) -> Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).map_err(|source| Error::Spawn {
            component: name,
            source,
        })?;
        let child = launch(name, program, args, out)?;
        Ok(Self {
            name,
            child,
            log,
            program: program.to_path_buf(),
            args: args.to_vec(),
        })
    }

    /// Starts the stopped process again with the same program and
    /// arguments, appending to the same log.
    pub(crate) fn start_again(&mut self) -> Result<()> {
        let out = File::options()
            .append(true)
            .open(&self.log)
            .map_err(|source| Error::Spawn {
                component: self.name,
                source,
            })?;
        self.child = launch(self.name, &self.program, &self.args, out)?;
        Ok(())
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err(Exited)` with the log tail if the process has already exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.exited(status)),
            Ok(None) | Err(_) => Ok(()),
        }
    }

    fn exited(&self, status: ExitStatus) -> Error {
        Error::Exited {
            component: self.name,
            status,
            log_tail: self.log_tail(),
        }
    }

    /// The last lines of the component's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log, 20)
    }

    /// Sends `SIGTERM`, waits up to [`STOP_GRACE`], then kills; always reaps.
    pub(crate) fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // ESRCH means it is already gone, which is what we want.
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            // Polling interval while waiting, bounded, for the process to exit.
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` with its output going to `out`, in its own process group.
fn launch(name: &'static str, program: &Path, args: &[String], out: File) -> Result<Child> {
    let spawn_err = |source| Error::Spawn {
        component: name,
        source,
    };
    let err = out.try_clone().map_err(spawn_err)?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)
}

/// The last `lines` lines of the file at `path` (at most its last 64 KiB).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(MAX)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A shell process that outlives nothing: it reads the pids of the components
/// on its stdin, and when that pipe closes (the harness stopped, panicked, or
/// was killed) it terminates whatever of them still runs and removes the
/// control plane's directory.
///
/// # Caveats
/// A process id could in principle be reused between the harness's death and
/// the guardian's signal; the window is the guardian's reaction time, well
/// under a second.
#[derive(Debug)]
pub(crate) struct Guardian {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The guardian's script: `$1` is the directory to remove. Each line read
/// is a pid to watch, or `-<pid>` for one that exited and is no longer to be
/// signalled (its number may be reused).
const GUARDIAN_SCRIPT: &str = r#"
trap '' INT TERM HUP
declare -A watched
while read -r line; do
  case "$line" in
    -*) unset "watched[${line#-}]" ;;
    *) watched[$line]=1 ;;
  esac
done
pids=("${!watched[@]}")
if [ "${#pids[@]}" -gt 0 ]; then
  kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null
fi
rm -rf -- "$1"
"#;

impl Guardian {
    /// Starts a guardian for the directory `dir`.
    pub(crate) fn spawn(dir: &Path) -> Result<Self> {
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(GUARDIAN_SCRIPT)
            .arg("ferroflux-testenv-guardian")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                component: "guardian (bash)",
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin })
    }

    /// Tells the guardian to clean up `pid` if the harness cannot.
    pub(crate) fn watch(&mut self, pid: u32) -> Result<()> {
        self.tell(&pid.to_string())
    }

    /// Tells the guardian that `pid` has exited and been reaped, so it
    /// must not be signalled later (the number may belong to another
    /// process by then).
    pub(crate) fn forget(&mut self, pid: u32) -> Result<()> {
        self.tell(&format!("-{pid}"))
    }

    fn tell(&mut self, line: &str) -> Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(());
        };
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|source| Error::Prepare {
                step: "tell the guardian a pid",
                source,
            })
    }

    /// Closes the pipe so the guardian cleans up now, and waits for it.
    pub(crate) fn finish(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// How often a starting daemon is probed.
const START_POLL: Duration = Duration::from_millis(50);

/// Waits until a daemon the harness started (`child`, writing to `log`) passes `probe`, up to
/// `timeout`. A daemon has no readiness event to await, so it is probed every 50 ms until the
/// deadline.
///
/// # Errors
/// [`Error::Exited`] when the process died (`child` is cleared), [`Error::NotReady`] with the
/// last probe error at the deadline; both carry the log's tail.
pub(crate) fn wait_started(
    child: &mut Option<Child>,
    component: &'static str,
    step: &'static str,
    timeout: Duration,
    log: &Path,
    probe: impl Fn() -> std::result::Result<(), String>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(running) = child.as_mut()
            && let Ok(Some(status)) = running.try_wait()
        {
            *child = None;
            return Err(Error::Exited {
                component,
                status,
                log_tail: log_tail(log, 20),
            });
        }
        let last_error = match probe() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(Error::NotReady {
                step,
                waited: timeout,
                last_error,
                component,
                log_tail: log_tail(log, 20),
            });
        }
        // Polling a daemon that is starting, bounded by the deadline.
        std::thread::sleep(START_POLL);
    }
}
