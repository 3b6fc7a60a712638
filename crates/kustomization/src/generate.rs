//! Makes a Kustomization's `spec.path` buildable the way Flux does: a
//! `kustomization.yaml` is generated over the directory's manifests when it
//! has none, then the Kustomization's own fields (`targetNamespace`,
//! `namePrefix`, `nameSuffix`, `patches`, `images`, `components`) are written
//! into that file, and [`build`] builds it. The directory is a private,
//! extracted copy of the artifact, so editing it in place is safe.

use std::path::{Path, PathBuf};

use ferroflux_api::kustomize::KustomizationSpec;
use ferroflux_kustomize::build::{LoadRestrictor, Options};
use ferroflux_kustomize::kustomization::KUSTOMIZATION_FILES;
use ferroflux_kustomize::yaml;
use serde_json::{Map, Value};

/// Why a directory could not be prepared or built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `spec.path` leaves the artifact or does not exist.
    #[error("spec.path '{path}': {reason}")]
    Path {
        /// The path as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A manifest or the kustomization file could not be read or parsed.
    #[error("{file}: {reason}")]
    File {
        /// The file, relative to the artifact.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A `spec.components` entry is not a local relative path.
    #[error("spec.components: '{0}' must be a relative path inside the artifact")]
    Component(String),
    /// `spec.decryption` failed.
    #[error(transparent)]
    Decrypt(#[from] crate::decrypt::Error),
    /// The prepared directory did not build; the builder's message, with
    /// paths relative to the artifact.
    #[error("kustomize build failed: {0}")]
    Build(String),
}

/// Prepares and builds `spec.path` inside `root`, a private copy of the
/// artifact, with no load restrictor (files anywhere under `root` may be
/// referenced, nothing outside it), as the controller and
/// `ferroflux build kustomization` do.
///
/// # Errors
/// [`Error`]: the preparation or the build failing, with paths relative to
/// `root`.
pub fn build(root: &Path, spec: &KustomizationSpec) -> Result<Vec<Value>, Error> {
    build_decrypting(root, spec, None)
}

/// [`build`], decrypting with `keys` when given (`spec.decryption`): the
/// SOPS files the kustomization uses before the build, Secret values after
/// it ([`crate::decrypt`]).
///
/// # Errors
/// As [`build`], and [`Error::Decrypt`].
pub fn build_decrypting(
    root: &Path,
    spec: &KustomizationSpec,
    keys: Option<&ferroflux_sops::Keys>,
) -> Result<Vec<Value>, Error> {
    let dir = resolve_path(root, spec.path.as_deref())?;
    prepare(root, &dir, spec)?;
    if let Some(keys) = keys {
        crate::decrypt::decrypt_sources(root, &dir, keys)?;
    }
    let options = Options {
        root: root.to_path_buf(),
        load_restrictor: LoadRestrictor::None,
        // Charts vendored into the source are rendered with Ferroflux's own
        // Helm renderer (Flux refuses them: it would have to run `helm`).
        enable_helm: true,
    };
    ferroflux_kustomize::build::build(&dir, &options)
        .map_err(|e| {
            // Paths inside the temporary directory mean nothing to the user.
            let text = e.to_string();
            let prefix = format!("{}/", root.display());
            Error::Build(text.replace(&prefix, ""))
        })
        .and_then(|mut objects| {
            if let Some(keys) = keys {
                crate::decrypt::decrypt_objects(&mut objects, keys)?;
            }
            Ok(objects)
        })
}

/// Resolves `spec.path` inside `root` (the extracted artifact), refusing
/// anything that leaves it, symlinks included.
///
/// # Errors
/// [`Error::Path`] when the path escapes `root` or is not a directory.
pub fn resolve_path(root: &Path, path: Option<&str>) -> Result<PathBuf, Error> {
    let written = path.unwrap_or("./");
    let bad = |reason: &str| Error::Path {
        path: written.to_owned(),
        reason: reason.to_owned(),
    };
    let relative = written.trim_start_matches('/');
    let root = root
        .canonicalize()
        .map_err(|e| bad(&format!("the artifact cannot be read: {e}")))?;
    let dir = root
        .join(relative)
        .canonicalize()
        .map_err(|_| bad("no such directory in the artifact"))?;
    if !dir.starts_with(&root) {
        return Err(bad("it leaves the artifact; use a path inside the source"));
    }
    if !dir.is_dir() {
        return Err(bad("not a directory"));
    }
    Ok(dir)
}

/// Prepares `dir` (inside `root`) for the build: generates the
/// kustomization file if needed and writes the spec's fields into it.
///
/// # Errors
/// [`Error`] naming the file or field at fault.
pub fn prepare(root: &Path, dir: &Path, spec: &KustomizationSpec) -> Result<(), Error> {
    let relative = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let existing = KUSTOMIZATION_FILES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let (file, mut k) = if let Some(file) = existing {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::File {
            file: relative(&file),
            reason: e.to_string(),
        })?;
        let doc = yaml::parse_documents(&yaml::normalise(&text))
            .map_err(|e| Error::File {
                file: relative(&file),
                reason: e.to_string(),
            })?
            .into_iter()
            .next()
            .unwrap_or(Value::Object(Map::new()));
        let Value::Object(k) = doc else {
            return Err(Error::File {
                file: relative(&file),
                reason: "the kustomization is not a mapping".into(),
            });
        };
        (file, k)
    } else {
        let mut resources = Vec::new();
        scan(dir, dir, &mut resources, &relative)?;
        let mut k = Map::new();
        k.insert(
            "apiVersion".into(),
            Value::String("kustomize.config.k8s.io/v1beta1".into()),
        );
        k.insert("kind".into(), Value::String("Kustomization".into()));
        k.insert(
            "resources".into(),
            Value::Array(resources.into_iter().map(Value::String).collect()),
        );
        (dir.join("kustomization.yaml"), k)
    };
    overlay(&mut k, spec, dir)?;
    std::fs::write(&file, yaml::to_yaml(&Value::Object(k))).map_err(|e| Error::File {
        file: relative(&file),
        reason: e.to_string(),
    })
}

/// Lists the manifests below `dir` as Flux does: `.yaml` and `.yml` files,
/// and subdirectories that have their own kustomization file (not entered).
fn scan(
    top: &Path,
    dir: &Path,
    out: &mut Vec<String>,
    relative: &dyn Fn(&Path) -> String,
) -> Result<(), Error> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::File {
            file: relative(dir),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let local = |p: &Path| format!("./{}", p.strip_prefix(top).unwrap_or(p).to_string_lossy());
    for path in entries {
        if path.is_dir() {
            if KUSTOMIZATION_FILES.iter().any(|n| path.join(n).is_file()) {
                out.push(local(&path));
            } else {
                scan(top, &path, out, relative)?;
            }
            continue;
        }
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !is_yaml {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::File {
            file: relative(&path),
            reason: e.to_string(),
        })?;
        let docs = yaml::parse_documents(&yaml::normalise(&text)).map_err(|e| Error::File {
            file: relative(&path),
            reason: e.to_string(),
        })?;
        if docs
            .iter()
            .any(|d| d.get("kind").and_then(Value::as_str).is_none())
        {
            return Err(Error::File {
                file: relative(&path),
                reason: "not a Kubernetes manifest (a document has no kind)".into(),
            });
        }
        out.push(local(&path));
    }
    Ok(())
}

/// Writes the Kustomization's fields into a kustomization, as Flux does:
/// `targetNamespace` and the name affixes override, patches and components
/// are appended (missing ones dropped with `ignoreMissingComponents`),
/// images replace an entry of the same name.
fn overlay(k: &mut Map<String, Value>, spec: &KustomizationSpec, dir: &Path) -> Result<(), Error> {
    let text = |s: &str| Value::String(s.to_owned());
    if let Some(ns) = spec.target_namespace.as_deref().filter(|n| !n.is_empty()) {
        k.insert("namespace".into(), text(ns));
    }
    if let Some(prefix) = spec.name_prefix.as_deref().filter(|n| !n.is_empty()) {
        k.insert("namePrefix".into(), text(prefix));
    }
    if let Some(suffix) = spec.name_suffix.as_deref().filter(|n| !n.is_empty()) {
        k.insert("nameSuffix".into(), text(suffix));
    }
    let list = |k: &mut Map<String, Value>, key: &str| -> Vec<Value> {
        match k.remove(key) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        }
    };
    if !spec.patches.is_empty() {
        let mut patches = list(k, "patches");
        for p in &spec.patches {
            let mut entry = Map::new();
            entry.insert("patch".into(), text(&p.patch));
            if let Some(target) = &p.target {
                entry.insert(
                    "target".into(),
                    serde_json::to_value(target).unwrap_or(Value::Null),
                );
            }
            patches.push(Value::Object(entry));
        }
        k.insert("patches".into(), Value::Array(patches));
    }
    if !spec.components.is_empty() {
        let mut components = list(k, "components");
        for c in &spec.components {
            if c.starts_with('/') || c.split('/').any(|s| s == "..") || c.contains("://") {
                return Err(Error::Component(c.clone()));
            }
            // `ignoreMissingComponents`: a component the revision lacks is
            // left out rather than failing the build.
            if spec.ignore_missing_components && !dir.join(c).exists() {
                continue;
            }
            components.push(text(c));
        }
        k.insert("components".into(), Value::Array(components));
    }
    if !spec.images.is_empty() {
        let mut images = list(k, "images");
        for image in &spec.images {
            let value = serde_json::to_value(image).unwrap_or(Value::Null);
            match images
                .iter_mut()
                .find(|i| i.get("name").and_then(Value::as_str) == Some(image.name.as_str()))
            {
                Some(existing) => *existing = value,
                None => images.push(value),
            }
        }
        k.insert("images".into(), Value::Array(images));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ferroflux_api::kustomize::{Image, KustomizationSpec};

    use super::{prepare, resolve_path};

    #[test]
    fn a_plain_directory_gets_a_kustomization_with_the_spec_fields() {
        let root = tempfile::tempdir().unwrap();
        let app = root.path().join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::create_dir_all(app.join("base")).unwrap();
        std::fs::write(app.join("b.yaml"), "kind: ConfigMap\n").unwrap();
        std::fs::write(app.join("a.yml"), "kind: Secret\n").unwrap();
        std::fs::write(app.join("notes.txt"), "ignored").unwrap();
        std::fs::write(app.join("sub/c.yaml"), "kind: Service\n").unwrap();
        std::fs::write(app.join("base/kustomization.yaml"), "resources: []\n").unwrap();
        std::fs::write(app.join("base/x.yaml"), "not: a manifest\n").unwrap();
        let spec = KustomizationSpec {
            target_namespace: Some("prod".into()),
            images: vec![Image {
                name: "nginx".into(),
                new_tag: Some("1.27".into()),
                ..Image::default()
            }],
            ..KustomizationSpec::default()
        };
        let dir = resolve_path(root.path(), Some("./app")).unwrap();
        prepare(root.path(), &dir, &spec).unwrap();
        let written = std::fs::read_to_string(app.join("kustomization.yaml")).unwrap();
        assert_eq!(
            written,
            "apiVersion: kustomize.config.k8s.io/v1beta1\nimages:\n- name: nginx\n  newTag: \"1.27\"\nkind: Kustomization\nnamespace: prod\nresources:\n- ./a.yml\n- ./b.yaml\n- ./base\n- ./sub/c.yaml\n"
        );
    }

    #[test]
    fn paths_leaving_the_artifact_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        let err = resolve_path(&root.path().join("a"), Some("../")).unwrap_err();
        assert!(err.to_string().contains("leaves the artifact"), "{err}");
        let err = resolve_path(root.path(), Some("./missing")).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
    }

    #[test]
    fn an_existing_kustomization_keeps_its_fields() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("kustomization.yaml"),
            "resources: [cm.yaml]\nnamePrefix: a-\n",
        )
        .unwrap();
        let spec = KustomizationSpec {
            name_suffix: Some("-z".into()),
            components: vec!["../escape".into()],
            ..KustomizationSpec::default()
        };
        let dir = resolve_path(root.path(), None).unwrap();
        let err = prepare(root.path(), &dir, &spec).unwrap_err();
        assert!(err.to_string().contains("../escape"), "{err}");
        let spec = KustomizationSpec {
            name_suffix: Some("-z".into()),
            ..KustomizationSpec::default()
        };
        prepare(root.path(), &dir, &spec).unwrap();
        let written = std::fs::read_to_string(root.path().join("kustomization.yaml")).unwrap();
        assert_eq!(
            written,
            "namePrefix: a-\nnameSuffix: -z\nresources:\n- cm.yaml\n"
        );
        std::fs::create_dir_all(root.path().join("present")).unwrap();
        let spec = KustomizationSpec {
            components: vec!["present".into(), "absent".into()],
            ignore_missing_components: true,
            ..KustomizationSpec::default()
        };
        prepare(root.path(), &dir, &spec).unwrap();
        let written = std::fs::read_to_string(root.path().join("kustomization.yaml")).unwrap();
        assert!(written.contains("components:\n- present\n"), "{written}");
        assert!(!written.contains("absent"), "{written}");
    }
}
