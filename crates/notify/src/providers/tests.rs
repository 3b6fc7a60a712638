//! The request each provider type gets, checked field by field.

use ferroflux_api::event::Event;
use serde_json::{Value, json};

use super::{
    Error, Request, Target, commit_sha, github_repository, request, sign, split_camel_case,
};

fn event(severity: &str) -> Event {
    serde_json::from_value(json!({
        "involvedObject": {"kind": "Kustomization", "name": "app", "namespace": "apps"},
        "severity": severity, "timestamp": "2026-11-23T10:00:00Z",
        "message": "Applied revision: main@sha1:abc", "reason": "ReconciliationSucceeded",
        "metadata": {"revision": "main@sha1:abc", "env": "prod"},
        "reportingController": "kustomize-controller"}))
    .unwrap()
}

fn target(provider_type: &str, address: &str) -> Target {
    Target {
        provider_type: provider_type.into(),
        address: address.into(),
        ..Target::default()
    }
}

fn send(target: &Target, event: &Event) -> (Request, Value) {
    let req = request(target, event).unwrap().unwrap();
    let body = serde_json::from_slice(&req.body).unwrap();
    (req, body)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn slack_gets_one_coloured_attachment() {
    let target = Target {
        channel: Some("ops".into()),
        username: Some("flux".into()),
        ..target("slack", "https://hooks.slack.com/services/x")
    };
    let (_, body) = send(&target, &event("error"));
    assert_eq!(
        body,
        json!({"username": "flux", "channel": "ops", "attachments": [{
            "color": "danger", "author_name": "kustomization/app.apps",
            "text": "Applied revision: main@sha1:abc", "mrkdwn_in": ["text"],
            "fields": [
                {"title": "env", "value": "prod", "short": false},
                {"title": "revision", "value": "main@sha1:abc", "short": false}]}]})
    );
}

#[test]
fn discord_posts_slack_format_to_the_slack_endpoint() {
    let (req, body) = send(
        &target("discord", "https://discord.com/api/webhooks/1/t"),
        &event("info"),
    );
    assert_eq!(req.url, "https://discord.com/api/webhooks/1/t/slack");
    assert_eq!(body["username"], "kustomize-controller");
    assert_eq!(body["attachments"][0]["color"], "good");
    let (req, _) = send(
        &target("discord", "https://discord.com/api/webhooks/1/t/slack"),
        &event("info"),
    );
    assert_eq!(req.url, "https://discord.com/api/webhooks/1/t/slack");
}

#[test]
fn msteams_sends_an_adaptive_card_or_a_connector_card() {
    let mut e = event("error");
    e.metadata.insert("summary".into(), "prod cluster".into());
    let (_, body) = send(
        &target("msteams", "https://x.logic.azure.com/workflows/1"),
        &e,
    );
    let card = &body["attachments"][0]["content"];
    assert_eq!(body["type"], "message");
    assert_eq!(card["version"], "1.4");
    let items = &card["body"][0]["items"];
    assert_eq!(items[0]["text"], "kustomization/app.apps");
    assert_eq!(items[1]["color"], "attention");
    let titles: Vec<&str> = items[2]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["summary", "env", "revision"]);
    let (_, body) = send(
        &target("msteams", "https://org.webhook.office.com/webhookb2/x"),
        &e,
    );
    assert_eq!(body["@type"], "MessageCard");
    assert_eq!(body["themeColor"], "FF0000");
    assert_eq!(
        body["sections"][0]["activitySubtitle"],
        "kustomization/app.apps"
    );
}

#[test]
fn googlechat_sends_a_card_with_the_metadata() {
    let (_, body) = send(
        &target("googlechat", "https://chat.googleapis.com/v1/x"),
        &event("error"),
    );
    let card = &body["cards"][0];
    assert_eq!(card["header"]["title"], "kustomization/app.apps");
    assert_eq!(card["header"]["subtitle"], "kustomize-controller");
    assert_eq!(
        card["sections"][0]["widgets"][0]["textParagraph"]["text"],
        "<font color=\"#ff0000\">Applied revision: main@sha1:abc</font>"
    );
    assert_eq!(
        card["sections"][1]["widgets"][1]["keyValue"]["topLabel"],
        "revision"
    );
}

