//! Loading a chart directory as Helm's `LoadDir` does: a lexical depth-first walk,
//! `.helmignore` rules applied to files and directories, symbolic links followed only while
//! they stay inside the chart.

use std::path::Path;

use super::{Error, File};

/// Deepest directory nesting read: far beyond any chart, and a bound on the recursion.
const MAX_DEPTH: usize = 64;

/// Reads every file of the chart directory `root` that `ignored(relative path, is_dir)` keeps,
/// in the order Go's `filepath.Walk` visits them, with `/`-separated relative names.
///
/// # Errors
/// A file or directory that cannot be read, a link leading outside the chart, a file name
/// that is not UTF-8, directories nested too deep.
pub fn read_dir_files(
    root: &Path,
    ignored: &dyn Fn(&str, bool) -> bool,
) -> Result<Vec<File>, Error> {
    let canonical_root = root.canonicalize().map_err(io(root))?;
    let mut walk = Walk {
        root: &canonical_root,
        ignored,
        out: Vec::new(),
    };
    walk.dir(root, "", 0)?;
    Ok(walk.out)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.display().to_string();
    move |source| Error::Io { path, source }
}

struct Walk<'a> {
    root: &'a Path,
    ignored: &'a dyn Fn(&str, bool) -> bool,
    out: Vec<File>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Unsupported {
                path: dir.display().to_string(),
                message: format!("directories nest more than {MAX_DEPTH} deep"),
            });
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| Error::Unsupported {
                    path: dir.join(n).display().to_string(),
                    message: "the file name is not UTF-8".to_owned(),
                })?;
            entries.push((name, entry.path()));
        }
        entries.sort();
        for (name, path) in entries {
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if std::fs::symlink_metadata(&path)
                .map_err(io(&path))?
                .file_type()
                .is_symlink()
            {
                let target = path.canonicalize().map_err(io(&path))?;
                if !target.starts_with(self.root) {
                    return Err(Error::Unsupported {
                        path: path.display().to_string(),
                        message: "a symbolic link leads outside the chart; a chart must hold its own files".to_owned(),
                    });
                }
            }
            let meta = std::fs::metadata(&path).map_err(io(&path))?;
            if (self.ignored)(&rel_path, meta.is_dir()) {
                continue;
            }
            if meta.is_dir() {
                self.dir(&path, &rel_path, depth + 1)?;
            } else if meta.is_file() {
                let data = std::fs::read(&path).map_err(io(&path))?;
                self.out.push(File {
                    name: rel_path,
                    data,
                });
            }
        }
        Ok(())
    }
}
