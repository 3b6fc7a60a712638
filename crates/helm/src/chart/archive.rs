//! Reading a packaged chart (`.tgz`) into memory, with the path checks and size caps of Helm's
//! `loader.LoadArchiveFiles` (checked against helm 4.1.4).
//!
//! Each entry's name loses its first element (the chart's directory, whatever it is called); a
//! name written with `\` is split on `\` instead of `/`. What is left is cleaned like Go's
//! `path.Clean` and must stay inside the chart: no absolute path, no `..`, no drive letter, and
//! the entry must have a first element to strip. (So `/c/x` is accepted as `c/x`: its first
//! element is the empty name before the `/`, while `c//x` is absolute once `c` is stripped.)
//! Directories and pax headers are skipped. Every other entry is kept **with its data**, which for a symlink, hard link or device is empty: Helm
//! loads a symlink in an archive as an empty file and never follows it, and so does this module.
//! A UTF-8 byte order mark at the start of a file is removed, as Helm does. Files keep the archive
//! order.
//!
//! Decompression streams through the caps of [`Limits`], so a gzip bomb fails at the cap without
//! being held in memory: a file over `max_file_bytes` (Helm: 5 MiB), a chart over
//! `max_total_bytes` (Helm: 100 MiB), more than `max_files` entries (Helm has no such cap), and a
//! decompressed tar stream (headers included) over its share of the budget.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// Errors of this module. Helm's wording comes first where Helm has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a readable gzip-compressed tar archive.
    #[error(
        "chart archive is not a readable .tgz ({source}); package the chart with `helm package`"
    )]
    Read {
        /// The gzip or tar failure.
        #[source]
        source: io::Error,
    },
    /// The archive holds no file.
    #[error("no files in chart archive; package the chart with `helm package`")]
    Empty,
    /// An entry is not inside a chart directory (it has no first path element to strip).
    #[error(
        "chart illegally contains content outside the base directory: {name:?}; every entry must \
         be under the chart's directory"
    )]
    OutsideBase {
        /// The entry's name in the archive.
        name: String,
    },
    /// An entry's path is absolute once the chart directory is stripped.
    #[error("chart illegally contains absolute paths: {name:?}")]
    AbsolutePath {
        /// The entry's name in the archive.
        name: String,
    },
    /// An entry's path climbs out of the chart with `..`.
    #[error("chart illegally references parent directory: {name:?}")]
    ParentDirectory {
        /// The entry's name in the archive.
        name: String,
    },
    /// An entry's path starts with a Windows drive letter.
    #[error("chart contains illegally named files: {name:?}")]
    DriveLetter {
        /// The entry's name in the archive.
        name: String,
    },
    /// An entry sits under a top-level `Chart.yaml` instead of a chart directory.
    #[error("chart yaml not in base directory: {name:?}; package the chart with `helm package`")]
    ChartYamlNotInBase {
        /// The entry's name in the archive.
        name: String,
    },
    /// One file decompresses to more than `max_file_bytes`.
    #[error(
        "decompressed chart file {name:?} is larger than the maximum file size {limit}; \
         the chart is refused"
    )]
    FileTooLarge {
        /// The entry's name in the archive.
        name: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The files decompress to more than `max_total_bytes` (reached at `name`). Helm 4.1.4 prints
    /// `decompressed chart is larger than the maximum size 104857600`.
    #[error(
        "decompressed chart is larger than the maximum size {limit} (reached at {name:?}); \
         the chart is refused"
    )]
    ChartTooLarge {
        /// The entry at which the cap was passed.
        name: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The archive has more than `max_files` entries (reached at `name`).
    #[error(
        "chart archive has more than {limit} entries (reached at {name:?}); the chart is refused"
    )]
    TooManyFiles {
        /// The first entry over the cap.
        name: String,
        /// The cap.
        limit: usize,
    },
    /// The decompressed tar stream, headers included, is larger than its budget.
    #[error(
        "decompressed chart archive is larger than {limit} bytes including tar headers; \
         the chart is refused"
    )]
    StreamTooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Caps applied while decompressing a chart archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes all files together may decompress to (Helm's `MaxDecompressedChartSize`).
    pub max_total_bytes: u64,
    /// The most bytes one file may decompress to (Helm's `MaxDecompressedFileSize`).
    pub max_file_bytes: u64,
    /// The most entries (of any kind) the archive may hold. Helm has no such cap.
    pub max_files: usize,
}

impl Default for Limits {
    /// Helm 4.1.4's caps: 100 MiB in all, 5 MiB a file; and at most 20 000 entries.
    fn default() -> Self {
        Limits {
            max_total_bytes: 100 * 1024 * 1024,
            max_file_bytes: 5 * 1024 * 1024,
            max_files: 20_000,
        }
    }
}

impl Limits {
    /// The budget of the whole decompressed tar stream: the files, plus 2 KiB of headers and
    /// padding per allowed entry, plus 1 MiB for long names and the end blocks. It bounds what
    /// the tar reader buffers for pax and GNU long-name headers.
    fn stream_budget(&self) -> u64 {
        let entries = u64::try_from(self.max_files).unwrap_or(u64::MAX);
        self.max_total_bytes
            .saturating_add(entries.saturating_mul(2048))
            .saturating_add(1024 * 1024)
    }
}

/// One file of a chart archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// The path relative to the chart root, `/`-separated and cleaned (`templates/a.yaml`).
    pub path: String,
    /// The content, without a leading UTF-8 byte order mark.
    pub data: Vec<u8>,
}

