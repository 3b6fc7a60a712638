//! Integration tests of the test control plane itself: start-up, teardown, and
//! cleanup when the process that started it dies.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers report failure by panicking"
)]

mod git_server;
mod lifecycle;
