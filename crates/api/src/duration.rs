//! Go durations, as Flux writes them in specs (`5m0s`, `1h30m`, `750ms`).
//!
//! A spec field holds a [`GoDuration`]: the text exactly as written (so an
//! object round-trips unchanged) and the result of parsing it, computed once
//! when the object is read. A value that does not parse still deserialises,
//! so the controller can report it (stalled, naming the field) instead of
//! failing to read the whole object; [`GoDuration::get`] gives the error.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a duration such as 30s, 5m or 1h30m")]
pub struct InvalidDuration {
    /// The text as written.
    pub text: String,
}

/// Parses a Go duration: a sequence of decimal numbers, each with a unit
/// (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), such as `1h30m`, `5m0s`, `750ms`
/// or `1.5s`. Negative durations are refused.
///
/// # Errors
/// [`InvalidDuration`] naming the text when it is not a duration or does not
/// fit in a [`Duration`].
pub fn parse(text: &str) -> Result<Duration, InvalidDuration> {
    let bad = || InvalidDuration {
        text: text.to_owned(),
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..split].parse().map_err(|_| bad())?;
        let unit_len = rest[split..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - split);
        let seconds = match &rest[split..split + unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = &rest[split + unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// A duration field of a spec: the text as written and its parsed value.
///
/// Serialises as the text. Equality compares the text.
#[derive(Clone)]
pub struct GoDuration {
    text: String,
    parsed: Result<Duration, InvalidDuration>,
}

impl GoDuration {
    /// Reads `text`; an invalid value is kept and reported by [`Self::get`].
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            parsed: parse(text),
        }
    }

    /// The duration.
    ///
    /// # Errors
    /// [`InvalidDuration`] when the text is not a duration.
    pub fn get(&self) -> Result<Duration, InvalidDuration> {
        self.parsed.clone()
    }

    /// The text as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Default for GoDuration {
    /// The empty text, which is not a duration.
    fn default() -> Self {
        Self::new("")
    }
}

impl From<&str> for GoDuration {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl PartialEq for GoDuration {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for GoDuration {}

impl PartialEq<&str> for GoDuration {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl fmt::Debug for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::new(&text))
    }
}

impl JsonSchema for GoDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // The field says which pattern applies (intervals and timeouts differ).
        json_schema!({ "type": "string" })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{GoDuration, parse};

    #[test]
    fn go_durations_parse_as_flux_writes_them() {
        assert_eq!(parse("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "five minutes", "5x", "m5", "1..5s", "-1s"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse(&format!("{}h", "9".repeat(30))).is_err());
    }

    #[test]
    fn a_field_keeps_its_text_and_reports_a_bad_value_when_asked() {
        let good: GoDuration = serde_json::from_str("\"1m30s\"").expect("a string deserialises");
        assert_eq!(good.get(), Ok(Duration::from_secs(90)));
        assert_eq!(
            serde_json::to_string(&good).expect("serialises"),
            "\"1m30s\""
        );
        let bad: GoDuration = serde_json::from_str("\"soon\"").expect("a bad value still reads");
        let error = bad.get().expect_err("not a duration");
        assert_eq!(
            error.to_string(),
            "\"soon\" is not a duration such as 30s, 5m or 1h30m"
        );
        assert_eq!(serde_json::to_string(&bad).expect("serialises"), "\"soon\"");
    }
}
