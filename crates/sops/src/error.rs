//! The errors of decrypting a SOPS document. None carries plaintext: they
//! name the document, the key path and what to do.

/// What went wrong decrypting one SOPS document.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is larger than the cap.
    #[error("{name}: {size} bytes is over the {limit}-byte limit for an encrypted file")]
    TooLarge {
        /// The document.
        name: String,
        /// Its size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// The document does not parse in its format.
    #[error("{name}: not a valid {format} document: {message}")]
    Parse {
        /// The document.
        name: String,
        /// The format it was read as.
        format: &'static str,
        /// What is wrong (never a value).
        message: String,
    },
    /// The document has no SOPS metadata.
    #[error(
        "{name}: no SOPS metadata (a top-level `sops` entry with a MAC); is the file encrypted with sops?"
    )]
    NotEncrypted {
        /// The document.
        name: String,
    },
    /// The SOPS metadata is malformed.
    #[error("{name}: invalid SOPS metadata: {message}")]
    Metadata {
        /// The document.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Only master keys this implementation cannot use could decrypt the
    /// document.
    #[error(
        "{name}: encrypted only for {what}, which is not supported (only age and OpenPGP keys are); re-encrypt it for an age recipient or a PGP key"
    )]
    Unsupported {
        /// The document.
        name: String,
        /// The unsupported key types or features.
        what: String,
    },
    /// No given key recovers the data key.
    #[error(
        "{name}: none of the {given} given decrypts the data key (the file is encrypted for {recipients}); add the matching private key to the decryption Secret"
    )]
    NoKey {
        /// The document.
        name: String,
        /// What keys were given (counts, never the keys).
        given: String,
        /// The document's recipients (age public keys, PGP fingerprints,
        /// other key types).
        recipients: String,
    },
    /// A key in the decryption Secret is unusable.
    #[error("{source_name}: {reason}")]
    BadKey {
        /// The Secret entry the key came from.
        source_name: String,
        /// Why it is unusable (never key material).
        reason: String,
    },
    /// A value did not decrypt.
    #[error("{name}: the value at `{path}` does not decrypt: {reason}")]
    Value {
        /// The document.
        name: String,
        /// The key path, `:`-joined as sops writes it.
        path: String,
        /// Why.
        reason: ValueError,
    },
    /// The MAC does not match the decrypted values: the document was
    /// tampered with or edited without sops.
    #[error(
        "{name}: MAC mismatch: the file was modified after it was encrypted (or edited without sops); re-encrypt it with sops"
    )]
    MacMismatch {
        /// The document.
        name: String,
    },
    /// The decrypted document cannot be written in the output format.
    #[error("{name}: cannot write the decrypted document as {format}: {message}")]
    Emit {
        /// The document.
        name: String,
        /// The output format.
        format: &'static str,
        /// Why (never a value).
        message: String,
    },
}

/// Why one `ENC[...]` value did not decrypt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text is not `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`.
    #[error(
        "not in sops' ENC[AES256_GCM,...] format (a value sops should have encrypted is in clear or mangled)"
    )]
    Format,
    /// A field is not valid base64.
    #[error("its {0} is not valid base64")]
    Base64(&'static str),
    /// The nonce is not sops's 32 bytes.
    #[error("its iv is {0} bytes, not 32")]
    Nonce(usize),
    /// AES-GCM authentication failed: wrong data key, tampered value, or the
    /// value was moved to another key path.
    #[error(
        "AES-GCM authentication failed (the value was tampered with, moved, or encrypted with another data key)"
    )]
    Auth,
    /// The decrypted bytes are not of the declared type.
    #[error("the decrypted value is not a valid {0}")]
    Type(&'static str),
    /// The declared type is unknown.
    #[error("unknown value type `{0}`")]
    UnknownType(String),
    /// A non-string value where an encrypted one was expected.
    #[error("a {0} in clear where sops expects an encrypted value")]
    NotEncrypted(&'static str),
}

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
