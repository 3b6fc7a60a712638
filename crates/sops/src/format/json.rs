//! JSON documents as sops's JSON store reads and writes them: key order
//! kept, every number a float (as Go's `encoding/json` decodes it), output
//! indented with tabs as `sops -d` prints it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::cipher::format_float_f;
use crate::tree::{Document, Item, Value};

/// A JSON value read in document order.
struct Ordered(Value);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered(Value::Null))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
        Ok(Ordered(Value::Bool(b)))
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "Go's encoding/json reads every number as a float64, as sops does"
    )]
    fn visit_i64<E>(self, i: i64) -> Result<Ordered, E> {
        Ok(Ordered(Value::Float(i as f64)))
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "Go's encoding/json reads every number as a float64, as sops does"
    )]
    fn visit_u64<E>(self, i: u64) -> Result<Ordered, E> {
        Ok(Ordered(Value::Float(i as f64)))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Ordered, E> {
        Ok(Ordered(Value::Float(f)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
        Ok(Ordered(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Ordered, E> {
        Ok(Ordered(Value::String(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut out = Vec::new();
        while let Some(Ordered(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Ordered(Value::List(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut out = Vec::new();
        while let Some((k, Ordered(v))) = map.next_entry::<String, Ordered>()? {
            out.push(Item::Pair(k, v));
        }
        Ok(Ordered(Value::Map(out)))
    }
}

pub(super) fn parse(text: &str) -> Result<(Document, Option<serde_json::Value>), String> {
    // serde_json's messages name the line and column, never the text.
    let Ordered(value) =
        serde_json::from_str(text).map_err(|e: serde_json::Error| e.to_string())?;
    let Value::Map(mut items) = value else {
        return Err("the document is not a JSON object".to_owned());
    };
    let metadata = super::take_metadata(&mut items);
    Ok((
        Document {
            branches: vec![items],
        },
        metadata,
    ))
}

/// A scalar as text (dotenv and INI values); `None` for maps and lists.
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float_f(*f),
        Value::String(s) | Value::Comment(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Map(_) | Value::List(_) => return None,
    })
}

/// Go's `encoding/json` float: `'f'` form within [1e-6, 1e21), exponent
/// form (`1e+21`, `1e-7`) outside.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) || !f.is_finite() {
        return format_float_f(f);
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => s,
    }
}

fn write_value(out: &mut String, v: &Value, depth: usize) {
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n('\t', d));
    match v {
        Value::Map(items) => {
            let pairs: Vec<_> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Pair(k, v) => Some((k, v)),
                    Item::Comment(_) => None,
                })
                .collect();
            if pairs.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (n, (k, v)) in pairs.iter().enumerate() {
                indent(out, depth + 1);
                ferroflux_yaml::go_json::quote(out, k, true);
                out.push_str(": ");
                write_value(out, v, depth + 1);
                if n + 1 < pairs.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
        Value::List(values) => {
            let values: Vec<_> = values
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .collect();
            if values.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (n, v) in values.iter().enumerate() {
                indent(out, depth + 1);
                write_value(out, v, depth + 1);
                if n + 1 < values.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Null | Value::Comment(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&go_json_float(*f)),
        Value::String(s) => ferroflux_yaml::go_json::quote(out, s, true),
        Value::Bytes(b) => ferroflux_yaml::go_json::quote(out, &String::from_utf8_lossy(b), true),
    }
}

pub(super) fn emit(document: &Document) -> String {
    let mut out = String::new();
    for branch in &document.branches {
        write_value(&mut out, &Value::Map(branch.clone()), 0);
        out.push('\n');
    }
    out
}
