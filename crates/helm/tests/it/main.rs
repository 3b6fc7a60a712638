//! Integration tests for `ferroflux-helm`: one binary, a module per area.

mod bad_input;
mod constructs;
mod corpus;
