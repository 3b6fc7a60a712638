//! Helm's `toToml` and `fromToml`. `toToml` writes as `BurntSushi/toml`'s encoder does (sorted
//! keys, plain values before tables, tables indented two spaces a level, floats always with a
//! decimal point or exponent), returning the encoder's error as the result text; `fromToml`
//! reads a document into a map (integers as `int64`, date-times as `time.Time`), or a map with
//! the parser's message under `Error`.
//!
//! # Caveats
//!
//! `fromToml`'s error messages are the `toml` crate's, not `BurntSushi/toml`'s, and it reads TOML 1.1
//! where `BurntSushi/toml` reads 1.0.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{arg_str, marshalled, strval};
use crate::template::{Arity, FuncError, Funcs, List, Map, Value, deep, format_v};

pub(super) fn register(f: &mut Funcs) {
    f.insert("toToml", Arity::Exact(1), |_, a| {
        let v = a.first().cloned().unwrap_or(Value::Nil);
        if v.is_nil() {
            // Go's reflection panics on the nil interface; Helm reports the panic.
            return Err(FuncError::Failed(
                "reflect: call of reflect.Value.Type on zero Value".to_owned(),
            ));
        }
        let mut enc = Encoder::default();
        Ok(Value::from(match enc.document(&v) {
            Ok(()) => enc.out,
            Err(message) => message.to_owned(),
        }))
    });
    f.insert("fromToml", Arity::Exact(1), |_, a| {
        let text = arg_str(a, 0)?;
        Ok(Value::Map(match ::toml::from_str::<::toml::Table>(text) {
            Ok(table) => table_value(&table),
            Err(e) => {
                let message = e.to_string();
                let message = message.trim_end().replace('\n', " ");
                let mut m = BTreeMap::new();
                m.insert("Error".to_owned(), Value::from(format!("toml: {message}")));
                Map::new(m)
            }
        }))
    });
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";
const TOO_DEEP: &str = "toml: the value nests too deeply";

/// How the encoder classes a value.
enum Kind {
    /// A table: a map or struct.
    Table(Vec<(String, Value)>),
    /// A non-empty array whose elements are all tables.
    TableArray(Vec<Value>),
    /// Anything written after `key = `.
    Plain,
}

/// The value as the encoder sees it: a map's entries, a struct's fields, or itself.
fn kind(v: &Value) -> Result<Kind, &'static str> {
    match resolve(v) {
        Value::Map(m) => Ok(Kind::Table(m.entries())),
        Value::List(l) => {
            if l.items().iter().any(Value::is_nil) {
                return Err(NIL_ELEMENT);
            }
            let tables = !l.items().is_empty()
                && l.items()
                    .iter()
                    .all(|i| matches!(resolve(i), Value::Map(_)));
            Ok(if tables {
                Kind::TableArray(l.items().to_vec())
            } else {
                Kind::Plain
            })
        }
        _ => Ok(Kind::Plain),
    }
}

/// A named slice or map as what is underneath, a struct as its fields.
fn resolve(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.type_name() != "time.Time" => o
            .underlying()
            .or_else(|| marshalled(o.as_ref()))
            .unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}

/// Writes a document as `BurntSushi/toml`'s `Encoder` does.
#[derive(Default)]
struct Encoder {
    out: String,
}

impl Encoder {
    fn document(&mut self, v: &Value) -> Result<(), &'static str> {
        match kind(v)? {
            Kind::Table(entries) => self.table(&[], &entries, 0),
            Kind::TableArray(_) => Err(NO_KEY),
            Kind::Plain => {
                let mut s = String::new();
                element(&mut s, v, 0)?;
                self.out.push_str(&s);
                Ok(())
            }
        }
    }

    /// A newline, unless nothing was written yet.
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn table(
        &mut self,
        key: &[String],
        entries: &[(String, Value)],
        depth: usize,
    ) -> Result<(), &'static str> {
        if depth > crate::template::MAX_VALUE_DEPTH {
            return Err(TOO_DEEP);
        }
        let mut subs = Vec::new();
        for (k, v) in entries {
            if v.is_nil() {
                continue;
            }
            match kind(v)? {
                Kind::Plain => {
                    let mut path = key.to_vec();
                    path.push(k.clone());
                    let mut s = indent(&path);
                    s.push_str(&bare_or_quoted(k));
                    s.push_str(" = ");
                    element(&mut s, v, depth + 1)?;
                    self.out.push_str(&s);
                    self.newline();
                }
                sub => subs.push((k, sub)),
            }
        }
        for (k, sub) in subs {
            let mut path = key.to_vec();
            path.push(k.clone());
            match sub {
                Kind::Table(inner) => {
                    if path.len() == 1 {
                        self.newline();
                    }
                    self.out.push_str(&indent(&path));
                    self.out.push('[');
                    self.out.push_str(&header(&path));
                    self.out.push(']');
                    self.newline();
                    deep(|| self.table(&path, &inner, depth + 1))?;
                }
                Kind::TableArray(items) => {
                    for item in items {
                        let Kind::Table(inner) = kind(&item)? else {
                            continue;
                        };
                        self.newline();
                        self.out.push_str(&indent(&path));
                        self.out.push_str("[[");
                        self.out.push_str(&header(&path));
                        self.out.push_str("]]");
                        self.newline();
                        deep(|| self.table(&path, &inner, depth + 1))?;
                    }
                }
                Kind::Plain => {}
            }
        }
        Ok(())
    }
}

