//! Integration tests for `ferroflux-helm`: one binary, a module per area.

mod bad_input;
mod charts;
mod constructs;
mod corpus;
