//! Operations on a checked-out tree before it is archived: the sparse
//! checkout, copying included artifacts in, and measuring its size.
//!
//! Every path taken from a spec is checked with [`relative`] first, and
//! [`destination`] refuses a path that passes through a symbolic link in the
//! checkout (a tenant's repository may hold `a -> /data`), so none of these
//! functions can read or write outside the tree they are given.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path from a spec cannot be used, or the tree cannot be changed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An absolute path, or one using `..`.
    #[error("{field} '{value}' must be a relative path inside the repository, without '..'")]
    NotRelative {
        /// The spec field.
        field: String,
        /// The path as written.
        value: String,
    },
    /// A symbolic link in the checkout on the way to an include's
    /// destination.
    #[error(
        "{field} '{}' passes through the symbolic link '{}' in the repository; includes are never written through links",
        to.display(),
        link.display()
    )]
    ThroughLink {
        /// The spec field.
        field: String,
        /// The destination, relative to the checkout.
        to: PathBuf,
        /// The link, relative to the checkout.
        link: PathBuf,
    },
    /// A file in the checkout where a directory of an include's destination
    /// should be.
    #[error(
        "{field} '{}' passes through the file '{}' in the repository",
        to.display(),
        file.display()
    )]
    ThroughFile {
        /// The spec field.
        field: String,
        /// The destination, relative to the checkout.
        to: PathBuf,
        /// The file, relative to the checkout.
        file: PathBuf,
    },
    /// A `spec.sparseCheckout` directory the revision does not have.
    #[error(
        "spec.sparseCheckout: directory '{}' does not exist in this revision",
        dir.display()
    )]
    MissingSparseDirectory {
        /// The directory, relative to the checkout.
        dir: PathBuf,
    },
    /// Removing what `spec.sparseCheckout` leaves out failed.
    #[error("applying spec.sparseCheckout: {0}")]
    Sparse(#[source] io::Error),
    /// A step of a copy failed.
    #[error("{what} {}: {source}", path.display())]
    Copy {
        /// What was being done (`copying`).
        what: &'static str,
        /// The path at fault.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
}

/// Checks that `value` (from spec field `field`) is a relative path that stays
/// inside the tree, and returns it normalised (no `.`, no trailing `/`).
/// An empty path or `.` stands for the root and returns an empty path.
///
/// # Errors
/// [`Error::NotRelative`] naming the field when the path is absolute or
/// uses `..`.
pub fn relative(field: &str, value: &str) -> Result<PathBuf, Error> {
    let mut out = PathBuf::new();
    for component in Path::new(value).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::NotRelative {
                    field: field.to_owned(),
                    value: value.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

/// `checkout/to` for writing an include, when no existing component of the
/// relative `to` (already checked by [`relative`]) but the last is a symbolic
/// link or a file: a link committed in the repository must never redirect
/// the copy out of the checkout. The last component may be anything, since
/// [`replace_with_copy`] removes it (a link itself, never its target).
///
/// # Errors
/// [`Error::ThroughLink`] or [`Error::ThroughFile`] naming `field` and the
/// link or file in the way.
pub fn destination(checkout: &Path, field: &str, to: &Path) -> Result<PathBuf, Error> {
    let mut path = checkout.to_path_buf();
    let mut components = to.components().peekable();
    while let Some(component) = components.next() {
        path.push(component);
        if components.peek().is_none() {
            break;
        }
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::ThroughLink {
                    field: field.to_owned(),
                    to: to.to_path_buf(),
                    link: path.strip_prefix(checkout).unwrap_or(&path).to_path_buf(),
                });
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(Error::ThroughFile {
                    field: field.to_owned(),
                    to: to.to_path_buf(),
                    file: path.strip_prefix(checkout).unwrap_or(&path).to_path_buf(),
                });
            }
            Ok(_) => {}
            // What does not exist yet is created as plain directories.
            Err(_) => {
                path.extend(components);
                break;
            }
        }
    }
    Ok(path)
}

/// Keeps only the directories `dirs` (relative, already checked) of the tree
/// under `root` and what leads to them; `.git` is left alone.
///
/// # Errors
/// [`Error::MissingSparseDirectory`] naming the first directory that does
/// not exist in the tree, or [`Error::Sparse`] with the I/O error of a
/// removal.
pub fn retain_sparse(root: &Path, dirs: &[PathBuf]) -> Result<(), Error> {
    for dir in dirs {
        if !root.join(dir).is_dir() {
            return Err(Error::MissingSparseDirectory { dir: dir.clone() });
        }
    }
    prune(root, Path::new(""), dirs).map_err(Error::Sparse)
}

