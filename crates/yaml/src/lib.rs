//! YAML in and out, the way `kubectl kustomize` (kustomize v5.7.1) reads
//! and writes it: [`read`] parses documents into JSON values as go-yaml v3
//! does, within budgets that keep a hostile file from exhausting memory or
//! the stack; [`write`] prints values as go-yaml v2 over JSON does, and
//! [`go_json`] quotes strings as Go's JSON encoder does. A leaf
//! crate, so the kustomize builder, the Helm renderer and the CLI share one
//! reader and one writer.

pub mod go_json;
pub mod read;
pub mod write;

pub use read::{
    Error, MAX_DEPTH, ScalarError, normalise, parse_documents, parse_documents_helm,
    parse_documents_yaml11, parse_objects, parse_patches, resolve_plain,
};
pub use write::{natural_cmp, to_yaml, to_yaml_stream};

#[cfg(test)]
mod tests;
