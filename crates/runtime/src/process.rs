//! What every controller binary does around its loop: logging, the metrics
//! and health listeners, the stop signal and the process's instance name.
//! Kept here so the binaries stay flags and wiring.

use std::net::SocketAddr;

use ferroflux_api::duration::InvalidDuration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// What can stop a controller process from starting or keep it from
/// running; each names the flag or the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listen flag is not an address.
    #[error("--{flag}: {value:?} is not an address such as :9090 or 127.0.0.1:9090")]
    InvalidAddress {
        /// The flag, without its dashes.
        flag: String,
        /// The value given.
        value: String,
    },
    /// A duration flag is not a Go duration.
    #[error("--{flag}: {error}")]
    InvalidDuration {
        /// The flag, without its dashes.
        flag: String,
        /// What is wrong with the value.
        error: InvalidDuration,
    },
    /// A size flag is not a quantity.
    #[error("--{flag}: {value:?} is not a size such as 500Mi, 1Gi or 1048576")]
    InvalidSize {
        /// The flag, without its dashes.
        flag: String,
        /// The value given.
        value: String,
    },
    /// `--log-level` is not a level or filter.
    #[error("--log-level {level:?}: {error}")]
    InvalidLogLevel {
        /// The value given.
        level: String,
        /// The filter parser's message.
        error: String,
    },
    /// A listener could not be bound (the port is taken, or not allowed).
    #[error("--{flag}: binding {addr}: {error}")]
    Bind {
        /// The flag, without its dashes.
        flag: String,
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The SIGTERM handler could not be installed.
    #[error("installing the SIGTERM handler: {0}")]
    Signal(std::io::Error),
    /// Another replica holds the Lease now: the process exits so that it is
    /// restarted as a candidate.
    #[error("lost the leader-election lease {lease}; exiting so a replica can take over")]
    LostLeadership {
        /// The Lease's name.
        lease: String,
    },
    /// The controller loop returned, which it never does by itself.
    #[error("the controller loop ended unexpectedly")]
    LoopEnded,
}

/// Parses listen flag `--{flag}`; `:9090` means every interface, as in Go.
///
/// # Errors
/// [`Error::InvalidAddress`] naming the flag and value.
pub fn listen_addr(flag: &str, value: &str) -> Result<SocketAddr, Error> {
    let full = if value.starts_with(':') {
        format!("0.0.0.0{value}")
    } else {
        value.to_owned()
    };
    full.parse().map_err(|_| Error::InvalidAddress {
        flag: flag.to_owned(),
        value: value.to_owned(),
    })
}

/// Parses duration flag `--{flag}` (a Go duration such as `30s`).
///
/// # Errors
/// [`Error::InvalidDuration`] naming the flag.
pub fn duration_flag(flag: &str, value: &str) -> Result<std::time::Duration, Error> {
    ferroflux_api::duration::parse(value).map_err(|error| Error::InvalidDuration {
        flag: flag.to_owned(),
        error,
    })
}

/// Parses size flag `--{flag}` as Kubernetes quantities write sizes: a plain
/// number of bytes or one with a suffix `Ki`, `Mi`, `Gi`, `Ti` (powers of
/// 1024) or `k`, `M`, `G`, `T` (powers of 1000).
///
/// # Errors
/// [`Error::InvalidSize`] naming the flag and value.
pub fn size_flag(flag: &str, value: &str) -> Result<u64, Error> {
    let bad = || Error::InvalidSize {
        flag: flag.to_owned(),
        value: value.to_owned(),
    };
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let number: u64 = value[..split].parse().map_err(|_| bad())?;
    let factor: u64 = match &value[split..] {
        "" => 1,
        "k" => 1000,
        "M" => 1000_u64.pow(2),
        "G" => 1000_u64.pow(3),
        "T" => 1000_u64.pow(4),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return Err(bad()),
    };
    number.checked_mul(factor).ok_or_else(bad)
}

/// Serves `router` on the address of flag `--{name}` until `stopped` turns
/// true.
///
/// # Errors
/// [`Error::InvalidAddress`] or [`Error::Bind`], naming the flag.
pub async fn serve_on(
    flag: &str,
    name: &str,
    router: axum::Router,
    stopped: &watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, Error> {
    let addr = listen_addr(name, flag)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| Error::Bind {
            flag: name.to_owned(),
            addr,
            error,
        })?;
    tracing::info!(%addr, "{name} listening");
    Ok(tokio::spawn(crate::metrics::serve(
        listener,
        router,
        until(stopped),
    )))
}

