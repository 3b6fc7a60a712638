//! Unit tests of field paths, selection, creation, delimiters and errors.
use serde_json::{Value, json};

use super::path::{Step, split_path};
use super::{Replacement, apply};
use crate::resource::{Id, Resource};
use crate::yaml;

fn objects(text: &str) -> Vec<Resource> {
    yaml::parse_documents(text)
        .unwrap()
        .into_iter()
        .map(Resource::new)
        .collect()
}

fn replacements(text: &str) -> Vec<Replacement> {
    let docs = yaml::parse_documents(text).unwrap();
    serde_json::from_value(docs[0].clone()).unwrap()
}

fn run(objs: &str, repls: &str) -> Result<Vec<Value>, String> {
    let mut acc = objects(objs);
    apply(&mut acc, &replacements(repls)).map_err(|e| e.to_string())?;
    Ok(acc.into_iter().map(|r| r.obj).collect())
}

const OBJECTS: &str = "
apiVersion: v1
kind: ConfigMap
metadata: {name: src, labels: {role: source}}
data: {s: hello, n: '9090', csv: 'a,b,c', e: '', z: null, t: 'true', f: '1.5'}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {app: web}, annotations: {}}
spec:
  replicas: 1
  paused: false
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.0
        args: [x, y]
        env:
        - {name: A, value: '1'}
        - {name: AB, value: '2'}
        - {name: NUL, value: null}
      - {name: side, image: busybox}
      resources: {limits: {cpu: '1'}}
";

fn one(source: &str, target: &str) -> Result<Vec<Value>, String> {
    run(
        OBJECTS,
        &format!("- source: {source}\n  targets:\n  - {target}\n"),
    )
}

fn deployment(out: &[Value]) -> &Value {
    &out[1]
}

#[test]
fn paths_split_at_dots_outside_brackets() {
    assert_eq!(
        split_path("spec.containers.[name=com.foo.app].image"),
        ["spec", "containers", "[name=com.foo.app]", "image"]
    );
    assert_eq!(
        split_path("metadata.annotations.[a.b/c]"),
        ["metadata", "annotations", "a.b/c"]
    );
    assert_eq!(
        split_path(r"metadata.labels.a\.b"),
        ["metadata", "labels", "a.b"]
    );
    assert_eq!(split_path(".data.s"), ["data", "s"]);
    assert_eq!(split_path("data.[abc]"), ["data", "[abc]"]);
    assert_eq!(split_path("labels.[app.x"), ["labels", "app.x"]);
    assert_eq!(split_path("a[b.c]"), ["a[b", "c]"]);
    assert_eq!(split_path("a.b."), ["a", "b", ""]);
}

#[test]
fn path_parts_classify_like_kyaml() {
    assert_eq!(Step::parse("0".into()), Step::Index(0));
    assert_eq!(Step::parse("+1".into()), Step::Index(1));
    assert_eq!(Step::parse("-1".into()), Step::Field("-1".into()));
    assert_eq!(Step::parse("*".into()), Step::Every);
    assert_eq!(
        Step::parse("[name=a=b]".into()),
        Step::Element {
            key: "name".into(),
            pattern: "a=b".into()
        }
    );
    assert_eq!(Step::parse("[abc]".into()), Step::Malformed("[abc]".into()));
}

