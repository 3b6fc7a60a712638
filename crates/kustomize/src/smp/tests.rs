//! Strategic merge, table by table, against what kustomize v5.7.1 produces.

use serde_json::{Value, json};

use super::{Outcome, apply};
use crate::openapi;

/// Applies `patch` to `target` with the target kind's schema.
fn try_patch(target: &Value, patch: &Value) -> Result<(Outcome, Value), String> {
    let api_version = target["apiVersion"].as_str().unwrap_or_default();
    let kind = target["kind"].as_str().unwrap_or_default();
    let def = openapi::definition(api_version, kind);
    let mut object = target.clone();
    let outcome =
        apply(&mut object, patch, openapi::View::Builtin, def).map_err(|e| e.to_string())?;
    Ok((outcome, object))
}

fn patched(target: &Value, patch: &Value) -> Value {
    let (outcome, object) = try_patch(target, patch).unwrap();
    assert_eq!(outcome, Outcome::Patched);
    object
}

fn deployment(spec: &Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
}

/// A Deployment whose pod spec is `pod`.
fn pods(pod: &Value) -> Value {
    deployment(&json!({"template": {"spec": pod}}))
}

fn pod(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]
}

fn containers(list: &Value) -> Value {
    pods(&json!({"containers": list}))
}

#[test]
fn maps_merge_recursively_and_null_deletes_a_key() {
    let target = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}},
        "data": {"k": "v", "gone": "soon"}});
    let patch = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"b": null, "c": "3", "never": null},
            "annotations": {"z": "w"}},
        "data": {"gone": null, "new": "n"}});
    let out = patched(&target, &patch);
    assert_eq!(out["metadata"]["labels"], json!({"a": "1", "c": "3"}));
    assert_eq!(out["metadata"]["annotations"], json!({"x": "y", "z": "w"}));
    assert_eq!(out["data"], json!({"k": "v", "new": "n"}));
}

#[test]
fn an_explicit_null_the_patch_does_not_mention_stays() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "creationTimestamp": null},
        "spec": {"replicas": 1, "paused": null}});
    let out = patched(
        &target,
        &deployment(&json!({"replicas": 2, "paused": null})),
    );
    assert_eq!(out["metadata"]["creationTimestamp"], Value::Null);
    assert!(
        out["metadata"]
            .as_object()
            .unwrap()
            .contains_key("creationTimestamp")
    );
    assert_eq!(out["spec"], json!({"replicas": 2}));
}

#[test]
fn nulls_in_what_the_patch_adds_are_dropped() {
    let target = pods(&json!({"containers": [{"name": "a"}]}));
    let patch = deployment(&json!({"template": {
        "metadata": {"creationTimestamp": null, "labels": {"a": null}}}}));
    let out = patched(&target, &patch);
    assert_eq!(out["spec"]["template"]["metadata"], json!({"labels": {}}));
}

#[test]
fn map_directives_replace_delete_and_merge() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"a": "b", "c": "d"}, "annotations": {"x": "y"}},
        "spec": {"selector": {"matchLabels": {"a": "b"}}}});
    let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"e": "f", "$patch": "replace"},
            "annotations": {"$patch": "delete", "z": "z"}},
        "spec": {"$patch": "merge", "selector": {"matchLabels": {"c": "d"}, "$patch": "merge"}}});
    let out = patched(&target, &patch);
    assert_eq!(out["metadata"]["labels"], json!({"e": "f"}));
    assert!(out["metadata"].get("annotations").is_none());
    assert_eq!(
        out["spec"],
        json!({"selector": {"matchLabels": {"a": "b", "c": "d"}}})
    );
}

#[test]
fn an_unknown_directive_fails_on_an_existing_map_and_stays_in_a_new_one() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"a": "b"}}});
    let existing = json!({"metadata": {"labels": {"$patch": "foo"}}});
    assert_eq!(
        try_patch(&target, &existing).unwrap_err(),
        "unknown patch strategy 'foo'"
    );
    let added = json!({"metadata": {"annotations": {"$patch": "foo", "a": "b"}}});
    let out = patched(&target, &added);
    assert_eq!(
        out["metadata"]["annotations"],
        json!({"$patch": "foo", "a": "b"})
    );
}

#[test]
fn a_top_level_delete_deletes_and_a_top_level_replace_changes_nothing() {
    let target = deployment(&json!({"replicas": 1}));
    let (outcome, _) = try_patch(&target, &json!({"$patch": "delete"})).unwrap();
    assert_eq!(outcome, Outcome::Deleted);
    let replace = json!({"$patch": "replace", "spec": {"replicas": 5}});
    assert_eq!(patched(&target, &replace), target);
}

#[test]
fn patch_elements_come_first_then_the_other_elements() {
    let target = containers(&json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]));
    let out = patched(&target, &containers(&json!([{"name": "b", "image": "b2"}])));
    assert_eq!(
        pod(&out)["containers"],
        json!([{"name": "b", "image": "b2"}, {"name": "a", "image": "a"}])
    );
    let all = containers(&json!([
        {"name": "b", "image": "b2"}, {"name": "c", "image": "c"}, {"name": "a", "args": ["x"]}]));
    let out = patched(&target, &all);
    assert_eq!(
        pod(&out)["containers"],
        json!([{"name": "b", "image": "b2"}, {"name": "c", "image": "c"},
            {"name": "a", "image": "a", "args": ["x"]}])
    );
}

