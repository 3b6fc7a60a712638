//! `spec.postBuild`: bash-style `${var}` substitution in each built object,
//! as Flux does it (on the object's YAML text, which is then read back, so
//! `replicas: ${count}` becomes a number).
//!
//! Forms: `${var}`, `${var:-default}`, `${var-default}`, `${var:=default}`,
//! `${var=default}` (a default is used when the variable is unset or empty,
//! and may itself hold `${...}`), and `$${var}` for a literal `${var}`. A
//! bare `$var` is left alone. A variable without a value or default becomes
//! the empty string, as in Flux without its `StrictPostBuildSubstitutions`
//! feature gate. Objects labelled or annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone, and
//! nothing is substituted when there are no variables at all.
//!
//! # Guarantees
//! Defaults nest at most [`MAX_NESTING`] deep: a deeper `${a:-${a:-...}}`
//! is an error naming the field, never a stack overflow on a shared worker.

use std::collections::BTreeMap;

use ferroflux_kustomize::yaml;
use serde_json::Value;

/// How deep `${...}` defaults may nest inside one another. Real manifests
/// nest two or three deep; the bound keeps a hostile one from recursing
/// until the worker's stack overflows.
pub const MAX_NESTING: usize = 32;

/// Opts an object out of substitution when set to `disabled`.
pub const SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Why variables could not be substituted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable name that is not a shell identifier.
    #[error(
        "'{name}' is not a valid variable name; use letters, digits and _, not starting with a digit"
    )]
    InvalidName {
        /// The name.
        name: String,
    },
    /// Defaults nested deeper than [`MAX_NESTING`].
    #[error(
        "defaults are nested more than {MAX_NESTING} deep in '${{{preview}'; flatten the expression"
    )]
    TooDeep {
        /// The start of the expression.
        preview: String,
    },
    /// A `${` without its `}`.
    #[error("missing closing brace in '${{{preview}'")]
    Unclosed {
        /// The start of the expression.
        preview: String,
    },
    /// A `${...}` that does not start with a variable name.
    #[error("'${{{body}}}' does not name a variable")]
    NoName {
        /// The expression between the braces.
        body: String,
    },
    /// A form other than `${var}` and its defaults (`${var:0:1}`).
    #[error(
        "'${{{body}}}' is not supported; use ${{{name}}}, ${{{name}:-default}} or ${{{name}:=default}}"
    )]
    Unsupported {
        /// The expression between the braces.
        body: String,
        /// The variable it names.
        name: String,
    },
    /// A substitution failing in one field of an object.
    #[error("field {field}: {source}")]
    Field {
        /// The field, as a dotted path.
        field: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// The object's YAML does not read back after substitution.
    #[error("the substituted object is not valid YAML: {0}")]
    NotYaml(#[source] yaml::Error),
    /// The object's YAML reads back as several documents.
    #[error("the substitution produced more than one document")]
    SeveralDocuments,
}

/// Checks that every variable name is a shell identifier.
///
/// # Errors
/// [`Error::InvalidName`] naming the first invalid name.
pub fn check_names(vars: &BTreeMap<String, String>) -> Result<(), Error> {
    for name in vars.keys() {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(Error::InvalidName { name: name.clone() });
        }
    }
    Ok(())
}

/// Substitutes `vars` into `obj` unless it opts out.
///
/// # Errors
/// An [`Error`] naming the variable or the malformed reference, and the
/// field ([`Error::Field`]) when it can be found.
pub fn substitute_object(obj: &mut Value, vars: &BTreeMap<String, String>) -> Result<(), Error> {
    if vars.is_empty() {
        return Ok(());
    }
    let opted_out = ["labels", "annotations"].iter().any(|m| {
        obj.pointer(&format!("/metadata/{m}"))
            .and_then(|map| map.get(SUBSTITUTE_KEY))
            .and_then(Value::as_str)
            == Some("disabled")
    });
    if opted_out {
        return Ok(());
    }
    let text = yaml::to_yaml(obj);
    let replaced = substitute(&text, vars).map_err(|e| match locate(obj, vars) {
        Some((field, source)) => Error::Field {
            field,
            source: Box::new(source),
        },
        None => e,
    })?;
    if replaced == text {
        return Ok(());
    }
    let mut docs = yaml::parse_documents(&replaced).map_err(Error::NotYaml)?;
    match (docs.pop(), docs.is_empty()) {
        (Some(doc), true) => {
            *obj = doc;
            Ok(())
        }
        _ => Err(Error::SeveralDocuments),
    }
}

