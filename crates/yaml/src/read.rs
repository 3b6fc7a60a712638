//! Reading YAML as kustomize's parser (go-yaml v3) reads it: plain scalars
//! resolve to null, booleans (`true`/`false` only; `yes` and `on` stay
//! strings), integers (with `0x`, `0o`, `0b` and legacy leading-zero octal),
//! floats and timestamps (which become RFC 3339 strings, as they do in
//! kustomize's JSON round trip). Anchors, aliases and `<<` merge keys are
//! expanded, within a budget of nodes and of scalar bytes, so an alias bomb
//! (many aliases of one node, or of one large scalar) fails instead of
//! exhausting memory; nesting is bounded too, so a deep `[[[[...` fails
//! instead of overflowing the stack.

use std::borrow::Cow;
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
    parse(text, Role::Other, Mode::default())
}

/// Parses every document as kustomize reads a kustomization file (go-yaml
/// v2, YAML 1.1): as [`parse_documents`] does, except that the plain
/// scalars `y`, `yes`, `on`, `n`, `no`, `off` (in lower, title or upper
/// case) are booleans, so a kustomization field that takes a string refuses
/// them as kustomize does.
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_documents_yaml11(text: &str) -> Result<Vec<Value>, Error> {
    parse(
        text,
        Role::Other,
        Mode {
            yaml11: true,
            ..Mode::default()
        },
    )
}

/// Parses every document as Helm reads values files, `Chart.yaml` and
/// `fromYaml` input (`sigs.k8s.io/yaml`: go-yaml v2, then JSON): as
/// [`parse_documents_yaml11`] does (YAML 1.1 booleans, a repeated key replaces
/// the earlier one), except that timestamps stay the text written, and a
/// mapping key that is not a string becomes the string JSON gives it
/// (`yes:` and `true:` are `"true"`, `1:` is `"1"`, `1.5:` is `"1.5"`).
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_documents_helm(text: &str) -> Result<Vec<Value>, Error> {
    parse(
        text,
        Role::Other,
        Mode {
            yaml11: true,
            json_keys: true,
            ..Mode::default()
        },
    )
}

/// Parses every document of a stream of Kubernetes objects as kustomize
/// reads them: as [`parse_documents`] does, except that the values of each
/// document's own `metadata.annotations` are kept as the text written
/// (`port: 8080` is `"8080"`, `ratio: 1.50` is `"1.50"`, `on: yes` is
/// `"yes"`, an empty value is `""`), since kustomize rewrites annotations
/// as strings of their scalars' text.
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_objects(text: &str) -> Result<Vec<Value>, Error> {
    parse(text, Role::Document, Mode::default())
}

/// Parses patches as [`parse_objects`] parses objects, except that an
/// annotation whose value is null (`~`, `null`, or nothing) stays null,
/// which in a strategic-merge patch deletes the annotation.
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_patches(text: &str) -> Result<Vec<Value>, Error> {
    let mode = Mode {
        null_annotations: true,
        ..Mode::default()
    };
    parse(text, Role::Document, mode)
}

/// Where a node stands, for the one rule that depends on it: the values
/// of a document's own `metadata.annotations` keep their text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A document of [`parse_objects`].
    Document,
    /// Its `metadata`.
    Metadata,
    /// Its `metadata.annotations`.
    Annotations,
    /// One annotation's value.
    AnnotationValue,
    /// Anything else.
    Other,
}

impl Role {
    /// The role of the value of `key` in a mapping of this role.
    fn child(self, key: &str) -> Self {
        match (self, key) {
            (Self::Document, "metadata") => Self::Metadata,
            (Self::Metadata, "annotations") => Self::Annotations,
            (Self::Annotations, _) => Self::AnnotationValue,
            _ => Self::Other,
        }
    }
}

/// How scalars resolve beyond go-yaml v3's rules.
#[derive(Clone, Copy, Default)]
struct Mode {
    /// YAML 1.1's other booleans (`yes`, `on`, ...) are booleans, and a
    /// repeated mapping key replaces the earlier one (go-yaml v2 through
    /// JSON, as kustomize reads its kustomization file).
    yaml11: bool,
    /// An annotation whose text resolves to null stays null (in a patch,
    /// where null deletes the annotation).
    null_annotations: bool,
    /// Helm's reading (go-yaml v2 into JSON): timestamps keep their text and
    /// keys that are not strings become strings.
    json_keys: bool,
}

