//! Deterministic tar.gz archives of a directory.
//!
//! # Guarantees
//! Entries are sorted by path; owner, group, names and times are zeroed; modes
//! are `0755` for directories and executables and `0644` otherwise; the gzip
//! header carries no time or name. So two archives of equal trees are equal
//! byte for byte, and the digest identifies the content.
//!
//! # Caveats
//! Symbolic links are not archived (a link can point outside the tree, and its
//! target's meaning depends on where the archive is unpacked). Other special
//! files (sockets, devices, FIFOs) are skipped too.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the source tree failed.
    #[error("reading {} for the archive failed: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the archive failed.
    #[error("writing the archive failed: {0}")]
    Write(#[source] std::io::Error),
    /// A file or directory to archive has a name that is not UTF-8; two
    /// such names could collide once made readable, so none is archived.
    #[error(
        "the name of {} is not valid UTF-8; rename it, or exclude it with .sourceignore or spec.ignore",
        path.display()
    )]
    NotUtf8 {
        /// The file or directory.
        path: PathBuf,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Decides which paths go into the archive: gets the path relative to the
/// root (with `/` separators) and whether it is a directory. An excluded
/// directory is not descended into.
pub trait Filter {
    /// Whether `path` is included.
    fn include(&self, path: &str, is_dir: bool) -> bool;
}

/// A filter that includes everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct All;

impl Filter for All {
    fn include(&self, _path: &str, _is_dir: bool) -> bool {
        true
    }
}

impl<F: Fn(&str, bool) -> bool> Filter for F {
    fn include(&self, path: &str, is_dir: bool) -> bool {
        self(path, is_dir)
    }
}

/// Writes a deterministic tar.gz of the tree under `root` to `out` and returns `out`.
///
/// # Errors
/// [`Error::Read`] naming the path that could not be read; [`Error::Write`].
pub fn write_tar_gz<W: Write>(root: &Path, filter: &dyn Filter, out: W) -> Result<W> {
    let gz = GzEncoder::new(out, Compression::default());
    let mut tar = tar::Builder::new(gz);
    add_dir(&mut tar, root, "", filter)?;
    let gz = tar.into_inner().map_err(Error::Write)?;
    gz.finish().map_err(Error::Write)
}

fn add_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    rel: &str,
    filter: &dyn Filter,
) -> Result<()> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = fs::symlink_metadata(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let kind = meta.file_type();
        // Checked once the filter has had its say (on the lossy name), so
        // an excluded oddity does not fail the whole artifact.
        let utf8 = entry.file_name().to_str().is_some();
        if kind.is_dir() {
            if !filter.include(&rel_path, true) {
                continue;
            }
            if !utf8 {
                return Err(Error::NotUtf8 { path });
            }
            let mut header = header(tar::EntryType::Directory, 0o755, 0);
            tar.append_data(&mut header, format!("{rel_path}/"), std::io::empty())
                .map_err(Error::Write)?;
            add_dir(tar, &path, &rel_path, filter)?;
        } else if kind.is_file() {
            if !filter.include(&rel_path, false) {
                continue;
            }
            if !utf8 {
                return Err(Error::NotUtf8 { path });
            }
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let mut header = header(tar::EntryType::Regular, mode, meta.len());
            let file = File::open(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            tar.append_data(&mut header, &rel_path, file)
                .map_err(Error::Write)?;
        }
        // Symlinks and special files are left out; see the module's caveats.
    }
    Ok(())
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}
