//! The `ferroflux` command line: what Flux users do daily, with Flux's
//! verbs. [`kinds`] maps the names users type to API resources,
//! [`manifests`] builds the objects `create` writes, [`cluster`] talks to
//! the API server, [`commands`] holds the everyday verbs, [`table`] lays
//! out `get`, [`local`] builds and diffs a Kustomization from a local
//! directory (decrypting SOPS with the keys [`sops`] reads, which also
//! makes `create secret sops`), [`helmrelease`] tells what a HelmRelease's next upgrade
//! would change, [`tree`] draws inventories, and [`install`] installs,
//! removes and checks the controllers; [`artifacts`] holds Flux's OCI
//! artifact verbs (push, pull, tag, list). Errors carry their exit code
//! ([`error`]); progress goes to stderr through [`ui`].

pub mod artifacts;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod helmrelease;
pub mod install;
pub mod kinds;
pub mod local;
pub mod manifests;
pub mod sops;
pub mod table;
pub mod tree;
pub mod ui;
