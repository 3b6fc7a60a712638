//! A real S3-compatible server for tests: `s3s-fs` (a filesystem-backed S3
//! server from the Rust crate registry, installed by `scripts/install-deps.sh`)
//! on a free loopback port, demanding AWS signatures (v4) with one access key, its data in
//! a temp dir. Dropping it kills the process and removes the data.
//!
//! `s3s-fs` keeps a bucket as a directory and an object as a file under its
//! data dir, so the helpers ([`S3Server::create_bucket`],
//! [`S3Server::put_object`], [`S3Server::delete_object`]) write there, as an
//! operator copying files in would; the server sees them on its next request.
//! Its object listings carry no `etag` (only key, size and last-modified),
//! while `HEAD`/`GET` of an object do (the MD5 of its content): the
//! source-controller must cope with that.

use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::binaries::cache_dir;
use crate::error::{Error, Result};

/// The `s3s-fs` version `scripts/install-deps.sh` installs.
pub const S3S_FS_VERSION: &str = "0.14.1";

/// How long the server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Where `scripts/install-deps.sh` installs `s3s-fs`.
#[must_use]
pub fn binary() -> PathBuf {
    cache_dir()
        .join("s3s-fs")
        .join(S3S_FS_VERSION)
        .join("bin")
        .join("s3s-fs")
}

/// A running `s3s-fs`.
#[derive(Debug)]
pub struct S3Server {
    dir: tempfile::TempDir,
    port: u16,
    access_key: String,
    secret_key: String,
    child: Option<Child>,
}

impl S3Server {
    /// Starts a server accepting only `access_key`/`secret_key` and waits
    /// until it answers.
    ///
    /// # Errors
    /// [`Error::MissingBinary`] when `s3s-fs` is not installed,
    /// [`Error::Prepare`] naming the step that failed, [`Error::NotReady`]
    /// or [`Error::Exited`] with the server's log when it does not come up.
    pub fn start(access_key: &str, secret_key: &str) -> Result<Self> {
        let path = binary();
        if !path.is_file() {
            return Err(Error::MissingBinary {
                name: "s3s-fs",
                path,
            });
        }
        let prepare =
            |step: &'static str| move |source: std::io::Error| Error::Prepare { step, source };
        let dir = tempfile::tempdir().map_err(prepare("create the S3 server directory"))?;
        std::fs::create_dir(dir.path().join("data"))
            .map_err(prepare("create the S3 data directory"))?;
        std::fs::create_dir(dir.path().join("tmp"))
            .map_err(prepare("create the S3 scratch directory"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(prepare("find a free port for the S3 server"))?
            .port();
        let mut server = Self {
            dir,
            port,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            child: None,
        };
        server.serve()?;
        Ok(server)
    }

    /// Starts the process (again, after [`S3Server::stop`]) at the same
    /// address with the same data, and waits until it answers.
    ///
    /// # Errors
    /// As [`S3Server::start`].
    pub fn serve(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("s3s-fs.log"))
            .map_err(|source| Error::Prepare {
                step: "create the S3 server log",
                source,
            })?;
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.access_key])
            .args(["--secret-key", &self.secret_key])
            .arg(self.data_dir())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| Error::Spawn {
                component: "s3s-fs",
                source,
            })?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Kills the process (an outage); the data stays for [`S3Server::serve`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:<port>`, a Bucket's `spec.endpoint` (with `insecure: true`).
    #[must_use]
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The access key the server accepts.
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key the server accepts.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The directory holding the buckets.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Creates the bucket `name` (empty).
    ///
    /// # Errors
    /// [`Error::Prepare`] when the name is not one path segment or the
    /// directory cannot be made.
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        let dir = self.data_dir().join(segment(name)?);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Prepare {
            step: "create a bucket",
            source,
        })
    }

    /// Writes the object `key` of `bucket` with `content`, replacing it
    /// atomically (a listing sees the old object or the new one).
    ///
    /// # Errors
    /// [`Error::Prepare`] when the key leaves the bucket or the write fails.
    pub fn put_object(&self, bucket: &str, key: &str, content: &[u8]) -> Result<()> {
        let path = self.object_path(bucket, key)?;
        let prepare = |step: &'static str| move |source| Error::Prepare { step, source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(prepare("create an object's directory"))?;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.path().join("tmp"))
            .map_err(prepare("create an object's temp file"))?;
        tmp.write_all(content).map_err(prepare("write an object"))?;
        tmp.persist(&path).map_err(|e| Error::Prepare {
            step: "move an object into its bucket",
            source: e.error,
        })?;
        Ok(())
    }

    /// Deletes the object `key` of `bucket` (nothing when it is absent).
    ///
    /// # Errors
    /// [`Error::Prepare`] when the key leaves the bucket or removing fails.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let path = self.object_path(bucket, key)?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Prepare {
                step: "delete an object",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// The file of `bucket`'s object `key`, refusing keys that would leave
    /// the bucket's directory.
    fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        let mut path = self.data_dir().join(segment(bucket)?);
        for c in Path::new(key).components() {
            match c {
                Component::Normal(part) => path.push(part),
                _ => return Err(invalid(key)),
            }
        }
        Ok(path)
    }

    /// Polls with a plain request until the server answers (any HTTP status).
    fn wait_ready(&mut self) -> Result<()> {
        let log = self.dir.path().join("s3s-fs.log");
        let mut child = self.child.take();
        let this = &*self;
        let result = crate::process::wait_started(
            &mut child,
            "s3s-fs",
            "answer HTTP",
            START_TIMEOUT,
            &log,
            || this.probe(),
        );
        self.child = child;
        result
    }

    /// One unsigned `GET /`: any status line means the server is serving.
    fn probe(&self) -> std::result::Result<(), String> {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 8];
        stream.read_exact(&mut head).map_err(|e| e.to_string())?;
        if head.starts_with(b"HTTP/") {
            Ok(())
        } else {
            Err(format!(
                "GET / answered '{}'",
                String::from_utf8_lossy(&head)
            ))
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `name` when it is one normal path segment.
fn segment(name: &str) -> Result<&str> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !name.contains('/') => Ok(name),
        _ => Err(invalid(name)),
    }
}

fn invalid(name: &str) -> Error {
    Error::Prepare {
        step: "resolve a bucket or object name",
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("'{name}' would leave the S3 server's data directory"),
        ),
    }
}
