//! A kustomize-compatible builder: turns a kustomization directory into the
//! Kubernetes objects kustomize v5 would produce, in the same order, without
//! running kustomize.
//!
//! [`build::build`] is the entry point; [`yaml`] reads and writes YAML the way
//! `kubectl kustomize` does. No file outside [`build::Options::root`] is ever
//! read, and every kustomization field this builder does not implement is
//! refused with [`Error::Unsupported`] instead of being ignored.

use std::path::{Path, PathBuf};

pub mod build;
pub mod config;
pub mod crds;
pub mod fieldspec;
pub mod generator;
pub mod json6902;
pub mod kustomization;
pub mod nameref;
pub mod openapi;
pub mod patch;
pub mod replacement;
pub mod resource;
pub mod selector;
pub mod smp;
pub mod transform;
pub mod vars;

/// The YAML reader and writer, from the `ferroflux-yaml` crate (kept at this
/// path for the builder's modules and its users).
pub use ferroflux_yaml as yaml;

/// Why a build failed. Every variant names the file or directory at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {}: {reason}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// A path leaves the build root (`../`, an absolute path, or a symlink).
    #[error("{} is outside the build root {}; only files inside it can be used", path.display(), root.display())]
    Escape {
        /// The path as written.
        path: PathBuf,
        /// The build root.
        root: PathBuf,
    },
    /// A file outside the kustomization's directory under the default
    /// load restrictor.
    #[error("{} is not in or below the kustomization directory {}; move it there or use a base", path.display(), dir.display())]
    Restricted {
        /// The file.
        path: PathBuf,
        /// The kustomization's directory.
        dir: PathBuf,
    },
    /// A `resources` entry names nothing.
    #[error("{}: resources entry '{entry}' cannot be read: {reason}", file.display())]
    Missing {
        /// The kustomization file.
        file: PathBuf,
        /// The entry.
        entry: String,
        /// The system's reason.
        reason: String,
    },
    /// A directory used as a base or component has no kustomization file.
    #[error("{} has no kustomization.yaml, kustomization.yml or Kustomization", dir.display())]
    NoKustomization {
        /// The directory.
        dir: PathBuf,
    },
    /// Malformed YAML.
    #[error("{}: {source}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// The parse error, with its line.
        #[source]
        source: yaml::Error,
    },
    /// Content kustomize would also refuse.
    #[error("{}: {message}", file.display())]
    Invalid {
        /// The file (or directory).
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A base or component that is, or contains, a kustomization already
    /// being built.
    #[error("{}: cycle of bases or components; a kustomization cannot include one it is part of", dir.display())]
    Cycle {
        /// The directory.
        dir: PathBuf,
    },
    /// Fields this builder does not implement.
    #[error("{}: {fields} not supported by the Ferroflux kustomize builder yet", file.display())]
    Unsupported {
        /// The kustomization file.
        file: PathBuf,
        /// The fields, comma-separated.
        fields: String,
    },
}

impl Error {
    fn io(path: &Path, e: &std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}
