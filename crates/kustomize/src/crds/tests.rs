//! Unit tests of crds files: loading, merging and prefixing.
use serde_json::{Value, json};

use super::{Config, load, name_references, normalise_ref, prefix_fields};
use crate::fieldspec::FieldSpec;
use crate::resource::Id;

impl Config {
    fn is_empty(&self) -> bool {
        self.name_prefix.is_empty()
            && self.common_labels.is_empty()
            && self.common_annotations.is_empty()
            && self.name_references.is_empty()
    }
}

/// `(target version, target kind, referrer kind, referrer path)` rows.
fn references(config: &Config) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = config
        .name_references
        .iter()
        .flat_map(|b| {
            b.referrers.iter().map(move |r| {
                (
                    b.target.version.clone(),
                    b.target.kind.clone(),
                    r.kind.clone(),
                    r.path.clone(),
                )
            })
        })
        .collect();
    rows.sort();
    rows
}

fn row(v: &str, k: &str, rk: &str, p: &str) -> (String, String, String, String) {
    (v.into(), k.into(), rk.into(), p.into())
}

/// `(kind, path)` of each spec, sorted.
fn fields(specs: &[FieldSpec]) -> Vec<(String, String)> {
    let mut rows: Vec<_> = specs
        .iter()
        .map(|s| {
            assert!(s.group.is_empty() && s.version.is_empty() && !s.create);
            (s.kind.clone(), s.path.clone())
        })
        .collect();
    rows.sort();
    rows
}

/// A YAML file with kind `Thing` whose `spec` is definition `Spec`.
fn thing(spec_properties: &str) -> String {
    format!(
        "x.y.v1.Thing:\n  Schema:\n    properties:\n      apiVersion: {{}}\n      kind: {{}}\n      metadata: {{}}\n      spec: {{$ref: Spec}}\nSpec:\n  Schema:\n    properties:\n{spec_properties}"
    )
}

const CM_REF: &str =
    "{x-kubernetes-object-ref-api-version: v1, x-kubernetes-object-ref-kind: ConfigMap}";

#[test]
fn json_definitions_give_name_references_and_ignore_merge_keys() {
    let text = include_str!("../../tests/corpus/crds-namerefs-no-merge-keys/in/crd-schema.json");
    let config = load(text).expect("loads");
    assert_eq!(
        references(&config),
        vec![
            row("v1", "ConfigMap", "Pipeline", "spec/configRef/name"),
            row("v1", "Secret", "Pipeline", "spec/credentials/secretName"),
        ]
    );
    assert!(config.common_labels.is_empty() && config.name_prefix.is_empty());
    assert_eq!(name_references(text).expect("loads").len(), 2);
}

#[test]
fn yaml_definitions_give_labels_annotations_and_identities() {
    let text = include_str!("../../tests/corpus/crds-yaml-labels-annotations/in/schema.yaml");
    let config = load(text).expect("loads");
    let one = |path: &str| vec![("Canary".to_owned(), path.to_owned())];
    assert_eq!(fields(&config.common_labels), one("spec/podSelector"));
    assert_eq!(
        fields(&config.common_annotations),
        one("spec/podAnnotations")
    );
    assert_eq!(fields(&config.name_prefix), one("spec/primaryName"));
    assert_eq!(
        references(&config),
        vec![row("v1", "Service", "Canary", "spec/service/ref/name")]
    );
}

#[test]
fn the_kind_is_the_text_after_the_last_dot_and_gvk_extensions_are_ignored() {
    for (name, kind) in [
        ("github.com/a/b/v1.Pipeline", "Pipeline"),
        ("Thing", "Thing"),
        ("a.b.", ""),
        ("", ""),
    ] {
        let text = format!(
            "{name:?}:\n  Schema:\n    x-kubernetes-group-version-kind: [{{group: g, version: v, kind: Other}}]\n    properties:\n      apiVersion: {{}}\n      kind: null\n      metadata: {{}}\n      ref: {CM_REF}\n"
        );
        assert_eq!(
            references(&load(&text).expect("loads")),
            vec![row("v1", "ConfigMap", kind, "ref/name")],
            "{name}"
        );
    }
}

#[test]
fn only_definitions_with_api_version_kind_and_metadata_are_kinds() {
    let text = format!(
        "Spec:\n  Schema:\n    properties:\n      kind: {{}}\n      metadata: {{}}\n      ref: {CM_REF}\n"
    );
    assert!(load(&text).expect("loads").is_empty());
}