fn prune(root: &Path, rel: &Path, dirs: &[PathBuf]) -> io::Result<()> {
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        if path == Path::new(".git") {
            continue;
        }
        if dirs.iter().any(|d| path.starts_with(d)) {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() && dirs.iter().any(|d| d.starts_with(&path)) {
            prune(root, &path, dirs)?;
        } else if file_type.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Replaces `dest` with a copy of the tree `src`: regular files and
/// directories only (artifacts hold no links).
///
/// # Errors
/// [`Error::Copy`] with the I/O error, naming the path.
pub fn replace_with_copy(src: &Path, dest: &Path) -> Result<(), Error> {
    let fail = |what: &'static str, p: &Path, source: io::Error| Error::Copy {
        what,
        path: p.to_path_buf(),
        source,
    };
    if let Ok(meta) = dest.symlink_metadata() {
        // `symlink_metadata`, not `is_dir`: a link is removed, never followed.
        if meta.is_dir() {
            fs::remove_dir_all(dest).map_err(|e| fail("removing", dest, e))?;
        } else {
            fs::remove_file(dest).map_err(|e| fail("removing", dest, e))?;
        }
    }
    if src.is_file() {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| fail("creating", parent, e))?;
        }
        fs::copy(src, dest).map_err(|e| fail("copying", src, e))?;
        return Ok(());
    }
    fs::create_dir_all(dest).map_err(|e| fail("creating", dest, e))?;
    for entry in fs::read_dir(src).map_err(|e| fail("reading", src, e))? {
        let entry = entry.map_err(|e| fail("reading", src, e))?;
        let file_type = entry
            .file_type()
            .map_err(|e| fail("reading", &entry.path(), e))?;
        let target = dest.join(entry.file_name());
        if file_type.is_dir() {
            replace_with_copy(&entry.path(), &target)?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), &target).map_err(|e| fail("copying", &entry.path(), e))?;
        }
    }
    Ok(())
}

/// The total size in bytes of the regular files under `root`, `.git` included
/// (the repository as fetched), without following links.
///
/// # Errors
/// The I/O error of reading a directory.
pub fn size(root: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            total += size(&entry.path())?;
        } else if file_type.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use std::fs;
    use std::path::{Path, PathBuf};

    use super::{destination, relative, replace_with_copy, retain_sparse, size};

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in walk(root) {
            out.push(
                entry
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        out.sort();
        out
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn relative_paths_are_normalised_and_escapes_refused() {
        assert_eq!(relative("f", "./a/b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(relative("f", ".").unwrap(), PathBuf::new());
        for bad in ["../x", "a/../../x", "/etc", "a/.."] {
            let err = relative("spec.include[0].toPath", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("spec.include[0].toPath") && err.contains(bad),
                "{err}"
            );
        }
    }

    /// Issue 15, defect 1: `toPath` was checked as text only, so a link in
    /// the tenant's own repository (`a -> /elsewhere`) let the include be
    /// written outside the checkout.
    #[test]
    fn includes_are_never_written_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let (checkout, outside) = (dir.path().join("checkout"), dir.path().join("outside"));
        write(&outside, "victim/artifact.tar.gz", "other tenant");
        write(&checkout, "file", "x");
        std::os::unix::fs::symlink(&outside, checkout.join("a")).unwrap();
        let field = "spec.include[0].toPath";
        let err = destination(&checkout, field, Path::new("a/victim"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(field) && err.contains("symbolic link 'a'"),
            "{err}"
        );
        let err = destination(&checkout, field, Path::new("file/x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("the file 'file'"), "{err}");
        // The link itself as the destination is replaced, not followed.
        let src = dir.path().join("src");
        write(&src, "new.yaml", "included");
        let dest = destination(&checkout, field, Path::new("a")).unwrap();
        replace_with_copy(&src, &dest).unwrap();
        assert_eq!(files(&checkout.join("a")), ["new.yaml"]);
        assert_eq!(files(&outside), ["victim/artifact.tar.gz"]);
        // Plain and missing directories are fine.
        assert_eq!(
            destination(&checkout, field, Path::new("a/new/deeper")).unwrap(),
            checkout.join("a/new/deeper")
        );
    }

    #[test]
    fn sparse_keeps_only_the_listed_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a/x.yaml",
            "a/b/y.yaml",
            "a/c/z.yaml",
            "d/w.yaml",
            "top.yaml",
            ".git/HEAD",
        ] {
            write(root, f, f);
        }
        retain_sparse(root, &[PathBuf::from("a/b"), PathBuf::from("d")]).unwrap();
        assert_eq!(files(root), [".git/HEAD", "a/b/y.yaml", "d/w.yaml"]);
        let err = retain_sparse(root, &[PathBuf::from("missing")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'missing' does not exist"), "{err}");
    }

    #[test]
    fn copies_replace_the_destination_and_sizes_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dest) = (dir.path().join("src"), dir.path().join("dest"));
        write(&src, "one.yaml", "12345");
        write(&src, "sub/two.yaml", "123");
        write(&dest, "stale.yaml", "old");
        replace_with_copy(&src, &dest).unwrap();
        assert_eq!(files(&dest), ["one.yaml", "sub/two.yaml"]);
        assert_eq!(size(&dest).unwrap(), 8);
        replace_with_copy(&src.join("one.yaml"), &dest.join("deep/file.yaml")).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("deep/file.yaml")).unwrap(),
            "12345"
        );
    }
}
