//! Receivers: webhooks that make Flux objects reconcile at once.
//!
//! The reconciler gives each Receiver its path, `/hook/` followed by the
//! sha256 of its token, name and namespace, as Flux does, in
//! `status.webhookPath`. The server on `--receiver-addr` authenticates a call
//! by the Receiver's type (`generic`: the secret path alone; `generic-hmac`:
//! `X-Signature: sha256=<hex>`; `github`: `X-Hub-Signature-256`, the
//! `events` filter on `X-GitHub-Event`, `ping` answered; `gitlab`:
//! `X-Gitlab-Token`), comparing in constant time, then annotates every
//! listed resource with `reconcile.fluxcd.io/requestedAt`. A bad signature
//! gets 401 and an unknown path 404; nothing is annotated then. With
//! `--no-cross-namespace-refs`, a Receiver listing a resource in another
//! namespace is stalled (`AccessDenied`) and its hook answers 403.
//! Cheap checks come first: a path called more than [`CALLS_PER_SECOND`]
//! times a second answers 429, and a call without its type's signature or
//! token header answers 401, both before the token Secret is read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ferroflux_api::meta::RECONCILE_REQUEST_ANNOTATION;
use ferroflux_api::notification::{Receiver, ReceiverSpec, ReceiverStatus};
use ferroflux_notify::signature;
use ferroflux_runtime::controller::Reconciler;
use ferroflux_runtime::error::{Outcome, ReconcileError};
use ferroflux_runtime::scrub::Scrubbed;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt as _};
use sha2_hmac::{Digest as _, Sha256};

/// The Receiver types this controller authenticates.
pub const SUPPORTED: [&str; 4] = ["generic", "generic-hmac", "github", "gitlab"];

/// `/hook/<sha256(token + name + namespace)>`, Flux's path.
#[must_use]
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    let hex: String = digest.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    format!("/hook/{hex}")
}

/// The token of a Receiver's Secret (key `token`).
async fn token(client: &Client, receiver: &Receiver) -> Result<String, String> {
    let ns = receiver.namespace().unwrap_or_default();
    let name = receiver
        .spec
        .secret_ref
        .as_ref()
        .map(|r| r.name.clone())
        .ok_or("spec.secretRef is required")?;
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get_opt(&name)
        .await
        .map_err(|e| format!("reading Secret {ns}/{name}: {e}"))?
        .ok_or_else(|| format!("Secret {ns}/{name} not found"))?;
    let token = secret
        .data
        .unwrap_or_default()
        .get("token")
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("Secret {ns}/{name} has no token key"))?;
    Ok(token)
}

/// The first resource `spec` lists in another namespace than `own`, as
/// `Kind/namespace/name`; `None` when all are in `own`.
fn cross_namespace_resource(spec: &ReceiverSpec, own: &str) -> Option<String> {
    spec.resources.iter().find_map(|resource| {
        let r = &resource.reference;
        // An empty namespace means the Receiver's own, as in Flux.
        r.namespace
            .as_deref()
            .filter(|ns| !ns.is_empty() && *ns != own)
            .map(|ns| format!("{}/{ns}/{}", r.kind, r.name))
    })
}

/// The CEL filter fields a Receiver sets, which this controller cannot
/// evaluate; `None` when it sets none.
fn unsupported_filters(spec: &ReceiverSpec) -> Option<String> {
    let mut fields = Vec::new();
    if spec.resource_filter.as_ref().is_some_and(|f| !f.is_empty()) {
        fields.push("spec.resourceFilter".to_owned());
    }
    for (i, r) in spec.resources.iter().enumerate() {
        if r.filter.as_ref().is_some_and(|f| !f.is_empty()) {
            fields.push(format!("spec.resources[{i}].filter"));
        }
    }
    (!fields.is_empty()).then(|| fields.join(", "))
}

/// Gives Receivers their webhook path.
pub struct ReceiverReconciler {
    client: Client,
    cross_namespace: bool,
}

