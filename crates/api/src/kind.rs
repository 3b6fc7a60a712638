//! What a controller needs to know about a kind it reconciles: its Ready
//! contract, where it keeps its interval and suspension, which of its spec
//! fields are durations, and where the shared status fields live.
//!
//! These are facts of the kind, so they are declared here, beside the type;
//! the runtime's reconcile loop works with any type implementing [`Kind`] and
//! names none of them.

use serde::Serialize;

use crate::duration::GoDuration;
use crate::meta::Condition;

/// A kind's Ready contract, declared as data.
#[derive(Clone, Copy, Debug)]
pub struct Contract {
    /// Negative-polarity conditions the kind owns (`FetchFailed`,
    /// `BuildFailed`, ...), in priority order: the first one that is `True`
    /// decides the `Ready` reason and message. They are present only while `True`.
    pub negative: &'static [&'static str],
    /// The `Ready` reason when the reconcile succeeded: Flux's sources say
    /// `Succeeded`, its Kustomization `ReconciliationSucceeded`.
    pub ready_reason: &'static str,
}

/// A duration field of a spec, with the path that names it in conditions.
#[derive(Clone, Copy, Debug)]
pub struct DurationField<'a> {
    /// The field's path, such as `spec.interval`.
    pub path: &'static str,
    /// The field's value.
    pub value: &'a GoDuration,
}

/// The facts of a Flux kind that a reconcile loop relies on.
pub trait Kind {
    /// The status type, patched as a whole after every reconcile.
    type Status: Clone + Default + Serialize + std::fmt::Debug + Send + Sync;

    /// The kind's Ready contract.
    const CONTRACT: Contract;

    /// The current status, if any.
    fn status(&self) -> Option<&Self::Status>;
    /// How often the object is reconciled when nothing else asks
    /// (`spec.interval`, or the kind's default).
    fn interval(&self) -> GoDuration;
    /// How soon a failed reconcile is retried, for kinds that say so.
    fn retry_interval(&self) -> Option<&GoDuration> {
        None
    }
    /// Every duration field set in the spec, so one invalid value is refused
    /// the same way whatever the field.
    fn durations(&self) -> Vec<DurationField<'_>>;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// Whether the object is a static data container the controller leaves
    /// alone (Flux's `type: oci` HelmRepository): no reconcile, no
    /// conditions; whatever the controller held for it is cleaned up.
    fn is_static(&self) -> bool {
        false
    }

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

/// The set fields among `fields`, as [`DurationField`]s.
#[must_use]
pub fn durations<'a>(fields: &[(&'static str, Option<&'a GoDuration>)]) -> Vec<DurationField<'a>> {
    fields
        .iter()
        .filter_map(|(path, value)| value.map(|value| DurationField { path, value }))
        .collect()
}
