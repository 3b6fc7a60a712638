//! `source.extensions.fluxcd.io/v1beta1`: the kinds of Flux's source-watcher,
//! which composes and decomposes source artifacts into ExternalArtifacts.

pub mod artifactgenerator;

pub use artifactgenerator::{
    ArtifactGenerator, ArtifactGeneratorSpec, ArtifactGeneratorStatus, CopyOperation,
    ExternalArtifactReference, OutputArtifact, SourceReference,
};

/// The API group of the source-watcher's kinds.
pub const GROUP: &str = "source.extensions.fluxcd.io";