#[test]
fn github_posts_a_commit_status_for_the_revision() {
    let github = Target {
        token: Some("ghp_secret".into()),
        provider_uid: "0c9c2e41-d2f9-4f9b-9c41-000000000000".into(),
        ..target("github", "https://github.com/org/app.git")
    };
    let mut e = event("info");
    e.metadata
        .insert("revision".into(), "main@sha1:0123abcd".into());
    let (req, body) = send(&github, &e);
    assert_eq!(
        req.url,
        "https://api.github.com/repos/org/app/statuses/0123abcd"
    );
    assert_eq!(header(&req, "Authorization"), Some("Bearer ghp_secret"));
    assert_eq!(
        body,
        json!({"state": "success", "context": "kustomization/app/0c9c2e41",
               "description": "reconciliation succeeded"})
    );
    e.reason = "Progressing".into();
    assert_eq!(request(&github, &e).unwrap(), None);
    e.reason = "BuildFailed".into();
    e.metadata.remove("revision");
    assert!(matches!(request(&github, &e), Err(Error::NoRevision)));
    let anonymous = Target {
        token: None,
        ..github
    };
    assert_eq!(
        request(&anonymous, &event("info")).unwrap_err().to_string(),
        "a github Provider needs a token: set the token key in the Secret named by spec.secretRef"
    );
}

#[test]
fn github_addresses_and_revisions() {
    let repo = |a: &str| github_repository(a).map(|(b, o, r)| format!("{b} {o} {r}"));
    assert_eq!(
        repo("https://github.com/o/r").unwrap(),
        "https://api.github.com o r"
    );
    assert_eq!(
        repo("git@github.com:o/r.git").unwrap(),
        "https://api.github.com o r"
    );
    assert_eq!(
        repo("ssh://git@ghe.corp:2222/o/r").unwrap(),
        "https://ghe.corp/api/v3 o r"
    );
    assert_eq!(
        repo("http://127.0.0.1:8080/o/r/").unwrap(),
        "http://127.0.0.1:8080/api/v3 o r"
    );
    assert!(repo("https://github.com/only-owner").is_err());
    assert!(repo("https://github.com/o/r/extra").is_err());
    assert_eq!(commit_sha("main@sha1:ab12"), Some("ab12"));
    assert_eq!(commit_sha("sha1:ab12"), Some("ab12"));
    assert_eq!(commit_sha("main/ab12"), Some("ab12"));
    assert_eq!(commit_sha("ab12"), Some("ab12"));
    assert_eq!(commit_sha("v1.0.0@sha256:zz"), None);
    assert_eq!(
        split_camel_case("ReconciliationSucceeded"),
        ["Reconciliation", "Succeeded"]
    );
    assert_eq!(
        split_camel_case("HTTPServerV2"),
        ["HTTP", "Server", "V", "2"]
    );
}

#[test]
fn generic_hmac_signs_the_exact_body() {
    let hmac = Target {
        token: Some("key".into()),
        ..target("generic-hmac", "http://sink/")
    };
    let (req, _) = send(&hmac, &event("info"));
    assert_eq!(
        header(&req, "X-Signature"),
        Some(format!("sha256={}", sign("key", &req.body)).as_str())
    );
    assert_eq!(header(&req, "Gotk-Component"), Some("kustomize-controller"));
    // RFC 4231 test case 2.
    assert_eq!(
        sign("Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let unsigned = Target {
        token: None,
        ..hmac
    };
    assert!(matches!(
        request(&unsigned, &event("info")),
        Err(Error::NoToken { provider_type }) if provider_type == "generic-hmac"
    ));
    assert!(
        request(&target("rocket", "http://x/"), &event("info"))
            .unwrap_err()
            .to_string()
            .contains("'rocket' is not supported")
    );
}
