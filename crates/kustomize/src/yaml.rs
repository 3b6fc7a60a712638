//! YAML in and out, the way `kubectl kustomize` reads and writes it.
//!
//! Reading follows kustomize's parser (go-yaml v3): plain scalars resolve to
//! null, booleans (`true`/`false` only; `yes` and `on` stay strings),
//! integers (with `0x`, `0o`, `0b` and legacy leading-zero octal), floats and
//! timestamps (which become RFC 3339 strings, as they do in kustomize's JSON
//! round trip). Anchors, aliases and `<<` merge keys are expanded, within a
//! budget of nodes and of scalar bytes, so an alias bomb (many aliases of one
//! node, or of one large scalar) fails instead of exhausting memory; nesting
//! is bounded too, so a deep `[[[[...` fails instead of overflowing the stack.
//!
//! Writing follows what kustomize prints (go-yaml v2 over JSON): keys sorted
//! in go-yaml's natural order, sequences not indented under their key,
//! strings quoted when they would read back as something else, multi-line
//! strings as literal blocks, and long lines folded at spaces past column 80.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// Most nodes one file may expand to, aliases included.
const NODE_BUDGET: usize = 1_000_000;

/// Most bytes of scalar text (keys and values) one file may expand to,
/// aliases included: a 16 KiB scalar aliased half a million times is 8 GiB
/// for a 2.5 MB file, far over this, while real files expand to about
/// their own size.
const BYTE_BUDGET: usize = 64 << 20;

/// Deepest nesting of sequences and mappings. Kubernetes objects (CRD
/// schemas included) nest a few dozen deep; the reader, the writer and
/// `Drop` all recurse once per level.
pub const MAX_DEPTH: usize = 256;

/// A YAML syntax or content error, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Error {
    /// The line, 1-based.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses every document of a YAML stream. Empty documents are skipped.
///
/// # Errors
/// A syntax error, a non-string mapping key, an unknown alias, a value JSON
/// cannot hold (`.inf`, `.nan`), more than a million expanded nodes or
/// 64 MiB of expanded scalars, or nesting deeper than [`MAX_DEPTH`].
pub fn parse_documents(text: &str) -> Result<Vec<Value>, Error> {
    let mut reader = Reader {
        events: Parser::new_from_str(text).peekable(),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        depth: 0,
        line: 1,
    };
    let mut docs = Vec::new();
    loop {
        match reader.next()? {
            Event::StreamEnd => return Ok(docs),
            Event::DocumentStart(_, Some(v)) if (v.major, v.minor) != (1, 1) => {
                return Err(reader.error(format!(
                    "%YAML {}.{}: kustomize reads only YAML 1.1 documents; remove the directive",
                    v.major, v.minor
                )));
            }
            Event::DocumentStart(..) => {
                let first = reader.next()?;
                if matches!(first, Event::DocumentEnd) {
                    continue;
                }
                let value = reader.node(first)?;
                match reader.next()? {
                    Event::DocumentEnd => {}
                    _ => return Err(reader.error("expected the end of the document")),
                }
                reader.anchors.clear();
                if !value.is_null() {
                    docs.push(value);
                }
            }
            _ => {}
        }
    }
}

struct Reader<'a> {
    events: std::iter::Peekable<Parser<'a, granit_parser::StrInput<'a>>>,
    /// Each anchor's value with the nodes and bytes it expands to.
    anchors: HashMap<usize, (Value, Cost)>,
    nodes: usize,
    bytes: usize,
    depth: usize,
    line: usize,
}

