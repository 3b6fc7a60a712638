//! JSON Patch (RFC 6902) applied as kustomize v5.7.1 applies it: through
//! evanphx/json-patch v4, including where that library departs from the RFC.
//!
//! The departures, each checked against `kubectl kustomize`:
//! - `replace` of a missing member adds it; `copy` from a missing member
//!   copies `null`; `test` of a missing member passes against `null`.
//! - An absent `value` is `null`, for every op.
//! - Array indices are Go integers (`01`, `+1` and `-0` are accepted) and a
//!   negative index counts back from the end: `-1` is the last element, and
//!   for `add` it appends, like `-`.
//! - Whatever precedes the first `/` of a path is ignored (`spec/x` means
//!   `/x`); a path without `/` names nothing, and the empty path (the whole
//!   document) works only for `test` and `replace`.
//! - `add` never creates a missing parent, and `move` into its own child
//!   fails because the source is removed first.
//! - `test` compares values as the library does (see [`apply`]).
//! - The result goes through Go's `float64`: integers beyond ±2^53 are
//!   rounded, even by an empty operation list.
//!
//! [`parse`] only checks the list's shape. An unknown `op` or a missing
//! `path` is reported by [`apply`], as kustomize accepts such a patch when its
//! target selects nothing.

use std::fmt;

use serde_json::{Map, Number, Value};

/// Why an operation list could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The patch is not a sequence of operations.
    #[error("a JSON 6902 patch is a list of operations, not {found}")]
    NotAList {
        /// What it is instead (`a mapping`).
        found: &'static str,
    },
    /// An entry of the list is not a mapping.
    #[error("operation {index} is {found}, not a mapping with op and path")]
    NotAnOperation {
        /// The entry's position, from 0.
        index: usize,
        /// What it is instead.
        found: &'static str,
    },
    /// An operation did not apply.
    #[error("operation {index} ({operation}): {reason}")]
    Failed {
        /// The operation's position, from 0.
        index: usize,
        /// The operation: its op and path (and `from`).
        operation: String,
        /// Why it did not apply.
        reason: String,
    },
    /// The patched document is not a mapping.
    #[error("the patched document is {found}, not a mapping")]
    NotAMapping {
        /// What it is instead.
        found: &'static str,
    },
}

/// One operation, with its fields as written; they are checked when the
/// operation is applied, as kustomize does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Operation {
    /// `op`: `add`, `remove`, `replace`, `move`, `copy` or `test`; `None`
    /// when absent or not a string.
    pub op: Option<String>,
    /// `path`, a JSON pointer; `None` when absent or not a string.
    pub path: Option<String>,
    /// `from`, for `move` and `copy`; `None` when absent or not a string.
    pub from: Option<String>,
    /// `value`; an absent value is `null`, as in kustomize.
    pub value: Value,
}

/// Parses an operation list already decoded into a [`Value`]: a sequence
/// of mappings. A `null` entry is kept (kustomize fails on it only when it
/// applies the patch), and `null` instead of a sequence is an empty list.
///
/// # Errors
/// [`Error::NotAList`] when `ops` is not a sequence,
/// [`Error::NotAnOperation`] when an entry is not a mapping.
pub fn parse(ops: &Value) -> Result<Vec<Operation>, Error> {
    let entries = match ops {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) => entries,
        other => {
            return Err(Error::NotAList {
                found: type_name(other),
            });
        }
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match entry {
            Value::Object(fields) => Ok(Operation {
                op: string_field(fields, "op"),
                path: string_field(fields, "path"),
                from: string_field(fields, "from"),
                // The default Value is null.
                value: fields.get("value").cloned().unwrap_or_default(),
            }),
            Value::Null => Ok(Operation::default()),
            other => Err(Error::NotAnOperation {
                index: i,
                found: type_name(other),
            }),
        })
        .collect()
}

