//! Flux's OCI artifact format, as `flux push artifact` writes it: an OCI
//! image manifest whose config blob (`{}`) has Flux's config media type and
//! whose single layer is a tar.gz of the content with Flux's content media
//! type, annotated with the source, the revision and the creation time; and
//! the other artifact verbs: pull (unpack the content layer), tag, list.

use std::collections::BTreeMap;
use std::path::Path;

use ferroflux_artifact::archive::{self, All};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciImageManifest};

use crate::registry::{Descriptor, Error as RegistryError, ImageManifest, Manifest, Registry};
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

/// A Flux artifact as `list artifacts` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// `oci://<registry>/<repository>:<tag>`.
    pub url: String,
    /// The tag.
    pub tag: String,
    /// The manifest digest.
    pub digest: String,
    /// `org.opencontainers.image.source`, empty when absent.
    pub source: String,
    /// `org.opencontainers.image.revision`, empty when absent.
    pub revision: String,
}

/// The layer a Flux artifact's content is in: the first of Flux's content
/// media type, else the first layer (what `flux pull artifact` takes).
#[must_use]
pub fn content_layer(manifest: &ImageManifest) -> Option<&Descriptor> {
    manifest
        .layers
        .iter()
        .find(|l| l.media_type == FLUX_CONTENT_MEDIA_TYPE)
        .or_else(|| manifest.layers.first())
}

/// Pulls the artifact `url` names (its tag or digest) and unpacks its
/// content layer into `dest` (paths confined to `dest`, at most `max`
/// bytes); returns its manifest.
///
/// # Errors
/// [`Error::Registry`], or [`Error::Pack`] when the layer is not a tar.gz
/// that unpacks within the limits.
pub async fn pull(
    registry: &Registry,
    url: &OciUrl,
    dest: &Path,
    max: u64,
) -> Result<Manifest, Error> {
    let manifest = registry
        .manifest(url, url.tag.as_deref(), url.digest.as_deref())
        .await?;
    let fail = |message: String| Error::Pack {
        path: dest.to_owned(),
        message,
    };
    let layer = content_layer(&manifest.manifest)
        .ok_or_else(|| fail(format!("the artifact {} has no layers", manifest.digest)))?
        .clone();
    let file = tempfile::tempfile().map_err(|e| fail(e.to_string()))?;
    let mut file = registry.pull_blob(url, &layer, file, max).await?;
    std::io::Seek::rewind(&mut file).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(dest).map_err(|e| fail(e.to_string()))?;
    let limits = ferroflux_artifact::extract::Limits {
        max_bytes: max,
        ..ferroflux_artifact::extract::Limits::default()
    };
    ferroflux_artifact::extract::tar_gz(std::io::BufReader::new(file), dest, limits)
        .map_err(|e| fail(format!("unpacking the layer {} failed: {e}", layer.digest)))?;
    Ok(manifest)
}

/// Tags the artifact `url` names with `tag` (the manifest pushed again under
/// the new tag); returns its digest.
///
/// # Errors
/// [`Error::Registry`].
pub async fn tag(registry: &Registry, url: &OciUrl, tag: &str) -> Result<String, Error> {
    let manifest = registry
        .manifest(url, url.tag.as_deref(), url.digest.as_deref())
        .await?;
    Ok(registry.push_manifest(url, tag, manifest.manifest).await?)
}

/// Every tagged artifact of the repository `url`, with its digest, source
/// and revision, in tag order.
///
/// # Errors
/// [`Error::Registry`].
pub async fn list(
    registry: &Registry,
    url: &OciUrl,
    tags: &[String],
) -> Result<Vec<Listed>, Error> {
    let mut listed = Vec::with_capacity(tags.len());
    for tag in tags {
        let manifest = registry.manifest(url, Some(tag), None).await?;
        let mut annotations = manifest.annotations();
        listed.push(Listed {
            url: format!("{}:{tag}", url.repository_url()),
            tag: tag.clone(),
            digest: manifest.digest,
            source: annotations.remove(SOURCE_ANNOTATION).unwrap_or_default(),
            revision: annotations.remove(REVISION_ANNOTATION).unwrap_or_default(),
        });
    }
    Ok(listed)
}
