//! What a Provider sends: the request for an event, by provider type, in
//! the format Flux's notification-controller uses.
//!
//! Implemented:
//! - `generic`: the event as JSON, with the `Gotk-Component` header;
//! - `generic-hmac`: the same, signed in `X-Signature`;
//! - `slack`: one attachment (the object, the message, the metadata as
//!   fields, coloured by severity);
//! - `discord`: Slack's payload posted to the webhook's `/slack` endpoint;
//! - `msteams`: an Adaptive Card, or the older `MessageCard` for the retired
//!   `*.webhook.office.com` connectors;
//! - `googlechat`: a card with the message and the metadata;
//! - `github`: a commit status on the revision's commit.
//!
//! Other types are refused by name. Map-valued fields are sent sorted by
//! key, where Flux sends them in Go's random map order.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ferroflux_api::event::{Event, REVISION_KEY, SEVERITY_ERROR};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};

/// Why no request could be made for an event; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Provider's type is not one this controller delivers to.
    #[error("provider type '{provider_type}' is not supported yet; supported: {}", SUPPORTED.join(", "))]
    Unsupported {
        /// `spec.type`.
        provider_type: String,
    },
    /// The type needs a token and the Secret has none.
    #[error(
        "a {provider_type} Provider needs a token: set the token key in the Secret named by spec.secretRef"
    )]
    NoToken {
        /// `spec.type`.
        provider_type: String,
    },
    /// A `github` Provider's address is not a repository URL.
    #[error(
        "the github Provider's address must be a repository URL such as https://github.com/owner/repo, not '{address}'"
    )]
    NotARepository {
        /// The address.
        address: String,
    },
    /// A commit status needs the event's revision.
    #[error("the event has no revision metadata, so there is no commit to report on")]
    NoRevision,
    /// The event's revision names no commit.
    #[error("no commit hash in the revision '{revision}'")]
    NoCommit {
        /// The revision.
        revision: String,
    },
    /// The payload could not be encoded.
    #[error("encoding the payload: {0}")]
    Encode(String),
}

/// Where and how to deliver, from the Provider and its Secret.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `spec.type`.
    pub provider_type: String,
    /// The Provider's UID; part of a commit status's context.
    pub provider_uid: String,
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
pub const SUPPORTED: [&str; 7] = [
    "generic",
    "generic-hmac",
    "slack",
    "discord",
    "msteams",
    "googlechat",
    "github",
];

/// The request delivering `event` to `target`, or `None` when this type
/// has nothing to send for the event (a commit status for a `Progressing`
/// event).
///
/// # Errors
/// [`Error`] for an unsupported type, a missing token (`generic-hmac`,
/// `github`), an address that is not a repository URL (`github`), or an
/// event without a revision (`github`).
pub fn request(target: &Target, event: &Event) -> Result<Option<Request>, Error> {
    let mut headers: Vec<(String, String)> = target
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut url = target.address.clone();
    let json = |value: &Value| serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()));
    let body = match target.provider_type.as_str() {
        "generic" => {
            headers.push(("Gotk-Component".into(), event.reporting_controller.clone()));
            serde_json::to_vec(event).map_err(|e| Error::Encode(e.to_string()))?
        }
        "generic-hmac" => {
            headers.push(("Gotk-Component".into(), event.reporting_controller.clone()));
            let body = serde_json::to_vec(event).map_err(|e| Error::Encode(e.to_string()))?;
            let token = token(target)?;
            headers.push((
                "X-Signature".into(),
                format!("sha256={}", sign(token, &body)),
            ));
            body
        }
        "slack" => json(&slack(
            event,
            target.username.as_deref(),
            target.channel.as_deref(),
        ))?,
        "discord" => {
            if !url.trim_end_matches('/').ends_with("/slack") {
                url = format!("{}/slack", url.trim_end_matches('/'));
            }
            let username = target
                .username
                .as_deref()
                .filter(|u| !u.is_empty())
                .unwrap_or(&event.reporting_controller);
            json(&slack(event, Some(username), None))?
        }
        "msteams" => json(&msteams(&url, event))?,
        "googlechat" => json(&googlechat(event))?,
        "github" => {
            let Some(status) = github_status(target, event)? else {
                return Ok(None);
            };
            url = status.0;
            headers.push(("Authorization".into(), format!("Bearer {}", token(target)?)));
            headers.push(("Accept".into(), "application/vnd.github+json".into()));
            headers.push((
                "User-Agent".into(),
                "ferroflux-notification-controller".into(),
            ));
            json(&status.1)?
        }
        other => {
            return Err(Error::Unsupported {
                provider_type: other.to_owned(),
            });
        }
    };
    Ok(Some(Request { url, headers, body }))
}

