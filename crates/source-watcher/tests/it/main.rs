//! Integration tests of the source-watcher: its binary, the source-controller
//! and the kustomize-controller as their own processes, against the shared
//! real control plane and a real git server.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod generator;
