//! kustomize's built-in `ValueAddTransformer`: one value written into the
//! fields its targets name, as kustomize 5.7.1 writes it.
//!
//! A target's `fieldPath` is split at `/` (`\/` is a literal slash) and
//! walked as kustomize's path getter walks it, creating what is missing: a
//! mapping key, `[key=value]` (the list element whose `key` is `value`,
//! appended when there is none; `[=value]` for a list of scalars), a list
//! index (a missing list is created and left empty: an index past the end
//! writes nothing), or `-` (the last element of an existing list). The
//! path must end at a scalar, or where none is. The value is written
//! untyped, so it reads back as YAML reads it (`123` is a number, `true` a
//! boolean), and with `filePathPosition` it is inserted into the path the
//! field holds instead of replacing it. `metadata/namespace` is special:
//! the value becomes the namespace as the namespace transformer sets it
//! (namespaced kinds only, and role-binding subjects named `default`).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{NamespaceMode, Subjects, apply_namespace};
use crate::Error;
use crate::resource::Resource;
use crate::selector::Selector;
use crate::yaml;

/// The transformer's configuration.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ValueAdd {
    value: String,
    targets: Vec<Target>,
    target_file_path: String,
}

/// Where the value goes.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Target {
    selector: Option<Selector>,
    field_path: String,
    file_path_position: i64,
}

/// The targets a `targetFilePath` file holds.
#[derive(Deserialize, Default)]
#[serde(default)]
struct TargetFile {
    targets: Vec<Target>,
}

impl ValueAdd {
    /// Completes the configuration as kustomize does before running it:
    /// the value trimmed (the kustomization directory's name when empty),
    /// the targets of `targetFilePath` appended (`read` loads the file),
    /// every target checked.
    pub(super) fn configure(
        mut self,
        dir: &Path,
        file: &Path,
        read: &dyn Fn(&str) -> Result<Vec<u8>, Error>,
    ) -> Result<Self, Error> {
        let invalid = |message: String| Error::Invalid {
            file: file.to_path_buf(),
            message,
        };
        self.value = self.value.trim().to_owned();
        if self.value.is_empty() {
            self.value = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if !self.target_file_path.is_empty() {
            let bytes = read(&self.target_file_path)?;
            let path = &self.target_file_path;
            let text = String::from_utf8_lossy(&bytes);
            let docs = yaml::parse_documents(&text)
                .map_err(|e| invalid(format!("targetFilePath {path}: {e}")))?;
            let mut extra = Vec::new();
            for doc in docs {
                let targets: TargetFile = serde_json::from_value(doc)
                    .map_err(|e| invalid(format!("targetFilePath {path}: {e}")))?;
                extra.extend(targets.targets);
            }
            self.targets.extend(extra);
        }
        if self.targets.is_empty() {
            return Err(invalid("must specify at least one target".into()));
        }
        for target in &self.targets {
            if target.field_path.is_empty() {
                return Err(invalid("a target's fieldPath cannot be empty".into()));
            }
            if target.file_path_position < 0 {
                return Err(invalid(format!(
                    "filePathPosition {} cannot be negative",
                    target.file_path_position
                )));
            }
        }
        Ok(self)
    }

    /// Writes the value into every target of every selected object.
    pub(super) fn apply(&self, acc: &mut [Resource]) -> Result<(), String> {
        for target in &self.targets {
            let selector = target
                .selector
                .as_ref()
                .map(Selector::compile)
                .transpose()
                .map_err(|e| e.to_string())?;
            for res in acc.iter_mut() {
                if selector.as_ref().is_some_and(|s| !s.matches(res)) {
                    continue;
                }
                if target.field_path == "metadata/namespace" {
                    let mode = NamespaceMode {
                        unset_only: false,
                        subjects: Subjects::DefaultOnly,
                    };
                    apply_namespace(&mut res.obj, &self.value, &[], mode);
                    continue;
                }
                write(&mut res.obj, target, &self.value)
                    .map_err(|e| format!("{}: fieldPath {}: {e}", res.id(), target.field_path))?;
            }
        }
        Ok(())
    }
}

/// `fieldPath` split at `/`, where `\/` is a slash inside a key.
fn split(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for piece in path.split('/') {
        match parts.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(piece);
            }
            _ => parts.push(piece.to_owned()),
        }
    }
    parts
}

/// One step of a path.
enum Step<'a> {
    Key(&'a str),
    Element(&'a str, &'a str),
    Index(i64),
    Last,
}

impl<'a> Step<'a> {
    fn of(part: &'a str) -> Result<Self, String> {
        if part == "*" {
            return Err("a wildcard is not supported here".into());
        }
        if part == "-" {
            return Ok(Self::Last);
        }
        if let Some(element) = crate::replacement::path::bracketed(part) {
            return element.map(|(k, v)| Self::Element(k, v));
        }
        Ok(part.parse::<i64>().map_or(Self::Key(part), Self::Index))
    }

