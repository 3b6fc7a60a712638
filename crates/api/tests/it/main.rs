//! Integration tests of the API types on a real Kubernetes API server: the
//! generated CRDs load, Flux manifests round-trip with no field lost, and bad
//! objects are refused with a message naming the field.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers report failure by panicking"
)]

mod crds;
mod roundtrip;
mod seed;
mod support;
mod validation;
