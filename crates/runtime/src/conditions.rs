//! Reading and writing `status.conditions` as Flux's controllers do.
//!
//! # Guarantees
//! [`set`] keeps `lastTransitionTime` unless the status changes, so a condition
//! rewritten with the same status does not look like a transition; conditions
//! stay sorted by type so status patches are stable.

use ferroflux_api::meta::Condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Reasons Flux's status contract uses across kinds.
pub mod reason {
    /// The reconcile succeeded.
    pub const SUCCEEDED: &str = ferroflux_api::meta::SUCCEEDED_REASON;
    /// The reconcile failed.
    pub const FAILED: &str = "Failed";
    /// Work is in progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Work is in progress after a failure and will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// The object is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency is not ready yet.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
}

/// The condition of `type_`, if present.
#[must_use]
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status `True`.
#[must_use]
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Sets the condition `type_` to `status`, with `reason` and `message`, as
/// observed at `generation`.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let status = if status { "True" } else { "False" };
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != status {
            existing.last_transition_time = now();
        }
        status.clone_into(&mut existing.status);
        reason.clone_into(&mut existing.reason);
        message.clone_into(&mut existing.message);
        existing.observed_generation = generation;
        return;
    }
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time: now(),
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// Removes the condition `type_` if present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

fn now() -> Time {
    Time(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_the_same_status_keeps_the_transition_time() {
        let mut cs = Vec::new();
        set(&mut cs, "Ready", false, "Progressing", "working", Some(1));
        let first = cs[0].last_transition_time.clone();
        cs[0].last_transition_time = Time(Timestamp::UNIX_EPOCH);
        set(&mut cs, "Ready", false, "Failed", "broken", Some(2));
        assert_eq!(cs[0].last_transition_time, Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            (cs[0].reason.as_str(), cs[0].message.as_str()),
            ("Failed", "broken")
        );
        assert_eq!(cs[0].observed_generation, Some(2));
        set(&mut cs, "Ready", true, "Succeeded", "done", Some(2));
        assert_ne!(cs[0].last_transition_time, Time(Timestamp::UNIX_EPOCH));
        assert!(first.0 <= cs[0].last_transition_time.0);
    }

    #[test]
    fn conditions_stay_sorted_and_remove_removes() {
        let mut cs = Vec::new();
        set(&mut cs, "Ready", true, "Succeeded", "", None);
        set(&mut cs, "ArtifactInStorage", true, "Succeeded", "", None);
        set(&mut cs, "FetchFailed", true, "GitOperationFailed", "", None);
        let types: Vec<&str> = cs.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["ArtifactInStorage", "FetchFailed", "Ready"]);
        assert!(is_true(&cs, "FetchFailed"));
        remove(&mut cs, "FetchFailed");
        assert!(get(&cs, "FetchFailed").is_none());
    }
}
