//! Go's reference-time layouts (`Mon Jan 2 15:04:05 MST 2006`): splitting a layout into its
//! elements, formatting a civil time with one, and parsing text with one as `time.Parse` does
//! (in UTC, the local zone here), with Go's error messages.

use super::Time;
use crate::template::quote;
use std::rc::Rc;

/// Month names, January first.
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Day names, Sunday first.
pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A civil (calendar and clock) time in some zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1 to 12.
    pub(crate) month: i64,
    /// 1 to 31.
    pub(crate) day: i64,
    pub(crate) hour: i64,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    /// Day of the year, 1 to 366.
    pub(crate) yday: i64,
    /// Day of the week, 0 for Sunday.
    pub(crate) wday: i64,
}

impl Civil {
    /// The civil time of the Unix instant `secs` in a zone `offset` seconds east of UTC.
    pub(crate) fn from_unix(secs: i64, offset: i32) -> Civil {
        let local = secs.saturating_add(i64::from(offset));
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            yday: days - days_from_civil(year, 1, 1) + 1,
            // 1970-01-01 was a Thursday.
            wday: (days + 4).rem_euclid(7),
        }
    }

    pub(crate) fn month_index(self) -> usize {
        usize::try_from(self.month - 1).unwrap_or(0)
    }

    pub(crate) fn weekday_index(self) -> usize {
        usize::try_from(self.wday).unwrap_or(0)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (any month and day numbers normalise).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A layout element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    /// A numeric zone (`-0700` and friends); `iso` for the `Z` forms, which print `Z` for UTC.
    NumTz {
        iso: bool,
        colon: bool,
        minutes: bool,
        seconds: bool,
    },
    /// Fractional seconds: the separator, the digit count, and whether trailing zeros go.
    Frac {
        sep: u8,
        digits: usize,
        trim: bool,
    },
}

