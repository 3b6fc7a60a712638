//! Helm's `toYaml` and `fromYaml`. `toYaml`: the value through Go's `encoding/json` and back through go-yaml v2 (what
//! `sigs.k8s.io/yaml.Marshal` does), then written by go-yaml v2, without the final newline.
//!
//! The JSON step decides the numbers: a `float64` that is a whole number below 1e21 is written
//! as integer digits, which go-yaml reads back as an integer (`1000000`, not `1e+06`); other
//! floats stay floats. A value JSON cannot hold (NaN, infinities) makes the whole result empty,
//! as Helm's `toYaml` swallows the error; so does a value nesting deeper than
//! [`MAX_VALUE_DEPTH`] (a map containing itself, where Go would crash).

use std::collections::BTreeMap;

use crate::template::{List, MAX_VALUE_DEPTH, Map, Value, deep};

/// Helm's `fromYaml`: the first document of `text` as a map (numbers `float64`, YAML 1.1
/// booleans); an empty map for an empty document; `{"Error": message}` when it does not read as
/// a map, as Helm reports the failure instead of failing.
pub(crate) fn from_yaml(text: &str) -> Value {
    let map = match crate::values::read::read_yaml(text) {
        Ok(None | Some(serde_json::Value::Null)) => Map::new(BTreeMap::new()),
        Ok(Some(serde_json::Value::Object(m))) => {
            crate::values::map_to_template(&m, crate::template::MapType::Any)
        }
        Ok(Some(other)) => error_map(&format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_json_kind(&other)
        )),
        Err(e) => error_map(&format!("error converting YAML to JSON: yaml: {e}")),
    };
    Value::Map(map)
}

/// Helm's `fromYamlArray`: the first document as a list; `[message]` when it is not one.
pub(crate) fn from_yaml_array(text: &str) -> Value {
    let items = match crate::values::read::read_yaml(text) {
        Ok(None | Some(serde_json::Value::Null)) => Vec::new(),
        Ok(Some(serde_json::Value::Array(items))) => {
            items.iter().map(crate::values::to_template).collect()
        }
        Ok(Some(other)) => vec![Value::from(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            go_json_kind(&other)
        ))],
        Err(e) => vec![Value::from(format!(
            "error converting YAML to JSON: yaml: {e}"
        ))],
    };
    Value::List(List::new(items))
}

fn error_map(message: &str) -> Map {
    let m = Map::new(BTreeMap::new());
    m.insert("Error".to_owned(), Value::from(message.to_owned()));
    m
}

fn go_json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Null | serde_json::Value::Object(_) => "object",
    }
}

/// `toYaml` of `v`.
pub(crate) fn to_yaml(v: &Value) -> String {
    match to_json(v, 0) {
        Some(json) => {
            let text = ferroflux_yaml::to_yaml(&json);
            text.strip_suffix('\n').unwrap_or(&text).to_owned()
        }
        None => String::new(),
    }
}

/// The value as Go's JSON encoder and go-yaml's reader of that JSON leave it.
fn to_json(v: &Value, depth: usize) -> Option<serde_json::Value> {
    if depth > MAX_VALUE_DEPTH {
        return None;
    }
    Some(match v {
        Value::Invalid | Value::Nil => serde_json::Value::Null,
        Value::Map(m) if m.is_nil_map() => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i, _) => serde_json::Value::from(*i),
        Value::Float(f) => float(*f)?,
        Value::String(s) => serde_json::Value::from(s.as_ref()),
        Value::List(l) => serde_json::Value::Array(
            l.items()
                .iter()
                .map(|x| deep(|| to_json(x, depth + 1)))
                .collect::<Option<_>>()?,
        ),
        Value::Map(m) => serde_json::Value::Object(
            m.entries()
                .iter()
                .map(|(k, v)| Some((k.clone(), deep(|| to_json(v, depth + 1))?)))
                .collect::<Option<_>>()?,
        ),
        Value::Object(o) => match o.underlying().or_else(|| super::marshalled(o.as_ref())) {
            Some(u) => to_json(&u, depth + 1)?,
            None => serde_json::Value::from(o.format()),
        },
    })
}

fn float(f: f64) -> Option<serde_json::Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        // Go's JSON writes the digits; go-yaml reads them as int64, then uint64, else float64.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "range checked first"
        )]
        if f.abs() < 9.223_372_036_854_775e18 {
            return Some(serde_json::Value::from(f as i64));
        } else if f > 0.0 && f < 1.844_674_407_370_955_2e19 {
            return Some(serde_json::Value::from(f as u64));
        }
    }
    serde_json::Number::from_f64(f).map(serde_json::Value::Number)
}
