//! A Flux user's day with the CLI: create a source and a Kustomization,
//! see them Ready, change git and reconcile now, suspend and resume,
//! export, tree, build and diff a local change, events; and the errors a
//! user meets on the way.

use ferroflux_testenv::controller::{ControllerProcess, SourceController, workspace_binary};
use ferroflux_testenv::git::GitServer;

use crate::{expect, ferroflux};

const CONFIG: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  color: blue\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_reconcile_suspend_export_tree_build_diff() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (_client, ns) = ferroflux_testenv::setup("cli", &ferroflux_api::all_crds()).await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    let server = GitServer::start(None).await.unwrap();
    let repo = server
        .create_repo("app", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let _source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        kc,
        &ns,
        &[],
    );
    let _kustomize = ControllerProcess::start(
        &workspace_binary("ferroflux-kustomize-controller"),
        kc,
        &ns,
        "kustomize-controller-0",
        &[],
    );
    create_and_reconcile(kc, &ns, &server.url("app"), &repo);
    suspend_and_resume(kc, &ns);
    inspect(kc, &ns, &server.url("app"));
    local_build_and_diff(kc, &ns);
    user_errors(kc, &ns);
}

/// Creates the source and the Kustomization (both become Ready), lists
/// them, then reconciles a new commit at once.
fn create_and_reconcile(
    kc: &std::path::Path,
    ns: &str,
    url: &str,
    repo: &ferroflux_testenv::git::WorkingCopy,
) {
    let first = format!("main@sha1:{}", repo.head().unwrap());

    let run = expect(
        kc,
        0,
        &[
            "create",
            "source",
            "git",
            "app",
            "-n",
            ns,
            "--url",
            url,
            "--interval",
            "1h",
        ],
    );
    assert!(
        run.stderr.contains(&format!("fetched revision: {first}")),
        "{}",
        run.stderr
    );
    let run = expect(
        kc,
        0,
        &[
            "create",
            "kustomization",
            "app",
            "-n",
            ns,
            "--source",
            "GitRepository/app",
            "--path",
            "./deploy",
            "--prune",
            "--interval",
            "1h",
            "--target-namespace",
            ns,
        ],
    );
    assert!(
        run.stderr.contains(&format!("applied revision: {first}")),
        "{}",
        run.stderr
    );

    let table = expect(kc, 0, &["get", "kustomizations", "-n", ns]).stdout;
    let row = table
        .lines()
        .find(|l| l.starts_with("app "))
        .unwrap_or_default();
    assert!(
        row.contains(&first) && row.contains("False") && row.contains("True"),
        "{table}"
    );
    let all = expect(kc, 0, &["get", "all", "-n", ns]).stdout;
    assert!(
        all.contains("gitrepository/app") && all.contains("kustomization/app"),
        "{all}"
    );

    // A commit, reconciled at once with its source.
    repo.commit(
        &[("deploy/config.yaml", &CONFIG.replace("blue", "green"))],
        "green",
    )
    .unwrap();
    let second = format!("main@sha1:{}", repo.head().unwrap());
    let run = expect(
        kc,
        0,
        &[
            "reconcile",
            "kustomization",
            "app",
            "-n",
            ns,
            "--with-source",
        ],
    );
    assert!(
        run.stderr.contains(&format!("applied revision: {second}")),
        "{}",
        run.stderr
    );
}

fn suspend_and_resume(kc: &std::path::Path, ns: &str) {
    expect(kc, 0, &["suspend", "kustomization", "app", "-n", ns]);
    let table = expect(kc, 0, &["get", "ks", "-n", ns]).stdout;
    let row = table.lines().find(|l| l.starts_with("app ")).unwrap();
    assert!(row.split_whitespace().any(|c| c == "True"), "{table}");
    let run = expect(kc, 2, &["reconcile", "kustomization", "app", "-n", ns]);
    assert!(
        run.stderr.contains("ferroflux resume kustomization app"),
        "{}",
        run.stderr
    );
    let run = expect(kc, 0, &["resume", "kustomization", "app", "-n", ns]);
    assert!(
        run.stderr.contains("reconciliation completed"),
        "{}",
        run.stderr
    );
}

fn inspect(kc: &std::path::Path, ns: &str, url: &str) {
    let yaml = expect(kc, 0, &["export", "source", "git", "app", "-n", ns]).stdout;
    assert!(
        yaml.contains("kind: GitRepository") && yaml.contains(url),
        "{yaml}"
    );
    assert!(
        !yaml.contains("status:") && !yaml.contains("uid:"),
        "{yaml}"
    );
    let tree = expect(kc, 0, &["tree", "kustomization", "app", "-n", ns]).stdout;
    assert_eq!(
        tree,
        format!("Kustomization/{ns}/app\n└── ConfigMap/{ns}/app-config\n")
    );
    let events = expect(kc, 0, &["events", "-n", ns, "--for", "Kustomization/app"]).stdout;
    assert!(events.starts_with("LAST SEEN"), "{events}");
    assert!(events.contains("Kustomization/app"), "{events}");
}