#[test]
fn nested_merged_lists_merge_and_delete_elements() {
    let target = containers(&json!([{"name": "a",
        "env": [{"name": "A", "value": "x"}, {"name": "B", "value": "y"}]}]));
    let patch = containers(&json!([{"name": "a", "env": [
        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "p"}}},
        {"name": "C", "value": "z"},
        {"name": "A", "$patch": "delete"}]}]));
    let out = patched(&target, &patch);
    assert_eq!(
        pod(&out)["containers"][0]["env"],
        json!([{"name": "B", "value": "y", "valueFrom": {"fieldRef": {"fieldPath": "p"}}},
            {"name": "C", "value": "z"}])
    );
}

#[test]
fn deleting_the_last_element_leaves_an_empty_list() {
    let target = pods(&json!({"containers": [{"name": "a"}],
        "volumes": [{"name": "v", "emptyDir": {}}]}));
    let patch = pods(&json!({"containers": [{"name": "a", "$patch": "delete"}],
        "volumes": [{"name": "v", "$patch": "delete"}, {"name": "none", "$patch": "delete"}]}));
    let out = patched(&target, &patch);
    assert_eq!(pod(&out), &json!({"containers": [], "volumes": []}));
}

#[test]
fn list_directives_replace_or_delete_the_whole_list() {
    let target = containers(&json!([{"name": "a"}, {"name": "b"}]));
    let replace = containers(&json!([{"name": "c"}, {"$patch": "replace"}]));
    assert_eq!(
        pod(&patched(&target, &replace))["containers"],
        json!([{"name": "c"}])
    );
    let delete = containers(&json!([{"$patch": "delete"}]));
    assert_eq!(pod(&patched(&target, &delete)), &json!({}));
    let null = containers(&Value::Null);
    assert_eq!(pod(&patched(&target, &null)), &json!({}));
    let unknown = containers(&json!([{"$patch": "foo"}]));
    assert_eq!(
        try_patch(&target, &unknown).unwrap_err(),
        "unknown patch strategy 'foo'"
    );
}

#[test]
fn an_element_replace_directive_leaves_the_existing_element() {
    // kustomize merges the replacement, then puts the object's element
    // back over it by key.
    let target = containers(&json!([{"name": "a", "image": "a", "args": ["x"]}, {"name": "b"}]));
    let patch = containers(&json!([{"name": "a", "image": "a2", "$patch": "replace"}]));
    assert_eq!(patched(&target, &patch), target);
    let new = containers(&json!([{"name": "c", "image": "c", "$patch": "replace"}]));
    assert_eq!(
        pod(&patched(&target, &new))["containers"][0],
        json!({"name": "c", "image": "c"})
    );
}

#[test]
fn scalar_lists_with_the_merge_strategy_are_unions() {
    let target = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["a", "b", "a"]}});
    let patch = json!({"metadata": {"finalizers": ["c", "a", "c"]}});
    let out = patched(&target, &patch);
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let replace = json!({"metadata": {"finalizers": ["x", {"$patch": "replace"}]}});
    assert_eq!(
        patched(&target, &replace)["metadata"]["finalizers"],
        json!(["x"])
    );
}

#[test]
fn lists_without_the_merge_strategy_are_replaced() {
    let target = pods(&json!({
        "containers": [{"name": "a", "args": ["x", "y"]}],
        "tolerations": [{"key": "k1"}, {"key": "k2"}]}));
    let patch = pods(&json!({
        "containers": [{"name": "a", "args": ["z"]}],
        "tolerations": [{"key": "k3"}]}));
    let out = patched(&target, &patch);
    assert_eq!(pod(&out)["containers"][0]["args"], json!(["z"]));
    assert_eq!(pod(&out)["tolerations"], json!([{"key": "k3"}]));
}

#[test]
fn custom_resources_replace_lists_except_in_embedded_known_kinds() {
    let target = json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"},
        "spec": {
            "containers": [{"name": "a"}, {"name": "b"}],
            "template": {"apiVersion": "apps/v1", "kind": "Deployment",
                "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}}}});
    let patch = json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"},
        "spec": {
            "containers": [{"name": "b", "image": "b2"}],
            "template": {"spec": {"template": {"spec": {
                "containers": [{"name": "b", "image": "b2"}]}}}}}});
    let out = patched(&target, &patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "b", "image": "b2"}])
    );
    assert_eq!(
        pod(&out["spec"]["template"])["containers"],
        json!([{"name": "b", "image": "b2"}, {"name": "a"}])
    );
}

