//! Keeping credentials out of messages.
//!
//! Every message that reaches a status condition, an event or a log line goes
//! through [`Scrubbed`]: the user-info of every URL in it is replaced, and any
//! known secret value (a password, a token read from a Secret) is masked
//! wherever it appears.

use std::fmt;

/// What replaces a credential.
pub const MASK: &str = "***";

/// Text with URL credentials and known secret values masked. The only way to
/// build one is through scrubbing, so a `Scrubbed` is safe to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scrubbed(String);

impl Scrubbed {
    /// Scrubs the user-info of every URL in `text`.
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self(scrub_urls(text))
    }

    /// Scrubs URLs and also masks every occurrence of each of `secrets`
    /// (values shorter than 4 bytes are ignored: masking them would garble
    /// the message without protecting anything worth protecting).
    #[must_use]
    pub fn with_secrets(text: &str, secrets: &[&str]) -> Self {
        let mut out = text.to_owned();
        for secret in secrets.iter().filter(|s| s.len() >= 4) {
            out = out.replace(secret, MASK);
        }
        Self(scrub_urls(&out))
    }

    /// The scrubbed text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Replaces `user:pass@` (or `token@`) after every `scheme://` in `text`.
fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(idx) = rest.find("://") {
        let (before, after) = rest.split_at(idx + 3);
        out.push_str(before);
        // The authority ends at the first path, query or fragment delimiter,
        // whitespace or quote.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::Scrubbed;

    #[test]
    fn url_user_info_is_masked_everywhere_in_a_message() {
        let cases = [
            (
                "clone of 'https://bob:hunter2@git.example.com/repo.git' failed",
                "clone of 'https://***@git.example.com/repo.git' failed",
            ),
            (
                "ssh://git@host:22/x and http://tok3n@h",
                "ssh://***@host:22/x and http://***@h",
            ),
            ("http://a:b@c:d@host/x", "http://***@host/x"),
            (
                "no urls here: user:pass@host",
                "no urls here: user:pass@host",
            ),
            (
                "https://example.com/path?x=a@b",
                "https://example.com/path?x=a@b",
            ),
            ("ends with scheme://", "ends with scheme://"),
        ];
        for (input, want) in cases {
            assert_eq!(Scrubbed::new(input).as_str(), want, "{input}");
        }
    }

    #[test]
    fn known_secret_values_are_masked_wherever_they_appear() {
        let s = Scrubbed::with_secrets(
            "auth failed for token s3cr3t-token (s3cr3t-token)",
            &["s3cr3t-token", "ab"],
        );
        assert_eq!(s.as_str(), "auth failed for token *** (***)");
    }
}
