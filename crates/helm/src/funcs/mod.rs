//! Sprig's and Helm's template functions, registered over Go's builtins.
//!
//! Only the functions listed in [`helm_funcs`] exist so far; the rest of Sprig comes next.
//! Argument conversions follow Go's: a parameter typed `string` or `int` in Sprig refuses other
//! types with Go's `wrong type for value` error, an `interface {}` parameter takes anything.

mod convert;
mod crypto;
pub(crate) mod dates;
mod dicts;
pub(crate) mod encoding;
mod floats;
mod lists;
mod logic;
mod names;
mod paths;
mod random;

pub use names::HELM_FUNCTION_NAMES;
pub use paths::clean as go_path_clean;
mod regex;
pub(crate) mod semver;
mod strings;
mod toml;
pub(crate) mod yaml;

use crate::template::{
    Arity, FuncContext, FuncError, Funcs, List, Map, TextError, Value, format_v, quote,
};
use std::collections::BTreeMap;

/// Go's builtins plus the Sprig and Helm functions implemented so far:
/// - Helm: `include tpl required fail toYaml fromYaml fromYamlArray lookup`;
/// - strings: `quote squote toString indent nindent trimSuffix trimPrefix trunc replace upper
///   lower trim contains hasPrefix hasSuffix repeat substr nospace trimAll cat split splitn title`;
/// - regular expressions: `regexMatch mustRegexMatch regexFind regexFindAll regexReplaceAll
///   regexReplaceAllLiteral regexSplit regexQuoteMeta`;
/// - dictionaries: `dict set unset hasKey get merge mergeOverwrite deepCopy omit pick keys values
///   pluck dig` (`keys` and `values` in key order, where Sprig's order is Go's random map order);
/// - lists: `list slice (Sprig's, replacing Go's) first last rest initial append prepend concat has uniq compact without join
///   sortAlpha splitList until untilStep`;
/// - logic and reflection: `default empty ternary coalesce typeOf kindOf typeIs kindIs`;
/// - conversions and math: `int int64 float64 atoi add add1 sub mul div mod max min addf add1f
///   subf mulf divf floor ceil round`;
/// - encodings: `b64enc b64dec sha1sum sha256sum toJson toRawJson toPrettyJson fromJson fromJsonArray
///   toToml fromToml`;
/// - paths: `base dir ext clean isAbs`;
/// - versions: `semver semverCompare` (Masterminds' constraint syntax);
/// - random values: `randAlphaNum randAlpha randNumeric randAscii randInt uuidv4`;
/// - cryptography: `genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert
///   genSignedCertWithKey buildCustomCert genPrivateKey bcrypt htpasswd derivePassword encryptAES
///   decryptAES` (certificates as Sprig's `certificate` struct with `Cert` and `Key`);
/// - dates: `now date dateInZone htmlDate htmlDateInZone toDate mustToDate unixEpoch dateModify
///   mustDateModify ago duration durationRound` (a Go `time.Time` object with `Unix`, `Format`,
///   `UTC`, `Year`, ... methods; Go's reference-time layouts; UTC as the local zone);
/// - `lookup`, empty as in `helm template`.
///
/// Plus Sprig's other names for these (`tuple`, `push`, the `must...` forms, `os...` paths,
/// `date_in_zone date_modify must_date_modify`),
/// `reverse toStrings sha512sum`. Every other name Helm defines ([`HELM_FUNCTION_NAMES`]) is registered as a stub that fails
/// when called, so templates parse exactly as in Helm.
#[must_use]
pub fn helm_funcs() -> Funcs {
    let mut f = Funcs::builtins();
    f.insert("list", Arity::AtLeast(0), |_, a| {
        Ok(Value::List(List::new(a.to_vec())))
    });
    f.insert("dict", Arity::AtLeast(0), |_, a| Ok(dict(a)));
    f.insert("default", Arity::AtLeast(1), |_, a| {
        let given = a.get(1);
        Ok(match given {
            Some(v) if !empty(v) => v.clone(),
            _ => a.first().cloned().unwrap_or(Value::Nil),
        })
    });
    f.insert("empty", Arity::Exact(1), |_, a| {
        Ok(Value::Bool(a.first().is_none_or(empty)))
    });
    f.insert("fail", Arity::Exact(1), |_, a| {
        Err(FuncError::Failed(arg_str(a, 0)?.to_owned()))
    });
    f.insert("required", Arity::Exact(2), |_, a| {
        let warn = arg_str(a, 0)?;
        match a.get(1) {
            None | Some(Value::Nil | Value::Invalid) => Err(FuncError::Failed(warn.to_owned())),
            Some(Value::String(s)) if s.is_empty() => Err(FuncError::Failed(warn.to_owned())),
            Some(v) => Ok(v.clone()),
        }
    });
    f.insert("include", Arity::Exact(2), include);
    f.insert("tpl", Arity::Exact(2), tpl);
    f.insert("toYaml", Arity::Exact(1), |_, a| {
        Ok(Value::from(yaml::to_yaml(a.first().unwrap_or(&Value::Nil))))
    });
    f.insert("fromYaml", Arity::Exact(1), |_, a| {
        Ok(yaml::from_yaml(arg_str(a, 0)?))
    });
    f.insert("fromYamlArray", Arity::Exact(1), |_, a| {
        Ok(yaml::from_yaml_array(arg_str(a, 0)?))
    });
    strings::register(&mut f);
    dicts::register(&mut f);
    lists::register(&mut f);
    logic::register(&mut f);
    convert::register(&mut f);
    floats::register(&mut f);
    encoding::register(&mut f);
    regex::register(&mut f);
    paths::register(&mut f);
    semver::register(&mut f);
    random::register(&mut f);
    crypto::register(&mut f);
    dates::register(&mut f);
    toml::register(&mut f);
    f.insert("lookup", Arity::Exact(4), |_, a| {
        for i in 0..4 {
            arg_str(a, i)?;
        }
        // `helm template` has no cluster: Helm returns an empty map.
        Ok(Value::Map(Map::new(BTreeMap::new())))
    });
    aliases(&mut f);
    names::register_stubs(&mut f);
    f
}

