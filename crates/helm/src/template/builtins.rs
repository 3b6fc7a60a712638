//! Go's builtin template functions, with Go's rules and messages: `and or not len index slice
//! print printf println html js urlquery eq ne lt le gt ge call`.

use std::fmt::Write as _;

use super::error::FuncError;
use super::fmt::{sprint, sprintf, sprintln};
use super::funcs::{Funcs, Special};
use super::value::{Arity, IntType, List, Value};

/// Adds Go's builtins to `f`.
pub(crate) fn register(f: &mut Funcs) {
    f.insert_special("and", Arity::AtLeast(1), Special::And);
    f.insert_special("or", Arity::AtLeast(1), Special::Or);
    f.insert_special("call", Arity::AtLeast(1), Special::Call);
    f.insert_raw("not", Arity::Exact(1), |_, a| {
        Ok(Value::Bool(!first(a).is_true()))
    });
    f.insert_raw("len", Arity::Exact(1), |_, a| {
        length(&first(a).underlying())
    });
    f.insert_raw("index", Arity::AtLeast(1), |_, a| index(a));
    f.insert_raw("slice", Arity::AtLeast(1), |_, a| slice(a));
    f.insert_raw("eq", Arity::AtLeast(1), |_, a| {
        eq(first(a), a.get(1..).unwrap_or_default()).map(Value::Bool)
    });
    f.insert_raw("ne", Arity::Exact(2), |_, a| {
        eq(first(a), a.get(1..).unwrap_or_default()).map(|b| Value::Bool(!b))
    });
    f.insert_raw("lt", Arity::Exact(2), |_, a| {
        lt(first(a), second(a)).map(Value::Bool)
    });
    f.insert_raw("le", Arity::Exact(2), |_, a| {
        le(first(a), second(a)).map(Value::Bool)
    });
    f.insert_raw("gt", Arity::Exact(2), |_, a| {
        le(first(a), second(a)).map(|b| Value::Bool(!b))
    });
    f.insert_raw("ge", Arity::Exact(2), |_, a| {
        lt(first(a), second(a)).map(|b| Value::Bool(!b))
    });
    f.insert("print", Arity::AtLeast(0), |_, a| {
        Ok(Value::from(sprint(a)))
    });
    f.insert("println", Arity::AtLeast(0), |_, a| {
        Ok(Value::from(sprintln(a)))
    });
    f.insert("printf", Arity::AtLeast(1), |_, a| {
        let Some(Value::String(format)) = a.first() else {
            return Err(FuncError::ArgType {
                index: 0,
                expected: "string".to_owned(),
                got: first(a).type_name(),
            });
        };
        Ok(Value::from(sprintf(format, a.get(1..).unwrap_or_default())))
    });
    f.insert("html", Arity::AtLeast(0), |_, a| {
        Ok(Value::from(html_escape(&eval_args(a))))
    });
    f.insert("js", Arity::AtLeast(0), |_, a| {
        Ok(Value::from(js_escape(&eval_args(a))))
    });
    f.insert("urlquery", Arity::AtLeast(0), |_, a| {
        Ok(Value::from(query_escape(&eval_args(a))))
    });
}

fn first(a: &[Value]) -> &Value {
    a.first().unwrap_or(&Value::Invalid)
}

fn second(a: &[Value]) -> &Value {
    a.get(1).unwrap_or(&Value::Invalid)
}

fn length(v: &Value) -> Result<Value, FuncError> {
    let n = match v {
        Value::Invalid => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Nil => return Err("len of nil pointer".into()),
        Value::String(s) => s.len(),
        Value::List(l) => l.items().len(),
        Value::Map(m) => m.len(),
        other => return Err(format!("len of type {}", other.type_name()).into()),
    };
    Ok(Value::int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(index: &Value, cap: usize) -> Result<usize, FuncError> {
    let x = match index {
        Value::Int(i, _) => *i,
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!("cannot index slice/array with type {}", other.type_name()).into());
        }
    };
    match usize::try_from(x) {
        Ok(u) if u <= cap => Ok(u),
        _ => Err(format!("index out of range: {x}").into()),
    }
}

