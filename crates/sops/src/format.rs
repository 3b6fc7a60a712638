//! The five formats sops stores documents in: how each is read into a
//! [`Document`] plus its raw `sops` metadata, and written back in clear as
//! `sops -d` prints it.

mod dotenv;
mod ini;
mod json;
mod yaml;

use std::path::Path;

use crate::error::{Error, Result};
use crate::tree::{Document, Item, Value};

/// A SOPS document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`), one branch per document, comments kept.
    Yaml,
    /// JSON (`.json`).
    Json,
    /// dotenv (`.env`): `KEY=value` lines and `#` comments.
    Dotenv,
    /// INI (`.ini`): sections of `key = value`, `;` comments.
    Ini,
    /// Any other file: the whole content is one encrypted `data` value in a
    /// JSON document.
    Binary,
}

impl Format {
    /// The format sops and Flux infer from a file name or a Secret key: by
    /// extension, binary when none matches.
    #[must_use]
    pub fn for_path(path: &str) -> Self {
        match Path::new(path).extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Self::Yaml,
            Some("json") => Self::Json,
            Some("env") => Self::Dotenv,
            Some("ini") => Self::Ini,
            _ => Self::Binary,
        }
    }

    /// The format's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Yaml => "YAML",
            Self::Json => "JSON",
            Self::Dotenv => "dotenv",
            Self::Ini => "INI",
            Self::Binary => "binary (JSON-wrapped)",
        }
    }
}

/// Reads `data` into the document (without metadata) and the raw metadata.
pub(crate) fn parse(
    name: &str,
    data: &[u8],
    format: Format,
) -> Result<(Document, serde_json::Value)> {
    let parse_error = |message: String| Error::Parse {
        name: name.to_owned(),
        format: format.name(),
        message,
    };
    let text = std::str::from_utf8(data)
        .map_err(|e| parse_error(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let (document, metadata) = match format {
        Format::Yaml => yaml::parse(text).map_err(parse_error)?,
        Format::Json | Format::Binary => json::parse(text).map_err(parse_error)?,
        Format::Dotenv => dotenv::parse(text).map_err(parse_error)?,
        Format::Ini => ini::parse(text).map_err(parse_error)?,
    };
    let metadata = metadata.ok_or_else(|| Error::NotEncrypted {
        name: name.to_owned(),
    })?;
    Ok((document, metadata))
}

/// Writes a decrypted document in `format`.
pub(crate) fn emit(name: &str, document: &Document, format: Format) -> Result<Vec<u8>> {
    let emit_error = |message: String| Error::Emit {
        name: name.to_owned(),
        format: format.name(),
        message,
    };
    match format {
        Format::Yaml => Ok(yaml::emit(document).into_bytes()),
        Format::Json => Ok(json::emit(document).into_bytes()),
        Format::Dotenv => dotenv::emit(document)
            .map(String::into_bytes)
            .map_err(emit_error),
        Format::Ini => ini::emit(document)
            .map(String::into_bytes)
            .map_err(emit_error),
        Format::Binary => {
            let data = document.branches.first().and_then(|b| {
                b.iter().find_map(|item| match item {
                    Item::Pair(k, v) if k == "data" => Some(v),
                    _ => None,
                })
            });
            match data {
                Some(Value::String(s)) => Ok(s.clone().into_bytes()),
                Some(Value::Bytes(b)) => Ok(b.clone()),
                _ => Err(emit_error(
                    "a binary document has no string `data` entry".to_owned(),
                )),
            }
        }
    }
}

/// Takes the top-level `sops` entry out of a branch, as JSON.
fn take_metadata(branch: &mut Vec<Item>) -> Option<serde_json::Value> {
    let at = branch
        .iter()
        .position(|item| matches!(item, Item::Pair(k, _) if k == "sops"))?;
    match branch.remove(at) {
        Item::Pair(_, v) => Some(v.to_json()),
        Item::Comment(_) => None,
    }
}

/// Rebuilds flattened metadata (`age__list_0__map_enc`, as the dotenv and
/// INI stores write it) into its JSON shape; values stay strings.
fn unflatten(items: Vec<(String, String)>) -> serde_json::Value {
    use serde_json::Value as J;
    let mut root = J::Object(serde_json::Map::new());
    for (key, value) in items {
        let mut node = &mut root;
        let mut parts = key.split("__").peekable();
        while let Some(part) = parts.next() {
            let last = parts.peek().is_none();
            let next_is_list = parts.peek().is_some_and(|p| p.starts_with("list_"));
            let fresh = || {
                if next_is_list {
                    J::Array(Vec::new())
                } else {
                    J::Object(serde_json::Map::new())
                }
            };
            let leaf = || J::String(value.clone());
            node = if let Some(index) = part
                .strip_prefix("list_")
                .and_then(|i| i.parse::<usize>().ok())
            {
                let J::Array(elements) = node else { break };
                while elements.len() <= index {
                    elements.push(J::Null);
                }
                let slot = &mut elements[index];
                if last {
                    *slot = leaf();
                } else if slot.is_null() {
                    *slot = fresh();
                }
                slot
            } else {
                let field = part.strip_prefix("map_").unwrap_or(part);
                let J::Object(map) = node else { break };
                let slot = map
                    .entry(field.to_owned())
                    .or_insert_with(|| if last { leaf() } else { fresh() });
                if last {
                    *slot = leaf();
                }
                slot
            };
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_metadata_is_rebuilt() {
        let m = unflatten(vec![
            ("age__list_0__map_recipient".into(), "r".into()),
            ("age__list_0__map_enc".into(), "e".into()),
            ("mac".into(), "m".into()),
        ]);
        assert_eq!(
            m,
            serde_json::json!({"age": [{"recipient": "r", "enc": "e"}], "mac": "m"})
        );
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(Format::for_path("a/b.yml"), Format::Yaml);
        assert_eq!(Format::for_path("x.env"), Format::Dotenv);
        assert_eq!(Format::for_path("x.ini"), Format::Ini);
        assert_eq!(Format::for_path("x.json"), Format::Json);
        assert_eq!(Format::for_path("key.pem"), Format::Binary);
    }
}
