//! Safe extraction of a tar.gz into a directory.
//!
//! # Guarantees
//! Nothing is written outside the target directory: entries with an absolute
//! path or a `..` component, symbolic and hard links, and device, FIFO or other
//! special entries make the whole extraction fail, naming the entry. The total
//! size of every entry's data (files, and whatever a directory or extension
//! header carries) and the number of entries are capped, so a small archive
//! cannot fill the disk; GNU long-name and PAX extension headers are read
//! here, each capped at [`MAX_EXTENSION`] bytes, so none can make the reader
//! allocate more; and extraction stops at a deadline, so a slow or endless
//! stream cannot hold a thread. Files get mode `0644` (`0755` if executable
//! in the archive); owners and times from the archive are ignored.
//!
//! # Caveats
//! On failure the target directory may hold part of the archive: extract into a
//! fresh temporary directory and discard it on error.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;

/// Caps on what one archive may unpack to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest total size of the unpacked files, in bytes.
    pub max_bytes: u64,
    /// Largest number of entries (files and directories).
    pub max_entries: u64,
    /// Longest the whole extraction may take.
    pub max_duration: Duration,
}

impl Default for Limits {
    /// 1 GiB, 100 000 entries and 5 minutes: far above real repositories,
    /// far below a full disk or a stuck worker.
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_entries: 100_000,
            max_duration: Duration::from_secs(300),
        }
    }
}

/// Largest GNU long-name or PAX extension header, in bytes. Paths are at
/// most 4 KiB on Linux; the headers real archives carry are far smaller.
pub const MAX_EXTENSION: u64 = 64 << 10;

/// Why an archive was not extracted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The archive is not a readable tar.gz.
    #[error("the artifact is not a valid tar.gz: {0}")]
    Corrupt(#[source] io::Error),
    /// An entry would write outside the target or is of a refused type.
    #[error("the artifact holds an unsafe entry {entry:?}: {reason}; it was not extracted")]
    Unsafe {
        /// The entry's path as stored in the archive.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The archive unpacks to more than [`Limits`] allow.
    #[error(
        "the artifact exceeds the extraction limit of {limit} {what}; raise the limit or shrink the source"
    )]
    TooLarge {
        /// "bytes" or "entries".
        what: &'static str,
        /// The limit that was passed.
        limit: u64,
    },
    /// Extraction took longer than [`Limits::max_duration`].
    #[error("extracting the artifact took longer than {limit:?}; it was not extracted")]
    TimedOut {
        /// The limit that was passed.
        limit: Duration,
    },
    /// Writing into the target directory failed.
    #[error("writing {} failed: {source}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an extraction wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Regular files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Unpacks the tar.gz read from `reader` into the existing directory `dest`.
///
/// # Errors
/// [`Error::Unsafe`], [`Error::TooLarge`], [`Error::TimedOut`],
/// [`Error::Corrupt`], [`Error::Write`].
pub fn tar_gz<R: Read>(reader: R, dest: &Path, limits: Limits) -> Result<Stats> {
    let deadline = Instant::now() + limits.max_duration;
    let reader = Deadline {
        inner: reader,
        deadline,
    };
    let result = unpack(reader, dest, limits, deadline);
    // A read that failed because time ran out surfaces as an I/O error
    // somewhere in the tar or gzip layers; report it as what it is.
    match result {
        Err(_) if Instant::now() >= deadline => Err(Error::TimedOut {
            limit: limits.max_duration,
        }),
        other => other,
    }
}

