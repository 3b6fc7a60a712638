//! Storage layout, atomic writes, retention and cleanup.

use std::collections::HashSet;
use std::time::Duration;

use ferroflux_artifact::archive::All;
use ferroflux_artifact::storage::{Error, ObjectKey, Retention, Storage};

use crate::support::tree;

fn storage(root: &std::path::Path, retention: Retention) -> Storage {
    Storage::new(
        root,
        "source-controller.flux-system.svc.cluster.local.",
        retention,
    )
    .unwrap()
}

#[test]
fn an_artifact_is_laid_out_as_flux_does_with_its_digest_and_url() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), &[("app.yaml", "kind: ConfigMap\n")]);
    let key = ObjectKey::new("GitRepository", "flux-system", "podinfo");
    let a = storage(root.path(), Retention::default())
        .archive(&key, src.path(), &All, "abc123.tar.gz", "main@sha1:abc123")
        .unwrap();
    assert_eq!(a.path, "gitrepository/flux-system/podinfo/abc123.tar.gz");
    assert_eq!(
        a.url,
        "http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/podinfo/abc123.tar.gz"
    );
    let bytes = std::fs::read(root.path().join(&a.path)).unwrap();
    assert_eq!(
        a.digest.as_deref(),
        Some(ferroflux_artifact::digest::of(&bytes).as_str())
    );
    assert_eq!(a.size, Some(i64::try_from(bytes.len()).unwrap()));
    assert_eq!(a.revision, "main@sha1:abc123");
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(root.path().join("gitrepository/flux-system/podinfo"))
        .unwrap()
        .collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn names_that_would_escape_the_storage_root_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let s = storage(root.path(), Retention::default());
    for (key, file) in [
        (ObjectKey::new("GitRepository", "..", "x"), "a.tar.gz"),
        (ObjectKey::new("GitRepository", "ns", "a/b"), "a.tar.gz"),
        (
            ObjectKey::new("GitRepository", "ns", "x"),
            "../../escape.tar.gz",
        ),
        (
            ObjectKey::new("GitRepository", "ns", "x"),
            "/tmp/abs.tar.gz",
        ),
    ] {
        let err = s.archive(&key, src.path(), &All, file, "r").unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{err}");
    }
    assert!(
        std::fs::read_dir(root.path()).unwrap().next().is_none(),
        "nothing was written"
    );
}

#[test]
fn retention_keeps_the_newest_records_and_the_current_artifact() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), &[("a", "1")]);
    let s = storage(
        root.path(),
        Retention {
            records: 2,
            ttl: Duration::ZERO,
        },
    );
    let key = ObjectKey::new("GitRepository", "ns", "repo");
    let mut last = None;
    let base = std::time::SystemTime::now() - Duration::from_secs(600);
    for (i, rev) in (0u64..).zip(["r1", "r2", "r3", "r4"]) {
        std::fs::write(src.path().join("a"), rev).unwrap();
        let a = s
            .archive(&key, src.path(), &All, &format!("{rev}.tar.gz"), rev)
            .unwrap();
        // Distinct modification times order the records, oldest first.
        let file = std::fs::File::options()
            .write(true)
            .open(root.path().join(&a.path))
            .unwrap();
        file.set_modified(base + Duration::from_secs(i)).unwrap();
        last = Some(a);
    }
    let deleted = s.garbage_collect(&key, last.as_ref().unwrap()).unwrap();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    let dir = root.path().join("gitrepository/ns/repo");
    assert!(dir.join("r4.tar.gz").is_file() && dir.join("r3.tar.gz").is_file());
    assert!(!dir.join("r1.tar.gz").exists() && !dir.join("r2.tar.gz").exists());
}

#[test]
fn a_long_ttl_keeps_older_records_for_now() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let s = storage(
        root.path(),
        Retention {
            records: 1,
            ttl: Duration::from_secs(3600),
        },
    );
    let key = ObjectKey::new("GitRepository", "ns", "repo");
    s.archive(&key, src.path(), &All, "old.tar.gz", "old")
        .unwrap();
    let current = s
        .archive(&key, src.path(), &All, "new.tar.gz", "new")
        .unwrap();
    assert!(s.garbage_collect(&key, &current).unwrap().is_empty());
}

#[test]
fn deleting_an_object_and_orphan_cleanup_remove_their_artifacts() {
    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let s = storage(root.path(), Retention::default());
    let live = ObjectKey::new("GitRepository", "ns", "live");
    let gone = ObjectKey::new("GitRepository", "ns", "gone");
    let deleted = ObjectKey::new("OCIRepository", "other", "deleted");
    for key in [&live, &gone, &deleted] {
        s.archive(key, src.path(), &All, "a.tar.gz", "r").unwrap();
    }
    s.remove_all(&deleted).unwrap();
    assert!(!root.path().join("ocirepository/other/deleted").exists());

    let elsewhere = ObjectKey::new("GitRepository", "other-team", "theirs");
    s.archive(&elsewhere, src.path(), &All, "a.tar.gz", "r")
        .unwrap();

    // Scoped to one namespace: the other team's artifact is not ours to judge.
    let removed = s
        .remove_orphans("GitRepository", Some("ns"), &HashSet::from([live.clone()]))
        .unwrap();
    assert_eq!(removed, vec![root.path().join("gitrepository/ns/gone")]);
    assert!(root.path().join("gitrepository/ns/live/a.tar.gz").is_file());
    assert!(
        root.path()
            .join("gitrepository/other-team/theirs/a.tar.gz")
            .is_file()
    );

    // Across all namespaces it goes too.
    let removed = s
        .remove_orphans("GitRepository", None, &HashSet::from([live.clone()]))
        .unwrap();
    assert_eq!(
        removed,
        vec![root.path().join("gitrepository/other-team/theirs")]
    );
}