impl ReceiverReconciler {
    /// A reconciler reading tokens with `client`; with `cross_namespace`
    /// false, Receivers may only list resources in their own namespace.
    #[must_use]
    pub fn new(client: Client, cross_namespace: bool) -> Self {
        Self {
            client,
            cross_namespace,
        }
    }
}

impl Reconciler<Receiver> for ReceiverReconciler {
    async fn reconcile(
        &self,
        obj: Arc<Receiver>,
        status: &mut ReceiverStatus,
    ) -> Result<Outcome, ReconcileError> {
        if !SUPPORTED.contains(&obj.spec.r#type.as_str()) {
            return Err(ReconcileError::stalled(
                "UnsupportedConfiguration",
                Scrubbed::new(&format!(
                    "receiver type '{}' is not supported yet; supported: {}",
                    obj.spec.r#type,
                    SUPPORTED.join(", ")
                )),
            ));
        }
        if let Some(fields) = unsupported_filters(&obj.spec) {
            // Annotating every listed object when a filter says to pick
            // some would trigger more than the user allowed: refuse.
            return Err(ReconcileError::stalled(
                "UnsupportedConfiguration",
                Scrubbed::new(&format!(
                    "{fields} (CEL) are not supported yet; remove them"
                )),
            ));
        }
        let own = obj.namespace().unwrap_or_default();
        if let Some(other) =
            cross_namespace_resource(&obj.spec, &own).filter(|_| !self.cross_namespace)
        {
            return Err(ReconcileError::stalled(
                "AccessDenied",
                Scrubbed::new(&format!(
                    "cross-namespace references are not allowed (--no-cross-namespace-refs): \
                     {other} is not in {own}"
                )),
            ));
        }
        let token = token(&self.client, &obj)
            .await
            .map_err(|e| ReconcileError::transient("TokenNotFound", Scrubbed::new(&e)))?;
        status.webhook_path = Some(webhook_path(
            &token,
            &obj.name_any(),
            &obj.namespace().unwrap_or_default(),
        ));
        Ok(Outcome::CONTINUE)
    }

    async fn finalize(&self, _obj: Arc<Receiver>) -> Result<(), ReconcileError> {
        Ok(())
    }

    fn ready_message(&self, status: &ReceiverStatus) -> String {
        format!(
            "Receiver initialized for path: {}",
            status.webhook_path.as_deref().unwrap_or_default()
        )
    }
}

#[derive(Clone)]
struct Hooks {
    client: Client,
    receivers: Store<Receiver>,
    cross_namespace: bool,
    calls: Arc<Mutex<Calls>>,
}

/// Calls per webhook path in the current one-second window.
#[derive(Default)]
struct Calls {
    window: Option<std::time::Instant>,
    by_path: HashMap<String, u32>,
}

/// Calls a webhook path may take per second; more answer 429 before any
/// lookup or Secret read. Git hosts send a handful per push.
pub const CALLS_PER_SECOND: u32 = 20;

impl Calls {
    /// Counts a call to `path`; `false` once the path is over its rate.
    fn admit(&mut self, path: &str) -> bool {
        let now = std::time::Instant::now();
        if self
            .window
            .is_none_or(|start| now.duration_since(start) >= std::time::Duration::from_secs(1))
        {
            self.window = Some(now);
            self.by_path.clear();
        }
        // Bounded: a flood of random paths is cleared with the window, and
        // capped within it.
        if self.by_path.len() >= 4096 && !self.by_path.contains_key(path) {
            return false;
        }
        let count = self.by_path.entry(path.to_owned()).or_default();
        *count += 1;
        *count <= CALLS_PER_SECOND
    }
}

/// The webhook server's routes; with `cross_namespace` false, a Receiver
/// listing a resource in another namespace annotates nothing.
pub fn router(client: Client, receivers: Store<Receiver>, cross_namespace: bool) -> axum::Router {
    axum::Router::new()
        .route("/hook/{digest}", post(hook))
        .with_state(Hooks {
            client,
            receivers,
            cross_namespace,
            calls: Arc::default(),
        })
}

