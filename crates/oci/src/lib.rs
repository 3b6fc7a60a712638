//! Flux's OCI artifacts in OCI registries, shared by the source-controller
//! (`OCIRepository`) and the CLI's artifact verbs (`push`, `pull`, `tag`,
//! `list artifacts`).
//!
//! [`url`] parses `oci://` addresses, [`auth`] reads registry logins from a
//! `.dockerconfigjson`, [`registry`] talks to a registry through `oci-client`
//! (tags, manifest digests, manifests, capped and verified blob downloads,
//! pushes) with its errors classified, and [`artifact`] builds what
//! `flux push artifact` pushes (Flux's media types and annotations).

pub mod artifact;
pub mod auth;
pub mod registry;
pub mod url;

pub use registry::{Error, Registry, RegistryOptions};

/// Media type of the config blob of a Flux artifact.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Media type of the content layer of a Flux artifact (a tar.gz).
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Annotation: where the artifact's content came from (a Git URL).
pub const SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";
/// Annotation: the source revision (`<branch>@sha1:<commit>`).
pub const REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
/// Annotation: when the artifact was built (RFC 3339).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
