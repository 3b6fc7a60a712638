//! Release records in Secrets, as Helm's Secret driver keeps them: one Secret
//! `sh.helm.release.v1.<name>.v<version>` of type `helm.sh/release.v1` per revision, in the
//! storage namespace, labelled so `helm list`, `helm history` and `helm get` read them.
//!
//! Records are tenant data: one that does not decode is reported by name ([`Error::Corrupt`]),
//! never a panic, and a list reads at most [`MAX_REVISIONS`] of them.

use std::collections::BTreeMap;

use ferroflux_helm::release::{self, OWNER_LABEL, Release, SECRET_TYPE};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

/// The most revisions of one release read (Helm keeps 10 by default, Flux 5).
pub const MAX_REVISIONS: usize = 256;

/// A release store that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("{what} release Secret {name} in namespace {namespace}: {message}")]
    Api {
        /// `reading`, `creating`, `updating`, `deleting`, `listing`.
        what: &'static str,
        /// The Secret (or the release, for a list).
        name: String,
        /// The storage namespace.
        namespace: String,
        /// The API server's message.
        message: String,
    },
    /// A stored record does not decode.
    #[error(
        "release Secret {name} in namespace {namespace} is not a readable Helm release: {source}"
    )]
    Corrupt {
        /// The Secret.
        name: String,
        /// The storage namespace.
        namespace: String,
        /// Why.
        source: release::Error,
    },
    /// A release does not encode.
    #[error("release {name} revision {version} cannot be stored: {source}")]
    Encode {
        /// The release.
        name: String,
        /// Its revision.
        version: u32,
        /// Why.
        source: release::Error,
    },
}

/// The release Secrets of one storage namespace.
#[derive(Clone)]
pub struct Storage {
    api: Api<Secret>,
    namespace: String,
}

impl Storage {
    /// The store in `namespace`.
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str) -> Storage {
        Storage {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    /// The storage namespace.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api_error(&self, what: &'static str, name: &str, e: &kube::Error) -> Error {
        Error::Api {
            what,
            name: name.to_owned(),
            namespace: self.namespace.clone(),
            message: match e {
                kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
                other => other.to_string(),
            },
        }
    }

    fn decode(&self, secret: &Secret) -> Result<Release, Error> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let corrupt = |source| Error::Corrupt {
            name: name.clone(),
            namespace: self.namespace.clone(),
            source,
        };
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get("release"))
            .ok_or_else(|| corrupt(release::Error::Json("no `release` key".to_owned())))?;
        let text = std::str::from_utf8(&data.0).map_err(|_| corrupt(release::Error::Base64(0)))?;
        release::decode(text).map_err(corrupt)
    }

    /// Every revision of release `name`, oldest first.
    ///
    /// # Errors
    /// [`Error`] when the list fails or a record does not decode.
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, Error> {
        let params = ListParams::default()
            .labels(&format!("{}={},name={name}", OWNER_LABEL.0, OWNER_LABEL.1))
            .limit(u32::try_from(MAX_REVISIONS).unwrap_or(u32::MAX));
        let list = self
            .api
            .list(&params)
            .await
            .map_err(|e| self.api_error("listing", name, &e))?;
        let mut releases = list
            .items
            .iter()
            .filter(|s| s.type_.as_deref() == Some(SECRET_TYPE))
            .map(|s| self.decode(s))
            .collect::<Result<Vec<_>, _>>()?;
        releases.sort_by_key(|r| r.version);
        Ok(releases)
    }

    /// The latest revision of release `name`, if any.
    ///
    /// # Errors
    /// As [`Storage::history`].
    pub async fn last(&self, name: &str) -> Result<Option<Release>, Error> {
        Ok(self.history(name).await?.pop())
    }

    /// One revision, if it exists.
    ///
    /// # Errors
    /// [`Error`] when the read fails or the record does not decode.
    pub async fn get(&self, name: &str, version: u32) -> Result<Option<Release>, Error> {
        let secret_name = release::secret_name(name, version);
        match self
            .api
            .get_opt(&secret_name)
            .await
            .map_err(|e| self.api_error("reading", &secret_name, &e))?
        {
            Some(s) => self.decode(&s).map(Some),
            None => Ok(None),
        }
    }

    fn secret(&self, rel: &Release) -> Result<Secret, Error> {
        let (_, now) = release::now();
        let text = release::encode(rel).map_err(|source| Error::Encode {
            name: rel.name.clone(),
            version: rel.version,
            source,
        })?;
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(rel.secret_name()),
                namespace: Some(self.namespace.clone()),
                labels: Some(rel.labels(now)),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.to_owned()),
            data: Some(BTreeMap::from([(
                "release".to_owned(),
                ByteString(text.into_bytes()),
            )])),
            ..Secret::default()
        })
    }

    /// Stores a new revision (fails if it exists: two writers raced).
    ///
    /// # Errors
    /// [`Error`] when the create fails.
    pub async fn create(&self, rel: &Release) -> Result<(), Error> {
        let secret = self.secret(rel)?;
        self.api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| self.api_error("creating", &rel.secret_name(), &e))?;
        Ok(())
    }

    /// Rewrites an existing revision (its status or description changed).
    ///
    /// # Errors
    /// [`Error`] when the replace fails.
    pub async fn update(&self, rel: &Release) -> Result<(), Error> {
        let name = rel.secret_name();
        let mut secret = self.secret(rel)?;
        let live = self
            .api
            .get(&name)
            .await
            .map_err(|e| self.api_error("updating", &name, &e))?;
        secret.metadata.resource_version = live.metadata.resource_version;
        self.api
            .replace(&name, &PostParams::default(), &secret)
            .await
            .map_err(|e| self.api_error("updating", &name, &e))?;
        Ok(())
    }

    /// Deletes one revision (absent counts as deleted).
    ///
    /// # Errors
    /// [`Error`] when the delete fails.
    pub async fn delete(&self, name: &str, version: u32) -> Result<(), Error> {
        let secret_name = release::secret_name(name, version);
        match self
            .api
            .delete(&secret_name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.api_error("deleting", &secret_name, &e)),
        }
    }

    /// Deletes the oldest revisions beyond `max` (0: keep all), never the latest deployed
    /// one, as Helm's `MaxHistory` does.
    ///
    /// # Errors
    /// [`Error`] when a list or delete fails.
    pub async fn prune(&self, name: &str, max: usize) -> Result<(), Error> {
        if max == 0 {
            return Ok(());
        }
        let history = self.history(name).await?;
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.status() == release::Status::Deployed)
            .map(|r| r.version);
        let excess = history.len().saturating_sub(max);
        for r in history
            .iter()
            .filter(|r| Some(r.version) != deployed)
            .take(excess)
        {
            self.delete(name, r.version).await?;
        }
        Ok(())
    }
}