#[test]
fn only_refs_are_followed_not_inline_properties_or_items() {
    let text = thing(&format!(
        "      nested: {{properties: {{inner: {CM_REF}}}}}\n      list: {{type: array, items: {{$ref: Item}}}}\n      direct: {{type: array, $ref: Item}}\n      missing: {{$ref: Nowhere}}\nItem:\n  Schema:\n    properties:\n      cm: {CM_REF}\n"
    ));
    assert_eq!(
        references(&load(&text).expect("loads")),
        vec![row("v1", "ConfigMap", "Thing", "spec/direct/cm/name")]
    );
}

#[test]
fn extensions_count_only_as_lowercase_strings() {
    let text = thing(concat!(
        "      a: {x-kubernetes-object-ref-api-version: apps/v1, x-kubernetes-object-ref-kind: Deployment}\n",
        "      b: {x-kubernetes-object-ref-kind: ConfigMap}\n",
        "      c: {x-kubernetes-object-ref-api-version: true, x-kubernetes-object-ref-kind: ConfigMap}\n",
        "      d: {X-Kubernetes-Object-Ref-Api-Version: v1, X-Kubernetes-Object-Ref-Kind: ConfigMap}\n",
        "      e: {x-kubernetes-object-ref-api-version: '', x-kubernetes-object-ref-kind: ''}\n",
        "      f: {x-kubernetes-object-ref-api-version: v1, x-kubernetes-object-ref-kind: Secret, x-kubernetes-object-ref-name-key: secretName}\n",
        "      g: {x-kubernetes-identity: true, x-kubernetes-annotation: null, x-kubernetes-label-selector: {}}\n",
    ));
    let config = load(&text).expect("loads");
    assert_eq!(
        references(&config),
        vec![
            row("", "", "Thing", "spec/e/name"),
            row("apps/v1", "Deployment", "Thing", "spec/a/name"),
            row("v1", "Secret", "Thing", "spec/f/secretName"),
        ]
    );
    assert!(config.name_prefix.is_empty() && config.common_labels.is_empty());
    assert!(config.common_annotations.is_empty());
}

#[test]
fn a_ref_cycle_from_a_kind_is_an_error_but_an_unreached_one_is_not() {
    let cycle = thing(&format!(
        "      ref: {CM_REF}\n      child: {{$ref: Spec}}\n"
    ));
    let err = load(&cycle).expect_err("a cycle").to_string();
    assert!(err.contains("Spec -> Spec"), "{err}");
    let unreached = "A:\n  Schema:\n    properties:\n      b: {$ref: A}\n";
    assert!(load(unreached).expect("loads").is_empty());
}

#[test]
fn only_the_first_yaml_document_is_read() {
    let good = thing(&format!("      ref: {CM_REF}\n"));
    let after = format!("# c\n---\n{good}---\nfoo: [\n");
    assert_eq!(references(&load(&after).expect("loads")).len(), 1);
    let ended = format!("{good}...\n}}\n");
    assert_eq!(references(&load(&ended).expect("loads")).len(), 1);
    assert!(
        load(&format!("---\n---\n{good}"))
            .expect("loads")
            .is_empty()
    );
    assert!(load("foo: {}\n---\nbar: {}\n").expect("loads").is_empty());
    assert!(load("\n# nothing\n").expect("loads").is_empty());
    assert!(load(&format!("...\n---\n{good}")).is_err());
}

#[test]
fn json_is_read_only_from_a_leading_brace() {
    let json = r#"{"T": {"Schema": {"properties": {"apiVersion": {}, "kind": {}, "metadata": {}, "r": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "ConfigMap"}}}}}"#;
    assert_eq!(references(&load(json).expect("loads")).len(), 1);
    // With a space first it is YAML, of which only the first document counts.
    let yaml = format!(" {json}\n---\nfoo: [\n");
    assert_eq!(references(&load(&yaml).expect("loads")).len(), 1);
    assert!(load(&format!("{json} x")).is_err());
    assert!(load(&format!("{json}\n---\n{{}}")).is_err());
}

#[test]
fn malformed_files_are_refused() {
    for (text, why) in [
        ("", "empty"),
        (
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n",
            "a CRD object",
        ),
        ("- a\n", "a list"),
        ("T:\n  Dependencies: 5\n", "dependencies"),
        ("T:\n  Schema: x\n", "a string schema"),
        (
            "T:\n  Schema:\n    properties: []\n",
            "a list of properties",
        ),
        (
            "T:\n  Schema:\n    properties:\n      a: true\n",
            "a boolean property",
        ),
        (
            "T:\n  Schema:\n    properties:\n      a: {properties: {b: 1}}\n",
            "a nested number",
        ),
        (
            "T:\n  Schema:\n    properties:\n      a: {$ref: 'a%zz'}\n",
            "a bad escape",
        ),
        (
            "T:\n  Schema:\n    properties:\n      a: {$ref: '1a:b'}\n",
            "a colon",
        ),
    ] {
        assert!(load(text).is_err(), "{why}");
    }
    for text in [
        "T: null\nU:\n  Schema: null\nV:\n  Schema:\n    properties: null\n",
        "T:\n  Dependencies: [a, null]\n  Schema:\n    properties:\n      a: null\n      b: {$ref: 5}\n",
    ] {
        assert!(load(text).expect("loads").is_empty(), "{text}");
    }
}

