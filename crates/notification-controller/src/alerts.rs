//! Which Alerts an event matches, as Flux's notification-controller decides:
//! an event source naming the object's kind, name (or `*`) and namespace
//! (the Alert's own when omitted), the Alert's severity (`info` takes
//! errors too), and its inclusion and exclusion regular expressions on the
//! message. Sources with `matchLabels` also need the object's labels.

use std::collections::BTreeMap;

use ferroflux_api::event::Event;
use ferroflux_api::notification::Alert;
use kube::ResourceExt as _;
use regex::Regex;

/// Why an Alert cannot be used as written.
#[derive(Debug, thiserror::Error)]
#[error("Alert {alert}: {what} '{pattern}' is not a valid regular expression: {reason}")]
pub struct InvalidPattern {
    /// `namespace/name` of the Alert.
    pub alert: String,
    /// `inclusionList` or `exclusionList`.
    pub what: &'static str,
    /// The pattern.
    pub pattern: String,
    /// The parser's reason.
    pub reason: String,
}

/// Whether `alert` wants `event`. With `cross_namespace` false, sources in
/// other namespaces than the Alert's never match. `labels` are the involved
/// object's labels, for sources with `matchLabels` (no labels: no match).
///
/// # Errors
/// [`InvalidPattern`] for a malformed inclusion or exclusion expression.
pub fn matches(
    alert: &Alert,
    event: &Event,
    cross_namespace: bool,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<bool, InvalidPattern> {
    if alert.spec.suspend {
        return Ok(false);
    }
    let alert_ns = alert.namespace().unwrap_or_default();
    let object = &event.involved_object;
    let object_ns = object.namespace.clone().unwrap_or_default();
    let object_name = object.name.clone().unwrap_or_default();
    let object_kind = object.kind.clone().unwrap_or_default();
    let source_matches = alert.spec.event_sources.iter().any(|source| {
        let ns = source.namespace.clone().unwrap_or_else(|| alert_ns.clone());
        let selected = source
            .match_labels
            .as_ref()
            .filter(|wanted| !wanted.is_empty())
            .is_none_or(|wanted| {
                labels.is_some_and(|have| wanted.iter().all(|(k, v)| have.get(k) == Some(v)))
            });
        source.kind == object_kind
            && (source.name == "*" || source.name == object_name)
            && ns == object_ns
            && (cross_namespace || ns == alert_ns)
            && selected
    });
    if !source_matches {
        return Ok(false);
    }
    if alert.spec.event_severity.as_deref() == Some("error") && event.severity != "error" {
        return Ok(false);
    }
    let name = format!("{alert_ns}/{}", alert.name_any());
    let any = |what: &'static str, patterns: &[String]| -> Result<bool, InvalidPattern> {
        for pattern in patterns {
            let re = Regex::new(pattern).map_err(|e| InvalidPattern {
                alert: name.clone(),
                what,
                pattern: pattern.clone(),
                reason: e.to_string(),
            })?;
            if re.is_match(&event.message) {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if !alert.spec.inclusion_list.is_empty() && !any("inclusionList", &alert.spec.inclusion_list)? {
        return Ok(false);
    }
    Ok(!any("exclusionList", &alert.spec.exclusion_list)?)
}

#[cfg(test)]
mod tests {
    use ferroflux_api::event::Event;
    use ferroflux_api::notification::Alert;
    use serde_json::json;

    use super::matches;

    fn alert(spec: &serde_json::Value) -> Alert {
        serde_json::from_value(json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
            "metadata": {"name": "a", "namespace": "apps"}, "spec": spec}))
        .unwrap()
    }

    fn event(kind: &str, name: &str, ns: &str, severity: &str, message: &str) -> Event {
        serde_json::from_value(json!({
            "involvedObject": {"kind": kind, "name": name, "namespace": ns},
            "severity": severity, "timestamp": "2026-11-23T10:00:00Z",
            "message": message, "reason": "Progressing",
            "reportingController": "kustomize-controller"}))
        .unwrap()
    }

    #[test]
    fn sources_severity_and_lists_select_events() {
        let a = alert(&json!({"providerRef": {"name": "p"},
            "eventSources": [{"kind": "Kustomization", "name": "*"},
                             {"kind": "GitRepository", "name": "app", "namespace": "flux"}]}));
        let ok = |e: &Event| matches(&a, e, true, None).unwrap();
        assert!(ok(&event("Kustomization", "any", "apps", "info", "x")));
        assert!(!ok(&event("Kustomization", "any", "other", "info", "x")));
        assert!(ok(&event("GitRepository", "app", "flux", "error", "x")));
        assert!(!ok(&event("GitRepository", "other", "flux", "info", "x")));
        assert!(
            !matches(
                &a,
                &event("GitRepository", "app", "flux", "info", "x"),
                false,
                None
            )
            .unwrap()
        );

        let errors = alert(
            &json!({"providerRef": {"name": "p"}, "eventSeverity": "error",
            "eventSources": [{"kind": "Kustomization", "name": "*"}],
            "inclusionList": ["^Applied", "fail"], "exclusionList": ["ignored"]}),
        );
        let ok = |e: &Event| matches(&errors, e, true, None).unwrap();
        assert!(!ok(&event(
            "Kustomization",
            "k",
            "apps",
            "info",
            "Applied revision"
        )));
        assert!(ok(&event(
            "Kustomization",
            "k",
            "apps",
            "error",
            "build failed"
        )));
        assert!(!ok(&event("Kustomization", "k", "apps", "error", "other")));
        assert!(!ok(&event(
            "Kustomization",
            "k",
            "apps",
            "error",
            "fail but ignored"
        )));

        let bad = alert(&json!({"providerRef": {"name": "p"},
            "eventSources": [{"kind": "Kustomization", "name": "*"}], "inclusionList": ["("]}));
        let err = matches(
            &bad,
            &event("Kustomization", "k", "apps", "info", "x"),
            true,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("inclusionList '('"), "{err}");
        let suspended = alert(&json!({"providerRef": {"name": "p"}, "suspend": true,
            "eventSources": [{"kind": "Kustomization", "name": "*"}]}));
        assert!(
            !matches(
                &suspended,
                &event("Kustomization", "k", "apps", "info", "x"),
                true,
                None
            )
            .unwrap()
        );
        let labelled = alert(&json!({"providerRef": {"name": "p"},
            "eventSources": [{"kind": "Kustomization", "name": "*", "matchLabels": {"team": "a"}}]}));
        let e = event("Kustomization", "k", "apps", "info", "x");
        let team = |t: &str| -> std::collections::BTreeMap<String, String> {
            [("team".to_owned(), t.to_owned())].into_iter().collect()
        };
        assert!(matches(&labelled, &e, true, Some(&team("a"))).unwrap());
        assert!(!matches(&labelled, &e, true, Some(&team("b"))).unwrap());
        assert!(!matches(&labelled, &e, true, None).unwrap());
    }
}