/// Applies the operations in order to `doc`, then passes every number
/// through Go's `float64` as kustomize's JSON round trip does
/// (`9007199254740993` becomes `9007199254740992`).
///
/// `test` compares as evanphx/json-patch does: mappings by their members
/// (in any order), sequences element by element, except that a sequence
/// holding `null` never compares equal (kubectl crashes on it); an integer
/// never equals a float below 1e18 (`1` is not `1.0`: kustomize compares
/// the JSON text).
///
/// # Errors
/// [`Error::Failed`] naming the operation (its index from 0, its op and
/// path) when one does not apply, [`Error::NotAMapping`] when the result is
/// not a mapping. `doc` may then be partly patched.
///
/// # Caveats
/// kustomize compares a `test` value as the patch's JSON text when the
/// patch is written as JSON, so `"a<b"` and `1.50` fail there (Go writes the
/// object's `<` as `\u003c` and `1.5` as `1.5`); a [`Value`] no longer holds
/// that text, so they pass here. `1.0` only stays a float when the patch
/// was decoded with `serde_json`; the YAML reader makes it `1`. kustomize
/// also applies `patches` (not `patchesJson6902`) to the object with its
/// internal `internal.config.kubernetes.io/previous*` annotations present,
/// which [`crate::patch::json`] adds so that `add /metadata/annotations/x`
/// finds a parent.
pub fn apply(doc: &mut Value, ops: &[Operation]) -> Result<(), Error> {
    for (i, op) in ops.iter().enumerate() {
        op.apply(doc).map_err(|reason| Error::Failed {
            index: i,
            operation: op.to_string(),
            reason,
        })?;
    }
    if !doc.is_object() {
        return Err(Error::NotAMapping {
            found: type_name(doc),
        });
    }
    through_float64(doc);
    Ok(())
}

impl Operation {
    fn apply(&self, doc: &mut Value) -> Result<(), String> {
        match self.op.as_deref() {
            Some("add") => add(doc, self.path_field()?, self.value.clone()),
            Some("remove") => remove(doc, self.path_field()?),
            Some("replace") => replace(doc, self.path_field()?, self.value.clone()),
            Some("test") => test(doc, self.path_field()?, &self.value),
            Some("move") => {
                let value = take(doc, self.source_field()?)?;
                add(doc, self.path_field()?, value)
            }
            Some("copy") => {
                let value = copied(doc, self.source_field()?)?;
                add(doc, self.path_field()?, value)
            }
            Some(other) => Err(format!(
                "unknown op {other:?}; use add, remove, replace, move, copy or test"
            )),
            None => Err(
                "op is missing or not a string; use add, remove, replace, move, copy or test"
                    .into(),
            ),
        }
    }

    fn path_field(&self) -> Result<&str, String> {
        self.path
            .as_deref()
            .ok_or_else(|| "path is missing or not a string".into())
    }

    fn source_field(&self) -> Result<&str, String> {
        self.from
            .as_deref()
            .ok_or_else(|| "from is missing or not a string".into())
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op.as_deref().unwrap_or("no op");
        let path = self.path.as_deref().map_or("(no path)", shown);
        match self.from.as_deref() {
            Some(from) if matches!(op, "move" | "copy") => {
                write!(f, "{op} {} to {path}", shown(from))
            }
            _ => write!(f, "{op} {path}"),
        }
    }
}

