//! Sprig's list functions. Lists are never changed in place: `append` and friends return new
//! `[]interface {}` slices, as Sprig's do.

use super::convert::to_int64;
use super::{arg_int, arg_str, empty, strval};
use crate::template::{
    Arity, FuncError, Funcs, List, ListType, MAX_VALUE_DEPTH, Value, deep, sprintf,
};

pub(super) fn register(f: &mut Funcs) {
    f.insert("first", Arity::Exact(1), |_, a| {
        Ok(items(a, 0, "find first")?
            .first()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    f.insert("last", Arity::Exact(1), |_, a| {
        Ok(items(a, 0, "find last")?
            .last()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    f.insert("rest", Arity::Exact(1), |_, a| {
        Ok(list(
            items(a, 0, "find rest")?
                .get(1..)
                .unwrap_or_default()
                .to_vec(),
        ))
    });
    f.insert("initial", Arity::Exact(1), |_, a| {
        let v = items(a, 0, "find initial")?;
        Ok(list(
            v.get(..v.len().saturating_sub(1))
                .unwrap_or_default()
                .to_vec(),
        ))
    });
    // Helm's `slice` is Sprig's (lists only, indices cast to int), not Go's builtin.
    f.insert("slice", Arity::AtLeast(1), |_, a| {
        let v = match a.first().map(Value::underlying) {
            Some(Value::List(l)) => l,
            other => {
                let kind = other.as_ref().map_or("invalid", kind_of);
                return Err(format!("list should be type of slice or array but {kind}").into());
            }
        };
        let len = i64::try_from(v.items().len()).unwrap_or(i64::MAX);
        let start = a.get(1).map_or(0, |x| to_int64(Some(x)));
        let end = a.get(2).map_or(len, |x| to_int64(Some(x)));
        if start < 0 || end < start || end > len {
            return Err("reflect.Value.Slice: slice index out of bounds".into());
        }
        let (start, end) = (
            usize::try_from(start).unwrap_or(0),
            usize::try_from(end).unwrap_or(0),
        );
        let items = v.items().get(start..end).unwrap_or_default().to_vec();
        Ok(Value::List(List::typed(items, v.list_type())))
    });
    f.insert("reverse", Arity::Exact(1), |_, a| {
        let mut v = items(a, 0, "find reverse")?;
        v.reverse();
        Ok(list(v))
    });
    f.insert("toStrings", Arity::Exact(1), |_, a| {
        Ok(strings(strslice(a.first().unwrap_or(&Value::Nil))))
    });
    f.insert("append", Arity::Exact(2), |_, a| {
        let mut v = items(a, 0, "push")?;
        v.push(a.get(1).cloned().unwrap_or(Value::Nil));
        Ok(list(v))
    });
    f.insert("prepend", Arity::Exact(2), |_, a| {
        let mut v = items(a, 0, "prepend")?;
        v.insert(0, a.get(1).cloned().unwrap_or(Value::Nil));
        Ok(list(v))
    });
    f.insert("concat", Arity::AtLeast(0), |_, a| {
        let mut out = Vec::new();
        for v in a {
            match v.underlying() {
                Value::List(l) => out.extend(l.items().iter().cloned()),
                other => {
                    return Err(format!("Cannot concat type {} as list", kind_of(&other)).into());
                }
            }
        }
        Ok(list(out))
    });
    register_sets(f);
}

/// Membership, filtering, joining and generated lists.
fn register_sets(f: &mut Funcs) {
    f.insert("has", Arity::Exact(2), |_, a| {
        if a.get(1).is_none_or(Value::is_nil) {
            return Ok(Value::Bool(false));
        }
        let needle = a.first().unwrap_or(&Value::Nil);
        Ok(Value::Bool(
            items(a, 1, "find has")?
                .iter()
                .any(|v| deep_equal(v, needle)),
        ))
    });
    f.insert("uniq", Arity::Exact(1), |_, a| {
        let mut out: Vec<Value> = Vec::new();
        for v in items(a, 0, "find uniq")? {
            if !out.iter().any(|o| deep_equal(o, &v)) {
                out.push(v);
            }
        }
        Ok(list(out))
    });
    f.insert("compact", Arity::Exact(1), |_, a| {
        Ok(list(
            items(a, 0, "compact")?
                .into_iter()
                .filter(|v| !empty(v))
                .collect(),
        ))
    });
    f.insert("without", Arity::AtLeast(1), |_, a| {
        let omit = a.get(1..).unwrap_or_default();
        Ok(list(
            items(a, 0, "find without")?
                .into_iter()
                .filter(|v| !omit.iter().any(|o| deep_equal(o, v)))
                .collect(),
        ))
    });
    f.insert("join", Arity::Exact(2), |_, a| {
        let sep = arg_str(a, 0)?;
        Ok(Value::from(
            strslice(a.get(1).unwrap_or(&Value::Nil)).join(sep),
        ))
    });
    f.insert("sortAlpha", Arity::Exact(1), |_, a| {
        let v = a.first().unwrap_or(&Value::Nil);
        let mut s = match v.underlying() {
            Value::List(_) => strslice(v),
            _ => vec![strval(v)],
        };
        s.sort();
        Ok(strings(s))
    });
    f.insert("splitList", Arity::Exact(2), |_, a| {
        let (sep, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(strings(go_split(s, sep)))
    });
    f.insert("until", Arity::Exact(1), |_, a| {
        let n = arg_int(a, 0)?;
        let step = if n < 0 { -1 } else { 1 };
        Ok(until_step(0, n, step))
    });
    f.insert("untilStep", Arity::Exact(3), |_, a| {
        Ok(until_step(arg_int(a, 0)?, arg_int(a, 1)?, arg_int(a, 2)?))
    });
}

/// The most elements `until` and `untilStep` produce: more is refused rather than exhausting
/// memory.
const MAX_RANGE: i64 = 10_000_000;

fn until_step(from: i64, to: i64, by: i64) -> Value {
    let mut v = Vec::new();
    if by == 0 {
        return Value::List(List::typed(v, ListType::Int));
    }
    let mut i = from;
    while (by > 0 && i < to) || (by < 0 && i > to) {
        if i64::try_from(v.len()).unwrap_or(i64::MAX) >= MAX_RANGE {
            break;
        }
        v.push(Value::int(i));
        i = i.saturating_add(by);
    }
    Value::List(List::typed(v, ListType::Int))
}

fn list(items: Vec<Value>) -> Value {
    Value::List(List::new(items))
}

fn strings(items: Vec<String>) -> Value {
    Value::List(List::typed(
        items.into_iter().map(Value::from).collect(),
        ListType::String,
    ))
}

/// Argument `i` as a list, for Sprig's list functions (their "Cannot <op> on type <kind>").
fn items(a: &[Value], i: usize, op: &str) -> Result<Vec<Value>, FuncError> {
    match a.get(i).map(Value::underlying) {
        Some(Value::List(l)) => Ok(l.items().to_vec()),
        other => {
            let kind = other.as_ref().map_or("invalid", kind_of);
            Err(format!("Cannot {op} on type {kind}").into())
        }
    }
}

/// Go's `reflect.Kind` name of a value (Sprig's `kindOf`).
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Invalid | Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_, t) => t.go_name(),
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Object(o) => match o.underlying() {
            Some(Value::List(_)) => "slice",
            Some(Value::Map(_)) => "map",
            _ if o.type_name().starts_with('*') => "ptr",
            _ => "struct",
        },
    }
}

/// Sprig's `strslice`: a list's elements as strings (nil elements left out), any other value
/// as a one-element list (nil as none).
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v.underlying() {
        Value::List(l) => l
            .items()
            .iter()
            .filter(|x| !x.is_nil())
            .map(strval)
            .collect(),
        Value::Invalid | Value::Nil => Vec::new(),
        other => vec![strval(&other)],
    }
}

/// Go's `reflect.DeepEqual` over template values.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    equal_at(a, b, 0)
}

fn equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_VALUE_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Invalid | Value::Nil, Value::Invalid | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, tx), Value::Int(y, ty)) => x == y && tx == ty,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || (x - y).abs() == 0.0,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.list_type() == y.list_type()
                && x.items().len() == y.items().len()
                && x.items()
                    .iter()
                    .zip(y.items())
                    .all(|(p, q)| deep(|| equal_at(p, q, depth + 1)))
        }
        (Value::Map(x), Value::Map(y)) => {
            let (ex, ey) = (x.entries(), y.entries());
            x.map_type() == y.map_type()
                && ex.len() == ey.len()
                && ex
                    .iter()
                    .zip(&ey)
                    .all(|((kx, vx), (ky, vy))| kx == ky && deep(|| equal_at(vx, vy, depth + 1)))
        }
        (Value::Object(x), Value::Object(y)) => {
            sprintf("%v", std::slice::from_ref(a)) == sprintf("%v", std::slice::from_ref(b))
                && x.type_name() == y.type_name()
        }
        _ => false,
    }
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}
