//! `spec.decryption` (`provider: sops`) as Flux's kustomize-controller
//! applies it, with `ferroflux-sops`:
//!
//! - before the build, [`decrypt_sources`] follows the kustomization files
//!   from `spec.path` (resources, bases and components that are local
//!   directories) and decrypts in place, in the private copy of the
//!   artifact, the SOPS files they use: `secretGenerator` `files` (format by
//!   extension) and `envs` (dotenv), local patch files, and resource files
//!   that are SOPS YAML or JSON documents;
//! - after the build, [`decrypt_objects`] decrypts Secret `data` and
//!   `stringData` values that are SOPS documents themselves (format by the
//!   key's extension, written back in the same format), and refuses an
//!   object that still carries SOPS metadata.
//!
//! Objects and files annotated `kustomize.toolkit.fluxcd.io/decrypt:
//! disabled` are left alone; every encrypted file is capped at 5 MiB.
//!
//! # Caveats
//! Flux decrypts whole resources after the build. This builder keeps
//! objects as JSON maps in key order, which loses the document order sops's
//! MAC is computed over, so whole resources are decrypted from their files
//! before the build instead. A transformation that changes an encrypted
//! resource (a name prefix, a label) therefore does not break its MAC here,
//! where it does in Flux; everything else is the same.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferroflux_kustomize::kustomization::KUSTOMIZATION_FILES;
use ferroflux_kustomize::yaml;
use ferroflux_sops::{Format, Keys, MAX_FILE_SIZE};
use serde_json::Value;

/// The annotation that turns decryption off for one object or file.
pub const DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// Why decryption failed. Never carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or value did not decrypt.
    #[error("decryption failed for {0}")]
    Sops(#[from] ferroflux_sops::Error),
    /// A file could not be read or written.
    #[error("{file}: {reason}")]
    File {
        /// The file, relative to the artifact.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// An object still carries SOPS metadata after decryption.
    #[error(
        "{0} is SOPS encrypted but was not decrypted: list its file in a kustomization (resources) so it is decrypted before the build, or annotate it {DECRYPT_ANNOTATION}: disabled"
    )]
    StillEncrypted(String),
}

/// The kustomization fields naming files to decrypt, and how to read each.
fn files_of(k: &serde_json::Map<String, Value>) -> (Vec<(String, Option<Format>)>, Vec<String>) {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut files: Vec<(String, Option<Format>)> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for key in ["resources", "bases", "components"] {
        // Files or directories: told apart on disk.
        dirs.extend(strings(k.get(key)));
    }
    for g in k
        .get("secretGenerator")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for f in strings(g.get("files")) {
            let path = f.split_once('=').map_or(f.as_str(), |(_, p)| p).to_owned();
            files.push((path, None));
        }
        for e in strings(g.get("envs"))
            .into_iter()
            .chain(g.get("env").and_then(Value::as_str).map(str::to_owned))
        {
            files.push((e, Some(Format::Dotenv)));
        }
    }
    for p in k
        .get("patches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(path) = p.get("path").and_then(Value::as_str) {
            files.push((path.to_owned(), None));
        }
    }
    for p in k
        .get("patchesJson6902")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(path) = p.get("path").and_then(Value::as_str) {
            files.push((path.to_owned(), None));
        }
    }
    for p in strings(k.get("patchesStrategicMerge")) {
        if !p.contains('\n') {
            files.push((p, None));
        }
    }
    (files, dirs)
}

