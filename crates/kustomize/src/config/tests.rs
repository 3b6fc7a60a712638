//! Reading `configurations` files and merging them as kustomize does.

use super::{Config, Error};

/// A kubebuilder scaffold's `config/webhook/kustomizeconfig.yaml`.
const WEBHOOK: &str = "\
nameReference:
- kind: Service
  version: v1
  fieldSpecs:
  - kind: ValidatingWebhookConfiguration
    group: admissionregistration.k8s.io
    path: webhooks/clientConfig/service/name
namespace:
- kind: ValidatingWebhookConfiguration
  group: admissionregistration.k8s.io
  path: webhooks/clientConfig/service/namespace
  create: true
varReference:
- path: metadata/annotations
someFutureKey: ignored, as kustomize's decoder ignores it
";

#[test]
fn a_kubebuilder_configuration_extends_the_defaults() {
    let loaded = Config::load(WEBHOOK).expect("a configuration");
    assert_eq!(loaded.name_references.len(), 1);
    assert_eq!(loaded.name_references[0].target.kind, "Service");
    assert_eq!(
        loaded.name_references[0].referrers[0].path,
        "webhooks/clientConfig/service/name"
    );
    assert!(loaded.namespace[0].create);
    let mut config = Config::defaults().re_merged().expect("the defaults merge");
    let before = config
        .name_references
        .iter()
        .find(|b| b.target.kind == "Service" && b.target.version == "v1")
        .map(|b| b.referrers.len())
        .expect("Services are referenced by default");
    config.merge(&loaded).expect("merges");
    let after = config
        .name_references
        .iter()
        .find(|b| b.target.kind == "Service" && b.target.version == "v1")
        .map(|b| b.referrers.len());
    assert_eq!(
        after,
        Some(before + 1),
        "the referrer joins the default entry"
    );
    assert!(
        config
            .var_reference
            .iter()
            .any(|s| s.path == "metadata/annotations" && s.kind.is_empty())
    );
}

#[test]
fn conflicting_create_flags_are_refused_naming_the_table() {
    let one = Config::load("images:\n- kind: Widget\n  path: spec/image\n  create: true\n")
        .expect("a configuration");
    let two = Config::load("images:\n- kind: Widget\n  path: spec/image\n").expect("another");
    let mut config = Config::default();
    config.merge(&one).expect("merges");
    let err = config.merge(&two).expect_err("create differs");
    assert!(
        matches!(&err, Error::Table { table, .. } if table == "images"),
        "{err}"
    );
    assert!(err.to_string().contains("conflicting fieldspecs"), "{err}");
}

#[test]
fn empty_and_malformed_files() {
    assert!(
        Config::load("")
            .expect("empty is nothing")
            .images
            .is_empty()
    );
    assert!(Config::load("# only a comment\n").is_ok());
    for bad in [
        "- a list\n",
        "images: 5\n",
        "nameReference:\n- fieldSpecs: {}\n",
    ] {
        let err = Config::load(bad).expect_err(bad);
        assert!(matches!(err, Error::Invalid(_)), "{bad}: {err}");
    }
}
