//! Helm chart rendering for Ferroflux (issue 14).
//!
//! - [`chart`] loads a chart directory or `.tgz`; [`values`] reads, merges, coalesces and
//!   validates values as Helm does;
//! - [`template`]: Go's `text/template` rewritten with Go's semantics; [`funcs`]: Sprig's and
//!   Helm's functions; [`engine`] runs a chart's templates in Helm's order;
//! - [`manifest`] splits and sorts the rendered documents; [`action`] is `helm template` and the
//!   render an install or upgrade makes; [`release`] is Helm's stored release record;
//! - [`helm_error`] words errors as Helm does; [`objects`] holds `.Capabilities`; [`lookup`]
//!   answers Helm's `lookup` from a cluster during an install or upgrade.
//!
//! See `docs/notes/helm-renderer.md` for what is proven against the reference `helm`.

pub mod action;
pub mod chart;
pub mod engine;
pub mod files;
pub mod funcs;
pub mod helm_error;
pub mod lookup;
pub mod manifest;
pub mod objects;
pub mod release;
pub mod template;
pub mod values;
