//! Sprig's path functions, as Go's `path` package (slash-separated, no OS rules): `base dir ext
//! clean isAbs`.

use super::arg_str;
use crate::template::{Arity, Funcs, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("base", Arity::Exact(1), |_, a| {
        Ok(Value::from(base(arg_str(a, 0)?)))
    });
    f.insert("dir", Arity::Exact(1), |_, a| {
        Ok(Value::from(dir(arg_str(a, 0)?)))
    });
    f.insert("ext", Arity::Exact(1), |_, a| {
        Ok(Value::from(ext(arg_str(a, 0)?)))
    });
    f.insert("clean", Arity::Exact(1), |_, a| {
        Ok(Value::from(clean(arg_str(a, 0)?)))
    });
    f.insert("isAbs", Arity::Exact(1), |_, a| {
        Ok(Value::Bool(arg_str(a, 0)?.starts_with('/')))
    });
}

/// Go's `path.Clean`: the shortest equivalent path (`.` and `..` resolved lexically).
/// Public as `funcs::go_path_clean` for the kustomize builder, which needs Go's paths too.
#[must_use]
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, trailing slashes ignored.
fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Go's `path.Dir`: everything before the last element, cleaned.
fn dir(p: &str) -> String {
    let cut = p.rfind('/').map_or(0, |i| i + 1);
    clean(p.get(..cut).unwrap_or_default())
}

/// Go's `path.Ext`: the suffix from the last dot of the last element.
fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return p.get(i..).unwrap_or_default().to_owned(),
            _ => {}
        }
    }
    String::new()
}
