//! Integration tests of the shared controller loop on the real control plane,
//! with a scripted reconciler over GitRepository.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers report failure by panicking"
)]

mod controller;
mod events;
mod leader;
mod metrics;
