//! Artifact storage on the local file system.
//!
//! Layout: `<root>/<kind>/<namespace>/<name>/<file>`, with the kind in lower
//! case, as Flux lays it out. Archives are written to a temporary file in the
//! same directory and renamed into place, so a reader (the HTTP server, a
//! restarted controller) sees either the old file or the whole new one.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use ferroflux_api::meta::Artifact;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::archive::{self, Filter};
use crate::digest::HashingWriter;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name would place a file outside the object's directory.
    #[error(
        "invalid artifact {what} {value:?}: it must be a single path segment without '/' or '..'"
    )]
    InvalidName {
        /// Which name: "kind", "namespace", "name" or "file name".
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// Packing the source tree failed.
    #[error(transparent)]
    Archive(#[from] archive::Error),
    /// A file system operation in the storage failed.
    #[error("{action} {} failed: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The object an artifact belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The kind, e.g. `GitRepository` (stored lower-cased).
    pub kind: String,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// A key for `kind` `namespace/name`.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The object's directory relative to the storage root.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when a part is not a single safe path segment.
    pub fn dir(&self) -> Result<PathBuf> {
        let kind = self.kind.to_lowercase();
        Ok(Path::new(segment("kind", &kind)?)
            .join(segment("namespace", &self.namespace)?)
            .join(segment("name", &self.name)?))
    }
}

/// `value` if it is one normal path segment.
fn segment<'a>(what: &'static str, value: &'a str) -> Result<&'a str> {
    let mut parts = Path::new(value).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !value.contains('/') => Ok(value),
        _ => Err(Error::InvalidName {
            what,
            value: value.to_owned(),
        }),
    }
}

/// How many artifacts of an object are kept, and for how long older ones live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The newest this many files are always kept (Flux's `--artifact-retention-records`).
    pub records: usize,
    /// Older files are deleted once they are older than this (`--artifact-retention-ttl`).
    pub ttl: Duration,
}

impl Default for Retention {
    /// Flux's defaults: 2 records, 60 s.
    fn default() -> Self {
        Self {
            records: 2,
            ttl: Duration::from_secs(60),
        }
    }
}

/// The artifact storage rooted at one directory.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    advertised: String,
    retention: Retention,
}

