//! Integration tests of Helm's actions against the shared real control plane, each release
//! read back (and in places written) by the reference `helm` binary.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod release;
