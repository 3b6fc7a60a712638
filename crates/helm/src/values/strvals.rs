//! Helm's `--set` family (`pkg/strvals`): `--set`, `--set-string`, `--set-json`,
//! `--set-literal` and `--set-file`, parsed into `serde_json` values (checked against helm 4.1.4).
//!
//! A line is `name=value[,name=value...]`. Names split on `.` into nested maps and take list
//! indices (`a[0].b[2]=x`): lists grow, gaps hold `null`, an index is at most 65536, and at most
//! 30 `.` levels nest. `\` escapes the next character anywhere (`a\.b=x\,y`). The value of
//! `--set` is typed: `true`/`false`/`null` in any case, `0`, and base-10 integers without a leading
//! `0` are Go `int64`, everything else is a string; `{a,b}` is a list of such values; an empty
//! value is `""`. `--set-string` keeps every value a string, `--set-json` reads one JSON value
//! (nothing at all is `null`), `--set-literal` takes the rest of the line verbatim with no escapes,
//! and `--set-file` replaces each value with the content of the file it names.
//!
//! # Numbers
//!
//! `serde_json` does not say whether a number is an integer or a float, and Go's templates do, so
//! this module follows one convention: a [`serde_json::Number`] holding an `i64` stands for Go's
//! `int64` (what `--set` gives), one holding an `f64` stands for Go's `float64` (what `--set-json`
//! gives: `1` there is the float `1.0`). Typed `--set` never produces floats.
//!
//! # Errors and quirks
//!
//! Error texts are Helm's, so `Error: failed parsing --set data: <text>` reads as `helm` prints it.
//! Helm's quirks are kept: parsing stops without error when the line ends inside a name with an
//! index (`a[1` sets nothing; `a[0]` leaves `a`'s list as it is, or sets `a` to `[]`), a value
//! continues after a JSON value without a comma (`--set-json a=1x=2` sets `a` and `x`), and
//! meeting a value of another kind on the way (`--set a=1 --set a.b=2`) is Go's
//! `interface conversion` failure. One cap is ours: names and indices nest at most
//! [`MAX_DEPTH`] levels.

use std::io;

use serde_json::{Map, Number, Value};

/// Helm's largest list index (`strvals.MaxIndex`).
pub const MAX_INDEX: usize = 65536;

/// Helm's deepest `.` nesting of a name (`strvals.MaxNestedNameLevel`).
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// The deepest nesting of names and list indices together, and of a `--set-json` value. Helm
/// has no cap on list indices (`a[0][0]...`) and allows 10 000 JSON levels; values that deep
/// would overflow the stack of every recursive walk over them (dropping one included), so they
/// are refused by name here.
pub const MAX_DEPTH: usize = 1000;

