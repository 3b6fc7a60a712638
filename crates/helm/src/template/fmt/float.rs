//! Go's `strconv.FormatFloat` for the verbs `%e %E %f %F %g %G %x %X` and `%v`: digits from
//! Rust's exact (correctly rounded) decimal conversion, laid out as Go lays them out.

use std::fmt::Write as _;

/// Decimal digits of `x` (no sign, no leading or trailing zeros except a lone "0") and the
/// position of the decimal point, as Go's `strconv` works with them. `sig` is the number of
/// significant digits to round to; `None` is the shortest that reads back exactly.
fn decimal_digits(x: f64, sig: Option<usize>) -> (String, i32) {
    let text = match sig {
        None => format!("{:e}", x.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), x.abs()),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exp + 1)
}

/// Go's `strconv.FormatFloat(x, verb, prec, 64)` for the verbs `e E f F g G b`.
pub(super) fn format_float(x: f64, verb: char, prec: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    let neg = x.is_sign_negative();
    let sign = if neg { "-" } else { "" };
    let body = match verb {
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), x.abs()),
        'e' | 'E' => {
            let p = prec.unwrap_or(6);
            let (digits, dp) = decimal_digits(x, Some(p + 1));
            fmt_e(&digits, dp, p, verb == 'E', x == 0.0)
        }
        'b' => format!("{:e}", x.abs()),
        'x' | 'X' => hex_float(x.abs(), prec, verb == 'X'),
        _ => {
            let upper = verb == 'G';
            let shortest = prec.is_none();
            let (digits, dp) = match prec {
                None => decimal_digits(x, None),
                Some(p) => decimal_digits(x, Some(p.max(1))),
            };
            let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
            let mut p = match prec {
                None => nd,
                Some(p) => i32::try_from(p.max(1)).unwrap_or(i32::MAX),
            };
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(
                    &digits,
                    dp,
                    usize::try_from(p - 1).unwrap_or(0),
                    upper,
                    x == 0.0,
                )
            } else {
                if p > dp {
                    p = nd;
                }
                fmt_f(&digits, dp, usize::try_from((p - dp).max(0)).unwrap_or(0))
            }
        }
    };
    format!("{sign}{body}")
}

/// Go's `%x` of a float: `0x1.8p+01` (the shortest hex mantissa unless a precision is given).
fn hex_float(x: f64, prec: Option<usize>, upper: bool) -> String {
    if x == 0.0 {
        let frac = prec
            .filter(|&p| p > 0)
            .map(|p| format!(".{}", "0".repeat(p)))
            .unwrap_or_default();
        let s = format!("0x0{frac}p+00");
        return if upper { s.to_uppercase() } else { s };
    }
    let bits = x.to_bits();
    let raw_exp = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mut mantissa = bits & ((1u64 << 52) - 1);
    let mut exp = raw_exp - 1023;
    if raw_exp == 0 {
        // Subnormal: normalise so the leading digit is 1.
        exp = -1022;
        while mantissa & (1u64 << 52) == 0 {
            mantissa <<= 1;
            exp -= 1;
        }
        mantissa &= (1u64 << 52) - 1;
    }
    let mut hex = format!("{mantissa:013x}");
    let mut lead = 1u64;
    match prec {
        None => {
            while hex.ends_with('0') {
                hex.pop();
            }
        }
        Some(p) if p < 13 => {
            // Round to p hex digits, half to even, carrying into the leading digit.
            let shift = 4 * (13 - p);
            let full = (1u64 << 52) | mantissa;
            let unit = 1u64 << shift;
            let rem = full & (unit - 1);
            let mut kept = full >> shift;
            if rem > unit / 2 || (rem == unit / 2 && kept & 1 == 1) {
                kept += 1;
            }
            let digits_bits = 4 * p;
            lead = kept >> digits_bits;
            if lead > 1 {
                kept >>= 1;
                exp += 1;
                lead = 1;
            }
            let frac = kept & ((1u64 << digits_bits) - 1);
            hex = if p == 0 {
                String::new()
            } else {
                format!("{frac:0p$x}")
            };
        }
        Some(p) => hex.push_str(&"0".repeat(p - 13)),
    }
    let frac = if hex.is_empty() {
        String::new()
    } else {
        format!(".{hex}")
    };
    let sign = if exp < 0 { '-' } else { '+' };
    let s = format!("0x{lead}{frac}p{sign}{:02}", exp.unsigned_abs());
    if upper { s.to_uppercase() } else { s }
}

fn fmt_e(digits: &str, dp: i32, prec: usize, upper: bool, zero: bool) -> String {
    let mut out = String::new();
    let mut chars = digits.chars();
    out.push(chars.next().unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        let rest: Vec<char> = chars.collect();
        for k in 0..prec {
            out.push(rest.get(k).copied().unwrap_or('0'));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if zero { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
    out
}

fn fmt_f(digits: &str, dp: i32, prec: usize) -> String {
    let d: Vec<char> = digits.chars().collect();
    let digit = |idx: i32| -> char {
        usize::try_from(idx)
            .ok()
            .and_then(|k| d.get(k).copied())
            .unwrap_or('0')
    };
    let mut out = String::new();
    if dp > 0 {
        for k in 0..dp {
            out.push(digit(k));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for k in 1..=i32::try_from(prec).unwrap_or(i32::MAX) {
            out.push(digit(dp + k - 1));
        }
    }
    out
}
