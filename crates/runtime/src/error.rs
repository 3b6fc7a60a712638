//! The error a sub-reconciler returns, and how the runtime handles it.

use std::fmt;
use std::time::Duration;

use crate::scrub::Scrubbed;

/// How a failed reconcile continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    /// No retry can help until the object's spec changes (an invalid URL, a
    /// path escaping the artifact): `Stalled=True`, no requeue.
    Stalled,
    /// Something the object needs is not there yet (a source without an
    /// artifact, a dependency not ready): requeue after the given delay.
    Waiting(Duration),
    /// A failure that may pass (network, server error): retry with backoff.
    Transient,
}

/// A sub-reconciler's failure: what to show and how to continue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileError {
    /// How the runtime continues.
    pub handling: Handling,
    /// The Flux reason, e.g. `GitOperationFailed`, `AuthenticationFailed`.
    pub reason: &'static str,
    /// What happened and what to do, already scrubbed of credentials.
    pub message: Scrubbed,
    /// The negative-polarity condition this failure sets, e.g. `FetchFailed`.
    pub condition: Option<&'static str>,
    /// Whether a Warning event is emitted (`false` for expected waits).
    pub event: bool,
}

impl ReconcileError {
    fn new(handling: Handling, reason: &'static str, message: Scrubbed) -> Self {
        let event = !matches!(handling, Handling::Waiting(_));
        Self {
            handling,
            reason,
            message,
            condition: None,
            event,
        }
    }

    /// A failure no retry can fix until the spec changes.
    #[must_use]
    pub fn stalled(reason: &'static str, message: Scrubbed) -> Self {
        Self::new(Handling::Stalled, reason, message)
    }

    /// A failure that is retried with backoff.
    #[must_use]
    pub fn transient(reason: &'static str, message: Scrubbed) -> Self {
        Self::new(Handling::Transient, reason, message)
    }

    /// A wait for something outside the object, retried after `after`.
    #[must_use]
    pub fn waiting(after: Duration, reason: &'static str, message: Scrubbed) -> Self {
        Self::new(Handling::Waiting(after), reason, message)
    }

    /// Also sets the negative-polarity condition `condition` to `True`.
    #[must_use]
    pub fn with_condition(mut self, condition: &'static str) -> Self {
        self.condition = Some(condition);
        self
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for ReconcileError {}

/// What a successful sub-reconciler asks of the chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Reconcile again after this long (the lowest request in a chain wins);
    /// `None` leaves it to the object's interval.
    pub requeue_after: Option<Duration>,
    /// Stop the chain here without an error (e.g. nothing changed).
    pub stop: bool,
}

impl Outcome {
    /// Continue with the next sub-reconciler.
    pub const CONTINUE: Self = Self {
        requeue_after: None,
        stop: false,
    };

    /// The combination of two outcomes: the sooner requeue, and stop if either stops.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        let requeue_after = match (self.requeue_after, other.requeue_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            requeue_after,
            stop: self.stop || other.stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Handling, Outcome, ReconcileError};
    use crate::scrub::Scrubbed;

    #[test]
    fn waits_emit_no_event_and_failures_do() {
        let wait = ReconcileError::waiting(
            Duration::from_secs(30),
            "ArtifactFailed",
            Scrubbed::new("no artifact"),
        );
        assert_eq!(wait.handling, Handling::Waiting(Duration::from_secs(30)));
        assert!(!wait.event);
        let fail = ReconcileError::transient(
            "GitOperationFailed",
            Scrubbed::new("clone of https://u:p@h/r failed"),
        )
        .with_condition("FetchFailed");
        assert!(fail.event);
        assert_eq!(
            fail.to_string(),
            "GitOperationFailed: clone of https://***@h/r failed"
        );
        assert_eq!(fail.condition, Some("FetchFailed"));
    }

    #[test]
    fn the_lowest_requeue_wins_and_stop_sticks() {
        let a = Outcome {
            requeue_after: Some(Duration::from_secs(60)),
            stop: false,
        };
        let b = Outcome {
            requeue_after: Some(Duration::from_secs(5)),
            stop: true,
        };
        assert_eq!(
            a.merge(b),
            Outcome {
                requeue_after: Some(Duration::from_secs(5)),
                stop: true
            }
        );
        assert_eq!(Outcome::CONTINUE.merge(a), a);
    }
}
