//! Helm's built-in objects that are Go structs rather than maps: `.Capabilities` with its
//! `KubeVersion`, `APIVersions` (a `VersionSet` with the `Has` method) and `HelmVersion`, as
//! `helm template` v4.1.4 fills them when no cluster is reachable.

use std::rc::Rc;

use crate::template::{Arity, FuncError, List, ListType, Object, Value, format_v};

/// The API versions `helm template` v4.1.4 assumes, in its order.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `.Capabilities` as `helm template` v4.1.4 sets it by default: Kubernetes v1.35.0, the
/// default API versions, Helm's own build information.
#[must_use]
pub fn default_capabilities() -> Value {
    capabilities(&KubeVersion::new("v1.35.0", "1", "35"), &[])
}

/// `.Capabilities` for the Kubernetes version `kube` with the default API versions plus
/// `extra_api_versions` (`helm template -a`), in that order.
#[must_use]
pub fn capabilities(kube: &KubeVersion, extra_api_versions: &[String]) -> Value {
    let mut versions: Vec<String> = DEFAULT_API_VERSIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    versions.extend(extra_api_versions.iter().cloned());
    cluster_capabilities(kube, versions)
}

/// `.Capabilities` of a live cluster, as an install or upgrade sets it: the cluster's version
/// and exactly the API versions it serves (`group/version` and `group/version/Kind`, as Helm's
/// discovery lists them), without the defaults.
#[must_use]
pub fn cluster_capabilities(kube: &KubeVersion, versions: Vec<String>) -> Value {
    Value::Object(Rc::new(Capabilities {
        kube_version: Value::Object(Rc::new(kube.clone())),
        api_versions: Value::Object(Rc::new(VersionSet(versions))),
        helm_version: Value::Object(Rc::new(BuildInfo)),
    }))
}

/// `*common.Capabilities`.
struct Capabilities {
    kube_version: Value,
    api_versions: Value,
    helm_version: Value,
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".to_owned()
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(self.kube_version.clone()),
            "APIVersions" => Some(self.api_versions.clone()),
            "HelmVersion" => Some(self.helm_version.clone()),
            _ => None,
        }
    }

    fn format(&self) -> String {
        format!("&{}", self.format_action())
    }

    fn format_action(&self) -> String {
        format!(
            "{{{} {} {}}}",
            format_v(&self.kube_version),
            format_v(&self.api_versions),
            format_v(&self.helm_version)
        )
    }
}

/// `common.KubeVersion`: printed by an action through its `String()` method (`v1.35.0`), by
/// `printf "%v"` as a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    version: String,
    major: String,
    minor: String,
}

impl KubeVersion {
    /// A version as Helm keeps it: the text (with its `v`), the major and minor parts.
    #[must_use]
    pub fn new(version: &str, major: &str, minor: &str) -> KubeVersion {
        KubeVersion {
            version: version.to_owned(),
            major: major.to_owned(),
            minor: minor.to_owned(),
        }
    }
}

impl KubeVersion {
    /// Parses `--kube-version` as Helm does: a semantic version with an optional `v`, kept as
    /// written (with a `v` added) for printing; `None` when it is not a version.
    #[must_use]
    pub fn parse(text: &str) -> Option<KubeVersion> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let mut parts = bare.split(['.', '-', '+']);
        let major = parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
        let minor = parts.next().unwrap_or("0");
        if !minor.bytes().all(|b| b.is_ascii_digit()) || !crate::funcs::semver::is_version(bare) {
            return None;
        }
        let trim = |s: &str| s.trim_start_matches('0').to_owned();
        let (major, minor) = (trim(major), trim(minor));
        Some(KubeVersion::new(
            &format!("v{bare}"),
            if major.is_empty() { "0" } else { &major },
            if minor.is_empty() { "0" } else { &minor },
        ))
    }

    /// The version as written, with its `v`.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".to_owned()
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" | "GitVersion" => Some(Value::str(&self.version)),
            "Major" => Some(Value::str(&self.major)),
            "Minor" => Some(Value::str(&self.minor)),
            _ => None,
        }
    }

    fn method_arity(&self, name: &str) -> Option<Arity> {
        (name == "String").then_some(Arity::Exact(0))
    }

    fn call_method(&self, _name: &str, _args: &[Value]) -> Result<Value, FuncError> {
        Ok(Value::str(&self.version))
    }

    fn format(&self) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.version, self.version, self.major, self.minor
        )
    }

    fn format_action(&self) -> String {
        self.version.clone()
    }
}

/// `common.VersionSet`: a `[]string` with the method `Has`.
struct VersionSet(Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "common.VersionSet".to_owned()
    }

    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    fn method_arity(&self, name: &str) -> Option<Arity> {
        (name == "Has").then_some(Arity::Exact(1))
    }

    fn call_method(&self, _name: &str, args: &[Value]) -> Result<Value, FuncError> {
        match args.first() {
            Some(Value::String(s)) => Ok(Value::Bool(self.0.iter().any(|v| v == s.as_ref()))),
            other => Err(FuncError::ArgType {
                index: 0,
                expected: "string".to_owned(),
                got: other.map_or_else(|| "interface {}".to_owned(), Value::type_name),
            }),
        }
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::List(List::typed(
            self.0.iter().map(|s| Value::str(s)).collect(),
            ListType::String,
        )))
    }

    fn format(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
}

/// Helm's `version.BuildInfo` for v4.1.4.
struct BuildInfo;

const BUILD_INFO: [(&str, &str); 5] = [
    ("Version", "v4.1.4"),
    ("GitCommit", "05fa37973dc9e42b76e1d2883494c87174b6074f"),
    ("GitTreeState", "clean"),
    ("GoVersion", "go1.25.9"),
    ("KubeClientVersion", "v1.35"),
];

impl Object for BuildInfo {
    fn type_name(&self) -> String {
        "version.BuildInfo".to_owned()
    }

    fn field(&self, name: &str) -> Option<Value> {
        BUILD_INFO
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| Value::str(v))
    }

    fn format(&self) -> String {
        let values: Vec<&str> = BUILD_INFO.iter().map(|(_, v)| *v).collect();
        format!("{{{}}}", values.join(" "))
    }
}