/// Errors of this module, worded as Helm words them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name is not followed by `=` (`--set a`).
    #[error("key {key:?} has no value")]
    NoValue {
        /// The name without a value.
        key: String,
    },
    /// A name is followed by `,` (`--set a,b=1`).
    #[error("key {key:?} has no value (cannot end with ,)")]
    NoValueBeforeComma {
        /// The name without a value.
        key: String,
    },
    /// A `.` leads nowhere (`--set a.=1`).
    #[error("key map {key:?} has no value")]
    EmptyMap {
        /// The name before the `.`.
        key: String,
    },
    /// A name nests deeper than [`MAX_NESTED_NAME_LEVEL`].
    #[error(
        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
    )]
    TooDeep,
    /// Names and list indices nest deeper than [`MAX_DEPTH`] (a cap of ours, not Helm's).
    #[error(
        "names and list indices nest deeper than {MAX_DEPTH} levels; set the value in smaller \
         pieces or with a values file"
    )]
    NestedTooDeep,
    /// A list index is over [`MAX_INDEX`].
    #[error("index of {index} is greater than maximum supported index of {MAX_INDEX}")]
    IndexTooLarge {
        /// The index given.
        index: i64,
    },
    /// A list index is negative.
    #[error("negative {index} index not allowed")]
    NegativeIndex {
        /// The index given.
        index: i64,
    },
    /// A list index is not an integer (Go's `strconv.Atoi` failure).
    #[error("error parsing index: strconv.Atoi: parsing {text:?}: {reason}")]
    BadIndex {
        /// The text between `[` and `]`.
        text: String,
        /// `invalid syntax` or `value out of range`.
        reason: &'static str,
    },
    /// Something other than `[`, `.` or `=` follows a `]`.
    #[error("unexpected data at end of array index: [{}]", go_runes(.data))]
    AfterIndex {
        /// The text found after the `]`.
        data: String,
    },
    /// A `{...}` list value has no closing `}`.
    #[error("list must terminate with '}}'")]
    UnterminatedList,
    /// A name goes through a value of another kind, e.g. indexes a string or nests into a number.
    #[error("unable to parse key: interface conversion: interface {{}} is {found}, not {want}")]
    KindConflict {
        /// The Go type found (`int64`, `string`, `[]interface {}`, ...).
        found: &'static str,
        /// The Go type needed.
        want: &'static str,
    },
    /// A `--set-json` value is not valid JSON.
    #[error("key {key:?}: invalid JSON value: {message}; quote strings and check the brackets")]
    Json {
        /// The name whose value failed.
        key: String,
        /// What is wrong, in Go's `encoding/json` words.
        message: String,
    },
    /// A `--set-file` file could not be read.
    #[error("key {key:?}: reading file {path:?}: {source}")]
    File {
        /// The name whose value is the file.
        key: String,
        /// The path as written.
        path: String,
        /// The read failure.
        #[source]
        source: io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which member of the `--set` family a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--set`: typed values (booleans, null, `int64`, strings) and `{a,b}` lists.
    Typed,
    /// `--set-string`: every value a string (`{a,b}` lists still split).
    String,
    /// `--set-json`: each value one JSON document (numbers as `float64`); empty is `null`.
    Json,
    /// `--set-literal`: one name, and the whole rest of the line as its string value.
    Literal,
}

/// Parses one `--set`-style line into `dest`, overwriting what it names and keeping the rest.
///
/// # Errors
///
/// Any [`Error`] but [`Error::File`]; `dest` may then hold part of the line.
pub fn parse_into(text: &str, dest: &mut Map<String, Value>, mode: Mode) -> Result<()> {
    let kind = match mode {
        Mode::Typed => Kind::Typed,
        Mode::String => Kind::String,
        Mode::Json => Kind::Json,
        Mode::Literal => Kind::Literal,
    };
    Parser::new(text, kind).run(dest)
}

/// Parses one `--set-file` line into `dest`: each value is a path, replaced by the content
/// `read` returns for it (as a string).
///
/// # Errors
///
/// [`Error::File`] when `read` fails, or any parse error of [`parse_into`].
pub fn parse_file_into(
    text: &str,
    dest: &mut Map<String, Value>,
    mut read: impl FnMut(&str) -> Result<String, io::Error>,
) -> Result<()> {
    Parser::new(text, Kind::File(&mut read)).run(dest)
}

/// How values become `Value`s.
enum Kind<'r> {
    Typed,
    String,
    Json,
    Literal,
    File(&'r mut dyn FnMut(&str) -> Result<String, io::Error>),
}

/// Why parsing a name stopped: the end of the line (Go's `io.EOF`, which ends parsing quietly),
/// or an error.
enum Stop {
    End,
    Fail(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fail(e)
    }
}

type Step<T = ()> = std::result::Result<T, Stop>;

struct Parser<'r> {
    chars: Vec<char>,
    pos: usize,
    kind: Kind<'r>,
    /// The name being assigned, for error messages.
    current_key: String,
    /// How deep `key` and `list_item` recurse now.
    depth: usize,
}

impl<'r> Parser<'r> {
    fn new(text: &str, kind: Kind<'r>) -> Self {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            kind,
            current_key: String::new(),
            depth: 0,
        }
    }

    fn literal(&self) -> bool {
        matches!(self.kind, Kind::Literal)
    }

    fn run(mut self, dest: &mut Map<String, Value>) -> Result<()> {
        loop {
            match self.key(dest, 0) {
                Ok(()) => {}
                Err(Stop::End) => return Ok(()),
                Err(Stop::Fail(e)) => return Err(e),
            }
        }
    }

    /// Reads up to the first of `stop` (not escaped, unless literal): the text and the stop
    /// character, or `None` at the end of the line.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let escapes = !self.literal();
        let mut text = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if stop.contains(&c) {
                return (text, Some(c));
            }
            if escapes && c == '\\' {
                match self.chars.get(self.pos) {
                    Some(&next) => {
                        self.pos += 1;
                        text.push(next);
                    }
                    None => return (text, None),
                }
            } else {
                text.push(c);
            }
        }
        (text, None)
    }

    /// One name (and its value) into `data`; Go's `parser.key`.
    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Step {
        self.nested(|parser| parser.key_inner(data, level))
    }

    /// Runs one level of recursion under the depth cap.
    fn nested(&mut self, step: impl FnOnce(&mut Self) -> Step) -> Step {
        if self.depth >= MAX_DEPTH {
            return Err(Error::NestedTooDeep.into());
        }
        self.depth += 1;
        let result = stacker::maybe_grow(64 * 1024, 1024 * 1024, || step(self));
        self.depth -= 1;
        result
    }

    fn key_inner(&mut self, data: &mut Map<String, Value>, level: usize) -> Step {
        let stop: &[char] = if self.literal() {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (key, delimiter) = self.until(stop);
        match delimiter {
            None if key.is_empty() => Err(Stop::End),
            None => Err(Error::NoValue { key }.into()),
            Some('[') => {
                let index = self.index()?;
                let (mut list, existing_len) = match data.get_mut(&key) {
                    Some(Value::Array(list)) => {
                        let len = list.len();
                        (std::mem::take(list), Some(len))
                    }
                    Some(other) => return Err(conflict(other, LIST).into()),
                    None => (Vec::new(), None),
                };
                let result = self.list_item(&mut list, index, level);
                if key.is_empty() {
                    // Go does not store under an empty name, but changes made in place to an
                    // existing list stay.
                    if let (Some(len), Some(Value::Array(slot))) = (existing_len, data.get_mut(""))
                    {
                        list.truncate(len);
                        *slot = list;
                    }
                } else {
                    data.insert(key, Value::Array(list));
                }
                result
            }
            Some('=') => {
                self.current_key.clone_from(&key);
                let value = self.value()?;
                set(data, key, value);
                Ok(())
            }
            Some(',') => {
                set(data, key.clone(), Value::String(String::new()));
                Err(Error::NoValueBeforeComma { key }.into())
            }
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(Error::TooDeep.into());
                }
                match data.get_mut(&key) {
                    Some(Value::Object(inner)) => {
                        let result = self.key(inner, level);
                        if result.is_ok() && inner.is_empty() {
                            return Err(Error::EmptyMap { key }.into());
                        }
                        result
                    }
                    Some(other) => Err(conflict(other, MAP).into()),
                    None => {
                        let mut inner = Map::new();
                        let result = self.key(&mut inner, level);
                        if result.is_ok() && inner.is_empty() {
                            return Err(Error::EmptyMap { key }.into());
                        }
                        if !inner.is_empty() {
                            set(data, key, Value::Object(inner));
                        }
                        result
                    }
                }
            }
        }
    }

    /// The index after a `[`, through its `]` (Go's `strconv.Atoi`).
    fn index(&mut self) -> Step<i64> {
        let (text, delimiter) = self.until(&[']']);
        if delimiter.is_none() {
            return Err(Stop::End);
        }
        atoi(&text).map_err(|reason| Error::BadIndex { text, reason }.into())
    }

    /// What follows `name[index]`, applied to `list`; Go's `parser.listItem`.
    fn list_item(&mut self, list: &mut Vec<Value>, index: i64, level: usize) -> Step {
        self.nested(|parser| parser.list_item_inner(list, index, level))
    }

    fn list_item_inner(&mut self, list: &mut Vec<Value>, index: i64, level: usize) -> Step {
        if index < 0 {
            return Err(Error::NegativeIndex { index }.into());
        }
        let (data, delimiter) = self.until(&['[', '.', '=']);
        if !data.is_empty() {
            return Err(Error::AfterIndex { data }.into());
        }
        // `index` is not negative here, and one past `usize` is over the cap anyway.
        let slot = usize::try_from(index).unwrap_or(usize::MAX);
        match delimiter {
            None => Err(Stop::End),
            Some('=') => {
                let value = self.value()?;
                set_index(list, index, value)
            }
            Some('[') => {
                let next = self.index()?;
                let existing = match list.get_mut(slot) {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(inner)) => Some(std::mem::take(inner)),
                    Some(other) => return Err(conflict(other, LIST).into()),
                };
                let existed = existing.is_some();
                let mut inner = existing.unwrap_or_default();
                match self.list_item(&mut inner, next, level) {
                    Ok(()) => set_index(list, index, Value::Array(inner)),
                    Err(stop) => {
                        // Go changed the existing inner list in place.
                        if existed {
                            list[slot] = Value::Array(inner);
                        }
                        Err(stop)
                    }
                }
            }
            Some(_) => {
                if let Some(existing) = list.get_mut(slot) {
                    // Go replaces a non-map in place (indices out of order), then fills the map
                    // in place.
                    if !existing.is_object() {
                        *existing = Value::Object(Map::new());
                    }
                    if let Value::Object(inner) = existing {
                        return self.key(inner, level);
                    }
                }
                let mut inner = Map::new();
                self.key(&mut inner, level)?;
                set_index(list, index, Value::Object(inner))
            }
        }
    }

    /// The value after `=`, as the mode reads it.
    fn value(&mut self) -> Step<Value> {
        if self.literal() {
            let rest: String = self.chars[self.pos..].iter().collect();
            self.pos = self.chars.len();
            return Ok(Value::String(rest));
        }
        if matches!(self.kind, Kind::Json) {
            if self.skip_blank_value() {
                return Ok(Value::Null);
            }
            let mut json = json::Reader::new(&self.chars[self.pos..]);
            let value = json.document().map_err(|message| Error::Json {
                key: self.current_key.clone(),
                message,
            })?;
            self.pos += json.consumed();
            self.skip_blank_value();
            return Ok(value);
        }
        match self.list_value()? {
            Some(list) => Ok(Value::Array(list)),
            None if self.pos >= self.chars.len() => Ok(Value::String(String::new())),
            None => {
                let (text, _) = self.until(&[',']);
                Ok(self.convert(text)?)
            }
        }
    }

    /// Skips whitespace up to and including a `,`: whether the value was empty (a `,` or the
    /// end came before anything else). Go's `parser.emptyVal`.
    fn skip_blank_value(&mut self) -> bool {
        while let Some(&c) = self.chars.get(self.pos) {
            if c == ',' {
                self.pos += 1;
                return true;
            }
            if !c.is_whitespace() {
                return false;
            }
            self.pos += 1;
        }
        true
    }

    /// A `{a,b}` list value, or `None` when the value does not start with `{`.
    fn list_value(&mut self) -> Step<Option<Vec<Value>>> {
        if self.chars.get(self.pos) != Some(&'{') {
            return Ok(None);
        }
        self.pos += 1;
        let mut list = Vec::new();
        loop {
            let (text, delimiter) = self.until(&[',', '}']);
            match delimiter {
                None => return Err(Error::UnterminatedList.into()),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.convert(text)?);
                    return Ok(Some(list));
                }
                Some(_) => list.push(self.convert(text)?),
            }
        }
    }

    /// One scalar value as the mode types it.
    fn convert(&mut self, text: String) -> Result<Value> {
        match &mut self.kind {
            Kind::Typed => Ok(typed(text)),
            Kind::File(read) => match read(&text) {
                Ok(content) => Ok(Value::String(content)),
                Err(source) => Err(Error::File {
                    key: self.current_key.clone(),
                    path: text,
                    source,
                }),
            },
            Kind::String | Kind::Json | Kind::Literal => Ok(Value::String(text)),
        }
    }
}

const LIST: &str = "[]interface {}";
const MAP: &str = "map[string]interface {}";

/// Go's `data[key] = val`, skipped for an empty name.
fn set(data: &mut Map<String, Value>, key: String, value: Value) {
    if !key.is_empty() {
        data.insert(key, value);
    }
}

/// Go's `setIndex`: grows `list` with nulls and sets `list[index]`.
fn set_index(list: &mut Vec<Value>, index: i64, value: Value) -> Step {
    if index < 0 {
        return Err(Error::NegativeIndex { index }.into());
    }
    let slot = usize::try_from(index).unwrap_or(usize::MAX);
    if slot > MAX_INDEX {
        return Err(Error::IndexTooLarge { index }.into());
    }
    if list.len() <= slot {
        list.resize(slot + 1, Value::Null);
    }
    list[slot] = value;
    Ok(())
}

/// Go's type name for a value met where a map or list was needed.
fn conflict(found: &Value, want: &'static str) -> Error {
    let found = match found {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => LIST,
        Value::Object(_) => MAP,
    };
    Error::KindConflict { found, want }
}

/// Go's `strconv.Atoi` on an index.
fn atoi(text: &str) -> std::result::Result<i64, &'static str> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    text.parse::<i64>().map_err(|_| "value out of range")
}

/// Go's `%q` of a `[]rune`: each rune quoted, space-separated (`'x' 'y'`).
fn go_runes(text: &str) -> String {
    let quoted: Vec<String> = text
        .chars()
        .map(|c| match c {
            '\'' => "'\\''".to_owned(),
            '"' => "'\"'".to_owned(),
            c => {
                let escaped = c.escape_debug().to_string();
                format!("'{escaped}'")
            }
        })
        .collect();
    quoted.join(" ")
}

/// Helm's `typedVal` for `--set`: booleans and null in any case, `int64`, or the string.
fn typed(text: String) -> Value {
    if go_equal_fold(&text, "true") {
        return Value::Bool(true);
    }
    if go_equal_fold(&text, "false") {
        return Value::Bool(false);
    }
    if go_equal_fold(&text, "null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::Number(Number::from(0_i64));
    }
    if !text.is_empty()
        && !text.starts_with('0')
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::Number(Number::from(n));
    }
    Value::String(text)
}

/// Go's `strings.EqualFold` against a lowercase ASCII word: ASCII case folding, plus the one
/// non-ASCII fold these words meet (`ſ`, U+017F, folds to `s`).
fn go_equal_fold(text: &str, word: &str) -> bool {
    let mut chars = text.chars();
    for w in word.chars() {
        match chars.next() {
            Some(c) if c.to_ascii_lowercase() == w || (w == 's' && c == 'ſ') => {}
            _ => return false,
        }
    }
    chars.next().is_none()
}

/// One JSON value read as Go's `encoding/json` decodes into `interface{}`: numbers are
/// `float64`, objects maps, arrays lists; the value ends where its grammar ends.
mod json {
    use serde_json::{Map, Number, Value};

    use super::MAX_DEPTH;

    pub(super) struct Reader<'a> {
        chars: &'a [char],
        pos: usize,
        depth: usize,
    }

    type Parsed<T = Value> = Result<T, String>;

    impl<'a> Reader<'a> {
        pub(super) fn new(chars: &'a [char]) -> Self {
            Reader {
                chars,
                pos: 0,
                depth: 0,
            }
        }

        /// How many characters the document took, leading whitespace included.
        pub(super) fn consumed(&self) -> usize {
            self.pos
        }

        /// One document: leading whitespace, then a value.
        pub(super) fn document(&mut self) -> Parsed {
            self.skip_space();
            self.value("looking for beginning of value")
        }

        fn peek(&self) -> Option<char> {
            self.chars.get(self.pos).copied()
        }

        fn skip_space(&mut self) {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                self.pos += 1;
            }
        }

        fn unexpected(&self, context: &str) -> String {
            match self.peek() {
                None => "unexpected EOF".to_owned(),
                Some(c) => format!("invalid character {} {context}", quote_char(c)),
            }
        }

        fn value(&mut self, context: &str) -> Parsed {
            match self.peek() {
                Some('{') => self.nested(Self::object),
                Some('[') => self.nested(Self::array),
                Some('"') => Ok(Value::String(self.string()?)),
                Some('t') => self.word("true", Value::Bool(true)),
                Some('f') => self.word("false", Value::Bool(false)),
                Some('n') => self.word("null", Value::Null),
                Some('-' | '0'..='9') => self.number(),
                _ => Err(self.unexpected(context)),
            }
        }

        fn nested(&mut self, read: fn(&mut Self) -> Parsed) -> Parsed {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!("exceeded max depth of {MAX_DEPTH}"));
            }
            let value = stacker::maybe_grow(64 * 1024, 1024 * 1024, || read(self))?;
            self.depth -= 1;
            Ok(value)
        }

        fn object(&mut self) -> Parsed {
            self.pos += 1;
            let mut map = Map::new();
            self.skip_space();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            loop {
                if self.peek() != Some('"') {
                    return Err(self.unexpected("looking for beginning of object key string"));
                }
                let key = self.string()?;
                self.skip_space();
                if self.peek() != Some(':') {
                    return Err(self.unexpected("after object key"));
                }
                self.pos += 1;
                self.skip_space();
                let value = self.value("looking for beginning of value")?;
                map.insert(key, value);
                self.skip_space();
                match self.peek() {
                    Some(',') => {
                        self.pos += 1;
                        self.skip_space();
                    }
                    Some('}') => {
                        self.pos += 1;
                        return Ok(Value::Object(map));
                    }
                    _ => return Err(self.unexpected("after object key:value pair")),
                }
            }
        }

        fn array(&mut self) -> Parsed {
            self.pos += 1;
            let mut list = Vec::new();
            self.skip_space();
            if self.peek() == Some(']') {
                self.pos += 1;
                return Ok(Value::Array(list));
            }
            loop {
                list.push(self.value("looking for beginning of value")?);
                self.skip_space();
                match self.peek() {
                    Some(',') => {
                        self.pos += 1;
                        self.skip_space();
                    }
                    Some(']') => {
                        self.pos += 1;
                        return Ok(Value::Array(list));
                    }
                    _ => return Err(self.unexpected("after array element")),
                }
            }
        }

        fn word(&mut self, word: &str, value: Value) -> Parsed {
            for expected in word.chars() {
                match self.peek() {
                    Some(c) if c == expected => self.pos += 1,
                    _ => {
                        return Err(self.unexpected(&format!(
                            "in literal {word} (expecting {})",
                            quote_char(expected)
                        )));
                    }
                }
            }
            Ok(value)
        }

        fn digits(&mut self) -> usize {
            let start = self.pos;
            while matches!(self.peek(), Some('0'..='9')) {
                self.pos += 1;
            }
            self.pos - start
        }

        fn number(&mut self) -> Parsed {
            let start = self.pos;
            if self.peek() == Some('-') {
                self.pos += 1;
            }
            match self.peek() {
                Some('0') => self.pos += 1,
                Some('1'..='9') => {
                    self.digits();
                }
                _ => return Err(self.unexpected("in numeric literal")),
            }
            if self.peek() == Some('.') {
                self.pos += 1;
                if self.digits() == 0 {
                    return Err(self.unexpected("after decimal point in numeric literal"));
                }
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some('+' | '-')) {
                    self.pos += 1;
                }
                if self.digits() == 0 {
                    return Err(self.unexpected("in exponent of numeric literal"));
                }
            }
            let text: String = self.chars[start..self.pos].iter().collect();
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| {
                    format!("json: cannot unmarshal number {text} into Go value of type float64")
                })
        }

        fn hex4(&mut self) -> Parsed<u32> {
            let mut code = 0;
            for _ in 0..4 {
                let digit = self.peek().and_then(|c| c.to_digit(16));
                match digit {
                    Some(d) => {
                        code = code * 16 + d;
                        self.pos += 1;
                    }
                    None => return Err(self.unexpected("in \\u hexadecimal character escape")),
                }
            }
            Ok(code)
        }

        fn string(&mut self) -> Parsed<String> {
            self.pos += 1;
            let mut out = String::new();
            loop {
                let Some(c) = self.peek() else {
                    return Err("unexpected EOF".to_owned());
                };
                match c {
                    '"' => {
                        self.pos += 1;
                        return Ok(out);
                    }
                    '\\' => {
                        self.pos += 1;
                        let escaped = match self.peek() {
                            Some('"') => '"',
                            Some('\\') => '\\',
                            Some('/') => '/',
                            Some('b') => '\u{8}',
                            Some('f') => '\u{c}',
                            Some('n') => '\n',
                            Some('r') => '\r',
                            Some('t') => '\t',
                            Some('u') => {
                                self.pos += 1;
                                out.push(self.unicode_escape()?);
                                continue;
                            }
                            _ => return Err(self.unexpected("in string escape code")),
                        };
                        self.pos += 1;
                        out.push(escaped);
                    }
                    c if u32::from(c) < 0x20 => {
                        return Err(self.unexpected("in string literal"));
                    }
                    c => {
                        self.pos += 1;
                        out.push(c);
                    }
                }
            }
        }

        /// After `\u`: the character, pairing surrogates; a lone surrogate is U+FFFD, as in Go.
        fn unicode_escape(&mut self) -> Parsed<char> {
            let first = self.hex4()?;
            if (0xD800..0xDC00).contains(&first)
                && self.chars.get(self.pos) == Some(&'\\')
                && self.chars.get(self.pos + 1) == Some(&'u')
            {
                let saved = self.pos;
                self.pos += 2;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                // Not a pair: the first is replaced, the second read again on its own.
                self.pos = saved;
            }
            Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
        }
    }

    /// Go's `quoteChar`.
    fn quote_char(c: char) -> String {
        match c {
            '\'' => "'\\''".to_owned(),
            '"' => "'\"'".to_owned(),
            c => format!("'{}'", c.escape_debug()),
        }
    }
}

#[cfg(test)]
mod tests;
