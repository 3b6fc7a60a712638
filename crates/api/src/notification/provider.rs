//! `Provider` (`notification.toolkit.fluxcd.io/v1beta3`): where and how events
//! are delivered, such as a chat channel, a webhook or a Git commit status.
//!
//! A `v1beta3` Provider is a static object: it has no status.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::meta::{DURATION_PATTERN, LocalObjectReference, TIMEOUT_PATTERN, is_false};

/// The desired state of a Provider.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    plural = "providers",
    namespaced,
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    doc = "A destination that events are delivered to, and how to reach it."
)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSpec {
    /// The kind of service events are sent to.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = [
        "slack",
        "discord",
        "msteams",
        "rocket",
        "generic",
        "generic-hmac",
        "github",
        "gitlab",
        "gitea",
        "bitbucketserver",
        "bitbucket",
        "azuredevops",
        "googlechat",
        "googlepubsub",
        "webex",
        "sentry",
        "azureeventhub",
        "telegram",
        "lark",
        "matrix",
        "opsgenie",
        "alertmanager",
        "grafana",
        "githubdispatch",
        "githubpullrequestcomment",
        "gitlabmergerequestcomment",
        "giteapullrequestcomment",
        "pagerduty",
        "datadog",
        "nats",
        "zulip",
        "otel"
    ]))]
    pub r#type: String,
    /// Deprecated and ignored in `v1beta3`; kept so older manifests still apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub interval: Option<GoDuration>,
    /// Channel, room or topic the events are posted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// Name the events are posted as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
    /// Where events are sent; a URL, a project ID or similar depending on `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// Timeout for delivering one event; 15s when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(TIMEOUT_PATTERN))]
    pub timeout: Option<GoDuration>,
    /// HTTP/S proxy address; deprecated in favour of `proxySecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^(http|https)://.*$"), length(max = 2048))]
    pub proxy: Option<String>,
    /// Secret with the proxy `address` and optional `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with the credentials (token, address, headers, ...) for the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount whose workload identity authenticates to a cloud service
    /// (`azureeventhub`, `azuredevops`, `googlepubsub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS material: `ca.crt`, and `tls.crt` with `tls.key` for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Stops delivering events through this Provider while `true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// CEL expression producing the commit status text, for the Git hosting
    /// types (`github`, `gitlab`, `gitea`, `bitbucketserver`, `bitbucket`, `azuredevops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
}
