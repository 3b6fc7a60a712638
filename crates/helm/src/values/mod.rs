//! Values: the `--set` family of command-line values.

pub mod strvals;
