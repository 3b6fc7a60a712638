//! SOPS keys on the command line, through `ferroflux-sops`: the decryption
//! Secret `create secret sops` writes (entries named as the
//! kustomize-controller reads them: `<stem>.agekey` for age identity files,
//! `<stem>.asc` for armored PGP private keys), the keys `build` and `diff
//! kustomization --decryption-key` decrypt with, and which built objects are
//! still SOPS-encrypted when no key was given.
//!
//! # Guarantees
//! Every key is parsed with `ferroflux_sops::Keys` before anything is
//! written or built; an error names the flag and the file, never its
//! content.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use ferroflux_kustomization::decrypt::DECRYPT_ANNOTATION;
use ferroflux_sops::{Format, Keys};
use k8s_openapi::ByteString;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The largest key file read: an armored RSA-4096 private key is about
/// 7 KiB, so this leaves room for many keys in one file.
const MAX_KEY_FILE: u64 = 1 << 20;

/// `create secret sops`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SopsSecretFlags {
    /// An age identity file (`age-keygen -o FILE`), stored as
    /// `<stem>.agekey`; `-` reads standard input (`age.agekey`). Repeatable.
    #[arg(long = "age-key-file", value_name = "FILE")]
    pub age_key_files: Vec<PathBuf>,
    /// An armored PGP private key without a passphrase (`gpg
    /// --export-secret-keys --armor FINGERPRINT > FILE`), stored as
    /// `<stem>.asc`; `-` reads standard input (`sops.asc`). Repeatable.
    #[arg(long = "pgp-key-file", value_name = "FILE")]
    pub pgp_key_files: Vec<PathBuf>,
}

/// The two kinds of private key the kustomize-controller reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An age identity file (`AGE-SECRET-KEY-1...` lines).
    Age,
    /// An armored PGP private key block.
    Pgp,
}

impl KeyKind {
    /// The suffix the controller reads this kind under.
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Age => ".agekey",
            Self::Pgp => ".asc",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Pgp => "PGP",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::Age => "--age-key-file",
            Self::Pgp => "--pgp-key-file",
        }
    }

    /// The entry name of a key read from standard input: the names Flux's
    /// guide uses.
    fn stdin_stem(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Pgp => "sops",
        }
    }

    /// What a key file holds, told by its content: an armored PGP block is
    /// a PGP key, anything else is read as an age identity file.
    #[must_use]
    pub fn of_content(content: &[u8]) -> Self {
        if contains(content, b"-----BEGIN PGP ") {
            Self::Pgp
        } else {
            Self::Age
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads key files, standard input (`-`) at most once.
#[derive(Default)]
struct Reader {
    stdin_used: bool,
}

impl Reader {
    /// The bytes of `path` (standard input for `-`), capped at
    /// [`MAX_KEY_FILE`].
    fn read(&mut self, path: &Path, flag: &str) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let read = if path == Path::new("-") {
            if std::mem::replace(&mut self.stdin_used, true) {
                return Err(Error::Usage(format!(
                    "{flag} -: standard input can be read only once; write the other keys to files"
                )));
            }
            std::io::stdin()
                .lock()
                .take(MAX_KEY_FILE + 1)
                .read_to_end(&mut data)
        } else {
            std::fs::File::open(path).and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut data))
        };
        read.map_err(|e| {
            Error::Usage(format!(
                "{flag} {}: cannot be read: {e}",
                display_path(path)
            ))
        })?;
        if data.len() as u64 > MAX_KEY_FILE {
            return Err(Error::Usage(format!(
                "{flag} {}: larger than {MAX_KEY_FILE} bytes; that is not a key file",
                display_path(path)
            )));
        }
        Ok(data)
    }
}