#[test]
fn the_schema_field_is_matched_in_any_case_but_properties_and_ref_are_not() {
    let lower = thing(&format!("      ref: {CM_REF}\n")).replace("Schema:", "schema:");
    assert_eq!(references(&load(&lower).expect("loads")).len(), 1);
    let capital =
        thing(&format!("      ref: {CM_REF}\n")).replace("    properties:", "    Properties:");
    assert!(load(&capital).expect("loads").is_empty());
    let upper_ref = thing(&format!("      ref: {CM_REF}\n")).replace("$ref", "$REF");
    assert!(load(&upper_ref).expect("loads").is_empty());
}

#[test]
fn refs_are_looked_up_as_go_prints_the_normalised_url() {
    for (reference, key) in [
        ("x.y.v1.Spec", "x.y.v1.Spec"),
        ("#/definitions/io.k8s.Spec", "#/definitions/io.k8s.Spec"),
        ("", ""),
        ("*", "*"),
        ("a b", "a%20b"),
        ("a%41", "aA"),
        ("a%2f", "a/"),
        ("Foo:bar", "foo:bar"),
        ("Foo:Bar//x", "foo:Bar//x"),
        ("Foo:/x", "foo:/x"),
        ("a//b", "a/b"),
        ("///x", "/x"),
        ("a///b#c//d", "a/b#c//d"),
        ("é", "%C3%A9"),
        ("a{b}", "a%7Bb%7D"),
        ("#x y", "#x%20y"),
        ("a?x y", "a?x y"),
        ("a?x%zz", "a?x%zz"),
        ("a!b'()*", "a%21b%27%28%29%2A"),
        ("#a!b'()*", "#a!b%27()*"),
        ("//Host:80/a", "//host:80/a"),
        ("HTTP://Host:80/a", "http://host/a"),
        ("a%3Ab", "./a:b"),
        ("a?", "a?"),
        ("a?b?", "a?b?"),
        ("a#", "a"),
        ("a?#", "a?"),
    ] {
        assert_eq!(normalise_ref(reference).as_deref(), Ok(key), "{reference}");
    }
    for reference in ["a%zz", "#%zz", "a%4", "1a:b", ":x", "a\tb"] {
        assert!(normalise_ref(reference).is_err(), "{reference}");
    }
}

/// `(group, version, kind, path, create)` of each spec, in order.
fn rows(specs: &[FieldSpec]) -> Vec<(String, String, String, String, bool)> {
    specs
        .iter()
        .map(|s| {
            let s = s.clone();
            (s.group, s.version, s.kind, s.path, s.create)
        })
        .collect()
}

/// A file giving kind `kind` the extension `extension` on the field at
/// `path`, through one definition per level.
fn extension_on(kind: &str, path: &[&str], extension: &str) -> String {
    let mut lines = vec![format!(
        "x.{kind}:\n  Schema:\n    properties:\n      apiVersion: {{}}\n      kind: {{}}\n"
    )];
    if path[0] != "metadata" {
        lines.push("      metadata: {}\n".into());
    }
    for (i, field) in path.iter().enumerate() {
        if i > 0 {
            lines.push(format!("D{i}:\n  Schema:\n    properties:\n"));
        }
        let value = if i + 1 == path.len() {
            format!("{{{extension}: ''}}")
        } else {
            format!("{{$ref: D{}}}", i + 1)
        };
        lines.push(format!("      {field}: {value}\n"));
    }
    lines.concat()
}

#[test]
fn specs_meeting_default_ones_that_create_conflict() {
    for (kind, path, extension) in [
        (
            "Deployment",
            &["spec", "selector", "matchLabels"][..],
            "x-kubernetes-label-selector",
        ),
        // The default is for group batch only, yet it is selected.
        (
            "Job",
            &["spec", "template", "metadata", "annotations"][..],
            "x-kubernetes-annotation",
        ),
    ] {
        let crd = load(&extension_on(kind, path, extension)).expect("loads");
        assert!(!crd.is_empty(), "{kind}");
        let err = defaults()
            .merge(&crd)
            .expect_err("conflicting fieldspecs")
            .to_string();
        assert!(err.contains("conflicting fieldspecs"), "{err}");
    }
}

#[test]
fn a_spec_selecting_a_default_one_is_dropped() {
    let text = extension_on("", &["metadata", "name"], "x-kubernetes-identity");
    let crd = load(&text).expect("loads");
    assert_eq!(
        fields(&crd.name_prefix),
        vec![(String::new(), "metadata/name".to_owned())]
    );
    let mut config = defaults();
    config.merge(&crd).expect("merges");
    assert_eq!(
        rows(&config.name_prefix),
        rows(&Config::defaults().name_prefix)
    );
}