/// The Secret's non-empty `token`.
fn token(target: &Target) -> Result<&str, Error> {
    target
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::NoToken {
            provider_type: target.provider_type.clone(),
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

/// `kind/name.namespace`, the kind lower-case: how every chat provider
/// names the object.
fn object_name(event: &Event) -> String {
    let object = &event.involved_object;
    format!(
        "{}/{}.{}",
        object.kind.as_deref().unwrap_or_default().to_lowercase(),
        object.name.as_deref().unwrap_or_default(),
        object.namespace.as_deref().unwrap_or_default()
    )
}

fn is_error(event: &Event) -> bool {
    event.severity == SEVERITY_ERROR
}

/// Slack's payload: one attachment, `good` or `danger`, authored by the
/// object, the metadata as fields.
fn slack(event: &Event, username: Option<&str>, channel: Option<&str>) -> Value {
    let fields: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect();
    let mut payload = json!({
        "attachments": [{
            "color": if is_error(event) { "danger" } else { "good" },
            "author_name": object_name(event),
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }]
    });
    if let Some(username) = username.filter(|u| !u.is_empty()) {
        payload["username"] = json!(username);
    }
    if let Some(channel) = channel.filter(|c| !c.is_empty()) {
        payload["channel"] = json!(channel);
    }
    payload
}

/// Microsoft Teams: an Adaptive Card (version 1.4, the highest Teams
/// renders) for Workflows webhooks; the retired Office 365 connectors
/// (`*.webhook.office.com`) get the `MessageCard` they understand.
fn msteams(address: &str, event: &Event) -> Value {
    let name = object_name(event);
    let connector = url::Url::parse(address)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".webhook.office.com")))
        .unwrap_or(false);
    if connector {
        let facts: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        return json!({
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": if is_error(event) { "FF0000" } else { "0076D7" },
            "summary": name,
            "sections": [{"activityTitle": event.message, "activitySubtitle": name, "facts": facts}],
        });
    }
    // The summary first, then the rest by key.
    let summary = event.metadata.get("summary");
    let facts: Vec<Value> = summary
        .map(|s| json!({"title": "summary", "value": s}))
        .into_iter()
        .chain(
            event
                .metadata
                .iter()
                .filter(|(k, _)| *k != "summary")
                .map(|(k, v)| json!({"title": k, "value": v})),
        )
        .collect();
    let mut message = json!({"type": "TextBlock", "text": event.message, "wrap": true});
    if is_error(event) {
        message["color"] = json!("attention");
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{
                    "type": "Container",
                    "items": [
                        {"type": "TextBlock", "text": name, "size": "large", "weight": "bolder", "wrap": true},
                        message,
                        {"type": "FactSet", "facts": facts},
                    ],
                }],
                "msteams": {"width": "Full"},
            },
        }],
    })
}

