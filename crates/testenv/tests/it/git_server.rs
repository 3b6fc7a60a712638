//! The test git server serves real clones to the real `git` client and
//! enforces basic auth.

use std::process::Command;

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
