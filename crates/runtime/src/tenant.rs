//! The client a tenant's object (a Kustomization, a HelmRelease) acts through, chosen as Flux's
//! controllers choose it:
//!
//! 1. `spec.kubeConfig.secretRef`: a client for the remote cluster that Secret's kubeconfig
//!    names; `spec.serviceAccountName`, when set, is impersonated there (a ServiceAccount of the
//!    remote cluster, in the object's namespace). The controller's `--default-service-account`
//!    is a lock-down of the local cluster and does not apply to remote ones, as in Flux.
//! 2. `spec.serviceAccountName`, else `--default-service-account`: the controller's own client
//!    configuration impersonating that ServiceAccount of the object's namespace.
//! 3. Otherwise the controller's own client.
//!
//! A kubeconfig comes from a tenant's Secret, so nothing in it is trusted. `exec` and
//! `auth-provider` (commands run inside the controller's container) and
//! `insecure-skip-tls-verify` are refused unless the controller was started with Flux's
//! `--insecure-kubeconfig-exec` / `--insecure-kubeconfig-tls`; references to files
//! (`tokenFile`, `certificate-authority`, `client-certificate`, `client-key`) are always refused:
//! they would read the controller's own files (its ServiceAccount token, say) and send them to a
//! server the tenant chose. A remote cluster that cannot be reached fails only the objects that
//! name it: connecting is bounded by [`REMOTE_CONNECT_TIMEOUT`] and every request by
//! [`REMOTE_READ_TIMEOUT`], and the cluster is asked its version once before anything else so the
//! condition names the cluster rather than the first object applied to it.

use std::time::Duration;

use ferroflux_api::kustomize::KubeConfigReference;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use crate::error::ReconcileError;
use crate::scrub::Scrubbed;

/// How long connecting to a remote cluster (TCP and TLS) may take.
pub const REMOTE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a remote cluster may take to answer one request. Health checks poll rather than
/// watch, so no request is meant to stay open longer.
pub const REMOTE_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The condition reason of a refused configuration, as Flux's.
const UNSUPPORTED: &str = "UnsupportedConfiguration";

/// What a kubeconfig from a tenant's Secret may use (Flux's `--insecure-kubeconfig-*` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KubeConfigPolicy {
    /// `--insecure-kubeconfig-exec`: `user.exec` and `user.auth-provider` are allowed.
    pub allow_exec: bool,
    /// `--insecure-kubeconfig-tls`: `insecure-skip-tls-verify` is allowed.
    pub allow_insecure_tls: bool,
}