fn local_build_and_diff(kc: &std::path::Path, ns: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        CONFIG.replace("blue", "red"),
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let built = expect(
        kc,
        0,
        &["build", "kustomization", "app", "-n", ns, "--path", path],
    )
    .stdout;
    assert!(built.contains("color: red"), "{built}");
    assert!(built.contains(&format!("namespace: {ns}")), "{built}");
    assert!(
        built.contains("kustomize.toolkit.fluxcd.io/name: app"),
        "{built}"
    );
    // The cluster has green: the diff shows the change and exits 1.
    let run = expect(
        kc,
        1,
        &["diff", "kustomization", "app", "-n", ns, "--path", path],
    );
    assert!(
        run.stdout
            .contains(&format!("ConfigMap/{ns}/app-config drifted")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("-  color: green\n+  color: red\n"),
        "{}",
        run.stdout
    );
    std::fs::write(
        dir.path().join("config.yaml"),
        CONFIG.replace("blue", "green"),
    )
    .unwrap();
    let run = expect(
        kc,
        0,
        &["diff", "kustomization", "app", "-n", ns, "--path", path],
    );
    assert!(run.stderr.contains("no changes"), "{}", run.stderr);
    // A malformed manifest: the file is named, nothing is printed.
    std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
    for verb in ["build", "diff"] {
        let run = expect(
            kc,
            1,
            &[verb, "kustomization", "app", "-n", ns, "--path", path],
        );
        assert!(run.stderr.contains("broken.yaml"), "{verb}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{verb}: {}", run.stdout);
    }
    let missing = dir.path().join("absent");
    let missing = missing.to_str().unwrap();
    let run = expect(
        kc,
        2,
        &["build", "kustomization", "app", "-n", ns, "--path", missing],
    );
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
}

fn user_errors(kc: &std::path::Path, ns: &str) {
    let run = expect(kc, 1, &["reconcile", "kustomization", "missing", "-n", ns]);
    assert!(run.stderr.contains("'missing' not found"), "{}", run.stderr);
    assert!(
        run.stderr.contains("ferroflux get kustomization"),
        "{}",
        run.stderr
    );
    let run = expect(kc, 2, &["get", "sources", "svn", "-n", ns]);
    assert!(
        run.stderr.contains("unknown source kind 'svn'"),
        "{}",
        run.stderr
    );
    let run = ferroflux(
        kc,
        &[
            "create",
            "alert",
            "a",
            "--provider-ref",
            "p",
            "--event-source",
            "app",
            "--export",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("needs a kind"), "{}", run.stderr);
    // --export needs no cluster at all.
    let nowhere = std::path::Path::new("/nonexistent/kubeconfig");
    let run = expect(
        nowhere,
        0,
        &[
            "create",
            "alert-provider",
            "slack",
            "--type",
            "slack",
            "--channel",
            "ops",
            "--secret-ref",
            "slack-url",
            "--export",
        ],
    );
    assert_eq!(
        run.stdout,
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: slack\n  namespace: flux-system\nspec:\n  channel: ops\n  secretRef:\n    name: slack-url\n  type: slack\n"
    );
    let run = expect(nowhere, 3, &["get", "ks"]);
    assert!(
        run.stderr.contains("cannot reach the cluster"),
        "{}",
        run.stderr
    );
}

/// `create secret git` then `create source git --secret-ref`: a private
/// repository fetched with the stored credentials; a wrong password is
/// reported without showing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_secret_opens_a_private_repository() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (_client, ns) = ferroflux_testenv::setup("cli-secret", &ferroflux_api::all_crds()).await;
    let kc = ferroflux_testenv::shared().unwrap().kubeconfig();
    let auth = ferroflux_testenv::git::BasicAuth {
        username: "team".into(),
        password: "door-code-1".into(),
    };
    let server = GitServer::start(Some(auth)).await.unwrap();
    let repo = server
        .create_repo("private", "main", &[("deploy/config.yaml", CONFIG)])
        .unwrap();
    let url = server.url("private");
    let _source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        kc,
        &ns,
        &[],
    );
    let secret = |name: &str, password: &str| {
        let args = [
            "create", "secret", "git", name, "-n", &ns, "--url", &url, "-u", "team", "-p", password,
        ];
        let run = expect(kc, 0, &args);
        assert!(!run.stderr.contains(password), "{}", run.stderr);
    };
    secret("team-creds", "door-code-1");
    let source = |name: &str, secret: &str, code: i32| {
        let args = [
            "create",
            "source",
            "git",
            name,
            "-n",
            &ns,
            "--url",
            &url,
            "--secret-ref",
            secret,
            "--timeout",
            "30s",
        ];
        expect(kc, code, &args)
    };
    let run = source("private", "team-creds", 0);
    let head = format!("main@sha1:{}", repo.head().unwrap());
    assert!(
        run.stderr.contains(&format!("fetched revision: {head}")),
        "{}",
        run.stderr
    );

    secret("wrong-creds", "guessed-9");
    let run = source("guessed", "wrong-creds", 1);
    assert!(run.stderr.contains("authentication"), "{}", run.stderr);
    assert!(!run.stderr.contains("guessed-9"), "{}", run.stderr);
}
