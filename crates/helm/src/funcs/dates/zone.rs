//! Named time zones for `dateInZone`, read as Go's `time.LoadLocation` reads them: a `TZif` file
//! of the system's tz database (`/usr/share/zoneinfo`, or `$ZONEINFO`'s directory), its
//! transitions, and past the last one the POSIX TZ rule in the file's footer.

use super::layout::days_from_civil;

/// A zone's offset east of UTC and abbreviation at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Offset {
    pub(crate) seconds: i32,
    pub(crate) abbreviation: String,
}

/// A loaded zone.
#[derive(Debug)]
pub(crate) struct Zone {
    /// Transition instants (Unix seconds), ascending, with the index of the type from then on.
    transitions: Vec<(i64, usize)>,
    /// Offset, daylight-saving flag and abbreviation of each local time type.
    types: Vec<(i32, bool, String)>,
    /// The footer's rule for instants after the last transition.
    rule: Option<Rule>,
}

/// Where Go looks for the tz database on Linux.
const ZONEINFO_DIRS: [&str; 3] = [
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
];

/// Go's `LoadLocation` for a name other than `""`, `UTC` and `Local`: `None` when Go fails
/// (an invalid name, or no such zone), which Sprig answers with UTC.
pub(crate) fn load(name: &str) -> Option<Zone> {
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return None;
    }
    let mut dirs: Vec<String> = Vec::new();
    if let Ok(dir) = std::env::var("ZONEINFO")
        && !dir.is_empty()
    {
        dirs.push(format!("{dir}/"));
    }
    dirs.extend(ZONEINFO_DIRS.iter().map(|d| (*d).to_owned()));
    dirs.iter()
        .find_map(|dir| std::fs::read(format!("{dir}{name}")).ok())
        .and_then(|data| parse(&data))
}

/// Reads big-endian numbers from a byte slice.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
}

/// The counts of a `TZif` header.
struct Counts {
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

fn header(b: &mut Bytes<'_>) -> Option<(u8, Counts)> {
    if b.take(4)? != b"TZif" {
        return None;
    }
    let version = b.byte()?;
    b.take(15)?;
    let mut n = || b.u32().and_then(|v| usize::try_from(v).ok());
    Some((
        version,
        Counts {
            isut: n()?,
            isstd: n()?,
            leap: n()?,
            time: n()?,
            types: n()?,
            chars: n()?,
        },
    ))
}

/// A `TZif` file (version 1, or the 64-bit data of versions 2 and later, and the footer).
fn parse(data: &[u8]) -> Option<Zone> {
    let mut b = Bytes(data);
    let (version, mut c) = header(&mut b)?;
    let mut wide = false;
    if version >= b'2' {
        let v1 = c.time * 5 + c.types * 6 + c.chars + c.leap * 8 + c.isstd + c.isut;
        b.take(v1)?;
        c = header(&mut b)?.1;
        wide = true;
    }
    let mut times = Vec::with_capacity(c.time);
    for _ in 0..c.time {
        times.push(if wide { b.i64()? } else { i64::from(b.i32()?) });
    }
    let indexes = b.take(c.time)?;
    let mut raw_types = Vec::with_capacity(c.types);
    for _ in 0..c.types {
        raw_types.push((b.i32()?, b.byte()? != 0, usize::from(b.byte()?)));
    }
    let chars = b.take(c.chars)?;
    b.take(c.leap * if wide { 12 } else { 8 } + c.isstd + c.isut)?;
    let types = raw_types
        .into_iter()
        .map(|(offset, dst, at)| {
            let tail = chars.get(at..).unwrap_or_default();
            let end = tail.iter().position(|&ch| ch == 0).unwrap_or(tail.len());
            let name = String::from_utf8_lossy(tail.get(..end).unwrap_or_default()).into_owned();
            (offset, dst, name)
        })
        .collect::<Vec<_>>();
    if types.is_empty() {
        return None;
    }
    let transitions = times
        .into_iter()
        .zip(indexes.iter().map(|&i| usize::from(i)))
        .filter(|(_, i)| *i < types.len())
        .collect();
    let rule = if wide {
        std::str::from_utf8(b.0)
            .ok()
            .and_then(|footer| footer.strip_prefix('\n'))
            .and_then(|footer| footer.split('\n').next())
            .and_then(Rule::parse)
    } else {
        None
    };
    Some(Zone {
        transitions,
        types,
        rule,
    })
}

impl Zone {
    /// The offset and abbreviation in effect at the Unix instant `secs`, as Go's
    /// `Location.lookup` finds them.
    pub(crate) fn lookup(&self, secs: i64) -> Offset {
        let of = |i: usize| {
            let (seconds, _, name) = self.types.get(i).cloned().unwrap_or_default();
            Offset {
                seconds,
                abbreviation: name,
            }
        };
        let first = self.transitions.first().map(|t| t.0);
        if first.is_none_or(|when| secs < when) {
            return of(self.first_type());
        }
        let at = self.transitions.partition_point(|t| t.0 <= secs) - 1;
        if at + 1 == self.transitions.len()
            && let Some(rule) = &self.rule
        {
            return rule.at(secs);
        }
        of(self.transitions.get(at).map_or(0, |t| t.1))
    }

