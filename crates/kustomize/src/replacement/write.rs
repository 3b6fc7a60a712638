//! Writing a replacement's value into the fields a target selects,
//! creating what `create` allows.

use regex::Regex;
use serde_json::{Map, Value};

use super::path::{Step, push_token, split_path};
use super::spec::{DEFAULT_FIELD_PATH, FieldOptions, ObjectSelector, Target};
use super::{Payload, Tag, Unfit, Unfits, describe, scalar_text, typed};
use crate::resource::Resource;
use crate::yaml;

/// What one target writes, and how.
pub(super) struct Writing<'a> {
    /// The replacement's position, for the error about unfit values.
    pub(super) replacement: usize,
    pub(super) payload: &'a Payload,
    pub(super) options: &'a FieldOptions,
}

/// The options of a target that gives none.
pub(super) static NO_OPTIONS: FieldOptions = FieldOptions {
    delimiter: String::new(),
    index: 0,
    encoding: String::new(),
    create: false,
};

pub(super) fn write_target(
    acc: &mut [Resource],
    target: &Target,
    writing: &Writing<'_>,
    unfits: &mut Unfits,
) -> Result<(), String> {
    let Some(select) = &target.select else {
        return Err(
            "`select` is missing; say which objects to write to (`select: {}` selects every object)"
                .into(),
        );
    };
    let default_paths = [DEFAULT_FIELD_PATH.to_owned()];
    let field_paths = if target.field_paths.is_empty() {
        &default_paths[..]
    } else {
        &target.field_paths[..]
    };
    for (index, res) in acc.iter_mut().enumerate() {
        if !chosen(res, select, &target.reject).map_err(|e| format!("select {select}: {e}"))? {
            continue;
        }
        for field_path in field_paths {
            let mut writer = Writer {
                writing,
                unfits: &mut *unfits,
                res: index,
                here: String::new(),
                written: 0,
                discarding: false,
            };
            writer.write(&mut res.obj, field_path).map_err(|e| {
                format!(
                    "select {select}: {}: fieldPath `{field_path}`: {e}",
                    res.id()
                )
            })?;
        }
    }
    Ok(())
}

/// Whether a target writes to `res`, in kustomize's order: `select`'s
/// label and annotation selectors, each `reject`'s, then the ids.
pub(super) fn chosen(
    res: &Resource,
    select: &ObjectSelector,
    rejects: &[ObjectSelector],
) -> Result<bool, String> {
    if !select.matches_metadata(res)? {
        return Ok(false);
    }
    for reject in rejects {
        if reject.has_metadata_selectors() && reject.matches_metadata(res)? {
            return Ok(false);
        }
    }
    let wanted = select.ids();
    let rejected = rejects.iter().any(|reject| {
        let ids = reject.ids();
        !ids.is_empty() && res.any_id(|id| ids.selects(id))
    });
    Ok(!rejected && res.any_id(|id| wanted.selects(id)))
}

/// Walks one target path in one object, creating what `create` allows,
/// and writes the payload at every field reached.
pub(super) struct Writer<'a, 'w> {
    writing: &'a Writing<'w>,
    unfits: &'a mut Unfits,
    /// The object, by position.
    res: usize,
    /// Where the walk is, as a JSON pointer.
    here: String,
    /// How many fields were written.
    written: usize,
    /// Whether the walk is inside a null value, where what it writes is
    /// never printed.
    discarding: bool,
}

impl Writer<'_, '_> {
    pub(super) fn write(&mut self, obj: &mut Value, field_path: &str) -> Result<(), String> {
        let steps: Vec<Step> = split_path(field_path)
            .into_iter()
            .map(Step::parse)
            .collect();
        self.walk(obj, &steps, None)?;
        if self.written > 0 {
            Ok(())
        } else if self.writing.options.create {
            Err("the path reaches no field and none can be created there".into())
        } else {
            Err("no such field in the target (set `options.create: true` to create it)".into())
        }
    }

    /// Walks into `node`, found under `token`.
    pub(super) fn descend(
        &mut self,
        token: &str,
        node: &mut Value,
        steps: &[Step],
        untagged: Option<&str>,
    ) -> Result<(), String> {
        let len = self.here.len();
        push_token(&mut self.here, token);
        let result = self.walk(node, steps, untagged);
        self.here.truncate(len);
        result
    }

