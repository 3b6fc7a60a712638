//! Starting and stopping one control plane: etcd, kube-apiserver and
//! kube-controller-manager on free loopback ports.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::binaries::Binaries;
use crate::error::{Error, Result};
use crate::process::{Component, Guardian};

/// How long start-up may take before it is reported as failed.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

/// How to start a control plane.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Directory holding the binaries; see [`Binaries::locate`] for the default.
    pub bin_dir: Option<PathBuf>,
    /// Extra flags for kube-apiserver, appended after the harness's own.
    pub extra_apiserver_args: Vec<String>,
}

/// A running control plane. Dropping it stops every process and removes its
/// directory.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    kubeconfig: PathBuf,
    // Start order: etcd, kube-apiserver, kube-controller-manager; stopped in reverse.
    components: Vec<Component>,
    guardian: Guardian,
}

impl ControlPlane {
    /// Starts a control plane with the default [`Options`].
    ///
    /// # Errors
    /// See [`ControlPlane::start_with`].
    pub fn start() -> Result<Self> {
        Self::start_with(&Options::default())
    }

    /// Starts a control plane and waits until it serves requests: `/readyz`
    /// answers `ok` and the controller manager has created the `default`
    /// ServiceAccount. Blocks the calling thread (which may be inside an async
    /// runtime: the readiness probe runs on a thread of its own).
    ///
    /// # Errors
    /// [`Error::MissingBinary`] when the binaries are not installed;
    /// [`Error::Exited`] or [`Error::NotReady`] with the failing component's
    /// log tail when a step does not succeed within 90 s.
    pub fn start_with(options: &Options) -> Result<Self> {
        let bins = Binaries::locate(options.bin_dir.as_deref())?;
        let dir = make_dir()?;
        let guardian = Guardian::spawn(&dir)?;
        let mut cp = Self {
            server: String::new(),
            kubeconfig: dir.join("kubeconfig"),
            dir,
            components: Vec::new(),
            guardian,
        };
        // On error `cp` is dropped here, which stops what was started.
        cp.boot(&bins, options)?;
        Ok(cp)
    }

