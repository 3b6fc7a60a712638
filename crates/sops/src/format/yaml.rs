//! YAML documents as sops's YAML store reads them (go-yaml v3 nodes): one
//! branch per document, key order and comments kept (each comment an item
//! of the mapping or list it sits in), scalars resolved as go-yaml v3
//! decodes them, aliases expanded; the `sops` entry of the first document
//! is the metadata. Written back with sops's four-space indentation.

use std::collections::HashMap;
use std::fmt::Write as _;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::cipher::format_float_f;
use crate::tree::{Document, Item, Value};

/// Most nodes a document may expand to, aliases included (an alias bomb
/// fails instead of exhausting memory).
const NODE_BUDGET: usize = 1_000_000;
/// Deepest nesting read.
const MAX_DEPTH: usize = 256;

struct Reader<'a> {
    events: Parser<'a, granit_parser::StrInput<'a>>,
    anchors: HashMap<usize, Value>,
    pending: Vec<String>,
    /// Comments between a key and the collection that is its value: the
    /// collection's first items, as go-yaml v3 attaches them.
    carry: Vec<String>,
    nodes: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<Event<'a>, String> {
        loop {
            match self.events.next() {
                None => return Ok(Event::StreamEnd),
                Some(Err(e)) => return Err(format!("line {}: {}", e.marker().line(), e.info())),
                Some(Ok((Event::Comment(text, _), _))) => self.pending.push(text.into_owned()),
                Some(Ok((Event::Anchor(..), _))) => {}
                Some(Ok((event, _))) => return Ok(event),
            }
        }
    }

    fn flush_into_map(&mut self, items: &mut Vec<Item>) {
        items.extend(self.pending.drain(..).map(Item::Comment));
    }

    fn node(&mut self, event: Event<'a>) -> Result<Value, String> {
        self.nodes += 1;
        if self.nodes > NODE_BUDGET {
            return Err(format!(
                "the document expands to more than {NODE_BUDGET} nodes"
            ));
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix().to_owned());
                let value = scalar(&text, style, tag.as_deref());
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            Event::Alias(id) => self
                .anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| "an alias refers to an unknown anchor".to_owned()),
            Event::SequenceStart(_, anchor, _) => {
                self.enter()?;
                let mut values: Vec<Value> = self.carry.drain(..).map(Value::Comment).collect();
                loop {
                    let event = self.next()?;
                    values.extend(self.pending.drain(..).map(Value::Comment));
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    values.push(self.node(event)?);
                }
                self.depth -= 1;
                let value = Value::List(values);
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                self.enter()?;
                let mut items: Vec<Item> = self.carry.drain(..).map(Item::Comment).collect();
                loop {
                    let event = self.next()?;
                    self.flush_into_map(&mut items);
                    let key = match event {
                        Event::MappingEnd => break,
                        Event::Scalar(text, ..) => text.into_owned(),
                        _ => return Err("a mapping key is not a scalar".to_owned()),
                    };
                    let event = self.next()?;
                    if matches!(event, Event::MappingStart(..) | Event::SequenceStart(..)) {
                        self.carry.append(&mut self.pending);
                    } else {
                        self.flush_into_map(&mut items);
                    }
                    let value = self.node(event)?;
                    items.push(Item::Pair(key, value));
                }
                self.depth -= 1;
                let value = Value::Map(items);
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                Ok(value)
            }
            _ => Err("unexpected YAML event".to_owned()),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }
}

/// A scalar as go-yaml v3 decodes it into `interface{}`.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    let resolve = |t: &str| match ferroflux_yaml::resolve_plain(t) {
        Ok(serde_json::Value::Null) => Value::Null,
        Ok(serde_json::Value::Bool(b)) => Value::Bool(b),
        Ok(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_f64().map(Value::Float))
            .unwrap_or_else(|| Value::String(t.to_owned())),
        _ => Value::String(t.to_owned()),
    };
    match tag {
        Some("int" | "float" | "bool" | "null") => resolve(text),
        None if style == ScalarStyle::Plain => match text {
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
            _ => resolve(text),
        },
        // `!!str`, other tags, and quoted or block scalars.
        _ => Value::String(text.to_owned()),
    }
}

pub(super) fn parse(text: &str) -> Result<(Document, Option<serde_json::Value>), String> {
    let mut reader = Reader {
        events: Parser::new_from_str(text),
        anchors: HashMap::new(),
        pending: Vec::new(),
        carry: Vec::new(),
        nodes: 0,
        depth: 0,
    };
    let mut branches = Vec::new();
    let mut metadata = None;
    loop {
        match reader.next()? {
            Event::StreamEnd => break,
            Event::DocumentStart(..) => {
                let first = reader.next()?;
                let mut branch = Vec::new();
                reader.flush_into_map(&mut branch);
                match first {
                    Event::DocumentEnd => {
                        if !branch.is_empty() {
                            branches.push(branch);
                        }
                        continue;
                    }
                    event => {
                        match reader.node(event)? {
                            Value::Map(items) => branch.extend(items),
                            Value::Null => {}
                            _ => return Err(
                                "a YAML document that is not a mapping is not supported by sops"
                                    .to_owned(),
                            ),
                        }
                    }
                }
                match reader.next()? {
                    Event::DocumentEnd => {}
                    _ => return Err("expected the end of the document".to_owned()),
                }
                reader.flush_into_map(&mut branch);
                reader.anchors.clear();
                let meta = super::take_metadata(&mut branch);
                if metadata.is_none() && branches.is_empty() {
                    metadata = meta;
                }
                branches.push(branch);
            }
            _ => {}
        }
    }
    Ok((Document { branches }, metadata))
}