/// What a node costs against the budgets.
#[derive(Clone, Copy)]
struct Cost {
    nodes: usize,
    bytes: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error {
            line: self.line,
            message: message.into(),
        }
    }

    fn next(&mut self) -> Result<Event<'a>, Error> {
        loop {
            match self.events.next() {
                None => return Ok(Event::StreamEnd),
                Some(Err(e)) => {
                    return Err(Error {
                        line: e.marker().line(),
                        message: e.info(),
                    });
                }
                Some(Ok((event, span))) => {
                    self.line = line_of(&span);
                    #[allow(unreachable_patterns, reason = "comments exist only with a feature")]
                    match event {
                        Event::Anchor(..) | Event::Comment(..) => {}
                        other => return Ok(other),
                    }
                }
            }
        }
    }

    /// Counts `cost` against the budgets; an error once either is spent.
    fn charge(&mut self, cost: Cost) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(cost.nodes);
        self.bytes = self.bytes.saturating_add(cost.bytes);
        if self.nodes > NODE_BUDGET {
            return Err(self.error(format!(
                "the document expands to more than {NODE_BUDGET} nodes (an alias bomb?)"
            )));
        }
        if self.bytes > BYTE_BUDGET {
            return Err(self.error(format!(
                "the document expands to more than {} MiB of text (an alias bomb?)",
                BYTE_BUDGET >> 20
            )));
        }
        Ok(())
    }

    /// The cost spent since `start` (the budgets' values when a node began).
    fn since(&self, start: Cost) -> Cost {
        Cost {
            nodes: self.nodes - start.nodes,
            bytes: self.bytes - start.bytes,
        }
    }

    fn remember(&mut self, anchor: usize, value: &Value, start: Cost) {
        if anchor != 0 {
            let cost = self.since(start);
            self.anchors.insert(anchor, (value.clone(), cost));
        }
    }

    fn node(&mut self, event: Event<'a>) -> Result<Value, Error> {
        let start = Cost {
            nodes: self.nodes,
            bytes: self.bytes,
        };
        self.charge(Cost { nodes: 1, bytes: 0 })?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.charge(Cost {
                    nodes: 0,
                    bytes: text.len(),
                })?;
                let value = scalar(&text, style, tag.as_deref()).map_err(|m| self.error(m))?;
                self.remember(anchor, &value, start);
                Ok(value)
            }
            Event::Alias(id) => {
                let Some(cost) = self.anchors.get(&id).map(|(_, cost)| *cost) else {
                    return Err(self.error("unknown alias"));
                };
                // Charged before the copy is made, so a bomb never allocates.
                self.charge(cost)?;
                Ok(self
                    .anchors
                    .get(&id)
                    .map(|(value, _)| value.clone())
                    .unwrap_or_default())
            }
            Event::SequenceStart(_, anchor, _) => {
                self.descend()?;
                let mut items = Vec::new();
                loop {
                    let event = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event)?);
                }
                self.depth -= 1;
                let value = Value::Array(items);
                self.remember(anchor, &value, start);
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                self.descend()?;
                let value = Value::Object(self.mapping()?);
                self.depth -= 1;
                self.remember(anchor, &value, start);
                Ok(value)
            }
            _ => Err(self.error("unexpected YAML event")),
        }
    }

    /// Enters a sequence or mapping; an error past [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "sequences and mappings are nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(())
    }

    fn mapping(&mut self) -> Result<Map<String, Value>, Error> {
        let mut map = Map::new();
        let mut merged: Vec<Map<String, Value>> = Vec::new();
        loop {
            let key_event = self.next()?;
            let key = match key_event {
                Event::MappingEnd => break,
                Event::Scalar(text, style, _, tag) => {
                    self.charge(Cost {
                        nodes: 0,
                        bytes: text.len(),
                    })?;
                    if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
                        let event = self.next()?;
                        match self.node(event)? {
                            Value::Object(m) => merged.push(m),
                            Value::Array(items) => {
                                for item in items {
                                    let Value::Object(m) = item else {
                                        return Err(
                                            self.error("a << merge list must hold mappings")
                                        );
                                    };
                                    merged.push(m);
                                }
                            }
                            _ => return Err(self.error("a << merge value must be a mapping")),
                        }
                        continue;
                    }
                    match scalar(&text, style, tag.as_deref()).map_err(|m| self.error(m))? {
                        Value::String(s) => s,
                        other => {
                            return Err(self
                                .error(format!("mapping key {other} is not a string; quote it")));
                        }
                    }
                }
                _ => return Err(self.error("mapping keys must be strings")),
            };
            let event = self.next()?;
            let value = self.node(event)?;
            if map.contains_key(&key) {
                return Err(self.error(format!("mapping key \"{key}\" already defined")));
            }
            map.insert(key, value);
        }
        for source in merged {
            for (k, v) in source {
                map.entry(k).or_insert(v);
            }
        }
        Ok(map)
    }
}

fn line_of(span: &Span) -> usize {
    span.start.line()
}

