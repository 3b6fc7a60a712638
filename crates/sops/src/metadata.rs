//! The `sops` metadata of a document: the master keys holding the data key,
//! `lastmodified` and the encrypted MAC, and the rules saying which values
//! are encrypted. Read from JSON whatever the format (dotenv and INI
//! metadata arrive unflattened, all strings).

use regex::Regex;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::keys::Keys;

/// The metadata of one document.
pub(crate) struct Metadata {
    pub(crate) last_modified: String,
    pub(crate) mac: String,
    pub(crate) rules: Rules,
    groups: Vec<Group>,
}

/// Which values are encrypted: at most one of the suffix and regex rules
/// (the default is `unencrypted_suffix: _unencrypted`), plus the comment
/// rules and `mac_only_encrypted`.
pub(crate) struct Rules {
    pub(crate) unencrypted_suffix: Option<String>,
    pub(crate) encrypted_suffix: Option<String>,
    pub(crate) unencrypted_regex: Option<Regex>,
    pub(crate) encrypted_regex: Option<Regex>,
    pub(crate) unencrypted_comment_regex: Option<Regex>,
    pub(crate) encrypted_comment_regex: Option<Regex>,
    pub(crate) mac_only_encrypted: bool,
}

/// One key group's master keys.
#[derive(Default)]
struct Group {
    age: Vec<(String, String)>,
    pgp: Vec<(String, String)>,
    /// Master keys of kinds not supported here, by their metadata field.
    other: Vec<&'static str>,
}

const UNSUPPORTED: [(&str, &str); 4] = [
    ("kms", "AWS KMS (kms)"),
    ("gcp_kms", "GCP KMS (gcp_kms)"),
    ("azure_kv", "Azure Key Vault (azure_kv)"),
    ("hc_vault", "HashiCorp Vault (hc_vault)"),
];

fn string_field(m: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn list<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> &'a [Value] {
    match m.get(key) {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

impl Group {
    fn read(m: &serde_json::Map<String, Value>) -> Self {
        let pairs = |key: &str, id: &str| -> Vec<(String, String)> {
            list(m, key)
                .iter()
                .filter_map(|v| {
                    let o = v.as_object()?;
                    Some((
                        string_field(o, id).unwrap_or_default(),
                        string_field(o, "enc")?,
                    ))
                })
                .collect()
        };
        Self {
            age: pairs("age", "recipient"),
            pgp: pairs("pgp", "fp"),
            other: UNSUPPORTED
                .iter()
                .filter(|(key, _)| !list(m, key).is_empty())
                .map(|(_, name)| *name)
                .collect(),
        }
    }
}

impl Metadata {
    /// Reads the `sops` entry (as JSON).
    pub(crate) fn from_json(name: &str, raw: &Value) -> Result<Self> {
        let bad = |message: String| Error::Metadata {
            name: name.to_owned(),
            message,
        };
        let m = raw.as_object().ok_or_else(|| Error::NotEncrypted {
            name: name.to_owned(),
        })?;
        let mac = string_field(m, "mac").ok_or_else(|| Error::NotEncrypted {
            name: name.to_owned(),
        })?;
        let last_modified =
            string_field(m, "lastmodified").ok_or_else(|| bad("no `lastmodified`".to_owned()))?;
        let regex = |key: &str| -> Result<Option<Regex>> {
            string_field(m, key)
                .map(|r| {
                    Regex::new(&r)
                        .map_err(|e| bad(format!("`{key}` is not a valid regular expression: {e}")))
                })
                .transpose()
        };
        let mut rules = Rules {
            unencrypted_suffix: string_field(m, "unencrypted_suffix"),
            encrypted_suffix: string_field(m, "encrypted_suffix"),
            unencrypted_regex: regex("unencrypted_regex")?,
            encrypted_regex: regex("encrypted_regex")?,
            unencrypted_comment_regex: regex("unencrypted_comment_regex")?,
            encrypted_comment_regex: regex("encrypted_comment_regex")?,
            mac_only_encrypted: match m.get("mac_only_encrypted") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
        };
        let count = [
            rules.unencrypted_suffix.is_some(),
            rules.encrypted_suffix.is_some(),
            rules.unencrypted_regex.is_some(),
            rules.encrypted_regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count > 1 {
            return Err(bad(
                "more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex and unencrypted_regex"
                    .to_owned(),
            ));
        }
        if count == 0 {
            rules.unencrypted_suffix = Some("_unencrypted".to_owned());
        }
        let top = Group::read(m);
        let groups = if !top.age.is_empty() || !top.pgp.is_empty() || !top.other.is_empty() {
            vec![top]
        } else {
            list(m, "key_groups")
                .iter()
                .filter_map(Value::as_object)
                .map(Group::read)
                .collect()
        };
        if groups.is_empty() {
            return Err(bad(
                "no master keys (age, pgp, kms, ...) hold the data key".to_owned()
            ));
        }
        Ok(Self {
            last_modified,
            mac,
            rules,
            groups,
        })
    }

    /// The additional data the MAC was encrypted with: `lastmodified` as Go's
    /// formats a parsed RFC 3339 time (fractional seconds dropped).
    pub(crate) fn mac_aad(&self) -> String {
        let s = &self.last_modified;
        match (s.find('.'), s.find('T')) {
            (Some(dot), Some(t)) if dot > t => {
                let end = s[dot + 1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(s.len(), |i| dot + 1 + i);
                format!("{}{}", &s[..dot], &s[end..])
            }
            _ => s.clone(),
        }
    }

    /// Recovers the 32-byte data key, trying age keys before PGP ones
    /// (sops's default order).
    pub(crate) fn data_key(&self, name: &str, keys: &Keys) -> Result<[u8; 32]> {
        if self.groups.len() > 1 {
            return Err(Error::Unsupported {
                name: name.to_owned(),
                what: format!(
                    "{} key groups combined with Shamir secret sharing",
                    self.groups.len()
                ),
            });
        }
        let Some(group) = self.groups.first() else {
            return Err(Error::Metadata {
                name: name.to_owned(),
                message: "no key group".to_owned(),
            });
        };
        let recovered = group
            .age
            .iter()
            .find_map(|(_, enc)| keys.age_decrypt(enc))
            .or_else(|| group.pgp.iter().find_map(|(_, enc)| keys.pgp_decrypt(enc)));
        if let Some(key) = recovered {
            return key.try_into().map_err(|_| Error::Metadata {
                name: name.to_owned(),
                message: "the recovered data key is not 32 bytes".to_owned(),
            });
        }
        if group.age.is_empty() && group.pgp.is_empty() {
            return Err(Error::Unsupported {
                name: name.to_owned(),
                what: group.other.join(", "),
            });
        }
        let mut recipients: Vec<String> =
            group.age.iter().map(|(r, _)| format!("age {r}")).collect();
        recipients.extend(group.pgp.iter().map(|(fp, _)| format!("PGP {fp}")));
        recipients.extend(group.other.iter().map(|o| format!("{o} (not supported)")));
        Err(Error::NoKey {
            name: name.to_owned(),
            given: keys.describe(),
            recipients: recipients.join(", "),
        })
    }
}
