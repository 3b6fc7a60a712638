//! The artifact server serves stored files read-only, and nothing else.

use crate::support::{serve, served_artifact, tree};

#[tokio::test]
async fn serves_an_artifact_with_length_and_digest_etag_and_answers_304() {
    let (a, _served) = served_artifact(&[("a.yaml", "x: 1\n")]).await;

    let client = ferroflux_tls::http_client();
    let resp = client.get(&a.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", a.digest.clone().unwrap()));
    assert_eq!(
        resp.content_length(),
        Some(u64::try_from(a.size.unwrap()).unwrap())
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(ferroflux_artifact::digest::of(&body), a.digest.unwrap());

    let head = client.head(&a.url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        a.size.unwrap().to_string()
    );

    let cached = client
        .get(&a.url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
}

#[tokio::test]
async fn directories_escapes_symlinks_and_unfinished_writes_are_not_served() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    tree(outside.path(), &[("secret.txt", "top secret")]);
    tree(
        root.path(),
        &[
            ("gitrepository/ns/r/a.tar.gz", "data"),
            ("gitrepository/ns/r/.tmp-123", "partial"),
        ],
    );
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        root.path().join("gitrepository/ns/r/link.tar.gz"),
    )
    .unwrap();
    // Issue 15: only the last component was checked, so a linked directory
    // on the way served files from anywhere.
    std::os::unix::fs::symlink(outside.path(), root.path().join("gitrepository/linked")).unwrap();
    let (addr, _stop) = serve(root.path()).await;
    let client = ferroflux_tls::http_client();
    for path in [
        "/",
        "/gitrepository",
        "/gitrepository/ns/r/",
        "/gitrepository/ns/r/link.tar.gz",
        "/gitrepository/linked/secret.txt",
        "/gitrepository/ns/r/.tmp-123",
        "/gitrepository/../../../etc/passwd",
        "/gitrepository/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/missing.tar.gz",
    ] {
        let resp = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "GET {path}");
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("top secret") && !body.contains("root:"),
            "GET {path} leaked {body:?}"
        );
    }
    let ok = client
        .get(format!("http://{addr}/gitrepository/ns/r/a.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn artifacts_are_served_again_by_a_restarted_server() {
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), &[("gitrepository/ns/r/a.tar.gz", "persisted")]);
    let (addr, stop) = serve(root.path()).await;
    let url = format!("http://{addr}/gitrepository/ns/r/a.tar.gz");
    assert_eq!(
        ferroflux_tls::http_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "persisted"
    );
    drop(stop);

    let (addr, _stop) = serve(root.path()).await;
    let url = format!("http://{addr}/gitrepository/ns/r/a.tar.gz");
    assert_eq!(
        ferroflux_tls::http_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "persisted"
    );
}
