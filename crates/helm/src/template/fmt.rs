//! Go's `fmt` printing of template values: `print`, `println`, `printf` and what an action prints.
//!
//! The rules follow Go's `fmt` package: `%v` of a `float64` is the shortest representation with an
//! exponent below 1e-4 or from 1e+06 up (`1e+06`), maps print as `map[k:v]` in key order, slices
//! as `[a b]`, nil as `<nil>`; a verb that does not fit its operand prints `%!d(string=x)`, a
//! missing operand `%!d(MISSING)`, unused operands `%!(EXTRA type=value, ...)`. Verbs apply to the
//! elements of slices and maps one by one, as Go's do.
//!
//! # Caveats
//!
//! `%#v` (Go syntax) prints as `%v`; `%x` of a float and `%p` print as bad verbs.

use std::fmt::Write as _;

use super::value::{MAX_VALUE_DEPTH, Value, deep};

mod float;

use float::format_float;

/// The largest width or precision accepted: larger ones are Go's `%!(BADWIDTH)`/`%!(BADPREC)`,
/// and the cap keeps a template from asking for gigabytes of padding.
const MAX_WIDTH: usize = 1_000_000;

#[derive(Clone, Copy, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "Go's fmt flags are independent switches"
)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// The text Go's `fmt.Sprint` gives for one value (what `{{ x }}` prints, and `%v`).
#[must_use]
pub fn format_v(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_arg(v, 'v');
    p.buf
}

/// Go's `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is
/// a string.
#[must_use]
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// Go's `fmt.Sprintln`: operands with `%v`, always separated by a space, then a newline.
#[must_use]
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// Go's `fmt.Sprintf`.
#[must_use]
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
}

