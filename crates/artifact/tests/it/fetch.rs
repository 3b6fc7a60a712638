//! The client downloads, verifies and extracts; hostile or wrong artifacts
//! are refused with nothing written outside the target.

use std::io::Write as _;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use ferroflux_artifact::extract::{Error as ExtractError, Limits};
use ferroflux_artifact::fetch::{Error, Options, fetch};
use ferroflux_artifact::{digest, extract};
use tokio::net::TcpListener;

use crate::support::{RawEntry, hostile_tar_gz, serve, served_artifact, tree};

fn quick() -> Options {
    Options {
        backoff: Duration::from_millis(10),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_served_artifact_is_fetched_verified_and_extracted() {
    let (a, _served) = served_artifact(&[
        ("deploy/app.yaml", "kind: Deployment\n"),
        ("kustomization.yaml", "resources: []\n"),
    ])
    .await;

    let dest = tempfile::tempdir().unwrap();
    let stats = fetch(
        &ferroflux_tls::http_client(),
        &a.url,
        a.digest.as_deref().unwrap(),
        dest.path(),
        quick(),
    )
    .await
    .unwrap();
    assert_eq!(stats.files, 2);
    assert_eq!(
        std::fs::read_to_string(dest.path().join("deploy/app.yaml")).unwrap(),
        "kind: Deployment\n"
    );
}

#[tokio::test]
async fn a_digest_mismatch_names_both_digests_and_extracts_nothing() {
    let (a, _served) = served_artifact(&[("a.yaml", "x")]).await;
    let wrong = digest::of(b"something else");

    let dest = tempfile::tempdir().unwrap();
    let err = fetch(
        &ferroflux_tls::http_client(),
        &a.url,
        &wrong,
        dest.path(),
        quick(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(
        text.contains(&wrong) && text.contains(a.digest.as_deref().unwrap()),
        "{text}"
    );
    assert!(std::fs::read_dir(dest.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_and_client_errors_are_not_retried() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new()
        .route(
            "/flaky",
            get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }),
        )
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dest = tempfile::tempdir().unwrap();
    let client = ferroflux_tls::http_client();

    let err = fetch(
        &client,
        &format!("http://{addr}/flaky"),
        "sha256:00",
        dest.path(),
        quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Transport { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3);

    let err = fetch(
        &client,
        &format!("http://{addr}/gone"),
        "sha256:00",
        dest.path(),
        quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err}");
}

#[tokio::test]
async fn an_artifact_over_the_download_cap_is_refused() {
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), &[("big.tar.gz", &"x".repeat(10_000))]);
    let (addr, _stop) = serve(root.path()).await;
    let dest = tempfile::tempdir().unwrap();
    let options = Options {
        max_download_bytes: 1_000,
        ..quick()
    };
    let err = fetch(
        &ferroflux_tls::http_client(),
        &format!("http://{addr}/big.tar.gz"),
        "sha256:00",
        dest.path(),
        options,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 1_000, .. }), "{err}");
}

fn file(name: &str) -> RawEntry<'_> {
    RawEntry {
        name,
        kind: tar::EntryType::Regular,
        link: "",
        data: b"pwned",
    }
}

#[test]
fn hostile_tarballs_are_refused_with_nothing_written_outside_the_target() {
    let cases: Vec<(&str, Vec<RawEntry<'_>>)> = vec![
        ("parent path", vec![file("../escaped.txt")]),
        ("nested parent path", vec![file("ok/../../escaped.txt")]),
        (
            "absolute path",
            vec![file("/tmp/ferroflux-absolute-escape.txt")],
        ),
        (
            "symlink out, then write through it",
            vec![
                RawEntry {
                    name: "link",
                    kind: tar::EntryType::Symlink,
                    link: "..",
                    data: b"",
                },
                file("link/escaped.txt"),
            ],
        ),
        (
            "hard link",
            vec![RawEntry {
                name: "hard",
                kind: tar::EntryType::Link,
                link: "/etc/passwd",
                data: b"",
            }],
        ),
        (
            "device file",
            vec![RawEntry {
                name: "dev",
                kind: tar::EntryType::Char,
                link: "",
                data: b"",
            }],
        ),
        (
            "fifo",
            vec![RawEntry {
                name: "fifo",
                kind: tar::EntryType::Fifo,
                link: "",
                data: b"",
            }],
        ),
    ];
    for (what, entries) in cases {
        let sandbox = tempfile::tempdir().unwrap();
        let dest = sandbox.path().join("target");
        std::fs::create_dir(&dest).unwrap();
        let err = extract::tar_gz(
            hostile_tar_gz(&entries).as_slice(),
            &dest,
            Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ExtractError::Unsafe { .. }), "{what}: {err}");
        assert!(err.to_string().contains("unsafe entry"), "{what}: {err}");
        assert!(
            !sandbox.path().join("escaped.txt").exists(),
            "{what}: wrote outside the target"
        );
        assert!(
            !std::path::Path::new("/tmp/ferroflux-absolute-escape.txt").exists(),
            "{what}"
        );
        let outside: Vec<_> = std::fs::read_dir(sandbox.path()).unwrap().collect();
        assert_eq!(
            outside.len(),
            1,
            "{what}: only the target directory exists in the sandbox"
        );
    }
}

