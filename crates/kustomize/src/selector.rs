//! Patch targets: kustomize's `Selector` (group, version, kind, name and
//! namespace as whole-string regular expressions, plus label and annotation
//! selectors in Kubernetes syntax).

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::resource::Resource;

/// A `target` of `patches` or `patchesJson6902`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Selector {
    /// API group, a regular expression.
    pub group: String,
    /// API version, a regular expression.
    pub version: String,
    /// Kind, a regular expression.
    pub kind: String,
    /// Name, a regular expression matched against the original and the
    /// current name.
    pub name: String,
    /// Namespace, a regular expression matched against the original and
    /// the current namespace (`default` for none).
    pub namespace: String,
    /// A label selector (`app=web,tier!=db`, `env in (a,b)`, `!legacy`).
    pub label_selector: String,
    /// An annotation selector in the same syntax.
    pub annotation_selector: String,
}

/// Why a [`Selector`] does not compile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is not a valid regular expression.
    #[error("target.{field} '{expression}' is not a valid regular expression: {source}")]
    Regex {
        /// The field (`kind`).
        field: &'static str,
        /// The expression as written.
        expression: String,
        /// The regular expression parser's reason.
        #[source]
        source: regex::Error,
    },
    /// A label or annotation selector is malformed.
    #[error("target.{field} '{selector}': {reason}")]
    Selector {
        /// The field (`labelSelector` or `annotationSelector`).
        field: &'static str,
        /// The selector as written.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A [`Selector`] ready to match.
pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// One requirement of a label selector.
#[derive(Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// Compiles the expressions and selectors.
    ///
    /// # Errors
    /// An [`Error`] naming the field whose expression or selector is
    /// malformed.
    pub fn compile(&self) -> Result<Compiled, Error> {
        let anchored = |field: &'static str, re: &str| -> Result<Option<Regex>, Error> {
            if re.is_empty() {
                return Ok(None);
            }
            Regex::new(&format!("^(?:{re})$"))
                .map(Some)
                .map_err(|source| Error::Regex {
                    field,
                    expression: re.to_owned(),
                    source,
                })
        };
        Ok(Compiled {
            group: anchored("group", &self.group)?,
            version: anchored("version", &self.version)?,
            kind: anchored("kind", &self.kind)?,
            name: anchored("name", &self.name)?,
            namespace: anchored("namespace", &self.namespace)?,
            labels: parse_selector(&self.label_selector).map_err(|reason| Error::Selector {
                field: "labelSelector",
                selector: self.label_selector.clone(),
                reason,
            })?,
            annotations: parse_selector(&self.annotation_selector).map_err(|reason| {
                Error::Selector {
                    field: "annotationSelector",
                    selector: self.annotation_selector.clone(),
                    reason,
                }
            })?,
        })
    }
}

impl Compiled {
    /// Whether the selector picks `res`.
    #[must_use]
    pub fn matches(&self, res: &Resource) -> bool {
        let current = res.id();
        let original = res.original_id();
        let effective = |res_cluster: bool, ns: &str| {
            if res_cluster {
                // kustomize's stand-in for "no namespace at all".
                "~X".to_owned()
            } else {
                ns.to_owned()
            }
        };
        let cluster = res.is_cluster_scoped();
        let hit = |re: &Option<Regex>, values: &[&str]| {
            re.as_ref()
                .is_none_or(|re| values.iter().any(|v| re.is_match(v)))
        };
        hit(
            &self.namespace,
            &[
                &effective(cluster, &original.namespace),
                &effective(cluster, &current.namespace),
            ],
        ) && hit(&self.name, &[&original.name, &current.name])
            && hit(&self.group, &[&current.group])
            && hit(&self.version, &[&current.version])
            && hit(&self.kind, &[&current.kind])
            && satisfied(&self.labels, res.obj.pointer("/metadata/labels"))
            && satisfied(&self.annotations, res.obj.pointer("/metadata/annotations"))
    }
}

/// Whether a label (or annotation) map satisfies a selector written in
/// Kubernetes syntax; an empty selector matches everything. (Flux's drift
/// ignore targets use kustomize's selectors too.)
///
/// # Errors
/// A message when the selector is malformed.
pub fn matches_selector(selector: &str, map: Option<&Value>) -> Result<bool, String> {
    Ok(satisfied(&parse_selector(selector)?, map))
}

fn satisfied(requirements: &[Requirement], map: Option<&Value>) -> bool {
    let get = |key: &str| -> Option<String> {
        map.and_then(|m| m.get(key)).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
        Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
        Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::DoesNotExist(k) => get(k).is_none(),
    })
}

/// Parses a Kubernetes label selector: comma-separated requirements
/// outside parentheses.
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    parts.push(&text[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().map(str::trim) {
        if part.is_empty() {
            if text.trim().is_empty() {
                continue;
            }
            return Err("an empty requirement".into());
        }
        out.push(parse_requirement(part)?);
    }
    Ok(out)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    let checked = |k: &str| -> Result<String, String> {
        if key_ok(k) {
            Ok(k.to_owned())
        } else {
            Err(format!("'{k}' is not a valid key"))
        }
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(checked(key.trim())?));
    }
    for (op, make) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            return Ok(make(checked(k.trim())?, v.trim().to_owned()));
        }
    }
    for (op, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((k, rest)) = part.split_once(op) {
            let list = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("'{part}': the values must be in parentheses"))?;
            let values = list.split(',').map(|v| v.trim().to_owned()).collect();
            let key = checked(k.trim())?;
            return Ok(if negated {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            });
        }
    }
    Ok(Requirement::Exists(checked(part)?))
}

#[cfg(test)]
mod tests {
    use super::{Requirement, parse_selector};

    #[test]
    fn label_selectors_parse() {
        assert_eq!(
            parse_selector("app=web, tier!=db,env in (a, b),!legacy,x notin (y),z").unwrap(),
            vec![
                Requirement::Equals("app".into(), "web".into()),
                Requirement::NotEquals("tier".into(), "db".into()),
                Requirement::In("env".into(), vec!["a".into(), "b".into()]),
                Requirement::DoesNotExist("legacy".into()),
                Requirement::NotIn("x".into(), vec!["y".into()]),
                Requirement::Exists("z".into()),
            ]
        );
        assert!(parse_selector("").unwrap().is_empty());
        assert!(parse_selector("a in (b").is_err());
        assert!(parse_selector("a b=c").is_err());
    }
}
