//! SOPS documents decrypted as the `sops` CLI (v3) decrypts them, for Flux's
//! `spec.decryption` in the kustomize-controller and the CLI.
//!
//! A SOPS document keeps its keys in clear and encrypts each value on its own
//! with AES-256-GCM under a 32-byte data key, the value's key path as
//! additional data; a MAC (SHA-512 over the plaintext values in order,
//! encrypted under the data key with `lastmodified` as additional data)
//! covers the whole. The data key is stored once per master key: this crate
//! recovers it from age identities and PGP private keys ([`Keys`]); cloud
//! KMS, Azure Key Vault and Vault keys are refused by name, as are
//! Shamir key groups.
//!
//! [`decrypt`] reads a document in one of the five [`Format`]s (YAML, JSON,
//! dotenv, INI, binary), recovers the data key, decrypts every value the
//! document's rules (`encrypted_regex`, `unencrypted_suffix`, ...) say is
//! encrypted and checks the MAC before returning anything; [`decrypt_file`]
//! writes the result back in the same format, as `sops -d` prints it.
//!
//! # Guarantees
//! No [`Error`] carries plaintext: errors name the document and the key path,
//! never a value. [`Document`] and [`Keys`] print redacted with `{:?}`.

mod cipher;
mod error;
pub mod format;
mod keys;
mod metadata;
mod tree;
mod walk;

pub use error::{Error, Result, ValueError};
pub use format::Format;
pub use keys::Keys;
pub use tree::{Document, Item, Value};

/// The largest document [`decrypt`] reads, as Flux's kustomize-controller
/// caps each encrypted file (5 MiB).
pub const MAX_FILE_SIZE: usize = 5 << 20;

/// Whether `data` looks like a SOPS document in `format`: it carries SOPS
/// metadata with a MAC. A cheap check on the text, for deciding whether to
/// decrypt at all; [`decrypt`] is the real parse.
#[must_use]
pub fn is_encrypted(data: &[u8], format: Format) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match format {
        Format::Yaml => {
            text.lines()
                .any(|l| l == "sops:" || l.starts_with("sops: "))
                && text.contains("mac: ENC[AES256_GCM")
        }
        Format::Json | Format::Binary => {
            text.contains("\"sops\"") && text.contains("ENC[AES256_GCM")
        }
        Format::Dotenv => text
            .lines()
            .any(|l| l.starts_with("sops_mac=ENC[AES256_GCM")),
        Format::Ini => {
            text.lines().any(|l| l.trim() == "[sops]") && text.contains("ENC[AES256_GCM")
        }
    }
}

/// Decrypts the SOPS document `data` in `format` with `keys`. `name` (a file
/// name or an object's key) is what errors call the document.
///
/// # Errors
/// A document over [`MAX_FILE_SIZE`], one that does not parse or has no SOPS
/// metadata, a data key none of `keys` recovers (or only an unsupported
/// master key could), a value that does not decrypt or is of an unknown type,
/// and a MAC that does not match ([`Error::MacMismatch`]): nothing is returned
/// then.
pub fn decrypt(name: &str, data: &[u8], format: Format, keys: &Keys) -> Result<Document> {
    if data.len() > MAX_FILE_SIZE {
        return Err(Error::TooLarge {
            name: name.to_owned(),
            size: data.len(),
            limit: MAX_FILE_SIZE,
        });
    }
    let (mut document, raw_metadata) = format::parse(name, data, format)?;
    let metadata = metadata::Metadata::from_json(name, &raw_metadata)?;
    let data_key = metadata.data_key(name, keys)?;
    walk::decrypt_and_verify(name, &mut document, &metadata, &data_key)?;
    Ok(document)
}

/// Decrypts `data` as [`decrypt`] does and writes the plaintext in the same
/// format, as `sops -d` prints it (JSON, dotenv, INI and binary byte for
/// byte; YAML with the same values and comments).
///
/// # Errors
/// As [`decrypt`], and a document the format cannot hold (a nested value in
/// a dotenv file).
pub fn decrypt_file(name: &str, data: &[u8], format: Format, keys: &Keys) -> Result<Vec<u8>> {
    let document = decrypt(name, data, format, keys)?;
    format::emit(name, &document, format)
}
