//! The reconcile runtime every Ferroflux controller shares.
//!
//! A reconcile is an ordered list of sub-reconcilers, each returning
//! `Result<Outcome, ReconcileError>`; [`summary::summarize`] then turns the
//! result and the conditions the sub-reconcilers set into `Ready`,
//! `Reconciling`, `Stalled` and `observedGeneration`, in one place, for every
//! kind. Errors carry how they are handled ([`error::Handling`]) and a message
//! that has been through [`scrub`], so no credential reaches a status, an
//! event or a log line.

pub mod acl;
pub mod backoff;
pub mod cel;
pub mod conditions;
pub mod controller;
pub mod error;
pub mod events;
pub mod impersonation;
pub mod leader;
pub mod metrics;
pub mod object;
pub mod process;
pub mod scrub;
pub mod summary;
pub mod tenant;
