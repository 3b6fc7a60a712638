//! The kinds the CLI works with, by the names users type
//! (`source git`, `source external`, `kustomization`, `helmrelease`, `artifact generator`,
//! `alert-provider`, ...), and the
//! `Kind/name.namespace` references flags take.

use ferroflux_api::extensions::ArtifactGenerator;
use ferroflux_api::helm::HelmRelease;
use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::notification::{Alert, Provider, Receiver};
use ferroflux_api::source::{
    Bucket, ExternalArtifact, GitRepository, HelmChart, HelmRepository, OCIRepository,
};
use kube::api::ApiResource;

use crate::error::Error;

/// One kind.
#[derive(Clone, Debug)]
pub struct Kind {
    /// What users type after the verb: `source git`, `kustomization`.
    pub cli: &'static str,
    /// The API's resource (group, version, kind, plural).
    pub resource: ApiResource,
    /// Whether it is a source (its revision is `status.artifact.revision`).
    pub source: bool,
    /// Whether it has a status with a Ready condition (v1beta3 Alerts and
    /// Providers have none).
    pub has_status: bool,
}

impl Kind {
    /// `GitRepository`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.resource.kind
    }
}

fn kind<K: kube::Resource<DynamicType = ()>>(
    cli: &'static str,
    source: bool,
    has_status: bool,
) -> Kind {
    Kind {
        cli,
        resource: ApiResource::erase::<K>(&()),
        source,
        has_status,
    }
}

/// The Git source.
#[must_use]
pub fn git_repository() -> Kind {
    kind::<GitRepository>("source git", true, true)
}

/// The Helm repository source.
#[must_use]
pub fn helm_repository() -> Kind {
    kind::<HelmRepository>("source helm", true, true)
}

/// The Helm chart source.
#[must_use]
pub fn helm_chart() -> Kind {
    kind::<HelmChart>("source chart", true, true)
}

/// The OCI source.
#[must_use]
pub fn oci_repository() -> Kind {
    kind::<OCIRepository>("source oci", true, true)
}

/// ExternalArtifacts: sources written by another controller (an
/// ArtifactGenerator's source-watcher), never reconciled themselves.
#[must_use]
pub fn external_artifact() -> Kind {
    kind::<ExternalArtifact>("source external", true, true)
}

/// ArtifactGenerators (the source-watcher's).
#[must_use]
pub fn artifact_generator() -> Kind {
    kind::<ArtifactGenerator>("artifact generator", false, true)
}

/// Kustomizations.
#[must_use]
pub fn kustomization() -> Kind {
    kind::<Kustomization>("kustomization", false, true)
}

/// HelmReleases.
#[must_use]
pub fn helm_release() -> Kind {
    kind::<HelmRelease>("helmrelease", false, true)
}

/// Alert Providers.
#[must_use]
pub fn provider() -> Kind {
    kind::<Provider>("alert-provider", false, false)
}

/// Alerts.
#[must_use]
pub fn alert() -> Kind {
    kind::<Alert>("alert", false, false)
}

/// Receivers.
#[must_use]
pub fn receiver() -> Kind {
    kind::<Receiver>("receiver", false, true)
}

/// Buckets.
#[must_use]
pub fn bucket() -> Kind {
    kind::<Bucket>("source bucket", true, true)
}

/// Secrets, which `create secret` writes for sources to read credentials
/// from (not a Flux kind: no status, not listed by `get`).
#[must_use]
pub fn secret() -> Kind {
    kind::<k8s_openapi::api::core::v1::Secret>("secret", false, false)
}

/// Every kind, sources first, in the order `get all` lists them.
#[must_use]
pub fn all() -> Vec<Kind> {
    vec![
        git_repository(),
        oci_repository(),
        helm_repository(),
        helm_chart(),
        bucket(),
        external_artifact(),
        artifact_generator(),
        kustomization(),
        helm_release(),
        receiver(),
        provider(),
        alert(),
    ]
}

/// The source kind named by `name`, as typed after `source`
/// (`git`, `oci`, `helm`, `chart`, `bucket`, `external`).
#[must_use]
pub fn source(name: &str) -> Option<Kind> {
    all()
        .into_iter()
        .find(|k| k.source && k.cli.strip_prefix("source ") == Some(name))
}

/// The kind called `name` (`GitRepository`, case-insensitive).
#[must_use]
pub fn by_kind(name: &str) -> Option<Kind> {
    all()
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(name))
}

/// A `Kind/name.namespace` reference as flags take it (`--source`,
/// `--event-source`, `--resource`); the kind and namespace are optional
/// where the flag says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The kind, as written (`GitRepository`).
    pub kind: Option<String>,
    /// The name, or `*`.
    pub name: String,
    /// The namespace.
    pub namespace: Option<String>,
}

/// Parses `[Kind/]name[.namespace]`.
///
/// # Errors
/// [`Error::Usage`] when the name is empty.
pub fn parse_reference(text: &str) -> Result<Reference, Error> {
    let (kind, rest) = match text.split_once('/') {
        Some((kind, rest)) => (Some(kind.to_owned()), rest),
        None => (None, text),
    };
    // As Flux: the namespace follows the last dot (a namespace has none, a
    // name may).
    let (name, namespace) = match rest.rsplit_once('.') {
        Some((name, ns)) => (name, Some(ns.to_owned())),
        None => (rest, None),
    };
    if name.is_empty() || kind.as_deref() == Some("") {
        return Err(Error::Usage(format!(
            "'{text}' is not a reference; write Kind/name or Kind/name.namespace"
        )));
    }
    Ok(Reference {
        kind,
        name: name.to_owned(),
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::{by_kind, parse_reference, source};

    #[test]
    fn kinds_and_references() {
        assert_eq!(source("git").unwrap().name(), "GitRepository");
        assert_eq!(source("bucket").unwrap().resource.plural, "buckets");
        assert!(source("svn").is_none());
        assert_eq!(source("external").unwrap().name(), "ExternalArtifact");
        assert_eq!(
            by_kind("artifactgenerator").unwrap().resource.group,
            "source.extensions.fluxcd.io"
        );
        assert_eq!(
            by_kind("kustomization").unwrap().resource.group,
            "kustomize.toolkit.fluxcd.io"
        );
        let r = parse_reference("GitRepository/app.flux-system").unwrap();
        assert_eq!(
            (r.kind.as_deref(), r.name.as_str(), r.namespace.as_deref()),
            (Some("GitRepository"), "app", Some("flux-system"))
        );
        let r = parse_reference("HelmRepository/charts.v2.flux-system").unwrap();
        assert_eq!(
            (r.name.as_str(), r.namespace.as_deref()),
            ("charts.v2", Some("flux-system"))
        );
        let r = parse_reference("app").unwrap();
        assert_eq!((r.kind, r.namespace), (None, None));
        assert!(parse_reference("GitRepository/").is_err());
        assert!(parse_reference("/app").is_err());
    }
}
