//! Integration tests of artifact storage, the HTTP server and the fetching
//! client, over real loopback HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers report failure by panicking"
)]

mod archive;
mod fetch;
mod server;
mod storage;
mod support;
