//! The test git server serves real clones to the real `git` client and
//! enforces basic auth.

use std::process::Command;
use std::time::Duration;

use ferroflux_testenv::git::{BasicAuth, GitServer};

fn clone(url: &str, dest: &std::path::Path) -> std::process::Output {
    Command::new("git")
        .args(["clone", "--quiet", url])
        .arg(dest)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clones_over_smart_http_with_basic_auth_and_sees_new_commits() {
    let auth = BasicAuth {
        username: "flux".into(),
        password: "s3cret-pass".into(),
    };
    let server = GitServer::start(Some(auth)).await.unwrap();
    let work = server
        .create_repo(
            "podinfo",
            "main",
            &[("kustomize/deploy.yaml", "replicas: 1\n")],
        )
        .unwrap();
    let second = work
        .commit(&[("kustomize/deploy.yaml", "replicas: 2\n")], "scale up")
        .unwrap();

    let url = server
        .url("podinfo")
        .replace("http://", "http://flux:s3cret-pass@");
    let dest = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let dest = dest.path().join("c");
        move || clone(&url, &dest)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "clone failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dest.path().join("c/kustomize/deploy.yaml")).unwrap(),
        "replicas: 2\n"
    );
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dest.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused() {
    let auth = BasicAuth {
        username: "flux".into(),
        password: "right".into(),
    };
    let server = GitServer::start(Some(auth)).await.unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let url = server.url("app").replace("http://", "http://flux:wrong@");
    let dest = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let dest = dest.path().join("c");
        move || clone(&url, &dest)
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Authentication failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_refuses_then_serves_again_at_the_same_url() {
    let auth = BasicAuth {
        username: "flux".into(),
        password: "s3cret-pass".into(),
    };
    let mut server = GitServer::start(Some(auth)).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let url = server
        .url("app")
        .replace("http://", "http://flux:s3cret-pass@");
    let clone_to = |name: &str| {
        let (url, dest) = (url.clone(), tempfile::tempdir().unwrap());
        let path = dest.path().join(name);
        tokio::task::spawn_blocking(move || (clone(&url, &path), dest))
    };
    server.stop();
    // The listener closes on the server's task, soon after.
    ferroflux_testenv::eventually(
        "the stopped server to refuse",
        Duration::from_secs(10),
        || {
            let attempt = clone_to("down");
            async move { (!attempt.await.unwrap().0.status.success()).then_some(()) }
        },
    )
    .await;
    // A commit pushed while the server is away is served once it is back.
    let second = work.commit(&[("a.yaml", "a: 2\n")], "while down").unwrap();
    server.restart().unwrap();
    let (out, dir) = clone_to("up").await.unwrap();
    assert!(
        out.status.success(),
        "clone failed after the restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir.path().join("up"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), second);
}
