//! `.helmignore` rules and the two glob dialects Helm matches chart paths with.
//!
//! [`Rules`] behaves as Helm's `pkg/ignore` (checked against helm 4.1.4):
//! - one rule a line, trimmed of surrounding whitespace; blank lines and lines starting with `#`
//!   are skipped;
//! - a rule containing `**` is refused (`double-star (**) syntax is not supported`), and so is a
//!   rule that is not a valid Go `filepath.Match` pattern (`syntax error in pattern`);
//! - a leading `!` negates, a trailing `/` restricts the rule to directories;
//! - a rule with a `/` (a leading `/` is dropped) is matched against the whole path relative to the
//!   chart root, any other rule against the path's last element only;
//! - rules are tried in order and the first that decides wins. A negated rule decides for every
//!   path it does *not* match (that path is ignored) and lets the paths it matches fall through, so
//!   `!keep.txt` on its own ignores every other file, `Chart.yaml` included. A negated
//!   directory-only rule ignores every file. This is Helm's behaviour, kept as is.
//! - [`Rules::with_defaults`] appends Helm's one default rule, `templates/.?*` (dotfiles directly in
//!   `templates/`). The `.helmignore` file itself is not ignored unless a rule says so.
//!
//! Helm applies the rules to every directory (an ignored directory is skipped whole) and every file
//! of a chart directory, never to the chart root; `helm package` writes only what is left.
//!
//! [`glob_match`] is Go's `path.Match` (`filepath.Match` on Unix), used by `.helmignore` and by
//! `helm template --show-only`. [`files_glob_match`] is `github.com/gobwas/glob` with `/` as the
//! separator, the dialect of `.Files.Glob`, where `**` crosses directories and `{a,b}` alternates.

/// Errors of this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A `.helmignore` rule uses `**`, which Helm refuses.
    #[error(
        ".helmignore line {line}: {rule:?}: double-star (**) syntax is not supported; \
         use a rule without ** (a rule without / matches the file name at any depth)"
    )]
    DoubleStar {
        /// The 1-based line number of the rule.
        line: usize,
        /// The rule as written (trimmed).
        rule: String,
    },
    /// A `.helmignore` rule is not a valid Go `filepath.Match` pattern.
    #[error(
        ".helmignore line {line}: {rule:?}: syntax error in pattern; check its [...] classes and \
         \\ escapes"
    )]
    BadRule {
        /// The 1-based line number of the rule.
        line: usize,
        /// The rule as written (trimmed).
        rule: String,
    },
    /// A glob pattern is malformed (Go's `filepath.ErrBadPattern`).
    #[error("syntax error in pattern {pattern:?}: check its [...] classes and \\ escapes")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Helm's default rule, added after the chart's own: dotfiles directly under `templates/`.
pub const DEFAULT_RULE: &str = "templates/.?*";

/// A parsed `.helmignore`: the ordered rules that decide which chart paths are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

/// One rule, with its `!` and trailing `/` taken off.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// The glob, without `!`, trailing `/` or leading `/`.
    glob: String,
    negate: bool,
    dir_only: bool,
    /// Whether the glob is matched against the whole relative path (the rule has a `/`), not the
    /// base name.
    whole_path: bool,
}

impl Rules {
    /// Parses the text of a `.helmignore` file (without Helm's default rule; see
    /// [`Rules::with_defaults`]).
    ///
    /// # Errors
    ///
    /// [`Error::DoubleStar`] for a rule containing `**`, [`Error::BadRule`] for a rule that is not
    /// a valid pattern. Helm refuses the chart in both cases.
    pub fn parse(text: &str) -> Result<Rules> {
        let mut rules = Rules::default();
        for (index, line) in text.lines().enumerate() {
            rules.push(line, index + 1)?;
        }
        Ok(rules)
    }

    /// Appends Helm's default rule ([`DEFAULT_RULE`]), as Helm's directory loader does after
    /// reading `.helmignore` (or with no `.helmignore` at all).
    #[must_use]
    pub fn with_defaults(mut self) -> Rules {
        self.patterns.push(Pattern {
            glob: DEFAULT_RULE.to_owned(),
            negate: false,
            dir_only: false,
            whole_path: true,
        });
        self
    }