/// The first element of `layout`: the literal text before it, the element and its text, and
/// the rest; `None` when the layout is all literal.
fn next_std(layout: &str) -> Option<(&str, Std, &str, &str)> {
    let b = layout.as_bytes();
    let has = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    for i in 0..b.len() {
        let found: Option<(Std, usize)> = match b.get(i).copied().unwrap_or(0) {
            b'J' if has(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if has(i, "Jan") => Some((Std::Month, 3)),
            b'M' if has(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if has(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if has(i, "MST") => Some((Std::Tz, 3)),
            b'0' => match b.get(i + 1).copied() {
                Some(c @ b'1'..=b'6') => Some((
                    match c {
                        b'1' => Std::ZeroMonth,
                        b'2' => Std::ZeroDay,
                        b'3' => Std::ZeroHour12,
                        b'4' => Std::ZeroMinute,
                        b'5' => Std::ZeroSecond,
                        _ => Std::Year,
                    },
                    2,
                )),
                Some(b'0') if b.get(i + 2) == Some(&b'2') => Some((Std::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if has(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if has(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if has(i, "_2006") => {
                // A literal `_` before a long year.
                return Some((
                    layout.get(..=i)?,
                    Std::LongYear,
                    "2006",
                    layout.get(i + 5..)?,
                ));
            }
            b'_' if has(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if has(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i, "PM") => Some((Std::Pm, 2)),
            b'p' if has(i, "pm") => Some((Std::LowerPm, 2)),
            c @ (b'-' | b'Z') => {
                let iso = c == b'Z';
                let tz = |colon, minutes, seconds| Std::NumTz {
                    iso,
                    colon,
                    minutes,
                    seconds,
                };
                let c = char::from(c);
                if has(i, &format!("{c}070000")) {
                    Some((tz(false, true, true), 7))
                } else if has(i, &format!("{c}07:00:00")) {
                    Some((tz(true, true, true), 9))
                } else if has(i, &format!("{c}0700")) {
                    Some((tz(false, true, false), 5))
                } else if has(i, &format!("{c}07:00")) {
                    Some((tz(true, true, false), 6))
                } else if has(i, &format!("{c}07")) {
                    Some((tz(false, false, false), 3))
                } else {
                    None
                }
            }
            sep @ (b'.' | b',') => match b.get(i + 1).copied() {
                Some(ch @ (b'0' | b'9')) => {
                    let mut j = i + 1;
                    while b.get(j) == Some(&ch) {
                        j += 1;
                    }
                    if digit(j) {
                        None
                    } else {
                        Some((
                            Std::Frac {
                                sep,
                                digits: j - i - 1,
                                trim: ch == b'9',
                            },
                            j - i,
                        ))
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((std, len)) = found {
            return Some((
                layout.get(..i)?,
                std,
                layout.get(i..i + len)?,
                layout.get(i + len..)?,
            ));
        }
    }
    None
}

fn pad(n: i64, width: usize, fill: char) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for _ in digits.len()..width {
        out.push(fill);
    }
    out.push_str(&digits);
    out
}

/// Go's `Time.Format`.
pub(crate) fn format(c: Civil, nanos: u32, offset: i32, zone: &str, layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    while let Some((lit, std, _, after)) = next_std(rest) {
        out.push_str(lit);
        rest = after;
        let hour12 = match c.hour % 12 {
            0 => 12,
            h => h,
        };
        match std {
            Std::LongMonth => out.push_str(MONTHS.get(c.month_index()).copied().unwrap_or("")),
            Std::Month => out.push_str(
                MONTHS
                    .get(c.month_index())
                    .and_then(|m| m.get(..3))
                    .unwrap_or(""),
            ),
            Std::NumMonth => out.push_str(&c.month.to_string()),
            Std::ZeroMonth => out.push_str(&pad(c.month, 2, '0')),
            Std::LongWeekDay => out.push_str(DAYS.get(c.weekday_index()).copied().unwrap_or("")),
            Std::WeekDay => out.push_str(
                DAYS.get(c.weekday_index())
                    .and_then(|d| d.get(..3))
                    .unwrap_or(""),
            ),
            Std::Day => out.push_str(&c.day.to_string()),
            Std::UnderDay => out.push_str(&pad(c.day, 2, ' ')),
            Std::ZeroDay => out.push_str(&pad(c.day, 2, '0')),
            Std::UnderYearDay => out.push_str(&pad(c.yday, 3, ' ')),
            Std::ZeroYearDay => out.push_str(&pad(c.yday, 3, '0')),
            Std::Hour => out.push_str(&pad(c.hour, 2, '0')),
            Std::Hour12 => out.push_str(&hour12.to_string()),
            Std::ZeroHour12 => out.push_str(&pad(hour12, 2, '0')),
            Std::Minute => out.push_str(&c.minute.to_string()),
            Std::ZeroMinute => out.push_str(&pad(c.minute, 2, '0')),
            Std::Second => out.push_str(&c.second.to_string()),
            Std::ZeroSecond => out.push_str(&pad(c.second, 2, '0')),
            Std::LongYear => out.push_str(&pad(c.year, 4, '0')),
            Std::Year => out.push_str(&pad(c.year.rem_euclid(100), 2, '0')),
            Std::Pm => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::LowerPm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Tz => {
                if zone.is_empty() {
                    let minutes = offset / 60;
                    out.push(if minutes < 0 { '-' } else { '+' });
                    let m = i64::from(minutes.unsigned_abs());
                    out.push_str(&pad(m / 60, 2, '0'));
                    out.push_str(&pad(m % 60, 2, '0'));
                } else {
                    out.push_str(zone);
                }
            }
            Std::NumTz {
                iso,
                colon,
                minutes,
                seconds,
            } => {
                if iso && offset == 0 {
                    out.push('Z');
                    continue;
                }
                out.push(if offset < 0 { '-' } else { '+' });
                let abs = i64::from(offset.unsigned_abs());
                out.push_str(&pad(abs / 3600, 2, '0'));
                if minutes {
                    if colon {
                        out.push(':');
                    }
                    out.push_str(&pad(abs % 3600 / 60, 2, '0'));
                }
                if seconds {
                    if colon {
                        out.push(':');
                    }
                    out.push_str(&pad(abs % 60, 2, '0'));
                }
            }
            Std::Frac { sep, digits, trim } => {
                let all = format!("{nanos:09}");
                let mut part = all.get(..digits.min(9)).unwrap_or("").to_owned();
                if trim {
                    part = part.trim_end_matches('0').to_owned();
                    if part.is_empty() {
                        continue;
                    }
                }
                out.push(char::from(sep));
                out.push_str(&part);
            }
        }
    }
    out.push_str(rest);
    out
}

/// A numeric offset `+hhmm` / `-hhmm` as Go prints it, in seconds.
pub(crate) fn parse_numeric_offset(s: &str) -> Option<i32> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..)?.parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let d = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let first = d(0)?;
    match d(1) {
        Some(second) => Some((first * 10 + second, s.get(2..)?)),
        None if fixed => None,
        None => Some((first, s.get(1..)?)),
    }
}

/// Go's `getnum3`: one to three digits (exactly three when `fixed`).
fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let n = s.bytes().take(3).take_while(u8::is_ascii_digit).count();
    if n == 0 || (fixed && n != 3) {
        return None;
    }
    Some((s.get(..n)?.parse().ok()?, s.get(n..)?))
}

/// A name from `names` the text starts with (case-insensitively, whole or its first three
/// letters when `short`): its index and the rest.
fn lookup<'a>(names: &[&str], s: &'a str, short: bool) -> Option<(usize, &'a str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let name = if short { name.get(..3)? } else { name };
        let head = s.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| Some((i, s.get(name.len()..)?)))
            .flatten()
    })
}

/// Go's `skip`: the literal layout text at the start of the value (a space matching any run of
/// spaces).
fn skip<'a>(mut value: &'a str, mut prefix: &str) -> Option<&'a str> {
    while let Some(p) = prefix.chars().next() {
        if p == ' ' {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            prefix = prefix.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        value = value.strip_prefix(p)?;
        prefix = prefix.get(p.len_utf8()..)?;
    }
    Some(value)
}

/// The digits of a fraction as nanoseconds (up to nine digits count).
fn frac_nanos(digits: &str) -> u32 {
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

/// The parsed fields of a time.
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    yday: Option<i64>,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: u32,
    pm: Option<bool>,
    offset: Option<i32>,
    utc: bool,
    zone_name: Option<String>,
}

/// Go's `time.Parse` in the local zone (UTC), with Go's error messages.
pub(crate) fn parse(layout: &str, value: &str) -> Result<Time, String> {
    let whole = value;
    let cannot = |rest: &str, elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            quote(whole, false),
            quote(layout, false),
            quote(rest, false),
            quote(elem, false)
        )
    };
    let range = |what: &str| format!("parsing time {}: {what} out of range", quote(whole, false));
    let mut fields = Fields::default();
    let mut lay = layout;
    let mut v = value;
    while let Some((lit, std, elem, after)) = next_std(lay) {
        v = skip(v, lit).ok_or_else(|| cannot(v, lit))?;
        lay = after;
        v = match element(std, v, lay, &mut fields) {
            Ok(rest) => rest,
            Err(Miss::Cannot) => return Err(cannot(v, elem)),
            Err(Miss::Range(what)) => return Err(range(what)),
        };
    }
    let v = skip(v, lay).ok_or_else(|| cannot(v, lay))?;
    if !v.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            quote(whole, false),
            quote(v, false)
        ));
    }
    build(fields, whole)
}

