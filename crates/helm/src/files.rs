//! `.Files`: Helm's `engine.files`, the chart's files other than templates, values and
//! `Chart.yaml`, with the methods templates call (`Get`, `GetBytes`, `Glob`, `Lines`,
//! `AsConfig`, `AsSecrets`).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::chart::File;
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
        let tokens = compile(pattern).unwrap_or_else(|| vec![Token::AnyDeep]);
        Files(
            self.0
                .iter()
                .filter(|(name, _)| matches(&tokens, name.as_bytes()))
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

/// One piece of a `gobwas/glob` pattern compiled with `/` as the separator.
#[derive(Debug, Clone)]
enum Token {
    Literal(u8),
    /// `?`: one byte other than `/`.
    One,
    /// `*`: any run of bytes without `/`.
    Any,
    /// `**`: any run of bytes.
    AnyDeep,
    /// `[...]` / `[!...]`: one byte in (or not in) the ranges.
    Class(bool, Vec<(u8, u8)>),
    /// `{a,b}`: one of the alternatives.
    Alt(Vec<Vec<Token>>),
}

/// Compiles a pattern; `None` when it is malformed (Helm then matches everything).
fn compile(pattern: &str) -> Option<Vec<Token>> {
    let bytes = pattern.as_bytes();
    let mut pos = 0;
    let tokens = compile_seq(bytes, &mut pos, false)?;
    (pos == bytes.len()).then_some(tokens)
}

fn compile_seq(b: &[u8], pos: &mut usize, in_alt: bool) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    while *pos < b.len() {
        let c = b[*pos];
        match c {
            b',' | b'}' if in_alt => return Some(out),
            b'\\' => {
                *pos += 1;
                out.push(Token::Literal(*b.get(*pos)?));
                *pos += 1;
            }
            b'?' => {
                out.push(Token::One);
                *pos += 1;
            }
            b'*' => {
                if b.get(*pos + 1) == Some(&b'*') {
                    out.push(Token::AnyDeep);
                    *pos += 2;
                } else {
                    out.push(Token::Any);
                    *pos += 1;
                }
            }
            b'[' => {
                *pos += 1;
                let negated = matches!(b.get(*pos), Some(b'!' | b'^'));
                if negated {
                    *pos += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let lo = *b.get(*pos)?;
                    if lo == b']' {
                        *pos += 1;
                        break;
                    }
                    *pos += 1;
                    if b.get(*pos) == Some(&b'-') && b.get(*pos + 1).is_some_and(|x| *x != b']') {
                        let hi = *b.get(*pos + 1)?;
                        ranges.push((lo, hi));
                        *pos += 2;
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                out.push(Token::Class(negated, ranges));
            }
            b'{' => {
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(compile_seq(b, pos, true)?);
                    match b.get(*pos) {
                        Some(b',') => *pos += 1,
                        Some(b'}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                out.push(Token::Alt(alts));
            }
            _ => {
                out.push(Token::Literal(c));
                *pos += 1;
            }
        }
    }
    (!in_alt).then_some(out)
}

/// Whether `name` matches the whole token sequence (backtracking over the wildcards).
fn matches(tokens: &[Token], name: &[u8]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match first {
        Token::Literal(c) => name.first() == Some(c) && matches(rest, &name[1..]),
        Token::One => name.first().is_some_and(|c| *c != b'/') && matches(rest, &name[1..]),
        Token::Class(negated, ranges) => {
            name.first().is_some_and(|c| {
                *c != b'/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated
            }) && matches(rest, &name[1..])
        }
        Token::Any => {
            let limit = name.iter().position(|c| *c == b'/').unwrap_or(name.len());
            (0..=limit).any(|i| matches(rest, &name[i..]))
        }
        Token::AnyDeep => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Token::Alt(alts) => alts.iter().any(|alt| {
            let mut joined = alt.clone();
            joined.extend(rest.iter().cloned());
            matches(&joined, name)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{compile, matches};

    fn glob(pattern: &str, name: &str) -> bool {
        matches(&compile(pattern).expect("a valid pattern"), name.as_bytes())
    }

    #[test]
    fn globs_follow_gobwas_with_slash_separators() {
        assert!(glob("files/*.yaml", "files/a.yaml"));
        assert!(!glob("files/*.yaml", "files/sub/a.yaml"));
        assert!(glob("files/**.yaml", "files/sub/a.yaml"));
        assert!(glob("files/**", "files/sub/a.yaml"));
        assert!(glob("**.json", "dashboards/x.json"));
        assert!(glob("files/{a,b}.txt", "files/b.txt"));
        assert!(!glob("files/{a,b}.txt", "files/c.txt"));
        assert!(glob("f?les/[a-c].txt", "files/b.txt"));
        assert!(!glob("files/[!a-c].txt", "files/b.txt"));
        assert!(compile("files/[a").is_none());
    }
}