    /// The number of rules.
    #[must_use]
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are no rules.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn push(&mut self, line: &str, number: usize) -> Result<()> {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(Error::DoubleStar {
                line: number,
                rule: rule.to_owned(),
            });
        }
        // Helm validates the raw rule (with its `!` and `/`) against a non-empty name.
        if glob_match(rule, "abc").is_err() {
            return Err(Error::BadRule {
                line: number,
                rule: rule.to_owned(),
            });
        }
        let (negate, rest) = match rule.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, rule),
        };
        let (dir_only, rest) = match rest.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (whole_path, glob) = match rest.strip_prefix('/') {
            Some(rooted) => (true, rooted),
            None => (rest.contains('/'), rest),
        };
        self.patterns.push(Pattern {
            glob: glob.to_owned(),
            negate,
            dir_only,
            whole_path,
        });
        Ok(())
    }

    /// Whether the chart path `rel_path` (relative to the chart root, `/`-separated, no leading
    /// `./`) is ignored. `is_dir` says whether it names a directory.
    ///
    /// The empty path and `.` (the chart root) are never ignored.
    #[must_use]
    pub fn ignored(&self, rel_path: &str, is_dir: bool) -> bool {
        if rel_path.is_empty() || rel_path == "." || rel_path == "./" {
            return false;
        }
        for p in &self.patterns {
            if p.negate {
                if p.dir_only && !is_dir {
                    return true;
                }
                if !p.matches(rel_path) {
                    return true;
                }
                continue;
            }
            if p.dir_only && !is_dir {
                continue;
            }
            if p.matches(rel_path) {
                return true;
            }
        }
        false
    }
}

impl Pattern {
    fn matches(&self, rel_path: &str) -> bool {
        let subject = if self.whole_path {
            rel_path
        } else {
            base_name(rel_path)
        };
        // A rule that failed to compile was refused by `parse`; Helm logs and treats the
        // remaining impossible failures as no match.
        glob_match(&self.glob, subject).unwrap_or(false)
    }
}

/// Go's `filepath.Base` on a `/`-separated path: the last element, trailing slashes removed.
fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Go's `path.Match`: whether `name` matches the shell pattern `pattern`.
///
/// `*` matches any run of characters other than `/`, `?` one character other than `/`,
/// `[...]` a character class (`^` negates, `a-z` ranges, matching `/` too), and `\` escapes the
/// next character. The whole name must match.
///
/// # Errors
///
/// [`Error::BadPattern`] when the pattern is malformed (an unclosed or empty class, a trailing
/// `\`), as Go reports `ErrBadPattern`. Like Go, a mismatch found before the malformed part still
/// checks the rest of the pattern, so the error does not depend on the name.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool> {
    go_match(pattern.as_bytes(), name.as_bytes()).map_err(|BadPattern| Error::BadPattern {
        pattern: pattern.to_owned(),
    })
}

/// The internal marker of Go's `ErrBadPattern`.
struct BadPattern;

fn go_match(mut pattern: &[u8], mut name: &[u8]) -> std::result::Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it has a separator.
            return Ok(!name.contains(&b'/'));
        }
        let (rest_name, ok) = match_chunk(chunk, name)?;
        if ok && (rest_name.is_empty() || !pattern.is_empty()) {
            name = rest_name;
            continue;
        }
        if star {
            // Try the chunk after skipping i+1 bytes, never skipping a separator.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (rest_name, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok && (!pattern.is_empty() || rest_name.is_empty()) {
                    name = rest_name;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match: still report a malformed remainder of the pattern, as Go does.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the leading stars and the chunk up to the next unescaped star outside a class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // Skip the escaped byte (when there is one).
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one star-free chunk at the start of `s`: the rest of `s` and whether it matched.
fn match_chunk<'s>(
    mut chunk: &[u8],
    mut s: &'s [u8],
) -> std::result::Result<(&'s [u8], bool), BadPattern> {
    // After a mismatch Go keeps walking the chunk to validate it, without reading `s`.
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (decoded, n) = decode_rune(s);
                    r = decoded;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if c == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    c
                };
                if !failed {
                    if s[0] != literal {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((b"", false))
    } else {
        Ok((s, true))
    }
}

/// Reads one (possibly escaped) character of a class; it must be followed by more pattern.
fn class_char(chunk: &[u8]) -> std::result::Result<(char, &[u8]), BadPattern> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => &chunk[1..],
        Some(_) => chunk,
    };
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    // The pattern is a `&str` and this is a character boundary, so the rune is valid.
    let (r, n) = decode_rune(chunk);
    chunk = &chunk[n..];
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, chunk))
}

