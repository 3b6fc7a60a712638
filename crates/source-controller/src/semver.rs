//! Semver tag selection with the constraint syntax Flux documents
//! (Masterminds): `>=1.0.0 <2.0.0`, `~1.2`, `^1.2.3`, `1.2.x`, `a || b`.

/// The highest tag (`v` prefix allowed) satisfying `constraint`, if any.
///
/// # Errors
/// A message naming the constraint when it does not parse.
pub fn highest_match<'a>(
    constraint: &str,
    tags: impl Iterator<Item = &'a str>,
) -> Result<Option<String>, String> {
    let alternatives = constraint
        .split("||")
        .map(|alt| {
            // Masterminds separates AND-ed comparators with spaces or commas; the
            // semver crate wants commas, with operators attached to versions.
            let mut parts: Vec<String> = Vec::new();
            for token in alt.split([' ', ',']).filter(|t| !t.is_empty()) {
                match parts.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => {
                        last.push_str(token);
                    }
                    _ => parts.push(token.to_owned()),
                }
            }
            ::semver::VersionReq::parse(&parts.join(", "))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid semver constraint '{constraint}': {e}"))?;
    Ok(tags
        .filter_map(|tag| {
            let version = ::semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
            alternatives
                .iter()
                .any(|req| req.matches(&version))
                .then(|| (version, tag.to_owned()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag))
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
        "v2.0.0",
        "v2.1.0-rc.1",
        "latest",
    ];

    #[test]
    fn constraints_pick_the_highest_matching_tag() {
        for (constraint, want) in [
            (">=1.0.0 <2.0.0", Some("1.3.0")),
            (">= 1.0.0, < 1.3.0", Some("v1.2.7")),
            ("~1.2", Some("v1.2.7")),
            ("^1.0", Some("1.3.0")),
            ("1.2.x", Some("v1.2.7")),
            ("*", Some("v2.0.0")),
            ("<1.0.0 || >=2.0.0", Some("v2.0.0")),
            (">=3.0.0", None),
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
        let err = highest_match("not a version", TAGS.iter().copied()).unwrap_err();
        assert!(err.contains("not a version"), "{err}");
    }
}