/// Decrypts, in place, the SOPS files the kustomization in `dir` (inside
/// `root`, the private copy of the artifact) and the local directories it
/// includes use.
///
/// # Errors
/// A file that does not decrypt ([`Error::Sops`], naming it relative to
/// `root`), or cannot be read or written.
pub fn decrypt_sources(root: &Path, dir: &Path, keys: &Keys) -> Result<(), Error> {
    let root = root.canonicalize().map_err(|e| Error::File {
        file: ".".into(),
        reason: e.to_string(),
    })?;
    let mut seen = BTreeSet::new();
    let mut queue = vec![dir.to_path_buf()];
    while let Some(dir) = queue.pop() {
        let Ok(dir) = dir.canonicalize() else {
            continue;
        };
        if !dir.starts_with(&root) || !seen.insert(dir.clone()) {
            continue;
        }
        let Some(file) = KUSTOMIZATION_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let text = std::fs::read_to_string(&file).map_err(|e| Error::File {
            file: relative(&root, &file),
            reason: e.to_string(),
        })?;
        let Ok(docs) = yaml::parse_documents(&yaml::normalise(&text)) else {
            // The build reports a kustomization that does not parse.
            continue;
        };
        let Some(Value::Object(k)) = docs.into_iter().next() else {
            continue;
        };
        let (files, entries) = files_of(&k);
        for entry in entries {
            if entry.contains("://") {
                continue;
            }
            let path = dir.join(&entry);
            if path.is_dir() {
                queue.push(path);
            } else if path.is_file() {
                decrypt_in_place(&root, &path, None, true, keys)?;
            }
        }
        for (name, format) in files {
            let path = dir.join(&name);
            if path.is_file() {
                decrypt_in_place(&root, &path, format, false, keys)?;
            }
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Decrypts one file in place when it is a SOPS document. A resource file
/// is decrypted only as a YAML or JSON document, and not when it carries the
/// decrypt-disabled annotation.
fn decrypt_in_place(
    root: &Path,
    path: &Path,
    format: Option<Format>,
    resource: bool,
    keys: &Keys,
) -> Result<(), Error> {
    let Ok(path) = path.canonicalize() else {
        return Ok(());
    };
    if !path.starts_with(root) {
        return Ok(());
    }
    let name = relative(root, &path);
    let format = format.unwrap_or_else(|| Format::for_path(&name));
    if resource && !matches!(format, Format::Yaml | Format::Json) {
        return Ok(());
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| Error::File {
            file: name.clone(),
            reason: e.to_string(),
        })
    };
    if usize::try_from(size).unwrap_or(usize::MAX) > MAX_FILE_SIZE {
        // Read only enough to tell whether it is encrypted at all.
        let head = read(&path)?;
        if ferroflux_sops::is_encrypted(&head, format) {
            return Err(ferroflux_sops::Error::TooLarge {
                name,
                size: head.len(),
                limit: MAX_FILE_SIZE,
            }
            .into());
        }
        return Ok(());
    }
    let data = read(&path)?;
    if !ferroflux_sops::is_encrypted(&data, format) {
        return Ok(());
    }
    if resource && disabled_in_text(&data) {
        return Ok(());
    }
    let plain = ferroflux_sops::decrypt_file(&name, &data, format, keys)?;
    std::fs::write(&path, plain).map_err(|e| Error::File {
        file: name,
        reason: e.to_string(),
    })
}

/// Whether an (encrypted) resource file carries the decrypt-disabled
/// annotation in clear.
fn disabled_in_text(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    text.lines().any(|l| {
        let l = l.trim().trim_matches(|c| c == '"' || c == ',');
        l.strip_prefix(DECRYPT_ANNOTATION).map(|rest| {
            rest.trim_start_matches(['"', ':', ' '])
                .trim_matches(['"', ','])
        }) == Some("disabled")
    })
}

fn disabled(o: &Value) -> bool {
    o.pointer("/metadata/annotations")
        .and_then(|a| a.get(DECRYPT_ANNOTATION))
        .and_then(Value::as_str)
        == Some("disabled")
}

/// Decrypts Secret `data`/`stringData` values that are SOPS documents and
/// refuses objects still carrying SOPS metadata.
///
/// # Errors
/// A value that does not decrypt (named `Secret/<ns>/<name> <key>`), or an
/// object left encrypted ([`Error::StillEncrypted`]).
pub fn decrypt_objects(objects: &mut [Value], keys: &Keys) -> Result<(), Error> {
    for o in objects.iter_mut() {
        if disabled(o) {
            continue;
        }
        let id = format!(
            "{}/{}/{}",
            o.get("kind").and_then(Value::as_str).unwrap_or_default(),
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        if o.get("sops").and_then(|s| s.get("mac")).is_some() {
            return Err(Error::StillEncrypted(id));
        }
        if o.get("kind").and_then(Value::as_str) != Some("Secret") {
            continue;
        }
        if let Some(Value::Object(data)) = o.get_mut("data") {
            for (key, value) in data.iter_mut() {
                let Some(bytes) = value.as_str().and_then(|s| STANDARD.decode(s).ok()) else {
                    continue;
                };
                let format = Format::for_path(key);
                if ferroflux_sops::is_encrypted(&bytes, format) {
                    let plain = ferroflux_sops::decrypt_file(
                        &format!("{id} data.{key}"),
                        &bytes,
                        format,
                        keys,
                    )?;
                    *value = Value::String(STANDARD.encode(plain));
                }
            }
        }
        if let Some(Value::Object(data)) = o.get_mut("stringData") {
            for (key, value) in data.iter_mut() {
                let Some(text) = value.as_str() else { continue };
                let format = Format::for_path(key);
                if ferroflux_sops::is_encrypted(text.as_bytes(), format) {
                    let plain = ferroflux_sops::decrypt_file(
                        &format!("{id} stringData.{key}"),
                        text.as_bytes(),
                        format,
                        keys,
                    )?;
                    *value = Value::String(String::from_utf8_lossy(&plain).into_owned());
                }
            }
        }
    }
    Ok(())
}
