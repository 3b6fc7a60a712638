//! An output artifact's copy operations, applied to extracted sources in a
//! staging directory, with `cp`-like semantics as Flux's source-watcher
//! documents them.
//!
//! - `from: "@src/dir/file.yaml"` (no glob): a file goes to `to` as named, or
//!   into it when `to` ends with `/` or is an existing directory; a directory
//!   is copied as a subdirectory of `to` (`cp -r src/dir to/`).
//! - `from: "@src/dir/**"`: everything under `dir`, recursively, lands under
//!   `to` with the `dir/` prefix stripped.
//! - any other glob (`*` one path segment, `**` any number, `?`, `[...]`):
//!   each match lands under `to` at its path below the pattern's leading
//!   non-glob directories (`configs/*.yaml` → `to/a.yaml`); a matched
//!   directory brings its contents.
//! - `exclude` globs drop files whose path in the source, path below the
//!   copied directory, or name matches.
//! - `strategy: Merge` merges YAML into an existing destination file as Helm
//!   merges values files (maps key by key, anything else replaced);
//!   `strategy: Extract` unpacks `.tar.gz`/`.tgz` files into `to` (other
//!   files a glob matches are skipped).
//!
//! # Guarantees
//! Nothing is read outside a source's directory or written outside the
//! staging directory: `from` patterns and `to` paths with a `..` component or
//! an absolute path are refused by name, sources hold no links (extraction
//! refuses them), and every destination is built from normal path components.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use ferroflux_api::extensions::CopyOperation;
use ferroflux_api::extensions::artifactgenerator::{
    EXTRACT_STRATEGY, MERGE_STRATEGY, OVERWRITE_STRATEGY,
};
use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use serde_json::Value;

/// Why a copy operation failed; every message names the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation's `from`, `to`, `exclude` or `strategy` is malformed or escapes.
    #[error("copy from '{from}' to '{to}' is invalid: {reason}")]
    Invalid {
        /// The operation's `from`.
        from: String,
        /// The operation's `to`.
        to: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The operation selects nothing, or names a missing path.
    #[error("copy from '{from}' to '{to}' failed: {reason}")]
    Failed {
        /// The operation's `from`.
        from: String,
        /// The operation's `to`.
        to: String,
        /// What went wrong.
        reason: String,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A parsed copy operation: which source, which pattern, where to.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The source alias in `from`.
    pub alias: &'a str,
    /// The path or glob after `@<alias>/`, without a trailing `/`.
    pub pattern: &'a str,
    /// The destination below the artifact root, without a trailing `/`
    /// (empty: the root).
    pub dest: &'a str,
    /// Whether `to` ends with `/` (a directory).
    pub dest_is_dir: bool,
    /// The strategy, `Overwrite` when omitted.
    pub strategy: &'a str,
}

/// Checks `op` without touching any file: the `@alias/` and `@artifact/`
/// prefixes, paths confined (no `..`, not absolute), valid globs and a known
/// strategy.
///
/// # Errors
/// [`Error::Invalid`] naming the operation and what is wrong.
pub fn parse(op: &CopyOperation) -> Result<Parsed<'_>> {
    let invalid = |reason: String| Error::Invalid {
        from: op.from.clone(),
        to: op.to.clone(),
        reason,
    };
    let (alias, pattern) = op
        .from
        .strip_prefix('@')
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| invalid("'from' must have the form '@<alias>/<path or glob>'".into()))?;
    let dest_full = op
        .to
        .strip_prefix("@artifact/")
        .ok_or_else(|| invalid("'to' must start with '@artifact/'".into()))?;
    let pattern = pattern.trim_end_matches('/');
    let dest = dest_full.trim_end_matches('/');
    confined(pattern).map_err(|why| invalid(format!("'from' {why}")))?;
    confined(dest).map_err(|why| invalid(format!("'to' {why}")))?;
    for exclude in &op.exclude {
        glob(exclude).map_err(|e| invalid(format!("exclude '{exclude}' is not a glob: {e}")))?;
    }
    if is_glob(pattern) {
        glob(pattern).map_err(|e| invalid(format!("'{pattern}' is not a glob: {e}")))?;
    }
    let strategy = op.strategy.as_deref().unwrap_or(OVERWRITE_STRATEGY);
    if ![OVERWRITE_STRATEGY, MERGE_STRATEGY, EXTRACT_STRATEGY].contains(&strategy) {
        return Err(invalid(format!(
            "strategy '{strategy}' is not one of Overwrite, Merge, Extract"
        )));
    }
    Ok(Parsed {
        alias,
        pattern,
        dest,
        dest_is_dir: dest_full.ends_with('/') || dest.is_empty(),
        strategy,
    })
}