/// Resolves one scalar as go-yaml v3 does for untagged plain scalars; quoted
/// and block scalars are strings.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle() == "tag:yaml.org,2002:" {
            return match tag.suffix() {
                "null" => Ok(Value::Null),
                "bool" | "int" | "float" => resolve_plain(text),
                "map" | "seq" => Err(format!("tag !!{} on a scalar", tag.suffix())),
                _ => Ok(Value::String(text.to_owned())),
            };
        }
        if tag.handle() == "!" && tag.suffix().is_empty() {
            return Ok(Value::String(text.to_owned()));
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    resolve_plain(text)
}

pub(crate) fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "{text}: JSON cannot hold an infinite or NaN number"
            ));
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(i) = go_int(text) {
        return Ok(Value::Number(i));
    }
    if is_yaml_float(text) {
        let f: f64 = text
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{text}: bad float"))?;
        return Ok(float_value(f));
    }
    if let Some(ts) = timestamp(text) {
        return Ok(Value::String(ts));
    }
    Ok(Value::String(text.to_owned()))
}

/// A float as kustomize's JSON round trip leaves it: integral values become
/// integers.
fn float_value(f: f64) -> Value {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "checked to be integral and in range"
    )]
    if f.fract() == 0.0 && f.abs() < 1e18 {
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (then `ParseUint`): base prefixes,
/// legacy octal, underscores between digits.
fn go_int(text: &str) -> Option<Number> {
    let (negative, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits, prefixed) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d, true)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d, true)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d, true)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..], true)
        } else {
            (10, body, false)
        };
    // Underscores only between digits (or right after a base prefix).
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes[bytes.len() - 1] == b'_' || (!prefixed && bytes[0] == b'_') {
        return None;
    }
    if digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(&clean, radix).ok()?;
    if negative {
        let v = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1 << 63).then_some(i64::MIN))?;
        Some(Number::from(v))
    } else {
        Some(Number::from(magnitude))
    }
}

/// go-yaml v3's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A YAML timestamp as the RFC 3339 text kustomize's JSON round trip gives
/// it: `2024-01-15` becomes `2024-01-15T00:00:00Z`.
fn timestamp(text: &str) -> Option<String> {
    let (date, rest) = text.split_at(text.find(['T', 't', ' ']).unwrap_or(text.len()));
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
    {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if rest.is_empty() {
        return Some(format!("{y}-{m:02}-{d:02}T00:00:00Z"));
    }
    let time = go_time(&rest[1..], rest.starts_with(' '))?;
    Some(format!("{y}-{m:02}-{d:02}T{time}"))
}

/// The time of a timestamp as Go's RFC 3339 output writes it: `h:m:s`,
/// trailing fractional zeros dropped, then `Z` or the offset. After a space
/// separator no offset is allowed (go-yaml's formats).
fn go_time(text: &str, spaced: bool) -> Option<String> {
    let end = text.find(['Z', '+', '-']).unwrap_or(text.len());
    let (clock, zone) = text.split_at(end);
    if spaced && !zone.is_empty() {
        return None;
    }
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':');
    let mut fields = [0u32; 3];
    for f in &mut fields {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *f = p.parse().ok()?;
    }
    if parts.next().is_some() || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let zone = match zone {
        "" | "Z" => "Z".to_owned(),
        z => {
            let (sign, hm) = z.split_at(1);
            let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            format!("{sign}{h:02}:{m:02}")
        }
    };
    Some(format!(
        "{:02}:{:02}:{:02}{frac}{zone}",
        fields[0], fields[1], fields[2]
    ))
}

/// Serialises documents as `kubectl kustomize` prints them: each document's
/// YAML, separated by `---` lines.
#[must_use]
pub fn to_yaml_stream(docs: &[Value]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(doc));
    }
    out
}

/// One value as go-yaml v2 writes it, ending in a newline.
#[must_use]
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, None),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, None),
        other => {
            let mut line = String::new();
            write_inline(&mut line, other, 0, 2);
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Writes `map` at `indent`; with `first_prefix`, the first key continues the
/// current line (after `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, first_prefix: Option<()>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| natural_cmp(a, b));
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 || first_prefix.is_none() {
            out.push_str(&" ".repeat(indent));
        }
        let line_start = out.rfind('\n').map_or(0, |p| p + 1);
        let column = out[line_start..].chars().count();
        out.push_str(&scalar_text(key, column, indent + 2, true));
        out.push(':');
        write_value(out, &map[key.as_str()], indent, true);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize, first_prefix: Option<()>) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || first_prefix.is_none() {
            out.push_str(&" ".repeat(indent));
        }
        out.push('-');
        write_value(out, item, indent, false);
    }
}