/// Completes when `stopped` turns true.
pub fn until(stopped: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + Sync + 'static {
    let mut stopped = stopped.clone();
    async move {
        let _ = stopped.wait_for(|s| *s).await;
    }
}

/// Logs to stderr at `level` (`error` … `trace`, or a filter), as JSON
/// unless `encoding` is `console`; `kube_client` logs at most at info.
///
/// # Errors
/// [`Error::InvalidLogLevel`] when the level is not a valid filter.
pub fn init_logging(level: &str, encoding: &str) -> Result<(), Error> {
    // kube's client logs failed responses in full at debug level, and the API
    // server's errors quote the values of the objects sent (Secret data
    // substituted into a manifest included): it stays at info whatever the
    // level, unless the filter names it.
    let filter = if level.contains("kube_client") {
        level.to_owned()
    } else {
        format!("{level},kube_client=info")
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| Error::InvalidLogLevel {
            level: level.to_owned(),
            error: e.to_string(),
        })?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if encoding == "console" {
        logs.init();
    } else {
        logs.json().init();
    }
    Ok(())
}

/// The instance name for events and leader election: `POD_NAME`, else
/// `HOSTNAME`, else `fallback`.
#[must_use]
pub fn instance_name(fallback: &str) -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| fallback.to_owned())
}

/// Completes on SIGTERM or Ctrl-C.
///
/// # Errors
/// When the SIGTERM handler cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
}

/// Waits for every task (their results were logged where they ran).
pub async fn join_all<T>(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// The flag of a controller that forwards its events to the
/// notification-controller (every controller but that one, whose
/// `--events-addr` is the address it listens on).
#[derive(Debug, Clone, clap::Args)]
pub struct EventsFlags {
    /// Address of the notification-controller's event endpoint; events are
    /// only recorded as Kubernetes Events when empty.
    #[arg(long, env = "EVENTS_ADDR")]
    pub events_addr: Option<String>,
}

impl EventsFlags {
    /// The address events are forwarded to, if any.
    #[must_use]
    pub fn address(&self) -> Option<String> {
        self.events_addr.clone().filter(|a| !a.is_empty())
    }
}

/// The flags of a controller that applies to other clusters through `spec.kubeConfig`
/// (the kustomize- and helm-controller), as Flux names them.
#[derive(Debug, Clone, clap::Args)]
pub struct KubeConfigFlags {
    /// Allow `user.exec` and `user.auth-provider` in the kubeconfigs of `spec.kubeConfig`
    /// (they run commands inside the controller's container).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_exec: bool,
    /// Allow `insecure-skip-tls-verify` in the kubeconfigs of `spec.kubeConfig`.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_kubeconfig_tls: bool,
}

impl KubeConfigFlags {
    /// What the kubeconfigs of `spec.kubeConfig` may use.
    #[must_use]
    pub fn policy(&self) -> crate::tenant::KubeConfigPolicy {
        crate::tenant::KubeConfigPolicy {
            allow_exec: self.insecure_kubeconfig_exec,
            allow_insecure_tls: self.insecure_kubeconfig_tls,
        }
    }
}

/// The flags every controller shares, named as in Flux.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonFlags {
    /// How much `spec.interval` is spread, in percent, so objects created
    /// together do not reconcile together.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub interval_jitter_percentage: u8,
    /// Watch every namespace; when false, only the one in `RUNTIME_NAMESPACE`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_all_namespaces: bool,
    /// The controller's own namespace.
    #[arg(long, env = "RUNTIME_NAMESPACE", default_value = "flux-system")]
    pub runtime_namespace: String,
    /// Reconcile only objects matching this label selector (sharding).
    #[arg(long)]
    pub watch_label_selector: Option<String>,
    /// Address `/metrics` is served on.
    #[arg(long, default_value = ":8080")]
    pub metrics_addr: String,
    /// Address `/healthz` and `/readyz` are served on.
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,
    /// Run only while holding the leader-election Lease (for several replicas).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_leader_election: bool,
    /// How long the Lease is valid after its last renewal.
    #[arg(long, default_value = "35s")]
    pub leader_election_lease_duration: String,
    /// How long the leader keeps trying to renew before giving up.
    #[arg(long, default_value = "30s")]
    pub leader_election_renew_deadline: String,
    /// How often candidates retry and the leader renews.
    #[arg(long, default_value = "5s")]
    pub leader_election_retry_period: String,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Log format: json or console.
    #[arg(long, default_value = "json")]
    pub log_encoding: String,
}