fn string_field(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (steps, key) = split(path)?;
    match parent(doc, &steps)? {
        Parent::Object(map) => {
            map.insert(key, value);
        }
        Parent::Array(items) => {
            let i = if key == "-" {
                items.len()
            } else {
                // One more slot than elements: the index may be the length.
                index(&key, items.len() + 1).ok_or_else(|| bad_index(path, items.len()))?
            };
            items.insert(i, value);
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<(), String> {
    let (steps, key) = split(path)?;
    match parent(doc, &steps)? {
        Parent::Object(map) => {
            if map.remove(&key).is_none() {
                return Err(format!("{path} does not exist"));
            }
        }
        Parent::Array(items) => {
            let i = index(&key, items.len()).ok_or_else(|| bad_index(path, items.len()))?;
            items.remove(i);
        }
    }
    Ok(())
}

fn replace(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        if !(value.is_object() || value.is_array()) {
            return Err(format!(
                "the whole document can only be replaced by a mapping or a sequence, not {}",
                type_name(&value)
            ));
        }
        *doc = value;
        return Ok(());
    }
    let (steps, key) = split(path)?;
    match parent(doc, &steps)? {
        // evanphx/json-patch adds a missing member (RFC 6902 says to fail).
        Parent::Object(map) => {
            map.insert(key, value);
        }
        Parent::Array(items) => {
            let i = index(&key, items.len()).ok_or_else(|| bad_index(path, items.len()))?;
            items[i] = value;
        }
    }
    Ok(())
}

fn test(doc: &mut Value, path: &str, want: &Value) -> Result<(), String> {
    let passed = if path.is_empty() {
        equal(doc, want)
    } else {
        let (steps, key) = split(path)?;
        let found = match parent(doc, &steps)? {
            Parent::Object(map) => map.get(&key),
            Parent::Array(items) => {
                let i = index(&key, items.len()).ok_or_else(|| bad_index(path, items.len()))?;
                items.get(i)
            }
        };
        match found {
            // The library sees no node for a missing member and for null
            // alike, and no node passes against null (or no value).
            None | Some(Value::Null) => want.is_null(),
            Some(found) => equal(found, want),
        }
    };
    if passed {
        Ok(())
    } else {
        Err(format!("the value at {} is not {want}", shown(path)))
    }
}

/// The source of `move`, removed from `doc`.
fn take(doc: &mut Value, from: &str) -> Result<Value, String> {
    let (steps, key) = split(from).map_err(|e| format!("from: {e}"))?;
    match parent(doc, &steps).map_err(|e| format!("from: {e}"))? {
        Parent::Object(map) => map
            .remove(&key)
            .ok_or_else(|| format!("from: {from} does not exist")),
        Parent::Array(items) => {
            let i = index(&key, items.len())
                .ok_or_else(|| format!("from: {}", bad_index(from, items.len())))?;
            Ok(items.remove(i))
        }
    }
}

/// The source of `copy`.
fn copied(doc: &mut Value, from: &str) -> Result<Value, String> {
    let (steps, key) = split(from).map_err(|e| format!("from: {e}"))?;
    match parent(doc, &steps).map_err(|e| format!("from: {e}"))? {
        // evanphx/json-patch copies a missing member as null.
        Parent::Object(map) => Ok(map.get(&key).cloned().unwrap_or_default()),
        Parent::Array(items) => {
            let i = index(&key, items.len())
                .ok_or_else(|| format!("from: {}", bad_index(from, items.len())))?;
            Ok(items[i].clone())
        }
    }
}

/// Splits a path as evanphx/json-patch does: the unescaped tokens leading
/// to the parent, and the last one.
fn split(path: &str) -> Result<(Vec<String>, String), String> {
    // Whatever precedes the first `/` is skipped, so `spec/x` means `/x`.
    let mut tokens: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    match tokens.pop() {
        Some(last) => Ok((tokens, last)),
        None if path.is_empty() => {
            Err("the empty path (the whole document) only works with test and replace".into())
        }
        None => Err(format!(
            "{path:?} names nothing; a JSON pointer starts with /"
        )),
    }
}

/// The mapping or sequence a path's parent tokens lead to.
enum Parent<'v> {
    Object(&'v mut Map<String, Value>),
    Array(&'v mut Vec<Value>),
}

fn parent<'v>(doc: &'v mut Value, steps: &[String]) -> Result<Parent<'v>, String> {
    let mut node = doc;
    for (depth, token) in steps.iter().enumerate() {
        // No step is created, and a null or a scalar has no children.
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => {
                let i = index(token, items.len())
                    .ok_or_else(|| bad_index(&pointer(&steps[..=depth]), items.len()))?;
                items.get_mut(i)
            }
            _ => None,
        }
        .ok_or_else(|| format!("{} does not exist", pointer(&steps[..=depth])))?;
    }
    match node {
        Value::Object(map) => Ok(Parent::Object(map)),
        Value::Array(items) => Ok(Parent::Array(items)),
        other => Err(format!(
            "{} is {}, not a mapping or a sequence",
            shown(&pointer(steps)),
            type_name(other)
        )),
    }
}

/// An array index as evanphx/json-patch reads it: a Go `int` (`01`, `+1`
/// and `-0` are accepted), a negative one counting back from `size`. Valid
/// in `-size..size`.
fn index(token: &str, size: usize) -> Option<usize> {
    let i = i128::from(token.parse::<i64>().ok()?);
    let size = i128::try_from(size).ok()?;
    let i = if i < 0 { i + size } else { i };
    if (0..size).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

fn bad_index(path: &str, len: usize) -> String {
    format!("{path} is not an index of this sequence of {len} elements")
}

fn pointer(steps: &[String]) -> String {
    let mut out = String::new();
    for token in steps {
        out.push('/');
        out.push_str(&token.replace('~', "~0").replace('/', "~1"));
    }
    out
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the whole document"
    } else {
        path
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// Whether `found` (in the document) equals `want` (in the patch), as
/// evanphx/json-patch decides it.
fn equal(found: &Value, want: &Value) -> bool {
    match (found, want) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
        (Value::String(a), Value::String(b)) => a == b,
        // The library dereferences a null element and panics, so a
        // sequence holding null never passes.
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| !x.is_null() && !y.is_null() && equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| equal(x, y)))
        }
        _ => false,
    }
}