/// Strings go-yaml v3 quotes because YAML 1.1 read them as booleans.
const YAML11_BOOLS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Whether go-yaml v3 would read `s` back as something other than this
/// string (a null, boolean, number or timestamp, or a YAML 1.1 boolean):
/// such strings are double-quoted.
fn ambiguous(s: &str) -> bool {
    s.is_empty()
        || YAML11_BOOLS.contains(&s)
        || !matches!(ferroflux_yaml::resolve_plain(s), Ok(serde_json::Value::String(ref r)) if r == s)
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    !(ambiguous(s)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first == ' '
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(char::is_control))
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A string as go-yaml v3 writes it: plain where it reads back as itself,
/// double-quoted where it would not, a literal block when it has line
/// breaks (`indent` is the block's indentation), single-quoted otherwise.
fn string(out: &mut String, s: &str, indent: usize) {
    if plain_ok(s) {
        out.push_str(s);
    } else if ambiguous(s) || s.chars().any(|c| c.is_control() && c != '\n') {
        quoted(out, s);
    } else if s.contains('\n') && !s.lines().any(|l| l.ends_with(' ')) && !s.starts_with(' ') {
        let body = s.trim_end_matches('\n');
        let newlines = s.len() - body.len();
        out.push_str(match newlines {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in s.split_inclusive('\n') {
            out.push('\n');
            if line != "\n" {
                pad(out, indent);
            }
            out.push_str(line.trim_end_matches('\n'));
        }
        if newlines > 1 {
            // `|+` keeps the trailing blank lines the loop above wrote.
            out.truncate(out.trim_end_matches('\n').len() + newlines - 1);
        }
    } else if s.contains('\n') {
        quoted(out, s);
    } else {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    }
}

fn scalar_out(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null | Value::Comment(_) | Value::Map(_) | Value::List(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_nan() => out.push_str(".nan"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { ".inf" } else { "-.inf" }),
        Value::Float(f) => out.push_str(&format_float_f(*f)),
        Value::String(s) => string(out, s, indent),
        Value::Bytes(b) => string(out, &String::from_utf8_lossy(b), indent),
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn has_content_map(items: &[Item]) -> bool {
    items.iter().any(|i| matches!(i, Item::Pair(..)))
}

fn has_content_list(values: &[Value]) -> bool {
    values.iter().any(|v| !matches!(v, Value::Comment(_)))
}

/// Writes a value after `key:` or `- `: inline for scalars and empty
/// collections, on the following lines at `indent` otherwise.
fn nested(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Map(items) if has_content_map(items) => {
            out.push('\n');
            map(out, items, indent);
        }
        Value::List(values) if has_content_list(values) => {
            out.push('\n');
            list(out, values, indent);
        }
        Value::Map(_) => out.push_str(" {}\n"),
        Value::List(_) => out.push_str(" []\n"),
        scalar => {
            out.push(' ');
            scalar_out(out, scalar, indent);
            out.push('\n');
        }
    }
}

fn map(out: &mut String, items: &[Item], indent: usize) {
    for item in items {
        pad(out, indent);
        match item {
            Item::Comment(c) => {
                out.push('#');
                out.push_str(c);
                out.push('\n');
            }
            Item::Pair(k, v) => {
                string(out, k, indent + 4);
                out.push(':');
                nested(out, v, indent + 4);
            }
        }
    }
}

fn list(out: &mut String, values: &[Value], indent: usize) {
    for v in values {
        match v {
            Value::Comment(c) => {
                pad(out, indent);
                out.push('#');
                out.push_str(c);
                out.push('\n');
            }
            Value::Map(items) if has_content_map(items) => {
                // The first line of the item follows `- `; the rest line up
                // under it, two columns in.
                let mut inner = String::new();
                map(&mut inner, items, indent + 2);
                pad(out, indent);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
            Value::List(values) if has_content_list(values) => {
                let mut inner = String::new();
                list(&mut inner, values, indent + 2);
                pad(out, indent);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
            other => {
                pad(out, indent);
                out.push('-');
                nested(out, other, indent + 4);
            }
        }
    }
}

pub(super) fn emit(document: &Document) -> String {
    let mut out = String::new();
    for (n, branch) in document.branches.iter().enumerate() {
        if n > 0 {
            out.push_str("---\n");
        }
        if branch.is_empty() {
            out.push_str("{}\n");
        }
        map(&mut out, branch, 0);
    }
    out
}
