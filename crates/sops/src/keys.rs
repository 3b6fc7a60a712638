//! The private keys a document's data key is recovered with: age X25519
//! identities and PGP secret keys, read as Flux's kustomize-controller
//! reads its decryption Secret (`*.agekey` entries are age identity files,
//! `*.asc` entries armored PGP private keys; other entries are ignored).

use std::fmt;
use std::io::Read as _;
use std::str::FromStr as _;

use pgp::composed::{Deserializable as _, Message, SignedSecretKey};
use pgp::types::Password;

use crate::error::{Error, Result};

/// The private keys available to decrypt documents.
#[derive(Default)]
pub struct Keys {
    age: Vec<age::x25519::Identity>,
    pgp: Vec<SignedSecretKey>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Keys {{ age: {}, pgp: {} }}",
            self.age.len(),
            self.pgp.len()
        )
    }
}

impl Keys {
    /// No keys.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a decryption Secret's entries: each `*.agekey` as an age
    /// identity file, each `*.asc` as armored PGP private keys; other
    /// entries (Flux's cloud credentials, `sops.vault-token`, ...) are
    /// ignored.
    ///
    /// # Errors
    /// An entry that does not hold the keys its name promises, named.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self> {
        let mut keys = Self::new();
        #[expect(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "Flux matches the suffixes exactly"
        )]
        for (name, value) in entries {
            if name.ends_with(".agekey") {
                keys.add_age(name, value)?;
            } else if name.ends_with(".asc") {
                keys.add_pgp(name, value)?;
            }
        }
        Ok(keys)
    }

    /// Adds the identities of an age identity file (`AGE-SECRET-KEY-1...`
    /// lines; `#` comments and blank lines skipped). `source` names it in
    /// errors.
    ///
    /// # Errors
    /// A line that is not an X25519 identity (plugin identities are not
    /// supported), or a file with none.
    pub fn add_age(&mut self, source: &str, text: &[u8]) -> Result<()> {
        let bad = |reason: &str| Error::BadKey {
            source_name: source.to_owned(),
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(text)
            .map_err(|_| bad("not UTF-8 text; expected an age identity file"))?;
        let mut found = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity = age::x25519::Identity::from_str(line).map_err(|e| {
                bad(&format!(
                    "line {}: not an age X25519 identity (AGE-SECRET-KEY-1...): {e}",
                    n + 1
                ))
            })?;
            self.age.push(identity);
            found += 1;
        }
        if found == 0 {
            return Err(bad("holds no age identity (AGE-SECRET-KEY-1... line)"));
        }
        Ok(())
    }

    /// Adds the secret keys of an armored PGP key block (`gpg
    /// --export-secret-keys --armor`). Keys must not be passphrase-protected.
    ///
    /// # Errors
    /// Text that is not an armored private key block, or holds no key.
    pub fn add_pgp(&mut self, source: &str, armored: &[u8]) -> Result<()> {
        let bad = |reason: String| Error::BadKey {
            source_name: source.to_owned(),
            reason,
        };
        let (iter, _) = SignedSecretKey::from_armor_many(armored)
            .map_err(|e| bad(format!("not an armored PGP private key block: {e}")))?;
        let mut found = 0;
        for key in iter {
            let key = key.map_err(|e| bad(format!("an PGP private key does not parse: {e}")))?;
            self.pgp.push(key);
            found += 1;
        }
        if found == 0 {
            return Err(bad("holds no PGP private key".to_owned()));
        }
        Ok(())
    }

    /// Whether no key was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }

    /// What the keys are, for errors: counts only.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} age identit{} and {} PGP key{}",
            self.age.len(),
            if self.age.len() == 1 { "y" } else { "ies" },
            self.pgp.len(),
            if self.pgp.len() == 1 { "" } else { "s" }
        )
    }

    /// Decrypts an age stanza (an armored age file holding the data key).
    pub(crate) fn age_decrypt(&self, armored: &str) -> Option<Vec<u8>> {
        if self.age.is_empty() {
            return None;
        }
        let reader = age::armor::ArmoredReader::new(armored.as_bytes());
        let decryptor = age::Decryptor::new(reader).ok()?;
        let mut stream = decryptor
            .decrypt(self.age.iter().map(|i| i as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).ok()?;
        Some(out)
    }

    /// Decrypts an PGP message holding the data key with the first
    /// secret key that can.
    pub(crate) fn pgp_decrypt(&self, armored: &str) -> Option<Vec<u8>> {
        for key in &self.pgp {
            let Ok((message, _)) = Message::from_string(armored) else {
                return None;
            };
            let Ok(mut message) = message.decrypt(&Password::empty(), key) else {
                continue;
            };
            if message.is_compressed() {
                let Ok(m) = message.decompress() else {
                    continue;
                };
                message = m;
            }
            if let Ok(data) = message.as_data_vec() {
                return Some(data);
            }
        }
        None
    }
}