/// Writes what follows `key:` or `-`.
fn write_value(out: &mut String, value: &Value, indent: usize, in_map: bool) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            if in_map {
                out.push('\n');
                write_map(out, m, indent + 2, None);
            } else {
                out.push(' ');
                write_map(out, m, indent + 2, Some(()));
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if in_map {
                out.push('\n');
                write_seq(out, items, indent, None);
            } else {
                out.push(' ');
                write_seq(out, items, indent + 2, Some(()));
            }
        }
        other => {
            out.push(' ');
            let line_start = out.rfind('\n').map_or(0, |p| p + 1);
            let column = out[line_start..].chars().count();
            write_inline(out, other, column, indent + 2);
            out.push('\n');
        }
    }
}

fn write_inline(out: &mut String, value: &Value, column: usize, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => out.push_str(&scalar_text(s, column, indent, false)),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn number_text(n: &Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        // Go's strconv.FormatFloat(f, 'g', -1, 64), what yaml.v2 writes:
        // shortest digits, exponent form when the exponent is below -4 or
        // at least 6, written with a sign and two digits or more.
        let e = format!("{f:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if f != 0.0 && !(-4..6).contains(&exp) {
            let sign = if exp < 0 { '-' } else { '+' };
            return format!("{mantissa}e{sign}{:02}", exp.abs());
        }
        return format!("{f}");
    }
    n.to_string()
}

/// How a string is written: plain, single-quoted, double-quoted or literal.
fn scalar_text(s: &str, column: usize, indent: usize, key: bool) -> String {
    if s.contains('\n') && !key {
        let a = analyze(s);
        if a.block_allowed {
            return literal(s, indent);
        }
        return double_quoted(s, column, indent, true);
    }
    // A key is a simple key, written on one line whatever its length, as
    // go-yaml does (it never breaks a scalar in a simple-key context).
    let breaks = !key;
    if reads_as_non_string(s) {
        return double_quoted(s, column, indent, breaks);
    }
    let a = analyze(s);
    if a.plain_allowed && !(key && a.multiline) {
        return fold(s, column, indent, 0, breaks);
    }
    if a.single_allowed {
        return format!(
            "'{}'",
            fold(&s.replace('\'', "''"), column + 1, indent, 1, breaks)
        );
    }
    double_quoted(s, column, indent, breaks)
}

const WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL", ".inf",
    ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    "<<",
];

/// Whether go-yaml v2 (YAML 1.1) would read the plain scalar `s` as
/// something other than this string, so it must be quoted.
fn reads_as_non_string(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if WORDS.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return false;
    }
    go_int(s).is_some()
        || is_yaml_float(s)
        || is_yaml_float(&s.replace('_', ""))
        || timestamp(s).is_some()
        || is_base60(s)
}

/// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`: YAML 1.1 sexagesimal.
fn is_base60(s: &str) -> bool {
    let body = s.trim_start_matches(['-', '+']);
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if head.is_empty()
        || !head.as_bytes()[0].is_ascii_digit()
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let mut count = 0;
    for p in parts {
        count += 1;
        let ok = !p.is_empty()
            && p.len() <= 2
            && p.bytes().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || p.as_bytes()[0] <= b'5');
        if !ok {
            return false;
        }
    }
    count > 0 && frac.bytes().all(|c| c.is_ascii_digit() || c == b'_')
}

#[allow(
    clippy::struct_excessive_bools,
    reason = "libyaml's analysis flags, one per question"
)]
struct Analysis {
    plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
    multiline: bool,
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn blank_or_end(c: Option<char>) -> bool {
    c.is_none_or(|c| c == ' ' || c == '\t' || is_break(c))
}

/// libyaml's scalar analysis, for block context.
#[allow(
    clippy::too_many_lines,
    reason = "one pass of libyaml's analysis, kept together"
)]
fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut special, mut line_breaks) =
        (false, false, false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_whitespace = blank_or_end(next);
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c);
    }
    let mut plain = !(leading_space || leading_break || trailing_space || trailing_break);
    let mut single = true;
    let mut block = !trailing_space;
    if break_space {
        plain = false;
        single = false;
    }
    if space_break || special {
        plain = false;
        single = false;
        block = false;
    }
    if line_breaks || block_indicators {
        plain = false;
    }
    let _ = flow_indicators;
    Analysis {
        plain_allowed: plain,
        single_allowed: single,
        block_allowed: block,
        multiline: line_breaks,
    }
}