/// Whether `bytes` start like a gzip stream (`1f 8b 08`: the magic and deflate), the test
/// Helm uses to tell an archive from a directory's stray file.
#[must_use]
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b, 0x08])
}

/// Reads the files of a packaged chart from the bytes of its `.tgz`, in archive order, with
/// paths relative to the chart root.
///
/// # Errors
///
/// [`Error::Read`] for bytes that are not a gzip-compressed tar, [`Error::Empty`] when no file
/// is left, a path error ([`Error::OutsideBase`], [`Error::AbsolutePath`],
/// [`Error::ParentDirectory`], [`Error::DriveLetter`]) for an entry outside the chart, and a cap
/// error ([`Error::FileTooLarge`], [`Error::ChartTooLarge`], [`Error::TooManyFiles`],
/// [`Error::StreamTooLarge`]) when `limits` are passed.
pub fn read_archive(bytes: &[u8], limits: &Limits) -> Result<Vec<ArchiveFile>> {
    let budget = limits.stream_budget();
    let mut archive = tar::Archive::new(CappedReader {
        inner: MultiGzDecoder::new(bytes),
        remaining: budget,
        exceeded: false,
    });
    let result = read_entries(&mut archive, limits);
    if archive.into_inner().exceeded {
        // Whatever the tar reader made of the failed read, the budget is the cause.
        return Err(Error::StreamTooLarge { limit: budget });
    }
    let files = result?;
    if files.is_empty() {
        return Err(Error::Empty);
    }
    Ok(files)
}

fn read_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    limits: &Limits,
) -> Result<Vec<ArchiveFile>> {
    let mut files = Vec::new();
    let mut total: u64 = 0;
    let mut entry_count: usize = 0;
    for entry in archive.entries().map_err(|source| Error::Read { source })? {
        let mut entry = entry.map_err(|source| Error::Read { source })?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if is_dir_name(&name, kind) {
            continue;
        }
        entry_count += 1;
        if entry_count > limits.max_files {
            return Err(Error::TooManyFiles {
                name,
                limit: limits.max_files,
            });
        }
        let path = chart_path(&name)?;
        let declared = entry.header().size().unwrap_or(0);
        if declared > limits.max_file_bytes {
            return Err(Error::FileTooLarge {
                name,
                limit: limits.max_file_bytes,
            });
        }
        let remaining_total = limits.max_total_bytes.saturating_sub(total);
        if declared > remaining_total {
            return Err(Error::ChartTooLarge {
                name,
                limit: limits.max_total_bytes,
            });
        }
        // Read one byte past the smaller cap to tell "at the cap" from "over it".
        let cap = limits.max_file_bytes.min(remaining_total);
        let mut data = Vec::new();
        (&mut entry)
            .take(cap.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|source| Error::Read { source })?;
        let read = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if read > limits.max_file_bytes {
            return Err(Error::FileTooLarge {
                name,
                limit: limits.max_file_bytes,
            });
        }
        if read > remaining_total {
            return Err(Error::ChartTooLarge {
                name,
                limit: limits.max_total_bytes,
            });
        }
        total += read;
        if data.starts_with(UTF8_BOM) {
            data.drain(..UTF8_BOM.len());
        }
        files.push(ArchiveFile { path, data });
    }
    Ok(files)
}

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Whether Go's tar reader would call this entry a directory: a directory type, or an old-style
/// regular entry (type `\0`) whose name ends in `/`.
fn is_dir_name(name: &str, kind: tar::EntryType) -> bool {
    kind.as_byte() == b'\0' && name.ends_with('/')
}

/// The chart-relative path of an archive entry, checked as Helm checks it.
fn chart_path(name: &str) -> Result<String> {
    let delimiter = if name.contains('\\') { '\\' } else { '/' };
    let rest = match name.split_once(delimiter) {
        Some((_, rest)) => rest,
        None => "",
    };
    let rest = if delimiter == '\\' {
        rest.replace('\\', "/")
    } else {
        rest.to_owned()
    };
    if rest.starts_with('/') {
        return Err(Error::AbsolutePath {
            name: name.to_owned(),
        });
    }
    let cleaned = clean(&rest);
    if cleaned == "." {
        return Err(Error::OutsideBase {
            name: name.to_owned(),
        });
    }
    if cleaned.starts_with("..") {
        return Err(Error::ParentDirectory {
            name: name.to_owned(),
        });
    }
    let bytes = cleaned.as_bytes();
    if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/' {
        return Err(Error::DriveLetter {
            name: name.to_owned(),
        });
    }
    if name.split(delimiter).next() == Some("Chart.yaml") {
        return Err(Error::ChartYamlNotInBase {
            name: name.to_owned(),
        });
    }
    Ok(cleaned)
}

/// Go's `path.Clean` for a relative path: drops empty and `.` elements, resolves `..` against
/// the previous element, keeps leading `..`, and gives `.` for nothing.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// A reader that fails once more than `remaining` bytes have been read through it.
struct CappedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded {
            return Err(io::Error::other(
                "decompressed chart archive is over its size budget",
            ));
        }
        // Ask for at most one byte past the budget, so passing it is seen without reading more.
        let allowed = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let len = buf.len().min(allowed);
        let n = self.inner.read(&mut buf[..len])?;
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        if n64 > self.remaining {
            self.exceeded = true;
            return Err(io::Error::other(
                "decompressed chart archive is over its size budget",
            ));
        }
        self.remaining -= n64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
