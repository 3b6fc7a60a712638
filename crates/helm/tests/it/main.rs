//! Integration tests for `ferroflux-helm`: one binary, a module per area.

mod constructs;
mod corpus;