#[test]
fn a_value_of_another_node_kind_is_an_error() {
    let target =
        deployment(&json!({"replicas": 1, "template": {"metadata": {"labels": {"a": "b"}}}}));
    let err = try_patch(&target, &deployment(&json!({"replicas": {"x": 1}}))).unwrap_err();
    assert!(
        err.starts_with("wrong node kind: expected ScalarNode but got MappingNode"),
        "{err}"
    );
    let err = try_patch(
        &target,
        &deployment(&json!({"template": {"metadata": {"labels": "x"}}})),
    )
    .unwrap_err();
    assert!(
        err.starts_with("wrong node kind: expected MappingNode but got ScalarNode"),
        "{err}"
    );
    let list = containers(&json!([{"name": "a"}]));
    let err = try_patch(&list, &containers(&json!({"name": "a"}))).unwrap_err();
    assert!(
        err.starts_with("wrong node kind: expected SequenceNode but got MappingNode"),
        "{err}"
    );
    // A null in the object is no kind: anything replaces it.
    let null = deployment(&json!({"revisionHistoryLimit": null}));
    let out = patched(
        &null,
        &deployment(&json!({"revisionHistoryLimit": {"a": "b"}})),
    );
    assert_eq!(out["spec"]["revisionHistoryLimit"], json!({"a": "b"}));
}

#[test]
fn an_element_without_its_merge_key_deletes_every_keyed_element() {
    let target = containers(&json!([{"name": "a"}, {"name": "b"}]));
    let out = patched(&target, &containers(&json!([{"image": "nokey"}])));
    assert_eq!(pod(&out)["containers"], json!([]));
    let added = pods(&json!({"initContainers": [
        {"name": "a", "image": "a2"}, {"image": "x"}, {"name": "a", "image": "dup"}]}));
    let out = patched(&target, &added);
    assert_eq!(pod(&out)["initContainers"], json!([{"image": "x"}]));
}

#[test]
fn the_whole_object_is_normalised_even_where_the_patch_is_silent() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a1"}, {"name": "b"}, {"name": "a", "image": "a2"}]}}},
        "status": {"conditions": [{"type": "A", "status": "x"}, {"type": "A", "status": "y"}]}});
    let out = patched(&target, &json!({"metadata": {"labels": {"l": "v"}}}));
    // Of elements sharing a key, the last one's content wins at the
    // first one's place.
    assert_eq!(
        pod(&out)["containers"],
        json!([{"name": "a", "image": "a2"}, {"name": "b"}])
    );
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "A", "status": "y"}])
    );
    let keyless = containers(&json!([{"name": "a"}, {"image": "b"}]));
    let out = patched(&keyless, &json!({"metadata": {"labels": {"l": "v"}}}));
    assert_eq!(pod(&out)["containers"], json!([{"image": "b"}]));
}

#[test]
fn ports_merge_on_container_port_and_protocol() {
    let ports = |list: Value| containers(&json!([{"name": "a", "ports": list}]));
    let target = ports(json!([
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 80, "protocol": "UDP", "name": "u"}]));
    let out = patched(
        &target,
        &ports(json!([{"containerPort": 80, "protocol": "UDP", "name": "web"}])),
    );
    assert_eq!(
        pod(&out)["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"},
            {"containerPort": 80, "protocol": "UDP", "name": "web"}])
    );
    // kustomize drops a port patched without the protocol the object has.
    let tcp = ports(
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 81, "protocol": "TCP"}]),
    );
    assert_eq!(
        patched(&tcp, &ports(json!([{"containerPort": 80, "name": "web"}]))),
        tcp
    );
    let new = patched(
        &tcp,
        &ports(json!([{"containerPort": 82, "protocol": "UDP"}])),
    );
    assert_eq!(
        pod(&new)["containers"][0]["ports"][0],
        json!({"containerPort": 82, "protocol": "UDP"})
    );
    // Without protocols, the port alone is the key (an int matches "81").
    let bare = ports(json!([{"containerPort": 80, "name": "http"}, {"containerPort": 81}]));
    let out = patched(
        &bare,
        &ports(json!([{"containerPort": "81", "name": "web"}])),
    );
    assert_eq!(
        pod(&out)["containers"][0]["ports"],
        json!([{"containerPort": "81", "name": "web"}, {"containerPort": 80, "name": "http"}])
    );
}

#[test]
fn retain_keys_and_patch_list_directives_are_not_special() {
    let target = pods(&json!({"volumes": [{"name": "v", "emptyDir": {}}]}));
    let patch = pods(
        &json!({"volumes": [{"name": "v", "configMap": {"name": "cm"}}],
        "$setElementOrder/volumes": [{"name": "v"}], "$retainKeys": ["volumes"]}),
    );
    let out = patched(&target, &patch);
    assert_eq!(
        pod(&out),
        &json!({"volumes": [{"name": "v", "emptyDir": {}, "configMap": {"name": "cm"}}],
            "$setElementOrder/volumes": [{"name": "v"}], "$retainKeys": ["volumes"]})
    );
    let finalizers = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["a", "b"]}});
    let delete = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}});
    let out = patched(&finalizers, &delete);
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    assert_eq!(
        out["metadata"]["$deleteFromPrimitiveList/finalizers"],
        json!(["b"])
    );
}