/// The loop of [`tar_gz`], over raw entries: GNU long names and PAX
/// headers are read here, within [`MAX_EXTENSION`], and applied to the
/// entry after them.
fn unpack<R: Read>(reader: R, dest: &Path, limits: Limits, deadline: Instant) -> Result<Stats> {
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut stats = Stats::default();
    let mut entries_seen = 0u64;
    // Every entry's data, whatever its type, counts toward the byte cap.
    let mut data_bytes = 0u64;
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax_path: Option<Vec<u8>> = None;
    for entry in archive.entries().map_err(Error::Corrupt)?.raw(true) {
        let mut entry = entry.map_err(Error::Corrupt)?;
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(Error::TooLarge {
                what: "entries",
                limit: limits.max_entries,
            });
        }
        if Instant::now() >= deadline {
            return Err(Error::TimedOut {
                limit: limits.max_duration,
            });
        }
        let size = entry.header().size().map_err(Error::Corrupt)?;
        data_bytes = data_bytes.saturating_add(size);
        if data_bytes > limits.max_bytes {
            return Err(Error::TooLarge {
                what: "bytes",
                limit: limits.max_bytes,
            });
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::GNULongName => {
                long_name = Some(extension(&mut entry, size)?);
                continue;
            }
            tar::EntryType::XHeader => {
                let data = extension(&mut entry, size)?;
                pax_path = pax_fields(&data)?;
                continue;
            }
            // Long link names only precede links, which are refused; global
            // headers hold nothing this reader uses.
            tar::EntryType::GNULongLink | tar::EntryType::XGlobalHeader => {
                extension(&mut entry, size)?;
                continue;
            }
            _ => {}
        }
        let path_bytes = match (pax_path.take(), long_name.take()) {
            (Some(path), _) | (None, Some(path)) => path,
            (None, None) => entry.path_bytes().into_owned(),
        };
        // Never made readable by replacement: two names differing only in
        // invalid bytes would land on the same file.
        let Ok(raw) = String::from_utf8(path_bytes) else {
            return Err(Error::Unsafe {
                entry: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                reason: "the name is not valid UTF-8",
            });
        };
        let rel = safe_relative_path(&raw)?;
        match kind {
            tar::EntryType::Directory => {
                if let Some(rel) = rel {
                    create_dirs(dest, &rel)?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let Some(rel) = rel else {
                    return Err(Error::Unsafe {
                        entry: raw,
                        reason: "a file entry has no name",
                    });
                };
                stats.bytes += write_file(&mut entry, dest, &rel, size)?;
                stats.files += 1;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(Error::Unsafe {
                    entry: raw,
                    reason: "links are not allowed in artifacts",
                });
            }
            _ => {
                return Err(Error::Unsafe {
                    entry: raw,
                    reason: "only regular files and directories are allowed in artifacts",
                });
            }
        }
    }
    Ok(stats)
}

/// Writes a file entry's data (at most `size` bytes) to `dest/rel`, which
/// must not exist yet; returns the bytes written.
fn write_file<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    dest: &Path,
    rel: &Path,
    size: u64,
) -> Result<u64> {
    if let Some(parent) = rel.parent() {
        create_dirs(dest, parent)?;
    }
    let exec = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
    let path = dest.join(rel);
    let write_err = |source| Error::Write {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if exec { 0o755 } else { 0o644 })
        .open(&path)
        .map_err(write_err)?;
    // `take` bounds the copy even if the header understated the size.
    io::copy(&mut entry.take(size), &mut file).map_err(write_err)
}

/// Reads a GNU long-name or PAX extension entry of `size` bytes, refusing
/// one over [`MAX_EXTENSION`] before reading it.
fn extension<R: Read>(entry: &mut tar::Entry<'_, R>, size: u64) -> Result<Vec<u8>> {
    if size > MAX_EXTENSION {
        return Err(Error::Unsafe {
            entry: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            reason: "a long-name or PAX extension header is larger than 64 KiB",
        });
    }
    let mut data = Vec::new();
    entry
        .take(size)
        .read_to_end(&mut data)
        .map_err(Error::Corrupt)?;
    // GNU long names end in NUL bytes.
    while data.last() == Some(&0) {
        data.pop();
    }
    Ok(data)
}

/// The `path` of a PAX extension header, if it sets one. A `size` field is
/// refused: it would make the entry's data longer than its header says,
/// which only files far over the byte cap need.
fn pax_fields(data: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut path = None;
    for field in tar::PaxExtensions::new(data) {
        let field = field.map_err(Error::Corrupt)?;
        match field.key_bytes() {
            b"path" => path = Some(field.value_bytes().to_vec()),
            b"size" => {
                return Err(Error::Unsafe {
                    entry: String::from_utf8_lossy(field.value_bytes()).into_owned(),
                    reason: "a PAX header overrides an entry's size",
                });
            }
            _ => {}
        }
    }
    Ok(path)
}

/// A reader that fails once `deadline` has passed.
struct Deadline<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the extraction deadline passed",
            ));
        }
        self.inner.read(buf)
    }
}

/// The entry's path as a relative path of normal components, `None` for the
/// root itself (`./`), or `Err` for absolute paths and `..`.
fn safe_relative_path(raw: &str) -> Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(Error::Unsafe {
                    entry: raw.to_owned(),
                    reason: "the path contains '..'",
                });
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::Unsafe {
                    entry: raw.to_owned(),
                    reason: "the path is absolute",
                });
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Creates `dest/rel` and its parents, refusing to pass through a symlink
/// (none can come from the archive, but `dest` may have been tampered with).
fn create_dirs(dest: &Path, rel: &Path) -> Result<()> {
    let mut path = dest.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::Unsafe {
                    entry: rel.display().to_string(),
                    reason: "a directory in its path is a file or link",
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&path).map_err(|source| Error::Write {
                    path: path.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(Error::Write { path, source }),
        }
    }
    Ok(())
}