/// The header carrying a Receiver type's signature or token; `None` for
/// `generic`, which the secret path alone authenticates.
fn credential_header(receiver_type: &str) -> Option<&'static str> {
    match receiver_type {
        "generic-hmac" => Some("x-signature"),
        "github" => Some("x-hub-signature-256"),
        "gitlab" => Some("x-gitlab-token"),
        _ => None,
    }
}

/// Whether `credential` (the value of [`credential_header`]) authenticates
/// `body` for a Receiver of `receiver_type` with `token`.
fn authenticated(receiver_type: &str, credential: Option<&str>, token: &str, body: &[u8]) -> bool {
    match receiver_type {
        "generic" => true,
        "generic-hmac" | "github" => signature::matches(credential, token, body),
        "gitlab" => {
            credential.is_some_and(|t| signature::constant_time_eq(t.as_bytes(), token.as_bytes()))
        }
        _ => false,
    }
}

async fn hook(
    State(hooks): State<Hooks>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let path = format!("/hook/{digest}");
    // The cheap checks first: the rate, then the lookup (without copying
    // the store), then the headers; the token Secret is read last.
    let admitted = hooks
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .admit(&path);
    if !admitted {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("more than {CALLS_PER_SECOND} calls a second to this path"),
        );
    }
    let Some(receiver) = hooks
        .receivers
        .find(|r| r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(&path))
    else {
        return (StatusCode::NOT_FOUND, "no receiver at this path".into());
    };
    if receiver.spec.suspend {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the receiver is suspended".into(),
        );
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let credential = credential_header(&receiver.spec.r#type).map(header);
    if credential == Some(None) {
        return (
            StatusCode::UNAUTHORIZED,
            "the signature or token does not match".into(),
        );
    }
    let Ok(token) = token(&hooks.client, &receiver).await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the receiver's token cannot be read".into(),
        );
    };
    if !authenticated(&receiver.spec.r#type, credential.flatten(), &token, &body) {
        return (
            StatusCode::UNAUTHORIZED,
            "the signature or token does not match".into(),
        );
    }
    let own = receiver.namespace().unwrap_or_default();
    if let Some(other) =
        cross_namespace_resource(&receiver.spec, &own).filter(|_| !hooks.cross_namespace)
    {
        return (
            StatusCode::FORBIDDEN,
            format!(
                "{other} is in another namespace (--no-cross-namespace-refs); nothing was annotated"
            ),
        );
    }
    if let Some(fields) = unsupported_filters(&receiver.spec) {
        return (
            StatusCode::NOT_IMPLEMENTED,
            format!("{fields} (CEL) are not supported; nothing was annotated"),
        );
    }
    let event_header = match receiver.spec.r#type.as_str() {
        "github" => Some("x-github-event"),
        "gitlab" => Some("x-gitlab-event"),
        _ => None,
    };
    if let Some(name) = event_header {
        let event = header(name).unwrap_or_default();
        if name == "x-github-event" && event == "ping" {
            return (StatusCode::OK, "pong".into());
        }
        if !receiver.spec.events.is_empty() && !receiver.spec.events.iter().any(|e| e == event) {
            return (
                StatusCode::OK,
                format!("event '{event}' is not in spec.events; ignored"),
            );
        }
    }
    match annotate(&hooks.client, &receiver).await {
        Ok(count) => (
            StatusCode::OK,
            format!("{count} resources asked to reconcile"),
        ),
        Err(e) => {
            tracing::warn!(receiver = %receiver.name_any(), error = %e, "annotating the resources failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e)
        }
    }
}