/// Why no client could be made for an object. Messages name the Secret, the key and the
/// cluster's address, never the kubeconfig's content.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Impersonation was asked of a controller started without its client configuration.
    #[error(
        "spec.serviceAccountName: this controller was started without a client configuration to impersonate with"
    )]
    NoConfig,
    /// The client configuration impersonating `account` does not make a client.
    #[error("impersonating ServiceAccount {account}: {source}")]
    Impersonation {
        /// The ServiceAccount.
        account: String,
        /// What kube said.
        source: kube::Error,
    },
    /// `spec.kubeConfig.configMapRef` (cloud-provider workload identity).
    #[error(
        "spec.kubeConfig.configMapRef (reaching a cluster through cloud-provider workload identity) is not supported; put a kubeconfig in a Secret and use spec.kubeConfig.secretRef"
    )]
    ConfigMapRef,
    /// `spec.kubeConfig` names no Secret.
    #[error("spec.kubeConfig names no secretRef: set spec.kubeConfig.secretRef.name")]
    NoSecretRef,
    /// The Secret could not be read.
    #[error("reading the kubeconfig Secret {secret}: {source}")]
    SecretRead {
        /// `namespace/name`.
        secret: String,
        /// What the API server said.
        source: kube::Error,
    },
    /// The Secret does not exist.
    #[error("the kubeconfig Secret {secret} (spec.kubeConfig.secretRef) does not exist")]
    SecretMissing {
        /// `namespace/name`.
        secret: String,
    },
    /// The Secret has none of the keys looked for.
    #[error("the kubeconfig Secret {secret} has no key {keys}")]
    KeyMissing {
        /// `namespace/name`.
        secret: String,
        /// The keys looked for, quoted and joined with "or".
        keys: String,
    },
    /// The key's value is not a kubeconfig.
    #[error(
        "key '{key}' of Secret {secret} is not a kubeconfig (YAML with clusters, users and contexts)"
    )]
    NotKubeconfig {
        /// `namespace/name`.
        secret: String,
        /// The key read.
        key: String,
    },
    /// The kubeconfig uses something this controller refuses.
    #[error("the kubeconfig in Secret {secret} uses {what}: refused{hint}")]
    Refused {
        /// `namespace/name`.
        secret: String,
        /// The field and why it is refused.
        what: String,
        /// How to allow it, when it can be allowed.
        hint: &'static str,
    },
    /// The kubeconfig does not make a client configuration (no current context, a bad
    /// certificate, no server).
    #[error("the kubeconfig in Secret {secret} cannot be used: {source}")]
    Kubeconfig {
        /// `namespace/name`.
        secret: String,
        /// What kube said.
        source: kube::config::KubeconfigError,
    },
    /// The client for the remote cluster could not be built.
    #[error("making a client for the remote cluster {server} (Secret {secret}): {source}")]
    Client {
        /// `namespace/name`.
        secret: String,
        /// The cluster's address.
        server: String,
        /// What kube said.
        source: kube::Error,
    },
    /// The remote cluster did not answer.
    #[error(
        "the remote cluster {server} (kubeconfig in Secret {secret}) is unreachable or refuses the credentials: {source}"
    )]
    Unreachable {
        /// `namespace/name`.
        secret: String,
        /// The cluster's address.
        server: String,
        /// What kube said.
        source: kube::Error,
    },
}

impl TenantError {
    /// The reconcile error this becomes: the ones only a spec change fixes stall with
    /// `UnsupportedConfiguration`; the rest (a Secret that may appear or change, a cluster that
    /// may come back) are retried with backoff under `reason`.
    #[must_use]
    pub fn into_reconcile_error(self, reason: &'static str) -> ReconcileError {
        let message = Scrubbed::new(&self.to_string());
        match self {
            Self::NoConfig | Self::ConfigMapRef | Self::NoSecretRef => {
                ReconcileError::stalled(UNSUPPORTED, message)
            }
            _ => ReconcileError::transient(reason, message),
        }
    }
}

/// Where an object's client comes from: the controller's own client and configuration, its
/// `--default-service-account` and its kubeconfig policy.
#[derive(Clone)]
pub struct Tenancy {
    own: Client,
    config: Option<kube::Config>,
    default_service_account: Option<String>,
    policy: KubeConfigPolicy,
}

impl std::fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenancy")
            .field("default_service_account", &self.default_service_account)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The client an object acts through, and the remote cluster's address when it is one.
#[derive(Clone)]
pub struct TenantClient {
    /// The client.
    pub client: Client,
    /// The remote cluster's address (`spec.kubeConfig`), `None` for the controller's own cluster.
    pub remote: Option<String>,
}

impl Tenancy {
    /// Objects act through `own` unless they say otherwise; without [`Self::with_config`] no
    /// impersonation is possible.
    #[must_use]
    pub fn new(own: Client) -> Self {
        Self {
            own,
            config: None,
            default_service_account: None,
            policy: KubeConfigPolicy::default(),
        }
    }

    /// The controller's own client configuration, from which impersonating clients are made.
    #[must_use]
    pub fn with_config(mut self, config: kube::Config) -> Self {
        self.config = Some(config);
        self
    }

    /// `--default-service-account` (empty: none).
    #[must_use]
    pub fn with_default_service_account(mut self, account: Option<String>) -> Self {
        self.default_service_account = account.filter(|a| !a.is_empty());
        self
    }

