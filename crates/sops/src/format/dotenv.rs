//! dotenv documents as sops's dotenv store reads and writes them: `KEY=value`
//! lines (`\n` escapes newlines), `#` comments, metadata as `sops_*` keys.

use crate::tree::{Document, Item, Value};

pub(super) fn parse(text: &str) -> Result<(Document, Option<serde_json::Value>), String> {
    let mut branch = Vec::new();
    let mut metadata = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            branch.push(Item::Comment(comment.to_owned()));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {}: neither `KEY=value` nor a `#` comment",
                n + 1
            ));
        };
        let value = value.replace("\\n", "\n");
        if let Some(meta) = key.strip_prefix("sops_") {
            metadata.push((meta.to_owned(), value));
        } else {
            branch.push(Item::Pair(key.to_owned(), Value::String(value)));
        }
    }
    let metadata = (!metadata.is_empty()).then(|| super::unflatten(metadata));
    Ok((
        Document {
            branches: vec![branch],
        },
        metadata,
    ))
}

pub(super) fn emit(document: &Document) -> Result<String, String> {
    let mut out = String::new();
    for item in document.branches.first().map_or(&[][..], Vec::as_slice) {
        match item {
            Item::Comment(c) => {
                out.push('#');
                out.push_str(c);
            }
            Item::Pair(k, v) => {
                out.push_str(k);
                out.push('=');
                out.push_str(
                    &super::json::scalar_text(v)
                        .ok_or_else(|| {
                            format!("`{k}` holds a nested value, which a dotenv file cannot")
                        })?
                        .replace('\n', "\\n"),
                );
            }
        }
        out.push('\n');
    }
    Ok(out)
}
