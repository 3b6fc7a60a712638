//! Sprig's conversions and integer arithmetic, with the casting rules of `spf13/cast` that
//! Sprig relies on: strings are parsed with Go's base prefixes (`"0x1F"` is 31, `"08"` fails and
//! gives 0), floats are truncated, `true` is 1, anything unreadable is 0.

use super::arg_str;
use crate::template::{Arity, FuncError, Funcs, IntType, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("int", Arity::Exact(1), |_, a| {
        Ok(Value::int(to_int64(a.first())))
    });
    f.insert("int64", Arity::Exact(1), |_, a| {
        Ok(int64(to_int64(a.first())))
    });
    f.insert("float64", Arity::Exact(1), |_, a| {
        Ok(Value::Float(to_float64(a.first())))
    });
    f.insert("atoi", Arity::Exact(1), |_, a| {
        Ok(Value::int(arg_str(a, 0)?.parse::<i64>().unwrap_or(0)))
    });
    f.insert("add1", Arity::Exact(1), |_, a| {
        Ok(int64(to_int64(a.first()).wrapping_add(1)))
    });
    f.insert("add", Arity::AtLeast(0), |_, a| {
        Ok(int64(
            a.iter()
                .fold(0i64, |acc, v| acc.wrapping_add(to_int64(Some(v)))),
        ))
    });
    f.insert("mul", Arity::AtLeast(1), |_, a| {
        Ok(int64(
            a.iter()
                .fold(1i64, |acc, v| acc.wrapping_mul(to_int64(Some(v)))),
        ))
    });
    f.insert("sub", Arity::Exact(2), |_, a| {
        Ok(int64(to_int64(a.first()).wrapping_sub(to_int64(a.get(1)))))
    });
    f.insert("div", Arity::Exact(2), |_, a| {
        let d = to_int64(a.get(1));
        if d == 0 {
            return Err(FuncError::Failed(
                "runtime error: integer divide by zero".to_owned(),
            ));
        }
        Ok(int64(to_int64(a.first()).wrapping_div(d)))
    });
    f.insert("mod", Arity::Exact(2), |_, a| {
        let d = to_int64(a.get(1));
        if d == 0 {
            return Err(FuncError::Failed(
                "runtime error: integer divide by zero".to_owned(),
            ));
        }
        Ok(int64(to_int64(a.first()).wrapping_rem(d)))
    });
    f.insert("max", Arity::AtLeast(1), |_, a| {
        Ok(int64(
            a.iter().map(|v| to_int64(Some(v))).max().unwrap_or(0),
        ))
    });
    f.insert("min", Arity::AtLeast(1), |_, a| {
        Ok(int64(
            a.iter().map(|v| to_int64(Some(v))).min().unwrap_or(0),
        ))
    });
}

fn int64(i: i64) -> Value {
    Value::Int(i, IntType::Int64)
}

/// `cast.ToInt64`: 0 for anything it cannot read.
pub(crate) fn to_int64(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(i, _)) => *i,
        #[expect(
            clippy::cast_possible_truncation,
            reason = "Go's int64(f) truncates the same way"
        )]
        Some(Value::Float(f)) => *f as i64,
        Some(Value::Bool(b)) => i64::from(*b),
        Some(Value::String(s)) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub(crate) fn to_float64(v: Option<&Value>) -> f64 {
    match v {
        #[expect(
            clippy::cast_precision_loss,
            reason = "Go's float64(i) rounds the same way"
        )]
        Some(Value::Int(i, _)) => *i as f64,
        Some(Value::Float(f)) => *f,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::String(s)) => s.parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// cast's `trimZeroDecimal`: `"8.00"` reads as `"8"`.
fn trim_zero_decimal(s: &str) -> &str {
    if let Some((int, frac)) = s.split_once('.')
        && !int.is_empty()
        && frac.chars().all(|c| c == '0')
    {
        return int;
    }
    s
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..)?)
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if radix == 10 && digits.contains('_') {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let v = i64::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -v } else { v })
}
