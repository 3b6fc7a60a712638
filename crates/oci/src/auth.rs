//! Registry logins: the `username`/`password` pair a registry's basic auth
//! or token service takes, read from a `.dockerconfigjson` document (the
//! content of a `kubernetes.io/dockerconfigjson` Secret).

use std::fmt;

use base64::Engine as _;

/// A registry login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Why a `.dockerconfigjson` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The document is not the JSON of a Docker config.
    #[error("the .dockerconfigjson is not a Docker config JSON document: {0}")]
    Invalid(String),
    /// The entry for the registry has no usable login.
    #[error(
        "the .dockerconfigjson entry for '{registry}' holds neither 'username' and 'password' nor a base64 'auth' of username:password"
    )]
    NoLogin {
        /// The registry host.
        registry: String,
    },
}

/// The login for `registry` (`host[:port]`) in a `.dockerconfigjson`, or
/// `None` when the document has no entry for it. Entries may be keyed by the
/// bare host or by a URL (`https://host/v1/`), as `docker login` writes them.
///
/// # Errors
/// [`Error`] when the document or the matching entry is malformed.
pub fn from_docker_config(json: &[u8], registry: &str) -> Result<Option<Credentials>, Error> {
    let doc: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Error::Invalid(e.to_string()))?;
    let auths = doc
        .get("auths")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| Error::Invalid("it has no 'auths' object".to_owned()))?;
    let host_of = |key: &str| {
        let key = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        key.split('/').next().unwrap_or(key).to_owned()
    };
    let Some(entry) = auths
        .iter()
        .find(|(k, _)| host_of(k) == registry)
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    let field = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
    if let (Some(u), Some(p)) = (field("username"), field("password"))
        && !u.is_empty()
    {
        return Ok(Some(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        }));
    }
    let no_login = || Error::NoLogin {
        registry: registry.to_owned(),
    };
    let auth = field("auth").ok_or_else(no_login)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| no_login())?;
    let text = String::from_utf8(decoded).map_err(|_| no_login())?;
    let (u, p) = text.split_once(':').ok_or_else(no_login)?;
    Ok(Some(Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::from_docker_config;

    #[test]
    fn reads_username_and_password_or_auth() {
        let json = br#"{"auths":{"r.io:5000":{"username":"u","password":"p"}}}"#;
        let c = from_docker_config(json, "r.io:5000")
            .expect("valid")
            .expect("entry");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        assert!(!format!("{c:?}").contains("\"p\""));
        // base64("user:pa:ss")
        let json = br#"{"auths":{"https://r.io/v1/":{"auth":"dXNlcjpwYTpzcw=="}}}"#;
        let c = from_docker_config(json, "r.io")
            .expect("valid")
            .expect("entry");
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(from_docker_config(json, "other.io"), Ok(None));
        assert!(from_docker_config(b"[]", "r.io").is_err());
    }
}