    /// Go's `lookupFirstZone`: the type before the first transition.
    fn first_type(&self) -> usize {
        let used = |i: usize| self.transitions.iter().any(|t| t.1 == i);
        if !used(0) {
            return 0;
        }
        let is_dst = |i: usize| self.types.get(i).is_some_and(|t| t.1);
        if let Some(&(_, first)) = self.transitions.first()
            && is_dst(first)
            && let Some(i) = (0..first).rev().find(|&i| !is_dst(i))
        {
            return i;
        }
        (0..self.types.len()).find(|&i| !is_dst(i)).unwrap_or(0)
    }
}

/// A POSIX TZ rule (`EST5EDT,M3.2.0,M11.1.0`): standard time, and daylight time between two
/// yearly changes. Offsets are east of UTC, as Go keeps them.
#[derive(Debug)]
struct Rule {
    std: (String, i32),
    dst: Option<DaylightRule>,
}

#[derive(Debug)]
struct DaylightRule {
    name: String,
    offset: i32,
    start: Change,
    end: Change,
}

/// When a yearly change happens: a day rule and the local time of day (seconds).
#[derive(Debug, Clone, Copy)]
struct Change {
    day: Day,
    time: i64,
}

#[derive(Debug, Clone, Copy)]
enum Day {
    /// `Jn`: day 1 to 365, February 29 never counted.
    Julian(i64),
    /// `n`: day 0 to 365, February 29 counted in leap years.
    ZeroBased(i64),
    /// `Mm.w.d`: weekday `d` of week `w` (5 is the last) of month `m`.
    WeekdayOfMonth(i64, i64, i64),
}

/// Splits a zone abbreviation (`EST`, or quoted `<+03>`) off the front.
fn take_name(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        return Some((rest.get(..end)?.to_owned(), rest.get(end + 1..)?));
    }
    let n = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    if n < 3 {
        return None;
    }
    Some((s.get(..n)?.to_owned(), s.get(n..)?))
}

/// Splits `[+-]hh[:mm[:ss]]` off the front, in seconds.
fn take_clock(s: &str) -> Option<(i64, &str)> {
    let (sign, mut rest) = match s.as_bytes().first()? {
        b'-' => (-1, s.get(1..)?),
        b'+' => (1, s.get(1..)?),
        _ => (1, s),
    };
    let mut total = 0;
    for (i, scale) in [3600, 60, 1].into_iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None => break,
            }
        }
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        total += rest.get(..n)?.parse::<i64>().ok()? * scale;
        rest = rest.get(n..)?;
    }
    Some((sign * total, rest))
}

/// Splits a decimal number off the front.
fn take_number(part: &str) -> Option<(i64, &str)> {
    let len = part.bytes().take_while(u8::is_ascii_digit).count();
    Some((part.get(..len)?.parse().ok()?, part.get(len..)?))
}

