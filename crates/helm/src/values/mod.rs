//! Chart values as Helm builds them: values files read as `sigs.k8s.io/yaml` reads them
//! ([`read`]), the user's `-f`/`--set` sources merged in Helm's order ([`options`]),
//! coalesced over the chart tree's defaults ([`coalesce`]), subcharts enabled or disabled and
//! their values imported ([`deps`]), then turned into template values ([`to_template`]).
//!
//! Values are kept as `serde_json` maps until rendering: that is the model Helm has after its
//! YAML-to-JSON step. A JSON number held as an `f64` is Go's `float64` (every number read from
//! YAML or JSON, see [`read`]); one held as an integer is Go's `int64`, which only `--set` makes.

pub mod coalesce;
pub mod deps;
pub mod options;
pub mod read;
pub mod schema;
pub mod strvals;

use std::collections::BTreeMap;

use crate::template::{List, Map, MapType, Value};

/// A values tree: what Helm holds as `map[string]interface{}`.
pub type Values = serde_json::Map<String, serde_json::Value>;

/// The values as template values: maps shared and mutable, numbers `float64` except the
/// `int64`s that `--set` made.
#[must_use]
pub fn to_template(v: &serde_json::Value) -> Value {
    crate::template::deep(|| match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.is_f64(), n.as_i64()) {
            (false, Some(i)) => Value::Int(i, crate::template::IntType::Int64),
            _ => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => {
            Value::List(List::new(items.iter().map(to_template).collect()))
        }
        serde_json::Value::Object(m) => Value::Map(map_to_template(m, MapType::Any)),
    })
}

/// A values map as a template map of the given Go type.
#[must_use]
pub fn map_to_template(m: &Values, ty: MapType) -> Map {
    let entries: BTreeMap<String, Value> =
        m.iter().map(|(k, v)| (k.clone(), to_template(v))).collect();
    Map::typed(entries, ty)
}
