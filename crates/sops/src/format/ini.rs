//! INI documents as sops's INI store reads and writes them: `[section]`s of
//! `key = value` (every value a string), `;` or `#` comments, metadata in a
//! `[sops]` section with flattened keys.

use crate::tree::{Document, Item, Value};

pub(super) fn parse(text: &str) -> Result<(Document, Option<serde_json::Value>), String> {
    let mut top: Vec<Item> = Vec::new();
    let mut pending: Vec<Item> = Vec::new();
    let mut current: Option<(String, Vec<Item>)> = None;
    let mut metadata = Vec::new();
    let mut in_sops = false;
    let finish = |top: &mut Vec<Item>, current: &mut Option<(String, Vec<Item>)>| {
        if let Some((name, items)) = current.take() {
            top.push(Item::Pair(name, Value::Map(items)));
        }
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix(';').or_else(|| line.strip_prefix('#')) {
            pending.push(Item::Comment(c.trim_start().to_owned()));
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(&mut top, &mut current);
            in_sops = name == "sops";
            if in_sops {
                pending.clear();
            } else {
                // Comments above a section header are the section's own.
                current = Some((name.to_owned(), std::mem::take(&mut pending)));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {}: neither `key = value`, a `[section]` nor a comment",
                n + 1
            ));
        };
        let key = key.trim().to_owned();
        let mut value = value.trim();
        for q in ['"', '\''] {
            if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
                value = &value[1..value.len() - 1];
            }
        }
        let value = value.replace("\\n", "\n");
        if in_sops {
            metadata.push((key, value));
            continue;
        }
        let (_, items) = current.get_or_insert_with(|| ("DEFAULT".to_owned(), Vec::new()));
        items.append(&mut pending);
        items.push(Item::Pair(key, Value::String(value)));
    }
    finish(&mut top, &mut current);
    top.append(&mut pending);
    let metadata = (!metadata.is_empty()).then(|| super::unflatten(metadata));
    Ok((
        Document {
            branches: vec![top],
        },
        metadata,
    ))
}

pub(super) fn emit(document: &Document) -> Result<String, String> {
    let mut out = String::new();
    let mut first = true;
    for item in document.branches.first().map_or(&[][..], Vec::as_slice) {
        match item {
            Item::Comment(c) => {
                out.push_str("; ");
                out.push_str(c);
                out.push('\n');
            }
            Item::Pair(section, Value::Map(items)) => {
                if !first {
                    out.push('\n');
                }
                first = false;
                let lead = items
                    .iter()
                    .take_while(|i| matches!(i, Item::Comment(_)))
                    .count();
                for item in &items[..lead] {
                    if let Item::Comment(c) = item {
                        out.push_str("; ");
                        out.push_str(c);
                        out.push('\n');
                    }
                }
                if section != "DEFAULT" {
                    out.push('[');
                    out.push_str(section);
                    out.push_str("]\n");
                }
                // go-ini lines the `=` up across a section's keys.
                let width = items[lead..]
                    .iter()
                    .filter_map(|i| match i {
                        Item::Pair(k, _) => Some(k.chars().count()),
                        Item::Comment(_) => None,
                    })
                    .max()
                    .unwrap_or(0);
                for item in &items[lead..] {
                    match item {
                        Item::Comment(c) => {
                            out.push_str("; ");
                            out.push_str(c);
                        }
                        Item::Pair(k, v) => {
                            let text = super::json::scalar_text(v).ok_or_else(|| {
                                format!("`{section}.{k}` holds a nested value, which INI cannot")
                            })?;
                            out.push_str(k);
                            out.extend(std::iter::repeat_n(' ', width - k.chars().count()));
                            out.push_str(" = ");
                            out.push_str(&text.replace('\n', "\\n"));
                        }
                    }
                    out.push('\n');
                }
            }
            Item::Pair(k, _) => return Err(format!("`{k}` is a value outside any section")),
        }
    }
    Ok(out)
}