/// The API version of a Flux kind when a resource does not say.
fn default_api_version(kind: &str) -> &'static str {
    match kind {
        "Kustomization" => "kustomize.toolkit.fluxcd.io/v1",
        "HelmRelease" => "helm.toolkit.fluxcd.io/v2",
        "ImageRepository" | "ImagePolicy" | "ImageUpdateAutomation" => {
            "image.toolkit.fluxcd.io/v1beta2"
        }
        _ => "source.toolkit.fluxcd.io/v1",
    }
}

/// Sets `reconcile.fluxcd.io/requestedAt` on every resource the Receiver
/// lists (a name, or `*` with `matchLabels`).
async fn annotate(client: &Client, receiver: &Receiver) -> Result<usize, String> {
    let own_ns = receiver.namespace().unwrap_or_default();
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch =
        serde_json::json!({"metadata": {"annotations": {RECONCILE_REQUEST_ANNOTATION: now}}});
    let mut count = 0;
    for resource in &receiver.spec.resources {
        let r = &resource.reference;
        let api_version = r
            .api_version
            .clone()
            .unwrap_or_else(|| default_api_version(&r.kind).to_owned());
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &r.kind));
        let ns = r
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| own_ns.clone());
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
        let names: Vec<String> = if r.name == "*" {
            let mut params = ListParams::default();
            let selector: Vec<String> = r
                .match_labels
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !selector.is_empty() {
                params = params.labels(&selector.join(","));
            }
            api.list(&params)
                .await
                .map_err(|e| format!("listing {} in {ns}: {e}", r.kind))?
                .items
                .iter()
                .map(kube::ResourceExt::name_any)
                .collect()
        } else {
            vec![r.name.clone()]
        };
        for name in names {
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| format!("annotating {}/{ns}/{name}: {e}", r.kind))?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::{CALLS_PER_SECOND, Calls, webhook_path};

    /// Issue 15 (low): every call read the token Secret before anything
    /// else; a flood of calls to one path is now refused first.
    #[test]
    fn a_path_is_admitted_at_most_its_rate_per_second() {
        let mut calls = Calls::default();
        for _ in 0..CALLS_PER_SECOND {
            assert!(calls.admit("/hook/a"));
        }
        assert!(!calls.admit("/hook/a"));
        assert!(calls.admit("/hook/b"), "another path has its own rate");
    }

    #[test]
    fn cel_filters_are_named_not_ignored() {
        let spec: super::ReceiverSpec = serde_json::from_value(serde_json::json!({
            "type": "generic", "secretRef": {"name": "t"},
            "resources": [{"kind": "GitRepository", "name": "a"},
                          {"kind": "GitRepository", "name": "*", "filter": "res.metadata.name == 'b'"}]}))
        .unwrap();
        assert_eq!(
            super::unsupported_filters(&spec).as_deref(),
            Some("spec.resources[1].filter")
        );
        let plain = super::ReceiverSpec {
            resources: spec.resources[..1].to_vec(),
            ..spec
        };
        assert_eq!(super::unsupported_filters(&plain), None);
    }

    #[test]
    fn only_another_namespace_is_cross_namespace() {
        let spec: super::ReceiverSpec = serde_json::from_value(serde_json::json!({
            "type": "generic", "secretRef": {"name": "t"},
            "resources": [{"kind": "GitRepository", "name": "a"},
                          {"kind": "GitRepository", "name": "b", "namespace": ""},
                          {"kind": "GitRepository", "name": "c", "namespace": "apps"}]}))
        .unwrap();
        assert_eq!(super::cross_namespace_resource(&spec, "apps"), None);
        assert_eq!(
            super::cross_namespace_resource(&spec, "team").as_deref(),
            Some("GitRepository/apps/c")
        );
    }

    #[test]
    fn paths_are_derived_as_flux_does() {
        let path = webhook_path("token", "app", "flux-system");
        assert!(path.starts_with("/hook/") && path.len() == 6 + 64, "{path}");
        assert_ne!(path, webhook_path("token2", "app", "flux-system"));
    }
}
