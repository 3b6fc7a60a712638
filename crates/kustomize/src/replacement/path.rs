//! Field paths: split as kustomize splits them, and looked up in an object.

use serde_json::Value;

use super::{describe, scalar_text};

/// Splits a field path at dots, as kustomize does: `\.` is a literal dot,
/// a leading dot is dropped, and a part opening a bracket runs to the part
/// closing it (`[name=a.b]` stays one part; `[a.b]`, without `=`, becomes
/// the key `a.b`).
pub(super) fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<&str> = path.split('.').collect();
    if raw.len() > 1 && raw[0].is_empty() {
        raw.remove(0);
    }
    let mut pieces: Vec<String> = Vec::with_capacity(raw.len());
    for piece in raw {
        match pieces.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => pieces.push(piece.to_owned()),
        }
    }
    let mut parts = Vec::with_capacity(pieces.len());
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        if !piece.starts_with('[') || piece.ends_with(']') {
            parts.push(piece);
            continue;
        }
        let mut joined = piece;
        for next in pieces.by_ref() {
            joined.push('.');
            joined.push_str(&next);
            if next.ends_with(']') {
                break;
            }
        }
        if joined.contains('=') {
            parts.push(joined);
        } else {
            parts.push(joined.trim_matches(['[', ']']).to_owned());
        }
    }
    parts
}

/// `[k=v]` as `(k, v)`; `None` for a part that is not bracketed, and
/// `Some(Err)` for a bracketed part without `=`.
pub(crate) fn bracketed(part: &str) -> Option<Result<(&str, &str), String>> {
    let inner = part.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split_once('=').ok_or_else(|| {
        format!("`{part}` must be [field=value] (or [=value] for a list of scalars)")
    }))
}

/// The elements of a list; none for null.
pub(super) fn elements<'v>(node: &'v Value, part: &str) -> Result<&'v [Value], String> {
    match node {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(format!("`{part}` needs a list, found {}", describe(other))),
    }
}

/// Reads a source field and its JSON pointer; `None` when the path reaches
/// nothing. Parts are trimmed and empty parts skipped, as kustomize's
/// source lookup does.
pub(super) fn lookup<'v>(
    obj: &'v Value,
    field_path: &str,
) -> Result<Option<(&'v Value, String)>, String> {
    let mut node = obj;
    let mut pointer = String::new();
    for part in split_path(field_path) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let index = if let Ok(index) = part.parse::<i64>() {
            let index = usize::try_from(index)
                .map_err(|_| format!("array index {index} cannot be negative"))?;
            (index < elements(node, part)?.len()).then_some(index)
        } else if part == "-" {
            elements(node, part)?.len().checked_sub(1)
        } else if let Some(pair) = bracketed(part) {
            let (key, value) = pair?;
            elements(node, part)?.iter().position(|element| {
                let field = if key.is_empty() {
                    Some(element)
                } else {
                    element.as_object().and_then(|m| m.get(key))
                };
                field.is_some_and(|f| scalar_text(f) == value)
            })
        } else if part == "*" {
            return Err("`*` works in target fieldPaths only; a source reads one field".into());
        } else {
            let found = match node {
                Value::Object(map) => map.get(part),
                Value::Null => None,
                other => {
                    return Err(format!(
                        "`{part}` needs a mapping, found {}",
                        describe(other)
                    ));
                }
            };
            let Some(found) = found else {
                return Ok(None);
            };
            node = found;
            push_token(&mut pointer, part);
            continue;
        };
        let Some(index) = index else {
            return Ok(None);
        };
        // `index` came from `elements(node)`, so `node` is a list holding it.
        let Some(found) = node.get(index) else {
            return Ok(None);
        };
        node = found;
        push_token(&mut pointer, &index.to_string());
    }
    Ok(Some((node, pointer)))
}

/// Appends one JSON pointer token, escaped.
pub(super) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// One part of a target field path.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A mapping key.
    Field(String),
    /// A list index (a non-negative decimal number).
    Index(usize),
    /// `*`: every element of a list.
    Every,
    /// `[key=pattern]`, or `[=pattern]` with an empty key.
    Element { key: String, pattern: String },
    /// A bracketed part without `=`: an error once reached.
    Malformed(String),
}

impl Step {
    pub(super) fn parse(part: String) -> Self {
        // Go's Atoi: an optional sign and decimal digits. A negative number
        // is not an index, so it names a mapping key.
        if let Some(index) = part
            .parse::<i64>()
            .ok()
            .and_then(|i| usize::try_from(i).ok())
        {
            return Self::Index(index);
        }
        let element = bracketed(&part).map(|r| r.map(|(k, p)| (k.to_owned(), p.to_owned())));
        match element {
            Some(Ok((key, pattern))) => Self::Element { key, pattern },
            Some(Err(_)) => Self::Malformed(part),
            None if part == "*" => Self::Every,
            None => Self::Field(part),
        }
    }
}
