//! `make demo` as a user runs it: the binary delivers the sample app (the
//! overlay and the Helm chart) and a commit, alerts included, prints what
//! to try next, and on Ctrl-C stops every process it started and removes
//! what it wrote.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the demo may take to get to its hints, control plane included.
const START: Duration = Duration::from_secs(240);

#[test]
fn the_demo_delivers_a_commit_and_ctrl_c_leaves_nothing_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroflux-demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let demo_pid = child.id();
    let mut demo = Demo(Some(child));
    let deadline = Instant::now() + START;
    let mut output = String::new();
    while !output.contains("Ctrl-C stops everything") {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            panic!("the demo did not reach its hints within {START:?}:\n{output}");
        };
        output.push_str(&line);
        output.push('\n');
    }
    for expected in [
        "Deployment/hello with 2 replicas",
        "Deployment/hello with 3 replicas",
        "saying \"Hello from a git push\" (production)",
        // The release is stored in the HelmRelease's namespace, as in Flux.
        "HelmRelease/greeter Ready: Helm install succeeded for release flux-system/greeter.v1",
        "ConfigMap/greeter-greeting saying \"Hello from a Helm chart\" (revision 1)",
        "alert  HelmRelease/greeter  info InstallSucceeded:",
        "applied and alerted",
        "alert  Kustomization/hello  info Progressing: ConfigMap/production/hello-config configured",
        "curl -X POST http://127.0.0.1:",
    ] {
        assert!(output.contains(expected), "{expected:?} missing:\n{output}");
    }
    let kubeconfig = after(&output, "export KUBECONFIG=");
    let repo = after(&output, "cd ");
    assert!(kubeconfig.is_file() && repo.is_dir(), "{output}");

    let started = descendants(demo_pid);
    // etcd, kube-apiserver, kube-controller-manager, the guardian and the
    // four controllers at least.
    assert!(started.len() >= 8, "{started:?}");
    let status = demo
        .interrupt()
        .expect("the demo exits within 60s of Ctrl-C");
    let rest: Vec<String> = lines.iter().collect();
    assert!(status.success(), "{status}: {rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("Stopped:")), "{rest:?}");
    // The demo waits for what it stops, so all is gone when it exits.
    let alive: Vec<u32> = started
        .into_iter()
        .filter(|pid| PathBuf::from(format!("/proc/{pid}")).exists())
        .collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
    assert!(!kubeconfig.exists() && !repo.exists(), "left behind");
}

/// The demo process; interrupted (as Ctrl-C does) and reaped on drop, so
/// a failing test leaves nothing running either.
struct Demo(Option<Child>);

impl Demo {
    /// Sends `SIGINT` and waits, up to a minute, for the demo to exit; its
    /// status, or `None` when it had to be killed.
    fn interrupt(&mut self) -> Option<ExitStatus> {
        let mut child = self.0.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or_default());
        let _ = kill(pid, Signal::SIGINT);
        // A thread blocks in `wait`; the channel's timeout is the deadline.
        let (exited, status) = mpsc::channel();
        std::thread::spawn(move || exited.send(child.wait()));
        if let Ok(Ok(status)) = status.recv_timeout(Duration::from_secs(60)) {
            return Some(status);
        }
        // Its guardian still stops the control plane once it is gone.
        let _ = kill(pid, Signal::SIGKILL);
        None
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.interrupt();
    }
}

/// The lines `out` produces, as they come.
fn lines_of(out: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The path printed after `prefix` at the start of a line.
fn after(output: &str, prefix: &str) -> PathBuf {
    output
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .map_or_else(
            || panic!("no line starting with {prefix:?}:\n{output}"),
            |p| PathBuf::from(p.trim()),
        )
}

/// Every process below `root`, from `/proc`.
fn descendants(root: u32) -> BTreeSet<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, parent))
        })
        .collect();
    let mut found = BTreeSet::from([root]);
    loop {
        let before = found.len();
        for (pid, parent) in &parents {
            if found.contains(parent) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            found.remove(&root);
            return found;
        }
    }
}
