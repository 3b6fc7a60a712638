//! Sprig's encodings and hashes (`b64enc b64dec sha256sum`) and Helm's `toJson`, written as Go's
//! `encoding/json` writes: keys in byte order, `<`, `>` and `&` escaped, floats in Go's form.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use std::collections::BTreeMap;

use super::arg_str;
use crate::template::{Arity, Funcs, List, MAX_VALUE_DEPTH, Map, Value, deep};

pub(super) fn register(f: &mut Funcs) {
    f.insert("b64enc", Arity::Exact(1), |_, a| {
        Ok(Value::from(b64_encode(arg_str(a, 0)?.as_bytes())))
    });
    f.insert("b64dec", Arity::Exact(1), |_, a| {
        Ok(Value::from(match b64_decode(arg_str(a, 0)?) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(at) => format!("illegal base64 data at input byte {at}"),
        }))
    });
    f.insert("sha1sum", Arity::Exact(1), |_, a| {
        Ok(Value::from(hex(&sha1(arg_str(a, 0)?.as_bytes()))))
    });
    f.insert("sha512sum", Arity::Exact(1), |_, a| {
        let digest = sha2::Sha512::digest(arg_str(a, 0)?.as_bytes());
        Ok(Value::from(digest.iter().fold(
            String::new(),
            |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            },
        )))
    });
    f.insert("sha256sum", Arity::Exact(1), |_, a| {
        let digest = Sha256::digest(arg_str(a, 0)?.as_bytes());
        Ok(Value::from(digest.iter().fold(
            String::new(),
            |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            },
        )))
    });
    f.insert("toJson", Arity::Exact(1), |_, a| {
        Ok(Value::from(json(a, Style::Compact)))
    });
    f.insert("toRawJson", Arity::Exact(1), |_, a| {
        Ok(Value::from(json(a, Style::Raw)))
    });
    f.insert("toPrettyJson", Arity::Exact(1), |_, a| {
        Ok(Value::from(json(a, Style::Pretty)))
    });
    f.insert("fromJson", Arity::Exact(1), |_, a| {
        let text = arg_str(a, 0)?;
        Ok(Value::Map(
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(m)) => {
                    Map::new(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
                }
                Ok(serde_json::Value::Null) => Map::new(BTreeMap::new()),
                Ok(other) => json_error(&format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
                Err(e) => json_error(&e.to_string()),
            },
        ))
    });
    f.insert("fromJsonArray", Arity::Exact(1), |_, a| {
        let text = arg_str(a, 0)?;
        Ok(Value::List(List::new(
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Array(items)) => items.iter().map(from_json).collect(),
                Ok(serde_json::Value::Null) => Vec::new(),
                Ok(other) => vec![Value::from(format!(
                    "json: cannot unmarshal {} into Go value of type []interface {{}}",
                    json_kind(&other)
                ))],
                Err(e) => vec![Value::from(e.to_string())],
            },
        )))
    });
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-1 (FIPS 180-4), for Sprig's `sha1sum`: no crate in the workspace provides it, and it is a
/// checksum here, not a security measure.
#[expect(
    clippy::many_single_char_names,
    reason = "the variable names of FIPS 180-4"
)]
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut msg = data.to_vec();
    let bit_len = u64::try_from(data.len())
        .unwrap_or(u64::MAX)
        .wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            if let (Some(slot), Ok(bytes)) = (w.get_mut(i), <[u8; 4]>::try_from(word)) {
                *slot = u32::from_be_bytes(bytes);
            }
        }
        // Indexes 16..80 and their offsets back by 3 to 16 are all within the 80 words.
        for i in 16..80 {
            let v = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
            w[i] = v.rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *slot = slot.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                let idx = usize::try_from((n >> (18 - 6 * k)) & 63).unwrap_or(0);
                out.push(char::from(B64.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base64.StdEncoding.DecodeString`: CR and LF are skipped; the error is the byte offset
/// Go reports (`illegal base64 data at input byte N`).
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, usize> {
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    let skip_newlines = |si: &mut usize| {
        while matches!(src.get(*si), Some(b'\n' | b'\r')) {
            *si += 1;
        }
    };
    loop {
        let mut quantum = [0u8; 4];
        let mut len = 0;
        let mut done = false;
        while len < 4 {
            skip_newlines(&mut si);
            let Some(&c) = src.get(si) else {
                if len == 0 {
                    return Ok(out);
                }
                return Err(si - len);
            };
            si += 1;
            if let Some(v) = B64.iter().position(|&x| x == c) {
                if let Some(slot) = quantum.get_mut(len) {
                    *slot = u8::try_from(v).unwrap_or(0);
                }
                len += 1;
                continue;
            }
            if c != b'=' || len < 2 {
                return Err(si - 1);
            }
            if len == 2 {
                skip_newlines(&mut si);
                match src.get(si) {
                    None => return Err(src.len()),
                    Some(b'=') => si += 1,
                    Some(_) => return Err(si - 1),
                }
            }
            skip_newlines(&mut si);
            if si < src.len() {
                return Err(si);
            }
            done = true;
            break;
        }
        let n = quantum
            .iter()
            .fold(0u32, |acc, &v| (acc << 6) | u32::from(v));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(bytes.get(1..len).unwrap_or_default());
        if done {
            return Ok(out);
        }
    }
}

/// How `toJson` and friends lay JSON out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `json.Marshal`: compact, `<>&` escaped.
    Compact,
    /// An encoder without HTML escaping.
    Raw,
    /// `json.MarshalIndent(v, "", "  ")`.
    Pretty,
}

/// The JSON text of the first argument, or "" where Go's encoder fails (Helm swallows it).
fn json(a: &[Value], style: Style) -> String {
    let mut out = String::new();
    if write_json(&mut out, a.first().unwrap_or(&Value::Nil), style, 0) {
        out
    } else {
        String::new()
    }
}

/// A map holding only `Error`, what Helm's `fromJson` returns for bad input.
fn json_error(msg: &str) -> Map {
    let mut m = BTreeMap::new();
    m.insert("Error".to_owned(), Value::str(msg));
    Map::new(m)
}

/// Go's name for a JSON value's kind in unmarshalling errors.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// JSON decoded as Go decodes into `interface {}`: numbers are `float64`.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::List(List::new(items.iter().map(from_json).collect()))
        }
        serde_json::Value::Object(m) => Value::Map(Map::new(
            m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect(),
        )),
    }
}

fn newline(out: &mut String, style: Style, depth: usize) {
    if style == Style::Pretty {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
}

/// Writes `v` as Go's JSON encoder would; false when Go would fail (NaN, infinities).
fn write_json(out: &mut String, v: &Value, style: Style, depth: usize) -> bool {
    if depth > MAX_VALUE_DEPTH {
        return false;
    }
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Map(m) if m.is_nil_map() => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if !f.is_finite() {
                return false;
            }
            out.push_str(&json_float(*f));
        }
        Value::String(s) => json_string(out, s, style),
        Value::List(l) => {
            out.push('[');
            for (k, item) in l.items().iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                if !deep(|| write_json(out, item, style, depth + 1)) {
                    return false;
                }
            }
            if !l.items().is_empty() {
                newline(out, style, depth);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            let entries = m.entries();
            for (k, (key, item)) in entries.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                json_string(out, key, style);
                out.push(':');
                if style == Style::Pretty {
                    out.push(' ');
                }
                if !deep(|| write_json(out, item, style, depth + 1)) {
                    return false;
                }
            }
            if !entries.is_empty() {
                newline(out, style, depth);
            }
            out.push('}');
        }
        Value::Object(o) => match o.underlying().or_else(|| super::marshalled(o.as_ref())) {
            Some(u) => return write_json(out, &u, style, depth),
            None => json_string(out, &o.format(), style),
        },
    }
    true
}

/// Go's JSON float: shortest digits, an exponent only below 1e-6 or from 1e21 (`1e-07` as
/// `1e-7`).
fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{}", exp.unsigned_abs());
    }
    let text = format!("{f}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

fn json_string(out: &mut String, s: &str, style: Style) {
    ferroflux_yaml::go_json::quote(out, s, style != Style::Raw);
}
