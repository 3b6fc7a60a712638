//! Reading custom schemas: what kyaml reads, what it crashes or loops on,
//! and how a custom schema sits alone or over the built-in one.

use super::{Error, Table, scope_reads_schema};
use crate::openapi::View;

fn table(text: &str) -> Table {
    Table::parse_custom(text).unwrap()
}

fn invalid(text: &str) -> String {
    match Table::parse_custom(text) {
        Err(Error::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn unsupported(text: &str) -> String {
    match Table::parse_custom(text) {
        Err(Error::Unsupported(message)) => message,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

const GATEWAY_YAML: &str = "\
definitions:
  gw.Gateway:
    x-kubernetes-group-version-kind:
    - {group: example.com, kind: Gateway, version: v1}
    - {kind: Core, version: v1}
    properties:
      spec:
        properties:
          routes:
            type: array
            items: {$ref: '#/definitions/gw.Route'}
            x-kubernetes-patch-merge-key: path
            x-kubernetes-patch-strategy: merge
          listeners:
            additionalProperties:
              properties:
                hosts:
                  type: array
                  x-kubernetes-list-map-keys: [host, port]
                  x-kubernetes-patch-strategy: merge
  gw.Route:
    properties:
      child: {$ref: '#/definitions/gw.Route'}
";

#[test]
fn kinds_fields_and_inline_schemas_are_read() {
    let t = table(GATEWAY_YAML);
    let view = View::Custom(&t);
    let def = view.definition("example.com/v1", "Gateway").unwrap();
    assert_eq!(def, "gw.Gateway");
    // A group-version-kind without a group is a core kind.
    assert_eq!(view.definition("v1", "Core"), Some("gw.Gateway"));
    assert_eq!(view.definition("example.com/v2", "Gateway"), None);

    let spec = view.field(def, "spec").unwrap();
    let spec = spec.reference.as_deref().unwrap();
    let routes = view.field(spec, "routes").unwrap();
    assert!(routes.list && routes.merges());
    assert_eq!(routes.key.as_deref(), Some("path"));
    assert_eq!(routes.items.as_deref(), Some("gw.Route"));
    // Recursive definitions are looked up by name, never expanded.
    let child = view.field("gw.Route", "child").unwrap();
    assert_eq!(child.reference.as_deref(), Some("gw.Route"));

    // additionalProperties: every key gets the value schema.
    let listeners = view.field(spec, "listeners").unwrap();
    let listeners = listeners.reference.as_deref().unwrap();
    let any = view.field(listeners, "whatever").unwrap();
    let hosts = view
        .field(any.reference.as_deref().unwrap(), "hosts")
        .unwrap();
    assert_eq!(hosts.list_map_keys, ["host", "port"]);
    assert!(hosts.merges());
}

#[test]
fn json_and_yaml_read_alike() {
    let json = r#"{"definitions": {"a.A": {
        "x-kubernetes-group-version-kind": [{"group": "g", "kind": "A", "version": "v1"}],
        "properties": {"xs": {"type": ["array"], "x-kubernetes-patch-strategy": "merge"}}}}}"#;
    let yaml = "definitions:\n  a.A:\n    x-kubernetes-group-version-kind: [{group: g, kind: A, version: v1}]\n    properties:\n      xs: {type: [array], x-kubernetes-patch-strategy: merge}\n";
    for text in [json, yaml] {
        let t = table(text);
        let view = View::Custom(&t);
        let def = view.definition("g/v1", "A").unwrap();
        let xs = view.field(def, "xs").unwrap();
        assert!(xs.list && xs.merges() && xs.key.is_none(), "{text}");
    }
}

#[test]
fn extensions_beside_a_ref_are_replaced_by_the_target() {
    let t = table(
        "definitions:\n  K:\n    properties:\n      xs:\n        $ref: '#/definitions/Alias'\n        x-kubernetes-patch-merge-key: image\n        x-kubernetes-patch-strategy: merge\n  Alias:\n    $ref: '#/definitions/Real'\n  Real:\n    type: array\n    x-kubernetes-patch-merge-key: name\n    x-kubernetes-patch-strategy: merge\n",
    );
    let xs = View::Custom(&t).field("K", "xs").unwrap();
    assert_eq!(xs.key.as_deref(), Some("name"));
    assert!(xs.list);
}

#[test]
fn a_custom_schema_alone_hides_the_builtin_one_and_layered_adds_to_it() {
    let t = table(
        "definitions:\n  io.k8s.api.core.v1.PodSpec:\n    properties:\n      containers:\n        type: array\n        x-kubernetes-patch-merge-key: image\n        x-kubernetes-patch-strategy: merge\n  x.Foo:\n    x-kubernetes-group-version-kind: [{group: x, kind: Foo, version: v1}]\n    properties:\n      pod: {$ref: '#/definitions/io.k8s.api.core.v1.PodTemplateSpec'}\n",
    );
    let alone = View::Custom(&t);
    let layered = View::Layered(&t);
    assert_eq!(alone.definition("apps/v1", "Deployment"), None);
    assert_eq!(
        layered.definition("apps/v1", "Deployment"),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    assert_eq!(layered.definition("x/v1", "Foo"), Some("x.Foo"));
    // A definition of the custom schema replaces the built-in one of the
    // same name, everywhere the built-in schema refers to it.
    let containers = layered
        .field("io.k8s.api.core.v1.PodSpec", "containers")
        .unwrap();
    assert_eq!(containers.key.as_deref(), Some("image"));
    assert!(
        layered
            .field("io.k8s.api.core.v1.PodSpec", "volumes")
            .is_none()
    );
    // A $ref the file does not define leads nowhere alone, into the
    // built-in schema layered.
    let pod = alone.field("x.Foo", "pod").unwrap();
    let pod = pod.reference.as_deref().unwrap();
    assert!(alone.field(pod, "spec").is_none());
    assert!(layered.field(pod, "spec").is_some());
    assert!(View::Builtin.field(pod, "spec").is_some());
}

#[test]
fn empty_documents_give_an_empty_schema_but_an_empty_file_is_refused() {
    for text in [
        "{}",
        "# nothing\n",
        "definitions:\n",
        "{\"definitions\": null}",
    ] {
        let t = table(text);
        assert_eq!(View::Custom(&t).definition("apps/v1", "Deployment"), None);
    }
    assert!(invalid("").contains("empty"));
}

#[test]
fn what_kustomize_crashes_or_loops_on_is_refused() {
    assert!(invalid("[1, 2]").contains("a list"));
    assert!(invalid("{\"definitions\": [1]}").contains("definitions is a list"));
    assert!(invalid("{\"definitions\": {\"A\": 5}}").contains("A: the schema is a number"));
    assert!(
        invalid("{\"definitions\": {\"A\": {\"properties\": [\"x\"]}}}")
            .contains("properties is a list")
    );
    assert!(
        invalid("{\"definitions\": {\"A\": {\"properties\": {\"x\": true}}}}")
            .contains("A/properties/x")
    );
    assert!(invalid("{not json").contains("not valid JSON"));
    let message = invalid(
        "definitions:\n  A:\n    properties:\n      x:\n        x-kubernetes-patch-strategy: 5\n",
    );
    assert!(
        message.contains("A/properties/x: x-kubernetes-patch-strategy is a number"),
        "{message}"
    );
    assert!(invalid(
        "definitions:\n  A:\n    properties:\n      x:\n        x-kubernetes-patch-strategy: merge\n        x-kubernetes-list-map-keys: [a, 1]\n"
    )
    .contains("not a string"));
    assert!(
        invalid("definitions:\n  A:\n    x-kubernetes-group-version-kind: [{group: g, kind: A}]\n")
            .contains("'version'")
    );
    assert!(
        invalid(
            "definitions:\n  A:\n    properties:\n      x: {type: array, items: [{type: string}]}\n"
        )
        .contains("not one schema")
    );
}

#[test]
fn ref_cycles_are_refused_without_looping() {
    let message = invalid(
        "definitions:\n  A:\n    properties:\n      x: {$ref: '#/definitions/B'}\n  B: {$ref: '#/definitions/C'}\n  C: {$ref: '#/definitions/B'}\n",
    );
    assert!(message.contains("$ref cycle B -> C -> B"), "{message}");
    let message = invalid(
        "definitions:\n  A:\n    properties:\n      x: {$ref: '#/definitions/A2'}\n  A2: {$ref: '#/definitions/A2'}\n",
    );
    assert!(message.contains("A2 -> A2"), "{message}");
}

#[test]
fn what_this_builder_does_not_model_is_refused_as_unsupported() {
    assert!(unsupported("{\"paths\": {\"/apis/x\": {}}}").contains("paths"));
    assert!(
        unsupported(
            "definitions:\n  A:\n    properties:\n      x: {$ref: 'other.json#/definitions/B'}\n"
        )
        .contains("other.json")
    );
    assert!(unsupported(
        "definitions:\n  A:\n    x-kubernetes-group-version-kind: [{group: g, kind: K, version: v1}]\n  B:\n    x-kubernetes-group-version-kind: [{group: g, kind: K, version: v1}]\n"
    )
    .contains("claimed by both"));
    assert!(unsupported(
        "definitions:\n  A:\n    properties:\n      x:\n        type: array\n        x-kubernetes-patch-strategy: merge\n        properties: {y: {}}\n"
    )
    .contains("both an object and a list"));
    assert!(unsupported(
        "definitions:\n  A:\n    properties:\n      x:\n        type: array\n        items: {type: array, x-kubernetes-patch-strategy: merge}\n"
    )
    .contains("list of lists"));
}

#[test]
fn kinds_kyaml_knows_by_heart_do_not_read_the_schema() {
    assert!(!scope_reads_schema("apps/v1", "Deployment"));
    assert!(!scope_reads_schema("v1", "ConfigMap"));
    assert!(scope_reads_schema("apps/v1beta1", "Deployment"));
    assert!(scope_reads_schema("example.com/v1", "Foo"));
    assert!(scope_reads_schema("", ""));
}
