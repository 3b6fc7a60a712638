//! Which files of a checkout go into the artifact: `.sourceignore` files
//! (gitignore syntax, at any depth) plus either `spec.ignore` or Flux's
//! default exclusions (VCS metadata, CI configuration, images and archives).

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use ferroflux_artifact::archive::Filter;

/// The exclusions used when `spec.ignore` is not set, as in Flux.
pub const DEFAULT_EXCLUSIONS: &[&str] = &[
    // Version control.
    ".git/",
    ".gitignore",
    ".gitmodules",
    ".gitattributes",
    // Binary files rarely meant for a cluster.
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    // CI configuration.
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// The name of the ignore files read from the checkout.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// A compiled set of exclusions for one checkout.
#[derive(Debug)]
pub struct SourceIgnore {
    matcher: Gitignore,
}

/// Why the ignore rules could not be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid ignore pattern in {origin}: {message}")]
pub struct Error {
    /// `spec.ignore` or the path of the `.sourceignore` file.
    pub origin: String,
    /// What is wrong with it.
    pub message: String,
}

impl SourceIgnore {
    /// Builds the rules for the checkout at `root`: `spec_ignore` (or the
    /// defaults when `None`), then every `.sourceignore` file, whose patterns
    /// apply below the directory holding it.
    ///
    /// # Errors
    /// [`Error`] naming the pattern's origin when a pattern does not parse.
    pub fn load(root: &Path, spec_ignore: Option<&str>) -> Result<Self, Error> {
        let mut builder = GitignoreBuilder::new(root);
        let base: Vec<&str> = match spec_ignore {
            Some(text) => text.lines().collect(),
            None => DEFAULT_EXCLUSIONS.to_vec(),
        };
        let origin = if spec_ignore.is_some() {
            "spec.ignore"
        } else {
            "the default exclusions"
        };
        for line in base {
            builder.add_line(None, line).map_err(|e| Error {
                origin: origin.into(),
                message: e.to_string(),
            })?;
        }
        for file in find_sourceignore_files(root) {
            let rel_dir = file
                .parent()
                .and_then(|d| d.strip_prefix(root).ok())
                .unwrap_or(Path::new(""));
            let prefix = rel_dir.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for line in text.lines() {
                let pattern = scoped(&prefix, line);
                builder.add_line(None, &pattern).map_err(|e| Error {
                    origin: file
                        .strip_prefix(root)
                        .unwrap_or(&file)
                        .display()
                        .to_string(),
                    message: e.to_string(),
                })?;
            }
        }
        let matcher = builder.build().map_err(|e| Error {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        Ok(Self { matcher })
    }

    /// Rules from pattern texts alone, without the defaults and without
    /// reading files: a Bucket's root `.sourceignore` object, then
    /// `spec.ignore` (so its patterns win), as Flux's bucket reconciler
    /// reads them. Paths are object keys.
    ///
    /// # Errors
    /// [`Error`] naming the pattern's origin when a pattern does not parse.
    pub fn from_patterns(
        sourceignore: Option<&str>,
        spec_ignore: Option<&str>,
    ) -> Result<Self, Error> {
        let mut builder = GitignoreBuilder::new("");
        for (origin, text) in [(SOURCEIGNORE, sourceignore), ("spec.ignore", spec_ignore)] {
            for line in text.unwrap_or_default().lines() {
                builder.add_line(None, line).map_err(|e| Error {
                    origin: origin.into(),
                    message: e.to_string(),
                })?;
            }
        }
        let matcher = builder.build().map_err(|e| Error {
            origin: "spec.ignore".into(),
            message: e.to_string(),
        })?;
        Ok(Self { matcher })
    }

    /// Whether the path (relative to the root) is excluded.
    #[must_use]
    pub fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        self.matcher
            .matched_path_or_any_parents(rel, is_dir)
            .is_ignore()
    }
}

impl Filter for SourceIgnore {
    fn include(&self, path: &str, is_dir: bool) -> bool {
        !self.excluded(path, is_dir)
    }
}

/// Rewrites a pattern from the `.sourceignore` in directory `prefix` so it
/// applies only below that directory, as git does for nested ignore files.
fn scoped(prefix: &str, line: &str) -> String {
    let trimmed = line.trim_end();
    if prefix.is_empty() || trimmed.is_empty() || trimmed.starts_with('#') {
        return trimmed.to_owned();
    }
    let (negate, pattern) = trimmed
        .strip_prefix('!')
        .map_or(("", trimmed), |p| ("!", p));
    let anchored = pattern.starts_with('/') || pattern.trim_end_matches('/').contains('/');
    let pattern = pattern.trim_start_matches('/');
    if anchored {
        format!("{negate}/{prefix}/{pattern}")
    } else {
        format!("{negate}/{prefix}/**/{pattern}")
    }
}

/// Every `.sourceignore` under `root`, not following symlinks or entering `.git`.
fn find_sourceignore_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && entry.file_name() != ".git" {
                stack.push(path);
            } else if kind.is_file() && entry.file_name() == SOURCEIGNORE {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::SourceIgnore;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        dir
    }

    #[test]
    fn the_defaults_exclude_vcs_ci_and_binaries_but_keep_manifests() {
        let dir = tree(&[]);
        let ig = SourceIgnore::load(dir.path(), None).unwrap();
        for (path, is_dir) in [
            (".git", true),
            (".github", true),
            ("logo.png", false),
            ("a/b/.sops.yaml", false),
            ("x.tar.gz", false),
        ] {
            assert!(ig.excluded(path, is_dir), "{path} should be excluded");
        }
        for path in ["deploy/app.yaml", "kustomization.yaml", "README.md"] {
            assert!(!ig.excluded(path, false), "{path} should be kept");
        }
    }

    #[test]
    fn spec_ignore_replaces_the_defaults() {
        let dir = tree(&[]);
        let ig = SourceIgnore::load(dir.path(), Some("/*\n!/deploy/\n")).unwrap();
        assert!(ig.excluded("README.md", false));
        assert!(!ig.excluded("deploy/app.yaml", false));
        // A default exclusion no longer applies once spec.ignore is set.
        assert!(!ig.excluded("deploy/diagram.png", false));
    }

    #[test]
    fn nested_sourceignore_files_apply_below_their_directory() {
        let dir = tree(&[
            (".sourceignore", "docs/\n"),
            ("apps/.sourceignore", "*.md\n/tmp/\n"),
        ]);
        let ig = SourceIgnore::load(dir.path(), None).unwrap();
        assert!(ig.excluded("docs", true));
        assert!(ig.excluded("apps/README.md", false));
        assert!(ig.excluded("apps/deep/notes.md", false));
        assert!(
            !ig.excluded("README.md", false),
            "apps/.sourceignore must not reach the root"
        );
        assert!(ig.excluded("apps/tmp", true));
        assert!(!ig.excluded("tmp", true));
    }
}