impl CommonFlags {
    /// Serves `metrics` on `--metrics-addr` and the health endpoints on
    /// `--health-addr`, as every controller does; `/readyz` follows `ready`.
    ///
    /// # Errors
    /// As [`serve_on`].
    pub async fn serve_probes(
        &self,
        metrics: &std::sync::Arc<crate::metrics::Metrics>,
        stopped: &watch::Receiver<bool>,
        ready: &crate::metrics::Readiness,
    ) -> Result<Vec<tokio::task::JoinHandle<std::io::Result<()>>>, Error> {
        let metrics = crate::metrics::metrics_router(metrics.clone());
        let health = crate::metrics::health_router(ready.clone());
        Ok(vec![
            serve_on(&self.metrics_addr, "metrics-addr", metrics, stopped).await?,
            serve_on(&self.health_addr, "health-addr", health, stopped).await?,
        ])
    }

    /// The controller loop's options for `controller` (also the field
    /// manager and the events' reporting controller), forwarding events to
    /// `events_addr` when given.
    #[must_use]
    pub fn options(
        &self,
        client: &kube::Client,
        controller: &str,
        instance: &str,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        concurrency: u16,
        events_addr: Option<String>,
    ) -> crate::controller::Options {
        crate::controller::Options {
            field_manager: controller.into(),
            concurrency,
            namespace: (!self.watch_all_namespaces).then(|| self.runtime_namespace.clone()),
            label_selector: self.watch_label_selector.clone(),
            events: Some(crate::events::Events::new(
                client.clone(),
                controller,
                instance,
                events_addr,
            )),
            metrics: Some(metrics),
            jitter: f64::from(self.interval_jitter_percentage) / 100.0,
            ..crate::controller::Options::default()
        }
    }

    /// The leader-election timings.
    ///
    /// # Errors
    /// [`Error::InvalidDuration`] naming the flag that is not a duration.
    pub fn timings(&self) -> Result<crate::leader::Timings, Error> {
        let flag = |value: &str, name: &str| duration_flag(name, value);
        Ok(crate::leader::Timings {
            lease_duration: flag(
                &self.leader_election_lease_duration,
                "leader-election-lease-duration",
            )?,
            renew_deadline: flag(
                &self.leader_election_renew_deadline,
                "leader-election-renew-deadline",
            )?,
            retry_period: flag(
                &self.leader_election_retry_period,
                "leader-election-retry-period",
            )?,
        })
    }

    /// The name of the leader-election Lease for `base` (such as
    /// `source-controller-leader-election`): `base` itself, or with
    /// `--watch-label-selector` set, `base` followed by a hash of the
    /// selector, so shards watching different objects elect their leaders
    /// apart instead of sharing one Lease (and one running shard).
    #[must_use]
    pub fn lease_name(&self, base: &str) -> String {
        match self
            .watch_label_selector
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            None => base.to_owned(),
            // FNV-1a: stable across builds and Rust versions, unlike std's
            // hasher, so every replica of a shard computes the same name.
            Some(selector) => {
                let hash = selector.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                format!("{base}-{hash:016x}")
            }
        }
    }

    /// Waits for the Lease `lease` when leader election is on, and then
    /// sets `ready`. `Ok(None)` when a stop signal came first;
    /// `Ok(Some(None))` when leader election is off.
    ///
    /// # Errors
    /// A malformed timing flag ([`Error::InvalidDuration`]) or a failed
    /// signal handler ([`Error::Signal`]).
    pub async fn lead(
        &self,
        client: &kube::Client,
        lease: &str,
        instance: &str,
        ready: &crate::metrics::Readiness,
    ) -> Result<Option<Option<crate::leader::Leadership>>, Error> {
        if !self.enable_leader_election {
            ready.set();
            return Ok(Some(None));
        }
        let elector = crate::leader::Elector::new(
            client.clone(),
            &self.runtime_namespace,
            lease,
            instance,
            self.timings()?,
        );
        tracing::info!(lease, identity = %instance, "waiting for leadership");
        let stop = shutdown_signal().map_err(Error::Signal)?;
        tokio::select! {
            leading = elector.acquire() => {
                ready.set();
                Ok(Some(Some(leading)))
            }
            () = stop => Ok(None),
        }
    }
}

