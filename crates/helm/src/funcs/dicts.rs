//! Sprig's dictionary functions. `set` and `unset` change the map in place: every alias of it
//! (a variable, `.Values`, a map inside another) sees the change, as with Go's maps.

use super::arg_str;
use crate::template::{Arity, FuncError, Funcs, Map, MapType, Value};

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
