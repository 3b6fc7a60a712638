//! Integration tests of the source-controller against a real git server, a
//! real OCI registry, a real S3 server and, for the reconciler, the real
//! control plane.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers report failure by panicking"
)]

mod bucket;
mod git;
mod gitrepository;
mod helm;
mod helmoci;
mod ocirepository;