/// Runs until SIGTERM, Ctrl-C, the loss of `leadership` or the end of the
/// controller loop; then tells every task to stop through `stop` and gives
/// them 30 s to finish, except on the loss of leadership: then the loop is
/// aborted at once and the process is to exit, in-flight reconciles
/// dropped, since another replica may already be writing.
///
/// # Errors
/// [`Error::LostLeadership`] when the lease `lease` was lost (so the process
/// exits and a replica takes over), [`Error::LoopEnded`], or
/// [`Error::Signal`] when the signal handler cannot be installed.
pub async fn run_until_shutdown(
    mut leadership: Option<crate::leader::Leadership>,
    lease: &str,
    stop: &watch::Sender<bool>,
    mut controller: tokio::task::JoinHandle<()>,
    servers: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
) -> Result<(), Error> {
    let lost = async {
        match leadership.as_mut() {
            Some(l) => l.lost().await,
            None => std::future::pending().await,
        }
    };
    let signal = shutdown_signal().map_err(Error::Signal)?;
    let lost_leadership = tokio::select! {
        () = signal => false,
        () = lost => true,
        // The loop never ends by itself: exit so the pod restarts rather
        // than stay up reporting healthy while reconciling nothing.
        _ = &mut controller => {
            let _ = stop.send(true);
            return Err(Error::LoopEnded);
        }
    };
    tracing::info!("shutting down");
    let _ = stop.send(true);
    if lost_leadership {
        // Another replica may lead already: no reconcile of this one may
        // write anything more, so nothing in flight is waited for.
        controller.abort();
        return Err(Error::LostLeadership {
            lease: lease.to_owned(),
        });
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let _ = controller.await;
        join_all(servers).await;
    })
    .await;
    if let Some(leadership) = leadership {
        leadership.release().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{CommonFlags, listen_addr, size_flag};

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        common: CommonFlags,
    }

    #[test]
    fn each_shard_has_a_lease_of_its_own() {
        let lease = |args: &[&str]| {
            let flags =
                Flags::parse_from(std::iter::once("controller").chain(args.iter().copied()));
            flags.common.lease_name("source-controller-leader-election")
        };
        assert_eq!(lease(&[]), "source-controller-leader-election");
        let one = lease(&["--watch-label-selector=shard=one"]);
        let two = lease(&["--watch-label-selector=shard=two"]);
        assert!(
            one.starts_with("source-controller-leader-election-"),
            "{one}"
        );
        assert_ne!(one, two);
        assert_eq!(one, lease(&["--watch-label-selector=shard=one"]));
    }

    #[test]
    fn go_style_listen_addresses_parse() {
        let addr = |value| listen_addr("metrics-addr", value);
        assert_eq!(addr(":8080").unwrap().to_string(), "0.0.0.0:8080");
        assert_eq!(addr("127.0.0.1:1").unwrap().to_string(), "127.0.0.1:1");
        assert_eq!(
            addr("8080").unwrap_err().to_string(),
            "--metrics-addr: \"8080\" is not an address such as :9090 or 127.0.0.1:9090"
        );
    }

    #[test]
    fn sizes_parse_as_kubernetes_quantities() {
        let size = |value| size_flag("max-repository-size", value);
        assert_eq!(size("1048576").unwrap(), 1 << 20);
        assert_eq!(size("1Gi").unwrap(), 1 << 30);
        assert_eq!(size("500M").unwrap(), 500_000_000);
        for bad in ["", "1.5Gi", "Gi", "1GB", "-1", "99999999999Ti"] {
            let error = size(bad).expect_err(bad).to_string();
            assert!(error.starts_with("--max-repository-size: "), "{error}");
        }
    }
}