/// Applies `ops` in order, reading the sources' extracted directories
/// (`alias` → directory) and writing into `staging`.
///
/// # Errors
/// [`Error::Invalid`] for a malformed operation or an unknown alias;
/// [`Error::Failed`] for a glob matching nothing (naming it), a missing
/// path, a file that is not YAML under `Merge`, or an I/O failure.
pub fn apply(
    ops: &[CopyOperation],
    sources: &BTreeMap<String, PathBuf>,
    staging: &Path,
) -> Result<()> {
    for op in ops {
        let parsed = parse(op)?;
        let Some(root) = sources.get(parsed.alias) else {
            return Err(Error::Invalid {
                from: op.from.clone(),
                to: op.to.clone(),
                reason: format!("no source has the alias '{}'", parsed.alias),
            });
        };
        let failed = |reason: String| Error::Failed {
            from: op.from.clone(),
            to: op.to.clone(),
            reason,
        };
        Copier {
            op,
            parsed: &parsed,
            root,
            staging,
            excludes: excludes(&op.exclude).map_err(|e| failed(e.to_string()))?,
        }
        .run()
        .map_err(failed)?;
    }
    Ok(())
}

struct Copier<'a> {
    op: &'a CopyOperation,
    parsed: &'a Parsed<'a>,
    root: &'a Path,
    staging: &'a Path,
    excludes: GlobSet,
}

impl Copier<'_> {
    fn run(&self) -> Result<(), String> {
        let Parsed {
            alias,
            pattern,
            dest,
            ..
        } = *self.parsed;
        if !is_glob(pattern) {
            return self.single(pattern, dest);
        }
        let base = glob_base(pattern);
        let files = walk(&self.root.join(base), base).map_err(|e| e.to_string())?;
        let matcher = glob(pattern).map_err(|e| e.to_string())?;
        let mut copied = 0usize;
        for (rel, is_dir) in files {
            if is_dir || !(matcher.is_match(&rel) || ancestor_matches(&matcher, &rel, base)) {
                continue;
            }
            let below = strip_base(&rel, base);
            if self.excluded(&rel, below) {
                continue;
            }
            if self.parsed.strategy == EXTRACT_STRATEGY {
                if is_tarball(&rel) {
                    self.extract(&rel, dest)?;
                    copied += 1;
                }
                continue;
            }
            self.file(&rel, &join(dest, below))?;
            copied += 1;
        }
        if copied == 0 {
            return Err(format!(
                "no files match '{pattern}' in source '@{alias}'{}",
                if self.op.exclude.is_empty() {
                    ""
                } else {
                    " (after exclusions)"
                }
            ));
        }
        Ok(())
    }

    /// A path without glob characters: a file or a directory.
    fn single(&self, path: &str, dest: &str) -> Result<(), String> {
        let alias = self.parsed.alias;
        let src = self.root.join(path);
        let meta = fs::symlink_metadata(&src)
            .map_err(|_| format!("'{path}' does not exist in source '@{alias}'"))?;
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if meta.is_dir() {
            if self.parsed.strategy == EXTRACT_STRATEGY {
                return Err(format!(
                    "strategy Extract takes .tar.gz or .tgz files, and '{path}' is a directory"
                ));
            }
            let target = join(dest, &name);
            let mut copied = 0usize;
            for (rel, is_dir) in walk(&src, path).map_err(|e| e.to_string())? {
                let below = strip_base(&rel, path);
                if is_dir || self.excluded(&rel, below) {
                    continue;
                }
                self.file(&rel, &join(&target, below))?;
                copied += 1;
            }
            if copied == 0 {
                return Err(format!(
                    "directory '{path}' in source '@{alias}' has no files to copy"
                ));
            }
            return Ok(());
        }
        if !meta.is_file() {
            return Err(format!(
                "'{path}' in source '@{alias}' is not a file or directory"
            ));
        }
        if self.excluded(path, &name) {
            return Ok(());
        }
        if self.parsed.strategy == EXTRACT_STRATEGY {
            if !is_tarball(path) {
                return Err(format!(
                    "strategy Extract takes .tar.gz or .tgz files, and '{path}' is neither"
                ));
            }
            return self.extract(path, dest);
        }
        let into_dir = self.parsed.dest_is_dir || self.staging.join(dest).is_dir();
        let target = if into_dir {
            join(dest, &name)
        } else {
            dest.to_owned()
        };
        self.file(path, &target)
    }

    fn excluded(&self, rel: &str, below: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.excludes.is_match(rel) || self.excludes.is_match(below) || self.excludes.is_match(name)
    }

    /// Copies (or merges) the source file `rel` to `target` in the staging directory.
    fn file(&self, rel: &str, target: &str) -> Result<(), String> {
        if target.is_empty() {
            return Err(format!(
                "'{rel}' would replace the artifact's root; end 'to' with '/' to copy into it"
            ));
        }
        let src = self.root.join(rel);
        let dst = self.staging.join(target);
        if dst.is_dir() {
            return Err(format!(
                "'{target}' is a directory in the artifact; '{rel}' cannot replace it"
            ));
        }
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("creating '{target}': {e}"))?;
        }
        if self.parsed.strategy == MERGE_STRATEGY && dst.is_file() {
            return merge_yaml(&src, &dst)
                .map_err(|e| format!("merging '{rel}' into '{target}': {e}"));
        }
        fs::copy(&src, &dst).map_err(|e| format!("copying '{rel}' to '{target}': {e}"))?;
        Ok(())
    }

    fn extract(&self, rel: &str, dest: &str) -> Result<(), String> {
        let into = self.staging.join(dest);
        fs::create_dir_all(&into).map_err(|e| format!("creating '{dest}': {e}"))?;
        let file =
            fs::File::open(self.root.join(rel)).map_err(|e| format!("opening '{rel}': {e}"))?;
        ferroflux_artifact::extract::tar_gz(
            std::io::BufReader::new(file),
            &into,
            ferroflux_artifact::extract::Limits::default(),
        )
        .map(drop)
        .map_err(|e| format!("extracting '{rel}': {e}"))
    }
}

