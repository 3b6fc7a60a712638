//! Operations on a checked-out tree before it is archived: the sparse
//! checkout, copying included artifacts in, and measuring its size.
//!
//! Every path taken from a spec is checked with [`relative`] first, so none of
//! these functions can read or write outside the tree they are given.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Checks that `value` (from spec field `field`) is a relative path that stays
/// inside the tree, and returns it normalised (no `.`, no trailing `/`).
/// An empty path or `.` stands for the root and returns an empty path.
///
/// # Errors
/// A message naming the field when the path is absolute or uses `..`.
pub fn relative(field: &str, value: &str) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for component in Path::new(value).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{field} '{value}' must be a relative path inside the repository, without '..'"
                ));
            }
        }
    }
    Ok(out)
}

/// Keeps only the directories `dirs` (relative, already checked) of the tree
/// under `root` and what leads to them; `.git` is left alone.
///
/// # Errors
/// A message naming the first directory that does not exist in the tree, or
/// the I/O error of a removal.
pub fn retain_sparse(root: &Path, dirs: &[PathBuf]) -> Result<(), String> {
    for dir in dirs {
        if !root.join(dir).is_dir() {
            return Err(format!(
                "spec.sparseCheckout: directory '{}' does not exist in this revision",
                dir.display()
            ));
        }
    }
    prune(root, Path::new(""), dirs).map_err(|e| format!("applying spec.sparseCheckout: {e}"))
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
/// The I/O error, naming the path.
pub fn replace_with_copy(src: &Path, dest: &Path) -> Result<(), String> {
    let fail = |what: &str, p: &Path, e: io::Error| format!("{what} {}: {e}", p.display());
    if dest.symlink_metadata().is_ok() {
        if dest.is_dir() {
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

    use super::{relative, replace_with_copy, retain_sparse, size};

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
            let err = relative("spec.include[0].toPath", bad).unwrap_err();
            assert!(
                err.contains("spec.include[0].toPath") && err.contains(bad),
                "{err}"
            );
        }
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
        let err = retain_sparse(root, &[PathBuf::from("missing")]).unwrap_err();
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
