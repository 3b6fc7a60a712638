//! Sprig's dictionary functions. `set` and `unset` change the map in place: every alias of it
//! (a variable, `.Values`, a map inside another) sees the change, as with Go's maps.

use std::collections::BTreeMap;

use super::{arg_str, empty};
use crate::template::{
    Arity, FuncError, Funcs, List, ListType, MAX_VALUE_DEPTH, Map, MapType, Value, deep,
};

pub(super) fn register(f: &mut Funcs) {
    f.insert("set", Arity::Exact(3), |_, a| {
        let m = arg_map(a, 0)?;
        m.insert(
            arg_str(a, 1)?.to_owned(),
            a.get(2).cloned().unwrap_or(Value::Nil),
        );
        Ok(Value::Map(m))
    });
    f.insert("unset", Arity::Exact(2), |_, a| {
        let m = arg_map(a, 0)?;
        m.remove(arg_str(a, 1)?);
        Ok(Value::Map(m))
    });
    f.insert("hasKey", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(arg_map(a, 0)?.get(arg_str(a, 1)?).is_some()))
    });
    f.insert("merge", Arity::AtLeast(1), |_, a| merge_all(a, false));
    f.insert("mergeOverwrite", Arity::AtLeast(1), |_, a| {
        merge_all(a, true)
    });
    f.insert("deepCopy", Arity::Exact(1), |_, a| {
        Ok(deep_copy(a.first().unwrap_or(&Value::Nil)))
    });
    f.insert("omit", Arity::AtLeast(1), |_, a| {
        let m = arg_map(a, 0)?;
        let drop = key_args(a)?;
        Ok(new_map(
            m.entries()
                .into_iter()
                .filter(|(k, _)| !drop.contains(k))
                .collect(),
        ))
    });
    f.insert("pick", Arity::AtLeast(1), |_, a| {
        let m = arg_map(a, 0)?;
        let keep = key_args(a)?;
        Ok(new_map(
            m.entries()
                .into_iter()
                .filter(|(k, _)| keep.contains(k))
                .collect(),
        ))
    });
    f.insert("keys", Arity::AtLeast(0), |_, a| {
        let mut keys = Vec::new();
        for i in 0..a.len() {
            keys.extend(
                arg_map(a, i)?
                    .entries()
                    .into_iter()
                    .map(|(k, _)| Value::from(k)),
            );
        }
        Ok(Value::List(List::typed(keys, ListType::String)))
    });
    f.insert("values", Arity::Exact(1), |_, a| {
        Ok(Value::List(List::new(
            arg_map(a, 0)?
                .entries()
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        )))
    });
    f.insert("pluck", Arity::AtLeast(1), |_, a| {
        let key = arg_str(a, 0)?;
        let mut out = Vec::new();
        for i in 1..a.len() {
            if let Some(v) = arg_map(a, i)?.get(key) {
                out.push(v);
            }
        }
        Ok(Value::List(List::new(out)))
    });
    f.insert("dig", Arity::AtLeast(0), |_, a| dig(a));
    f.insert("get", Arity::Exact(2), |_, a| {
        Ok(arg_map(a, 0)?
            .get(arg_str(a, 1)?)
            .unwrap_or_else(|| Value::str("")))
    });
}

/// Argument `i` as a Go `map[string]interface {}` parameter (Helm's `common.Values` is
/// assignable to it; `map[string]string` is not).
fn arg_map(a: &[Value], i: usize) -> Result<Map, FuncError> {
    match a.get(i) {
        Some(Value::Map(m)) if m.map_type() != MapType::String => Ok(m.clone()),
        other => Err(FuncError::ArgType {
            index: i,
            expected: "map[string]interface {}".to_owned(),
            got: other
                .filter(|v| !v.is_nil())
                .map_or_else(|| "interface {}".to_owned(), Value::type_name),
        }),
    }
}

fn new_map(entries: BTreeMap<String, Value>) -> Value {
    Value::Map(Map::new(entries))
}

/// The string arguments after the first (`omit`/`pick` keys).
fn key_args(a: &[Value]) -> Result<Vec<String>, FuncError> {
    (1..a.len())
        .map(|i| arg_str(a, i).map(str::to_owned))
        .collect()
}

/// Sprig's `merge`/`mergeOverwrite`: every source merged into the first map, in place, with
/// mergo's rules, and the first map returned.
fn merge_all(a: &[Value], overwrite: bool) -> Result<Value, FuncError> {
    let dst = arg_map(a, 0)?;
    for i in 1..a.len() {
        let src = arg_map(a, i)?;
        merge_into(&dst, &src, overwrite, 0);
    }
    Ok(Value::Map(dst))
}

/// mergo's map merge: a key missing or empty in `dst` takes the source's value (every key when
/// overwriting; a nil source value only then); maps under the same key merge recursively in
/// place; a non-empty destination value is otherwise kept.
fn merge_into(dst: &Map, src: &Map, overwrite: bool, depth: usize) {
    if depth > MAX_VALUE_DEPTH {
        return;
    }
    for (key, s) in src.entries() {
        if s.is_nil() {
            if overwrite {
                dst.insert(key, Value::Nil);
            }
            continue;
        }
        let d = dst.get(&key);
        if let (Value::Map(sm), Some(Value::Map(dm))) = (&s, &d) {
            deep(|| merge_into(dm, sm, overwrite, depth + 1));
            if !dm.is_empty() {
                continue;
            }
        }
        let keep = match &d {
            None => false,
            Some(d) if empty(d) => false,
            Some(_) => !overwrite,
        };
        if !keep {
            dst.insert(key, s);
        }
    }
}

/// A copy of `v` sharing nothing mutable with it (Sprig's `deepCopy`).
pub(crate) fn deep_copy(v: &Value) -> Value {
    copy_at(v, 0)
}

fn copy_at(v: &Value, depth: usize) -> Value {
    if depth > MAX_VALUE_DEPTH {
        return v.clone();
    }
    match v {
        Value::Map(m) => Value::Map(Map::typed(
            m.entries()
                .into_iter()
                .map(|(k, v)| (k, deep(|| copy_at(&v, depth + 1))))
                .collect(),
            m.map_type(),
        )),
        Value::List(l) => Value::List(List::typed(
            l.items()
                .iter()
                .map(|x| deep(|| copy_at(x, depth + 1)))
                .collect(),
            l.list_type(),
        )),
        other => other.clone(),
    }
}

/// Sprig's `dig "a" "b" default dict`.
fn dig(a: &[Value]) -> Result<Value, FuncError> {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    // A type assertion in Sprig: only a plain `map[string]interface {}` passes (not `.Values`).
    let mut current = match a.last() {
        Some(Value::Map(m)) if m.map_type() == MapType::Any => m.clone(),
        other => {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                other.map_or_else(|| "nil".to_owned(), Value::type_name)
            )
            .into());
        }
    };
    let default = a.get(a.len() - 2).cloned().unwrap_or(Value::Nil);
    let keys = a.get(..a.len() - 2).unwrap_or_default();
    for (i, k) in keys.iter().enumerate() {
        let Value::String(k) = k else {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not string",
                k.type_name()
            )
            .into());
        };
        let Some(step) = current.get(k) else {
            return Ok(default);
        };
        if i + 1 == keys.len() {
            return Ok(step);
        }
        current = match step {
            Value::Map(m) if m.map_type() == MapType::Any => m,
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    if other.is_nil() {
                        "nil".to_owned()
                    } else {
                        other.type_name()
                    }
                )
                .into());
            }
        };
    }
    Ok(default)
}
