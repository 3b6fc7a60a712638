//! Sprig's string functions.

use super::{arg_int, arg_str, strval};
use crate::template::{Arity, FuncError, Funcs, Map, MapType, Value, quote, sprintf};

pub(super) fn register(f: &mut Funcs) {
    register_more(f);
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

/// Sprig's string functions that cut, repeat and split.
fn register_more(f: &mut Funcs) {
    f.insert("repeat", Arity::Exact(2), |_, a| {
        let (count, s) = (arg_int(a, 0)?, arg_str(a, 1)?);
        let count = usize::try_from(count)
            .map_err(|_| FuncError::Failed("strings: negative Repeat count".to_owned()))?;
        if count.saturating_mul(s.len()) > MAX_REPEAT {
            return Err(FuncError::Failed(format!(
                "repeat: the result would exceed {MAX_REPEAT} bytes"
            )));
        }
        Ok(Value::from(s.repeat(count)))
    });
    f.insert("substr", Arity::Exact(3), |_, a| {
        let (start, end, s) = (arg_int(a, 0)?, arg_int(a, 1)?, arg_str(a, 2)?);
        substr(start, end, s)
    });
    f.insert("nospace", Arity::Exact(1), |_, a| {
        Ok(Value::from(
            arg_str(a, 0)?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    f.insert("trimAll", Arity::Exact(2), |_, a| {
        let (cutset, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(Value::str(s.trim_matches(|c| cutset.contains(c))))
    });
    f.insert("cat", Arity::AtLeast(0), |_, a| {
        let parts: Vec<Value> = a.iter().filter(|v| !v.is_nil()).cloned().collect();
        let format = vec!["%v"; parts.len()].join(" ");
        Ok(Value::from(sprintf(&format, &parts)))
    });
    f.insert("split", Arity::Exact(2), |_, a| {
        let (sep, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(indexed(s.split(sep).collect()))
    });
    f.insert("splitn", Arity::Exact(3), |_, a| {
        let (sep, n, s) = (arg_str(a, 0)?, arg_int(a, 1)?, arg_str(a, 2)?);
        if n == 0 {
            return Ok(indexed(Vec::new()));
        }
        let parts: Vec<&str> = match usize::try_from(n) {
            Ok(n) => s.splitn(n, sep).collect(),
            Err(_) => s.split(sep).collect(),
        };
        Ok(indexed(parts))
    });
    f.insert("title", Arity::Exact(1), |_, a| {
        Ok(Value::from(title(arg_str(a, 0)?)))
    });
}

/// The longest string `repeat` builds.
const MAX_REPEAT: usize = 64 * 1024 * 1024;

/// Sprig's `substr`: byte offsets; a negative start means from 0, an end out of range means to
/// the end.
fn substr(start: i64, end: i64, s: &str) -> Result<Value, FuncError> {
    let len = s.len();
    let (from, to) = if start < 0 {
        (0, usize::try_from(end).unwrap_or(len))
    } else if end < 0 || usize::try_from(end).is_ok_and(|e| e > len) {
        (usize::try_from(start).unwrap_or(len), len)
    } else {
        (
            usize::try_from(start).unwrap_or(len),
            usize::try_from(end).unwrap_or(len),
        )
    };
    match s.as_bytes().get(from..to) {
        Some(bytes) => Ok(Value::from(String::from_utf8_lossy(bytes).into_owned())),
        None => Err(FuncError::Failed(format!(
            "runtime error: slice bounds out of range [{from}:{to}]"
        ))),
    }
}

/// Sprig's `split` result: a `map[string]string` keyed `_0`, `_1`, ...
fn indexed(parts: Vec<&str>) -> Value {
    let entries = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::Map(Map::typed(entries, MapType::String))
}

/// Go's `strings.Title`: the first letter of each word upper-cased (a word starts after a
/// space, punctuation or symbol; letters, digits and `_` continue it).
fn title(s: &str) -> String {
    let mut prev_separator = true;
    s.chars()
        .map(|c| {
            let out = if prev_separator {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_separator = !(c.is_alphanumeric() || c == '_');
            out
        })
        .collect()
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
