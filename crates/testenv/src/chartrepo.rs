//! A real Helm chart repository for tests: a static HTTP(S) server over a
//! directory of packaged charts and the `index.yaml` the reference `helm`
//! writes (`helm package`, `helm repo index`), with optional basic auth,
//! a request log (to count what a controller fetched), and an outage
//! (stop, then serve again at the same URL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// What a [`ChartRepo`] demands and speaks.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `username` and `password` every request must carry (basic auth).
    pub basic_auth: Option<(String, String)>,
    /// HTTPS with a certificate for loopback signed by a fresh CA.
    pub tls: bool,
}

/// One request the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The path requested.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

struct State {
    root: PathBuf,
    /// The whole `Authorization` header value demanded.
    authorization: Option<String>,
    requests: Mutex<Vec<Request>>,
}

/// A running chart repository; it stops when dropped.
pub struct ChartRepo {
    root: tempfile::TempDir,
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    ca_pem: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ChartRepo {
    /// Starts a repository on a free loopback port with `options`; it serves
    /// an empty directory until charts are added and indexed.
    ///
    /// # Errors
    /// [`Error::Prepare`]: no port, no temp directory, no certificates.
    pub async fn start(options: Options) -> Result<Self> {
        let root = tempfile::tempdir().map_err(|source| Error::Prepare {
            step: "create the chart repository root",
            source,
        })?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| Error::Prepare {
                step: "bind the chart repository port",
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Prepare {
            step: "read the chart repository port",
            source,
        })?;
        let (acceptor, ca_pem) = if options.tls {
            let (acceptor, ca_pem) = crate::tls::acceptor()?;
            (Some(acceptor), Some(ca_pem))
        } else {
            (None, None)
        };
        let state = Arc::new(State {
            root: root.path().to_path_buf(),
            authorization: options
                .basic_auth
                .map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
            requests: Mutex::default(),
        });
        let mut repo = Self {
            root,
            addr,
            state,
            acceptor,
            ca_pem,
            stop: None,
        };
        repo.serve(listener);
        Ok(repo)
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = self.state.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let state = state.clone();
                async move { answer(&state, uri.path(), &headers) }
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(acceptor) = self.acceptor.clone() {
            tokio::spawn(async move {
                tokio::select! {
                    () = crate::tls::serve(listener, acceptor, app) => {}
                    _ = stopped => {}
                }
            });
        } else {
            tokio::spawn(async move {
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        }
        self.stop = Some(stop);
    }

    /// The repository's URL (`http://127.0.0.1:<port>` or `https://...`),
    /// without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.acceptor.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA certificate (PEM) clients must trust, for an HTTPS repository.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The directory served.
    #[must_use]
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The requests received so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Packages a small chart `name` at `version` with `values` as its
    /// `values.yaml` (plus `extra` files, chart-relative) with the
    /// reference `helm package`, into the served directory.
    ///
    /// # Errors
    /// [`Error::Prepare`]: no reference `helm` (run `make deps`), or it failed.
    pub fn add_chart(
        &self,
        name: &str,
        version: &str,
        values: &str,
        extra: &[(&str, &str)],
    ) -> Result<PathBuf> {
        let src = tempfile::tempdir().map_err(|source| Error::Prepare {
            step: "create a chart directory",
            source,
        })?;
        let dir = src.path().join(name);
        let mut files = vec![
            (
                "Chart.yaml".to_owned(),
                format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: a test chart\n"),
            ),
            ("values.yaml".to_owned(), values.to_owned()),
            (
                "templates/configmap.yaml".to_owned(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n".to_owned(),
            ),
        ];
        files.extend(
            extra
                .iter()
                .map(|(n, d)| ((*n).to_owned(), (*d).to_owned())),
        );
        for (file, data) in &files {
            let path = dir.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Prepare {
                    step: "create a chart directory",
                    source,
                })?;
            }
            std::fs::write(&path, data).map_err(|source| Error::Prepare {
                step: "write a chart file",
                source,
            })?;
        }
        helm(&[
            "package",
            &dir.to_string_lossy(),
            "--destination",
            &self.root.path().to_string_lossy(),
        ])?;
        Ok(self.root.path().join(format!("{name}-{version}.tgz")))
    }

    /// Writes `index.yaml` for the packaged charts with the reference
    /// `helm repo index` (relative chart URLs).
    ///
    /// # Errors
    /// [`Error::Prepare`]: no reference `helm`, or it failed.
    pub fn index(&self) -> Result<()> {
        helm(&["repo", "index", &self.root.path().to_string_lossy()])
    }

    /// Writes `data` at `rel` in the served directory (a corrupt chart, an
    /// index that is not YAML, a generated index).
    ///
    /// # Errors
    /// [`Error::Prepare`] when the file cannot be written.
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<()> {
        std::fs::write(self.root.path().join(rel), data).map_err(|source| Error::Prepare {
            step: "write a file of the chart repository",
            source,
        })
    }

    /// Stops serving (the files stay): the port is closed, so connections
    /// are refused, as when a repository host is down.
    pub fn stop(&mut self) {
        drop(self.stop.take());
    }

    /// Serves again after [`ChartRepo::stop`], at the same address. Must be
    /// called within a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Prepare`] when the port cannot be bound again.
    pub fn restart(&mut self) -> Result<()> {
        let bind = || -> std::io::Result<TcpListener> {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_reuseaddr(true)?;
            socket.bind(self.addr)?;
            socket.listen(1024)
        };
        let listener = bind().map_err(|source| Error::Prepare {
            step: "bind the chart repository's port again",
            source,
        })?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for ChartRepo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Answers one GET: 401 without the demanded credentials, the file under
/// the root when the path stays inside it, else 404.
fn answer(
    state: &State,
    path: &str,
    headers: &axum::http::HeaderMap,
) -> (axum::http::StatusCode, Vec<u8>) {
    use axum::http::StatusCode;
    let authorized = state.authorization.as_deref().is_none_or(|want| {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == Some(want)
    });
    let rel = path.trim_start_matches('/');
    let confined = !rel.is_empty()
        && rel
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    let (status, body) = if !authorized {
        (StatusCode::UNAUTHORIZED, b"unauthorized\n".to_vec())
    } else if let Some(data) = confined
        .then(|| std::fs::read(state.root.join(rel)).ok())
        .flatten()
    {
        (StatusCode::OK, data)
    } else {
        (StatusCode::NOT_FOUND, b"not found\n".to_vec())
    };
    state
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Request {
            path: path.to_owned(),
            status: status.as_u16(),
        });
    (status, body)
}

/// Runs the reference `helm` with `args`.
fn helm(args: &[&str]) -> Result<()> {
    let binary = crate::reference_binary("helm").ok_or_else(|| Error::Prepare {
        step: "find the reference helm (run `make deps`)",
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })?;
    let out = std::process::Command::new(binary)
        .args(args)
        .output()
        .map_err(|source| Error::Prepare {
            step: "run the reference helm",
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Prepare {
        step: "run the reference helm",
        source: std::io::Error::other(format!(
            "helm {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )),
    })
}

/// Standard base64 with padding (for the `Authorization` header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(super::base64(b"flux:pass"), "Zmx1eDpwYXNz");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
