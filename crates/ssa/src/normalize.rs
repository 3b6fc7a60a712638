//! What happens to built objects before they are applied, as in Flux:
//! `protocol: TCP` defaulted on Service and container ports (Kubernetes
//! before 1.21 refuses a server-side apply without it, and manifests omit it
//! all the time), `status` and a null `creationTimestamp` dropped, the
//! owner's labels and annotations (its owner labels, a Kustomization's
//! `spec.commonMetadata`) set.

use serde_json::{Map, Value};

/// Normalises one object, setting `labels` and then `annotations` on it in
/// order (a later entry with the same key wins).
pub fn normalize(obj: &mut Value, labels: &[(String, String)], annotations: &[(String, String)]) {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let core = api_version == "v1";
    // Only Kubernetes' own workload kinds: a custom resource's `containers`
    // means whatever its CRD says.
    let workload = core
        || ["apps/", "batch/", "extensions/"]
            .iter()
            .any(|g| api_version.starts_with(g));
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if kind != "CustomResourceDefinition" {
        map.remove("status");
    }
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        if meta.get("creationTimestamp").is_some_and(Value::is_null) {
            meta.remove("creationTimestamp");
        }
        set_all(meta, "labels", labels);
        set_all(meta, "annotations", annotations);
    }
    if core && kind == "Service" {
        default_protocol(map.get_mut("spec").and_then(|s| s.get_mut("ports")));
    }
    if workload {
        container_ports(obj);
    }
}

fn set_all(meta: &mut Map<String, Value>, key: &str, entries: &[(String, String)]) {
    if entries.is_empty() {
        return;
    }
    let map = meta.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    if let Some(map) = map.as_object_mut() {
        for (k, v) in entries {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

fn default_protocol(ports: Option<&mut Value>) {
    for port in ports
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        port.entry("protocol")
            .or_insert_with(|| Value::String("TCP".into()));
    }
}

/// Every `containers`/`initContainers` list, at any depth (pods, pod
/// templates, job templates).
fn container_ports(node: &mut Value) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "containers" || key == "initContainers" {
                    for container in value.as_array_mut().into_iter().flatten() {
                        default_protocol(container.get_mut("ports"));
                    }
                }
                container_ports(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(container_ports),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::normalize;
    use crate::apply::Owner;

    #[test]
    fn ports_get_a_protocol_and_objects_their_owner() {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "creationTimestamp": null},
            "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {}}});
        let owner = Owner::new("kustomize.toolkit.fluxcd.io");
        normalize(&mut svc, &owner.labels("app", "flux-system"), &[]);
        assert_eq!(
            svc,
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "labels": {
                    "kustomize.toolkit.fluxcd.io/name": "app",
                    "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
                "spec": {"ports": [{"port": 80, "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"}]}})
        );
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "a",
                "ports": [{"containerPort": 8080}]}]}}}});
        normalize(&mut deploy, &owner.labels("app", "ns"), &[]);
        assert_eq!(
            deploy.pointer("/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );
    }
}
