//! Helm's `lookup` against a live cluster.
//!
//! `helm template` has no cluster, so its `lookup` answers an empty map (the engine's default).
//! An install or upgrade answers from the cluster it writes to: a caller passes a [`Lookup`] in
//! [`crate::action::RenderOptions`], and [`function`] turns it into the template function.
//! The contract is Helm's: `lookup "<apiVersion>" "<kind>" "<namespace>" "<name>"` returns the
//! object as a map, a list object (`items`) when the name is empty, and an empty map when the
//! object does not exist; any other failure (a kind the cluster does not serve among them)
//! fails the render. Objects are decoded
//! as client-go's unstructured decoder does: whole numbers are `int64`, others `float64`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::template::{FuncError, IntType, List, Map, Value};

/// Reads objects from a cluster for `lookup`. Called from inside a render, which is
/// synchronous: an implementation backed by an async client blocks on it (the caller then
/// renders on a blocking thread).
pub trait Lookup: Send + Sync + std::fmt::Debug {
    /// The object `namespace`/`name` of `kind` in `api_version` (cluster-scoped when
    /// `namespace` is empty), or the list of them when `name` is empty; `Ok(None)` when the
    /// object does not exist.
    ///
    /// # Errors
    /// Any other failure (the API server unreachable, access denied), as a message naming the
    /// object; it must not carry the object's content.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, String>;
}

/// Most `lookup` calls one render may make.
pub const MAX_LOOKUPS: usize = 500;

/// The `lookup` template function answering from `source`.
pub(crate) fn function(
    source: Arc<dyn Lookup>,
) -> impl Fn(&crate::template::FuncContext<'_>, &[Value]) -> Result<Value, FuncError> + 'static {
    let calls = std::cell::Cell::new(0usize);
    move |_, a| {
        // Each call is a request to the API server: one tenant's chart looping over `lookup`
        // must not flood it or hold a worker for long.
        calls.set(calls.get() + 1);
        if calls.get() > MAX_LOOKUPS {
            return Err(FuncError::Failed(format!(
                "more than {MAX_LOOKUPS} lookups in one render; a chart this chatty is refused"
            )));
        }
        let mut args = [""; 4];
        for (i, slot) in args.iter_mut().enumerate() {
            *slot = crate::funcs::arg_str(a, i)?;
        }
        let [api_version, kind, namespace, name] = args;
        match source.lookup(api_version, kind, namespace, name) {
            Ok(Some(object)) => Ok(unstructured(&object)),
            Ok(None) => Ok(Value::Map(Map::new(BTreeMap::new()))),
            Err(message) => Err(FuncError::Failed(message)),
        }
    }
}

/// JSON decoded as client-go's unstructured decoder does: integers as `int64`.
fn unstructured(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i, IntType::Int64),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::List(List::new(items.iter().map(unstructured).collect()))
        }
        serde_json::Value::Object(m) => Value::Map(Map::new(
            m.iter()
                .map(|(k, v)| (k.clone(), unstructured(v)))
                .collect(),
        )),
    }
}
