//! CEL (Common Expression Language) expressions over Kubernetes objects, as Flux evaluates them
//! for `spec.healthCheckExprs` (the object's top-level fields, `apiVersion`, `kind`, `metadata`,
//! `spec`, `status`, are the variables) and `spec.dependsOn[].readyExpr` (`self`, the object
//! being reconciled, and `dep`, the dependency).
//!
//! The language is cel-rust's standard environment with the optional syntax (`status.?x`,
//! `orValue`) that Kubernetes' CEL has. An expression is compiled once, when the spec is read, so
//! a syntax error is reported against the field that holds it; evaluating reports a missing field
//! or a wrong type as an error, which the callers treat as "not yet" (Flux waits on such an
//! expression until its timeout). Messages are capped in length: they may quote values of the
//! object, and an object's `spec` can be long.

use std::sync::{Arc, LazyLock};

use serde_json::Value;

/// The longest expression compiled, in bytes.
const MAX_SOURCE_BYTES: usize = 4096;

/// The list macros, whose cost is the length of the list they walk.
const COMPREHENSIONS: [&str; 5] = ["all", "exists", "exists_one", "map", "filter"];

/// The first list macro called inside another one's arguments, as `(outer, inner)`.
///
/// Evaluation runs on the reconciling thread and cel-rust has no cost limit, so cost is bounded
/// by shape: one level of list macros (chained ones are fine) walks each list once, linear in
/// the object's size, which the API server caps. Scanned on the text: string literals are
/// skipped, parentheses tracked.
fn nested_comprehension(source: &str) -> Option<(String, String)> {
    // One entry per open parenthesis: the list macro it calls, if any.
    let mut open: Vec<Option<String>> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut word = String::new();
    let mut dotted = false;
    let mut previous = ' ';
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                word.clear();
            }
            '(' => {
                let macro_name =
                    (dotted && COMPREHENSIONS.contains(&word.as_str())).then(|| word.clone());
                if let Some(inner) = &macro_name
                    && let Some(outer) = open.iter().rev().flatten().next()
                {
                    return Some((outer.clone(), inner.clone()));
                }
                open.push(macro_name);
                word.clear();
            }
            ')' => {
                open.pop();
                word.clear();
            }
            c if c.is_alphanumeric() || c == '_' => {
                if word.is_empty() {
                    dotted = previous == '.';
                }
                word.push(c);
            }
            c if c.is_whitespace() => {}
            _ => word.clear(),
        }
        if !c.is_whitespace() {
            previous = c;
        }
    }
    None
}

/// The longest error message kept, in characters.
const MESSAGE_LIMIT: usize = 240;

/// The standard environment, with optional values, shared by every evaluation.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// Why an expression could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The expression does not parse.
    #[error("{field}: the CEL expression {expression:?} does not parse: {message}")]
    Parse {
        /// The spec field holding it.
        field: String,
        /// The expression.
        expression: String,
        /// What the parser said.
        message: String,
    },
    /// Evaluating failed: a missing field, a type mismatch.
    #[error("{field}: evaluating {expression:?} failed: {message}")]
    Evaluate {
        /// The spec field holding it.
        field: String,
        /// The expression.
        expression: String,
        /// What the interpreter said.
        message: String,
    },
    /// The expression could take a tenant's object long to evaluate: too long, or list macros
    /// nested inside one another.
    #[error("{field}: the CEL expression {expression:?} is refused: {message}")]
    TooCostly {
        /// The spec field holding it.
        field: String,
        /// The expression (cut when long).
        expression: String,
        /// Why.
        message: String,
    },
    /// The result is not a boolean.
    #[error("{field}: {expression:?} evaluated to a {kind}, not a bool")]
    NotBool {
        /// The spec field holding it.
        field: String,
        /// The expression.
        expression: String,
        /// The type of the result.
        kind: &'static str,
    },
}

