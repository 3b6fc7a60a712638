//! Ferroflux's source-watcher: Flux's ArtifactGenerator, which composes the
//! artifacts of sources (GitRepository, OCIRepository, Bucket, HelmChart,
//! ExternalArtifact) into new ones, or splits one source into several, and
//! publishes each as an ExternalArtifact served from its own storage.
//!
//! - [`copy`] applies an output artifact's copy operations to extracted
//!   sources (paths confined, globs that match nothing refused by name).
//! - [`generator`] is the reconciler: validate, observe the sources, build
//!   and store only when they changed, write the ExternalArtifacts, delete
//!   those that left the spec.
//! - [`sources`] reads the sources' artifacts and turns a new one into a
//!   reconcile of the generators naming it.

pub mod copy;
pub mod generator;
pub mod sources;
