//! Integration tests for `ferroflux-helm`: one binary, a module per area.

mod charts;
mod constructs;
mod corpus;