/// A compiled expression and the spec field it came from.
#[derive(Debug)]
pub struct Expression {
    field: String,
    source: String,
    program: cel::Program,
}

impl Expression {
    /// Compiles `source`, written in spec field `field` (named in errors).
    ///
    /// # Errors
    /// [`Error::Parse`].
    pub fn compile(field: &str, source: &str) -> Result<Self, Error> {
        let too_costly = |message: String| Error::TooCostly {
            field: field.to_owned(),
            expression: cap(source),
            message,
        };
        if source.len() > MAX_SOURCE_BYTES {
            return Err(too_costly(format!(
                "it is {} bytes long, above the limit of {MAX_SOURCE_BYTES}",
                source.len()
            )));
        }
        if let Some((outer, inner)) = nested_comprehension(source) {
            return Err(too_costly(format!(
                "`{inner}` is nested inside `{outer}`: nested list macros cost the product of the lists' lengths; chain them instead (`filter(...).exists(...)`)"
            )));
        }
        let program = ENV.compile(source).map_err(|e| Error::Parse {
            field: field.to_owned(),
            expression: source.to_owned(),
            message: cap(&e.to_string()),
        })?;
        Ok(Self {
            field: field.to_owned(),
            source: source.to_owned(),
            program,
        })
    }

    /// The expression as written.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The spec field it came from.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Evaluates to a boolean with `variables` bound.
    ///
    /// # Errors
    /// [`Error::Evaluate`] (a missing field, say) or [`Error::NotBool`].
    pub fn evaluate_bool(&self, variables: &[(&str, &Value)]) -> Result<bool, Error> {
        let mut context = cel::Context::with_env(Arc::clone(&ENV));
        for (name, value) in variables {
            context.add_variable_from_value(*name, to_cel(value));
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(Error::NotBool {
                field: self.field.clone(),
                expression: self.source.clone(),
                kind: kind_name(&other),
            }),
            Err(e) => Err(self.evaluate_error(&e.to_string())),
        }
    }

    /// Evaluates with the top-level fields of `obj` (`apiVersion`, `kind`, `metadata`, `spec`,
    /// `status`, ...) bound as variables, as Flux's health checks do.
    ///
    /// # Errors
    /// As [`Expression::evaluate_bool`].
    pub fn evaluate_on_object(&self, obj: &Value) -> Result<bool, Error> {
        let fields: Vec<(&str, &Value)> = obj
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default();
        self.evaluate_bool(&fields)
    }

    fn evaluate_error(&self, message: &str) -> Error {
        Error::Evaluate {
            field: self.field.clone(),
            expression: self.source.clone(),
            message: cap(message),
        }
    }
}

/// A JSON value as CEL sees a Kubernetes object's: whole numbers are `int` (as in Kubernetes'
/// CEL, so `metadata.generation + 1` and `x == 1` work), larger ones `uint`, others `double`.
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || {
                n.as_u64().map_or_else(
                    || cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    cel::Value::UInt,
                )
            },
            cel::Value::Int,
        ),
        Value::String(s) => cel::Value::from(s.as_str()),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => cel::Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), to_cel(v)))
                .collect::<std::collections::HashMap<String, cel::Value>>(),
        ),
    }
}

fn kind_name(value: &cel::Value) -> &'static str {
    match value {
        cel::Value::List(_) => "list",
        cel::Value::Map(_) => "map",
        cel::Value::Int(_) => "int",
        cel::Value::UInt(_) => "uint",
        cel::Value::Float(_) => "double",
        cel::Value::String(_) => "string",
        cel::Value::Bytes(_) => "bytes",
        cel::Value::Null => "null",
        _ => "value of another type",
    }
}

/// `text` cut to [`MESSAGE_LIMIT`] characters.
fn cap(text: &str) -> String {
    if text.chars().count() <= MESSAGE_LIMIT {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MESSAGE_LIMIT).collect();
    out.push('…');
    out
}