/// How many nested `include`s of one name Helm allows.
const MAX_INCLUDE_NESTING: usize = 1000;

/// Helm's `include`: runs the named template with the given dot and returns its output.
fn include(ctx: &FuncContext<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let name = arg_str(a, 0)?;
    let dot = a.get(1).cloned().unwrap_or(Value::Nil);
    let key = format!("include:{name}");
    if ctx.enter(&key) > MAX_INCLUDE_NESTING {
        ctx.leave(&key);
        return Err(FuncError::Failed(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        )));
    }
    let out = ctx.execute_template(name, dot);
    ctx.leave(&key);
    Ok(Value::from(out?))
}

/// Sprig's other names for the same functions. The `must` forms return an error where the plain
/// ones panic; Go reports both as `error calling <name>: <message>`, so they are the same here.
const ALIASES: &[(&str, &str)] = &[
    ("tuple", "list"),
    ("push", "append"),
    ("mustPush", "append"),
    ("mustAppend", "append"),
    ("mustPrepend", "prepend"),
    ("mustFirst", "first"),
    ("mustLast", "last"),
    ("mustRest", "rest"),
    ("mustInitial", "initial"),
    ("mustUniq", "uniq"),
    ("mustWithout", "without"),
    ("mustHas", "has"),
    ("mustCompact", "compact"),
    ("mustReverse", "reverse"),
    ("mustSlice", "slice"),
    ("mustDeepCopy", "deepCopy"),
    ("mustMerge", "merge"),
    ("mustMergeOverwrite", "mergeOverwrite"),
    ("mustToJson", "toJson"),
    ("mustToPrettyJson", "toPrettyJson"),
    ("mustToRawJson", "toRawJson"),
    ("trimall", "trimAll"),
    ("biggest", "max"),
    ("osBase", "base"),
    ("osClean", "clean"),
    ("osDir", "dir"),
    ("osExt", "ext"),
    ("osIsAbs", "isAbs"),
];

