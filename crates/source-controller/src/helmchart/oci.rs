//! Charts from OCI registries: those of a HelmRepository of `type: oci`,
//! and chart dependencies whose repository is `oci://`, resolved and pulled
//! as Helm and Flux do.
//!
//! The chart `<name>` of the repository `oci://<host>/<path>` is the OCI
//! repository `<host>/<path>/<name>`, tagged with the chart's versions (`+`
//! written `_`: tags cannot hold `+`, and `helm push` writes them so). A
//! version that is a semver version (a `v` prefix allowed) is pulled by its
//! tag without listing the tags; anything else is a semver range resolved
//! over the tags that are strict semver versions, an exact tag winning
//! first. The manifest's chart layer (`helm push`'s
//! [`CHART_LAYER_MEDIA_TYPE`], or the legacy [`LEGACY_CHART_LAYER_MEDIA_TYPE`])
//! is downloaded under the chart size cap and checked against its digest.
//!
//! The registry login comes from the HelmRepository's `secretRef`: a
//! `.dockerconfigjson` (a `kubernetes.io/dockerconfigjson` Secret) with an
//! entry for the registry host, or `username` and `password` as Flux also
//! accepts for OCI repositories. `certSecretRef` (else TLS data in
//! `secretRef`) gives `ca.crt`; `insecure` means plain HTTP; `timeout` bounds
//! each registry operation (60s when omitted).

use std::time::Duration;

use ferroflux_api::source::HelmRepository;
use ferroflux_oci::auth::Credentials;
use ferroflux_oci::registry::{Descriptor, Error as OciError};
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};
use ferroflux_runtime::error::ReconcileError;
use ferroflux_runtime::scrub::Scrubbed;
use kube::{Client, ResourceExt as _};

use super::{fetch_failed, names};
use crate::helmrepository::DEFAULT_TIMEOUT;
use crate::helmrepository::http::{AuthError, SecretData, secret_data};

/// Media type of the chart layer `helm push` writes.
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Media type of the chart layer of Helm before 3.7, still read by Helm.
pub const LEGACY_CHART_LAYER_MEDIA_TYPE: &str = "application/tar+gzip";

/// A chart repository in a registry, with the login and trust its
/// HelmRepository gives (or none, for a dependency no HelmRepository names).
pub(crate) struct Remote {
    registry: Registry,
    /// `oci://<host>/<path>`, without a trailing slash.
    base: String,
    /// Names the repository in messages.
    label: String,
    insecure: bool,
    timeout: Duration,
    /// Values to mask in every message (the password).
    secrets: Vec<String>,
    /// No HelmRepository names this repository.
    anonymous: bool,
}

/// A chart version found in a registry.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    /// The chart's OCI repository.
    pub(crate) url: OciUrl,
    /// The chart version (`+` for build metadata), the artifact's revision.
    pub(crate) version: String,
}

impl Found {
    /// The tag the version is pushed under: `+` written `_`.
    pub(crate) fn tag(&self) -> String {
        self.version.replace('+', "_")
    }

    /// `oci://<host>/<path>/<chart>:<tag>`, for messages.
    pub(crate) fn reference(&self) -> String {
        format!("{}:{}", self.url.repository_url(), self.tag())
    }
}