/// Two spaces for each level below the top.
fn indent(path: &[String]) -> String {
    "  ".repeat(path.len().saturating_sub(1))
}

fn header(path: &[String]) -> String {
    path.iter()
        .map(|k| bare_or_quoted(k))
        .collect::<Vec<_>>()
        .join(".")
}

/// A key as written: bare when it is only ASCII letters, digits, `_` and `-`.
fn bare_or_quoted(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { key.to_owned() } else { quoted(key) }
}

/// A basic string with `BurntSushi/toml`'s escapes.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value after `key = `, or inside an array or inline table.
fn element(out: &mut String, v: &Value, depth: usize) -> Result<(), &'static str> {
    if depth > crate::template::MAX_VALUE_DEPTH {
        return Err(TOO_DEEP);
    }
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            out.push_str(
                &marshalled(o.as_ref())
                    .map(|t| strval(&t))
                    .unwrap_or_default(),
            );
            return Ok(());
        }
        Value::Object(_) => {
            let resolved = resolve(v);
            if !matches!(resolved, Value::Object(_)) {
                return element(out, &resolved, depth);
            }
        }
        _ => {}
    }
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n, _) => out.push_str(&n.to_string()),
        Value::Float(f) => out.push_str(&float(*f)),
        Value::String(s) => out.push_str(&quoted(s)),
        Value::List(l) => {
            if l.items().iter().any(Value::is_nil) {
                return Err(NIL_ELEMENT);
            }
            out.push('[');
            for (i, item) in l.items().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                deep(|| element(out, item, depth + 1))?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            // An inline table: plain values first, then tables, each sorted.
            let entries: Vec<(String, Value)> = m
                .entries()
                .into_iter()
                .filter(|(_, v)| !v.is_nil())
                .collect();
            let mut plain = Vec::new();
            let mut tables = Vec::new();
            for (k, v) in entries {
                match kind(&v)? {
                    Kind::Plain => plain.push((k, v)),
                    _ => tables.push((k, v)),
                }
            }
            out.push('{');
            for (i, (k, v)) in plain.iter().chain(tables.iter()).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&bare_or_quoted(k));
                out.push_str(" = ");
                deep(|| element(out, v, depth + 1))?;
            }
            out.push('}');
        }
        Value::Object(o) => out.push_str(&quoted(&o.format())),
        Value::Invalid | Value::Nil => {}
    }
    Ok(())
}

/// Go's shortest `%g`, with `.0` added when that has neither a point nor an exponent.
fn float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let s = format_v(&Value::Float(f));
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn table_value(table: &::toml::Table) -> Map {
    Map::new(
        table
            .iter()
            .map(|(k, v)| (k.clone(), deep(|| toml_value(v))))
            .collect(),
    )
}

fn toml_value(v: &::toml::Value) -> Value {
    match v {
        ::toml::Value::String(s) => Value::str(s),
        ::toml::Value::Integer(n) => Value::Int(*n, crate::template::IntType::Int64),
        ::toml::Value::Float(f) => Value::Float(*f),
        ::toml::Value::Boolean(b) => Value::Bool(*b),
        ::toml::Value::Datetime(d) => super::dates::from_toml(d),
        ::toml::Value::Array(items) => Value::List(List::new(
            items.iter().map(|i| deep(|| toml_value(i))).collect(),
        )),
        ::toml::Value::Table(t) => Value::Map(table_value(t)),
    }
}
