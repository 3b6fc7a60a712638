//! The sample app (`e2e/sample-app`: a base and a production overlay, and
//! a Helm chart) and the Flux objects that deliver it, as a team would
//! write them.

use ferroflux_testenv::git::BasicAuth;
use serde_json::{Value, json};

/// The sample app's files as committed to its repository: (path, contents).
pub const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../sample-app/README.md")),
    (
        "apps/hello/base/kustomization.yaml",
        include_str!("../sample-app/apps/hello/base/kustomization.yaml"),
    ),
    (
        "apps/hello/base/configmap.yaml",
        include_str!("../sample-app/apps/hello/base/configmap.yaml"),
    ),
    (
        "apps/hello/base/deployment.yaml",
        include_str!("../sample-app/apps/hello/base/deployment.yaml"),
    ),
    (
        "apps/hello/base/service.yaml",
        include_str!("../sample-app/apps/hello/base/service.yaml"),
    ),
    (
        "apps/hello/production/kustomization.yaml",
        include_str!("../sample-app/apps/hello/production/kustomization.yaml"),
    ),
    (
        "apps/hello/production/replicas.yaml",
        include_str!("../sample-app/apps/hello/production/replicas.yaml"),
    ),
    (
        "apps/hello/production/config.yaml",
        include_str!("../sample-app/apps/hello/production/config.yaml"),
    ),
    (
        "charts/greeter/Chart.yaml",
        include_str!("../sample-app/charts/greeter/Chart.yaml"),
    ),
    (
        "charts/greeter/values.yaml",
        include_str!("../sample-app/charts/greeter/values.yaml"),
    ),
    (
        "charts/greeter/templates/configmap.yaml",
        include_str!("../sample-app/charts/greeter/templates/configmap.yaml"),
    ),
    (
        "charts/greeter/templates/service.yaml",
        include_str!("../sample-app/charts/greeter/templates/service.yaml"),
    ),
    (
        "charts/greeter/templates/NOTES.txt",
        include_str!("../sample-app/charts/greeter/templates/NOTES.txt"),
    ),
];

/// The name of the repository and of every Flux object delivering it.
pub const NAME: &str = "hello";

/// The overlay the Kustomization applies.
pub const PATH: &str = "./apps/hello/production";

/// The Helm chart's path in the repository (`spec.chart.spec.chart`).
pub const CHART_PATH: &str = "./charts/greeter";

/// The HelmRelease's name and its Helm release's name (`spec.releaseName`).
pub const RELEASE: &str = "greeter";

/// The ConfigMap the chart renders, holding the greeting and the release's
/// revision.
pub const RELEASE_CONFIGMAP: &str = "greeter-greeting";

/// The Provider the Alert sends to.
pub const PROVIDER: &str = "webhook-sink";

/// The Secret holding the Receiver's token.
pub const TOKEN_SECRET: &str = "webhook-token";

/// The Secret holding the git server's credentials, when it demands some.
pub const GIT_SECRET: &str = "git-auth";

/// The contents of `file` (one of [`FILES`]).
///
/// # Panics
/// When `file` is not one of the sample's files.
#[must_use]
pub fn file(file: &str) -> &'static str {
    FILES.iter().find(|(path, _)| *path == file).map_or_else(
        || panic!("{file} is not a file of the sample app"),
        |(_, contents)| *contents,
    )
}

/// Where the Flux objects live and how often they reconcile on their own.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The namespace of the Flux objects.
    pub namespace: String,
    /// The namespace the app is applied to (`spec.targetNamespace`).
    pub target_namespace: String,
    /// The GitRepository's URL.
    pub url: String,
    /// The GitRepository's `spec.interval`.
    pub source_interval: &'static str,
    /// The Kustomization's `spec.interval`: how soon drift is reverted.
    pub kustomization_interval: &'static str,
    /// Where the Provider posts alerts.
    pub alert_address: String,
    /// The Receiver's token.
    pub token: String,
    /// The git server's username and password, when it demands them: the
    /// GitRepository then names a Secret [`GIT_SECRET`] holding them.
    pub git_auth: Option<BasicAuth>,
}

impl Delivery {
    /// The objects, in the order they are applied: the Provider, the
    /// Alert, the token Secret, the Receiver, the git credentials' Secret
    /// (with [`Delivery::git_auth`]), the GitRepository and the
    /// Kustomization. Alerting comes first: the notification-controller
    /// drops events no Alert it knows of matches, and the first fetch's
    /// events follow the GitRepository's creation closely.
    #[must_use]
    pub fn objects(&self) -> Vec<Value> {
        let ns = &self.namespace;
        let meta = |name: &str| json!({"name": name, "namespace": ns});
        let mut source = json!({"interval": self.source_interval, "url": self.url,
                                "ref": {"branch": "main"}});
        let git_secret = self.git_auth.as_ref().map(|auth| {
            source["secretRef"] = json!({"name": GIT_SECRET});
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(GIT_SECRET),
                "stringData": {"username": auth.username, "password": auth.password}})
        });
        let mut objects = vec![
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
                "metadata": meta(PROVIDER),
                "spec": {"type": "generic", "address": self.alert_address}}),
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                "metadata": meta(NAME),
                "spec": {"providerRef": {"name": PROVIDER}, "eventSeverity": "info",
                         "eventSources": [{"kind": "GitRepository", "name": "*"},
                                          {"kind": "Kustomization", "name": "*"},
                                          {"kind": "HelmRelease", "name": "*"}]}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(TOKEN_SECRET),
                "stringData": {"token": self.token}}),
            json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
                "metadata": meta(NAME),
                "spec": {"type": "generic", "secretRef": {"name": TOKEN_SECRET},
                         "resources": [{"kind": "GitRepository", "name": NAME}]}}),
        ];
        objects.extend(git_secret);
        objects.extend([
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": meta(NAME), "spec": source}),
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": meta(NAME),
                "spec": {"interval": self.kustomization_interval, "path": PATH, "prune": true,
                         "timeout": "1m", "targetNamespace": self.target_namespace,
                         "sourceRef": {"kind": "GitRepository", "name": NAME}}}),
        ]);
        objects
    }

    /// The HelmRelease installing the sample chart ([`CHART_PATH`], from
    /// the GitRepository [`NAME`] through a HelmChart the helm-controller
    /// creates) into the target namespace as release [`RELEASE`], with
    /// `values`; applying it again with other values upgrades the release.
    #[must_use]
    pub fn helm_release(&self, values: &Value) -> Value {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": RELEASE, "namespace": self.namespace},
            "spec": {"interval": self.kustomization_interval, "releaseName": RELEASE,
                     "targetNamespace": self.target_namespace, "timeout": "1m",
                     "chart": {"spec": {"chart": CHART_PATH, "interval": self.source_interval,
                                        "sourceRef": {"kind": "GitRepository", "name": NAME}}},
                     "values": values}})
    }
}
