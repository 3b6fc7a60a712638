//! `values.schema.json`: each chart's coalesced values checked against its schema (every JSON
//! Schema draft Helm accepts, chosen by `$schema`; no remote references are fetched), the
//! chart and its enabled subcharts in turn, failures worded as Helm 4 words them:
//!
//! ```text
//! values don't meet the specifications of the schema(s) in the following chart(s):
//! c:
//! - at '/port': got string, want integer
//! ```
//!
//! Several failures under one top-level key are grouped beneath it (`validation failed`), as
//! Helm's validator nests them; the order inside a group is this validator's, which may differ
//! from Helm's.

use std::fmt::Write as _;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value as Json;

use crate::chart::Chart;
use crate::values::Values;

/// Values that fail a schema, or a schema that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The values fail one or more charts' schemas; the text lists each failure by chart and
    /// value path.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Invalid(String),
    /// A chart's `values.schema.json` is not valid JSON or not a schema.
    #[error("{chart}: values.schema.json is not a usable JSON Schema: {message}")]
    BadSchema {
        /// The chart.
        chart: String,
        /// What is wrong.
        message: String,
    },
}

/// Checks `values` against the schema of `chart` and, with their own values, of its subcharts.
///
/// # Errors
/// [`Error::Invalid`] listing every failure, [`Error::BadSchema`] for a schema that does not
/// compile.
pub fn validate(chart: &Chart, values: &Values) -> Result<(), Error> {
    let mut report = String::new();
    collect(chart, values, &mut report)?;
    if report.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(report))
    }
}

fn collect(chart: &Chart, values: &Values, report: &mut String) -> Result<(), Error> {
    if let Some(schema) = &chart.schema {
        let bad = |message: String| Error::BadSchema {
            chart: chart.name().to_owned(),
            message,
        };
        let schema: Json = serde_json::from_slice(schema).map_err(|e| bad(e.to_string()))?;
        let validator = jsonschema::options()
            .build(&schema)
            .map_err(|e| bad(e.to_string()))?;
        let instance = Json::Object(values.clone());
        let failures: Vec<(String, String, bool)> = validator
            .iter_errors(&instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                let required = matches!(e.kind(), ValidationErrorKind::Required { .. });
                (
                    path,
                    message(e.kind(), e.instance(), &e.to_string()),
                    required,
                )
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(report, "{}:", chart.name());
            report.push_str(&format_failures(failures));
        }
    }
    for sub in &chart.dependencies {
        match values.get(sub.name()) {
            Some(Json::Object(sub_values)) => {
                crate::template::deep(|| collect(sub, sub_values, report))?;
            }
            _ => {
                let _ = writeln!(
                    report,
                    "{}:\nsubchart values type mismatch: expected map",
                    sub.name()
                );
            }
        }
    }
    Ok(())
}

/// Lists failures as Helm does: root failures (missing properties first), then each top-level
/// key's failures by key, grouped when there are several.
fn format_failures(failures: Vec<(String, String, bool)>) -> String {
    let mut missing = Vec::new();
    let mut root = Vec::new();
    let mut groups: std::collections::BTreeMap<String, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for (path, msg, required) in failures {
        if path.is_empty() {
            if required {
                missing.push(msg);
            } else {
                root.push(msg);
            }
            continue;
        }
        let top = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        groups.entry(top).or_default().push((path, msg));
    }
    let mut out = String::new();
    match missing.len() {
        0 => {}
        1 => {
            let _ = writeln!(out, "- at '': missing property {}", missing.join(", "));
        }
        _ => {
            let _ = writeln!(out, "- at '': missing properties {}", missing.join(", "));
        }
    }
    for (top, items) in groups {
        if let [(path, msg)] = items.as_slice() {
            let _ = writeln!(out, "- at '{path}': {msg}");
        } else {
            let _ = writeln!(out, "- at '/{top}': validation failed");
            for (path, msg) in items {
                let _ = writeln!(out, "  - at '{path}': {msg}");
            }
        }
    }
    for msg in root {
        let _ = writeln!(out, "- at '': {msg}");
    }
    out
}

/// A JSON value as Helm's validator quotes it: strings in single quotes, numbers as Go prints
/// them.
fn quoted(v: &Json) -> String {
    match v {
        Json::String(s) => format!("'{s}'"),
        Json::Number(n) => number(n),
        other => other.to_string(),
    }
}

fn number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 && !n.is_i64() && !n.is_u64() => {
            format!("{f:.0}")
        }
        _ => n.to_string(),
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn count(v: &Json) -> usize {
    match v {
        Json::Array(a) => a.len(),
        Json::Object(o) => o.len(),
        Json::String(s) => s.chars().count(),
        _ => 0,
    }
}

/// One failure in Helm's words, where Helm's are known; the validator's otherwise.
fn message(kind: &ValidationErrorKind, instance: &Json, fallback: &str) -> String {
    let limit = |name: &str, want: String, got: String| format!("{name}: got {got}, want {want}");
    match kind {
        ValidationErrorKind::Type { kind } => {
            let mut want: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
            };
            want.sort();
            format!("got {}, want {}", json_type(instance), want.join(" or "))
        }
        ValidationErrorKind::Required { property } => quoted(property),
        ValidationErrorKind::Enum { options } => {
            let items: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(quoted).collect())
                .unwrap_or_default();
            format!("value must be one of {}", items.join(", "))
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("value must be {}", quoted(expected_value))
        }
        ValidationErrorKind::Maximum { limit: l } => limit("maximum", quoted(l), quoted(instance)),
        ValidationErrorKind::Minimum { limit: l } => limit("minimum", quoted(l), quoted(instance)),
        ValidationErrorKind::ExclusiveMaximum { limit: l } => {
            limit("exclusiveMaximum", quoted(l), quoted(instance))
        }
        ValidationErrorKind::ExclusiveMinimum { limit: l } => {
            limit("exclusiveMinimum", quoted(l), quoted(instance))
        }
        ValidationErrorKind::MaxItems { limit: l } => {
            limit("maxItems", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::MinItems { limit: l } => {
            limit("minItems", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::MaxLength { limit: l } => {
            limit("maxLength", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::MinLength { limit: l } => {
            limit("minLength", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::MaxProperties { limit: l } => {
            limit("maxProperties", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::MinProperties { limit: l } => {
            limit("minProperties", l.to_string(), count(instance).to_string())
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected.iter().map(|n| format!("'{n}'")).collect();
            format!("additional properties {} not allowed", names.join(", "))
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!("{} does not match pattern '{pattern}'", quoted(instance))
        }
        ValidationErrorKind::Not { .. } => "'not' failed".to_owned(),
        ValidationErrorKind::FalseSchema => "false schema".to_owned(),
        _ => fallback.to_owned(),
    }
}