#[test]
fn extraction_caps_total_bytes_and_entry_count() {
    let dest = tempfile::tempdir().unwrap();
    let big = vec![b'a'; 4096];
    let entries = [RawEntry {
        name: "big",
        kind: tar::EntryType::Regular,
        link: "",
        data: &big,
    }];
    let err = extract::tar_gz(
        hostile_tar_gz(&entries).as_slice(),
        dest.path(),
        Limits {
            max_bytes: 1024,
            max_entries: 10,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ExtractError::TooLarge {
                what: "bytes",
                limit: 1024
            }
        ),
        "{err}"
    );

    let dest = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
    let many: Vec<RawEntry<'_>> = names.iter().map(|n| file(n)).collect();
    let err = extract::tar_gz(
        hostile_tar_gz(&many).as_slice(),
        dest.path(),
        Limits {
            max_bytes: 1 << 20,
            max_entries: 3,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ExtractError::TooLarge {
                what: "entries",
                limit: 3
            }
        ),
        "{err}"
    );
}

/// Issue 15, defect 11: long-name and PAX headers were read whole into
/// memory, whatever size they declared; the data of directory and other
/// non-file entries did not count toward the byte cap; and extraction had
/// no time limit.
#[test]
fn extension_headers_non_file_data_and_time_are_bounded() {
    // A GNU long name declaring 1 GiB (the reader used to read it all into
    // memory); its first MiB is enough to show it is refused unread.
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_size(1 << 30);
    header.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    gz.write_all(&zeros).unwrap();
    let bomb = gz.finish().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_bytes: 2 << 30,
        ..Limits::default()
    };
    let err = extract::tar_gz(bomb.as_slice(), dest.path(), limits).unwrap_err();
    assert!(
        err.to_string()
            .contains("long-name or PAX extension header is larger than 64 KiB"),
        "{err}"
    );

    // A directory entry carrying data counts toward the byte cap.
    let data = vec![b'a'; 4096];
    let entries = [RawEntry {
        name: "dir/",
        kind: tar::EntryType::Directory,
        link: "",
        data: &data,
    }];
    let dest = tempfile::tempdir().unwrap();
    let err = extract::tar_gz(
        hostile_tar_gz(&entries).as_slice(),
        dest.path(),
        Limits {
            max_bytes: 1024,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, ExtractError::TooLarge { what: "bytes", .. }),
        "{err}"
    );

    // No time left: nothing is extracted.
    let dest = tempfile::tempdir().unwrap();
    let err = extract::tar_gz(
        hostile_tar_gz(&[file("a.txt")]).as_slice(),
        dest.path(),
        Limits {
            max_duration: Duration::ZERO,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, ExtractError::TimedOut { .. }), "{err}");
    assert!(!dest.path().join("a.txt").exists());
}

/// Long names, written as GNU long-name entries by the archiver and as
/// PAX `path` records by other tools, still extract where they belong.
#[test]
fn long_names_from_gnu_and_pax_headers_extract() {
    let long = format!("{}/file.yaml", "d".repeat(150));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, &long, &b"1\n"[..])
        .unwrap();
    let pax_name = format!("{}/pax.yaml", "p".repeat(120));
    builder
        .append_pax_extensions([("path", pax_name.as_bytes())])
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path("short-placeholder").unwrap();
    header.set_size(2);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"2\n"[..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let stats = extract::tar_gz(bytes.as_slice(), dest.path(), Limits::default()).unwrap();
    assert_eq!(stats.files, 2);
    assert_eq!(
        std::fs::read_to_string(dest.path().join(&long)).unwrap(),
        "1\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join(&pax_name)).unwrap(),
        "2\n"
    );
    assert!(!dest.path().join("short-placeholder").exists());
}

#[test]
fn a_corrupt_archive_is_reported_as_such() {
    let dest = tempfile::tempdir().unwrap();
    let err =
        extract::tar_gz(&b"definitely not gzip"[..], dest.path(), Limits::default()).unwrap_err();
    assert!(matches!(err, ExtractError::Corrupt(_)), "{err}");
}
