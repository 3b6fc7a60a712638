//! Reading values files as Helm does: `sigs.k8s.io/yaml` (go-yaml v2, then JSON), so YAML 1.1
//! booleans (`yes`, `off`, ...) are booleans, every number is a `float64`, later documents of a
//! stream merge over earlier ones, and the top level must be a mapping.

use crate::values::Values;

/// A values file Helm would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The YAML does not parse.
    #[error("{file}: error converting YAML to JSON: {source}; fix the YAML")]
    Yaml {
        /// The file.
        file: String,
        /// The reader's error, with its line.
        source: ferroflux_yaml::Error,
    },
    /// A document is not a mapping.
    #[error(
        "{file}: error unmarshaling JSON: json: cannot unmarshal {found} into Go value of type map[string]interface {{}}; the top level of a values file must be a mapping"
    )]
    NotAMap {
        /// The file.
        file: String,
        /// What the document is (`array`, `string`, `number`, `bool`).
        found: &'static str,
    },
}

/// Reads one values file (`file` names it in errors). Empty documents read as nothing; several
/// documents merge, later keys winning.
///
/// # Errors
/// [`Error::Yaml`] for YAML that does not parse (or holds `.inf`/`.nan`), [`Error::NotAMap`] for
/// a document that is not a mapping.
pub fn read_values(text: &str, file: &str) -> Result<Values, Error> {
    let text = ferroflux_yaml::normalise(text);
    let docs = ferroflux_yaml::parse_documents_helm(&text).map_err(|source| Error::Yaml {
        file: file.to_owned(),
        source,
    })?;
    let mut out = Values::new();
    for doc in docs {
        match float_numbers(doc) {
            serde_json::Value::Object(m) => merge_into(&mut out, m),
            other => {
                return Err(Error::NotAMap {
                    file: file.to_owned(),
                    found: json_kind(&other),
                });
            }
        }
    }
    Ok(out)
}

/// Reads YAML as `fromYaml` does: any document kind, numbers as `float64`; `None` for an empty
/// stream. Only the first document counts when there are several, as go-yaml's `Unmarshal` reads one.
///
/// # Errors
/// The reader's error.
pub fn read_yaml(text: &str) -> Result<Option<serde_json::Value>, ferroflux_yaml::Error> {
    let docs = ferroflux_yaml::parse_documents_helm(text)?;
    Ok(docs.into_iter().next().map(float_numbers))
}

/// Go's JSON name for the kind of a value.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Null | serde_json::Value::Object(_) => "object",
    }
}

/// Every number as a `float64`, as Go's JSON decoder reads them into `interface{}`.
#[must_use]
pub fn float_numbers(v: serde_json::Value) -> serde_json::Value {
    crate::template::deep(|| match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(float_numbers).collect())
        }
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, float_numbers(v))).collect())
        }
        other => other,
    })
}

/// Merges `src` into `dest` as Helm merges values files: maps merge, anything else replaces.
pub fn merge_into(dest: &mut Values, src: Values) {
    for (k, v) in src {
        match (dest.get_mut(&k), v) {
            (Some(serde_json::Value::Object(d)), serde_json::Value::Object(s)) => {
                crate::template::deep(|| merge_into(d, s));
            }
            (_, v) => {
                dest.insert(k, v);
            }
        }
    }
}
