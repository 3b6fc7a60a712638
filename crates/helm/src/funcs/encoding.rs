//! Sprig's encodings and hashes (`b64enc b64dec sha256sum`) and Helm's `toJson`, written as Go's
//! `encoding/json` writes: keys in byte order, `<`, `>` and `&` escaped, floats in Go's form.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::arg_str;
use crate::template::{Arity, Funcs, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("b64enc", Arity::Exact(1), |_, a| {
        Ok(Value::from(b64_encode(arg_str(a, 0)?.as_bytes())))
    });
    f.insert("b64dec", Arity::Exact(1), |_, a| {
        Ok(Value::from(match b64_decode(arg_str(a, 0)?) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => "illegal base64 data at input byte 0".to_owned(),
        }))
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
        let mut out = String::new();
        Ok(Value::from(
            if write_json(&mut out, a.first().unwrap_or(&Value::Nil)) {
                out
            } else {
                String::new()
            },
        ))
    });
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(bytes: &[u8]) -> String {
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

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        let mut pad = 0;
        for &c in chunk {
            let v = match c {
                b'=' => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return None,
                _ => u32::try_from(B64.iter().position(|&x| x == c)?).ok()?,
            };
            n = (n << 6) | v;
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(bytes.get(1..4 - pad)?);
    }
    Some(out)
}

/// Writes `v` as Go's `json.Marshal` would; false when Go would fail (NaN, infinities).
pub(crate) fn write_json(out: &mut String, v: &Value) -> bool {
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
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
        Value::String(s) => json_string(out, s),
        Value::List(l) => {
            out.push('[');
            for (k, item) in l.items().iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if !write_json(out, item) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (k, (key, item)) in m.entries().iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                json_string(out, key);
                out.push(':');
                if !write_json(out, item) {
                    return false;
                }
            }
            out.push('}');
        }
        Value::Object(o) => match o.underlying() {
            Some(u) => return write_json(out, &u),
            None => json_string(out, &o.format()),
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

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
