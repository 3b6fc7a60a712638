//! Sprig's string functions.

use super::{arg_int, arg_str, strval};
use crate::template::{Arity, Funcs, Value, quote};

pub(super) fn register(f: &mut Funcs) {
    f.insert("quote", Arity::AtLeast(0), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| quote(&strval(v), false))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    f.insert("squote", Arity::AtLeast(0), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    f.insert("toString", Arity::Exact(1), |_, a| {
        Ok(Value::from(a.first().map(strval).unwrap_or_default()))
    });
    f.insert("indent", Arity::Exact(2), |_, a| {
        Ok(Value::from(indent(arg_int(a, 0)?, arg_str(a, 1)?)))
    });
    f.insert("nindent", Arity::Exact(2), |_, a| {
        Ok(Value::from(format!(
            "\n{}",
            indent(arg_int(a, 0)?, arg_str(a, 1)?)
        )))
    });
    f.insert("trimSuffix", Arity::Exact(2), |_, a| {
        let (suffix, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(Value::str(s.strip_suffix(suffix).unwrap_or(s)))
    });
    f.insert("trimPrefix", Arity::Exact(2), |_, a| {
        let (prefix, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(Value::str(s.strip_prefix(prefix).unwrap_or(s)))
    });
    f.insert("trunc", Arity::Exact(2), |_, a| {
        Ok(Value::from(trunc(arg_int(a, 0)?, arg_str(a, 1)?)))
    });
    f.insert("replace", Arity::Exact(3), |_, a| {
        let (old, new, src) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
        Ok(Value::from(go_replace_all(src, old, new)))
    });
    f.insert("upper", Arity::Exact(1), |_, a| {
        Ok(Value::from(arg_str(a, 0)?.to_uppercase()))
    });
    f.insert("lower", Arity::Exact(1), |_, a| {
        Ok(Value::from(arg_str(a, 0)?.to_lowercase()))
    });
    f.insert("trim", Arity::Exact(1), |_, a| {
        Ok(Value::str(arg_str(a, 0)?.trim()))
    });
    f.insert("contains", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(arg_str(a, 1)?.contains(arg_str(a, 0)?)))
    });
    f.insert("hasPrefix", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(arg_str(a, 1)?.starts_with(arg_str(a, 0)?)))
    });
    f.insert("hasSuffix", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(arg_str(a, 1)?.ends_with(arg_str(a, 0)?)))
    });
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0));
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Sprig's `trunc`: the first `c` bytes, or with a negative `c` the last `-c`.
fn trunc(c: i64, s: &str) -> String {
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    let cut = |from: i64, to: i64| -> String {
        let (from, to) = (
            usize::try_from(from).unwrap_or(0),
            usize::try_from(to).unwrap_or(0),
        );
        String::from_utf8_lossy(s.as_bytes().get(from..to).unwrap_or_default()).into_owned()
    };
    if c < 0 && len + c > 0 {
        return cut(len + c, len);
    }
    if c >= 0 && len > c {
        return cut(0, c);
    }
    s.to_owned()
}

/// Go's `strings.Replace(s, old, new, -1)`: an empty `old` inserts `new` around every character.
fn go_replace_all(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in s.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    s.replace(old, new)
}
