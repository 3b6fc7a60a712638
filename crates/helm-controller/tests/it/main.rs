//! Integration tests of the helm-controller: the binary and the source-controller binary as
//! their own processes, against the shared real control plane, a real git server, and the
//! reference `helm` reading every release.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod helmrelease;