fn take_change(text: &str) -> Option<(Change, &str)> {
    let number = take_number;
    let (day, rest) = if let Some(after) = text.strip_prefix('J') {
        let (n, rest) = number(after)?;
        (Day::Julian(n), rest)
    } else if let Some(after) = text.strip_prefix('M') {
        let (month, rest) = number(after)?;
        let (week, rest) = number(rest.strip_prefix('.')?)?;
        let (weekday, rest) = number(rest.strip_prefix('.')?)?;
        (Day::WeekdayOfMonth(month, week, weekday), rest)
    } else {
        let (n, rest) = number(text)?;
        (Day::ZeroBased(n), rest)
    };
    let (time, rest) = match rest.strip_prefix('/') {
        Some(clock) => take_clock(clock)?,
        None => (7200, rest),
    };
    Some((Change { day, time }, rest))
}

impl Rule {
    fn parse(s: &str) -> Option<Rule> {
        let (std_name, rest) = take_name(s)?;
        let (std_west, rest) = take_clock(rest)?;
        let std_offset = i32::try_from(-std_west).ok()?;
        if rest.is_empty() {
            return Some(Rule {
                std: (std_name, std_offset),
                dst: None,
            });
        }
        let (dst_name, rest) = take_name(rest)?;
        let (dst_offset, rest) = if rest.is_empty() || rest.starts_with(',') {
            (std_offset + 3600, rest)
        } else {
            let (west, rest) = take_clock(rest)?;
            (i32::try_from(-west).ok()?, rest)
        };
        // Without change rules POSIX leaves the dates to the implementation; Go uses the
        // United States' (M3.2.0,M11.1.0).
        let rest = if rest.is_empty() {
            ",M3.2.0,M11.1.0"
        } else {
            rest
        };
        let (start, rest) = take_change(rest.strip_prefix(',')?)?;
        let (end, rest) = take_change(rest.strip_prefix(',')?)?;
        if !rest.is_empty() {
            return None;
        }
        Some(Rule {
            std: (std_name, std_offset),
            dst: Some(DaylightRule {
                name: dst_name,
                offset: dst_offset,
                start,
                end,
            }),
        })
    }

    /// The offset in effect at `secs` (Go's `tzset`).
    fn at(&self, secs: i64) -> Offset {
        let standard = Offset {
            seconds: self.std.1,
            abbreviation: self.std.0.clone(),
        };
        let Some(dst) = &self.dst else {
            return standard;
        };
        let daylight = Offset {
            seconds: dst.offset,
            abbreviation: dst.name.clone(),
        };
        let days = secs.div_euclid(86_400);
        let year = super::layout::Civil::from_unix(secs, 0).year;
        let year_start = days_from_civil(year, 1, 1) * 86_400;
        let into_year = (days * 86_400 - year_start) + secs.rem_euclid(86_400);
        let start = change_second(year, dst.start, self.std.1);
        let end = change_second(year, dst.end, dst.offset);
        let in_dst = if start <= end {
            into_year >= start && into_year < end
        } else {
            // Southern hemisphere: daylight time spans the new year.
            !(into_year >= end && into_year < start)
        };
        if in_dst { daylight } else { standard }
    }
}

/// Seconds after the start of `year` (UTC) at which a change happens, the local clock running
/// `offset` seconds east of UTC until then.
fn change_second(year: i64, change: Change, offset: i32) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let day = match change.day {
        Day::Julian(n) => {
            // February 29 is never counted: days from March on move one later in leap years.
            if leap && n >= 60 { n } else { n - 1 }
        }
        Day::ZeroBased(n) => n,
        Day::WeekdayOfMonth(m, w, d) => {
            let first = days_from_civil(year, m, 1);
            // 1970-01-01 was a Thursday (4).
            let first_weekday = (first + 4).rem_euclid(7);
            let mut day_of_month = (d - first_weekday).rem_euclid(7) + 1 + (w - 1) * 7;
            let next_month = if m == 12 {
                days_from_civil(year + 1, 1, 1)
            } else {
                days_from_civil(year, m + 1, 1)
            };
            let length = next_month - first;
            while day_of_month > length {
                day_of_month -= 7;
            }
            first - days_from_civil(year, 1, 1) + day_of_month - 1
        }
    };
    day * 86_400 + change.time - i64::from(offset)
}