    /// `untagged` is the text of a scalar this walk just created: it has
    /// no type of its own yet.
    pub(super) fn walk(
        &mut self,
        node: &mut Value,
        steps: &[Step],
        untagged: Option<&str>,
    ) -> Result<(), String> {
        let Some((step, rest)) = steps.split_first() else {
            self.written += 1;
            return self.set(node, untagged);
        };
        if node.is_null() {
            // kyaml walks into null as into an empty collection and attaches
            // what it creates to the null node, which is printed as null:
            // the walk goes on, the object does not change.
            let mut scratch = match step {
                // `*` on null visits no element.
                Step::Every => return Ok(()),
                Step::Field(_) => Value::Object(Map::new()),
                Step::Index(_) | Step::Element { .. } | Step::Malformed(_) => {
                    Value::Array(Vec::new())
                }
            };
            let discarding = std::mem::replace(&mut self.discarding, true);
            let result = self.walk(&mut scratch, steps, None);
            self.discarding = discarding;
            return result;
        }
        match step {
            Step::Field(name) => {
                let Value::Object(map) = node else {
                    return Err(format!(
                        "`{name}` needs a mapping, found {}",
                        describe(node)
                    ));
                };
                if let Some(child) = map.get_mut(name.as_str()) {
                    return self.descend(name, child, rest, None);
                }
                if !self.writing.options.create {
                    return Ok(());
                }
                let (created, untagged) = self.new_node(rest);
                let child = map.entry(name.clone()).or_insert(created);
                self.descend(name, child, rest, untagged)
            }
            Step::Index(index) => {
                let Value::Array(items) = node else {
                    return Err(format!("`{index}` needs a list, found {}", describe(node)));
                };
                let mut untagged = None;
                if *index == items.len() && self.writing.options.create {
                    let (created, text) = self.new_node(rest);
                    items.push(created);
                    untagged = text;
                }
                let len = items.len();
                let item = items.get_mut(*index).ok_or_else(|| {
                    format!("index {index} specified but only {len} elements found")
                })?;
                self.descend(&index.to_string(), item, rest, untagged)
            }
            Step::Every => {
                let Value::Array(items) = node else {
                    return Err(format!("`*` needs a list, found {}", describe(node)));
                };
                for (i, item) in items.iter_mut().enumerate() {
                    self.descend(&i.to_string(), item, rest, None)?;
                }
                Ok(())
            }
            Step::Element { key, pattern } => self.matching_elements(node, key, pattern, rest),
            Step::Malformed(part) => Err(format!(
                "`{part}` must be [field=value] (or [=value] for a list of scalars)"
            )),
        }
    }

    /// `[key=pattern]`: every element whose `key`, written as YAML, matches
    /// the unanchored pattern; `[=pattern]`: every element that does, and
    /// the path ends there. With `create` and nothing written, appends
    /// `{key: pattern}` (or `pattern`) and walks into it.
    pub(super) fn matching_elements(
        &mut self,
        node: &mut Value,
        key: &str,
        pattern: &str,
        rest: &[Step],
    ) -> Result<(), String> {
        let Value::Array(items) = node else {
            return Err(format!(
                "`[{key}={pattern}]` needs a list, found {}",
                describe(node)
            ));
        };
        let create = self.writing.options.create;
        if items.is_empty() && !create {
            return Ok(());
        }
        let re = Regex::new(pattern).map_err(|e| format!("`[{key}={pattern}]`: {e}"))?;
        // kustomize walks no further than an element matched by value.
        let rest = if key.is_empty() { &[][..] } else { rest };
        let before = self.written;
        for (i, item) in items.iter_mut().enumerate() {
            let field = if key.is_empty() {
                Some(&*item)
            } else {
                item.as_object().and_then(|m| m.get(key))
            };
            if field.is_some_and(|f| re.is_match(&match_text(f))) {
                self.descend(&i.to_string(), item, rest, None)?;
            }
        }
        if self.written > before || !create {
            return Ok(());
        }
        if !re.is_match(pattern) {
            // kustomize recurses forever here.
            return Err(format!(
                "cannot create an element for `[{key}={pattern}]`: `{pattern}` does not match itself as a regular expression"
            ));
        }
        let value = yaml::resolve_plain(pattern).map_err(|e| e.to_string())?;
        let (element, untagged) = if key.is_empty() {
            (value, Some(pattern))
        } else {
            let mut element = Map::new();
            element.insert(key.to_owned(), value);
            (Value::Object(element), None)
        };
        let index = items.len();
        items.push(element);
        match items.get_mut(index) {
            Some(item) => self.descend(&index.to_string(), item, rest, untagged),
            None => Ok(()),
        }
    }