fn display_path(path: &Path) -> String {
    if path == Path::new("-") {
        "- (standard input)".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Adds the key in `content` (from `path`, given with `kind`'s flag or
/// `flag`) to `keys`, or says why it is not one: the reason
/// `ferroflux-sops` gives, a hint for the usual mix-ups (a public key, the
/// other kind of key), and never any of the content.
fn add_key(keys: &mut Keys, kind: KeyKind, flag: &str, path: &Path, content: &[u8]) -> Result<()> {
    let source = format!("{flag} {}", display_path(path));
    let added = match kind {
        KeyKind::Age => keys.add_age(&source, content),
        KeyKind::Pgp => keys.add_pgp(&source, content),
    };
    let Err(error) = added else {
        if kind == KeyKind::Pgp && pgp_protected(content) {
            return Err(Error::Usage(format!(
                "{source}: the PGP key is protected by a passphrase, which the controller cannot give; export a key without one (generated with %no-protection, or after `gpg --change-passphrase FINGERPRINT` to an empty one)"
            )));
        }
        return Ok(());
    };
    let mut message = error.to_string();
    // The reason names the expected form, which a malformed key shares.
    if leaks(&message.replace("AGE-SECRET-KEY-1...", ""), content) {
        message = format!("{source}: not a valid {} private key", kind.name());
    }
    let hint = hint(kind, content);
    Err(Error::Usage(if hint.is_empty() {
        message
    } else {
        format!("{message}; {hint}")
    }))
}

/// Whether an armored block `ferroflux-sops` accepted holds a secret key
/// or subkey locked by a passphrase: it parses, but nothing decrypts with
/// it.
fn pgp_protected(armored: &[u8]) -> bool {
    use pgp::composed::{Deserializable as _, SignedSecretKey};
    let Ok((keys, _)) = SignedSecretKey::from_armor_many(armored) else {
        return false;
    };
    keys.flatten().any(|key| {
        key.primary_key.secret_params().is_encrypted()
            || key
                .secret_subkeys
                .iter()
                .any(|sub| sub.key.secret_params().is_encrypted())
    })
}

/// Whether `message` repeats 12 or more consecutive bytes of `content`:
/// then a parser quoted the file, and the message is not shown.
fn leaks(message: &str, content: &[u8]) -> bool {
    const WINDOW: usize = 12;
    message
        .as_bytes()
        .windows(WINDOW)
        .any(|w| !w.iter().all(u8::is_ascii_whitespace) && contains(content, w))
}

/// A hint for a file that is not the kind of key its flag asks for.
fn hint(kind: KeyKind, content: &[u8]) -> &'static str {
    let has = |needle: &str| contains(content, needle.as_bytes());
    match kind {
        KeyKind::Age if has("-----BEGIN PGP PRIVATE KEY BLOCK-----") => {
            "this is a PGP private key: give it with --pgp-key-file"
        }
        KeyKind::Age if has("-----BEGIN AGE ENCRYPTED FILE-----") => {
            "this is an encrypted age file: decrypt it first (age -d), the controller cannot ask for a passphrase"
        }
        KeyKind::Age if !has("AGE-SECRET-KEY-") && has("age1") => {
            "this looks like an age recipient (public key): give the identity file age-keygen wrote (AGE-SECRET-KEY-1...)"
        }
        KeyKind::Pgp if has("-----BEGIN PGP PUBLIC KEY BLOCK-----") => {
            "this is a PGP public key: export the private key with `gpg --export-secret-keys --armor FINGERPRINT`"
        }
        KeyKind::Pgp if has("AGE-SECRET-KEY-") => {
            "this is an age identity: give it with --age-key-file"
        }
        _ => "",
    }
}

/// The name of the Secret entry for a key file: the file's stem (its name
/// without the last extension) with characters a Secret key cannot hold
/// replaced by `-`, plus the kind's suffix.
fn entry_name(path: &Path, kind: KeyKind) -> String {
    let stem: String = if path == Path::new("-") {
        kind.stdin_stem().to_owned()
    } else {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let stem = if stem.is_empty() || stem.chars().all(|c| c == '.') {
        kind.stdin_stem()
    } else {
        &stem
    };
    format!("{stem}{}", kind.suffix())
}

/// The Secret a Kustomization's `spec.decryption.secretRef` names: each
/// `--age-key-file` as `<stem>.agekey`, each `--pgp-key-file` as
/// `<stem>.asc`, in `data` (base64) so a later run with other files
/// removes the entries it no longer sets. Every key is parsed first.
///
/// # Errors
/// No key file, a file that cannot be read, is not a key of its flag's
/// kind (named, its content never shown), or two files that would make the
/// same entry, as [`Error::Usage`].
pub fn secret(name: &str, namespace: &str, flags: &SopsSecretFlags) -> Result<Value> {
    secret_with(name, namespace, flags, &mut Reader::default())
}

fn secret_with(
    name: &str,
    namespace: &str,
    flags: &SopsSecretFlags,
    reader: &mut Reader,
) -> Result<Value> {
    if flags.age_key_files.is_empty() && flags.pgp_key_files.is_empty() {
        return Err(Error::Usage(
            "give the private keys to store: --age-key-file FILE (from age-keygen) or --pgp-key-file FILE (gpg --export-secret-keys --armor)".into(),
        ));
    }
    let files = flags
        .age_key_files
        .iter()
        .map(|p| (KeyKind::Age, p))
        .chain(flags.pgp_key_files.iter().map(|p| (KeyKind::Pgp, p)));
    let mut entries: BTreeMap<String, (&Path, Vec<u8>)> = BTreeMap::new();
    for (kind, path) in files {
        let content = reader.read(path, kind.flag())?;
        add_key(&mut Keys::new(), kind, kind.flag(), path, &content)?;
        let entry = entry_name(path, kind);
        if let Some((other, _)) = entries.get(&entry) {
            return Err(Error::Usage(format!(
                "{} and {} would both be stored as {entry}; give one of them another file name",
                display_path(other),
                display_path(path)
            )));
        }
        entries.insert(entry, (path, content));
    }
    let data: Map<String, Value> = entries
        .into_iter()
        .map(|(entry, (_, content))| {
            (
                entry,
                serde_json::to_value(ByteString(content)).unwrap_or_default(),
            )
        })
        .collect();
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": data,
    }))
}