fn parse(text: &str, root: Role, mode: Mode) -> Result<Vec<Value>, Error> {
    let mut reader = Reader {
        mode,
        events: Parser::new_from_str(text).peekable(),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        depth: 0,
        line: 1,
        empty: false,
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
                let value = reader.node(first, root)?;
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
    /// Whether the last event spans no text (an empty scalar).
    empty: bool,
    mode: Mode,
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
                    self.empty = span.start.index() == span.end.index();
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

    fn node(&mut self, event: Event<'a>, role: Role) -> Result<Value, Error> {
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
                let plain = style == ScalarStyle::Plain && tag.is_none();
                let null = plain && (self.empty || matches!(resolve_plain(&text), Ok(Value::Null)));
                let value = if role == Role::AnnotationValue
                    && !(self.mode.null_annotations && null)
                {
                    // An empty value (`key:`) reads as `~`; its text is "".
                    Value::String(if self.empty {
                        String::new()
                    } else {
                        text.to_string()
                    })
                } else if self.mode.yaml11 && plain {
                    yaml11_bool(&text)
                        .map_or_else(|| self.scalar(&text, style, None), |b| Ok(Value::Bool(b)))?
                } else {
                    self.scalar(&text, style, tag.as_deref())?
                };
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
                    items.push(self.node(event, Role::Other)?);
                }
                self.depth -= 1;
                let value = Value::Array(items);
                self.remember(anchor, &value, start);
                Ok(value)
            }
            Event::MappingStart(_, anchor, _) => {
                self.descend()?;
                let value = Value::Object(self.mapping(role)?);
                self.depth -= 1;
                self.remember(anchor, &value, start);
                Ok(value)
            }
            _ => Err(self.error("unexpected YAML event")),
        }
    }

    /// Resolves one scalar by the mode's rules.
    fn scalar(&self, text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, Error> {
        let value = scalar(text, style, tag).map_err(|m| self.error(m))?;
        if self.mode.json_keys
            && style == ScalarStyle::Plain
            && tag.is_none()
            && matches!(value, Value::String(_))
        {
            // go-yaml v2 leaves timestamps as the text when decoding into JSON.
            return Ok(Value::String(text.to_owned()));
        }
        Ok(value)
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

    fn mapping(&mut self, role: Role) -> Result<Map<String, Value>, Error> {
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
                        match self.node(event, role)? {
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
                    let plain = style == ScalarStyle::Plain && tag.is_none();
                    let key = match yaml11_bool(&text) {
                        Some(b) if self.mode.json_keys && plain => Value::Bool(b),
                        _ => self.scalar(&text, style, tag.as_deref())?,
                    };
                    match key {
                        Value::String(s) => s,
                        Value::Bool(b) if self.mode.json_keys => b.to_string(),
                        Value::Number(n) if self.mode.json_keys => n.to_string(),
                        Value::Null if self.mode.json_keys => "null".to_owned(),
                        other => {
                            return Err(self
                                .error(format!("mapping key {other} is not a string; quote it")));
                        }
                    }
                }
                _ => return Err(self.error("mapping keys must be strings")),
            };
            let event = self.next()?;
            let value = self.node(event, role.child(&key))?;
            if map.contains_key(&key) && !self.mode.yaml11 {
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

/// YAML 1.1's booleans beyond `true` and `false`.
fn yaml11_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
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
                "bool" | "int" | "float" => resolve_plain(text).map_err(|e| e.to_string()),
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
    resolve_plain(text).map_err(|e| e.to_string())
}

/// A plain scalar that names a number JSON cannot hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScalarError(String);

/// Resolves an untagged plain scalar as go-yaml v3 does: null, a boolean,
/// an integer, a float, a timestamp (as its RFC 3339 string) or a string.
///
/// # Errors
/// [`ScalarError`] for `.inf` and `.nan`, which JSON cannot hold.
pub fn resolve_plain(text: &str) -> Result<Value, ScalarError> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(ScalarError(format!(
                "{text}: JSON cannot hold an infinite or NaN number"
            )));
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
            .map_err(|_| ScalarError(format!("{text}: bad float")))?;
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
pub(crate) fn go_int(text: &str) -> Option<Number> {
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
pub(crate) fn is_yaml_float(text: &str) -> bool {
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
pub(crate) fn timestamp(text: &str) -> Option<String> {
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
