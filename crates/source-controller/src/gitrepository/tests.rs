//! How the spec's ref becomes a checkout and a revision.

use ferroflux_api::source::GitRepositoryRef;

use super::{Target, pick, pinned};
use crate::git::{Checkout, RemoteRef};

fn refs() -> Vec<RemoteRef> {
    let r = |name: &str, target: &str, peeled: Option<&str>| RemoteRef {
        name: name.into(),
        target: Some(target.into()),
        peeled: peeled.map(Into::into),
    };
    vec![
        r("HEAD", "aaa", None),
        r("refs/heads/master", "aaa", None),
        r("refs/heads/main", "bbb", None),
        r("refs/tags/v1.0.0", "tag1", Some("ccc")),
        r("refs/tags/v1.1.0", "ddd", None),
    ]
}

fn reference(f: impl FnOnce(&mut GitRepositoryRef)) -> GitRepositoryRef {
    let mut r = GitRepositoryRef::default();
    f(&mut r);
    r
}

#[test]
fn refs_resolve_in_fluxs_precedence_with_fluxs_revision_format() {
    let cases = [
        (None, Checkout::Branch("master".into()), "master@sha1:aaa"),
        (
            Some(reference(|r| r.branch = Some("main".into()))),
            Checkout::Branch("main".into()),
            "main@sha1:bbb",
        ),
        (
            Some(reference(|r| r.tag = Some("v1.0.0".into()))),
            Checkout::Tag("v1.0.0".into()),
            "v1.0.0@sha1:ccc",
        ),
        (
            Some(reference(|r| {
                r.branch = Some("main".into());
                r.tag = Some("v1.0.0".into());
                r.semver = Some(">=1.0.0".into());
            })),
            Checkout::Tag("v1.1.0".into()),
            "v1.1.0@sha1:ddd",
        ),
    ];
    for (r, checkout, revision) in cases {
        let target = pick(r.as_ref(), &refs()).unwrap();
        assert_eq!(target.checkout, checkout, "{r:?}");
        assert_eq!(target.revision.as_deref(), Some(revision), "{r:?}");
    }
}

#[test]
fn a_pinned_commit_needs_no_listing_and_names_its_branch() {
    let alone = pinned(Some(&reference(|r| r.commit = Some("abc".into())))).unwrap();
    assert_eq!(
        alone,
        Target {
            checkout: Checkout::Commit("abc".into()),
            name: None,
            revision: Some("sha1:abc".into())
        }
    );
    let with_branch = pinned(Some(&reference(|r| {
        r.commit = Some("abc".into());
        r.branch = Some("main".into());
    })))
    .unwrap();
    assert_eq!(with_branch.revision.as_deref(), Some("main@sha1:abc"));
    assert!(pinned(Some(&reference(|r| r.branch = Some("main".into())))).is_none());
}

#[test]
fn a_missing_branch_or_tag_is_named_in_the_error() {
    let err = pick(
        Some(&reference(|r| r.branch = Some("release".into()))),
        &refs(),
    )
    .unwrap_err();
    assert!(err.contains("branch 'release'"), "{err}");
    let err = pick(Some(&reference(|r| r.tag = Some("v9".into()))), &refs()).unwrap_err();
    assert!(err.contains("tag 'v9'"), "{err}");
}

#[test]
fn unsupported_fields_are_refused_by_name_not_ignored() {
    use ferroflux_api::meta::LocalObjectReference;
    use ferroflux_api::source::{GitRepository, GitRepositoryVerification};

    let mut repo = GitRepository::new("app", ferroflux_api::source::GitRepositorySpec::default());
    assert!(super::reconcile_supported(&repo).is_ok());

    repo.spec.verification = Some(GitRepositoryVerification {
        mode: None,
        secret_ref: LocalObjectReference {
            name: "keys".into(),
        },
    });
    repo.spec.proxy_secret_ref = Some(LocalObjectReference {
        name: "proxy".into(),
    });
    let err = super::reconcile_supported(&repo).unwrap_err();
    assert_eq!(err.handling, ferroflux_runtime::error::Handling::Stalled);
    assert_eq!(err.reason, "UnsupportedConfiguration");
    let message = err.message.as_str();
    assert!(
        message.contains("spec.verify") && message.contains("spec.proxySecretRef"),
        "{message}"
    );
}

/// Issue 15, defect 5: `--max-repository-size` was checked only after the
/// clone and checkout, so a huge repository filled the scratch space first.
/// Work that keeps writing is cancelled once its directory passes the cap.
#[tokio::test]
async fn a_fetch_growing_past_the_cap_is_cancelled_while_it_runs() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::{Fetch, SizeWatch, blocking};

    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("checkout");
    let watch = SizeWatch {
        dir: dir.clone(),
        max: 4 << 20,
    };
    let written = dir.clone();
    // Writes 256 KiB every 5 ms, up to 1 GiB, until cancelled.
    let result = blocking(
        Duration::from_secs(120),
        "http://example.invalid/repo",
        Some(&watch),
        move |cancel| {
            std::fs::create_dir_all(&written).unwrap();
            let chunk = vec![7u8; 256 << 10];
            for i in 0..4096 {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(i);
                }
                std::fs::write(written.join(format!("pack-{i}")), &chunk).unwrap();
                // Paces the stand-in for a network fetch (about 50 MB/s),
                // so the cap is passed between two of the watcher's
                // checks; it synchronises nothing.
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(4096)
        },
    )
    .await;
    let Err(Fetch::TooLarge(size)) = result else {
        panic!("the fetch was not stopped at the cap");
    };
    assert!(size > 4 << 20, "{size}");
    // Stopped within a few checks of the cap, far from the 1 GiB it would
    // have written.
    let on_disk = crate::worktree::size(&dir).unwrap();
    assert!(on_disk < 64 << 20, "{on_disk} bytes written");
}
