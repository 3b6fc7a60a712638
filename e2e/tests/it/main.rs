//! The end-to-end suite: the source-, kustomize-, helm- and
//! notification-controllers as their own processes against a real control
//! plane, a real git server and a webhook sink, walking through what a Flux
//! user lives through.
//!
//! Most tests share one control plane (a namespace each); the API-server
//! restart and the demo start their own, since they stop theirs.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod apiserver;
mod crash;
mod demo;
mod helm;
mod lifecycle;

use ferroflux_e2e::stack::Stack;

/// A stack on the shared control plane, watching a fresh namespace
/// `<prefix>-<n>` with the CRDs installed.
async fn stack(prefix: &str) -> Stack {
    let (_client, ns) = ferroflux_testenv::setup(prefix, &ferroflux_api::all_crds()).await;
    let control_plane = ferroflux_testenv::shared().unwrap();
    Stack::start(control_plane, &ns).await.unwrap()
}
