//! Sprig's reflection and logic functions: `typeOf kindOf typeIs kindIs ternary coalesce`.

use super::arg_str;
use super::lists::kind_of;
use crate::template::{Arity, FuncError, Funcs, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("typeOf", Arity::Exact(1), |_, a| {
        Ok(Value::from(type_of(a.first())))
    });
    f.insert("kindOf", Arity::Exact(1), |_, a| {
        Ok(Value::str(a.first().map_or("invalid", kind_of)))
    });
    f.insert("typeIs", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(arg_str(a, 0)? == type_of(a.get(1))))
    });
    f.insert("kindIs", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(
            arg_str(a, 0)? == a.get(1).map_or("invalid", kind_of),
        ))
    });
    f.insert("ternary", Arity::Exact(3), |_, a| match a.get(2) {
        Some(Value::Bool(b)) => Ok(a.get(usize::from(!*b)).cloned().unwrap_or(Value::Nil)),
        other => Err(FuncError::ArgType {
            index: 2,
            expected: "bool".to_owned(),
            got: other
                .filter(|v| !v.is_nil())
                .map_or_else(|| "interface {}".to_owned(), Value::type_name),
        }),
    });
    f.insert("coalesce", Arity::AtLeast(0), |_, a| {
        Ok(a.iter()
            .find(|v| !super::empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    });
}

fn type_of(v: Option<&Value>) -> String {
    v.map_or_else(|| "<nil>".to_owned(), Value::type_name)
}
