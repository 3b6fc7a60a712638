//! Integration tests of the kustomize-controller: the binary and the
//! source-controller binary as their own processes, against the shared real
//! control plane and a real git server.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod kustomization;
