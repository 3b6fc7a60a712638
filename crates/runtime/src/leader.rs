//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several
//! replicas exactly one reconciles.
//!
//! A candidate takes the Lease when it is free, expired, or already its own,
//! with the Lease's `resourceVersion` guarding against two candidates taking
//! it at once. The leader renews it every retry period; if it cannot renew
//! within the renew deadline it has lost leadership and must stop reconciling.
//!
//! # Caveats
//! Clocks matter: expiry compares the Lease's `renewTime` with this
//! process's clock, as client-go does.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

/// Timings of the election (Flux's flags of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// How long a Lease is valid after its last renewal (`--leader-election-lease-duration`).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up (`--leader-election-renew-deadline`).
    pub renew_deadline: Duration,
    /// How often candidates retry and the leader renews (`--leader-election-retry-period`).
    pub retry_period: Duration,
}

impl Default for Timings {
    /// Flux's defaults: 35 s, 30 s, 5 s.
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(35),
            renew_deadline: Duration::from_secs(30),
            retry_period: Duration::from_secs(5),
        }
    }
}

/// One candidate for leadership of the Lease `namespace/name`.
#[derive(Clone)]
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Held while leading: [`Leadership::lost`] completes when leadership ends.
#[derive(Debug)]
pub struct Leadership {
    lost: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Completes when the Lease could not be renewed in time.
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Stops renewing and frees the Lease so another replica takes over at once.
    pub async fn release(self) {
        let _ = self.stop.send(true);
        let _ = self.renewer.await;
    }

    /// Stops renewing without freeing the Lease, as a crash would.
    pub fn abandon(self) {
        self.renewer.abort();
    }
}

impl Elector {
    /// A candidate named `identity` (e.g. the pod name) for the Lease `namespace/name`.
    #[must_use]
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timings: Timings,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
        }
    }

    /// Waits until this candidate holds the Lease, then keeps renewing it in
    /// the background.
    pub async fn acquire(&self) -> Leadership {
        loop {
            match self.try_acquire().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = %self.name, error = %e, "trying to acquire the lease failed");
                }
            }
            // The retry period of the election, as in client-go.
            tokio::time::sleep(self.timings.retry_period).await;
        }
        tracing::info!(lease = %self.name, identity = %self.identity, "acquired leadership");
        let (lost_tx, lost) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let me = self.clone();
        let renewer = tokio::spawn(async move { me.renew(lost_tx, stop_rx).await });
        Leadership {
            lost,
            stop,
            renewer,
        }
    }

    /// One attempt to take or keep the Lease. `Ok(true)` when held.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.identity && !holder.is_empty() && !self.expired(&spec, now) {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(holder != self.identity);
        let mut next = self.spec(now, transitions);
        if holder == self.identity {
            next.acquire_time = spec.acquire_time;
        }
        lease.spec = Some(next);
        // `replace` sends the resourceVersion we read: a concurrent taker makes it fail with 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn expired(&self, spec: &LeaseSpec, now: Timestamp) -> bool {
        let Some(renewed) = spec.renew_time.as_ref() else {
            return true;
        };
        let duration = spec
            .lease_duration_seconds
            .map_or(self.timings.lease_duration, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            });
        let elapsed = now.duration_since(renewed.0);
        elapsed > SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
    }

    fn spec(&self, now: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: i32::try_from(self.timings.lease_duration.as_secs()).ok(),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    async fn renew(&self, lost: watch::Sender<bool>, mut stop: watch::Receiver<bool>) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            // Renew once per retry period, unless told to stop first.
            let stopped = tokio::select! {
                r = stop.wait_for(|s| *s) => r.is_ok(),
                () = tokio::time::sleep(self.timings.retry_period) => false,
            };
            if stopped {
                self.release().await;
                return;
            }
            match self.try_acquire().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.name, "another replica took the lease");
                    let _ = lost.send(true);
                    return;
                }
                Err(e) => {
                    tracing::warn!(lease = %self.name, error = %e, "renewing the lease failed");
                }
            }
            if last_renewal.elapsed() > self.timings.renew_deadline {
                tracing::error!(lease = %self.name, "could not renew the lease within the renew deadline");
                let _ = lost.send(true);
                return;
            }
        }
    }

    /// Frees the Lease if we still hold it.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        if let Err(e) = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(lease = %self.name, error = %e, "releasing the lease failed");
        }
    }
}
