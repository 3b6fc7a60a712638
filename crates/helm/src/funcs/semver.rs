//! Sprig's `semver` and `semverCompare` with the rules of `Masterminds/semver` v3: versions with
//! an optional `v` and missing minor or patch parts, constraints joined by `,` or spaces (AND)
//! and `||` (OR), the operators `= != > < >= => <= =< ~ ~> ^`, `x`/`*` wildcards, hyphen ranges,
//! and the prerelease rule: a prerelease version satisfies a constraint only if the constraint's
//! own version has a prerelease (hence charts' `>=1.19-0`).

use std::cmp::Ordering;
use std::rc::Rc;
use std::sync::LazyLock;

use regex::Regex;

use super::arg_str;
use crate::template::{Arity, FuncError, Funcs, IntType, Object, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("semverCompare", Arity::Exact(2), |_, a| {
        let constraint = Constraints::parse(arg_str(a, 0)?)?;
        let version = Version::parse(arg_str(a, 1)?)?;
        Ok(Value::Bool(constraint.check(&version)))
    });
    f.insert("semver", Arity::Exact(1), |_, a| {
        Ok(Value::Object(Rc::new(Version::parse(arg_str(a, 0)?)?)))
    });
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static VERSION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
});
static CONSTRAINT: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(&format!(r"^\s*({OPS})\s*({CV})\s*$")));
static RANGE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(&format!(r"\s*({CV})\s+-\s+({CV})\s*")));
static FIND: LazyLock<Option<Regex>> = LazyLock::new(|| re(&format!(r"({OPS})\s*({CV})")));
static VALID: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(&format!(r"^(\s*({OPS})\s*({CV})\s*\,?)+$")));

fn regex(r: &LazyLock<Option<Regex>>) -> Result<&Regex, FuncError> {
    r.as_ref()
        .ok_or_else(|| FuncError::Failed("semver: internal pattern does not compile".to_owned()))
}

/// A semantic version.
#[derive(Clone, Debug)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

impl Version {
    fn parse(s: &str) -> Result<Version, FuncError> {
        let invalid = || FuncError::Failed("invalid semantic version".to_owned());
        let caps = regex(&VERSION)?.captures(s).ok_or_else(invalid)?;
        let part = |i: usize| -> Result<u64, FuncError> {
            match caps.get(i) {
                Some(m) => m
                    .as_str()
                    .trim_start_matches('.')
                    .parse()
                    .map_err(|_| invalid()),
                None => Ok(0),
            }
        };
        Ok(Version {
            major: part(1)?,
            minor: part(2)?,
            patch: part(3)?,
            pre: caps.get(5).map_or("", |m| m.as_str()).to_owned(),
            metadata: caps.get(8).map_or("", |m| m.as_str()).to_owned(),
            original: s.to_owned(),
        })
    }

    fn compare(&self, other: &Version) -> Ordering {
        self.major
            .cmp(&other.major)
            .then(self.minor.cmp(&other.minor))
            .then(self.patch.cmp(&other.patch))
            .then_with(|| compare_prerelease(&self.pre, &other.pre))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

/// The prerelease order of semantic versions: none sorts after any; identifiers compare numerically when both
/// are numbers, numbers before words, and a shorter list first when all else is equal.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let (xs, ys): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for (x, y) in xs.iter().zip(&ys) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    xs.len().cmp(&ys.len())
}

impl Object for Version {
    fn type_name(&self) -> String {
        "*semver.Version".to_owned()
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method_arity(&self, name: &str) -> Option<Arity> {
        matches!(
            name,
            "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "Original" | "String"
        )
        .then_some(Arity::Exact(0))
    }

    fn call_method(&self, name: &str, _args: &[Value]) -> Result<Value, FuncError> {
        let uint = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX), IntType::Uint64);
        Ok(match name {
            "Major" => uint(self.major),
            "Minor" => uint(self.minor),
            "Patch" => uint(self.patch),
            "Prerelease" => Value::str(&self.pre),
            "Metadata" => Value::str(&self.metadata),
            "Original" => Value::str(&self.original),
            _ => Value::from(self.to_string()),
        })
    }

    fn format(&self) -> String {
        self.to_string()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

struct Constraint {
    op: Op,
    con: Version,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

struct Constraints(Vec<Vec<Constraint>>);

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraints {
    fn parse(text: &str) -> Result<Constraints, FuncError> {
        let text = regex(&RANGE)?
            .replace_all(text, ">= ${1}, <= ${11} ")
            .into_owned();
        let mut ors = Vec::new();
        for group in text.split("||") {
            if !regex(&VALID)?.is_match(group) {
                return Err(FuncError::Failed(format!("improper constraint: {group}")));
            }
            let found: Vec<&str> = regex(&FIND)?.find_iter(group).map(|m| m.as_str()).collect();
            let items = if found.is_empty() { vec![group] } else { found };
            ors.push(
                items
                    .into_iter()
                    .map(Constraint::parse)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Constraints(ors))
    }

    fn check(&self, v: &Version) -> bool {
        self.0.iter().any(|and| and.iter().all(|c| c.check(v)))
    }
}

impl Constraint {
    fn parse(text: &str) -> Result<Constraint, FuncError> {
        let improper = || FuncError::Failed(format!("improper constraint: {text}"));
        let caps = regex(&CONSTRAINT)?.captures(text).ok_or_else(improper)?;
        let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let op = match get(1) {
            "" | "=" => Op::Equal,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            _ => Op::Caret,
        };
        let (m3, m4, m5, m6) = (get(3), get(4), get(5), get(6));
        let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
        let version = if is_x(m3) || m3.is_empty() {
            dirty = true;
            "0.0.0".to_owned()
        } else if is_x(m4.trim_start_matches('.')) || m4.is_empty() {
            dirty = true;
            minor_dirty = true;
            format!("{m3}.0.0{m6}")
        } else if is_x(m5.trim_start_matches('.')) || m5.is_empty() {
            dirty = true;
            patch_dirty = true;
            format!("{m3}{m4}.0{m6}")
        } else {
            get(2).to_owned()
        };
        let con = Version::parse(&version)
            .map_err(|_| FuncError::Failed("constraint Parser Error".to_owned()))?;
        Ok(Constraint {
            op,
            con,
            dirty,
            minor_dirty,
            patch_dirty,
        })
    }

    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        match self.op {
            Op::Equal => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    }
                    if self.patch_dirty {
                        return (!v.pre.is_empty() || !c.pre.is_empty())
                            && compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty || v.major != c.major {
                    return if self.dirty {
                        v.major > c.major
                    } else {
                        v.compare(c) == Ordering::Greater
                    };
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v.compare(c) == Ordering::Greater
            }
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// Whether `version` satisfies `constraint` (Masterminds' rules), for the chart loader's
/// `kubeVersion` and dependency checks.
///
/// # Errors
/// The constraint or the version does not parse, with Masterminds' message.
pub(crate) fn satisfies(constraint: &str, version: &str) -> Result<bool, FuncError> {
    let constraint = Constraints::parse(constraint)?;
    Ok(constraint.check(&Version::parse(version)?))
}

/// Whether `version` is a semantic version Masterminds accepts.
pub(crate) fn is_version(version: &str) -> bool {
    Version::parse(version).is_ok()
}