#[test]
fn scalars_keep_their_type() {
    let out = one(
        "{kind: Deployment, fieldPath: spec.replicas}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap();
    assert_eq!(out[0]["data"]["s"], json!("1"));
    let out = one(
        "{kind: ConfigMap, fieldPath: data.n}",
        "{select: {kind: Deployment}, fieldPaths: [spec.replicas]}",
    )
    .unwrap();
    assert_eq!(deployment(&out)["spec"]["replicas"], json!(9090));
    let out = one(
        "{kind: ConfigMap, fieldPath: data.t}",
        "{select: {kind: Deployment}, fieldPaths: [spec.paused]}",
    )
    .unwrap();
    assert_eq!(deployment(&out)["spec"]["paused"], json!(true));
    // A mapping has no text: a string field becomes empty.
    let out = one(
        "{kind: Deployment, fieldPath: spec.template.spec.resources}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap();
    assert_eq!(out[0]["data"]["s"], json!(""));
    // A scalar replaces a mapping whole, with its own type.
    let out = one(
        "{kind: ConfigMap, fieldPath: data.n}",
        "{select: {kind: Deployment}, fieldPaths: [spec.template.spec.resources]}",
    )
    .unwrap();
    assert_eq!(
        deployment(&out)["spec"]["template"]["spec"]["resources"],
        json!("9090")
    );
}

#[test]
fn values_that_do_not_fit_the_target_type_fail() {
    for (field, target) in [
        ("data.s", "spec.replicas"),
        ("data.f", "spec.replicas"),
        ("data.s", "spec.paused"),
        (
            "data.s",
            "spec.template.spec.containers.0.env.[name=NUL].value",
        ),
    ] {
        let err = one(
            &format!("{{kind: ConfigMap, fieldPath: {field}}}"),
            &format!("{{select: {{kind: Deployment}}, fieldPaths: ['{target}']}}"),
        )
        .unwrap_err();
        assert!(err.contains("keeps the type"), "{target}: {err}");
    }
    let err = one(
        "{kind: Deployment, fieldPath: spec.template.spec.resources}",
        "{select: {kind: Deployment}, fieldPaths: [spec.replicas]}",
    )
    .unwrap_err();
    assert!(err.contains("keeps the type"), "{err}");
}

#[test]
fn unfit_values_fail_only_if_nothing_overwrites_them() {
    let poison = "- source: {kind: ConfigMap, fieldPath: data.s}\n  targets: [{select: {kind: Deployment}, fieldPaths: [spec.replicas]}]\n";
    let fix = "- source: {kind: ConfigMap, fieldPath: data.n}\n  targets: [{select: {kind: Deployment}, fieldPaths: [spec.replicas]}]\n";
    let fix_parent = "- source: {kind: ConfigMap, fieldPath: data}\n  targets: [{select: {kind: Deployment}, fieldPaths: [spec]}]\n";
    let err = run(OBJECTS, poison).unwrap_err();
    assert!(err.contains("/spec/replicas"), "{err}");
    // Still an integer field: the text is read back with the old type.
    let out = run(OBJECTS, &format!("{poison}{fix}")).unwrap();
    assert_eq!(deployment(&out)["spec"]["replicas"], json!(9090));
    assert!(run(OBJECTS, &format!("{poison}{fix_parent}")).is_ok());
    // Reading it does not repair it.
    let read = "- source: {kind: Deployment, fieldPath: spec.replicas}\n  targets: [{select: {kind: ConfigMap}, fieldPaths: [data.csv, data.t]}]\n";
    assert!(run(OBJECTS, &format!("{poison}{read}")).is_err());
    // What is written inside a null value is never converted.
    let into_null = "- source: {kind: Deployment, fieldPath: spec.replicas}\n  targets: [{select: {kind: Deployment}, fieldPaths: ['spec.template.spec.containers.0.env.[name=NUL].value.[name=x]'], options: {create: true}}]\n";
    assert!(run(OBJECTS, &format!("{poison}{into_null}{fix}")).is_ok());
    // Into a mapping the unfit value goes with its type, unfit again.
    let into_map = "- source: {kind: Deployment, fieldPath: spec.replicas}\n  targets: [{select: {kind: ConfigMap}, fieldPaths: [data]}]\n";
    let fix_from_env = "- source: {kind: Deployment, fieldPath: spec.template.spec.containers.0.env.0.value}\n  targets: [{select: {kind: Deployment}, fieldPaths: [spec.replicas]}]\n";
    let err = run(OBJECTS, &format!("{poison}{into_map}{fix_from_env}")).unwrap_err();
    assert!(err.contains("`/data`"), "{err}");
}

#[test]
fn create_builds_missing_fields_and_resolves_created_scalars() {
    let out = one(
        "{kind: ConfigMap, fieldPath: data.n}",
        "{select: {kind: Deployment}, options: {create: true}, fieldPaths: [
              spec.template.spec.containers.0.ports.0.containerPort,
              spec.template.spec.containers.2.image,
              spec.template.spec.containers.0.args.2,
              'spec.template.spec.volumes.[name=12].x',
              'spec.template.spec.containers.0.args.[=z]',
              metadata.annotations.n]}",
    )
    .unwrap();
    let spec = &deployment(&out)["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"][0]["ports"],
        json!([{"containerPort": 9090}])
    );
    assert_eq!(spec["containers"][2], json!({"image": 9090}));
    assert_eq!(spec["containers"][0]["args"], json!(["x", "y", 9090, 9090]));
    assert_eq!(spec["volumes"], json!([{"name": 12, "x": 9090}]));
    assert_eq!(
        deployment(&out)["metadata"]["annotations"]["n"],
        json!(9090)
    );
}

