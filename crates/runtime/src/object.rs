//! What the runtime needs to know about a kind: its Ready contract, its
//! interval and suspension, and where the shared status fields live.

use std::time::Duration;

use ferroflux_api::kustomize::{Kustomization, KustomizationStatus};
use ferroflux_api::meta::Condition;
use ferroflux_api::notification::{Receiver, ReceiverStatus};
use ferroflux_api::source::{GitRepository, GitRepositoryStatus};
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::summary::Contract;

/// A Flux kind the runtime can reconcile.
pub trait Object:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The status type, patched as a whole after every reconcile.
    type Status: Clone + Default + Serialize + std::fmt::Debug + Send + Sync;

    /// The kind's Ready contract.
    const CONTRACT: Contract;

    /// The current status, if any.
    fn status(&self) -> Option<&Self::Status>;
    /// `spec.interval` as written (a Go duration such as `5m0s`).
    fn interval(&self) -> &str;
    /// `spec.retryInterval`, for kinds that have one.
    fn retry_interval(&self) -> Option<&str> {
        None
    }
    /// `spec.suspend`.
    fn suspended(&self) -> bool;

    /// The conditions in `status`.
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition>;
    /// Records the generation the status describes.
    fn set_observed_generation(status: &mut Self::Status, generation: i64);
    /// The last handled `reconcile.fluxcd.io/requestedAt` value.
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String>;
    /// The revision the status describes, for event metadata.
    fn revision(_status: &Self::Status) -> Option<String> {
        None
    }
}

/// Parses a Go duration as Flux writes them (`1h30m`, `5m0s`, `750ms`, `1.5s`).
///
/// # Errors
/// A message naming the value when it is not a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 30s, 5m or 1h30m");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..split].parse().map_err(|_| bad())?;
        let unit_len = rest[split..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - split);
        let seconds = match &rest[split..split + unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = &rest[split + unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Parses a byte size as Kubernetes quantities write them: a plain number or
/// one with a suffix `Ki`, `Mi`, `Gi`, `Ti` (powers of 1024) or `k`, `M`,
/// `G`, `T` (powers of 1000).
///
/// # Errors
/// A message naming the value when it is not a size.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size such as 500Mi, 1Gi or 1048576");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..split].parse().map_err(|_| bad())?;
    let factor: u64 = match &text[split..] {
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

impl Object for GitRepository {
    type Status = GitRepositoryStatus;

    const CONTRACT: Contract = Contract {
        negative: &[
            "FetchFailed",
            "IncludeUnavailable",
            "StorageOperationFailed",
        ],
        ready_reason: crate::conditions::reason::SUCCEEDED,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> &str {
        &self.spec.interval
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition> {
        &mut status.conditions
    }
    fn set_observed_generation(status: &mut Self::Status, generation: i64) {
        status.observed_generation = Some(generation);
    }
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String> {
        &mut status.reconcile_request.last_handled_reconcile_at
    }
    fn revision(status: &Self::Status) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }
}

impl Object for Kustomization {
    type Status = KustomizationStatus;

    // Flux's Kustomization reports failures as Ready reasons, not as
    // negative conditions.
    const CONTRACT: Contract = Contract {
        negative: &[],
        ready_reason: "ReconciliationSucceeded",
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> &str {
        &self.spec.interval
    }
    fn retry_interval(&self) -> Option<&str> {
        Some(
            self.spec
                .retry_interval
                .as_deref()
                .unwrap_or(&self.spec.interval),
        )
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition> {
        &mut status.conditions
    }
    fn set_observed_generation(status: &mut Self::Status, generation: i64) {
        status.observed_generation = Some(generation);
    }
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String> {
        &mut status.reconcile_request.last_handled_reconcile_at
    }
    fn revision(status: &Self::Status) -> Option<String> {
        status.last_attempted_revision.clone()
    }
}

impl Object for Receiver {
    type Status = ReceiverStatus;

    const CONTRACT: Contract = Contract {
        negative: &[],
        ready_reason: crate::conditions::reason::SUCCEEDED,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> &str {
        // Flux's default for Receivers.
        self.spec.interval.as_deref().unwrap_or("10m")
    }
    fn suspended(&self) -> bool {
        self.spec.suspend
    }
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition> {
        &mut status.conditions
    }
    fn set_observed_generation(status: &mut Self::Status, generation: i64) {
        status.observed_generation = Some(generation);
    }
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String> {
        &mut status.reconcile_request.last_handled_reconcile_at
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{parse_bytes, parse_duration};

    #[test]
    fn go_durations_parse_as_flux_writes_them() {
        assert_eq!(parse_duration("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "5", "five minutes", "5x", "m5", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn sizes_parse_as_kubernetes_quantities() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(parse_bytes("500M"), Ok(500_000_000));
        for bad in ["", "1.5Gi", "Gi", "1GB", "-1", "99999999999Ti"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} parsed");
        }
    }
}
