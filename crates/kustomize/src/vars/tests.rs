//! Unit tests of `$(VAR)` binding and expansion.
use serde_json::{Value, json};

use super::{Var, bind, expand, field_value, go_float, resolve};
use crate::fieldspec::TABLES;
use crate::resource::Resource;

fn expand_with(input: &str) -> Value {
    let vars = json!({"A": "a", "N": 80, "B": true, "F": 1.5, "S": "80"});
    expand(input, &mut |name| vars.get(name).cloned())
}

#[test]
fn expansion_follows_the_kubernetes_env_syntax() {
    for (input, want) in [
        ("$(A)", "a"),
        ("x$(A)y$(A)", "xaya"),
        ("--port=$(N)", "--port=80"),
        ("$(F)/$(B)", "1.5/true"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("x$$y", "x$y"),
        ("$$", "$"),
        ("$(UNDEF)", "$(UNDEF)"),
        ("a$(UNDEF)b", "a$(UNDEF)b"),
        ("$(A", "$(A"),
        ("$(", "$("),
        ("$", "$"),
        ("a$", "a$"),
        ("$(A)$", "a$"),
        ("$x", "$x"),
        ("$()", "$()"),
        ("é$(A)ü$é", "éaü$é"),
    ] {
        assert_eq!(expand_with(input), Value::String(want.into()), "{input}");
    }
}

#[test]
fn a_field_that_is_exactly_one_var_keeps_the_value_type() {
    assert_eq!(expand_with("$(N)"), json!(80));
    assert_eq!(expand_with("$(B)"), json!(true));
    assert_eq!(expand_with("$(F)"), json!(1.5));
    assert_eq!(expand_with("$(S)"), json!("80"));
    assert_eq!(expand_with(" $(N)"), json!(" 80"));
}

#[test]
fn floats_inside_strings_print_as_go_prints_them() {
    for (f, want) in [
        (1.5, "1.5"),
        (2.0, "2"),
        (123_456.0, "123456"),
        (1_000_000.5, "1.0000005e+06"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (0.000_01, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        (1e300, "1e+300"),
    ] {
        assert_eq!(go_float(f), want, "{f}");
    }
}

#[test]
fn field_paths_take_indexes_the_last_item_and_selectors() {
    let obj = json!({"spec": {
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        "hosts": ["a", "b"],
        "map": {"0": "zero"},
        "none": null,
    }});
    for (path, want) in [
        ("spec.ports[0].port", Some(json!(80))),
        ("spec.ports.1.port", Some(json!(443))),
        ("spec.ports.-.name", Some(json!("https"))),
        ("spec.ports.[name=https].port", Some(json!(443))),
        ("spec.ports.[port=80].name", Some(json!("http"))),
        ("spec.hosts.[=b]", Some(json!("b"))),
        ("..spec..hosts[1].", Some(json!("b"))),
        ("spec.none", Some(json!("null"))),
        ("spec.ports", Some(obj["spec"]["ports"].clone())),
        ("spec.ports[2].port", None),
        ("spec.ports.name", None),
        ("spec.map.0", None),
        ("spec.ports.[name].port", None),
        ("spec.missing", None),
    ] {
        assert_eq!(field_value(&obj, path), want, "{path}");
    }
}

fn objects(text: &str) -> Vec<Resource> {
    crate::yaml::parse_documents(text)
        .unwrap()
        .into_iter()
        .map(Resource::new)
        .collect()
}

fn var(name: &str, kind: &str, object: &str, fieldpath: &str) -> Var {
    serde_json::from_value(json!({
        "name": name,
        "objref": {"apiVersion": "v1", "kind": kind, "name": object},
        "fieldref": {"fieldpath": fieldpath},
    }))
    .unwrap()
}

fn rename(res: &mut Resource, name: &str) {
    res.remember_id();
    res.set_metadata("name", name);
}

const OBJECTS: &str = "
apiVersion: v1
kind: Service
metadata: {name: db, annotations: {note: 'at $(DB)', port: $(PORT)}}
spec: {ports: [{port: 5432, targetPort: $(PORT)}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    metadata: {annotations: {port: $(PORT)}}
    spec:
      containers:
      - command: [run, '--db=$(DB):$(PORT)', '$$(DB)', '$(NOPE)']
        args: ['$(PORT)']
        env: [{name: P, value: $(PORT)}]
        workingDir: /$(DB)
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: set}
spec: {template: {metadata: {annotations: {db: $(DB)}}}}
";

#[test]
fn vars_expand_in_var_reference_fields_only_with_final_values() {
    let mut acc = objects(OBJECTS);
    rename(&mut acc[0], "p-db");
    let vars = [
        var("DB", "Service", "db", ""),
        var("PORT", "Service", "db", "spec.ports[0].port"),
        var("PORTS", "Service", "db", "spec.ports"),
        var("KIND", "Service", "db", "kind"),
    ];
    let unused = resolve(&mut acc, &vars, &TABLES.var_reference).unwrap();
    assert_eq!(unused, ["KIND", "PORTS"]);
    assert_eq!(
        acc[0].obj["metadata"]["annotations"],
        json!({"note": "at p-db", "port": "5432"})
    );
    assert_eq!(acc[0].obj["spec"]["ports"][0]["targetPort"], json!(5432));
    let pod = &acc[1].obj["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["port"], json!(5432));
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["command"],
        json!(["run", "--db=p-db:5432", "$(DB)", "$(NOPE)"])
    );
    assert_eq!(container["args"], json!([5432]));
    assert_eq!(container["env"][0]["value"], json!(5432));
    assert_eq!(container["workingDir"], json!("/$(DB)"));
    assert_eq!(
        acc[2].obj["spec"]["template"]["metadata"]["annotations"]["db"],
        json!("$(DB)")
    );
}

#[test]
fn without_vars_nothing_is_expanded() {
    let mut acc = objects(OBJECTS);
    let before: Vec<Value> = acc.iter().map(|r| r.obj.clone()).collect();
    assert!(
        resolve(&mut acc, &[], &TABLES.var_reference)
            .unwrap()
            .is_empty()
    );
    let after: Vec<Value> = acc.iter().map(|r| r.obj.clone()).collect();
    assert_eq!(before, after);
}

#[test]
fn a_var_must_name_exactly_one_object_with_the_field() {
    let mut acc = objects(OBJECTS);
    let err = resolve(
        &mut acc,
        &[var("X", "Service", "nope", "")],
        &TABLES.var_reference,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "var '{X Service.v1.[noGrp] {metadata.name}}' cannot be mapped to a field in the set of known resources"
    );
    let err = resolve(
        &mut acc,
        &[var("X", "Service", "db", "spec.nope")],
        &TABLES.var_reference,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not found in corresponding resource"), "{err}");
    let mut two = objects(OBJECTS);
    two.extend(objects(
        "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: b}\n",
    ));
    let err = resolve(
        &mut two,
        &[var("X", "Service", "db", "")],
        &TABLES.var_reference,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("found 2 resId matches for var {X "),
        "{err}"
    );
}

#[test]
fn a_list_field_holding_a_non_string_is_refused() {
    let mut acc = objects(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{args: [a, 1]}]}\n",
    );
    let err = resolve(&mut acc, &[var("X", "Pod", "p", "")], &TABLES.var_reference)
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid value type expect a string"), "{err}");
}

#[test]
fn a_bound_var_reads_the_object_of_its_own_kustomization() {
    let base = "apiVersion: v1\nkind: Service\nmetadata: {name: cache}\n";
    let mut one = objects(base);
    rename(&mut one[0], "b1-cache");
    let mut vars = [var("C", "Service", "cache", "")];
    bind(&one, &mut vars).unwrap();
    let mut two = objects(base);
    rename(&mut two[0], "b2-cache");
    // The other base's object comes first, so a wrong pick shows.
    let mut acc: Vec<Resource> = two.into_iter().chain(one).collect();
    acc.extend(objects(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{args: ['$(C)']}]}\n",
    ));
    rename(&mut acc[1], "top-b1-cache");
    resolve(&mut acc, &vars, &TABLES.var_reference).unwrap();
    assert_eq!(
        acc[2].obj["spec"]["containers"][0]["args"],
        json!(["top-b1-cache"])
    );
    // Unbound, the same var fits both objects at the top.
    let err = resolve(
        &mut acc,
        &[var("C", "Service", "cache", "")],
        &TABLES.var_reference,
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("found 2 resId matches"), "{err}");
}

#[test]
fn a_var_its_kustomization_could_not_bind_fails_at_the_top() {
    let mut vars = [var("C", "Service", "cache", "")];
    bind(&[], &mut vars).unwrap();
    let mut acc = objects("apiVersion: v1\nkind: Service\nmetadata: {name: cache}\n");
    let err = resolve(&mut acc, &vars, &TABLES.var_reference)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be mapped"), "{err}");
}

#[test]
fn objref_matches_version_and_namespace_as_kustomize_does() {
    let acc = objects(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    );
    let fits = |objref: &Value| -> usize {
        let var: Var = serde_json::from_value(json!({"name": "V", "objref": objref})).unwrap();
        acc.iter().filter(|r| var.matches(r)).count()
    };
    for (objref, want) in [
        (
            json!({"apiVersion": "v1", "kind": "Service", "name": "s"}),
            1,
        ),
        (json!({"version": "v1", "kind": "Service", "name": "s"}), 1),
        (json!({"kind": "Service", "name": "s"}), 0),
        (
            json!({"apiVersion": "v1", "version": "v2", "kind": "Service", "name": "s"}),
            1,
        ),
        (
            json!({"apiVersion": "v1", "group": "apps", "kind": "Service", "name": "s"}),
            0,
        ),
        (
            json!({"apiVersion": "v1/x/y", "version": "v1", "kind": "Service", "name": "s"}),
            1,
        ),
        (
            json!({"apiVersion": "/v1", "group": "apps", "kind": "Service", "name": "s"}),
            1,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "name": "s", "namespace": "a"}),
            1,
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "name": "s", "namespace": "b"}),
            0,
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "namespace": "default"}),
            1,
        ),
    ] {
        assert_eq!(fits(&objref), want, "{objref}");
    }
}

#[test]
fn var_entries_parse_strictly_with_kustomize_spellings() {
    let var: Var = serde_json::from_value(json!({
        "name": "V",
        "objRef": {"apiVersion": "v1", "kind": "Service", "name": "s"},
        "fieldRef": {"fieldPath": "spec.x"},
    }))
    .unwrap();
    assert_eq!(var.fieldref.fieldpath, "spec.x");
    let var: Var = serde_json::from_value(json!({"name": "V", "objref": {}})).unwrap();
    assert_eq!(var.field_path(), "metadata.name");
    assert!(serde_json::from_value::<Var>(json!({"name": "V", "extra": 1})).is_err());
    assert!(serde_json::from_value::<Var>(json!({"objref": {"nmae": "s"}})).is_err());
}