#[test]
fn create_appends_only_at_the_end_and_never_loops() {
    let err = one("{kind: ConfigMap, fieldPath: data.s}", "{select: {kind: Deployment}, options: {create: true}, fieldPaths: [spec.template.spec.containers.3.image]}").unwrap_err();
    assert!(err.contains("index 3 specified but only 2"), "{err}");
    let err = one("{kind: ConfigMap, fieldPath: data.s}", "{select: {kind: Deployment}, options: {create: true}, fieldPaths: ['spec.template.spec.containers.[name=^q$].image']}").unwrap_err();
    assert!(err.contains("does not match itself"), "{err}");
}

#[test]
fn create_through_null_changes_nothing() {
    let before = run(OBJECTS, "[]").unwrap();
    let out = one("{kind: ConfigMap, fieldPath: data.s}", "{select: {kind: Deployment}, options: {create: true}, fieldPaths: ['spec.template.spec.containers.0.env.[name=NUL].value.x']}").unwrap();
    assert_eq!(out, before);
}

#[test]
fn missing_target_fields_fail_without_create() {
    for path in [
        "metadata.annotations.x",
        "spec.template.spec.containers.2.image",
        "'spec.template.spec.containers.[name=none].image'",
        "spec.template.spec.resources.limits.*",
        "'spec.template.spec.containers.0.env.-1'",
    ] {
        let result = one(
            "{kind: ConfigMap, fieldPath: data.s}",
            &format!("{{select: {{kind: Deployment}}, fieldPaths: [{path}]}}"),
        );
        assert!(result.is_err(), "{path}");
    }
}

