//! Flux's OCI artifact format, as `flux push artifact` writes it: an OCI
//! image manifest whose config blob (`{}`) has Flux's config media type and
//! whose single layer is a tar.gz of the content with Flux's content media
//! type, annotated with the source, the revision and the creation time.

use std::collections::BTreeMap;
use std::path::Path;

use ferroflux_artifact::archive::{self, All};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};

use crate::registry::{Error as RegistryError, Registry};
use crate::url::OciUrl;
use crate::{
    CREATED_ANNOTATION, FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, REVISION_ANNOTATION,
    SOURCE_ANNOTATION,
};

/// Why an artifact could not be built or pushed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Packing the content failed.
    #[error("packing {} failed: {message}", path.display())]
    Pack {
        /// The file or directory given.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What the pushed artifact says about itself.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// `org.opencontainers.image.source`.
    pub source: String,
    /// `org.opencontainers.image.revision`.
    pub revision: String,
    /// `org.opencontainers.image.created`; now when `None`.
    pub created: Option<String>,
    /// Further annotations (`--annotations key=value`).
    pub annotations: BTreeMap<String, String>,
}

/// Packs `path` (a directory, or one file) as a deterministic tar.gz.
///
/// # Errors
/// [`Error::Pack`].
pub fn pack(path: &Path) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::Pack {
        path: path.to_owned(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.is_dir() {
        return archive::write_tar_gz(path, &All, Vec::new()).map_err(|e| fail(e.to_string()));
    }
    // A single file is packed alone, under its own name, as Flux does.
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let name = path
        .file_name()
        .ok_or_else(|| fail("it names no file".to_owned()))?;
    std::fs::copy(path, dir.path().join(name)).map_err(|e| fail(e.to_string()))?;
    archive::write_tar_gz(dir.path(), &All, Vec::new()).map_err(|e| fail(e.to_string()))
}

/// Pushes `content` (a tar.gz) as a Flux artifact to `url` under `tag`;
/// returns the manifest digest.
///
/// # Errors
/// [`Error::Registry`].
pub async fn push(
    registry: &Registry,
    url: &OciUrl,
    tag: &str,
    content: Vec<u8>,
    metadata: &Metadata,
) -> Result<String, Error> {
    let config = registry
        .push_blob(url, FLUX_CONFIG_MEDIA_TYPE, b"{}".to_vec())
        .await?;
    let layer = registry
        .push_blob(url, FLUX_CONTENT_MEDIA_TYPE, content)
        .await?;
    let mut annotations = metadata.annotations.clone();
    annotations.insert(SOURCE_ANNOTATION.to_owned(), metadata.source.clone());
    annotations.insert(REVISION_ANNOTATION.to_owned(), metadata.revision.clone());
    annotations.insert(
        CREATED_ANNOTATION.to_owned(),
        metadata.created.clone().unwrap_or_else(|| {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
    );
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config,
        layers: vec![layer],
        subject: None,
        artifact_type: None,
        annotations: Some(annotations),
    };
    Ok(registry.push_manifest(url, tag, manifest).await?)
}