fn index(a: &[Value]) -> Result<Value, FuncError> {
    let mut item = first(a).underlying();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for idx in a.get(1..).unwrap_or_default() {
        item = match &item.underlying() {
            Value::Invalid | Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l) => {
                let x = index_arg(idx, l.items().len())?;
                l.items()
                    .get(x)
                    .cloned()
                    .ok_or("reflect: slice index out of range")?
            }
            Value::String(s) => {
                let x = index_arg(idx, s.len())?;
                let b = s
                    .as_bytes()
                    .get(x)
                    .copied()
                    .ok_or("reflect: string index out of range")?;
                Value::Int(i64::from(b), IntType::Uint8)
            }
            Value::Map(m) => match idx {
                Value::String(k) => m.get_or_zero(k),
                Value::Invalid | Value::Nil => {
                    return Err("value is nil; should be of type string".into());
                }
                other => {
                    return Err(
                        format!("value has type {}; should be string", other.type_name()).into(),
                    );
                }
            },
            other => return Err(format!("can't index item of type {}", other.type_name()).into()),
        };
    }
    Ok(item)
}

fn slice(a: &[Value]) -> Result<Value, FuncError> {
    let item = first(a);
    let indexes = a.get(1..).unwrap_or_default();
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()).into());
    }
    let cap = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.items().len(),
        other => return Err(format!("can't slice item of type {}", other.type_name()).into()),
    };
    let mut idx = [0, cap, cap];
    for (i, index) in indexes.iter().enumerate() {
        if let Some(slot) = idx.get_mut(i) {
            *slot = index_arg(index, cap)?;
        }
    }
    let [lo, hi, max] = idx;
    if lo > hi {
        return Err(format!("invalid slice index: {lo} > {hi}").into());
    }
    if indexes.len() == 3 && hi > max {
        return Err(format!("invalid slice index: {hi} > {max}").into());
    }
    match item {
        Value::String(s) => {
            let bytes = s.as_bytes().get(lo..hi).unwrap_or_default();
            Ok(Value::from(String::from_utf8_lossy(bytes).into_owned()))
        }
        Value::List(l) => {
            let items = l.items().get(lo..hi).unwrap_or_default().to_vec();
            Ok(Value::List(List::typed(items, l.list_type())))
        }
        _ => Ok(Value::Invalid),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    String,
    /// Not a basic kind: lists, maps, objects.
    Other,
}

/// Go's `basicKind`, after `indirectInterface` (nil is `None`).
fn kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Invalid | Value::Nil => None,
        Value::Bool(_) => Some(Kind::Bool),
        Value::Int(..) => Some(Kind::Int),
        Value::Float(_) => Some(Kind::Float),
        Value::String(_) => Some(Kind::String),
        _ => Some(Kind::Other),
    }
}

fn incompatible(a: &Value, b: &Value) -> FuncError {
    format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    )
    .into()
}

/// Go's `eq`: true when `a` equals any of `rest`.
fn eq(a: &Value, rest: &[Value]) -> Result<bool, FuncError> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = kind(a);
    for b in rest {
        let k2 = kind(b);
        let truth = if k1 == k2 {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x, _), Value::Int(y, _)) => x == y,
                (Value::Float(x), Value::Float(y)) => (x - y).abs() == 0.0,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Object(x), Value::Object(y)) => std::rc::Rc::ptr_eq(x, y),
                (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
                    if a.type_name() != b.type_name() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprintf("%s", std::slice::from_ref(a)),
                            a.type_name(),
                            sprintf("%s", std::slice::from_ref(b)),
                            b.type_name()
                        )
                        .into());
                    }
                    return Err(format!(
                        "non-comparable type {}: {}",
                        sprintf("%s", std::slice::from_ref(b)),
                        b.type_name()
                    )
                    .into());
                }
                _ => k1.is_none(),
            }
        } else {
            if k1.is_some() && k2.is_some() {
                return Err(incompatible(a, b));
            }
            false
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let bad = || FuncError::from("invalid type for comparison");
    let k1 = kind(a).ok_or_else(bad)?;
    let k2 = kind(b).ok_or_else(bad)?;
    if k1 != k2 {
        if k1 == Kind::Other || k2 == Kind::Other {
            return Err(bad());
        }
        return Err(incompatible(a, b));
    }
    match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ => Err(bad()),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, FuncError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `evalArgs` for `html`, `js` and `urlquery`: a lone string as is, otherwise `Sprint` of
/// the arguments (nil printed as `<no value>`).
fn eval_args(a: &[Value]) -> String {
    if let [Value::String(s)] = a {
        return s.to_string();
    }
    let shown: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nil() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    sprint(&shown)
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c if c.is_ascii() => out.push(c),
            c if !c.is_control() => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