    fn boot(&mut self, bins: &Binaries, options: &Options) -> Result<()> {
        let dir = self.dir.clone();
        let [etcd_client, etcd_peer, secure] = free_ports()?;
        let token = random_hex(16).map_err(|source| Error::Prepare {
            step: "generate a token",
            source,
        })?;
        let sa_key = dir.join("sa.key");
        generate_key(&sa_key)?;
        write(
            &dir.join("tokens.csv"),
            &format!("{token},admin,admin,\"system:masters\"\n"),
            "write the token file",
        )?;
        self.server = format!("https://127.0.0.1:{secure}");
        write(
            &self.kubeconfig,
            &kubeconfig_yaml(&self.server, &token),
            "write the kubeconfig",
        )?;

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        self.spawn(
            "etcd",
            &bins.etcd,
            &[
                format!("--data-dir={}", dir.join("etcd").display()),
                "--name=testenv".into(),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=testenv={peer_url}"),
                "--log-level=warn".into(),
            ],
        )?;

        let sa = sa_key.display().to_string();
        let mut args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={secure}"),
            "--insecure-port=0".into(),
            format!("--cert-dir={}", dir.join("pki").display()),
            format!("--token-auth-file={}", dir.join("tokens.csv").display()),
            "--authorization-mode=RBAC".into(),
            format!("--service-account-key-file={sa}"),
            format!("--service-account-signing-key-file={sa}"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            // Room for the thousands of Services a benchmark creates.
            "--service-cluster-ip-range=10.0.0.0/16".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
        ];
        args.extend(options.extra_apiserver_args.iter().cloned());
        self.spawn("kube-apiserver", &bins.kube_apiserver, &args)?;
        self.wait_apiserver_ready()?;

        self.spawn(
            "kube-controller-manager",
            &bins.kube_controller_manager,
            &[
                format!("--kubeconfig={}", self.kubeconfig.display()),
                format!("--service-account-private-key-file={sa}"),
                "--leader-elect=false".into(),
                "--port=0".into(),
                "--secure-port=0".into(),
                "--controllers=*".into(),
            ],
        )?;
        // The ServiceAccount controller creating `default/default` shows the
        // controller manager is connected and running its controllers.
        self.wait_ready(
            "run the controller manager (create ServiceAccount default/default)",
            "kube-controller-manager",
            |client| async move {
                Api::<ServiceAccount>::namespaced(client, "default")
                    .get("default")
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
    }

    fn wait_apiserver_ready(&mut self) -> Result<()> {
        self.wait_ready("answer /readyz", "kube-apiserver", |client| async move {
            let body = client
                .request_text(http_get("/readyz"))
                .await
                .map_err(|e| e.to_string())?;
            if body.trim() == "ok" {
                Ok(())
            } else {
                Err(format!("/readyz said {body:?}"))
            }
        })
    }

    /// Restarts kube-apiserver on the same port, certificates and etcd, as
    /// an upgrade or a crash would: clients see their connections and
    /// watches break, then requests fail until it is back. `while_down`
    /// runs after it stopped and before it starts again. Returns once
    /// `/readyz` answers `ok` again.
    ///
    /// # Errors
    /// [`Error::Spawn`] when it cannot be started again; [`Error::Exited`]
    /// or [`Error::NotReady`] when it does not become ready within 90 s;
    /// [`Error::Prepare`] when the guardian cannot be told the pids;
    /// [`Error::Client`] for a control plane without one (a broken start).
    ///
    /// # Caveats
    /// Blocks the calling thread, as [`ControlPlane::start_with`] does.
    pub fn restart_apiserver(&mut self, while_down: impl FnOnce()) -> Result<()> {
        let index = self
            .components
            .iter()
            .position(|c| c.name == "kube-apiserver")
            .ok_or(Error::Client(
                "this control plane has no kube-apiserver".into(),
            ))?;
        let old = self.components[index].pid();
        self.components[index].stop();
        self.guardian.forget(old)?;
        while_down();
        self.components[index].start_again()?;
        let pid = self.components[index].pid();
        self.guardian.watch(pid)?;
        self.wait_apiserver_ready()
    }

    fn spawn(&mut self, name: &'static str, program: &Path, args: &[String]) -> Result<()> {
        let component = Component::spawn(name, program, args, &self.dir)?;
        self.guardian.watch(component.pid())?;
        self.components.push(component);
        Ok(())
    }

    /// Polls `probe` with a fresh client until it succeeds, a component exits,
    /// or [`START_TIMEOUT`] passes.
    fn wait_ready<F, Fut>(
        &mut self,
        step: &'static str,
        component: &'static str,
        probe: F,
    ) -> Result<()>
    where
        F: Fn(Client) -> Fut + Sync,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let start = Instant::now();
        loop {
            for c in &mut self.components {
                c.check_running()?;
            }
            let kubeconfig = self.kubeconfig.clone();
            let probe = &probe;
            let outcome = std::thread::scope(|s| {
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    rt.block_on(async {
                        let client = client_for(&kubeconfig).await.map_err(|e| e.to_string())?;
                        tokio::time::timeout(Duration::from_secs(5), probe(client))
                            .await
                            .map_err(|_| "probe timed out after 5s".to_string())?
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("readiness probe panicked".to_string()))
            });
            let last_error = match outcome {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if start.elapsed() > START_TIMEOUT {
                let log_tail = self
                    .components
                    .iter()
                    .find(|c| c.name == component)
                    .map(Component::log_tail)
                    .unwrap_or_default();
                return Err(Error::NotReady {
                    step,
                    waited: START_TIMEOUT,
                    last_error,
                    component,
                    log_tail,
                });
            }
            // Polling interval of a readiness loop bounded by START_TIMEOUT.
            std::thread::sleep(POLL);
        }
    }

    /// The API server's address, `https://127.0.0.1:<port>`.
    #[must_use]
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin kubeconfig (token auth, namespace `default`).
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The private directory holding data, certificates and logs.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process ids of the components, in start order.
    #[must_use]
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.components.iter().map(|c| (c.name, c.pid())).collect()
    }

    /// A new client for this control plane, bound to the calling Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Client`] when the kubeconfig cannot be read or used.
    pub async fn client(&self) -> Result<Client> {
        client_for(&self.kubeconfig).await
    }

    /// Stops the components (controller manager first), then removes the
    /// directory. Dropping the control plane does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for c in self.components.iter_mut().rev() {
            c.stop();
        }
        self.components.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
        self.guardian.finish();
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn client_for(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| Error::Client(e.to_string()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))?;
    Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}

fn http_get(path: &str) -> http::Request<Vec<u8>> {
    // The paths are constants of this module, so building the request cannot fail.
    http::Request::get(path)
        .body(Vec::new())
        .unwrap_or_default()
}

/// A fresh directory under the system temp dir, private to this control plane.
fn make_dir() -> Result<PathBuf> {
    let suffix = random_hex(6).map_err(|source| Error::Prepare {
        step: "name the state directory",
        source,
    })?;
    let dir =
        std::env::temp_dir().join(format!("ferroflux-testenv-{}-{suffix}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Prepare {
        step: "create the state directory",
        source,
    })?;
    Ok(dir)
}

/// Three distinct free loopback ports. They are released before use, so another
/// process could take one in between; on loopback in a test run that is rare,
/// and the component's start-up error would say so.
fn free_ports() -> Result<[u16; 3]> {
    let bind = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(|source| Error::Prepare {
                step: "find a free port",
                source,
            })
    };
    let (a, _la) = bind()?;
    let (b, _lb) = bind()?;
    let (c, _lc) = bind()?;
    Ok([a, b, c])
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// An RSA key for signing service-account tokens.
fn generate_key(path: &Path) -> Result<()> {
    let step = "generate the service-account key (openssl genrsa)";
    let out = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(path)
        .arg("2048")
        .output()
        .map_err(|source| Error::Prepare { step, source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Prepare {
            step,
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
        })
    }
}

fn write(path: &Path, contents: &str, step: &'static str) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Prepare { step, source })
}

/// An admin kubeconfig. TLS verification is off: the server's certificate is
/// self-signed by the API server at start and the connection never leaves
/// loopback.
fn kubeconfig_yaml(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: ferroflux-testenv
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: {token}
contexts:
- name: ferroflux-testenv
  context:
    cluster: ferroflux-testenv
    user: admin
    namespace: default
current-context: ferroflux-testenv
"
    )
}