impl Printer {
    #[expect(
        clippy::too_many_lines,
        reason = "one pass over the format, as Go's doPrintf; the cursor state is shared by every step"
    )]
    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let bytes = format.as_bytes();
        let end = bytes.len();
        let mut i = 0;
        let mut arg_num = 0usize;
        let mut reordered = false;
        while i < end {
            let start = i;
            while i < end && bytes.get(i) != Some(&b'%') {
                i += 1;
            }
            if i > start {
                self.buf.push_str(format.get(start..i).unwrap_or_default());
            }
            if i >= end {
                break;
            }
            i += 1; // the '%'
            self.f = Flags::default();
            while let Some(&c) = bytes.get(i) {
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => break,
                }
                i += 1;
            }
            let mut good_arg_num = true;
            let (n, ni, mut after_index, ok) = arg_number(arg_num, bytes, i, args.len());
            arg_num = n;
            i = ni;
            if after_index {
                reordered = true;
            }
            if !ok {
                good_arg_num = false;
            }
            // Width.
            if bytes.get(i) == Some(&b'*') {
                i += 1;
                let (w, present, next) = int_from_arg(args, arg_num);
                arg_num = next;
                match w {
                    Some(w) if present => {
                        if w < 0 {
                            self.f.minus = true;
                            self.f.zero = false;
                        }
                        self.f.width = Some(w.unsigned_abs().try_into().unwrap_or(usize::MAX));
                    }
                    _ => self.buf.push_str("%!(BADWIDTH)"),
                }
                if self.f.width.is_some_and(|w| w > MAX_WIDTH) {
                    self.f.width = None;
                    self.buf.push_str("%!(BADWIDTH)");
                }
                after_index = false;
            } else {
                let (w, next) = parse_num(bytes, i);
                i = next;
                if let Some(w) = w {
                    if after_index {
                        good_arg_num = false;
                    }
                    if w > MAX_WIDTH {
                        self.buf.push_str("%!(BADWIDTH)");
                    } else {
                        self.f.width = Some(w);
                    }
                }
            }
            // Precision.
            if i + 1 < end && bytes.get(i) == Some(&b'.') {
                i += 1;
                if after_index {
                    good_arg_num = false;
                }
                let (n, ni, ai, ok) = arg_number(arg_num, bytes, i, args.len());
                arg_num = n;
                i = ni;
                after_index = ai;
                if ai {
                    reordered = true;
                }
                if !ok {
                    good_arg_num = false;
                }
                if bytes.get(i) == Some(&b'*') {
                    i += 1;
                    let (p, present, next) = int_from_arg(args, arg_num);
                    arg_num = next;
                    match p {
                        Some(p) if present && p >= 0 => {
                            self.f.prec = Some(p.try_into().unwrap_or(usize::MAX));
                        }
                        _ => self.buf.push_str("%!(BADPREC)"),
                    }
                    after_index = false;
                } else {
                    let (p, next) = parse_num(bytes, i);
                    i = next;
                    self.f.prec = Some(p.unwrap_or(0));
                }
                if self.f.prec.is_some_and(|p| p > MAX_WIDTH) {
                    self.f.prec = None;
                    self.buf.push_str("%!(BADPREC)");
                }
            }
            if !after_index {
                let (n, ni, ai, ok) = arg_number(arg_num, bytes, i, args.len());
                arg_num = n;
                i = ni;
                if ai {
                    reordered = true;
                }
                if !ok {
                    good_arg_num = false;
                }
            }
            let Some(verb) = format.get(i..).and_then(|s| s.chars().next()) else {
                self.buf.push_str("%!(NOVERB)");
                break;
            };
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !good_arg_num {
                let _ = write!(self.buf, "%!{verb}(BADINDEX)");
            } else if let Some(arg) = args.get(arg_num) {
                if verb == 'v' {
                    // For %v, `+` and `#` ask for field names and Go syntax, not a sign or a
                    // prefix.
                    self.f.plus = false;
                    self.f.sharp = false;
                }
                self.print_arg(arg, verb);
                arg_num += 1;
            } else {
                let _ = write!(self.buf, "%!{verb}(MISSING)");
            }
        }
        if !reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in args.iter().skip(arg_num).enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if arg.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    /// Prints a top-level operand (Go's `printArg`).
    fn print_arg(&mut self, arg: &Value, verb: char) {
        if arg.is_nil() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            }
            return;
        }
        if verb == 'T' {
            let name = arg.type_name();
            self.pad(&name);
            return;
        }
        self.print_value(arg, verb, 0);
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            self.buf.push_str("...");
            return;
        }
        match v {
            Value::Invalid | Value::Nil => {
                if depth == 0 {
                    self.print_arg(v, verb);
                } else {
                    self.pad("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i, _) => self.fmt_int(*i, verb, v),
            Value::Float(x) => match verb {
                'v' => self.fmt_float(*x, 'g', None),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*x, verb, None),
                'f' | 'F' | 'e' | 'E' => self.fmt_float(*x, verb, Some(6)),
                _ => self.bad_verb(verb, v),
            },
            Value::String(s) => self.fmt_string(s, verb, v),
            Value::List(l) => {
                self.buf.push('[');
                for (k, item) in l.items().iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    deep(|| self.print_value(item, verb, depth + 1));
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (k, (key, val)) in m.entries().iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(key, verb, &Value::str(key));
                    self.buf.push(':');
                    deep(|| self.print_value(val, verb, depth + 1));
                }
                self.buf.push(']');
            }
            Value::Object(o) => {
                let text = o.format();
                self.pad(&text);
            }
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        let saved = self.f;
        let _ = write!(self.buf, "%!{verb}(");
        if v.is_nil() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.type_name());
            self.buf.push('=');
            self.print_value(v, 'v', 0);
        }
        self.buf.push(')');
        self.f = saved;
    }

    /// Pads `s` to the width with spaces (or zeros under the `0` flag), on the left unless `-`.
    fn pad(&mut self, s: &str) {
        let Some(width) = self.f.width else {
            self.buf.push_str(s);
            return;
        };
        let n = s.chars().count();
        if n >= width {
            self.buf.push_str(s);
            return;
        }
        let fill = if self.f.zero { '0' } else { ' ' };
        if self.f.minus {
            self.buf.push_str(s);
            self.buf.extend(std::iter::repeat_n(' ', width - n));
        } else {
            self.buf.extend(std::iter::repeat_n(fill, width - n));
            self.buf.push_str(s);
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' | 's' => {
                let text: String = match self.f.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_owned(),
                };
                self.pad(&text);
            }
            'q' => {
                let text: String = match self.f.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_owned(),
                };
                let quoted = if self.f.sharp && can_backquote(&text) {
                    format!("`{text}`")
                } else {
                    quote(&text, self.f.plus)
                };
                self.pad(&quoted);
            }
            'x' | 'X' => {
                let bytes = s.as_bytes();
                let bytes = match self.f.prec {
                    Some(p) => bytes.get(..p.min(bytes.len())).unwrap_or(bytes),
                    None => bytes,
                };
                let text = hex_bytes(bytes, verb == 'X', self.f.space, self.f.sharp);
                self.pad(&text);
            }
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_int(&mut self, i: i64, verb: char, value: &Value) {
        match verb {
            'v' | 'd' => self.fmt_integer(i, 10, false, verb),
            'b' => self.fmt_integer(i, 2, false, verb),
            'o' | 'O' => self.fmt_integer(i, 8, false, verb),
            'x' => self.fmt_integer(i, 16, false, verb),
            'X' => self.fmt_integer(i, 16, true, verb),
            'c' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                let q = quote_rune(c, self.f.plus);
                self.pad(&q);
            }
            'U' => {
                let mut s = format!("U+{i:04X}");
                if self.f.sharp
                    && let Some(c) = u32::try_from(i).ok().and_then(char::from_u32)
                    && !c.is_control()
                {
                    let _ = write!(s, " '{c}'");
                }
                self.pad(&s);
            }
            _ => self.bad_verb(verb, value),
        }
    }

    /// Go's `fmtInteger`: precision as a minimum digit count, zero padding counted with the sign.
    fn fmt_integer(&mut self, i: i64, base: u32, upper: bool, verb: char) {
        let negative = i < 0;
        let u = i.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let saved = self.f.zero;
                self.f.zero = false;
                self.pad("");
                self.f.zero = saved;
                return;
            }
        } else if self.f.zero
            && let Some(w) = self.f.width
        {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match base {
            2 => format!("{u:b}"),
            8 => format!("{u:o}"),
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits = format!("{}{digits}", "0".repeat(prec - digits.len()));
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 if upper => prefix.push_str("0X"),
                16 => prefix.push_str("0x"),
                _ => {}
            }
        }
        if verb == 'O' {
            "0o".clone_into(&mut prefix);
        }
        let sign = if negative {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        let text = format!("{sign}{prefix}{digits}");
        let saved = self.f.zero;
        self.f.zero = false;
        self.pad(&text);
        self.f.zero = saved;
    }

    fn fmt_float(&mut self, x: f64, verb: char, default_prec: Option<usize>) {
        let prec = self.f.prec.or(default_prec);
        let mut num = format_float(x, verb, prec);
        if !num.starts_with('-') && !num.starts_with('+') {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        if num.get(1..2) == Some("I") || num.get(1..2) == Some("N") {
            if num.get(1..2) == Some("N") && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let saved = self.f.zero;
            self.f.zero = false;
            self.pad(&num);
            self.f.zero = saved;
            return;
        }
        if self.f.plus || !num.starts_with('+') {
            let len = num.chars().count();
            if self.f.zero && !self.f.minus && self.f.width.is_some_and(|w| w > len) {
                let w = self.f.width.unwrap_or(len);
                let (sign, rest) = num.split_at(1);
                self.buf.push_str(sign);
                self.buf.extend(std::iter::repeat_n('0', w - len));
                self.buf.push_str(rest);
                return;
            }
            self.pad(&num);
            return;
        }
        let rest = num.get(1..).unwrap_or_default().to_owned();
        self.pad(&rest);
    }
}