/// Whether `rel` sits inside a directory the (non-recursive) glob matched,
/// so a matched directory brings its contents (`apps/*` copies `apps/x/y`).
fn ancestor_matches(matcher: &GlobMatcher, rel: &str, base: &str) -> bool {
    let mut path = rel;
    while let Some((parent, _)) = path.rsplit_once('/') {
        if parent.len() < base.len() {
            return false;
        }
        if matcher.is_match(parent) {
            return true;
        }
        path = parent;
    }
    false
}

/// Every file and directory below `dir`, as paths relative to the source
/// root (`prefix` is `dir`'s own), sorted. A missing `dir` has none.
fn walk(dir: &Path, prefix: &str) -> std::io::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), prefix.to_owned())];
    while let Some((path, rel)) = stack.pop() {
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = join(&rel, &name);
            if kind.is_dir() {
                out.push((child.clone(), true));
                stack.push((entry.path(), child));
            } else if kind.is_file() {
                out.push((child, false));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The leading path segments of `pattern` without glob characters.
fn glob_base(pattern: &str) -> &str {
    let mut end = 0;
    for (i, segment) in pattern.split('/').enumerate() {
        if is_glob(segment) {
            break;
        }
        end = if i == 0 {
            segment.len()
        } else {
            end + 1 + segment.len()
        };
    }
    &pattern[..end]
}

fn strip_base<'a>(rel: &'a str, base: &str) -> &'a str {
    if base.is_empty() {
        return rel;
    }
    rel.strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(rel)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '[', ']'])
}

fn is_tarball(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".tar.gz", ".tgz"].iter().any(|ext| lower.ends_with(ext))
}

/// Refuses absolute paths and `..` components.
fn confined(path: &str) -> Result<(), &'static str> {
    if path.starts_with('/') {
        return Err("must be a relative path; absolute paths are refused");
    }
    if Path::new(path)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must stay inside its root; '..' is refused");
    }
    Ok(())
}

fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(builder(pattern).build()?.compile_matcher())
}

fn builder(pattern: &str) -> GlobBuilder<'_> {
    let mut b = GlobBuilder::new(pattern);
    b.literal_separator(true).backslash_escape(true);
    b
}

fn excludes(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob: Glob = builder(p).build()?;
        set.add(glob);
    }
    set.build()
}

/// Merges the YAML mapping in `src` into the one in `dst`, as Helm merges
/// values files given with several `--values`: maps key by key, anything
/// else (lists included) replaced.
fn merge_yaml(src: &Path, dst: &Path) -> Result<(), String> {
    let read = |path: &Path| -> Result<Value, String> {
        let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut docs = ferroflux_yaml::parse_documents_helm(&text).map_err(|e| e.to_string())?;
        match docs.len() {
            0 => Ok(Value::Object(serde_json::Map::new())),
            1 => Ok(docs.remove(0)),
            n => Err(format!("{n} YAML documents; Merge takes one")),
        }
    };
    let mut base = read(dst)?;
    let overlay = read(src)?;
    if !base.is_object() && !base.is_null() || !overlay.is_object() && !overlay.is_null() {
        return Err("Merge takes YAML mappings".into());
    }
    merge(&mut base, overlay);
    fs::write(dst, ferroflux_yaml::to_yaml(&base)).map_err(|e| e.to_string())
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests;
