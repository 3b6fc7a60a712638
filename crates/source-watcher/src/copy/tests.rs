#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ferroflux_api::extensions::CopyOperation;

use super::{Error, apply};

fn op(from: &str, to: &str) -> CopyOperation {
    CopyOperation {
        from: from.into(),
        to: to.into(),
        ..CopyOperation::default()
    }
}

/// A source `repo` with the example repository's layout.
fn source() -> (tempfile::TempDir, BTreeMap<String, PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("infrastructure/controllers/kustomization.yaml", "a"),
        ("infrastructure/controllers/ns.yaml", "b"),
        ("infrastructure/configs/issuer.yaml", "c"),
        ("apps/base/podinfo/release.yaml", "d"),
        ("apps/staging/kustomization.yaml", "e"),
        ("apps/staging/README.md", "f"),
        ("values.yaml", "a: 1\nb:\n  c: 2\n  d: [1, 2]\n"),
        ("prod.yaml", "b:\n  c: 3\n  d: [9]\n"),
    ] {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }
    let sources = BTreeMap::from([("repo".to_owned(), dir.path().to_path_buf())]);
    (dir, sources)
}

fn files(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = super::walk(root, "")
        .unwrap()
        .into_iter()
        .filter(|(_, d)| !d)
        .map(|(p, _)| p)
        .collect();
    out.sort();
    out
}

fn run(ops: &[CopyOperation]) -> Result<Vec<String>, Error> {
    let (_src, sources) = source();
    let staging = tempfile::tempdir().unwrap();
    apply(ops, &sources, staging.path())?;
    Ok(files(staging.path()))
}

#[test]
fn copy_operations_follow_cp_semantics() {
    let cases: &[(&[CopyOperation], &[&str])] = &[
        (
            &[op("@repo/infrastructure/**", "@artifact/")],
            &[
                "configs/issuer.yaml",
                "controllers/kustomization.yaml",
                "controllers/ns.yaml",
            ],
        ),
        (
            &[
                op("@repo/apps/base/**", "@artifact/base/"),
                op("@repo/apps/staging/**", "@artifact/staging/"),
            ],
            &[
                "base/podinfo/release.yaml",
                "staging/README.md",
                "staging/kustomization.yaml",
            ],
        ),
        (&[op("@repo/values.yaml", "@artifact/x.yaml")], &["x.yaml"]),
        (
            &[op("@repo/values.yaml", "@artifact/d/")],
            &["d/values.yaml"],
        ),
        (
            &[op("@repo/apps/staging/", "@artifact/out/")],
            &["out/staging/README.md", "out/staging/kustomization.yaml"],
        ),
        (
            &[op("@repo/infrastructure/*/*.yaml", "@artifact/")],
            &[
                "configs/issuer.yaml",
                "controllers/kustomization.yaml",
                "controllers/ns.yaml",
            ],
        ),
        (
            &[op("@repo/*.yaml", "@artifact/v/")],
            &["v/prod.yaml", "v/values.yaml"],
        ),
        (
            &[op("@repo/apps/*", "@artifact/")],
            &[
                "base/podinfo/release.yaml",
                "staging/README.md",
                "staging/kustomization.yaml",
            ],
        ),
    ];
    for (ops, want) in cases {
        assert_eq!(run(ops).unwrap(), *want, "{ops:?}");
    }
}

#[test]
fn excludes_drop_files_by_path_or_name() {
    let mut o = op("@repo/apps/**", "@artifact/");
    o.exclude = vec!["*.md".into(), "base/**".into()];
    assert_eq!(run(&[o]).unwrap(), ["staging/kustomization.yaml"]);
}

#[test]
fn a_glob_matching_nothing_is_an_error_naming_it() {
    let err = run(&[op("@repo/nothing/**", "@artifact/")]).unwrap_err();
    assert!(
        matches!(err, Error::Failed { .. })
            && err
                .to_string()
                .contains("no files match 'nothing/**' in source '@repo'"),
        "{err}"
    );
    let err = run(&[op("@repo/missing.yaml", "@artifact/")]).unwrap_err();
    assert!(
        err.to_string().contains("'missing.yaml' does not exist"),
        "{err}"
    );
}

#[test]
fn paths_leaving_the_source_or_the_artifact_are_refused_by_name() {
    for (from, to, what) in [
        ("@repo/../etc/passwd", "@artifact/", "'from'"),
        ("@repo//etc/passwd", "@artifact/", "'from'"),
        ("@repo/values.yaml", "@artifact/../x", "'to'"),
        ("@repo/values.yaml", "@artifact//tmp/x", "'to'"),
        ("@repo/values.yaml", "@elsewhere/x", "'to'"),
        ("@other/values.yaml", "@artifact/", "alias 'other'"),
    ] {
        let err = run(&[op(from, to)]).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { .. }) && err.to_string().contains(what),
            "{from} -> {to}: {err}"
        );
    }
}

#[test]
fn merge_merges_maps_and_replaces_lists_as_helm_does() {
    let (_src, sources) = source();
    let staging = tempfile::tempdir().unwrap();
    let mut merge = op("@repo/prod.yaml", "@artifact/values.yaml");
    merge.strategy = Some("Merge".into());
    apply(
        &[op("@repo/values.yaml", "@artifact/values.yaml"), merge],
        &sources,
        staging.path(),
    )
    .unwrap();
    let text = fs::read_to_string(staging.path().join("values.yaml")).unwrap();
    let got = &ferroflux_yaml::parse_documents(&text).unwrap()[0];
    assert_eq!(
        *got,
        serde_json::json!({"a": 1, "b": {"c": 3, "d": [9]}}),
        "{text}"
    );
}

#[test]
fn extract_unpacks_tarballs_into_the_destination() {
    let (src, sources) = source();
    let packed = tempfile::tempdir().unwrap();
    fs::create_dir_all(packed.path().join("chart/templates")).unwrap();
    fs::write(packed.path().join("chart/Chart.yaml"), "name: chart\n").unwrap();
    let file = fs::File::create(src.path().join("chart-1.0.0.tgz")).unwrap();
    ferroflux_artifact::archive::write_tar_gz(
        packed.path(),
        &ferroflux_artifact::archive::All,
        file,
    )
    .unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut o = op("@repo/*.tgz", "@artifact/");
    o.strategy = Some("Extract".into());
    apply(&[o], &sources, staging.path()).unwrap();
    assert_eq!(files(staging.path()), ["chart/Chart.yaml"]);
}
