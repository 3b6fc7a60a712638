use ferroflux_api::meta::LocalObjectReference;
use ferroflux_api::source::{Bucket, BucketSTSSpec, BucketSpec};

use super::store::Listed;
use super::{Index, digest, reconcile_supported, select};
use crate::sourceignore::SourceIgnore;

fn listed(key: &str, size: u64) -> Listed {
    Listed {
        key: key.to_owned(),
        size,
        etag: Some(format!("etag-{key}")),
        last_modified: "2026-01-01T00:00:00+00:00".to_owned(),
    }
}

fn keys(selected: &[Listed]) -> Vec<&str> {
    selected.iter().map(|l| l.key.as_str()).collect()
}

#[test]
fn the_revision_is_fluxs_digest_of_the_sorted_index() {
    let index: Index = [("foo", "bar"), ("bar", "baz")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // sha256 of "bar baz\nfoo bar\n", as Flux's index.Digester computes it.
    assert_eq!(
        digest(&index),
        "sha256:5da7dfe37b54ea1d5ebffb643d67b09d888635b2fe031763fbb856ea5290fda0"
    );
    assert_eq!(
        digest(&Index::new()),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn selection_skips_the_sourceignore_markers_and_ignored_keys() {
    let ignore = SourceIgnore::from_patterns(Some("*.md\n"), Some("/tmp/\n")).unwrap();
    let selected = select(
        "b",
        &[
            listed(".sourceignore", 5),
            listed("README.md", 3),
            listed("apps", 0),
            listed("apps.yaml", 1),
            listed("apps/web.yaml", 2),
            listed("tmp/scratch.yaml", 2),
        ],
        &ignore,
        1 << 20,
    )
    .unwrap();
    assert_eq!(keys(&selected), ["apps.yaml", "apps/web.yaml"]);
}

#[test]
fn spec_ignore_comes_after_the_buckets_sourceignore() {
    let ignore = SourceIgnore::from_patterns(Some("*.yaml\n"), Some("!keep.yaml\n")).unwrap();
    let selected = select(
        "b",
        &[listed("drop.yaml", 1), listed("keep.yaml", 1)],
        &ignore,
        10,
    )
    .unwrap();
    assert_eq!(keys(&selected), ["keep.yaml"]);
}

#[test]
fn an_object_that_is_also_a_directory_is_refused_by_name() {
    let ignore = SourceIgnore::from_patterns(None, None).unwrap();
    let e = select(
        "b",
        &[listed("apps", 4), listed("apps/web.yaml", 1)],
        &ignore,
        10,
    )
    .unwrap_err();
    assert!(e.contains("'apps'") && e.contains("bucket 'b'"), "{e}");
}

#[test]
fn escaping_keys_are_refused_by_name() {
    let ignore = SourceIgnore::from_patterns(None, None).unwrap();
    let e = select("b", &[listed("../../etc/passwd", 1)], &ignore, 10).unwrap_err();
    assert!(e.contains("'../../etc/passwd'"), "{e}");
}

#[test]
fn the_size_cap_counts_the_selected_objects() {
    let ignore = SourceIgnore::from_patterns(None, Some("big/\n")).unwrap();
    let ok = select(
        "b",
        &[listed("a", 6), listed("big/x", 100), listed("c", 4)],
        &ignore,
        10,
    );
    assert!(ok.is_ok());
    let e = select("b", &[listed("a", 6), listed("c", 5)], &ignore, 10).unwrap_err();
    assert!(e.contains("--max-bucket-size") && e.contains("'c'"), "{e}");
}

fn bucket(spec: BucketSpec) -> Bucket {
    Bucket::new("b", spec)
}

#[test]
fn cloud_identities_and_sts_are_refused_by_name() {
    let secret = Some(LocalObjectReference {
        name: "keys".to_owned(),
    });
    let ok = [
        BucketSpec::default(),
        BucketSpec {
            provider: Some("aws".to_owned()),
            secret_ref: secret.clone(),
            ..BucketSpec::default()
        },
    ];
    for spec in ok {
        assert!(reconcile_supported(&bucket(spec)).is_ok());
    }
    let refused = [
        (
            Some("aws"),
            None,
            "spec.provider 'aws' without spec.secretRef",
        ),
        (Some("gcp"), secret.clone(), "spec.provider 'gcp'"),
        (Some("azure"), secret.clone(), "spec.provider 'azure'"),
    ];
    for (provider, secret_ref, want) in refused {
        let e = reconcile_supported(&bucket(BucketSpec {
            provider: provider.map(str::to_owned),
            secret_ref,
            ..BucketSpec::default()
        }))
        .unwrap_err();
        assert_eq!(e.reason, "UnsupportedConfiguration");
        assert!(e.message.as_str().contains(want), "{}", e.message);
    }
    let e = reconcile_supported(&bucket(BucketSpec {
        sts: Some(BucketSTSSpec {
            provider: "ldap".to_owned(),
            endpoint: "https://sts".to_owned(),
            ..BucketSTSSpec::default()
        }),
        ..BucketSpec::default()
    }))
    .unwrap_err();
    assert!(e.message.as_str().contains("spec.sts"), "{}", e.message);
}
