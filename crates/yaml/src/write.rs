//! Writing YAML as kustomize prints it (go-yaml v2 over JSON): keys sorted
//! in go-yaml's natural order, sequences not indented under their key,
//! strings quoted when they would read back as something else, multi-line
//! strings as literal blocks, and long values folded at spaces past column
//! 80 (keys never are).

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::read::{go_int, is_yaml_float, timestamp};

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