/// Go's `utf8.DecodeRune`: the first character and its length, or U+FFFD and 1 for a byte that
/// does not start a valid sequence. `s` must not be empty.
fn decode_rune(s: &[u8]) -> (char, usize) {
    for n in 1..=s.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&s[..n])
            && let Some(c) = text.chars().next()
        {
            return (c, n);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

/// Whether `name` matches `pattern` as `.Files.Glob` matches chart file names
/// (`github.com/gobwas/glob` compiled with the separator `/`).
///
/// `*` matches any run of characters other than `/`, `**` any run at all, `?` one character other
/// than `/`, `[abc]`/`[a-z]` one character of the class and `[!abc]` one character outside it
/// (classes match `/` too), `{a,b}` either alternative (alternatives nest and may hold wildcards),
/// and `\` escapes the next character. The whole name must match.
///
/// A pattern that does not compile matches every name, because Helm's `Files.Glob` then falls
/// back to `**`.
#[must_use]
pub fn files_glob_match(pattern: &str, name: &str) -> bool {
    let Some(tokens) = gobwas::parse(pattern) else {
        return true;
    };
    let name: Vec<char> = name.chars().collect();
    gobwas::matches(&tokens, &name)
}

/// The `gobwas/glob` dialect of `.Files.Glob`.
mod gobwas {
    /// One element of a compiled pattern.
    #[derive(Debug)]
    pub(super) enum Token {
        Literal(char),
        /// `*`: any run without a separator.
        Any,
        /// `**`: any run.
        Super,
        /// `?`: one character other than the separator.
        Single,
        /// `[...]`: one character in (or, negated, outside) the ranges.
        Class {
            negated: bool,
            ranges: Vec<(char, char)>,
        },
        /// `{a,b}`: one of the alternatives, each followed by the rest of the pattern.
        Alternatives(Vec<Vec<Token>>),
    }

    /// Compiles `pattern`, or `None` when gobwas would refuse it.
    pub(super) fn parse(pattern: &str) -> Option<Vec<Token>> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let tokens = parse_seq(&chars, &mut pos, false)?;
        (pos == chars.len()).then_some(tokens)
    }

    /// Parses until the end, or (inside braces) until an unescaped `,` or `}`.
    fn parse_seq(chars: &[char], pos: &mut usize, in_braces: bool) -> Option<Vec<Token>> {
        let mut tokens = Vec::new();
        while let Some(&c) = chars.get(*pos) {
            match c {
                ',' | '}' if in_braces => return Some(tokens),
                '\\' => {
                    tokens.push(Token::Literal(*chars.get(*pos + 1)?));
                    *pos += 2;
                }
                '*' => {
                    if chars.get(*pos + 1) == Some(&'*') {
                        tokens.push(Token::Super);
                        *pos += 2;
                    } else {
                        tokens.push(Token::Any);
                        *pos += 1;
                    }
                }
                '?' => {
                    tokens.push(Token::Single);
                    *pos += 1;
                }
                '[' => {
                    *pos += 1;
                    tokens.push(parse_class(chars, pos)?);
                }
                '{' => {
                    *pos += 1;
                    let mut alternatives = Vec::new();
                    loop {
                        alternatives.push(parse_seq(chars, pos, true)?);
                        match chars.get(*pos) {
                            Some(',') => *pos += 1,
                            Some('}') => {
                                *pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                    tokens.push(Token::Alternatives(alternatives));
                }
                _ => {
                    tokens.push(Token::Literal(c));
                    *pos += 1;
                }
            }
        }
        (!in_braces).then_some(tokens)
    }

    /// Parses a class after its `[`, through its `]`.
    fn parse_class(chars: &[char], pos: &mut usize) -> Option<Token> {
        let negated = chars.get(*pos) == Some(&'!');
        if negated {
            *pos += 1;
        }
        let mut ranges = Vec::new();
        loop {
            let mut c = *chars.get(*pos)?;
            *pos += 1;
            if c == ']' {
                break;
            }
            if c == '\\' {
                c = *chars.get(*pos)?;
                *pos += 1;
            }
            if chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|&h| h != ']') {
                let hi = chars[*pos + 1];
                *pos += 2;
                ranges.push((c, hi));
            } else {
                ranges.push((c, c));
            }
        }
        (!ranges.is_empty()).then_some(Token::Class { negated, ranges })
    }

    /// Whether `tokens` match all of `name`.
    pub(super) fn matches(tokens: &[Token], name: &[char]) -> bool {
        let Some((first, rest)) = tokens.split_first() else {
            return name.is_empty();
        };
        match first {
            Token::Literal(c) => name.first() == Some(c) && matches(rest, &name[1..]),
            Token::Single => name.first().is_some_and(|&c| c != '/') && matches(rest, &name[1..]),
            Token::Class { negated, ranges } => name.first().is_some_and(|&c| {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                    && matches(rest, &name[1..])
            }),
            Token::Any => {
                let limit = name.iter().position(|&c| c == '/').unwrap_or(name.len());
                (0..=limit).any(|n| matches(rest, &name[n..]))
            }
            Token::Super => (0..=name.len()).any(|n| matches(rest, &name[n..])),
            Token::Alternatives(alternatives) => alternatives.iter().any(|alt| {
                // Each alternative is followed by the rest of the pattern.
                (0..=name.len()).any(|n| matches(alt, &name[..n]) && matches(rest, &name[n..]))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
