//! The differential corpus: every case under `tests/corpus` built by this
//! crate and compared with what `kubectl kustomize` printed for it.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod corpus;
mod errors;