/// Why an element did not parse.
enum Miss {
    /// The text does not fit the element: Go's `cannot parse ... as ...`.
    Cannot,
    /// A number out of its range: Go's `<what> out of range`.
    Range(&'static str),
}

fn in_range(n: i64, lo: i64, hi: i64, what: &'static str) -> Result<i64, Miss> {
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(Miss::Range(what))
    }
}

/// Parses one layout element at the start of `v` into `fields`, returning the rest of the text;
/// `rest_layout` is the layout after the element.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per layout element, as Go's parser has; splitting it scatters the rules"
)]
fn element<'a>(
    std: Std,
    mut v: &'a str,
    rest_layout: &str,
    fields: &mut Fields,
) -> Result<&'a str, Miss> {
    match std {
        Std::LongYear => {
            let digits = v.get(..4).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
            let digits = digits.ok_or(Miss::Cannot)?;
            fields.year = Some(digits.parse().map_err(|_| Miss::Cannot)?);
            v = v.get(4..).unwrap_or("");
        }
        Std::Year => {
            let digits = v.get(..2).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
            let y: i64 = digits
                .ok_or(Miss::Cannot)?
                .parse()
                .map_err(|_| Miss::Cannot)?;
            fields.year = Some(if y >= 69 { 1900 + y } else { 2000 + y });
            v = v.get(2..).unwrap_or("");
        }
        Std::LongMonth | Std::Month => {
            let (i, rest) = lookup(&MONTHS, v, std == Std::Month).ok_or(Miss::Cannot)?;
            fields.month = Some(i64::try_from(i).unwrap_or(0) + 1);
            v = rest;
        }
        Std::NumMonth | Std::ZeroMonth => {
            let (n, rest) = getnum(v, std == Std::ZeroMonth).ok_or(Miss::Cannot)?;
            fields.month = Some(in_range(n, 1, 12, "month")?);
            v = rest;
        }
        Std::LongWeekDay | Std::WeekDay => {
            let (_, rest) = lookup(&DAYS, v, std == Std::WeekDay).ok_or(Miss::Cannot)?;
            v = rest;
        }
        Std::Day | Std::UnderDay | Std::ZeroDay => {
            if std == Std::UnderDay {
                v = v.strip_prefix(' ').unwrap_or(v);
            }
            let (n, rest) = getnum(v, std == Std::ZeroDay).ok_or(Miss::Cannot)?;
            fields.day = Some(n);
            v = rest;
        }
        Std::UnderYearDay | Std::ZeroYearDay => {
            if std == Std::UnderYearDay {
                v = v.trim_start_matches(' ');
            }
            let (n, rest) = getnum3(v, std == Std::ZeroYearDay).ok_or(Miss::Cannot)?;
            fields.yday = Some(n);
            v = rest;
        }
        Std::Hour => {
            let (n, rest) = getnum(v, false).ok_or(Miss::Cannot)?;
            fields.hour = in_range(n, 0, 23, "hour")?;
            v = rest;
        }
        Std::Hour12 | Std::ZeroHour12 => {
            let (n, rest) = getnum(v, std == Std::ZeroHour12).ok_or(Miss::Cannot)?;
            fields.hour = in_range(n, 0, 12, "hour")?;
            v = rest;
        }
        Std::Minute | Std::ZeroMinute => {
            let (n, rest) = getnum(v, std == Std::ZeroMinute).ok_or(Miss::Cannot)?;
            fields.minute = in_range(n, 0, 59, "minute")?;
            v = rest;
        }
        Std::Second | Std::ZeroSecond => {
            let (n, rest) = getnum(v, std == Std::ZeroSecond).ok_or(Miss::Cannot)?;
            fields.second = in_range(n, 0, 59, "second")?;
            v = rest;
            // Go takes a fraction after the seconds even when the layout has none.
            let next_is_frac = matches!(next_std(rest_layout), Some(("", Std::Frac { .. }, _, _)));
            let b = v.as_bytes();
            if !next_is_frac
                && matches!(b.first(), Some(b'.' | b','))
                && b.get(1).is_some_and(u8::is_ascii_digit)
            {
                let n = v.bytes().skip(1).take_while(u8::is_ascii_digit).count();
                fields.nanos = frac_nanos(v.get(1..=n).unwrap_or(""));
                v = v.get(n + 1..).unwrap_or("");
            }
        }
        Std::Pm | Std::LowerPm => {
            let head = v.get(..2).ok_or(Miss::Cannot)?;
            fields.pm = Some(match head {
                "PM" if std == Std::Pm => true,
                "AM" if std == Std::Pm => false,
                "pm" if std == Std::LowerPm => true,
                "am" if std == Std::LowerPm => false,
                _ => return Err(Miss::Cannot),
            });
            v = v.get(2..).unwrap_or("");
        }
        Std::NumTz {
            iso,
            colon,
            minutes,
            seconds,
        } => {
            if iso && v.starts_with('Z') {
                fields.utc = true;
                v = v.get(1..).unwrap_or("");
                return Ok(v);
            }
            let sign = match v.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(Miss::Cannot),
            };
            let mut rest = v.get(1..).unwrap_or("");
            let mut two = |sep: bool| -> Option<i32> {
                if sep {
                    rest = rest.strip_prefix(':')?;
                }
                let d = rest
                    .get(..2)
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
                rest = rest.get(2..)?;
                d.parse().ok()
            };
            let hours = two(false).ok_or(Miss::Cannot)?;
            let mins = if minutes {
                two(colon).ok_or(Miss::Cannot)?
            } else {
                0
            };
            let secs = if seconds {
                two(colon).ok_or(Miss::Cannot)?
            } else {
                0
            };
            fields.offset = Some(sign * (hours * 3600 + mins * 60 + secs));
            v = rest;
        }
        Std::Tz => {
            if v.starts_with("UTC") {
                fields.utc = true;
                v = v.get(3..).unwrap_or("");
                return Ok(v);
            }
            let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
            if !(3..=5).contains(&n) {
                return Err(Miss::Cannot);
            }
            fields.zone_name = Some(v.get(..n).unwrap_or("").to_owned());
            v = v.get(n..).unwrap_or("");
        }
        Std::Frac { digits, trim, .. } => {
            let b = v.as_bytes();
            let starts = matches!(b.first(), Some(b'.' | b','));
            if trim {
                if !starts || !b.get(1).is_some_and(u8::is_ascii_digit) {
                    return Ok(v);
                }
                let n = v.bytes().skip(1).take_while(u8::is_ascii_digit).count();
                fields.nanos = frac_nanos(v.get(1..=n).unwrap_or(""));
                v = v.get(n + 1..).unwrap_or("");
            } else {
                let ok = starts
                    && v.get(1..=digits)
                        .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()));
                if !ok {
                    return Err(Miss::Cannot);
                }
                fields.nanos = frac_nanos(v.get(1..=digits).unwrap_or(""));
                v = v.get(digits + 1..).unwrap_or("");
            }
        }
    }
    Ok(v)
}

