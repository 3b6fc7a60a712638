//! What a Provider sends: the request for an event, by provider type, in
//! the format Flux's notification-controller uses.
//!
//! Implemented: `generic` (the event as JSON), `generic-hmac` (the same,
//! signed in `X-Signature`), `slack` (one attachment: the object, the
//! message, the metadata as fields, coloured by severity). Other types are
//! refused by name.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ferroflux_api::event::Event;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};

/// Where and how to deliver, from the Provider and its Secret.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `spec.type`.
    pub provider_type: String,
    /// The URL (the Secret's `address` wins over `spec.address`).
    pub address: String,
    /// The Secret's `token`.
    pub token: Option<String>,
    /// `spec.channel`.
    pub channel: Option<String>,
    /// `spec.username`.
    pub username: Option<String>,
    /// The Secret's `headers`.
    pub headers: BTreeMap<String, String>,
}

/// A request ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Where to.
    pub url: String,
    /// Extra headers, besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The provider types this controller delivers to.
pub const SUPPORTED: [&str; 3] = ["generic", "generic-hmac", "slack"];

/// The request delivering `event` to `target`.
///
/// # Errors
/// A message for an unsupported type or a `generic-hmac` Provider without
/// a token.
pub fn request(target: &Target, event: &Event) -> Result<Request, String> {
    let mut headers: Vec<(String, String)> = target
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let body = match target.provider_type.as_str() {
        "generic" => serde_json::to_vec(event).map_err(|e| e.to_string())?,
        "generic-hmac" => {
            let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
            let token = target
                .token
                .as_deref()
                .filter(|t| !t.is_empty())
                .ok_or("a generic-hmac Provider needs a token in its Secret")?;
            headers.push((
                "X-Signature".into(),
                format!("sha256={}", sign(token, &body)),
            ));
            body
        }
        "slack" => serde_json::to_vec(&slack(target, event)).map_err(|e| e.to_string())?,
        other => {
            return Err(format!(
                "provider type '{other}' is not supported yet; supported: {}",
                SUPPORTED.join(", ")
            ));
        }
    };
    Ok(Request {
        url: target.address.clone(),
        headers,
        body,
    })
}

/// Hex HMAC-SHA256 of `body` keyed with `token`.
#[must_use]
pub fn sign(token: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<sha2_hmac::Sha256>::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let mut hex = String::with_capacity(64);
    for b in mac.finalize().into_bytes() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Slack's payload: one attachment, `good` or `danger`, authored by
/// `kind/name.namespace`, the metadata as fields (sorted by key).
fn slack(target: &Target, event: &Event) -> Value {
    let object = &event.involved_object;
    let color = if event.severity == "error" {
        "danger"
    } else {
        "good"
    };
    let fields: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect();
    let mut payload = json!({
        "attachments": [{
            "color": color,
            "author_name": format!(
                "{}/{}.{}",
                object.kind.as_deref().unwrap_or_default().to_lowercase(),
                object.name.as_deref().unwrap_or_default(),
                object.namespace.as_deref().unwrap_or_default()
            ),
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }]
    });
    if let Some(username) = target.username.as_deref().filter(|u| !u.is_empty()) {
        payload["username"] = json!(username);
    }
    if let Some(channel) = target.channel.as_deref().filter(|c| !c.is_empty()) {
        payload["channel"] = json!(channel);
    }
    payload
}

#[cfg(test)]
mod tests {
    use ferroflux_api::event::Event;
    use serde_json::json;

    use super::{Target, request, sign};

    fn event(severity: &str) -> Event {
        serde_json::from_value(json!({
            "involvedObject": {"kind": "Kustomization", "name": "app", "namespace": "apps"},
            "severity": severity, "timestamp": "2026-11-23T10:00:00Z",
            "message": "Applied revision: main@sha1:abc", "reason": "ReconciliationSucceeded",
            "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc", "env": "prod"},
            "reportingController": "kustomize-controller"}))
        .unwrap()
    }

    #[test]
    fn slack_gets_one_coloured_attachment() {
        let target = Target {
            provider_type: "slack".into(),
            address: "https://hooks.slack.com/services/x".into(),
            channel: Some("ops".into()),
            username: Some("flux".into()),
            ..Target::default()
        };
        let req = request(&target, &event("error")).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            body,
            json!({"username": "flux", "channel": "ops", "attachments": [{
                "color": "danger", "author_name": "kustomization/app.apps",
                "text": "Applied revision: main@sha1:abc", "mrkdwn_in": ["text"],
                "fields": [
                    {"title": "env", "value": "prod", "short": false},
                    {"title": "kustomize.toolkit.fluxcd.io/revision", "value": "main@sha1:abc", "short": false}]}]})
        );
    }

    #[test]
    fn generic_hmac_signs_the_exact_body() {
        let target = Target {
            provider_type: "generic-hmac".into(),
            address: "http://sink/".into(),
            token: Some("key".into()),
            ..Target::default()
        };
        let req = request(&target, &event("info")).unwrap();
        let signature = &req
            .headers
            .iter()
            .find(|(k, _)| k == "X-Signature")
            .unwrap()
            .1;
        assert_eq!(signature, &format!("sha256={}", sign("key", &req.body)));
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let unsigned = Target {
            token: None,
            ..target
        };
        assert!(
            request(&unsigned, &event("info"))
                .unwrap_err()
                .contains("token")
        );
        let other = Target {
            provider_type: "msteams".into(),
            ..Target::default()
        };
        assert!(
            request(&other, &event("info"))
                .unwrap_err()
                .contains("'msteams' is not supported")
        );
    }
}