impl Storage {
    /// Storage under `root` (created if missing), whose artifacts are served at
    /// `http://<advertised>/<path>` (Flux's `--storage-adv-addr`).
    ///
    /// # Errors
    /// [`Error::Io`] when the root cannot be created.
    pub fn new(
        root: impl Into<PathBuf>,
        advertised: impl Into<String>,
        retention: Retention,
    ) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|source| io("creating", &root, source))?;
        Ok(Self {
            root,
            advertised: advertised.into(),
            retention,
        })
    }

    /// The storage root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URL an artifact path is served at.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.advertised)
    }

    /// Packs `src` (filtered) into `<key dir>/<file_name>` atomically and
    /// returns the artifact to record in status.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Archive`], [`Error::Io`].
    pub fn archive(
        &self,
        key: &ObjectKey,
        src: &Path,
        filter: &dyn Filter,
        file_name: &str,
        revision: &str,
    ) -> Result<Artifact> {
        let rel_dir = key.dir()?;
        let rel = rel_dir.join(segment("file name", file_name)?);
        let dir = self.root.join(&rel_dir);
        fs::create_dir_all(&dir).map_err(|source| io("creating", &dir, source))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|source| io("creating a temporary file in", &dir, source))?;
        let writer = archive::write_tar_gz(src, filter, HashingWriter::new(tmp))?;
        let (mut tmp, digest, size) = writer.finish();
        tmp.flush()
            .map_err(|source| io("writing", tmp.path(), source))?;
        tmp.as_file()
            .sync_all()
            .map_err(|source| io("syncing", tmp.path(), source))?;
        let target = self.root.join(&rel);
        tmp.persist(&target)
            .map_err(|e| io("renaming into", &target, e.error))?;
        let path = rel.to_string_lossy().into_owned();
        Ok(Artifact {
            url: self.url(&path),
            path,
            revision: revision.to_owned(),
            digest: Some(digest),
            last_update_time: Time(Timestamp::now()),
            size: i64::try_from(size).ok(),
            metadata: None,
        })
    }

    /// Copies the file `src` as is to `<key dir>/<file_name>` atomically and
    /// returns the artifact to record in status (for artifacts that are one
    /// file already: a Helm repository index, a packaged chart, an OCI layer
    /// kept compressed).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Io`].
    pub fn store_file(
        &self,
        key: &ObjectKey,
        src: &Path,
        file_name: &str,
        revision: &str,
    ) -> Result<Artifact> {
        let rel_dir = key.dir()?;
        let rel = rel_dir.join(segment("file name", file_name)?);
        let dir = self.root.join(&rel_dir);
        fs::create_dir_all(&dir).map_err(|source| io("creating", &dir, source))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|source| io("creating a temporary file in", &dir, source))?;
        let mut input = fs::File::open(src).map_err(|source| io("opening", src, source))?;
        let mut writer = HashingWriter::new(tmp);
        std::io::copy(&mut input, &mut writer).map_err(|source| io("copying", src, source))?;
        let (mut tmp, digest, size) = writer.finish();
        tmp.flush()
            .map_err(|source| io("writing", tmp.path(), source))?;
        tmp.as_file()
            .sync_all()
            .map_err(|source| io("syncing", tmp.path(), source))?;
        let target = self.root.join(&rel);
        tmp.persist(&target)
            .map_err(|e| io("renaming into", &target, e.error))?;
        let path = rel.to_string_lossy().into_owned();
        Ok(Artifact {
            url: self.url(&path),
            path,
            revision: revision.to_owned(),
            digest: Some(digest),
            last_update_time: Time(Timestamp::now()),
            size: i64::try_from(size).ok(),
            metadata: None,
        })
    }

    /// The local file of `artifact`, when its path stays inside the storage
    /// root and the file exists.
    #[must_use]
    pub fn local_path(&self, artifact: &Artifact) -> Option<PathBuf> {
        safe_rel(&artifact.path)
            .map(|rel| self.root.join(rel))
            .filter(|p| p.is_file())
    }

    /// Whether the artifact's file is present.
    #[must_use]
    pub fn exists(&self, artifact: &Artifact) -> bool {
        safe_rel(&artifact.path).is_some_and(|rel| self.root.join(rel).is_file())
    }

    /// Deletes the object's older artifacts: the newest [`Retention::records`]
    /// files and `current` are kept, the rest once older than the TTL. Returns
    /// what was deleted.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Io`].
    pub fn garbage_collect(&self, key: &ObjectKey, current: &Artifact) -> Result<Vec<PathBuf>> {
        let dir = self.root.join(key.dir()?);
        let mut files = match fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    meta.is_file()
                        .then(|| (e.path(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
                })
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io("listing", &dir, source)),
        };
        files.sort_by_key(|f| std::cmp::Reverse(f.1));
        let current = self.root.join(&current.path);
        let now = SystemTime::now();
        let mut deleted = Vec::new();
        for (path, modified) in files.into_iter().skip(self.retention.records) {
            let expired = now.duration_since(modified).unwrap_or_default() >= self.retention.ttl;
            if path != current && expired {
                fs::remove_file(&path).map_err(|source| io("removing", &path, source))?;
                deleted.push(path);
            }
        }
        Ok(deleted)
    }

    /// Deletes every artifact of the object (on deletion of the object).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Io`].
    pub fn remove_all(&self, key: &ObjectKey) -> Result<()> {
        let dir = self.root.join(key.dir()?);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io("removing", &dir, source)),
        }
    }

    /// Deletes the artifact directories of `kind` objects not in `live`, within
    /// `namespace` when given (a controller watching one namespace must not
    /// touch the others), and returns them. Run at start-up, after listing the
    /// live objects.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Io`].
    pub fn remove_orphans(
        &self,
        kind: &str,
        namespace: Option<&str>,
        live: &HashSet<ObjectKey>,
    ) -> Result<Vec<PathBuf>> {
        let kind_dir = self.root.join(segment("kind", &kind.to_lowercase())?);
        if !kind_dir.is_dir() {
            return Ok(Vec::new());
        }
        let keep: HashSet<PathBuf> = live.iter().filter_map(|k| k.dir().ok()).collect();
        let namespaces = match namespace {
            Some(ns) => vec![kind_dir.join(segment("namespace", ns)?)],
            None => subdirs(&kind_dir)?,
        };
        let mut removed = Vec::new();
        for ns in namespaces.into_iter().filter(|d| d.is_dir()) {
            for obj in subdirs(&ns)? {
                let rel = obj.strip_prefix(&self.root).unwrap_or(&obj).to_path_buf();
                if !keep.contains(&rel) {
                    fs::remove_dir_all(&obj).map_err(|source| io("removing", &obj, source))?;
                    removed.push(obj);
                }
            }
        }
        Ok(removed)
    }
}

/// `path` as a relative path of normal components, if it is one.
pub(crate) fn safe_rel(path: &str) -> Option<&Path> {
    let p = Path::new(path);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    (normal && !path.is_empty()).then_some(p)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|source| io("listing", dir, source))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect())
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
