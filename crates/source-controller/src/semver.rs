//! Semver tag selection with the constraint syntax Flux documents, that of
//! Go's Masterminds/semver: comparators AND-ed by spaces or commas
//! (`>=1.0.0 <2.0.0`), alternatives OR-ed by `||`, `~1.2`, `^1.2.3`,
//! wildcards (`1.2.x`, `*`), hyphen ranges (`1.2 - 1.4.5`), `!=1.3.0`, and
//! a bare version meaning exactly that version (not `^` as in Cargo).
//! Tags are read as leniently as Masterminds reads them: a `v` prefix and
//! missing minor or patch numbers (`v1.2` is 1.2.0) are accepted.

use ::semver::{Version, VersionReq};

/// One `||` alternative: a requirement, and what it rules out (`!=`, which
/// may be partial or a wildcard: `!=1.2` rules out every 1.2.x).
struct Alternative {
    required: VersionReq,
    excluded: Vec<VersionReq>,
}

impl Alternative {
    fn matches(&self, version: &Version) -> bool {
        self.required.matches(version) && !self.excluded.iter().any(|e| e.matches(version))
    }
}

/// A semver constraint that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint '{constraint}': {reason}")]
pub struct InvalidConstraint {
    /// The constraint as written.
    pub constraint: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The highest tag satisfying `constraint`, if any.
///
/// # Errors
/// [`InvalidConstraint`] naming the constraint when it does not parse.
pub fn highest_match<'a>(
    constraint: &str,
    tags: impl Iterator<Item = &'a str>,
) -> Result<Option<String>, InvalidConstraint> {
    let invalid = |reason: String| InvalidConstraint {
        constraint: constraint.to_owned(),
        reason,
    };
    let alternatives = constraint
        .split("||")
        .map(alternative)
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    Ok(tags
        .filter_map(|tag| {
            let version = lenient_version(tag)?;
            alternatives
                .iter()
                .any(|alt| alt.matches(&version))
                .then(|| (version, tag.to_owned()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag))
}

/// Parses one alternative into the `semver` crate's terms.
fn alternative(text: &str) -> Result<Alternative, String> {
    // Operators may stand apart from their versions (`>= 1.0`): glue them.
    let mut tokens: Vec<String> = Vec::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
    {
        match tokens.last_mut() {
            Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => last.push_str(token),
            _ => tokens.push(token.to_owned()),
        }
    }
    let mut comparators: Vec<String> = Vec::new();
    let mut excluded = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if tokens.get(i + 1).is_some_and(|t| t == "-") {
            let upper = tokens
                .get(i + 2)
                .ok_or_else(|| format!("the range '{token} -' has no upper end"))?;
            comparators.push(format!(">={}", strip_v(token)));
            comparators.push(format!("<={}", strip_v(upper)));
            i += 3;
            continue;
        }
        if let Some(version) = token.strip_prefix("!=") {
            excluded.push(VersionReq::parse(&comparator(version)).map_err(|e| e.to_string())?);
        } else {
            comparators.push(comparator(token));
        }
        i += 1;
    }
    if tokens.is_empty() {
        return Err("an alternative between `||` is empty".into());
    }
    let required = if comparators.is_empty() {
        VersionReq::STAR
    } else {
        VersionReq::parse(&comparators.join(", ")).map_err(|e| e.to_string())?
    };
    Ok(Alternative { required, excluded })
}

/// One comparator in the `semver` crate's syntax: a bare version is exact
/// unless it has a wildcard, Masterminds' spellings `=>`, `=<` and `~>`
/// become `>=`, `<=` and `~`, and a `v` after the operator is dropped.
fn comparator(token: &str) -> String {
    let split = token
        .find(|c: char| !"<>=~^".contains(c))
        .unwrap_or(token.len());
    let (op, version) = token.split_at(split);
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        other => other,
    };
    let version = strip_v(version);
    let wildcard = version
        .split('.')
        .any(|part| matches!(part, "x" | "X" | "*"));
    if op.is_empty() && !wildcard {
        format!("={version}")
    } else {
        format!("{op}{version}")
    }
}

fn strip_v(version: &str) -> &str {
    version
        .strip_prefix(['v', 'V'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(version)
}

/// A tag as a version: a `v` prefix and missing minor or patch numbers
/// (filled with 0) are accepted, as Masterminds accepts them.
fn lenient_version(tag: &str) -> Option<Version> {
    let text = strip_v(tag);
    if let Ok(version) = Version::parse(text) {
        return Some(version);
    }
    let end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(end);
    let parts = core.split('.').count();
    if !(1..=2).contains(&parts) || !core.split('.').all(|p| p.parse::<u64>().is_ok()) {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
    Version::parse(&padded).ok()
}

#[cfg(test)]
mod tests {
    use super::highest_match;

    const TAGS: &[&str] = &[
        "v0.9.0",
        "v1.0.0",
        "v1.2.0",
        "v1.2.7",
        "1.3.0",
        "v1.4",
        "v2.0.0",
        "v2.1.0-rc.1",
        "latest",
    ];

    #[test]
    fn constraints_pick_the_highest_matching_tag_as_masterminds_does() {
        for (constraint, want) in [
            (">=1.0.0 <2.0.0", Some("v1.4")),
            (">= 1.0.0, < 1.3.0", Some("v1.2.7")),
            ("~1.2", Some("v1.2.7")),
            ("^1.0", Some("v1.4")),
            ("1.2.x", Some("v1.2.7")),
            ("*", Some("v2.0.0")),
            ("<1.0.0 || >=2.0.0", Some("v2.0.0")),
            (">=3.0.0", None),
            // A bare version is that version, not `^1.2.0`.
            ("1.2.0", Some("v1.2.0")),
            ("v1.0.0", Some("v1.0.0")),
            ("1.2 - 1.3.0", Some("1.3.0")),
            (">=1.0.0 <2.0.0 !=1.4.0", Some("1.3.0")),
            (">=v1.2.0 <=v1.2.7", Some("v1.2.7")),
            ("=>1.0.0\t=<1.2.0", Some("v1.2.0")),
            ("~>1.2", Some("v1.2.7")),
            (">=1.0.0 <2.0.0 !=1.3", Some("v1.4")),
            (">=1.0.0 <1.3.0 !=1.2.x", Some("v1.0.0")),
        ] {
            assert_eq!(
                highest_match(constraint, TAGS.iter().copied())
                    .unwrap()
                    .as_deref(),
                want,
                "{constraint}"
            );
        }
    }

    #[test]
    fn a_bad_constraint_is_an_error_naming_it() {
        for bad in ["not a version", "1.0 -", "!=banana", "1.0.0 ||", ","] {
            let err = highest_match(bad, TAGS.iter().copied()).unwrap_err();
            assert_eq!(err.constraint, bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid semver constraint '{bad}': ")),
                "{err}"
            );
        }
    }
}