#[test]
fn target_elements_match_unanchored_patterns_and_source_elements_exactly() {
    let out = one("{kind: ConfigMap, fieldPath: data.s}", "{select: {kind: Deployment}, fieldPaths: ['spec.template.spec.containers.0.env.[name=A].value']}").unwrap();
    let env = &deployment(&out)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["value"], json!("hello"));
    assert_eq!(env[1]["value"], json!("hello"));
    // The value `'1'` is printed quoted, so `^1$` does not match it.
    assert!(one("{kind: ConfigMap, fieldPath: data.s}", "{select: {kind: Deployment}, fieldPaths: ['spec.template.spec.containers.0.env.[value=^1$].name']}").is_err());
    let err = one(
        "{kind: Deployment, fieldPath: 'spec.template.spec.containers.[name=ap].image'}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap_err();
    assert!(err.contains("missing"), "{err}");
    let out = one(
        "{kind: Deployment, fieldPath: 'spec.template.spec.containers.-.image'}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap();
    assert_eq!(out[0]["data"]["s"], json!("busybox"));
}

#[test]
fn every_element_skips_elements_without_the_field() {
    let out = one(
        "{kind: ConfigMap, fieldPath: data.s}",
        "{select: {kind: Deployment}, fieldPaths: ['spec.template.spec.containers.*.args']}",
    )
    .unwrap();
    let containers = &deployment(&out)["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["args"], json!("hello"));
    assert_eq!(containers[1].get("args"), None);
    // A value match ends the path at the element.
    let out = one("{kind: ConfigMap, fieldPath: data.n}", "{select: {kind: Deployment}, fieldPaths: ['spec.template.spec.containers.0.args.[=x].ignored']}").unwrap();
    assert_eq!(
        deployment(&out)["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["9090", "y"])
    );
}

#[test]
fn delimiters_split_sources_and_splice_targets() {
    let out = one(
        "{kind: ConfigMap, fieldPath: data.csv, options: {delimiter: ',', index: 1}}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap();
    assert_eq!(out[0]["data"]["s"], json!("b"));
    let err = one(
        "{kind: ConfigMap, fieldPath: data.csv, options: {delimiter: ',', index: 3}}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap_err();
    assert!(err.contains("out of bounds"), "{err}");
    let out = one(
            "{kind: ConfigMap, fieldPath: data.s}",
            "{select: {kind: Deployment}, fieldPaths: [spec.template.spec.containers.0.image], options: {delimiter: ':', index: -1}}",
        )
        .unwrap();
    assert_eq!(
        deployment(&out)["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("hello:nginx:1.0")
    );
    let out = one(
            "{kind: ConfigMap, fieldPath: data.s}",
            "{select: {kind: Deployment}, fieldPaths: [spec.template.spec.containers.1.image, spec.x], options: {delimiter: '.', index: 5, create: true}}",
        )
        .unwrap();
    assert_eq!(
        deployment(&out)["spec"]["template"]["spec"]["containers"][1]["image"],
        json!("busybox.hello")
    );
    assert_eq!(deployment(&out)["spec"]["x"], json!(".hello"));
    let err = one(
        "{kind: ConfigMap, fieldPath: data.s}",
        "{select: {kind: Deployment}, fieldPaths: [spec.template], options: {delimiter: ':'}}",
    )
    .unwrap_err();
    assert!(err.contains("needs a scalar field"), "{err}");
    let err = one(
        "{kind: Deployment, fieldPath: spec.template, options: {delimiter: ':'}}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap_err();
    assert!(err.contains("needs a scalar source"), "{err}");
}

#[test]
fn rejects_work_on_ids_or_on_selectors_separately() {
    let target = |reject: &str| {
        one(
                "{kind: ConfigMap, fieldPath: data.s}",
                &format!("{{select: {{}}, reject: {reject}, fieldPaths: [metadata.annotations.x], options: {{create: true}}}}"),
            )
            .unwrap()
            .iter()
            .map(|o| o.pointer("/metadata/annotations/x").is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(target("[{labelSelector: app=web}]"), [true, false]);
    // The label selector rejects the Deployment, the kind the ConfigMap.
    assert_eq!(
        target("[{labelSelector: app=web, kind: ConfigMap}]"),
        [false, false]
    );
    assert_eq!(target("[{}]"), [true, true]);
    assert_eq!(target("[{group: apps, name: app}]"), [true, false]);
    assert_eq!(target("[{namespace: default}]"), [false, false]);
}

#[test]
fn sources_and_targets_match_earlier_ids_exactly() {
    let mut acc = objects(OBJECTS);
    for res in &mut acc {
        res.remember_id();
        let name = format!("p-{}", res.name());
        res.set_metadata("name", &name);
    }
    let repls = replacements(
        "- source: {name: src, fieldPath: data.s}\n  targets:\n  - {select: {name: app}, fieldPaths: [spec.template.spec.containers.1.image]}\n  - {select: {name: 'app|x'}, fieldPaths: [nothing]}\n",
    );
    apply(&mut acc, &repls).unwrap();
    assert_eq!(
        acc[1].obj["spec"]["template"]["spec"]["containers"][1]["image"],
        json!("hello")
    );
    assert_eq!(
        acc[1].previous,
        [Id::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"}})
        )]
    );
}

#[test]
fn replacements_run_in_order_and_default_to_metadata_name() {
    let out = run(
            OBJECTS,
            "- source: {kind: ConfigMap, fieldPath: data.s}\n  targets: [{select: {kind: Deployment}}]\n- source: {kind: Deployment}\n  targets: [{select: {kind: ConfigMap}, fieldPaths: [data.n]}]\n",
        )
        .unwrap();
    assert_eq!(out[0]["data"]["n"], json!("hello"));
}

#[test]
fn bad_sources_fail() {
    for (source, want) in [
        ("{kind: Secret}", "nothing selected"),
        ("{version: v1, fieldPath: data.s}", "several objects"),
        ("{kind: ConfigMap, fieldPath: data.missing}", "missing"),
        ("{kind: ConfigMap, fieldPath: data.z}", "missing"),
        (
            "{kind: Deployment, fieldPath: metadata.annotations}",
            "missing",
        ),
        ("{kind: ConfigMap, fieldPath: data.s.x}", "needs a mapping"),
        (
            "{kind: Deployment, fieldPath: 'spec.template.spec.containers.*.image'}",
            "target fieldPaths only",
        ),
        (
            "{kind: Deployment, fieldPath: spec.template.spec.containers.-1.image}",
            "negative",
        ),
        (
            "{kind: ConfigMap, name: 'sr.', fieldPath: data.s}",
            "nothing selected",
        ),
    ] {
        let err = one(source, "{select: {kind: ConfigMap}, fieldPaths: [data.s]}").unwrap_err();
        assert!(err.contains(want), "{source}: {err}");
        assert!(err.starts_with("replacements[0]: "), "{err}");
    }
    // An empty string is a value.
    let out = one(
        "{kind: ConfigMap, fieldPath: data.e}",
        "{select: {kind: ConfigMap}, fieldPaths: [data.s]}",
    )
    .unwrap();
    assert_eq!(out[0]["data"]["s"], json!(""));
}

#[test]
fn incomplete_entries_fail() {
    for repls in [
        "- source: {kind: ConfigMap}\n",
        "- source: {kind: ConfigMap}\n  targets: []\n",
        "- targets: [{select: {}}]\n",
        "- source: {kind: ConfigMap}\n  targets: [{fieldPaths: [data.s]}]\n",
        "- path: more.yaml\n",
        "- source: {kind: ConfigMap}\n  targets: [{select: {labelSelector: 'a in (b'}}]\n",
    ] {
        assert!(run(OBJECTS, repls).is_err(), "{repls}");
    }
}

#[test]
fn inline_entries_are_strict_and_files_lenient() {
    let strict: Result<Vec<Replacement>, _> =
        serde_json::from_value(json!([{"source": {"kind": "A", "bogus": 1}}]));
    assert!(strict.is_err());
    let single = Replacement::from_value(&json!({
        "path": "ignored",
        "source": {"kind": "A", "bogus": 1, "options": {"delimiter": ",", "x": 1}},
        "targets": [{"select": {"kind": "B", "y": 1}, "reject": [{"z": 1}], "fieldPaths": ["a"]}]
    }))
    .unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].path, None);
    assert_eq!(single[0].source.as_ref().unwrap().kind, "A");
    assert_eq!(single[0].targets[0].reject.len(), 1);
    assert_eq!(Replacement::from_value(&json!([{}, {}])).unwrap().len(), 2);
    assert!(Replacement::from_value(&json!("x")).is_err());
    assert!(Replacement::from_value(&Value::Null).is_err());
    assert!(Replacement::from_value(&json!([3])).is_err());
    assert!(Replacement::from_value(&json!([{"source": {"options": {"index": "1"}}}])).is_err());
}
