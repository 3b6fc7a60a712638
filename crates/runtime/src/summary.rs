//! The one place where conditions become `Ready`, `Reconciling`, `Stalled`
//! and `observedGeneration`, whatever the kind.

use ferroflux_api::meta::{Condition, READY_CONDITION, RECONCILING_CONDITION, STALLED_CONDITION};

use crate::conditions::{self, reason};
use crate::error::{Handling, Outcome, ReconcileError};

pub use ferroflux_api::kind::Contract;

/// The result of a whole reconcile, as the runtime summarises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The new `observedGeneration`, when the reconcile finished its work for
    /// this generation (succeeded or stalled); `None` keeps the old one.
    pub observed_generation: Option<i64>,
    /// Whether `Ready` is `True`.
    pub ready: bool,
}

/// Computes `Ready`, `Reconciling` and `Stalled` into `conditions` from the
/// chain's `result` and the negative conditions the sub-reconcilers left.
///
/// - Stalled error: `Stalled=True` and `Ready=False` with the error; no `Reconciling`.
/// - Transient or waiting error: `Ready=False` with the error and
///   `Reconciling=True` (`ProgressingWithRetry`); `Stalled` removed.
/// - Success: `Reconciling` and `Stalled` removed; `Ready=False` with the
///   first `True` negative condition, else `Ready=True`, `Succeeded`,
///   `success_message`.
///
/// A failing error's [`ReconcileError::condition`] is set `True` first.
pub fn summarize(
    conditions: &mut Vec<Condition>,
    contract: &Contract,
    result: &Result<Outcome, ReconcileError>,
    generation: Option<i64>,
    success_message: &str,
) -> Summary {
    let Err(e) = result else {
        return succeeded(conditions, contract, generation, success_message);
    };
    let message = e.message.as_str();
    if let Some(condition) = e.condition {
        conditions::set(conditions, condition, true, e.reason, message, generation);
    }
    conditions::set(
        conditions,
        READY_CONDITION,
        false,
        e.reason,
        message,
        generation,
    );
    if e.handling == Handling::Stalled {
        conditions::set(
            conditions,
            STALLED_CONDITION,
            true,
            e.reason,
            message,
            generation,
        );
        conditions::remove(conditions, RECONCILING_CONDITION);
        Summary {
            observed_generation: generation,
            ready: false,
        }
    } else {
        conditions::remove(conditions, STALLED_CONDITION);
        let retry = reason::PROGRESSING_WITH_RETRY;
        conditions::set(
            conditions,
            RECONCILING_CONDITION,
            true,
            retry,
            message,
            generation,
        );
        Summary {
            observed_generation: None,
            ready: false,
        }
    }
}

fn succeeded(
    conditions: &mut Vec<Condition>,
    contract: &Contract,
    generation: Option<i64>,
    success_message: &str,
) -> Summary {
    conditions::remove(conditions, STALLED_CONDITION);
    conditions::remove(conditions, RECONCILING_CONDITION);
    let failing = contract.negative.iter().find_map(|t| {
        conditions::get(conditions, t)
            .filter(|c| c.status == "True")
            .cloned()
    });
    let ready = failing.is_none();
    let (reason, message) = failing.map_or_else(
        || (contract.ready_reason.to_owned(), success_message.to_owned()),
        |c| (c.reason, c.message),
    );
    conditions::set(
        conditions,
        READY_CONDITION,
        ready,
        &reason,
        &message,
        generation,
    );
    Summary {
        observed_generation: generation,
        ready,
    }
}

#[cfg(test)]
mod tests;
