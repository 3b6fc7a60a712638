//! The decryption walk over a document, as sops's `Tree.Decrypt`: every
//! value the rules say is encrypted is decrypted with its key path as
//! additional data, the plaintext values (comments and nulls excluded) are
//! hashed in order, and the hash is compared with the stored MAC before the
//! caller sees anything.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha512};

use crate::cipher::{self, Plain};
use crate::error::{Error, Result, ValueError};
use crate::metadata::{Metadata, Rules};
use crate::tree::{Document, Item, Value};

/// Sops seeds the MAC with these bytes (SHA-256 of `sops`) when
/// `mac_only_encrypted` is set, so the two kinds of MAC never coincide.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

struct Walker<'a> {
    name: &'a str,
    rules: &'a Rules,
    key: &'a [u8; 32],
    hash: Sha512,
    path: Vec<String>,
    /// The comments seen since the last value, one list per open level.
    comments: Vec<Vec<String>>,
}

/// Decrypts `document` in place and checks its MAC; on any error the
/// document is left partly decrypted and must be dropped (callers only get
/// it back on success).
pub(crate) fn decrypt_and_verify(
    name: &str,
    document: &mut Document,
    metadata: &Metadata,
    key: &[u8; 32],
) -> Result<()> {
    let mut walker = Walker {
        name,
        rules: &metadata.rules,
        key,
        hash: Sha512::new(),
        path: Vec::new(),
        comments: Vec::new(),
    };
    if metadata.rules.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for branch in &mut document.branches {
        walker.branch(branch)?;
    }
    let mut computed = String::with_capacity(128);
    for b in walker.hash.finalize() {
        let _ = write!(computed, "{b:02X}");
    }
    let stored = match cipher::decrypt(&metadata.mac, key, &metadata.mac_aad()) {
        Ok(Plain::Str(s)) => s,
        Ok(_) => {
            return Err(Error::Value {
                name: name.to_owned(),
                path: "sops:mac".to_owned(),
                reason: ValueError::Type("string"),
            });
        }
        Err(reason) => {
            return Err(Error::Value {
                name: name.to_owned(),
                path: "sops:mac".to_owned(),
                reason,
            });
        }
    };
    if stored != computed {
        return Err(Error::MacMismatch {
            name: name.to_owned(),
        });
    }
    Ok(())
}

impl Walker<'_> {
    fn branch(&mut self, items: &mut [Item]) -> Result<()> {
        self.comments.push(Vec::new());
        for item in items {
            match item {
                Item::Comment(c) => {
                    self.top().push(c.clone());
                    *c = self.comment(c);
                }
                Item::Pair(k, v) => {
                    self.path.push(k.clone());
                    let r = self.value(v);
                    self.path.pop();
                    r?;
                    self.top().clear();
                }
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn list(&mut self, values: &mut [Value]) -> Result<()> {
        self.comments.push(Vec::new());
        for v in values {
            if let Value::Comment(c) = v {
                self.top().push(c.clone());
                *c = self.comment(c);
            } else {
                self.value(v)?;
                self.top().clear();
            }
        }
        self.comments.pop();
        Ok(())
    }

    fn top(&mut self) -> &mut Vec<String> {
        if self.comments.is_empty() {
            self.comments.push(Vec::new());
        }
        let last = self.comments.len() - 1;
        &mut self.comments[last]
    }

    fn aad(path: &[String]) -> String {
        let mut s = path.join(":");
        s.push(':');
        s
    }

    /// A comment: decrypted when the rules say so and it decrypts; left as
    /// it is otherwise (sops assumes a comment that does not decrypt was
    /// never encrypted). Comments are not in the MAC. The path a comment was
    /// encrypted under is that of the level holding it in sops's tree; where
    /// a comment sits at the edge of two levels, each enclosing path is tried.
    fn comment(&self, c: &str) -> String {
        if !self.should_be_encrypted(true) || !c.starts_with("ENC[") {
            return c.to_owned();
        }
        for end in (0..=self.path.len()).rev() {
            if let Ok(Plain::Comment(text)) =
                cipher::decrypt(c, self.key, &Self::aad(&self.path[..end]))
            {
                return text;
            }
        }
        c.to_owned()
    }

    fn value(&mut self, v: &mut Value) -> Result<()> {
        match v {
            Value::Map(items) => return self.branch(items),
            Value::List(values) => return self.list(values),
            Value::Null | Value::Comment(_) => return Ok(()),
            _ => {}
        }
        let encrypted = self.should_be_encrypted(false);
        if encrypted {
            let Value::String(text) = v else {
                return Err(self.error(ValueError::NotEncrypted(kind(v))));
            };
            let plain = cipher::decrypt(text, self.key, &Self::aad(&self.path))
                .map_err(|e| self.error(e))?;
            *v = match plain {
                Plain::Str(s) | Plain::Comment(s) => Value::String(s),
                Plain::Int(i) => Value::Int(i),
                Plain::Float(f) => Value::Float(f),
                Plain::Bool(b) => Value::Bool(b),
                Plain::Bytes(b) => Value::Bytes(b),
            };
        }
        if !self.rules.mac_only_encrypted || encrypted {
            match v {
                Value::String(s) => self.hash.update(s.as_bytes()),
                Value::Bytes(b) => self.hash.update(b),
                Value::Int(i) => self.hash.update(i.to_string().as_bytes()),
                Value::Float(f) => self.hash.update(cipher::format_float_f(*f).as_bytes()),
                Value::Bool(b) => self.hash.update(if *b {
                    b"True".as_slice()
                } else {
                    b"False".as_slice()
                }),
                Value::Null | Value::Map(_) | Value::List(_) | Value::Comment(_) => {}
            }
        }
        Ok(())
    }

    fn error(&self, reason: ValueError) -> Error {
        Error::Value {
            name: self.name.to_owned(),
            path: self.path.join(":"),
            reason,
        }
    }

    /// sops's `shouldBeEncrypted`, rule for rule.
    fn should_be_encrypted(&self, is_comment: bool) -> bool {
        let r = self.rules;
        let path = &self.path;
        let mut encrypted = true;
        if let Some(suffix) = &r.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &r.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &r.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &r.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        if let Some(re) = &r.unencrypted_comment_regex
            && self.comments.iter().flatten().any(|c| re.is_match(c))
        {
            encrypted = false;
        }
        if let Some(re) = &r.encrypted_comment_regex {
            let levels = self.comments.len();
            encrypted = self.comments.iter().enumerate().any(|(i, cs)| {
                cs.iter().enumerate().any(|(j, c)| {
                    // The comment being decided is not matched against itself.
                    let itself = is_comment && i + 1 == levels && j + 1 == cs.len();
                    !itself && re.is_match(c)
                })
            });
        }
        encrypted
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Bytes(_) => "byte string",
        _ => "value",
    }
}