impl Remote {
    /// The registry of the OCI HelmRepository `repo`, logged in as its
    /// Secrets say.
    ///
    /// # Errors
    /// `AuthenticationFailed` for a missing or malformed Secret (retried:
    /// fixing it does not change the HelmChart), `UnsupportedConfiguration`
    /// (stalled) for a cloud `provider` or a client certificate.
    pub(crate) async fn connect(
        client: &Client,
        repo: &HelmRepository,
    ) -> Result<Self, ReconcileError> {
        let ns = repo.namespace().unwrap_or_default();
        let label = format!(
            "HelmRepository '{ns}/{}' ({})",
            repo.name_any(),
            repo.spec.url
        );
        if repo
            .spec
            .provider
            .as_deref()
            .is_some_and(|p| p != "generic")
        {
            return Err(ReconcileError::stalled(
                names::UNSUPPORTED,
                Scrubbed::new(&format!(
                    "{label}: spec.provider '{}' is not supported by Ferroflux yet (only 'generic', with spec.secretRef); keep this HelmChart on Flux for now",
                    repo.spec.provider.as_deref().unwrap_or_default()
                )),
            ));
        }
        let base = repo.spec.url.trim_end_matches('/').to_owned();
        let host = registry_host(&base).ok_or_else(|| {
            fetch_failed(
                names::URL_INVALID,
                &format!("{label}: spec.url must be oci://<registry>[/<path>]"),
                &[],
            )
        })?;
        let (credentials, ca_pem) = read_login(client, &ns, repo, &host)
            .await
            .map_err(|e| e.context(&label))?;
        let timeout = repo
            .spec
            .timeout
            .as_ref()
            .and_then(|t| t.get().ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        Self::new(
            base,
            label,
            repo.spec.insecure,
            timeout,
            credentials,
            ca_pem,
        )
    }

    /// The registry at `url` without a login, over HTTPS with the system
    /// roots and the default timeout: a dependency's repository that no
    /// HelmRepository of the namespace names, as Flux reaches it.
    ///
    /// # Errors
    /// `URLInvalid` when `url` names no registry.
    pub(crate) fn anonymous(url: &str) -> Result<Self, ReconcileError> {
        let base = url.trim_end_matches('/').to_owned();
        if registry_host(&base).is_none() {
            return Err(fetch_failed(
                names::URL_INVALID,
                &format!("'{url}' must be oci://<registry>[/<path>]"),
                &[],
            ));
        }
        let label = format!("{base} (anonymously: no HelmRepository of type 'oci' has this URL)");
        let mut remote = Self::new(base, label, false, DEFAULT_TIMEOUT, None, None)?;
        remote.anonymous = true;
        Ok(remote)
    }

    fn new(
        base: String,
        label: String,
        insecure: bool,
        timeout: Duration,
        credentials: Option<Credentials>,
        ca_pem: Option<Vec<u8>>,
    ) -> Result<Self, ReconcileError> {
        let secrets: Vec<String> = credentials
            .as_ref()
            .map(|c| c.password.clone())
            .into_iter()
            .collect();
        let registry = Registry::new(RegistryOptions {
            insecure,
            ca_pem,
            credentials,
            timeout: Some(timeout),
        })
        .map_err(|e| {
            fetch_failed(
                names::AUTHENTICATION_FAILED,
                &format!("{label}: {e}"),
                &secrets,
            )
        })?;
        Ok(Self {
            registry,
            base,
            label,
            insecure,
            timeout,
            secrets,
            anonymous: false,
        })
    }

    /// Where `field` is set: on the HelmRepository, or on one to create.
    fn fix_in(&self, field: &str) -> String {
        if self.anonymous {
            format!(
                "{field} in a HelmRepository of type 'oci' with URL {} (create one)",
                self.base
            )
        } else {
            format!("{field} in the HelmRepository")
        }
    }

    /// The version of `chart` that `constraint` names: itself when it is a
    /// version, else the highest tag in the range. `what` names the chart
    /// in messages.
    ///
    /// # Errors
    /// `ChartPullError` (as Flux) when no tag matches, the constraint does
    /// not parse or the registry fails; `AuthenticationFailed` when it
    /// refuses the login; `URLInvalid` when `chart` makes no repository name.
    pub(crate) async fn resolve(
        &self,
        chart: &str,
        constraint: &str,
        what: &str,
    ) -> Result<Found, ReconcileError> {
        let url = OciUrl::parse(&format!("{}/{chart}", self.base), false).map_err(|e| {
            self.failed(
                names::URL_INVALID,
                what,
                &format!("{e}; check the chart name"),
            )
        })?;
        if is_version(constraint) {
            return Ok(Found {
                url,
                version: constraint.to_owned(),
            });
        }
        let tags = tokio::time::timeout(self.timeout, self.registry.list_tags(&url))
            .await
            .map_err(|_| self.too_slow(what, "listing the tags of", &url.repository_url()))?
            .map_err(|e| self.registry_failed(what, &e))?;
        let versions = chart_versions(&tags);
        let constraint = if constraint.is_empty() {
            "*"
        } else {
            constraint
        };
        let version = match versions.iter().find(|v| v.as_str() == constraint) {
            Some(v) => v.clone(),
            None => crate::semver::highest_match(constraint, versions.iter().map(String::as_str))
                .map_err(|e| self.failed(names::CHART_PULL_ERROR, what, &e.to_string()))?
                .ok_or_else(|| {
                    self.failed(
                        names::CHART_PULL_ERROR,
                        what,
                        &format!(
                            "no version of {} matches '{constraint}' ({} of its {} tags are chart versions{}); push a matching version or fix spec.version",
                            url.repository_url(),
                            versions.len(),
                            tags.len(),
                            highest(&versions)
                                .map(|v| format!(", the highest {v}"))
                                .unwrap_or_default()
                        ),
                    )
                })?,
        };
        Ok(Found { url, version })
    }

    /// Downloads the chart layer of `found` (at most `max` bytes, its
    /// digest checked).
    ///
    /// # Errors
    /// `ChartPullError` when the version or its chart layer is missing,
    /// the layer is too large or corrupt, or the registry fails;
    /// `AuthenticationFailed` when it refuses the login.
    pub(crate) async fn pull(
        &self,
        found: &Found,
        max: u64,
        what: &str,
    ) -> Result<Vec<u8>, ReconcileError> {
        let reference = found.reference();
        tokio::time::timeout(self.timeout, async {
            let manifest = self
                .registry
                .manifest(&found.url, Some(&found.tag()), None)
                .await
                .map_err(|e| self.registry_failed(what, &e))?;
            let layer = chart_layer(&manifest.manifest.layers).ok_or_else(|| {
                self.failed(
                    names::CHART_PULL_ERROR,
                    what,
                    &format!(
                        "{reference} (manifest {}) has no Helm chart layer of media type '{CHART_LAYER_MEDIA_TYPE}' (its layers: {}); push the chart with helm push",
                        manifest.digest,
                        layer_types(&manifest.manifest.layers)
                    ),
                )
            })?;
            self.registry
                .pull_blob(&found.url, &layer, Vec::new(), max)
                .await
                .map_err(|e| self.registry_failed(what, &e))
        })
        .await
        .map_err(|_| self.too_slow(what, "pulling", &reference))?
    }

    /// A failure naming `what` and the repository.
    fn failed(&self, reason: &'static str, what: &str, detail: &str) -> ReconcileError {
        fetch_failed(
            reason,
            &format!("{what} from {}: {detail}", self.label),
            &self.secrets,
        )
    }

    fn too_slow(&self, what: &str, operation: &str, url: &str) -> ReconcileError {
        self.failed(
            names::CHART_PULL_ERROR,
            what,
            &format!(
                "{operation} {url} did not finish within {:?}; raise {}",
                self.timeout,
                self.fix_in("spec.timeout")
            ),
        )
    }

    /// A registry error, with the hint that fits it.
    fn registry_failed(&self, what: &str, e: &OciError) -> ReconcileError {
        let mut detail = e.to_string();
        let reason = match e {
            OciError::Unauthorized { .. } => {
                detail = format!(
                    "{detail}; check the login of {}",
                    self.fix_in("spec.secretRef")
                );
                names::AUTHENTICATION_FAILED
            }
            OciError::Unreachable { .. } if detail.contains("certificate") => {
                detail = format!(
                    "{detail} (if the registry's certificate is signed by a private CA, put it as ca.crt in the Secret of {})",
                    self.fix_in("spec.certSecretRef")
                );
                names::CHART_PULL_ERROR
            }
            OciError::Unreachable { .. } if !self.insecure => {
                detail = format!(
                    "{detail} (if the registry serves plain HTTP, set {})",
                    self.fix_in("spec.insecure: true")
                );
                names::CHART_PULL_ERROR
            }
            OciError::TooLarge { .. } => {
                detail.push_str(" (the source-controller's --helm-chart-max-size)");
                names::CHART_PULL_ERROR
            }
            OciError::NotFound { .. } => {
                detail.push_str("; check the chart name and version, and the registry path");
                names::CHART_PULL_ERROR
            }
            _ => names::CHART_PULL_ERROR,
        };
        self.failed(reason, what, &detail)
    }
}

/// Whether `v` is a version (strict semver, a `v` prefix allowed), which
/// Flux pulls by its tag without listing the tags.
fn is_version(v: &str) -> bool {
    ::semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).is_ok()
}