    /// A node for a missing path part: a list before an index or `[k=v]`,
    /// a mapping before a key, and at the end of the path a node of the
    /// payload's kind (an untagged, empty scalar for a scalar payload).
    pub(super) fn new_node(&self, rest: &[Step]) -> (Value, Option<&'static str>) {
        match (rest.first(), self.writing.payload) {
            (None, Payload::Scalar { .. }) => (Value::Null, Some("")),
            (None, Payload::Tree(Value::Array(_)))
            | (Some(Step::Index(_) | Step::Element { .. } | Step::Malformed(_)), _) => {
                (Value::Array(Vec::new()), None)
            }
            (None, Payload::Tree(_)) | (Some(Step::Field(_) | Step::Every), _) => {
                (Value::Object(Map::new()), None)
            }
        }
    }

    /// Writes the payload into one field: a scalar keeps its type and takes
    /// the payload's text (spliced in with `delimiter`); a list or mapping
    /// becomes the payload. Text that does not fit the type is kept as a
    /// string and remembered as unfit, as kustomize fails only later.
    pub(super) fn set(&mut self, node: &mut Value, untagged: Option<&str>) -> Result<(), String> {
        let Writing {
            payload, options, ..
        } = *self.writing;
        let delimiter = options.delimiter.as_str();
        let tag = if untagged.is_some() {
            Some(Tag::Plain)
        } else {
            self.unfits
                .tag(self.res, &self.here)
                .or_else(|| Tag::of(node))
        };
        let (tag, text) = match (tag, payload) {
            (None, _) if !delimiter.is_empty() => {
                return Err(format!(
                    "options.delimiter needs a scalar field, found {}",
                    describe(node)
                ));
            }
            (None, Payload::Tree(value)) => {
                *node = value.clone();
                self.unfits.overwritten(self.res, &self.here);
                return Ok(());
            }
            // A list or mapping becomes the source scalar, type and all.
            (None, Payload::Scalar { tag, text }) => (*tag, text.clone()),
            (Some(tag), _) if delimiter.is_empty() => (tag, payload.text().to_owned()),
            (Some(tag), _) => {
                let current = untagged.map_or_else(|| scalar_text(node), str::to_owned);
                let text = splice(&current, delimiter, options.index, payload.text());
                (tag, text)
            }
        };
        self.unfits.overwritten(self.res, &self.here);
        if let Some(value) = typed(tag, &text) {
            *node = value;
        } else {
            *node = Value::String(text.clone());
            if !self.discarding {
                self.unfits.0.push(Unfit {
                    replacement: self.writing.replacement,
                    res: self.res,
                    pointer: self.here.clone(),
                    tag,
                    text,
                });
            }
        }
        Ok(())
    }
}

/// A list element's field as kyaml prints it, for `[k=v]` in targets: a
/// string that would read as something else appears quoted.
pub(super) fn match_text(value: &Value) -> String {
    yaml::to_yaml(value).trim().to_owned()
}

/// `current` split at `delimiter` with part `index` replaced by `value`:
/// a negative index prepends, one past the parts appends.
pub(super) fn splice(current: &str, delimiter: &str, index: i64, value: &str) -> String {
    let mut parts: Vec<&str> = current.split(delimiter).collect();
    match usize::try_from(index) {
        Err(_) => parts.insert(0, value),
        Ok(i) if i < parts.len() => parts[i] = value,
        Ok(_) => parts.push(value),
    }
    parts.join(delimiter)
}
