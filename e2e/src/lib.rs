//! The end-to-end environment of Ferroflux: the sample app, and the whole
//! system on one machine ([`stack::Stack`]: a git server serving the app,
//! the source-, kustomize-, helm- and notification-controllers as their own
//! processes, and a webhook sink), against a real control plane from
//! `ferroflux-testenv`.
//!
//! Two users: the end-to-end suite (`tests/it`, `make e2e`) and the
//! one-command demo (the `ferroflux-demo` binary, `make demo`).

pub mod sample;
pub mod stack;
