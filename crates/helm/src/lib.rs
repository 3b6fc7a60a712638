//! Helm chart rendering for Ferroflux (issue 14).
//!
//! What exists now is the engine Helm's templates run on:
//! - [`template`]: Go's `text/template` rewritten with Go's semantics (values with Go's types and
//!   shared mutable maps, `missingkey=zero`, Go's `fmt` printing, Go's parse and execution
//!   messages) and a function registry whose functions can reach the executor;
//! - [`funcs`]: the first Sprig and Helm functions (`include`, `required`, `fail`, `default`,
//!   `quote`, `indent`, ...) over Go's builtins;
//! - [`helm_error`]: Helm's wording of template errors;
//! - [`objects`]: `.Capabilities` as `helm template` sets it.
//!
//! The rest of Sprig, chart loading, values coalescing and `helm template` output come next (see
//! `docs/notes/helm-renderer.md`).

pub mod chart;
pub mod funcs;
pub mod helm_error;
pub mod objects;
pub mod template;
pub mod values;