fn aliases(f: &mut Funcs) {
    for (name, existing) in ALIASES {
        f.alias(name, existing);
    }
    // The `must` regex forms return the parser's error itself, without the panic's
    // `regexp: Compile(...)` wrapping.
    for name in [
        "RegexFind",
        "RegexFindAll",
        "RegexReplaceAll",
        "RegexReplaceAllLiteral",
        "RegexSplit",
    ] {
        let base = format!("r{}", name.get(1..).unwrap_or_default());
        if let Some(inner) = f.get(&base).cloned() {
            f.insert(
                &format!("must{name}"),
                inner.arity,
                move |ctx, a| match (inner.imp)(ctx, a) {
                    Err(FuncError::Failed(msg)) => {
                        let unwrapped = msg
                            .split_once("`): ")
                            .map_or(msg.as_str(), |(_, rest)| rest)
                            .to_owned();
                        Err(FuncError::Failed(unwrapped))
                    }
                    other => other,
                },
            );
        }
    }
}

/// Helm's `tpl`: the text parsed as a template of the set (under the set's name, as Helm names
/// it after its root template) and run with the given dot; `<no value>` is removed from the result.
fn tpl(ctx: &FuncContext<'_>, a: &[Value]) -> Result<Value, FuncError> {
    let text = arg_str(a, 0)?;
    let dot = a.get(1).cloned().unwrap_or(Value::Nil);
    match ctx.execute_text(ctx.templates().name(), text, dot) {
        Ok(out) => Ok(Value::from(out.replace("<no value>", ""))),
        Err(TextError::Parse(e)) => Err(FuncError::Failed(format!(
            "cannot parse template {}: {e}",
            quote(text, false)
        ))),
        Err(TextError::Exec(e)) => Err(FuncError::Failed(format!(
            "error during tpl function execution for {}: {e}",
            quote(text, false)
        ))),
    }
}

/// Sprig's `strval`: strings as they are, anything else as `%v` prints it.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => format_v(&other.clone().into_interface()),
    }
}

/// What Go's `encoding/json` writes for the Sprig objects, as a plain value: a `time.Time` is
/// its RFC 3339 text (`MarshalJSON`), the `certificate` struct its exported fields.
pub(crate) fn marshalled(o: &dyn crate::template::Object) -> Option<Value> {
    match o.type_name().as_str() {
        "time.Time" => o
            .call_method(
                "Format",
                &[Value::str("2006-01-02T15:04:05.999999999Z07:00")],
            )
            .ok(),
        "sprig.certificate" => {
            let fields = ["Cert", "Key"]
                .into_iter()
                .map(|k| (k.to_owned(), o.field(k).unwrap_or(Value::Nil)))
                .collect();
            Some(Value::Map(Map::new(fields)))
        }
        _ => None,
    }
}

/// Sprig's `empty`: nil, false, zero, and empty strings, lists and maps.
pub(crate) fn empty(v: &Value) -> bool {
    !v.is_true()
}

fn dict(a: &[Value]) -> Value {
    let mut m = BTreeMap::new();
    for pair in a.chunks(2) {
        let key = pair.first().map(strval).unwrap_or_default();
        let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
        m.insert(key, value);
    }
    Value::Map(Map::new(m))
}

/// Argument `i` as a Go `string` parameter.
pub(crate) fn arg_str(a: &[Value], i: usize) -> Result<&str, FuncError> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s),
        other => Err(arg_type(i, "string", other)),
    }
}

/// Argument `i` as a Go `int` parameter.
pub(crate) fn arg_int(a: &[Value], i: usize) -> Result<i64, FuncError> {
    match a.get(i) {
        Some(Value::Int(n, crate::template::IntType::Int)) => Ok(*n),
        other => Err(arg_type(i, "int", other)),
    }
}

pub(crate) fn arg_type(index: usize, expected: &str, got: Option<&Value>) -> FuncError {
    let got = match got {
        None | Some(Value::Nil | Value::Invalid) => "interface {}".to_owned(),
        Some(v) => v.type_name(),
    };
    FuncError::ArgType {
        index,
        expected: expected.to_owned(),
        got,
    }
}

#[cfg(test)]
mod tests;
