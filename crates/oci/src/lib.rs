//! Flux's OCI artifacts in OCI registries, shared by the source-controller
//! (`OCIRepository`) and the CLI's artifact verbs (`push`, `pull`, `tag`,
//! `list artifacts`).
//!
//! [`url`] parses `oci://` addresses, [`auth`] reads registry logins from a
//! `.dockerconfigjson`, [`registry`] talks to a registry through `oci-client`
//! (tags, manifest digests, manifests, capped and verified blob downloads,
//! pushes) with its errors classified, and [`artifact`] builds what
//! `flux push artifact` pushes (Flux's media types and annotations).
//!
//! # Why `oci-client`
//! Issue 18 asks for the `oci-client` crate, and it fits: it comes from
//! crates.io like every other dependency, builds on reqwest with rustls and
//! no crypto provider of its own (`rustls-tls-no-provider`: ring, installed
//! by `ferroflux-tls`, stays the only one, no C build), and speaks the
//! distribution protocol's auth flows (basic, and the bearer token service
//! real registries use), tag pagination and chunk-free blob uploads. What it
//! lacks is added here rather than by writing a client of our own: a cap on
//! blob size and a digest check while streaming (`Registry::pull_blob`),
//! errors sorted into what a user must do, and one client per login (it
//! remembers one login per registry host for its whole life).

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