fn build(f: Fields, whole: &str) -> Result<Time, String> {
    let range = |what: &str| format!("parsing time {}: {what} out of range", quote(whole, false));
    let mut hour = f.hour;
    match f.pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let year = f.year.unwrap_or(0);
    let (mut month, mut day) = (f.month.unwrap_or(1), f.day.unwrap_or(1));
    if let Some(yday) = f.yday {
        let max = if is_leap(year) { 366 } else { 365 };
        if yday < 1 || yday > max {
            return Err(range("day-of-year"));
        }
        let d = days_from_civil(year, 1, 1) + yday - 1;
        let (_, m, dd) = civil_from_days(d);
        if f.month.is_some_and(|x| x != m) || f.day.is_some_and(|x| x != dd) {
            return Err(range("day-of-year"));
        }
        month = m;
        day = dd;
    }
    if day < 1 || day > days_in(month, year) {
        return Err(range("day"));
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + f.minute * 60 + f.second;
    let mut t = Time::unix(local);
    t.nanos = f.nanos;
    if f.utc {
        return Ok(t);
    }
    if let Some(offset) = f.offset {
        t.secs = local - i64::from(offset);
        if offset != 0 {
            t.offset = offset;
            t.zone = Rc::from("");
        }
        return Ok(t);
    }
    if let Some(name) = f.zone_name {
        // Go gives an unknown abbreviation a zero offset (GMT+h its hours).
        let offset = name
            .strip_prefix("GMT")
            .and_then(|h| h.parse::<i32>().ok())
            .map_or(0, |h| h * 3600);
        t.secs = local - i64::from(offset);
        t.offset = offset;
        t.zone = Rc::from(name.as_str());
    }
    Ok(t)
}
