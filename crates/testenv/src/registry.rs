//! A real OCI registry for tests: Debian's `docker-registry` (CNCF
//! distribution 2.8) on a free loopback port with its own configuration and
//! filesystem storage in a temp dir, over plain HTTP or HTTPS (a fresh CA per
//! registry), optionally behind htpasswd basic auth. Dropping it kills the
//! process and removes the storage.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::git::BasicAuth;

/// Where `scripts/install-deps.sh` (the `docker-registry` package) puts the binary.
const BINARY: &str = "/usr/bin/docker-registry";

/// How long the registry may take to answer `/v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How the registry is served.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// HTTPS with a certificate for `127.0.0.1` from a fresh CA.
    pub tls: bool,
    /// Basic auth (htpasswd, bcrypt) demanded on every request.
    pub auth: Option<BasicAuth>,
}

/// A running `docker-registry`.
#[derive(Debug)]
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    options: RegistryOptions,
    ca_pem: Option<String>,
    child: Option<Child>,
}

impl Registry {
    /// Starts a registry served as `options` says and waits until it
    /// answers `/v2/`.
    ///
    /// # Errors
    /// [`Error::MissingBinary`] without the `docker-registry` package,
    /// [`Error::Prepare`] naming the step that failed, [`Error::NotReady`]
    /// with the registry's log when it does not come up.
    pub fn start(options: RegistryOptions) -> Result<Self> {
        if !std::path::Path::new(BINARY).is_file() {
            return Err(Error::MissingBinary {
                name: "docker-registry",
                path: PathBuf::from(BINARY),
            });
        }
        let prepare =
            |step: &'static str| move |source: std::io::Error| Error::Prepare { step, source };
        let dir = tempfile::tempdir().map_err(prepare("create the registry directory"))?;
        let d = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(prepare("find a free port for the registry"))?
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n  redirect:\n    disable: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: ferroflux-test-registry\n",
            root = d.join("storage").display()
        );
        let mut ca_pem = None;
        if options.tls {
            let pem = crate::tls::server_pem()?;
            std::fs::write(d.join("tls.crt"), &pem.cert)
                .map_err(prepare("write the registry certificate"))?;
            std::fs::write(d.join("tls.key"), &pem.key)
                .map_err(prepare("write the registry key"))?;
            let _ = write!(
                config,
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("tls.crt").display(),
                d.join("tls.key").display()
            );
            ca_pem = Some(pem.ca);
        }
        if let Some(auth) = &options.auth {
            // bcrypt is the only scheme distribution reads; the lowest cost
            // keeps each authenticated request cheap.
            let hash = bcrypt::hash(&auth.password, 4).map_err(|e| Error::Prepare {
                step: "hash the registry password",
                source: std::io::Error::other(e.to_string()),
            })?;
            std::fs::write(d.join("htpasswd"), format!("{}:{hash}\n", auth.username))
                .map_err(prepare("write the registry htpasswd file"))?;
            let _ = write!(
                config,
                "auth:\n  htpasswd:\n    realm: ferroflux-test\n    path: {}\n",
                d.join("htpasswd").display()
            );
        }
        std::fs::write(d.join("config.yml"), config)
            .map_err(prepare("write the registry configuration"))?;
        let mut registry = Self {
            dir,
            port,
            options,
            ca_pem,
            child: None,
        };
        registry.serve()?;
        Ok(registry)
    }

    /// Starts the process (again, after [`Registry::stop`]) at the same
    /// address with the same storage, and waits until it answers.
    ///
    /// # Errors
    /// As [`Registry::start`].
    pub fn serve(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("registry.log"))
            .map_err(|source| Error::Prepare {
                step: "create the registry log",
                source,
            })?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| Error::Spawn {
                component: "docker-registry",
                source,
            })?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Kills the process (an outage); the storage stays for [`Registry::serve`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Polls `/v2/` until it answers (`200`, or `401` behind auth).
    fn wait_ready(&mut self) -> Result<()> {
        let log = self.dir.path().join("registry.log");
        let mut child = self.child.take();
        let this = &*self;
        let result = crate::process::wait_started(
            &mut child,
            "docker-registry",
            "answer /v2/",
            START_TIMEOUT,
            &log,
            || this.probe(),
        );
        self.child = child;
        result
    }

    /// One `GET /v2/`. Over HTTPS the listener accepting a connection is
    /// enough: distribution opens it only once it can serve.
    fn probe(&self) -> std::result::Result<(), String> {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        if self.options.tls {
            return Ok(());
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head);
        if line.ends_with("200") || line.ends_with("401") {
            Ok(())
        } else {
            Err(format!("GET /v2/ answered '{line}'"))
        }
    }

    /// `127.0.0.1:<port>`, the registry host in references.
    #[must_use]
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:<port>/<repository>`, as an OCIRepository's `spec.url`.
    #[must_use]
    pub fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host())
    }

    /// The PEM of the CA that signed the registry's certificate, over HTTPS.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The credentials demanded, if any.
    #[must_use]
    pub fn auth(&self) -> Option<&BasicAuth> {
        self.options.auth.as_ref()
    }

    /// A `.dockerconfigjson` document with `auth` for this registry, as in a
    /// `kubernetes.io/dockerconfigjson` Secret.
    #[must_use]
    pub fn docker_config_json(&self, auth: &BasicAuth) -> String {
        serde_json::json!({
            "auths": { self.host(): {
                "username": auth.username,
                "password": auth.password,
                "auth": auth.encoded(),
            }}
        })
        .to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