/// Google Chat: one card headed by the object and the reporting
/// controller, the message (red for errors), then the metadata as
/// key-value widgets. Unset fields are sent as `null`, as Flux does.
fn googlechat(event: &Event) -> Value {
    let text = if is_error(event) {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![json!({
        "header": "",
        "widgets": [{"textParagraph": {"text": text}, "keyValue": null}],
    })];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                json!({"textParagraph": null, "keyValue": {
                    "topLabel": k, "content": v, "contentMultiline": false,
                    "bottomLabel": null, "icon": null}})
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    json!({"cards": [{
        "header": {
            "title": object_name(event),
            "subtitle": event.reporting_controller,
            "imageUrl": null,
            "imageStyle": null,
        },
        "sections": sections,
    }]})
}

/// The GitHub commit status for `event`: the statuses URL and the body,
/// or `None` for a `Progressing` event (not an outcome).
///
/// The address is the repository's URL (`https://github.com/owner/repo`,
/// `ssh://git@host/owner/repo.git` or `git@host:owner/repo`); a host other
/// than `github.com` is GitHub Enterprise, whose API is under `/api/v3`.
/// The context is `kind/name/<first block of the Provider's UID>`, so that
/// several clusters reporting on one commit do not overwrite each other.
fn github_status(target: &Target, event: &Event) -> Result<Option<(String, Value)>, Error> {
    if event.reason == "Progressing" {
        return Ok(None);
    }
    let (base, owner, repo) = github_repository(&target.address)?;
    let revision = event.metadata.get(REVISION_KEY).ok_or(Error::NoRevision)?;
    let sha = commit_sha(revision).ok_or_else(|| Error::NoCommit {
        revision: revision.clone(),
    })?;
    let object = &event.involved_object;
    let uid = target.provider_uid.split('-').next().unwrap_or_default();
    let context = format!(
        "{}/{}/{uid}",
        object.kind.as_deref().unwrap_or_default(),
        object.name.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    let state = if is_error(event) {
        "failure"
    } else {
        "success"
    };
    let description = split_camel_case(&event.reason).join(" ").to_lowercase();
    Ok(Some((
        format!("{base}/repos/{owner}/{repo}/statuses/{sha}"),
        json!({"state": state, "context": context, "description": description}),
    )))
}

/// The API base URL, owner and repository named by a GitHub address.
fn github_repository(address: &str) -> Result<(String, String, String), Error> {
    let bad = || Error::NotARepository {
        address: address.to_owned(),
    };
    // `git@host:owner/repo`, the scp-like form, has no scheme.
    let (scheme, host, path) = if let Ok(url) = url::Url::parse(address) {
        let scheme = match url.scheme() {
            "ssh" | "https" => "https",
            "http" => "http",
            _ => return Err(bad()),
        };
        let host = url.host_str().ok_or_else(bad)?;
        // An SSH port says nothing about where the API listens.
        let host = match url.port() {
            Some(port) if url.scheme() != "ssh" => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        (scheme, host, url.path().to_owned())
    } else {
        let (user_host, path) = address.split_once(':').ok_or_else(bad)?;
        let host = user_host.rsplit('@').next().unwrap_or(user_host);
        ("https", host.to_owned(), path.to_owned())
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, repo) = path.split_once('/').ok_or_else(bad)?;
    if owner.is_empty() || repo.is_empty() || repo.contains('/') {
        return Err(bad());
    }
    let base = if host == "github.com" {
        "https://api.github.com".to_owned()
    } else {
        format!("{scheme}://{host}/api/v3")
    };
    Ok((base, owner.to_owned(), repo.to_owned()))
}

/// The commit hash in a revision: `main@sha1:<hash>`, `sha1:<hash>`, the
/// older `main/<hash>`, or a bare hash.
fn commit_sha(revision: &str) -> Option<&str> {
    let rest = revision.rsplit('@').next().unwrap_or(revision);
    let hash = match rest.split_once(':') {
        Some((_, hash)) => hash,
        None => rest.rsplit('/').next().unwrap_or(rest),
    };
    (!hash.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit())).then_some(hash)
}

/// `ReconciliationSucceeded` → `["Reconciliation", "Succeeded"]`; a run of
/// capitals before a lower-case letter ends one word early
/// (`HTTPServer` → `["HTTP", "Server"]`); digits and other characters are
/// their own runs.
fn split_camel_case(text: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in text.chars() {
        let now = class(c);
        match runs.last_mut() {
            Some(run) if now == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = now;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(c) = runs[i].pop() {
            runs[i + 1].insert(0, c);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests;
