//! Sprig's regular-expression functions over Rust's `regex`, whose syntax is Go's RE2 syntax
//! for everything charts use (the `$1`/`${name}` expansion in replacements too).
//!
//! # Caveats
//!
//! An invalid pattern fails (or, for `regexMatch`, is false) as in Sprig; the explanation is
//! Go's for an unclosed group or class and an unopened group, Rust's wording otherwise.

use regex::Regex;

use super::{arg_int, arg_str};
use crate::template::{Arity, FuncError, Funcs, List, ListType, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("regexMatch", Arity::Exact(2), |_, a| {
        let (re, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(Value::Bool(cached(re).is_ok_and(|r| r.is_match(s))))
    });
    f.insert("mustRegexMatch", Arity::Exact(2), |_, a| {
        Ok(Value::Bool(
            compile(arg_str(a, 0)?)?.is_match(arg_str(a, 1)?),
        ))
    });
    f.insert("regexFind", Arity::Exact(2), |_, a| {
        let s = arg_str(a, 1)?;
        Ok(Value::str(
            compile(arg_str(a, 0)?)?.find(s).map_or("", |m| m.as_str()),
        ))
    });
    f.insert("regexFindAll", Arity::Exact(3), |_, a| {
        let (re, s, n) = (compile(arg_str(a, 0)?)?, arg_str(a, 1)?, arg_int(a, 2)?);
        let found: Vec<Value> = re
            .find_iter(s)
            .take(limit(n))
            .map(|m| Value::str(m.as_str()))
            .collect();
        Ok(strings(found))
    });
    f.insert("regexReplaceAll", Arity::Exact(3), |_, a| {
        let (re, s, repl) = (compile(arg_str(a, 0)?)?, arg_str(a, 1)?, arg_str(a, 2)?);
        Ok(Value::from(re.replace_all(s, repl).into_owned()))
    });
    f.insert("regexReplaceAllLiteral", Arity::Exact(3), |_, a| {
        let (re, s, repl) = (compile(arg_str(a, 0)?)?, arg_str(a, 1)?, arg_str(a, 2)?);
        Ok(Value::from(
            re.replace_all(s, regex::NoExpand(repl)).into_owned(),
        ))
    });
    f.insert("regexSplit", Arity::Exact(3), |_, a| {
        let (re, s, n) = (compile(arg_str(a, 0)?)?, arg_str(a, 1)?, arg_int(a, 2)?);
        if n == 0 {
            return Ok(strings(Vec::new()));
        }
        if s.is_empty() && !re.as_str().is_empty() {
            return Ok(strings(vec![Value::str("")]));
        }
        let parts: Vec<Value> = if n < 0 {
            re.split(s).map(Value::str).collect()
        } else {
            re.splitn(s, limit(n)).map(Value::str).collect()
        };
        Ok(strings(parts))
    });
    f.insert("regexQuoteMeta", Arity::Exact(1), |_, a| {
        Ok(Value::from(regex::escape(arg_str(a, 0)?)))
    });
}

/// Go's `n` for the `...All` functions: negative means all.
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn strings(items: Vec<Value>) -> Value {
    Value::List(List::typed(items, ListType::String))
}

/// Patterns compiled so far on this thread: charts call the same few patterns in loops, and
/// compiling is far slower than matching. Bounded, so hostile templates cannot grow it.
const CACHE_ENTRIES: usize = 256;

thread_local! {
    static CACHE: std::cell::RefCell<std::collections::HashMap<String, Regex>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `re` compiled, from the cache when it was compiled before.
fn cached(re: &str) -> Result<Regex, regex::Error> {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(re).cloned()) {
        return Ok(hit);
    }
    let compiled = Regex::new(re)?;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(re.to_owned(), compiled.clone());
    });
    Ok(compiled)
}

fn compile(re: &str) -> Result<Regex, FuncError> {
    cached(re).map_err(|e| {
        FuncError::Failed(format!(
            "regexp: Compile(`{re}`): error parsing regexp: {}",
            go_reason(re, &e)
        ))
    })
}

/// Go's wording for the common pattern errors; Rust's own text otherwise.
fn go_reason(re: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let code = if text.contains("unclosed group") {
        "missing closing )"
    } else if text.contains("unclosed character class") {
        "missing closing ]"
    } else if text.contains("unopened group") {
        "unexpected )"
    } else {
        return text;
    };
    format!("{code}: `{re}`")
}