/// The tags that are chart versions, `_` read back as `+`, as Helm lists
/// them: strict semver only.
fn chart_versions(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.replace('_', "+"))
        .filter(|v| ::semver::Version::parse(v).is_ok())
        .collect()
}

/// The highest of `versions` (all strict semver), for messages.
fn highest(versions: &[String]) -> Option<&String> {
    versions
        .iter()
        .filter_map(|v| ::semver::Version::parse(v).ok().map(|p| (p, v)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

/// The chart layer of a manifest: `helm push`'s media type, else Helm's
/// legacy one.
fn chart_layer(layers: &[Descriptor]) -> Option<Descriptor> {
    layers
        .iter()
        .find(|l| l.media_type == CHART_LAYER_MEDIA_TYPE)
        .or_else(|| {
            layers
                .iter()
                .find(|l| l.media_type == LEGACY_CHART_LAYER_MEDIA_TYPE)
        })
        .cloned()
}

fn layer_types(layers: &[Descriptor]) -> String {
    if layers.is_empty() {
        return "none".to_owned();
    }
    layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `host[:port]` of `oci://host[:port][/path]`.
fn registry_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("oci://")?;
    let host = rest.split('/').next().unwrap_or(rest);
    (!host.is_empty() && !host.contains('@')).then(|| host.to_owned())
}

/// A Secret problem, before the repository is named.
struct LoginError {
    reason: &'static str,
    stalled: bool,
    message: String,
}

impl LoginError {
    fn auth(message: String) -> Self {
        Self {
            reason: names::AUTHENTICATION_FAILED,
            stalled: false,
            message,
        }
    }

    fn context(self, label: &str) -> ReconcileError {
        let message = Scrubbed::new(&format!("{label}: {}", self.message));
        if self.stalled {
            ReconcileError::stalled(self.reason, message)
        } else {
            ReconcileError::transient(self.reason, message).with_condition(names::FETCH_FAILED)
        }
    }
}

impl From<AuthError> for LoginError {
    fn from(e: AuthError) -> Self {
        Self::auth(e.to_string())
    }
}

/// The login for `host` from `secretRef`, and the CA from `certSecretRef`
/// (else from `secretRef`, as Flux still reads it).
async fn read_login(
    client: &Client,
    ns: &str,
    repo: &HelmRepository,
    host: &str,
) -> Result<(Option<Credentials>, Option<Vec<u8>>), LoginError> {
    let mut credentials = None;
    let mut ca = None;
    if let Some(r) = &repo.spec.secret_ref {
        let data = secret_data(
            client,
            ns,
            &r.name,
            "spec.secretRef",
            "'.dockerconfigjson' (kubectl create secret docker-registry) or 'username' and 'password'",
        )
        .await?;
        credentials = Some(login_from(&data, host).map_err(|m| {
            LoginError::auth(format!(
                "Secret '{ns}/{}' named in spec.secretRef: {m}",
                r.name
            ))
        })?);
        if repo.spec.cert_secret_ref.is_none() {
            ca = ca_from(&data, ns, &r.name, "spec.secretRef")?;
        }
    }
    if let Some(r) = &repo.spec.cert_secret_ref {
        let data = secret_data(client, ns, &r.name, "spec.certSecretRef", "'ca.crt'").await?;
        ca = ca_from(&data, ns, &r.name, "spec.certSecretRef")?;
        if ca.is_none() {
            return Err(LoginError::auth(format!(
                "Secret '{ns}/{}' named in spec.certSecretRef has no 'ca.crt'",
                r.name
            )));
        }
    }
    Ok((credentials, ca))
}

/// The login in a `secretRef`'s data: the `.dockerconfigjson` entry for
/// `host`, else `username` and `password`.
fn login_from(data: &SecretData, host: &str) -> Result<Credentials, String> {
    if let Some(json) = data.get(".dockerconfigjson") {
        return ferroflux_oci::auth::from_docker_config(&json.0, host)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("its .dockerconfigjson has no login for the registry '{host}'")
            });
    }
    let text = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    match (text("username"), text("password")) {
        (Some(username), Some(password)) => Ok(Credentials { username, password }),
        _ => Err(
            "it holds neither '.dockerconfigjson' nor both 'username' and 'password'".to_owned(),
        ),
    }
}

/// `ca.crt` (or `caFile`) of a Secret; a client certificate is refused.
fn ca_from(
    data: &SecretData,
    ns: &str,
    name: &str,
    field: &str,
) -> Result<Option<Vec<u8>>, LoginError> {
    if data.contains_key("tls.crt") || data.contains_key("tls.key") {
        return Err(LoginError {
            reason: names::UNSUPPORTED,
            stalled: true,
            message: format!(
                "Secret '{ns}/{name}' named in {field} holds a client certificate (tls.crt, tls.key); client certificates to registries are not supported by Ferroflux yet, keep only ca.crt"
            ),
        });
    }
    Ok(data
        .get("ca.crt")
        .or_else(|| data.get("caFile"))
        .map(|v| v.0.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(media_type: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            ..Descriptor::default()
        }
    }

    #[test]
    fn versions_are_pulled_by_tag_and_ranges_are_resolved_over_strict_semver_tags() {
        assert!(is_version("1.2.3"));
        assert!(is_version("v1.2.3"));
        assert!(is_version("1.2.3+build.1"));
        assert!(!is_version("1.2"));
        assert!(!is_version("~1.2"));
        assert!(!is_version("*"));
        let tags: Vec<String> = ["1.0.0", "1.1.0_build.2", "v2.0.0", "latest", "1.2"]
            .map(String::from)
            .to_vec();
        assert_eq!(chart_versions(&tags), ["1.0.0", "1.1.0+build.2"]);
        let found = Found {
            url: OciUrl::parse("oci://r.io/charts/app", false).unwrap(),
            version: "1.1.0+build.2".into(),
        };
        assert_eq!(found.tag(), "1.1.0_build.2");
        assert_eq!(found.reference(), "oci://r.io/charts/app:1.1.0_build.2");
    }

    #[test]
    fn the_chart_layer_is_helms_media_type_else_the_legacy_one() {
        let layers = [
            layer("application/vnd.cncf.helm.chart.provenance.v1.prov"),
            layer(LEGACY_CHART_LAYER_MEDIA_TYPE),
            layer(CHART_LAYER_MEDIA_TYPE),
        ];
        assert_eq!(
            chart_layer(&layers).unwrap().media_type,
            CHART_LAYER_MEDIA_TYPE
        );
        assert_eq!(
            chart_layer(&layers[..2]).unwrap().media_type,
            LEGACY_CHART_LAYER_MEDIA_TYPE
        );
        assert!(chart_layer(&layers[..1]).is_none());
    }

    #[test]
    fn logins_come_from_a_docker_config_or_username_and_password() {
        let bytes = |s: &str| k8s_openapi::ByteString(s.as_bytes().to_vec());
        let mut data = SecretData::new();
        data.insert(
            ".dockerconfigjson".into(),
            bytes(r#"{"auths":{"r.io:5000":{"username":"u","password":"p"}}}"#),
        );
        let c = login_from(&data, "r.io:5000").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
        assert!(
            login_from(&data, "other.io")
                .unwrap_err()
                .contains("other.io")
        );
        let mut data = SecretData::new();
        data.insert("username".into(), bytes("u"));
        assert!(login_from(&data, "r.io").is_err());
        data.insert("password".into(), bytes("p"));
        assert_eq!(login_from(&data, "r.io").unwrap().password, "p");
        assert_eq!(
            registry_host("oci://r.io:5000/a/b").as_deref(),
            Some("r.io:5000")
        );
        assert_eq!(registry_host("oci://r.io").as_deref(), Some("r.io"));
        assert_eq!(registry_host("https://r.io"), None);
    }
}
