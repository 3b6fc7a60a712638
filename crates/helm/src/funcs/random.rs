//! Sprig's random functions (`randAlphaNum randAlpha randNumeric randAscii randInt uuidv4`),
//! drawing from the operating system's random source (`/dev/urandom`). Their output differs on
//! every render, as Helm's does.

use std::io::Read as _;

use super::arg_int;
use crate::template::{Arity, FuncError, Funcs, Value};

/// The longest random string made: longer requests fail instead of exhausting memory.
const MAX_LENGTH: usize = 1024 * 1024;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

pub(super) fn register(f: &mut Funcs) {
    f.insert("randAlphaNum", Arity::Exact(1), |_, a| {
        random_string(arg_int(a, 0)?, &format!("{LOWER}{UPPER}{DIGITS}"))
    });
    f.insert("randAlpha", Arity::Exact(1), |_, a| {
        random_string(arg_int(a, 0)?, &format!("{LOWER}{UPPER}"))
    });
    f.insert("randNumeric", Arity::Exact(1), |_, a| {
        random_string(arg_int(a, 0)?, DIGITS)
    });
    f.insert("randAscii", Arity::Exact(1), |_, a| {
        let printable: String = (32u8..=126).map(char::from).collect();
        random_string(arg_int(a, 0)?, &printable)
    });
    f.insert("randInt", Arity::Exact(2), |_, a| {
        let (min, max) = (arg_int(a, 0)?, arg_int(a, 1)?);
        let span = max
            .checked_sub(min)
            .filter(|s| *s > 0)
            .ok_or("invalid argument to Intn")?;
        let span = u64::try_from(span).map_err(|_| "invalid argument to Intn")?;
        let pick = uniform(span)?;
        Ok(Value::int(
            min.saturating_add(i64::try_from(pick).unwrap_or(0)),
        ))
    });
    f.insert("uuidv4", Arity::Exact(0), |_, _| {
        let mut b = [0u8; 16];
        fill(&mut b)?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex = super::encoding::hex(&b);
        let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default().to_owned();
        Ok(Value::from(format!(
            "{}-{}-{}-{}-{}",
            part(0, 8),
            part(8, 12),
            part(12, 16),
            part(16, 20),
            part(20, 32)
        )))
    });
}

fn fill(buf: &mut [u8]) -> Result<(), FuncError> {
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| FuncError::Failed(format!("reading random bytes from /dev/urandom: {e}")))
}

/// A uniform random number in `0..n` (`n > 0`), by rejection so no value is favoured.
fn uniform(n: u64) -> Result<u64, FuncError> {
    let limit = u64::MAX - u64::MAX % n;
    loop {
        let mut b = [0u8; 8];
        fill(&mut b)?;
        let v = u64::from_le_bytes(b);
        if v < limit {
            return Ok(v % n);
        }
    }
}

/// `count` characters drawn uniformly from `alphabet`; a negative count gives "" (Sprig ignores
/// the error its library returns).
fn random_string(count: i64, alphabet: &str) -> Result<Value, FuncError> {
    let Ok(count) = usize::try_from(count) else {
        return Ok(Value::str(""));
    };
    if count > MAX_LENGTH {
        return Err(FuncError::Failed(format!(
            "a random string longer than {MAX_LENGTH} characters"
        )));
    }
    let chars: Vec<char> = alphabet.chars().collect();
    let n = u64::try_from(chars.len()).unwrap_or(1);
    let mut out = String::with_capacity(count);
    for _ in 0..count {
        let i = usize::try_from(uniform(n)?).unwrap_or(0);
        out.push(chars.get(i).copied().unwrap_or('x'));
    }
    Ok(Value::from(out))
}
