//! Sprig's date functions (`now date dateInZone date_in_zone htmlDate htmlDateInZone toDate
//! mustToDate unixEpoch dateModify date_modify mustDateModify must_date_modify ago duration
//! durationRound`) over a Go `time.Time` object with the methods charts call (`Unix`, `Format`,
//! `UTC`, `Year`, ...), formatting and parsing Go's reference-time layouts (`2006-01-02
//! 15:04:05 MST`).
//!
//! # Caveats
//!
//! - The local zone is UTC (the machine's), so `Local`, `""` and `UTC` are the same zone; other
//!   names are read from the system's tz database as Go reads them (a name it lacks gives UTC,
//!   as in Sprig).
//! - `now` prints Go's monotonic reading `m=+<seconds>` counted from the first time this
//!   process asked for the time, where Go counts from the process start.
//! - `Month` and `Weekday` give their names as strings (Go's are numbers printing as names, so
//!   `printf "%d"` differs).

mod layout;
mod zone;

use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::arg_str;
use crate::template::{Arity, FuncError, Funcs, IntType, Object, Value};

pub(crate) use layout::Civil;

/// Seconds from 0001-01-01 (Go's zero time) to the Unix epoch.
const ZERO_UNIX: i64 = -62_135_596_800;

/// When this process first asked for the time: the origin of the monotonic readings.
static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The wall clock now: Unix seconds and nanoseconds.
pub(crate) fn now_unix() -> (i64, u32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (secs, 0),
                n => (secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// A Go `time.Time`: an instant, the zone it is shown in, and maybe a monotonic reading.
#[derive(Clone, Debug)]
pub(crate) struct Time {
    /// Seconds since the Unix epoch.
    secs: i64,
    /// Nanoseconds within the second.
    nanos: u32,
    /// The zone's offset east of UTC, in seconds.
    offset: i32,
    /// The zone's abbreviation (`UTC`; empty for a fixed offset parsed from a number).
    zone: Rc<str>,
    /// Go's monotonic clock reading, in nanoseconds since the process started.
    mono: Option<i128>,
}

impl Time {
    fn now() -> Time {
        let start = *PROCESS_START;
        let (secs, nanos) = now_unix();
        Time {
            secs,
            nanos,
            offset: 0,
            zone: Rc::from("UTC"),
            mono: Some(i128::try_from(start.elapsed().as_nanos()).unwrap_or(0)),
        }
    }

    fn unix(secs: i64) -> Time {
        Time {
            secs,
            nanos: 0,
            offset: 0,
            zone: Rc::from("UTC"),
            mono: None,
        }
    }

    fn zero() -> Time {
        Time::unix(ZERO_UNIX)
    }

    fn utc(&self) -> Time {
        Time {
            offset: 0,
            zone: Rc::from("UTC"),
            mono: None,
            ..self.clone()
        }
    }

    fn civil(&self) -> Civil {
        Civil::from_unix(self.secs, self.offset)
    }

    fn format_layout(&self, layout: &str) -> String {
        layout::format(self.civil(), self.nanos, self.offset, &self.zone, layout)
    }

    /// Nanoseconds since the Unix epoch (saturating, as far as `i128` goes).
    fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    fn add_nanos(&self, d: i64) -> Time {
        let total = self.unix_nanos() + i128::from(d);
        let secs = i64::try_from(total.div_euclid(1_000_000_000)).unwrap_or(self.secs);
        let nanos = u32::try_from(total.rem_euclid(1_000_000_000)).unwrap_or(0);
        Time {
            secs,
            nanos,
            mono: self.mono.map(|m| m + i128::from(d)),
            ..self.clone()
        }
    }

    /// Go's `time.Since(t)`, in nanoseconds (saturating like Go's `Sub`).
    fn since(&self) -> i64 {
        let now = Time::now();
        let d = match (now.mono, self.mono) {
            (Some(a), Some(b)) => a - b,
            _ => now.unix_nanos() - self.unix_nanos(),
        };
        i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
    }
}

impl Object for Time {
    fn type_name(&self) -> String {
        "time.Time".to_owned()
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method_arity(&self, name: &str) -> Option<Arity> {
        match name {
            "Unix" | "UnixMilli" | "UnixMicro" | "UnixNano" | "UTC" | "Local" | "Year"
            | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Nanosecond" | "YearDay"
            | "Weekday" | "IsZero" | "String" => Some(Arity::Exact(0)),
            "Format" => Some(Arity::Exact(1)),
            "AddDate" => Some(Arity::Exact(3)),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let c = self.civil();
        let int64 = |n: i128| Value::Int(i64::try_from(n).unwrap_or(0), IntType::Int64);
        Ok(match name {
            "Unix" => int64(i128::from(self.secs)),
            "UnixMilli" => int64(self.unix_nanos() / 1_000_000),
            "UnixMicro" => int64(self.unix_nanos() / 1_000),
            "UnixNano" => int64(self.unix_nanos()),
            "UTC" | "Local" => Value::Object(Rc::new(self.utc())),
            "Year" => Value::int(c.year),
            "Month" => Value::str(layout::MONTHS.get(c.month_index()).copied().unwrap_or("")),
            "Day" => Value::int(c.day),
            "Hour" => Value::int(c.hour),
            "Minute" => Value::int(c.minute),
            "Second" => Value::int(c.second),
            "Nanosecond" => Value::int(i64::from(self.nanos)),
            "YearDay" => Value::int(c.yday),
            "Weekday" => Value::str(layout::DAYS.get(c.weekday_index()).copied().unwrap_or("")),
            "IsZero" => Value::Bool(self.secs == ZERO_UNIX && self.nanos == 0),
            "String" => Value::from(self.format()),
            "Format" => Value::from(self.format_layout(arg_str(args, 0)?)),
            "AddDate" => {
                let mut n = [0i64; 3];
                for (i, slot) in n.iter_mut().enumerate() {
                    *slot = super::arg_int(args, i)?;
                }
                Value::Object(Rc::new(self.add_date(n[0], n[1], n[2])))
            }
            _ => {
                return Err(FuncError::Failed(format!("time.Time has no method {name}")));
            }
        })
    }

    fn format(&self) -> String {
        let mut s = self.format_layout("2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(m) = self.mono {
            let sign = if m < 0 { '-' } else { '+' };
            let m = m.unsigned_abs();
            let _ = write!(s, " m={sign}{}.{:09}", m / 1_000_000_000, m % 1_000_000_000);
        }
        s
    }
}

impl Time {
    /// Go's `AddDate`: the civil fields moved, then normalised (Jan 31 + 1 month is Mar 2 or 3).
    fn add_date(&self, years: i64, months: i64, days: i64) -> Time {
        let c = self.civil();
        let zero_based = c.month - 1 + months;
        let year = c.year + years + zero_based.div_euclid(12);
        let month = zero_based.rem_euclid(12) + 1;
        let day_count = layout::days_from_civil(year, month, 1) + c.day - 1 + days;
        let local = day_count * 86_400 + c.hour * 3600 + c.minute * 60 + c.second;
        Time {
            secs: local - i64::from(self.offset),
            mono: None,
            ..self.clone()
        }
    }
}

/// A TOML date-time as `BurntSushi/toml` reads it: a `time.Time`, local forms in the zero-offset
/// zones it names `datetime-local`, `date-local` and `time-local`.
pub(crate) fn from_toml(d: &toml::value::Datetime) -> Value {
    let (year, month, day) = d.date.map_or((0, 1, 1), |date| {
        (
            i64::from(date.year),
            i64::from(date.month),
            i64::from(date.day),
        )
    });
    let (hour, minute, second, nanos) = d.time.map_or((0, 0, 0, 0), |t| {
        (
            i64::from(t.hour),
            i64::from(t.minute),
            i64::from(t.second.unwrap_or(0)),
            t.nanosecond.unwrap_or(0),
        )
    });
    let local =
        layout::days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let (offset, zone) = match (d.offset, d.date, d.time) {
        (Some(toml::value::Offset::Z), _, _) => (0, "UTC"),
        (Some(toml::value::Offset::Custom { minutes }), _, _) => (i32::from(minutes) * 60, ""),
        (None, Some(_), Some(_)) => (0, "datetime-local"),
        (None, Some(_), None) => (0, "date-local"),
        (None, None, _) => (0, "time-local"),
    };
    let mut t = Time::unix(local - i64::from(offset));
    t.nanos = nanos;
    t.offset = offset;
    t.zone = Rc::from(zone);
    time_value(t)
}

fn time_value(t: Time) -> Value {
    Value::Object(Rc::new(t))
}

/// The argument as a `time.Time` parameter (Sprig's `dateModify` and `unixEpoch`).
fn arg_time(a: &[Value], i: usize) -> Result<Time, FuncError> {
    match a.get(i) {
        Some(Value::Object(o)) if o.type_name() == "time.Time" => time_of(o.as_ref()),
        other => Err(super::arg_type(i, "time.Time", other)),
    }
}

/// The instant a `time.Time` object holds, read back through its methods.
fn time_of(o: &dyn Object) -> Result<Time, FuncError> {
    let nanos = match o.call_method("UnixNano", &[])? {
        Value::Int(n, _) => n,
        _ => 0,
    };
    let text = o.format();
    let mut t = Time::unix(nanos.div_euclid(1_000_000_000));
    t.nanos = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    // The zone and monotonic reading travel in the printed form: `... -0700 MST m=+1.2`.
    let mut fields = text.split(' ').skip(2);
    if let Some(offset) = fields.next().and_then(layout::parse_numeric_offset) {
        t.offset = offset;
    }
    t.zone = Rc::from(fields.next().unwrap_or("UTC"));
    t.mono = fields
        .next()
        .and_then(|m| m.strip_prefix("m="))
        .and_then(parse_mono);
    Ok(t)
}

fn parse_mono(s: &str) -> Option<i128> {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = rest.split_once('.')?;
    Some(sign * (whole.parse::<i128>().ok()? * 1_000_000_000 + frac.parse::<i128>().ok()?))
}

/// The date Sprig's `date` family takes: a `time.Time`, or Unix seconds as an `int`, `int64` or
/// `int32`; anything else is now.
fn date_arg(v: Option<&Value>) -> Result<Time, FuncError> {
    match v {
        Some(Value::Object(o)) if o.type_name() == "time.Time" => time_of(o.as_ref()),
        Some(Value::Int(n, IntType::Int | IntType::Int64 | IntType::Int32)) => Ok(Time::unix(*n)),
        _ => Ok(Time::now()),
    }
}

/// Sprig's `dateInZone`: the date shown in `zone` with Go's layout `fmt`. A zone Go cannot
/// load gives UTC, as in Sprig.
fn date_in_zone(layout: &str, date: Option<&Value>, zone: &str) -> Result<Value, FuncError> {
    let t = date_arg(date)?.utc();
    let t = match zone {
        "" | "UTC" | "Local" => t,
        name => match zone::load(name) {
            Some(z) => {
                let at = z.lookup(t.secs);
                Time {
                    offset: at.seconds,
                    zone: Rc::from(at.abbreviation.as_str()),
                    ..t
                }
            }
            None => t,
        },
    };
    Ok(Value::from(t.format_layout(layout)))
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("now", Arity::Exact(0), |_, _| Ok(time_value(Time::now())));
    f.insert("date", Arity::Exact(2), |_, a| {
        date_in_zone(arg_str(a, 0)?, a.get(1), "Local")
    });
    f.insert("dateInZone", Arity::Exact(3), |_, a| {
        date_in_zone(arg_str(a, 0)?, a.get(1), arg_str(a, 2)?)
    });
    f.alias("date_in_zone", "dateInZone");
    f.insert("htmlDate", Arity::Exact(1), |_, a| {
        date_in_zone("2006-01-02", a.first(), "Local")
    });
    f.insert("htmlDateInZone", Arity::Exact(2), |_, a| {
        date_in_zone("2006-01-02", a.first(), arg_str(a, 1)?)
    });
    f.insert("toDate", Arity::Exact(2), |_, a| {
        let (layout, text) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(time_value(
            layout::parse(layout, text).unwrap_or_else(|_| Time::zero()),
        ))
    });
    f.insert("mustToDate", Arity::Exact(2), |_, a| {
        let (layout, text) = (arg_str(a, 0)?, arg_str(a, 1)?);
        layout::parse(layout, text)
            .map(time_value)
            .map_err(FuncError::Failed)
    });
    f.insert("unixEpoch", Arity::Exact(1), |_, a| {
        Ok(Value::from(arg_time(a, 0)?.secs.to_string()))
    });
    f.insert("dateModify", Arity::Exact(2), |_, a| {
        let (d, t) = (arg_str(a, 0)?, arg_time(a, 1)?);
        Ok(time_value(match parse_duration(d) {
            Ok(n) => t.add_nanos(n),
            Err(_) => t,
        }))
    });
    f.alias("date_modify", "dateModify");
    f.insert("mustDateModify", Arity::Exact(2), |_, a| {
        let (d, t) = (arg_str(a, 0)?, arg_time(a, 1)?);
        let n = parse_duration(d).map_err(FuncError::Failed)?;
        Ok(time_value(t.add_nanos(n)))
    });
    f.alias("must_date_modify", "mustDateModify");
    f.insert("ago", Arity::Exact(1), |_, a| {
        let since = date_arg(a.first())?.since();
        Ok(Value::from(format_duration(round_to_second(since))))
    });
    f.insert("duration", Arity::Exact(1), |_, a| {
        // Sprig reads a string or an int64 as seconds; anything else (even an int) is 0.
        let secs = match a.first() {
            Some(Value::String(s)) => s.parse::<i64>().unwrap_or(0),
            Some(Value::Int(n, IntType::Int64)) => *n,
            _ => 0,
        };
        Ok(Value::from(format_duration(
            secs.wrapping_mul(1_000_000_000),
        )))
    });
    f.insert("durationRound", Arity::Exact(1), |_, a| {
        let d = match a.first() {
            Some(Value::String(s)) => parse_duration(s).unwrap_or(0),
            Some(Value::Int(n, IntType::Int64)) => *n,
            Some(Value::Object(o)) if o.type_name() == "time.Time" => time_of(o.as_ref())?.since(),
            _ => 0,
        };
        Ok(Value::from(duration_round(d)))
    });
}

/// Go's `Duration.Round(time.Second)`: half away from zero, saturating.
fn round_to_second(d: i64) -> i64 {
    const S: i64 = 1_000_000_000;
    let r = d % S;
    if d < 0 {
        let r = -r;
        if r + r < S {
            d + r
        } else {
            d.checked_sub(S - r).unwrap_or(i64::MIN)
        }
    } else if r + r < S {
        d - r
    } else {
        d.checked_add(S - r).unwrap_or(i64::MAX)
    }
}

/// Sprig's `durationRound`: the largest whole unit the duration exceeds (`2h`, `3mo`, `1y`).
fn duration_round(d: i64) -> String {
    const SECOND: u64 = 1_000_000_000;
    let u = d.unsigned_abs();
    let units: [(u64, &str); 6] = [
        (SECOND * 3600 * 24 * 365, "y"),
        (SECOND * 3600 * 24 * 30, "mo"),
        (SECOND * 3600 * 24, "d"),
        (SECOND * 3600, "h"),
        (SECOND * 60, "m"),
        (SECOND, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".to_owned()
}

/// Go's `Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(crate) fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_owned();
    }
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        out.push_str(unit);
        let (frac, rest) = fraction(u, prec);
        out.insert_str(0, &format!("{rest}{frac}"));
    } else {
        let (frac, rest) = fraction(u, 9);
        u = rest;
        out = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            out = format!("{}m{out}", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h{out}");
            }
        }
    }
    if d < 0 {
        out.insert(0, '-');
    }
    out
}

/// Go's `fmtFrac`: the last `prec` digits of `v` as a fraction without trailing zeros (`.5`,
/// or nothing), and `v` without them.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let digits = format!("{:0width$}", v % scale, width = prec as usize);
    let trimmed = digits.trim_end_matches('0');
    let frac = if trimmed.is_empty() {
        String::new()
    } else {
        format!(".{trimmed}")
    };
    (frac, v / scale)
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error messages.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let invalid = || {
        format!(
            "time: invalid duration {}",
            crate::template::quote(s, false)
        )
    };
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or("")),
        Some(b'+') => (false, s.get(1..).unwrap_or("")),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                crate::template::quote(s, false)
            ));
        }
        let scale: u64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::template::quote(unit, false),
                    crate::template::quote(s, false)
                ));
            }
        };
        let whole: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let mut f: f64 = 0.0;
            let mut place = 1.0;
            for b in frac_part.bytes().take(18) {
                place /= 10.0;
                f += f64::from(b - b'0') * place;
            }
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "Go scales the fraction as a float64 and truncates it the same way"
            )]
            let extra = (f * scale as f64) as u64;
            v = v.checked_add(extra).ok_or_else(invalid)?;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > 1 << 63 {
            return Err(invalid());
        }
        rest = next;
    }
    if neg {
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests;

/// An instant as Go's `time.Time` marshals to JSON in UTC (RFC 3339 with nanoseconds, trailing
/// zeros dropped): how Helm's release records write their times.
#[must_use]
pub(crate) fn rfc3339_nano(secs: i64, nanos: u32) -> String {
    Time {
        secs,
        nanos,
        offset: 0,
        zone: Rc::from("UTC"),
        mono: None,
    }
    .format_layout("2006-01-02T15:04:05.999999999Z07:00")
}
