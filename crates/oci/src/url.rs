//! `oci://<registry>/<repository>[:<tag>|@<digest>]` addresses.

/// An `oci://` URL that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OCI URL '{url}': {reason}; write it as oci://<registry>/<repository>")]
pub struct InvalidUrl {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed `oci://` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciUrl {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path below the registry.
    pub repository: String,
    /// The tag, when the URL names one (`:tag`).
    pub tag: Option<String>,
    /// The digest, when the URL names one (`@sha256:...`).
    pub digest: Option<String>,
}

impl OciUrl {
    /// Parses `url`; `with_ref` allows a `:tag` or `@digest` suffix (the
    /// CLI's verbs), which an OCIRepository's `spec.url` must not carry.
    ///
    /// # Errors
    /// [`InvalidUrl`] saying what is wrong.
    pub fn parse(url: &str, with_ref: bool) -> Result<Self, InvalidUrl> {
        let invalid = |reason| InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| invalid("it must start with oci://"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it names no repository"))?;
        if registry.is_empty() || registry.contains('@') {
            return Err(invalid("the registry host is empty or carries credentials"));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => (p, Some(d.to_owned())),
            None => (path, None),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_owned())),
            _ => (path, None),
        };
        if !with_ref && (tag.is_some() || digest.is_some()) {
            return Err(invalid(
                "it carries a tag or digest; put it in spec.ref instead",
            ));
        }
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if repository.is_empty()
            || !repository.chars().all(valid)
            || repository.starts_with('/')
            || repository.ends_with('/')
            || repository.contains("//")
        {
            return Err(invalid(
                "the repository must be lower-case letters, digits and . _ - / separators",
            ));
        }
        if digest.as_deref().is_some_and(|d| !is_sha256_digest(d)) {
            return Err(invalid("the digest must be sha256:<64 hex digits>"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// `oci://<registry>/<repository>`, without tag or digest.
    #[must_use]
    pub fn repository_url(&self) -> String {
        format!("oci://{}/{}", self.registry, self.repository)
    }
}

/// Whether `digest` is `sha256:` and 64 lower-case hex digits.
#[must_use]
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::OciUrl;

    #[test]
    fn parses_registry_repository_and_reference() {
        let u = OciUrl::parse("oci://127.0.0.1:5000/org/app:v1", true).expect("valid");
        assert_eq!(u.registry, "127.0.0.1:5000");
        assert_eq!(u.repository, "org/app");
        assert_eq!(u.tag.as_deref(), Some("v1"));
        let d = format!("sha256:{}", "a".repeat(64));
        let u = OciUrl::parse(&format!("oci://r.io/app@{d}"), true).expect("valid");
        assert_eq!(u.digest.as_deref(), Some(d.as_str()));
        assert_eq!(u.repository_url(), "oci://r.io/app");
    }

    #[test]
    fn refuses_what_is_not_an_oci_repository() {
        for bad in [
            "https://r.io/app",
            "oci://r.io",
            "oci://u:p@r.io/app",
            "oci://r.io/App",
            "oci://r.io/app@sha256:12",
        ] {
            assert!(OciUrl::parse(bad, true).is_err(), "{bad}");
        }
        let e = OciUrl::parse("oci://r.io/app:v1", false).expect_err("tag in spec.url");
        assert!(e.to_string().contains("spec.ref"), "{e}");
    }
}