/// Writes `s` folding at spaces once the column passes 80; `extra` counts the
/// characters already written for the scalar (an opening quote).
/// `s` with spaces past column 80 turned into line breaks, when `breaks`.
fn fold(s: &str, column: usize, indent: usize, extra: usize, breaks: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut col = column + extra;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            if breaks && !spaces && col > 80 && !next_space && i != 0 && i + 1 != chars.len() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
    out
}

/// `s` double-quoted with YAML's escapes, folded past column 80 when `breaks`.
fn double_quoted(s: &str, column: usize, indent: usize, breaks: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("\"");
    let mut col = column + 1;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        let escaped = match c {
            '\0' => Some("\\0".to_owned()),
            '\u{7}' => Some("\\a".to_owned()),
            '\u{8}' => Some("\\b".to_owned()),
            '\t' => Some("\\t".to_owned()),
            '\n' => Some("\\n".to_owned()),
            '\u{b}' => Some("\\v".to_owned()),
            '\u{c}' => Some("\\f".to_owned()),
            '\r' => Some("\\r".to_owned()),
            '\u{1b}' => Some("\\e".to_owned()),
            '"' => Some("\\\"".to_owned()),
            '\\' => Some("\\\\".to_owned()),
            '\u{85}' => Some("\\N".to_owned()),
            '\u{a0}' => Some("\\_".to_owned()),
            '\u{2028}' => Some("\\L".to_owned()),
            '\u{2029}' => Some("\\P".to_owned()),
            c if !printable(c) || c == '\u{feff}' => {
                let v = u32::from(c);
                Some(if v <= 0xff {
                    format!("\\x{v:02X}")
                } else if v <= 0xffff {
                    format!("\\u{v:04X}")
                } else {
                    format!("\\U{v:08X}")
                })
            }
            _ => None,
        };
        if let Some(e) = escaped {
            col += e.chars().count();
            out.push_str(&e);
            spaces = false;
        } else if c == ' ' {
            if breaks && !spaces && col > 80 && i != 0 && i + 1 != chars.len() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
                if chars.get(i + 1) == Some(&' ') {
                    out.push('\\');
                    col += 1;
                }
            } else {
                out.push(' ');
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
    out.push('"');
    out
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = if trailing >= 1 { &s[..s.len() - 1] } else { s };
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
    }
    out
}

/// go-yaml's key order: runs of digits compare as numbers, letters compare
/// by code point, and a letter sorts after a non-letter unless a digit run
/// came just before.
#[must_use]
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut after_digit = false;
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] == b[i] {
            after_digit = a[i].is_ascii_digit();
            i += 1;
            continue;
        }
        let (al, bl) = (a[i].is_alphabetic(), b[i].is_alphabetic());
        if al && bl {
            return a[i].cmp(&b[i]);
        }
        if al || bl {
            let a_first = if after_digit { al } else { bl };
            return if a_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if a[i] == '0' || b[i] == '0' {
            let mut j = i;
            while j > 0 && a[j - 1].is_ascii_digit() {
                j -= 1;
                if a[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let (an, ai) = digit_run(&a, i, an);
        let (bn, bi) = digit_run(&b, i, bn);
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return a[i].cmp(&b[i]);
    }
    a.len().cmp(&b.len())
}

/// The number formed by `start` followed by the digits of `chars` from `i`,
/// and the index after them.
fn digit_run(chars: &[char], i: usize, start: i64) -> (i64, usize) {
    let mut n = start;
    let mut end = i;
    while let Some(d) = chars.get(end).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(i64::from(d));
        end += 1;
    }
    (n, end)
}

/// Returns `text` without a UTF-8 byte-order mark and with CRLF line ends
/// made LF, as kustomize reads files.
#[must_use]
pub fn normalise(text: &str) -> Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests;