    /// The empty node a missing field gets when this step comes next.
    fn container(&self) -> Value {
        match self {
            Self::Element(..) | Self::Index(_) => Value::Array(Vec::new()),
            Self::Key(_) | Self::Last => Value::Object(Map::new()),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "a mapping",
        Value::Array(_) => "a list",
        _ => "a scalar",
    }
}

/// Writes `value` at the target's path in `obj`.
fn write(obj: &mut Value, target: &Target, value: &str) -> Result<(), String> {
    let parts = split(&target.field_path);
    let steps = parts
        .iter()
        .map(|p| Step::of(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut node = obj;
    for (i, step) in steps.iter().enumerate() {
        let next = steps.get(i + 1);
        let fresh = || next.map_or(Value::Null, Step::container);
        if node.is_null() {
            *node = step.container();
        }
        node = match step {
            Step::Key(key) => {
                let Value::Object(map) = node else {
                    return Err(format!("`{key}` needs a mapping, found {}", kind_of(node)));
                };
                let field = map.entry((*key).to_owned()).or_insert_with(fresh);
                if field.is_null() {
                    *field = fresh();
                }
                field
            }
            Step::Element(key, want) => {
                let Value::Array(items) = node else {
                    return Err(format!(
                        "`[{key}={want}]` needs a list, found {}",
                        kind_of(node)
                    ));
                };
                let found = items.iter().position(|item| {
                    let text = if key.is_empty() {
                        Some(item)
                    } else {
                        item.get(*key)
                    };
                    text.is_some_and(|v| scalar_text(v).as_deref() == Some(*want))
                });
                let at = found.unwrap_or_else(|| {
                    let mut element = Map::new();
                    element.insert((*key).to_owned(), Value::String((*want).to_owned()));
                    items.push(if key.is_empty() {
                        Value::String((*want).to_owned())
                    } else {
                        Value::Object(element)
                    });
                    items.len() - 1
                });
                &mut items[at]
            }
            Step::Index(index) => {
                let Value::Array(items) = node else {
                    return Err(format!(
                        "index {index} needs a list, found {}",
                        kind_of(node)
                    ));
                };
                let Ok(at) = usize::try_from(*index) else {
                    return Err(format!("array index {index} cannot be negative"));
                };
                // Past the end: kustomize writes nothing (a list it just
                // created stays, empty).
                let Some(item) = items.get_mut(at) else {
                    return Ok(());
                };
                item
            }
            Step::Last => {
                let Value::Array(items) = node else {
                    return Err(format!("`-` needs a list, found {}", kind_of(node)));
                };
                let Some(item) = items.last_mut() else {
                    return Ok(());
                };
                item
            }
        };
    }
    if matches!(node, Value::Object(_) | Value::Array(_)) {
        return Err(format!("the field is {}, not a scalar", kind_of(node)));
    }
    let text = if target.file_path_position > 0 {
        let current = scalar_text(node).unwrap_or_default();
        insert_path_part(&current, target.file_path_position - 1, value)
    } else {
        value.to_owned()
    };
    *node = yaml::resolve_plain(&text).map_err(|e| format!("the value {e}"))?;
    Ok(())
}

/// A scalar's text as kustomize's matcher compares it.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Object(_) | Value::Array(_) => None,
    }
}

/// `part` inserted into the slash-separated `path` at `position` (0 is the
/// front; past the end appends), as kustomize's `InsertPathPart` does it:
/// a leading `/` stays in front and does not count as a position, and the
/// result is cleaned as Go's `filepath.Join` cleans it.
fn insert_path_part(path: &str, position: i64, part: &str) -> String {
    let mut parts = path_split(path);
    let mut at = usize::try_from(position).unwrap_or(0).min(parts.len());
    if parts.first().is_some_and(String::is_empty) && at < parts.len() {
        at += 1;
    }
    parts.insert(at, part.to_owned());
    match parts.split_first() {
        Some((first, rest)) if first.is_empty() => format!("/{}", join(rest)),
        _ => join(&parts),
    }
}

/// Go's `PathSplit` of kustomize: the parts of a path, the first one empty
/// when the path is absolute (and empty parts where slashes repeat).
fn path_split(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    let (dir, file) = path
        .rfind('/')
        .map_or(("", path), |i| (&path[..=i], &path[i + 1..]));
    if dir == "/" {
        return if file.is_empty() {
            vec![String::new()]
        } else {
            vec![String::new(), file.to_owned()]
        };
    }
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    if dir.is_empty() {
        return vec![file.to_owned()];
    }
    let mut parts = path_split(dir);
    parts.push(file.to_owned());
    parts
}

/// Go's `filepath.Join`: the non-empty parts joined with `/`, cleaned
/// (repeated slashes, `.` and `..` resolved); empty when all are empty.
fn join(parts: &[String]) -> String {
    let kept: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if kept.is_empty() {
        return String::new();
    }
    ferroflux_helm::funcs::go_path_clean(&kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_go_where_kustomize_puts_them() {
        assert_eq!(insert_path_part("pie", 0, "PEACH"), "PEACH/pie");
        assert_eq!(insert_path_part("/pie", 0, "PEACH"), "/PEACH/pie");
        assert_eq!(insert_path_part("raw", 1, "PEACH"), "raw/PEACH");
        assert_eq!(insert_path_part("/raw", 9, "PEACH"), "/raw/PEACH");
        assert_eq!(
            insert_path_part("a/nice/warm/pie", 3, "PEACH"),
            "a/nice/warm/PEACH/pie"
        );
        assert_eq!(
            insert_path_part("/a/nice/warm/pie", 3, "PEACH"),
            "/a/nice/warm/PEACH/pie"
        );
        assert_eq!(insert_path_part("", 3, "PEACH"), "PEACH");
        assert_eq!(insert_path_part("/", 3, "PEACH"), "/PEACH");
        assert_eq!(insert_path_part("a/../b", 1, "PEACH"), "a/b");
        assert_eq!(insert_path_part("a//b", 1, "PEACH"), "a/PEACH/b");
    }

    #[test]
    fn escaped_slashes_stay_in_the_key() {
        assert_eq!(split(r"data/new\/key"), vec!["data", "new/key"]);
    }
}
