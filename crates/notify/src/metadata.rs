//! The metadata of an event as Flux's notification-controller passes it to
//! providers: only the object's own API group, without the group prefix.

use ferroflux_api::event::Event;

/// The event with only the metadata of the object's API group, the group
/// prefix removed, without the group's `checksum` and `digest`.
#[must_use]
pub fn cleanup_metadata(mut event: Event) -> Event {
    let group = event
        .involved_object
        .api_version
        .as_deref()
        .and_then(|v| v.split_once('/'))
        .map_or("", |(group, _)| group);
    let prefix = format!("{group}/");
    event.metadata = std::mem::take(&mut event.metadata)
        .into_iter()
        .filter_map(|(key, value)| {
            let short = key.strip_prefix(&prefix)?;
            (short != "checksum" && short != "digest").then(|| (short.to_owned(), value))
        })
        .collect();
    event
}

#[cfg(test)]
mod tests {
    use ferroflux_api::event::Event;
    use serde_json::json;

    use super::cleanup_metadata;

    #[test]
    fn metadata_keeps_the_objects_group_without_its_prefix() {
        let event: Event = serde_json::from_value(json!({
            "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                               "kind": "Kustomization", "name": "app", "namespace": "apps"},
            "severity": "info", "timestamp": "2026-11-23T10:00:00Z", "message": "m",
            "reason": "ReconciliationSucceeded", "reportingController": "kustomize-controller",
            "metadata": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:abc",
                         "kustomize.toolkit.fluxcd.io/checksum": "x",
                         "source.toolkit.fluxcd.io/revision": "other",
                         "env": "prod"}}))
        .unwrap();
        let cleaned = cleanup_metadata(event);
        assert_eq!(
            serde_json::to_value(&cleaned.metadata).unwrap(),
            json!({"revision": "main@sha1:abc"})
        );
    }
}