    /// `--insecure-kubeconfig-exec` / `--insecure-kubeconfig-tls`.
    #[must_use]
    pub fn with_kubeconfig_policy(mut self, policy: KubeConfigPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The ServiceAccount a local object acts as: its own, else the default, else none.
    #[must_use]
    pub fn service_account<'a>(&'a self, own: Option<&'a str>) -> Option<&'a str> {
        own.filter(|a| !a.is_empty())
            .or(self.default_service_account.as_deref())
    }

    /// The client for an object of `namespace` with `spec.serviceAccountName` `account` and
    /// `spec.kubeConfig` `kube_config` (see the module documentation for the order).
    ///
    /// # Errors
    /// See [`TenantError`]: the kubeconfig Secret missing or unusable, a refused kubeconfig, the
    /// remote cluster unreachable, impersonation without a configuration.
    pub async fn client(
        &self,
        namespace: &str,
        account: Option<&str>,
        kube_config: Option<&KubeConfigReference>,
    ) -> Result<TenantClient, TenantError> {
        if let Some(reference) = kube_config {
            return self.remote(namespace, account, reference).await;
        }
        let Some(account) = self.service_account(account) else {
            return Ok(TenantClient {
                client: self.own.clone(),
                remote: None,
            });
        };
        let config = self.config.as_ref().ok_or(TenantError::NoConfig)?;
        let client = crate::impersonation::service_account_client(config, namespace, account)
            .map_err(|source| TenantError::Impersonation {
                account: account.to_owned(),
                source,
            })?;
        Ok(TenantClient {
            client,
            remote: None,
        })
    }

    /// The client that deletes what an object made (its objects, its release), or `None` when
    /// nothing can be deleted in its name any more: the local ServiceAccount it acts as, or its
    /// kubeconfig Secret, is gone. Waiting for either would keep the object (and its namespace)
    /// forever, so the objects are left in place, as Flux leaves them; a warning says so.
    ///
    /// # Errors
    /// As [`Self::client`], but for a missing kubeconfig Secret.
    pub async fn deletion_client(
        &self,
        namespace: &str,
        name: &str,
        account: Option<&str>,
        kube_config: Option<&KubeConfigReference>,
    ) -> Result<Option<TenantClient>, TenantError> {
        if kube_config.is_none()
            && let Some(account) = self.service_account(account)
        {
            let exists = Api::<ServiceAccount>::namespaced(self.own.clone(), namespace)
                .get_opt(account)
                .await
                .map_or(true, |sa| sa.is_some());
            if !exists {
                tracing::warn!(
                    object = %format!("{namespace}/{name}"),
                    account,
                    "ServiceAccount gone: what the object made is left in place"
                );
                return Ok(None);
            }
        }
        match self.client(namespace, account, kube_config).await {
            Ok(tenant) => Ok(Some(tenant)),
            Err(TenantError::SecretMissing { secret }) => {
                tracing::warn!(
                    object = %format!("{namespace}/{name}"),
                    secret,
                    "kubeconfig Secret gone: what the object made is left in place on the remote cluster"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn remote(
        &self,
        namespace: &str,
        account: Option<&str>,
        reference: &KubeConfigReference,
    ) -> Result<TenantClient, TenantError> {
        if reference.config_map_ref.is_some() && reference.secret_ref.is_none() {
            return Err(TenantError::ConfigMapRef);
        }
        let secret_ref = reference
            .secret_ref
            .as_ref()
            .filter(|r| !r.name.is_empty())
            .ok_or(TenantError::NoSecretRef)?;
        let secret = format!("{namespace}/{}", secret_ref.name);
        let found = Api::<Secret>::namespaced(self.own.clone(), namespace)
            .get_opt(&secret_ref.name)
            .await
            .map_err(|source| TenantError::SecretRead {
                secret: secret.clone(),
                source,
            })?
            .ok_or_else(|| TenantError::SecretMissing {
                secret: secret.clone(),
            })?;
        let (key, text) = kubeconfig_text(&found, secret_ref.key.as_deref(), &secret)?;
        let mut config = remote_config(&text, &secret, &key, self.policy).await?;
        config.connect_timeout = Some(REMOTE_CONNECT_TIMEOUT);
        config.read_timeout = Some(REMOTE_READ_TIMEOUT);
        if let Some(account) = account.filter(|a| !a.is_empty()) {
            config.auth_info.impersonate =
                Some(format!("system:serviceaccount:{namespace}:{account}"));
        }
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|source| TenantError::Client {
            secret: secret.clone(),
            server: server.clone(),
            source,
        })?;
        client
            .apiserver_version()
            .await
            .map_err(|source| TenantError::Unreachable {
                secret,
                server: server.clone(),
                source,
            })?;
        Ok(TenantClient {
            client,
            remote: Some(server),
        })
    }
}

/// The kubeconfig text of `secret`: key `key` when given, else `value`, else `value.yaml`.
fn kubeconfig_text(
    secret: &Secret,
    key: Option<&str>,
    name: &str,
) -> Result<(String, String), TenantError> {
    let keys: Vec<&str> = match key.filter(|k| !k.is_empty()) {
        Some(key) => vec![key],
        None => vec!["value", "value.yaml"],
    };
    let data = secret.data.as_ref();
    let strings = secret.string_data.as_ref();
    for key in &keys {
        let bytes = data
            .and_then(|d| d.get(*key))
            .map(|b| b.0.clone())
            .or_else(|| {
                strings
                    .and_then(|s| s.get(*key))
                    .map(|s| s.clone().into_bytes())
            });
        if let Some(bytes) = bytes {
            let text = String::from_utf8(bytes).map_err(|_| TenantError::NotKubeconfig {
                secret: name.to_owned(),
                key: (*key).to_owned(),
            })?;
            return Ok(((*key).to_owned(), text));
        }
    }
    Err(TenantError::KeyMissing {
        secret: name.to_owned(),
        keys: keys
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(" or "),
    })
}

/// The client configuration of `text` (from key `key` of Secret `secret`), after checking it
/// against `policy`.
///
/// # Errors
/// [`TenantError::NotKubeconfig`], [`TenantError::Refused`] or [`TenantError::Kubeconfig`].
pub async fn remote_config(
    text: &str,
    secret: &str,
    key: &str,
    policy: KubeConfigPolicy,
) -> Result<kube::Config, TenantError> {
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|_| TenantError::NotKubeconfig {
        secret: secret.to_owned(),
        key: key.to_owned(),
    })?;
    if let Some((what, hint)) = refused(&kubeconfig, policy) {
        return Err(TenantError::Refused {
            secret: secret.to_owned(),
            what,
            hint,
        });
    }
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|source| TenantError::Kubeconfig {
            secret: secret.to_owned(),
            source,
        })
}

/// The first thing in `kubeconfig` that `policy` refuses, with how to allow it.
fn refused(kubeconfig: &Kubeconfig, policy: KubeConfigPolicy) -> Option<(String, &'static str)> {
    const NEVER: &str = " (a kubeconfig from a Secret must carry its data inline: use the *-data fields or a token)";
    const EXEC: &str = " (runs a command inside the controller; start the controller with --insecure-kubeconfig-exec to allow it)";
    const TLS: &str = " (start the controller with --insecure-kubeconfig-tls to allow it)";
    for named in &kubeconfig.clusters {
        let Some(cluster) = &named.cluster else {
            continue;
        };
        let name = &named.name;
        if cluster.certificate_authority.is_some() {
            return Some((
                format!("clusters[{name}].certificate-authority, a file of the controller"),
                NEVER,
            ));
        }
        if cluster.insecure_skip_tls_verify == Some(true) && !policy.allow_insecure_tls {
            return Some((
                format!(
                    "clusters[{name}].insecure-skip-tls-verify, which turns off the server's certificate check"
                ),
                TLS,
            ));
        }
    }
    for named in &kubeconfig.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let name = &named.name;
        for (present, field) in [
            (user.token_file.is_some(), "tokenFile"),
            (user.client_certificate.is_some(), "client-certificate"),
            (user.client_key.is_some(), "client-key"),
        ] {
            if present {
                return Some((
                    format!("users[{name}].{field}, a file of the controller"),
                    NEVER,
                ));
            }
        }
        if !policy.allow_exec {
            if user.exec.is_some() {
                return Some((format!("users[{name}].exec"), EXEC));
            }
            if user.auth_provider.is_some() {
                return Some((format!("users[{name}].auth-provider"), EXEC));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const INLINE: &str = "apiVersion: v1
kind: Config
clusters:
- name: remote
  cluster:
    server: https://127.0.0.1:6443
users:
- name: admin
  user:
    token: abc
contexts:
- name: remote
  context:
    cluster: remote
    user: admin
current-context: remote
";

    async fn check(text: &str, policy: KubeConfigPolicy) -> Result<kube::Config, TenantError> {
        remote_config(text, "ns/kc", "value", policy).await
    }

    #[tokio::test]
    async fn an_inline_kubeconfig_makes_a_configuration() {
        let config = check(INLINE, KubeConfigPolicy::default()).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    }

    #[tokio::test]
    async fn files_are_refused_whatever_the_policy() {
        let all = KubeConfigPolicy {
            allow_exec: true,
            allow_insecure_tls: true,
        };
        for (from, to, field) in [
            (
                "    token: abc\n",
                "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
                "users[admin].tokenFile",
            ),
            (
                "    server: https://127.0.0.1:6443\n",
                "    server: https://127.0.0.1:6443\n    certificate-authority: /etc/ca.crt\n",
                "clusters[remote].certificate-authority",
            ),
            (
                "    token: abc\n",
                "    client-certificate: /tls.crt\n    client-key: /tls.key\n",
                "users[admin].client-certificate",
            ),
        ] {
            let text = INLINE.replace(from, to);
            let err = check(&text, all).await.unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
            assert!(err.contains("Secret ns/kc"), "{err}");
            assert!(!err.contains("abc"), "{err}");
        }
    }

    #[tokio::test]
    async fn exec_and_insecure_tls_need_their_flags() {
        let exec = INLINE.replace(
            "    token: abc\n",
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [-c, id]\n",
        );
        let err = check(&exec, KubeConfigPolicy::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("users[admin].exec"), "{err}");
        assert!(err.contains("--insecure-kubeconfig-exec"), "{err}");
        let allowed = KubeConfigPolicy {
            allow_exec: true,
            allow_insecure_tls: false,
        };
        assert!(check(&exec, allowed).await.is_ok());

        let insecure = INLINE.replace(
            "    server: https://127.0.0.1:6443\n",
            "    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\n",
        );
        let err = check(&insecure, KubeConfigPolicy::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("insecure-skip-tls-verify"), "{err}");
        assert!(err.contains("--insecure-kubeconfig-tls"), "{err}");
        let allowed = KubeConfigPolicy {
            allow_exec: false,
            allow_insecure_tls: true,
        };
        assert!(
            check(&insecure, allowed)
                .await
                .unwrap()
                .accept_invalid_certs
        );
    }

    #[tokio::test]
    async fn garbage_is_not_a_kubeconfig_and_the_text_is_not_repeated() {
        let err = check("token: [hunter2", KubeConfigPolicy::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key 'value' of Secret ns/kc is not a kubeconfig"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_key_defaults_to_value_then_value_yaml() {
        let mut secret = Secret::default();
        let err = kubeconfig_text(&secret, None, "ns/kc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no key 'value' or 'value.yaml'"), "{err}");
        secret.data = Some(
            [(
                "value.yaml".to_owned(),
                k8s_openapi::ByteString(b"x".to_vec()),
            )]
            .into(),
        );
        assert_eq!(
            kubeconfig_text(&secret, None, "ns/kc").unwrap().0,
            "value.yaml"
        );
        let err = kubeconfig_text(&secret, Some("other"), "ns/kc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no key 'other'"), "{err}");
    }
}
