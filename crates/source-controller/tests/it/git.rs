//! gix against `git http-backend`: refs are listed without cloning, one ref is
//! shallow-cloned, and failures say what went wrong without leaking secrets.

use std::sync::atomic::AtomicBool;

use ferroflux_source_controller::git::{self, Checkout, Credentials, Error};
use ferroflux_testenv::git::{BasicAuth, GitServer};

fn creds(user: &str, pass: &str) -> Credentials {
    Credentials {
        basic: Some((user.into(), pass.into())),
        ..Credentials::default()
    }
}

/// Clones `url` at `checkout` into `<fresh temp dir>/checkout`, off the async
/// executor; returns the directory (kept alive for reading) and the result.
async fn clone_to_temp(
    url: &str,
    checkout: Checkout,
    creds: Credentials,
) -> (tempfile::TempDir, git::Result<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (url, dest) = (url.to_owned(), dir.path().join("checkout"));
    let result =
        blocking(move || git::clone(&url, &dest, &checkout, &creds, &AtomicBool::new(false))).await;
    (dir, result)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_remote_lists_branches_and_peeled_tags_without_cloning() {
    let server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    work.tag("v1.0.0").unwrap();
    let tagged = work.head().unwrap();
    let tip = work.commit(&[("a.yaml", "a: 2\n")], "second").unwrap();

    let url = server.url("app");
    let refs = blocking(move || git::ls_remote(&url, &Credentials::default()))
        .await
        .unwrap();
    let find = |name: &str| {
        refs.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {refs:?}"))
    };
    assert_eq!(find("refs/heads/main").commit(), Some(tip.as_str()));
    let tag = find("refs/tags/v1.0.0");
    assert_eq!(
        tag.commit(),
        Some(tagged.as_str()),
        "the annotated tag peels to its commit"
    );
    assert_ne!(
        tag.target.as_deref(),
        Some(tagged.as_str()),
        "the tag itself is a tag object"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_a_tag_and_a_commit_check_out_their_own_content() {
    let server = GitServer::start(Some(BasicAuth {
        username: "flux".into(),
        password: "pw-1234".into(),
    }))
    .await
    .unwrap();
    let work = server
        .create_repo("app", "main", &[("deploy/app.yaml", "replicas: 1\n")])
        .unwrap();
    let first = work.head().unwrap();
    work.tag("v1.0.0").unwrap();
    let second = work
        .commit(&[("deploy/app.yaml", "replicas: 2\n")], "scale")
        .unwrap();

    for (checkout, want_sha, want_replicas) in [
        (
            Checkout::Branch("main".into()),
            second.clone(),
            "replicas: 2\n",
        ),
        (
            Checkout::Tag("v1.0.0".into()),
            first.clone(),
            "replicas: 1\n",
        ),
        (
            Checkout::Name("refs/heads/main".into()),
            second.clone(),
            "replicas: 2\n",
        ),
        (
            Checkout::Commit(first.clone()),
            first.clone(),
            "replicas: 1\n",
        ),
    ] {
        let what = format!("{checkout:?}");
        let (dir, result) =
            clone_to_temp(&server.url("app"), checkout, creds("flux", "pw-1234")).await;
        let dest = dir.path().join("checkout");
        let sha = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(sha, want_sha, "{what}");
        assert_eq!(
            std::fs::read_to_string(dest.join("deploy/app.yaml")).unwrap(),
            want_replicas,
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_authentication_error_that_does_not_show_it() {
    let server = GitServer::start(Some(BasicAuth {
        username: "flux".into(),
        password: "right-one".into(),
    }))
    .await
    .unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let url = server.url("app");
    let err = blocking(move || git::ls_remote(&url, &creds("flux", "wrong-password-123")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-password-123"));

    let (_dir, result) = clone_to_temp(
        &server.url("app"),
        Checkout::Branch("main".into()),
        Credentials::default(),
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Unauthenticated { .. }),
        "no credentials for a protected repo: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_branch_and_a_stopped_server_are_reported() {
    let mut server = GitServer::start(None).await.unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let (_dir, result) = clone_to_temp(
        &server.url("app"),
        Checkout::Branch("nope".into()),
        Credentials::default(),
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("nope"),
        "the message names the missing branch: {err}"
    );

    server.stop();
    let url = server.url("app");
    let err = blocking(move || git::ls_remote(&url, &Credentials::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Git {
                operation: "ls-remote",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_the_servers_ca_and_is_refused_without_it() {
    let server = GitServer::start_tls(Some(BasicAuth {
        username: "flux".into(),
        password: "tls-pass".into(),
    }))
    .await
    .unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    let trusted = creds("flux", "tls-pass").with_ca_pem(&ca).unwrap();

    let (url, c) = (server.url("app"), trusted.clone());
    assert!(url.starts_with("https://"));
    let refs = blocking(move || git::ls_remote(&url, &c)).await.unwrap();
    assert!(
        refs.iter()
            .any(|r| r.name == "refs/heads/main" && r.commit() == Some(sha.as_str()))
    );

    let (_dir, cloned) =
        clone_to_temp(&server.url("app"), Checkout::Branch("main".into()), trusted).await;
    let cloned = cloned.unwrap();
    assert_eq!(cloned, sha);

    let url = server.url("app");
    let err = blocking(move || git::ls_remote(&url, &creds("flux", "tls-pass")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Git { .. }),
        "an unknown CA must fail the TLS handshake: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_sent_over_https() {
    let server = GitServer::start_tls_with_token("ghp_test-token-1234")
        .await
        .unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    let with = |token: &str| {
        Credentials {
            bearer_token: Some(token.into()),
            ..Credentials::default()
        }
        .with_ca_pem(&ca)
        .unwrap()
    };

    let (url, good) = (server.url("app"), with("ghp_test-token-1234"));
    let refs = blocking(move || git::ls_remote(&url, &good)).await.unwrap();
    assert!(refs.iter().any(|r| r.name == "refs/heads/main"));

    let (url, bad) = (server.url("app"), with("ghp_wrong"));
    let err = blocking(move || git::ls_remote(&url, &bad))
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("ghp_wrong"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_clones_with_the_key_and_refuses_an_unknown_host_key() {
    use ferroflux_source_controller::git::SshKeys;
    use ferroflux_testenv::ssh::SshServer;

    let server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    let sshd = blocking(SshServer::start).await.unwrap();
    let url = sshd.url(&server.repo_path("app"));
    let keys = |known_hosts: String| Credentials {
        ssh: Some(SshKeys {
            identity: sshd.identity().unwrap(),
            known_hosts,
        }),
        ..Credentials::default()
    };

    let trusted = keys(sshd.known_hosts().unwrap());
    let (_dir, cloned) = clone_to_temp(&url, Checkout::Branch("main".into()), trusted).await;
    let cloned = cloned.unwrap();
    assert_eq!(cloned, sha);

    let impostor = keys(sshd.wrong_known_hosts().unwrap());
    let u = url.clone();
    let err = blocking(move || git::ls_remote(&u, &impostor))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Git { .. }),
        "an unknown host key must be refused: {err:?}"
    );

    let nobody = keys(String::new());
    let err = blocking(move || git::ls_remote(&url, &nobody))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Git { .. }),
        "no known_hosts means no trust: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_client_certificate_and_fails_without_it() {
    let server = GitServer::start_mtls().await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    let ca = server.ca_pem().unwrap().as_bytes().to_vec();
    let client = server.client_certificate().unwrap();
    let trusted = Credentials::default().with_ca_pem(&ca).unwrap();
    let presenting = trusted
        .clone()
        .with_client_pem(client.cert_pem.as_bytes(), client.key_pem.as_bytes())
        .unwrap();

    let url = server.url("app");
    let refs = blocking(move || git::ls_remote(&url, &presenting))
        .await
        .unwrap();
    assert!(
        refs.iter()
            .any(|r| r.name == "refs/heads/main" && r.commit() == Some(sha.as_str()))
    );
    let url = server.url("app");
    let err = blocking(move || git::ls_remote(&url, &trusted))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Git { .. }),
        "without a client certificate the handshake must fail: {err:?}"
    );
    let bad = Credentials::default()
        .with_client_pem(b"not a certificate", client.key_pem.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(bad.contains("tls.crt and tls.key"), "{bad}");
    assert!(!bad.contains("PRIVATE KEY"), "{bad}");
}
