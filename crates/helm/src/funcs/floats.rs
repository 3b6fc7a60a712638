//! Sprig's float math: `addf add1f subf mulf divf` compute in decimal (each operand taken at its
//! shortest decimal form, as `shopspring/decimal`'s `NewFromFloat` takes it, so `mulf 1.1 3` is
//! exactly 3.3), then convert back to `float64`; `floor ceil round` work on `float64`.

use super::arg_int;
use super::convert::to_float64;
use crate::template::{Arity, Funcs, Value};

pub(super) fn register(f: &mut Funcs) {
    f.insert("addf", Arity::AtLeast(0), |_, a| {
        Ok(Value::Float(fold(0.0, a, Op::Add)))
    });
    f.insert("add1f", Arity::Exact(1), |_, a| {
        Ok(Value::Float(fold(
            to_float64(a.first()),
            &[Value::Float(1.0)],
            Op::Add,
        )))
    });
    f.insert("subf", Arity::AtLeast(1), |_, a| {
        Ok(Value::Float(fold(to_float64(a.first()), rest(a), Op::Sub)))
    });
    f.insert("mulf", Arity::AtLeast(1), |_, a| {
        Ok(Value::Float(fold(to_float64(a.first()), rest(a), Op::Mul)))
    });
    f.insert("divf", Arity::AtLeast(1), |_, a| {
        Ok(Value::Float(fold(to_float64(a.first()), rest(a), Op::Div)))
    });
    f.insert("floor", Arity::Exact(1), |_, a| {
        Ok(Value::Float(to_float64(a.first()).floor()))
    });
    f.insert("ceil", Arity::Exact(1), |_, a| {
        Ok(Value::Float(to_float64(a.first()).ceil()))
    });
    f.insert("round", Arity::AtLeast(2), |_, a| {
        let places = arg_int(a, 1)?;
        let round_on = a.get(2).map_or(0.5, |v| to_float64(Some(v)));
        #[expect(clippy::cast_possible_truncation, reason = "a decimal place count")]
        let pow = 10f64.powi(places.clamp(-400, 400) as i32);
        let digit = pow * to_float64(a.first());
        let rounded = if digit.fract() >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(rounded / pow))
    });
}

fn rest(a: &[Value]) -> &[Value] {
    a.get(1..).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// Digits after the point `divf` keeps (shopspring's `DivisionPrecision`).
const DIVISION_PRECISION: i32 = 16;

/// A decimal `mantissa × 10^exp`.
#[derive(Clone, Copy)]
struct Decimal {
    mantissa: i128,
    exp: i32,
}

impl Decimal {
    /// The shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int}{frac}");
        Some(Decimal {
            mantissa: digits.parse().ok()?,
            exp: exp - i32::try_from(frac.len()).ok()?,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mantissa, self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// Both at the smaller exponent.
    fn align(self, other: Decimal) -> Option<(i128, i128, i32)> {
        let exp = self.exp.min(other.exp);
        let scale = |d: Decimal| -> Option<i128> {
            d.mantissa
                .checked_mul(10i128.checked_pow(u32::try_from(d.exp - exp).ok()?)?)
        };
        Some((scale(self)?, scale(other)?, exp))
    }

    fn apply(self, op: Op, other: Decimal) -> Option<Decimal> {
        match op {
            Op::Add | Op::Sub => {
                let (a, b, exp) = self.align(other)?;
                let m = if matches!(op, Op::Add) {
                    a.checked_add(b)?
                } else {
                    a.checked_sub(b)?
                };
                Some(Decimal { mantissa: m, exp })
            }
            Op::Mul => Some(Decimal {
                mantissa: self.mantissa.checked_mul(other.mantissa)?,
                exp: self.exp.checked_add(other.exp)?,
            }),
            Op::Div => {
                if other.mantissa == 0 {
                    return None;
                }
                // q = (m1 / m2) × 10^(e1 - e2), wanted with DIVISION_PRECISION digits after the
                // point, rounded half away from zero.
                let shift = DIVISION_PRECISION + self.exp - other.exp;
                let num = if shift >= 0 {
                    self.mantissa
                        .checked_mul(10i128.checked_pow(u32::try_from(shift).ok()? + 1)?)?
                } else {
                    self.mantissa.checked_mul(10)?
                        / 10i128.checked_pow(u32::try_from(-shift).ok()?)?
                };
                let q10 = num / other.mantissa;
                let q = (q10 + q10.signum() * 5) / 10;
                Some(Decimal {
                    mantissa: q,
                    exp: -DIVISION_PRECISION,
                })
            }
        }
    }
}

/// `first op x1 op x2 ...` in decimal, or in `float64` when a value is too large for the
/// decimal here (or a division is by zero, where shopspring panics).
fn fold(first: f64, rest: &[Value], op: Op) -> f64 {
    let mut acc = first;
    let mut dec = Decimal::from_f64(first);
    for v in rest {
        let x = to_float64(Some(v));
        dec = dec.and_then(|d| d.apply(op, Decimal::from_f64(x)?));
        acc = match op {
            Op::Add => acc + x,
            Op::Sub => acc - x,
            Op::Mul => acc * x,
            Op::Div => acc / x,
        };
    }
    dec.map_or(acc, Decimal::to_f64)
}
