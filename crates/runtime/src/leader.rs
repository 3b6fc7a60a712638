//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several
//! replicas exactly one reconciles.
//!
//! A candidate takes the Lease when it is free, expired, or already its own,
//! with the Lease's `resourceVersion` guarding against two candidates taking
//! it at once. The leader renews it every retry period; if it cannot renew
//! within the renew deadline it has lost leadership and must stop reconciling.
//!
//! # Guarantees
//! Expiry is judged by observed change, as client-go does: another holder's
//! Lease counts as expired only when this process has seen its record stay
//! the same for a whole lease duration on its own monotonic clock, so clock
//! skew between pods can neither steal a live Lease nor keep a dead one.
//! Each renewal is bounded by what is left of the renew deadline, so a hung
//! API call cannot keep a leader that can no longer renew.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
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
    /// The Lease record last seen and when (on this process's clock) it
    /// was first seen.
    observed: Arc<Mutex<Option<(Record, tokio::time::Instant)>>>,
}

/// What of a Lease changes when its holder renews it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    holder: String,
    renew_time: Option<Timestamp>,
    acquire_time: Option<Timestamp>,
    transitions: Option<i32>,
    duration: Option<i32>,
}

impl Record {
    fn of(spec: &LeaseSpec) -> Self {
        Self {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions,
            duration: spec.lease_duration_seconds,
        }
    }
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
            observed: Arc::default(),
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
        let expired = self.expired(&spec);
        if holder != self.identity && !holder.is_empty() && !expired {
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

    /// Whether the Lease's record has stayed unchanged, as this process
    /// has watched it, for longer than its lease duration. A record seen
    /// for the first time (or changed since last seen) starts the count, so
    /// only local elapsed time is compared, never another pod's clock.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        if spec.renew_time.is_none() {
            return true;
        }
        let duration = spec
            .lease_duration_seconds
            .map_or(self.timings.lease_duration, |s| {
                Duration::from_secs(u64::try_from(s).unwrap_or(0))
            });
        let record = Record::of(spec);
        let now = tokio::time::Instant::now();
        let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        let since = match observed.as_ref() {
            Some((seen, at)) if *seen == record => *at,
            _ => {
                *observed = Some((record, now));
                now
            }
        };
        now.duration_since(since) > duration
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
            // Bounded by what is left of the renew deadline: a call that
            // hangs must not keep this replica leading past it.
            let left = self
                .timings
                .renew_deadline
                .saturating_sub(last_renewal.elapsed());
            match tokio::time::timeout(left, self.try_acquire()).await {
                Ok(Ok(true)) => last_renewal = tokio::time::Instant::now(),
                Ok(Ok(false)) => {
                    tracing::error!(lease = %self.name, "another replica took the lease");
                    let _ = lost.send(true);
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.name, error = %e, "renewing the lease failed");
                }
                Err(_) => {
                    tracing::warn!(lease = %self.name, "renewing the lease did not finish within the renew deadline");
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