/// Numbers compare as JSON text: Go's rendering of the object's number
/// against the patch's. An integral float below 1e18 in a [`Value`] cannot
/// come from the YAML reader (which makes it an integer, as kustomize's
/// round trip does), so it was written with a fraction or an exponent
/// (`1.0`, `1e0`), which never equals an integer's text.
fn numbers_equal(a: &Number, b: &Number) -> bool {
    match (a.is_f64(), b.is_f64()) {
        (false, false) => a == b,
        (true, true) => a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits),
        (float_first, _) => {
            let (float, int) = if float_first { (a, b) } else { (b, a) };
            float.as_f64().is_some_and(|f| {
                f.fract() == 0.0 && f.abs() >= 1e18 && format!("{f}") == int.to_string()
            })
        }
    }
}

/// kustomize reads the patched JSON back with Go's `encoding/json`, which
/// makes every number a `float64`, and its YAML layer types each number
/// again from the text Go prints for it.
fn through_float64(node: &mut Value) {
    match node {
        Value::Number(n) => *n = go_float(n),
        Value::Array(items) => items.iter_mut().for_each(through_float64),
        Value::Object(map) => map.values_mut().for_each(through_float64),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// A number after that round trip: an integral value below 1e21 prints as
/// an integer (shortest digits, then zeros: `12345678901234567000`) and
/// stays one if it fits 64 bits; anything else is a float.
fn go_float(n: &Number) -> Number {
    let Some(f) = n.as_f64() else {
        return n.clone();
    };
    if f.fract() == 0.0 && f.abs() < 1e21 {
        // Rust prints an integral f64 as Go does here: shortest digits,
        // padded with zeros, no exponent.
        let text = format!("{f}");
        if let Ok(i) = text.parse::<i64>() {
            return Number::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Number::from(u);
        }
    }
    Number::from_f64(f).unwrap_or_else(|| n.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Operation, apply, parse};

    fn doc() -> Value {
        json!({
            "kind": "Deployment",
            "spec": {
                "x": 1,
                "f": 1.5,
                "n": null,
                "s": "1",
                "arr": ["a", "b", "c"],
                "obj": {"k": "v", "a/b": 1, "m~n": 2}
            }
        })
    }

    /// [`doc`] after `ops`, or the error.
    fn patched(ops: &Value) -> Result<Value, String> {
        let mut out = doc();
        let ops = parse(ops).map_err(|e| e.to_string())?;
        apply(&mut out, &ops).map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// `spec` after one operation.
    fn spec_after(op: Value) -> Result<Value, String> {
        patched(&Value::Array(vec![op])).map(|d| d["spec"].clone())
    }

    fn fails(op: Value) -> bool {
        spec_after(op).is_err()
    }

    /// Whether a `test` of `path` against `value` passes on [`doc`].
    fn passes(path: &str, value: &Value) -> bool {
        spec_after(json!({"op": "test", "path": path, "value": value})).is_ok()
    }

    /// A `test` of `path` against `value` on `doc`.
    fn test_on(mut doc: Value, path: &str, value: &Value) -> Result<(), String> {
        let ops = parse(&json!([{"op": "test", "path": path, "value": value}]))
            .map_err(|e| e.to_string())?;
        apply(&mut doc, &ops).map_err(|e| e.to_string())
    }

    #[test]
    fn parse_checks_only_the_shape_of_the_list() {
        let ops = parse(&json!([
            {"op": "add", "path": "/a", "value": {"b": 1}, "extra": true},
            {"op": 5, "path": 7, "from": null},
            null
        ]))
        .unwrap();
        assert_eq!(
            ops,
            vec![
                Operation {
                    op: Some("add".into()),
                    path: Some("/a".into()),
                    from: None,
                    value: json!({"b": 1}),
                },
                Operation::default(),
                Operation::default(),
            ]
        );
        assert!(parse(&Value::Null).unwrap().is_empty());
        assert!(parse(&json!([1])).is_err());
        assert!(parse(&json!([["add"]])).is_err());
        assert!(parse(&json!({"op": "add", "path": "/a"})).is_err());
    }

    #[test]
    fn bad_operations_fail_when_applied() {
        for op in [
            json!({"op": "frob", "path": "/spec/x", "value": 1}),
            json!({"op": "ADD", "path": "/spec/y", "value": 1}),
            json!({"path": "/spec/x", "value": 1}),
            json!({"op": 5, "path": "/spec/x"}),
            json!({"op": "add", "value": 1}),
            json!({"op": "add", "path": 5, "value": 1}),
            json!({"op": "add", "path": null, "value": 1}),
            json!({"op": "test", "value": 1}),
            json!({"op": "move", "path": "/spec/y"}),
            json!({"op": "copy", "from": 3, "path": "/spec/y"}),
            Value::Null,
        ] {
            assert!(fails(op.clone()), "{op} applied");
        }
        // Fields an op does not use are ignored.
        let spec = spec_after(json!({"op": "add", "path": "/spec/y", "value": 1, "from": 3}));
        assert_eq!(spec.unwrap().get("y"), Some(&json!(1)));
        let spec = spec_after(json!({"op": "remove", "path": "/spec/x", "value": 1}));
        assert_eq!(spec.unwrap().get("x"), None);
    }

    #[test]
    fn an_absent_value_is_null() {
        let spec = spec_after(json!({"op": "add", "path": "/spec/y"})).unwrap();
        assert_eq!(spec.get("y"), Some(&Value::Null));
        let spec = spec_after(json!({"op": "replace", "path": "/spec/x"})).unwrap();
        assert_eq!(spec.get("x"), Some(&Value::Null));
    }

    #[test]
    fn add_sets_a_member_or_inserts_an_element() {
        let arr = |path: &str| {
            spec_after(json!({"op": "add", "path": path, "value": "z"})).map(|s| s["arr"].clone())
        };
        assert_eq!(arr("/spec/arr/0").unwrap(), json!(["z", "a", "b", "c"]));
        assert_eq!(arr("/spec/arr/3").unwrap(), json!(["a", "b", "c", "z"]));
        assert_eq!(arr("/spec/arr/-").unwrap(), json!(["a", "b", "c", "z"]));
        // Go integers; a negative index counts back from the end, -1 appends.
        assert_eq!(arr("/spec/arr/-1").unwrap(), json!(["a", "b", "c", "z"]));
        assert_eq!(arr("/spec/arr/-2").unwrap(), json!(["a", "b", "z", "c"]));
        assert_eq!(arr("/spec/arr/-4").unwrap(), json!(["z", "a", "b", "c"]));
        assert_eq!(arr("/spec/arr/01").unwrap(), json!(["a", "z", "b", "c"]));
        assert_eq!(arr("/spec/arr/+1").unwrap(), json!(["a", "z", "b", "c"]));
        assert_eq!(arr("/spec/arr/-0").unwrap(), json!(["z", "a", "b", "c"]));
        for path in [
            "/spec/arr/4",
            "/spec/arr/-5",
            "/spec/arr/ 1",
            "/spec/arr/1.0",
            "/spec/arr/0x1",
            "/spec/arr/1_0",
            "/spec/arr/foo",
            "/spec/arr/99999999999999999999",
        ] {
            assert!(arr(path).is_err(), "{path}");
        }
        let spec = spec_after(json!({"op": "add", "path": "/spec/obj/k", "value": "new"}));
        assert_eq!(spec.unwrap()["obj"]["k"], json!("new"));
        let spec = spec_after(json!({"op": "add", "path": "/spec/obj/-", "value": 1}));
        assert_eq!(spec.unwrap()["obj"].get("-"), Some(&json!(1)));
        let value = json!({"nested": [1, 2.5, null, "s"]});
        let spec = spec_after(json!({"op": "add", "path": "/spec/y", "value": value.clone()}));
        assert_eq!(spec.unwrap()["y"], value);
    }

    #[test]
    fn add_never_creates_a_parent() {
        for path in [
            "/spec/a/b/c",
            "/spec/x/y",
            "/spec/n/y",
            "/spec/arr/0/y",
            "/spec/obj/a~1b/x",
            "/spec//x",
            "/spec/arr/1/",
            "",
            "spec",
        ] {
            assert!(
                fails(json!({"op": "add", "path": path, "value": 1})),
                "{path}"
            );
        }
    }

    #[test]
    fn pointers_unescape_and_skip_what_precedes_the_first_slash() {
        let spec = spec_after(json!({"op": "remove", "path": "/spec/obj/a~1b"}));
        assert_eq!(spec.unwrap()["obj"], json!({"k": "v", "m~n": 2}));
        let spec = spec_after(json!({"op": "replace", "path": "/spec/obj/m~0n", "value": 3}));
        assert_eq!(spec.unwrap()["obj"]["m~n"], json!(3));
        // `~01` is `~1`; a `~` before anything else stays.
        let spec = spec_after(json!({"op": "add", "path": "/spec/obj/~01", "value": 1}));
        assert_eq!(spec.unwrap()["obj"].get("~1"), Some(&json!(1)));
        let spec = spec_after(json!({"op": "add", "path": "/spec/obj/~2", "value": 1}));
        assert_eq!(spec.unwrap()["obj"].get("~2"), Some(&json!(1)));
        // `spec/y` is `/y`, `foo/spec/y` is `/spec/y`, `/` is the member "".
        let out = patched(&json!([{"op": "add", "path": "spec/y", "value": 1}])).unwrap();
        assert_eq!(out.get("y"), Some(&json!(1)));
        let out = patched(&json!([{"op": "add", "path": "foo/spec/y", "value": 1}])).unwrap();
        assert_eq!(out["spec"].get("y"), Some(&json!(1)));
        let out = patched(&json!([{"op": "add", "path": "/", "value": 1}])).unwrap();
        assert_eq!(out.get(""), Some(&json!(1)));
    }

    #[test]
    fn remove_needs_the_member_or_element() {
        let spec = spec_after(json!({"op": "remove", "path": "/spec/n"})).unwrap();
        assert_eq!(spec.get("n"), None);
        let arr = |path: &str| {
            spec_after(json!({"op": "remove", "path": path})).map(|s| s["arr"].clone())
        };
        assert_eq!(arr("/spec/arr/-1").unwrap(), json!(["a", "b"]));
        assert_eq!(arr("/spec/arr/-3").unwrap(), json!(["b", "c"]));
        assert_eq!(arr("/spec/arr/00").unwrap(), json!(["b", "c"]));
        for path in [
            "/spec/missing",
            "/spec/arr/3",
            "/spec/arr/-4",
            "/spec/arr/-",
            "/spec/arr/foo",
            "/spec/a/b",
            "/spec/x/y",
            "",
        ] {
            assert!(fails(json!({"op": "remove", "path": path})), "{path}");
        }
    }

    #[test]
    fn replace_adds_a_missing_member_but_not_a_missing_element() {
        let spec = spec_after(json!({"op": "replace", "path": "/spec/missing", "value": 1}));
        assert_eq!(spec.unwrap().get("missing"), Some(&json!(1)));
        let arr = |path: &str| {
            spec_after(json!({"op": "replace", "path": path, "value": 1})).map(|s| s["arr"].clone())
        };
        assert_eq!(arr("/spec/arr/2").unwrap(), json!(["a", "b", 1]));
        assert_eq!(arr("/spec/arr/-1").unwrap(), json!(["a", "b", 1]));
        assert_eq!(arr("/spec/arr/-3").unwrap(), json!([1, "b", "c"]));
        assert_eq!(arr("/spec/arr/01").unwrap(), json!(["a", 1, "c"]));
        for path in [
            "/spec/arr/3",
            "/spec/arr/-4",
            "/spec/arr/-",
            "/spec/arr/foo",
            "/spec/a/b",
            "/spec/x/y",
            "spec",
        ] {
            assert!(arr(path).is_err(), "{path}");
        }
    }

    #[test]
    fn replacing_the_whole_document_must_end_with_a_mapping() {
        let ops = json!([{"op": "replace", "path": "", "value": {"kind": "ConfigMap"}}]);
        assert_eq!(patched(&ops).unwrap(), json!({"kind": "ConfigMap"}));
        for value in [json!(1), json!("s"), Value::Null, json!([1])] {
            let ops = json!([{"op": "replace", "path": "", "value": value.clone()}]);
            assert!(patched(&ops).is_err(), "{value}");
        }
        // A sequence in between is fine.
        let ops = json!([
            {"op": "replace", "path": "", "value": [1]},
            {"op": "replace", "path": "", "value": {"kind": "ConfigMap"}}
        ]);
        assert_eq!(patched(&ops).unwrap(), json!({"kind": "ConfigMap"}));
    }

    #[test]
    fn move_removes_then_adds() {
        let spec = spec_after(json!({"op": "move", "from": "/spec/x", "path": "/spec/y"})).unwrap();
        assert_eq!((spec.get("x"), spec.get("y")), (None, Some(&json!(1))));
        let spec = spec_after(json!({"op": "move", "from": "/spec/n", "path": "/spec/y"})).unwrap();
        assert_eq!((spec.get("n"), spec.get("y")), (None, Some(&Value::Null)));
        let spec = spec_after(json!({"op": "move", "from": "/spec/x", "path": "/spec/x"}));
        assert_eq!(spec.unwrap().get("x"), Some(&json!(1)));
        let arr = |from: &str, path: &str| {
            spec_after(json!({"op": "move", "from": from, "path": path})).map(|s| s["arr"].clone())
        };
        assert_eq!(
            arr("/spec/arr/0", "/spec/arr/-").unwrap(),
            json!(["b", "c", "a"])
        );
        // The destination index counts after the removal.
        assert_eq!(
            arr("/spec/arr/0", "/spec/arr/2").unwrap(),
            json!(["b", "c", "a"])
        );
        assert!(arr("/spec/arr/0", "/spec/arr/3").is_err());
        for (from, path) in [
            ("/spec/missing", "/spec/y"),
            ("/spec/missing", "/spec/missing"),
            // Into its own child: the parent is gone once the source is removed.
            ("/spec/obj", "/spec/obj/inner"),
            ("/spec/x", "/spec/a/b"),
            ("/spec/arr/5", "/spec/y"),
            ("", "/spec/y"),
            ("/spec", ""),
        ] {
            let op = json!({"op": "move", "from": from, "path": path});
            assert!(fails(op), "{from} to {path}");
        }
    }

    #[test]
    fn copy_is_deep_and_copies_a_missing_member_as_null() {
        let obj = json!({"k": "v", "a/b": 1, "m~n": 2});
        let spec = spec_after(json!({"op": "copy", "from": "/spec/obj", "path": "/spec/y"}));
        assert_eq!(spec.unwrap()["y"], obj);
        let spec = spec_after(json!({"op": "copy", "from": "/spec/missing", "path": "/spec/y"}));
        assert_eq!(spec.unwrap().get("y"), Some(&Value::Null));
        let spec =
            spec_after(json!({"op": "copy", "from": "/spec/missing", "path": "/spec/arr/1"}));
        assert_eq!(spec.unwrap()["arr"], json!(["a", null, "b", "c"]));
        let spec = spec_after(json!({"op": "copy", "from": "/spec/arr/1", "path": "/spec/arr/0"}));
        assert_eq!(spec.unwrap()["arr"], json!(["b", "a", "b", "c"]));
        // Into its own child, and the copy is independent of its source.
        let out = patched(&json!([
            {"op": "copy", "from": "/spec/obj", "path": "/spec/obj/inner"},
            {"op": "replace", "path": "/spec/obj/inner/k", "value": "changed"}
        ]))
        .unwrap();
        let inner = json!({"k": "changed", "a/b": 1, "m~n": 2});
        assert_eq!(
            out["spec"]["obj"],
            json!({"k": "v", "a/b": 1, "m~n": 2, "inner": inner})
        );
        for (from, path) in [
            ("/spec/arr/5", "/spec/y"),
            ("/spec/x", "/spec/a/b"),
            ("/spec/a/b", "/spec/y"),
            ("", "/spec/y"),
        ] {
            let op = json!({"op": "copy", "from": from, "path": path});
            assert!(fails(op), "{from} to {path}");
        }
    }

    #[test]
    fn test_compares_values() {
        assert!(passes("/spec/x", &json!(1)));
        assert!(!passes("/spec/x", &json!(2)));
        assert!(!passes("/spec/x", &json!("1")));
        assert!(!passes("/spec/s", &json!(1)));
        assert!(passes("/spec/f", &json!(1.5)));
        assert!(passes("/spec/obj", &json!({"m~n": 2, "k": "v", "a/b": 1})));
        assert!(!passes("/spec/obj", &json!({"m~n": 2, "k": "v"})));
        assert!(!passes(
            "/spec/obj",
            &json!({"m~n": 2, "k": "v", "a/b": 1, "c": null})
        ));
        assert!(!passes("/spec/obj", &json!([])));
        assert!(passes("/spec/arr", &json!(["a", "b", "c"])));
        assert!(!passes("/spec/arr", &json!(["a", "c", "b"])));
        assert!(passes("/spec/arr/-1", &json!("c")));
        assert!(passes("/spec/arr/01", &json!("b")));
        assert!(passes("/spec/obj/a~1b", &json!(1)));
        assert!(passes("", &doc()));
        assert!(!passes("", &json!({})));
    }

    #[test]
    fn test_treats_a_missing_member_as_null() {
        assert!(passes("/spec/n", &Value::Null));
        assert!(passes("/spec/missing", &Value::Null));
        assert!(spec_after(json!({"op": "test", "path": "/spec/missing"})).is_ok());
        assert!(spec_after(json!({"op": "test", "path": "/spec/n"})).is_ok());
        assert!(!passes("/spec/missing", &json!(1)));
        assert!(!passes("/spec/n", &json!(1)));
        assert!(!passes("/spec/x", &Value::Null));
        assert!(spec_after(json!({"op": "test", "path": "/spec/x"})).is_err());
        assert!(!passes("", &Value::Null));
        // An element must exist, even to be null, and so must the parent.
        assert!(!passes("/spec/arr/3", &Value::Null));
        assert!(!passes("/spec/arr/-", &Value::Null));
        assert!(!passes("/spec/n/x", &Value::Null));
        assert!(!passes("spec", &Value::Null));
    }

    #[test]
    fn test_never_passes_a_sequence_holding_null() {
        let doc = json!({"l": [null, 1], "o": {"a": null, "b": 1}});
        assert!(test_on(doc.clone(), "/o", &json!({"a": null, "b": 1})).is_ok());
        assert!(test_on(doc.clone(), "/l/0", &Value::Null).is_ok());
        assert!(test_on(doc.clone(), "/l/1", &json!(1)).is_ok());
        assert!(test_on(doc, "/l", &json!([null, 1])).is_err());
    }

    #[test]
    fn numbers_compare_as_their_json_text() {
        // `1.0` written in a patch is not the object's `1`.
        assert!(!passes("/spec/x", &json!(1.0)));
        // Large integral floats print as integers.
        let big = json!({"f": 1e18, "i": 1_000_000_000_000_000_000_u64});
        assert!(test_on(big.clone(), "/f", &json!(1_000_000_000_000_000_000_u64)).is_ok());
        assert!(test_on(big.clone(), "/i", &json!(1e18)).is_ok());
        assert!(test_on(big, "/i", &json!(1e19)).is_err());
        // A value the same patch added keeps the text it was written with.
        let added = |want: &Value| {
            patched(&json!([
                {"op": "add", "path": "/spec/y", "value": 1.0},
                {"op": "test", "path": "/spec/y", "value": want}
            ]))
        };
        assert!(added(&json!(1.0)).is_ok());
        assert!(added(&json!(1)).is_err());
    }

    #[test]
    fn numbers_go_through_float64() {
        let mut doc = json!({
            "small": 9_007_199_254_740_992_u64,
            "odd": 9_007_199_254_740_993_u64,
            "big": 12_345_678_901_234_567_890_u64,
            "max": i64::MAX,
            "min": i64::MIN,
            "umax": u64::MAX,
            "float": 1.5,
            "integral": 2.0,
            "negative_zero": -0.0,
        });
        apply(&mut doc, &[]).unwrap();
        assert_eq!(
            doc,
            json!({
                "small": 9_007_199_254_740_992_u64,
                "odd": 9_007_199_254_740_992_u64,
                "big": 12_345_678_901_234_567_000_u64,
                "max": 9_223_372_036_854_776_000_u64,
                "min": -(2_f64.powi(63)),
                "umax": 2_f64.powi(64),
                "float": 1.5,
                "integral": 2,
                "negative_zero": 0,
            })
        );
        let ops = json!([{"op": "add", "path": "/spec/y", "value": 3.0}]);
        assert_eq!(patched(&ops).unwrap()["spec"].get("y"), Some(&json!(3)));
    }

    #[test]
    fn errors_name_the_operation() {
        let err = patched(&json!([
            {"op": "add", "path": "/spec/y", "value": 1},
            {"op": "remove", "path": "/spec/missing"}
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            "operation 1 (remove /spec/missing): /spec/missing does not exist"
        );
        let err = spec_after(json!({"op": "move", "from": "/spec/x", "path": "/spec/a/b"}));
        assert_eq!(
            err.unwrap_err(),
            "operation 0 (move /spec/x to /spec/a/b): /spec/a does not exist"
        );
        let err = spec_after(json!({"op": "test", "path": "/spec/x", "value": 2}));
        assert_eq!(
            err.unwrap_err(),
            "operation 0 (test /spec/x): the value at /spec/x is not 2"
        );
        let err = spec_after(json!({"op": "frob", "path": "/spec/x"}));
        assert!(
            err.unwrap_err()
                .starts_with("operation 0 (frob /spec/x): unknown op \"frob\"")
        );
    }
}
