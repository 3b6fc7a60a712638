//! `.Files`: Helm's `engine.files`, the chart's files other than templates, values and
//! `Chart.yaml`, with the methods templates call (`Get`, `GetBytes`, `Glob`, `Lines`,
//! `AsConfig`, `AsSecrets`).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::chart::File;
use crate::chart::ignore::files_glob_match;
use crate::template::{Arity, FuncError, List, ListType, Map, MapType, Object, Value};

/// A chart's files as `.Files` (file contents as strings: templates can only use text).
pub struct Files(BTreeMap<String, Rc<str>>);

impl Files {
    /// The files of a chart.
    #[must_use]
    pub fn new(files: &[File]) -> Files {
        Files(
            files
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        Rc::from(String::from_utf8_lossy(&f.data).as_ref()),
                    )
                })
                .collect(),
        )
    }

    /// As a template value.
    #[must_use]
    pub fn into_value(self) -> Value {
        Value::Object(Rc::new(self))
    }

    fn glob(&self, pattern: &str) -> Files {
        Files(
            self.0
                .iter()
                .filter(|(name, _)| files_glob_match(pattern, name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// `toYaml` of a map from each file's base name to `f(content)`.
    fn as_yaml(&self, f: impl Fn(&str) -> String) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let entries: BTreeMap<String, Value> = self
            .0
            .iter()
            .map(|(name, data)| {
                let base = name.rsplit('/').next().unwrap_or(name).to_owned();
                (base, Value::from(f(data)))
            })
            .collect();
        crate::funcs::yaml::to_yaml(&Value::Map(Map::typed(entries, MapType::String)))
    }
}

fn string_arg(args: &[Value]) -> Result<&str, FuncError> {
    match args.first() {
        Some(Value::String(s)) => Ok(s),
        other => Err(FuncError::ArgType {
            index: 0,
            expected: "string".to_owned(),
            got: other.map_or_else(|| "interface {}".to_owned(), Value::type_name),
        }),
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".to_owned()
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method_arity(&self, name: &str) -> Option<Arity> {
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(Arity::Exact(1)),
            "AsConfig" | "AsSecrets" => Some(Arity::Exact(0)),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        match name {
            "Get" | "GetBytes" => {
                let path = string_arg(args)?;
                Ok(Value::String(
                    self.0.get(path).cloned().unwrap_or_else(|| Rc::from("")),
                ))
            }
            "Glob" => Ok(self.glob(string_arg(args)?).into_value()),
            "Lines" => {
                let path = string_arg(args)?;
                let lines = match self.0.get(path) {
                    None => Vec::new(),
                    Some(text) if text.is_empty() => vec![Value::str("")],
                    Some(text) => {
                        let text = text.strip_suffix('\n').unwrap_or(text);
                        text.split('\n').map(Value::str).collect()
                    }
                };
                Ok(Value::List(List::typed(lines, ListType::String)))
            }
            "AsConfig" => Ok(Value::from(self.as_yaml(str::to_owned))),
            "AsSecrets" => {
                Ok(Value::from(self.as_yaml(|d| {
                    crate::funcs::encoding::b64_encode(d.as_bytes())
                })))
            }
            _ => Err(FuncError::Failed(format!(
                "engine.files has no method {name}"
            ))),
        }
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::Map(Map::new(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )))
    }

    fn format(&self) -> String {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.bytes().map(|b| b.to_string()).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", entries.join(" "))
    }
}
