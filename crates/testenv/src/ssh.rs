//! A real `sshd` for tests, on a loopback port with key authentication only,
//! serving the bare repositories of a [`crate::git::GitServer`] over `ssh://`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A running `sshd`; dropping it stops the daemon.
#[derive(Debug)]
pub struct SshServer {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Child,
}

impl SshServer {
    /// Starts `/usr/sbin/sshd` with fresh host and client keys, accepting only
    /// the client key, and waits until it accepts connections.
    ///
    /// # Errors
    /// [`Error::Prepare`] naming the step (key generation, start-up) that failed.
    pub fn start() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|source| Error::Prepare {
            step: "create the sshd directory",
            source,
        })?;
        let d = dir.path();
        keygen(&d.join("host_key"))?;
        keygen(&d.join("client_key"))?;
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).map_err(|source| {
            Error::Prepare {
                step: "authorize the client key",
                source,
            }
        })?;
        // sshd insists on its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").map_err(|source| Error::Prepare {
            step: "create /run/sshd",
            source,
        })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|source| Error::Prepare {
                step: "find a free port for sshd",
                source,
            })?
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile {pid}\n",
            host = d.join("host_key").display(),
            auth = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        );
        std::fs::write(d.join("sshd_config"), config).map_err(|source| Error::Prepare {
            step: "write sshd_config",
            source,
        })?;
        let log = std::fs::File::create(d.join("sshd.log")).map_err(|source| Error::Prepare {
            step: "create the sshd log",
            source,
        })?;
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| Error::Spawn {
                component: "sshd",
                source,
            })?;
        let user = output(Command::new("id").arg("-un"))?.trim().to_owned();
        let server = Self {
            dir,
            port,
            user,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(Error::Prepare {
                    step: "wait for sshd",
                    source: std::io::Error::other(server.log_tail()),
                });
            }
            // Polling the port of a daemon that is starting, bounded by the deadline.
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// The `ssh://` URL of the bare repository at `path`.
    #[must_use]
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    /// The client's private key (OpenSSH format), as a Secret's `identity`.
    ///
    /// # Errors
    /// [`Error::Prepare`] if the key file cannot be read.
    pub fn identity(&self) -> Result<String> {
        read(&self.dir.path().join("client_key"))
    }

    /// A `known_hosts` line trusting this server's host key.
    ///
    /// # Errors
    /// [`Error::Prepare`] if the host key cannot be read.
    pub fn known_hosts(&self) -> Result<String> {
        let public = read(&self.dir.path().join("host_key.pub"))?;
        let key: Vec<&str> = public.split_whitespace().take(2).collect();
        Ok(format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")))
    }

    /// A `known_hosts` line for this address but with some other key, as an
    /// impostor's server would present.
    ///
    /// # Errors
    /// [`Error::Prepare`] if a key cannot be generated.
    pub fn wrong_known_hosts(&self) -> Result<String> {
        let other = self.dir.path().join("other_key");
        keygen(&other)?;
        let public = read(&other.with_extension("pub"))?;
        let key: Vec<&str> = public.split_whitespace().take(2).collect();
        Ok(format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")))
    }

    fn log_tail(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) -> Result<()> {
    output(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path),
    )
    .map(drop)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Prepare {
        step: "read an ssh key",
        source,
    })
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|source| Error::Prepare {
        step: "run an ssh tool",
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Prepare {
            step: "run an ssh tool",
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
        })
    }
}