/// The keys of `--decryption-key` files (age identity files or armored
/// PGP private keys, told apart by content; `-` reads standard input);
/// `None` when none was given.
///
/// # Errors
/// A file that cannot be read or holds no usable key (named, its content
/// never shown), as [`Error::Usage`].
pub fn decryption_keys(paths: &[PathBuf]) -> Result<Option<Keys>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut reader = Reader::default();
    let mut keys = Keys::new();
    for path in paths {
        let content = reader.read(path, "--decryption-key")?;
        let kind = KeyKind::of_content(&content);
        add_key(&mut keys, kind, "--decryption-key", path, &content)?;
    }
    Ok(Some(keys))
}

/// The ids (`Kind/namespace/name`) of the objects that are still
/// SOPS-encrypted: carrying `sops` metadata, or a Secret with a value that
/// is a SOPS document or an `ENC[...]` value. Objects annotated
/// `kustomize.toolkit.fluxcd.io/decrypt: disabled` are not counted: the
/// controller would not decrypt them either.
#[must_use]
pub fn still_encrypted(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter(|o| is_encrypted(o))
        .map(object_id)
        .collect()
}

/// Whether one object is still SOPS-encrypted, as [`still_encrypted`]
/// tells.
#[must_use]
pub fn is_encrypted(o: &Value) -> bool {
    if o.pointer("/metadata/annotations")
        .and_then(|a| a.get(DECRYPT_ANNOTATION))
        .and_then(Value::as_str)
        == Some("disabled")
    {
        return false;
    }
    if o.get("sops").and_then(|s| s.get("mac")).is_some() {
        return true;
    }
    if o["kind"] != "Secret" {
        return false;
    }
    let encrypted = |key: &str, value: &[u8]| {
        value.starts_with(b"ENC[AES256_GCM,")
            || ferroflux_sops::is_encrypted(value, Format::for_path(key))
    };
    let values = |field: &str| {
        o.get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect::<Vec<_>>()
    };
    values("data").into_iter().any(|(k, v)| {
        v.starts_with("ENC[AES256_GCM,")
            || serde_json::from_value::<ByteString>(Value::String(v))
                .is_ok_and(|bytes| encrypted(&k, &bytes.0))
    }) || values("stringData")
        .into_iter()
        .any(|(k, v)| encrypted(&k, v.as_bytes()))
}

/// `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object.
fn object_id(o: &Value) -> String {
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    match o["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The note `build` and `diff` print when objects stayed encrypted: how
/// many, which (the first five), and how to decrypt them.
#[must_use]
pub fn not_decrypted_note(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    let more = if ids.len() > shown.len() {
        format!(" and {} more", ids.len() - shown.len())
    } else {
        String::new()
    };
    let (objects, are) = if ids.len() == 1 {
        ("object is", "was")
    } else {
        ("objects are", "were")
    };
    format!(
        "{} {objects} SOPS-encrypted and {are} not decrypted ({}{more}); pass --decryption-key FILE (an age identity or PGP private key) to decrypt locally",
        ids.len(),
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests;
