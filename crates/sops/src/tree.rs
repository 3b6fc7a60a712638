//! The document tree as sops holds it: ordered mappings whose items may be
//! comments, lists whose elements may be comments, typed scalars.

use std::fmt;

/// A value in a SOPS document.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// Bytes (sops's `bytes` type).
    Bytes(Vec<u8>),
    /// A mapping, in document order.
    Map(Vec<Item>),
    /// A list, in document order; comments are [`Value::Comment`] elements.
    List(Vec<Value>),
    /// A comment (in a list).
    Comment(String),
}

/// An item of a mapping.
#[derive(Clone, PartialEq)]
pub enum Item {
    /// A key and its value.
    Pair(String, Value),
    /// A comment line (without its `#`).
    Comment(String),
}

/// A decrypted (or still encrypted) SOPS document: one branch per YAML
/// document (one for the other formats), without the `sops` metadata.
#[derive(Clone, PartialEq, Default)]
pub struct Document {
    /// The top-level mappings.
    pub branches: Vec<Vec<Item>>,
}

impl fmt::Debug for Document {
    // Plaintext stays out of logs and panics: only the shape is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Document {{ {} branch(es), redacted }}",
            self.branches.len()
        )
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Bool(_) => f.write_str("Bool(..)"),
            Self::Int(_) => f.write_str("Int(..)"),
            Self::Float(_) => f.write_str("Float(..)"),
            Self::String(_) => f.write_str("String(..)"),
            Self::Bytes(_) => f.write_str("Bytes(..)"),
            Self::Map(items) => f.debug_list().entries(items).finish(),
            Self::List(values) => f.debug_list().entries(values).finish(),
            Self::Comment(_) => f.write_str("Comment(..)"),
        }
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pair(key, value) => write!(f, "{key}: {value:?}"),
            Self::Comment(_) => f.write_str("Comment(..)"),
        }
    }
}

impl Value {
    /// The value as JSON, comments dropped (bytes become a string, lossily
    /// where they are not UTF-8; an integral float is written as an integer,
    /// as Go's JSON encoder writes it).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::Null | Self::Comment(_) => J::Null,
            Self::Bool(b) => J::Bool(*b),
            Self::Int(i) => J::from(*i),
            #[expect(
                clippy::cast_possible_truncation,
                reason = "only integral floats within i64's range are converted"
            )]
            Self::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => J::from(*f as i64),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Self::String(s) => J::String(s.clone()),
            Self::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Self::Map(items) => J::Object(items_to_json(items)),
            Self::List(values) => J::Array(
                values
                    .iter()
                    .filter(|v| !matches!(v, Self::Comment(_)))
                    .map(Self::to_json)
                    .collect(),
            ),
        }
    }
}

/// A mapping's pairs as a JSON object, comments dropped.
#[must_use]
pub(crate) fn items_to_json(items: &[Item]) -> serde_json::Map<String, serde_json::Value> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Pair(k, v) => Some((k.clone(), v.to_json())),
            Item::Comment(_) => None,
        })
        .collect()
}

impl Document {
    /// Each branch as a JSON object, comments dropped: what a Kubernetes
    /// object decrypted from a YAML or JSON document is.
    #[must_use]
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        self.branches
            .iter()
            .map(|b| serde_json::Value::Object(items_to_json(b)))
            .collect()
    }
}
