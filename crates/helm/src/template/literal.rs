//! Go's literal syntax: quoted and raw strings (`strconv.Unquote`), character constants and
//! numbers (`strconv.ParseInt`/`ParseUint`/`ParseFloat` with base prefixes, underscores and hex
//! floats), as the template parser reads them.

use super::ast::Number;

/// Go's `strconv.Unquote` for a `"..."` or `` `...` `` literal. Errors are Go's `invalid syntax`.
pub(crate) fn unquote(text: &str) -> Result<String, String> {
    let invalid = || "invalid syntax".to_owned();
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        if raw.contains('`') {
            return Err(invalid());
        }
        return Ok(raw.replace('\r', ""));
    }
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(invalid)?;
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (c, tail) = unquote_char(rest, '"').ok_or_else(invalid)?;
        out.push_str(&c);
        rest = tail;
    }
    Ok(out)
}

/// Decodes one character or escape at the start of `s` (Go's `strconv.UnquoteChar`): its text
/// and the rest. Returns `None` on bad syntax.
#[expect(
    clippy::many_single_char_names,
    reason = "short names for the escape's parts read as Go's own unquoting"
)]
fn unquote_char(s: &str, quote: char) -> Option<(String, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        if c == '\n' {
            return None;
        }
        return Some((c.to_string(), chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c.to_string(), rest));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..n)?;
            let v = u32::from_str_radix(hex, 16).ok()?;
            let rest = rest.get(n..)?;
            if e == 'x' {
                // A byte: Go keeps it raw; only ASCII can be represented in a Rust string.
                let b = u8::try_from(v).ok()?;
                if b >= 0x80 {
                    return Some((char::from_u32(0xFFFD)?.to_string(), rest));
                }
                return Some((char::from(b).to_string(), rest));
            }
            Some((char::from_u32(v)?.to_string(), rest))
        }
        '0'..='7' => {
            let oct = format!("{e}{}", rest.get(..2)?);
            let v = u32::from_str_radix(&oct, 8).ok()?;
            if v > 255 {
                return None;
            }
            let rest = rest.get(2..)?;
            let b = u8::try_from(v).ok()?;
            if b >= 0x80 {
                return Some((char::from_u32(0xFFFD)?.to_string(), rest));
            }
            Some((char::from(b).to_string(), rest))
        }
        _ => None,
    }
}

/// Parses a character constant `'x'` into a number literal.
pub(crate) fn char_number(text: &str) -> Result<Number, String> {
    let malformed = || format!("malformed character constant: {text}");
    let inner = text.strip_prefix('\'').ok_or_else(malformed)?;
    let (c, tail) = unquote_char(inner, '\'').ok_or_else(malformed)?;
    if tail != "'" {
        return Err(malformed());
    }
    let mut chars = c.chars();
    let ch = chars.next().ok_or_else(malformed)?;
    let v = i64::from(u32::from(ch));
    Ok(Number {
        text: text.to_owned(),
        int: Some(v),
        uint: u64::try_from(v).ok(),
        #[expect(
            clippy::cast_precision_loss,
            reason = "a rune is at most 0x10FFFF, exact in f64"
        )]
        float: Some(v as f64),
        is_char: true,
    })
}

/// Parses a number literal as Go's template parser does (`newNumber`).
pub(crate) fn number(text: &str) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_owned(),
        int: None,
        uint: None,
        float: None,
        is_char: false,
    };
    if text.ends_with('i') {
        return Err(format!(
            "illegal number syntax: {}",
            super::fmt::quote(text, false)
        ));
    }
    let parsed = parse_int(text);
    if let Some(v) = parsed {
        if v >= 0 && !text.starts_with(['+', '-']) {
            n.uint = u64::try_from(v).ok();
        }
        n.int = i64::try_from(v).ok();
        if n.int == Some(0) {
            n.uint = Some(0);
        }
    }
    if let Some(i) = n.int {
        #[expect(clippy::cast_precision_loss, reason = "Go converts the same way")]
        let f = i as f64;
        n.float = Some(f);
    } else if let Some(u) = n.uint {
        #[expect(clippy::cast_precision_loss, reason = "Go converts the same way")]
        let f = u as f64;
        n.float = Some(f);
    } else if let Some(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!(
                "integer overflow: {}",
                super::fmt::quote(text, false)
            ));
        }
        n.float = Some(f);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_precision_loss,
            clippy::float_cmp,
            reason = "checked for exactness, as Go does"
        )]
        if f.fract() == 0.0 && f.abs() < 9.2e18 && (f as i64) as f64 == f {
            n.int = Some(f as i64);
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            clippy::float_cmp,
            reason = "checked for exactness, as Go does"
        )]
        if f.fract() == 0.0 && (0.0..1.8e19).contains(&f) && (f as u64) as f64 == f {
            n.uint = Some(f as u64);
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!(
            "illegal number syntax: {}",
            super::fmt::quote(text, false)
        ));
    }
    Ok(n)
}

/// Go's `ParseInt(text, 0, 64)`/`ParseUint` range as one i128: sign, `0x`/`0o`/`0b`/legacy
/// octal prefixes, underscores between digits.
fn parse_int(text: &str) -> Option<i128> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..)?.to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if !underscores_ok(&digits, prefixed) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let v = u128::from_str_radix(&clean, radix).ok()?;
    if v > u128::from(u64::MAX) {
        return None;
    }
    let v = i128::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

/// Go's `underscoreOK` for the digits after an optional base prefix: an underscore must sit
/// between digits (or right after a base prefix).
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    let mut prev_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return false;
            }
            prev_underscore = true;
            prev_digit = false;
        } else {
            prev_digit = true;
            prev_underscore = false;
        }
    }
    !prev_underscore
}

/// Go's `ParseFloat(text, 64)` for the literal forms the lexer produces, hex floats included.
fn parse_float(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_'))
        {
            return None;
        }
        if !underscores_ok(lower.split(['.', 'e']).next().unwrap_or_default(), false) {
            return None;
        }
        let clean: String = lower.chars().filter(|&c| c != '_').collect();
        clean.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn parse_hex_float(hex: &str) -> Option<f64> {
    let (mantissa, exp) = hex.split_once('p')?;
    let exp: i32 = exp.replace('_', "").parse().ok()?;
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut value = 0f64;
    let mut digits = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(16)?;
        value = value * 16.0 + f64::from(d);
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let frac_digits = i32::try_from(frac_part.chars().filter(|&c| c != '_').count()).ok()?;
    Some(value * 2f64.powi(exp - 4 * frac_digits))
}

#[cfg(test)]
mod tests;