#[test]
fn a_re_merge_drops_a_default_after_a_kind_specific_spec_on_its_path() {
    let text = extension_on("Thing", &["metadata", "name"], "x-kubernetes-identity");
    let mut config = defaults();
    config.merge(&load(&text).expect("loads")).expect("merges");
    let both = rows(&config.name_prefix);
    assert_eq!(both.len(), 2);
    // Kind-specific specs sort first: `Thing` before `~K`.
    assert_eq!(both[0].2, "Thing");
    let parent = config.re_merged().expect("merges");
    assert_eq!(rows(&parent.name_prefix), vec![both[0].clone()]);
}

/// An owned copy of the defaults.
fn defaults() -> Config {
    let mut config = Config::default();
    config.merge(Config::defaults()).expect("merges");
    config
}

#[test]
fn the_defaults_survive_a_re_merge() {
    let defaults = Config::defaults();
    let again = defaults
        .re_merged()
        .expect("merges")
        .re_merged()
        .expect("merges");
    for (mine, theirs) in [
        (&defaults.name_prefix, &again.name_prefix),
        (&defaults.common_labels, &again.common_labels),
        (&defaults.common_annotations, &again.common_annotations),
    ] {
        assert_eq!(rows(mine), rows(theirs));
    }
    assert_eq!(defaults.name_references.len(), again.name_references.len());
    for (mine, theirs) in defaults.name_references.iter().zip(&again.name_references) {
        assert_eq!(
            rows(std::slice::from_ref(&mine.target)),
            rows(std::slice::from_ref(&theirs.target))
        );
        assert_eq!(rows(&mine.referrers), rows(&theirs.referrers));
    }
}

#[test]
fn merging_keeps_one_of_each_entry() {
    let text = include_str!("../../tests/corpus/crds-yaml-labels-annotations/in/schema.yaml");
    let mut config = load(text).expect("loads");
    config.merge(&load(text).expect("loads")).expect("merges");
    let json = include_str!("../../tests/corpus/crds-namerefs-no-merge-keys/in/crd-schema.json");
    config.merge(&load(json).expect("loads")).expect("merges");
    assert_eq!(config.common_labels.len(), 1);
    assert_eq!(config.name_prefix.len(), 1);
    assert_eq!(references(&config).len(), 3);
    assert_eq!(config.name_references.len(), 3);
}

fn id(kind: &str) -> Id {
    Id {
        group: "x.y".into(),
        version: "v1".into(),
        kind: kind.into(),
        namespace: "default".into(),
        name: "t".into(),
    }
}

fn specs(paths: &[&str]) -> Vec<FieldSpec> {
    paths
        .iter()
        .map(|p| FieldSpec {
            kind: "Thing".into(),
            path: (*p).into(),
            ..FieldSpec::default()
        })
        .collect()
}

#[test]
fn name_prefix_fields_get_the_prefix_through_sequences() {
    let mut obj = json!({"metadata": {"name": "t"}, "spec": {
        "primary": "web", "objs": [{"n": "a"}, {"n": "b"}, {}], "gone": null
    }});
    let mut all = specs(&[
        "spec/primary",
        "spec/objs/n",
        "spec/gone/n",
        "spec/absent",
        "metadata/name",
    ]);
    all.extend(Config::defaults().name_prefix.iter().cloned());
    assert_eq!(
        prefix_fields(&mut obj, &id("Thing"), &all, "p-").ok(),
        Some(2)
    );
    assert_eq!(
        obj,
        json!({"metadata": {"name": "t"}, "spec": {
            "primary": "p-web", "objs": [{"n": "p-a"}, {"n": "p-b"}, {}], "gone": null
        }})
    );
    let mut other = json!({"spec": {"primary": "web"}});
    assert_eq!(
        prefix_fields(&mut other, &id("Other"), &all, "p-").ok(),
        Some(1)
    );
    assert_eq!(other, json!({"spec": {"primary": "web"}}));
}

#[test]
fn name_prefix_fields_kustomize_cannot_prefix_are_refused() {
    for value in [json!(5), json!(true), Value::Null, json!({}), json!(["a"])] {
        let mut obj = json!({"spec": {"primary": value}});
        assert!(
            prefix_fields(&mut obj, &id("Thing"), &specs(&["spec/primary"]), "p-").is_err(),
            "{value}"
        );
    }
    let mut obj = json!({"spec": {"primary": "scalar"}});
    assert!(prefix_fields(&mut obj, &id("Thing"), &specs(&["spec/primary/x"]), "p-").is_err());
}