/// The first string of `obj` (a key or a value) whose substitution fails,
/// as a dotted field path and the error; used to say where an error is,
/// since substitution itself runs over the whole YAML text.
fn locate(obj: &Value, vars: &BTreeMap<String, String>) -> Option<(String, Error)> {
    // An explicit stack: objects nest as deep as their YAML allowed.
    let mut pending = vec![(String::new(), obj)];
    while let Some((path, value)) = pending.pop() {
        match value {
            Value::String(s) => {
                if let Err(e) = substitute(s, vars) {
                    return Some((path, e));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    pending.push((format!("{path}[{i}]"), item));
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter().rev() {
                    let field = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if let Err(e) = substitute(key, vars) {
                        return Some((field, e));
                    }
                    pending.push((field, item));
                }
            }
            _ => {}
        }
    }
    None
}

/// Substitutes `vars` into `text`.
///
/// # Errors
/// An [`Error`] naming an unset variable, an unsupported form, a missing
/// closing brace or defaults nested deeper than [`MAX_NESTING`].
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, Error> {
    substitute_nested(text, vars, 0)
}

/// [`substitute`] inside `depth` enclosing defaults.
fn substitute_nested(
    text: &str,
    vars: &BTreeMap<String, String>,
    depth: usize,
) -> Result<String, Error> {
    if depth > MAX_NESTING {
        return Err(Error::TooDeep {
            preview: preview(text),
        });
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            // `$${x}`: a literal `${x}`, not substituted.
            out.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| Error::Unclosed {
                preview: preview(body),
            })?;
            out.push_str(&expand(&body[..end], vars, depth)?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` closing a `${`, allowing nested `${...}`.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}

/// One `${...}` body, inside `depth` enclosing defaults.
fn expand(body: &str, vars: &BTreeMap<String, String>, depth: usize) -> Result<String, Error> {
    let name_len = body
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(body.len());
    let (name, op) = body.split_at(name_len);
    if name.is_empty() {
        return Err(Error::NoName {
            body: body.to_owned(),
        });
    }
    let value = vars.get(name).filter(|v| !v.is_empty());
    let default = [":-", ":=", "-", "="]
        .iter()
        .find_map(|prefix| op.strip_prefix(prefix));
    match (value, op.is_empty(), default) {
        (Some(v), true, _) | (Some(v), _, Some(_)) => Ok(v.clone()),
        (None, _, Some(default)) => substitute_nested(default, vars, depth + 1),
        (None, true, None) => Ok(String::new()),
        (_, false, None) => Err(Error::Unsupported {
            body: body.to_owned(),
            name: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::{check_names, substitute, substitute_object};

    fn vars() -> BTreeMap<String, String> {
        [("app", "web"), ("count", "3"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn the_supported_forms_expand() {
        let v = vars();
        for (input, want) in [
            ("${app}-svc", "web-svc"),
            ("${missing:-a}${missing-b}${missing:=c}${missing=d}", "abcd"),
            ("${empty:=fallback}", "fallback"),
            ("${app:=other}", "web"),
            ("${missing:=${app}-x}", "web-x"),
            ("$${app} and $app and $", "${app} and $app and $"),
            ("[${nope}][${empty}]", "[][]"),
        ] {
            assert_eq!(substitute(input, &v).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn unsupported_and_unclosed_are_errors() {
        let v = vars();
        assert!(
            substitute("${app:0:1}", &v)
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
        assert!(
            substitute("${app", &v)
                .unwrap_err()
                .to_string()
                .contains("missing closing brace")
        );
        assert!(check_names(&[("1x".to_owned(), String::new())].into()).is_err());
        assert!(check_names(&vars()).is_ok());
    }

    /// Issue 15, defect 3: each nested default recursed once more, so a deep
    /// `${a:-${a:-...}}` overflowed the worker's stack and aborted the
    /// controller. Run on a thread with a small stack, as a tokio worker has.
    #[test]
    fn deeply_nested_defaults_are_an_error_not_a_stack_overflow() {
        let depth = 200_000;
        let text = format!("{}x{}", "${a:-".repeat(depth), "}".repeat(depth));
        let mut obj = json!({"kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"deep": text}});
        let err = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || substitute_object(&mut obj, &vars()))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(err.contains("field data.deep:"), "{err}");
        assert!(err.contains("nested more than 32 deep"), "{err}");
        // The bound itself still works.
        let ok = format!("{}x{}", "${a:-".repeat(32), "}".repeat(32));
        assert_eq!(substitute(&ok, &vars()).unwrap(), "x");
    }

    #[test]
    fn objects_are_substituted_as_yaml_unless_they_opt_out() {
        let v = vars();
        let mut obj = json!({"kind": "Deployment", "metadata": {"name": "${app}"},
            "spec": {"replicas": "${count}"}});
        substitute_object(&mut obj, &v).unwrap();
        assert_eq!(
            obj,
            json!({"kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3}})
        );
        let mut off = json!({"kind": "ConfigMap", "metadata": {"name": "${app}",
            "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}});
        let before = off.clone();
        substitute_object(&mut off, &v).unwrap();
        assert_eq!(off, before);
        let mut untouched = json!({"kind": "ConfigMap", "metadata": {"name": "${x}"}});
        substitute_object(&mut untouched, &BTreeMap::new()).unwrap();
        assert_eq!(untouched["metadata"]["name"], "${x}");
    }
}