/// Parses a `%[n]` argument index at `i`: returns the new argument number, the new position,
/// whether an index was present, and whether it was good.
fn arg_number(
    arg_num: usize,
    bytes: &[u8],
    i: usize,
    num_args: usize,
) -> (usize, usize, bool, bool) {
    if bytes.get(i) != Some(&b'[') {
        return (arg_num, i, false, true);
    }
    let mut j = i + 1;
    while j < bytes.len() && bytes.get(j) != Some(&b']') {
        j += 1;
    }
    if j >= bytes.len() {
        // No closing bracket: Go reports a bad index and goes on after the '['.
        return (arg_num, i + 1, false, false);
    }
    let inner = bytes.get(i + 1..j).unwrap_or_default();
    let parsed = std::str::from_utf8(inner)
        .ok()
        .and_then(|s| s.parse::<usize>().ok());
    match parsed {
        Some(n) if n >= 1 && n <= num_args => (n - 1, j + 1, true, true),
        _ => (arg_num, j + 1, true, false),
    }
}

/// Parses a decimal number at `i`; returns it (if there were digits) and the new position.
fn parse_num(bytes: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let mut n: Option<usize> = None;
    while let Some(&c) = bytes.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        let d = usize::from(c - b'0');
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d));
        i += 1;
    }
    (n, i)
}

/// Takes an integer operand for `*`: the value, whether it was an integer, the next argument.
fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, bool, usize) {
    match args.get(arg_num) {
        Some(Value::Int(i, _)) => (Some(*i), true, arg_num + 1),
        Some(_) => (None, false, arg_num + 1),
        None => (None, false, arg_num),
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII` when `ascii`).
#[must_use]
pub fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_char(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    escape_char(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

fn escape_char(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if u32::from(c) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
}

/// An approximation of Go's `unicode.IsPrint`: not a control character, not a format
/// character, and not a space other than U+0020.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(u32::from(c), 0xAD | 0x600..=0x605 | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0xFEFF | 0xFFF9..=0xFFFB))
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

fn hex_bytes(bytes: &[u8], upper: bool, space: bool, sharp: bool) -> String {
    let mut out = String::new();
    let prefix = if upper { "0X" } else { "0x" };
    for (k, b) in bytes.iter().enumerate() {
        if space && k > 0 {
            out.push(' ');
        }
        if sharp && (space || k == 0) {
            out.push_str(prefix);
        }
        if upper {
            let _ = write!(out, "{b:02X}");
        } else {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests;
