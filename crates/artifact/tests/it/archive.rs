//! Archives are deterministic and leave out links.

use std::os::unix::fs::PermissionsExt;

use ferroflux_artifact::{archive, digest, extract};

use crate::support::tree;

fn archive_of(root: &std::path::Path) -> Vec<u8> {
    archive::write_tar_gz(root, &archive::All, Vec::new()).unwrap()
}

#[test]
fn equal_trees_give_identical_bytes_whatever_their_times_and_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    tree(
        a.path(),
        &[
            ("deploy/app.yaml", "kind: Deployment\n"),
            ("README.md", "hi\n"),
        ],
    );
    // Created in the other order, a moment later.
    tree(
        b.path(),
        &[
            ("README.md", "hi\n"),
            ("deploy/app.yaml", "kind: Deployment\n"),
        ],
    );
    assert_eq!(
        digest::of(&archive_of(a.path())),
        digest::of(&archive_of(b.path()))
    );

    std::fs::write(b.path().join("README.md"), "changed\n").unwrap();
    assert_ne!(
        digest::of(&archive_of(a.path())),
        digest::of(&archive_of(b.path()))
    );
}

#[test]
fn symlinks_are_left_out_and_the_executable_bit_is_kept() {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), &[("run.sh", "#!/bin/sh\n"), ("data.txt", "x")]);
    std::fs::set_permissions(
        src.path().join("run.sh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.path().join("passwd")).unwrap();

    let out = tempfile::tempdir().unwrap();
    extract::tar_gz(
        archive_of(src.path()).as_slice(),
        out.path(),
        extract::Limits::default(),
    )
    .unwrap();
    assert!(
        !out.path().join("passwd").exists(),
        "the symlink was archived"
    );
    let mode = std::fs::metadata(out.path().join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mode = std::fs::metadata(out.path().join("data.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn a_filter_excludes_files_and_whole_directories() {
    let src = tempfile::tempdir().unwrap();
    tree(
        src.path(),
        &[
            ("keep.yaml", "a"),
            ("skip.png", "b"),
            (".git/config", "c"),
            ("ci/.github/x", "d"),
        ],
    );
    let filter = |path: &str, is_dir: bool| {
        let image = std::path::Path::new(path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"));
        !(image || (is_dir && (path == ".git" || path.ends_with("/.github"))))
    };
    let bytes = archive::write_tar_gz(src.path(), &filter, Vec::new()).unwrap();
    let out = tempfile::tempdir().unwrap();
    extract::tar_gz(bytes.as_slice(), out.path(), extract::Limits::default()).unwrap();
    assert!(out.path().join("keep.yaml").is_file());
    assert!(!out.path().join("skip.png").exists());
    assert!(!out.path().join(".git").exists());
    assert!(out.path().join("ci").is_dir() && !out.path().join("ci/.github").exists());
}

/// Issue 15 (low): names were made UTF-8 by replacement, so two files whose
/// names differ only in invalid bytes became one entry twice. Such a name is
/// refused by name, unless the filter leaves it out.
#[test]
fn names_that_are_not_utf8_are_refused_unless_excluded() {
    use std::os::unix::ffi::OsStrExt as _;

    let src = tempfile::tempdir().unwrap();
    tree(src.path(), &[("ok.yaml", "a: 1\n")]);
    let odd = src
        .path()
        .join(std::ffi::OsStr::from_bytes(b"odd-\xff.yaml"));
    std::fs::write(&odd, "b: 2\n").unwrap();
    let err = archive::write_tar_gz(src.path(), &archive::All, Vec::new()).unwrap_err();
    assert!(matches!(err, archive::Error::NotUtf8 { .. }), "{err}");
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    let skip_odd = |path: &str, _dir: bool| !path.starts_with("odd-");
    let bytes = archive::write_tar_gz(src.path(), &skip_odd, Vec::new()).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let stats = extract::tar_gz(bytes.as_slice(), dest.path(), extract::Limits::default()).unwrap();
    assert_eq!(stats.files, 1);
}
