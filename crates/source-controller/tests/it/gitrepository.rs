//! GitRepository end to end: the source-controller binary as its own process,
//! the real control plane, a real git server, and the artifact over real HTTP.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferroflux_api::meta::Condition;
use ferroflux_api::source::GitRepository;
use ferroflux_artifact::fetch::{Options as FetchOptions, fetch};
use ferroflux_artifact::storage::{Retention, Storage};
use ferroflux_runtime::conditions;
use ferroflux_runtime::controller::{Options, run};
use ferroflux_source_controller::gitrepository::GitRepositoryReconciler;
use ferroflux_testenv::git::{BasicAuth, GitServer};
use ferroflux_testenv::{eventually, eventually_gone};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

const PASSWORD: &str = "hunter2-git-password";

/// The source-controller binary watching one namespace; killed on drop.
pub(crate) struct Controller {
    child: Child,
    metrics_port: u16,
    health_port: u16,
    pub(crate) storage: tempfile::TempDir,
    log: std::path::PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Controller {
    pub(crate) fn start(ns: &str) -> Self {
        Self::start_with(ns, "source-controller-0", &[])
    }

    /// Starts the binary as pod `pod` with `extra` flags.
    fn start_with(ns: &str, pod: &str, extra: &[&str]) -> Self {
        let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (port, metrics_port, health_port) = (free(), free(), free());
        let storage = tempfile::tempdir().unwrap();
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("source-controller.log");
        let child = Command::new(env!("CARGO_BIN_EXE_ferroflux-source-controller"))
            .args([
                "--watch-all-namespaces=false",
                "--log-encoding=console",
                "--log-level=debug",
            ])
            .arg(format!("--storage-path={}", storage.path().display()))
            .arg(format!("--storage-addr=127.0.0.1:{port}"))
            .arg(format!("--storage-adv-addr=127.0.0.1:{port}"))
            .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
            .arg(format!("--health-addr=127.0.0.1:{health_port}"))
            .env("KUBECONFIG", cp.kubeconfig())
            .args(extra)
            .env("RUNTIME_NAMESPACE", ns)
            .env("POD_NAME", pod)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            metrics_port,
            health_port,
            storage,
            log,
            _log_dir: log_dir,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A git server demanding user `flux` with `password`, over HTTPS when `tls`.
async fn basic_auth_server(password: &str, tls: bool) -> GitServer {
    let auth = Some(BasicAuth {
        username: "flux".into(),
        password: password.into(),
    });
    if tls {
        GitServer::start_tls(auth).await.unwrap()
    } else {
        GitServer::start(auth).await.unwrap()
    }
}

async fn client_and_namespace(prefix: &str) -> (Client, String) {
    ferroflux_testenv::setup(prefix, &ferroflux_api::all_crds()).await
}

async fn secret(client: &Client, ns: &str, password: &str) {
    secret_with(
        client,
        ns,
        serde_json::json!({"username": "flux", "password": password}),
    )
    .await;
}

/// Creates the Secret `git-auth` with `string_data`.
async fn secret_with(client: &Client, ns: &str, string_data: serde_json::Value) {
    named_secret(client, ns, "git-auth", string_data).await;
}

/// Creates the Secret `name` with `string_data`.
async fn named_secret(client: &Client, ns: &str, name: &str, string_data: serde_json::Value) {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "stringData": string_data
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn git_repository(
    name: &str,
    url: &str,
    reference: &serde_json::Value,
    secret: bool,
) -> GitRepository {
    let mut spec = serde_json::json!({"url": url, "interval": "1h", "ref": reference});
    if secret {
        spec["secretRef"] = serde_json::json!({"name": "git-auth"});
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// Creates the GitRepository `name` following `main` at `url`, with the
/// `git-auth` Secret when `secret`.
async fn create_on_main(api: &Api<GitRepository>, name: &str, url: &str, secret: bool) {
    let reference = serde_json::json!({"branch": "main"});
    api.create(
        &PostParams::default(),
        &git_repository(name, url, &reference, secret),
    )
    .await
    .unwrap();
}

async fn wait_for(
    api: &Api<GitRepository>,
    name: &str,
    what: &str,
    check: impl Fn(&GitRepository) -> bool,
) -> GitRepository {
    let check = &check;
    eventually(what, Duration::from_secs(30), || async move {
        let obj = api.get(name).await.unwrap();
        check(&obj).then_some(obj)
    })
    .await
}

fn condition<'a>(obj: &'a GitRepository, type_: &str) -> Option<&'a Condition> {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, type_))
}

fn revision(obj: &GitRepository) -> Option<String> {
    obj.status
        .as_ref()
        .and_then(|s| s.artifact.as_ref())
        .map(|a| a.revision.clone())
}

fn ready_at(obj: &GitRepository, want: &str) -> bool {
    condition(obj, "Ready").is_some_and(|c| c.status == "True")
        && revision(obj).as_deref() == Some(want)
}

async fn request_reconcile(api: &Api<GitRepository>, name: &str, token: &str) {
    let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_repository_becomes_ready_with_a_served_verified_artifact_minus_ignored_files() {
    let (client, ns) = client_and_namespace("src-ready").await;
    let server = basic_auth_server(PASSWORD, false).await;
    let work = server
        .create_repo(
            "podinfo",
            "main",
            &[
                ("kustomize/deployment.yaml", "kind: Deployment\n"),
                (
                    "kustomize/kustomization.yaml",
                    "resources: [deployment.yaml]\n",
                ),
                (".github/workflows/ci.yaml", "on: push\n"),
                ("docs/logo.png", "png"),
                ("scratch/notes.txt", "drafts\n"),
                (".sourceignore", "scratch/\n"),
            ],
        )
        .unwrap();
    let sha = work.head().unwrap();
    secret(&client, &ns, PASSWORD).await;
    let controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "podinfo", &server.url("podinfo"), true).await;

    let want = format!("main@sha1:{sha}");
    let obj = wait_for(&api, "podinfo", "Ready at the first commit", |o| {
        ready_at(o, &want)
    })
    .await;
    assert_eq!(
        condition(&obj, "Ready").unwrap().message,
        format!("stored artifact for revision '{want}'")
    );
    assert_eq!(condition(&obj, "ArtifactInStorage").unwrap().status, "True");
    let artifact = obj.status.unwrap().artifact.unwrap();
    assert_eq!(
        artifact.path,
        format!("gitrepository/{ns}/podinfo/{sha}.tar.gz")
    );

    let dest = tempfile::tempdir().unwrap();
    fetch(
        &reqwest_client(),
        &artifact.url,
        artifact.digest.as_deref().unwrap(),
        dest.path(),
        FetchOptions::default(),
    )
    .await
    .unwrap();
    assert!(dest.path().join("kustomize/deployment.yaml").is_file());

    let http = reqwest_client();
    let metrics = http
        .get(format!(
            "http://127.0.0.1:{}/metrics",
            controller.metrics_port
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ready = format!(
        "gotk_reconcile_condition{{kind=\"GitRepository\",name=\"podinfo\",namespace=\"{ns}\",type=\"Ready\",status=\"True\"}} 1"
    );
    assert!(metrics.contains(&ready), "{metrics}");
    let health = http
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            controller.health_port
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    for excluded in [".github", "docs/logo.png", "scratch", ".git"] {
        assert!(
            !dest.path().join(excluded).exists(),
            "{excluded} should not be in the artifact"
        );
    }
    drop(controller);
}

fn reqwest_client() -> ferroflux_artifact::fetch::HttpClient {
    ferroflux_tls::http_client()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_not_ready_and_appears_in_no_status_or_log_line() {
    let (client, ns) = client_and_namespace("src-auth").await;
    let server = basic_auth_server("the-right-one", false).await;
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    secret(&client, &ns, PASSWORD).await;
    let controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "app", &server.url("app"), true).await;
    let obj = wait_for(&api, "app", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let ready = condition(&obj, "Ready").unwrap();
    assert_eq!(ready.reason, "AuthenticationFailed", "{ready:?}");
    assert!(
        ready.message.contains("username and password"),
        "the message says what to fix: {}",
        ready.message
    );
    assert_eq!(condition(&obj, "FetchFailed").unwrap().status, "True");
    assert!(!serde_json::to_string(&obj).unwrap().contains(PASSWORD));
    // The log line follows the status patch, so wait for it.
    let log = eventually("the failure is logged", Duration::from_secs(20), || async {
        let log = controller.log();
        log.contains("reconcile failed").then_some(log)
    })
    .await;
    assert!(!log.contains(PASSWORD), "the password leaked into the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_says_which_secret_to_create() {
    let (client, ns) = client_and_namespace("src-nosecret").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let _controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "app", &server.url("app"), true).await;
    let obj = wait_for(&api, "app", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let message = &condition(&obj, "Ready").unwrap().message;
    assert!(
        message.contains(&format!("Secret '{ns}/git-auth'")) && message.contains("does not exist"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_git_server_keeps_the_last_artifact_served_and_deletion_removes_it() {
    let (client, ns) = client_and_namespace("src-down").await;
    let mut server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    work.tag("v1.0.0").unwrap();
    work.commit(&[("a.yaml", "a: 2\n")], "two").unwrap();
    work.tag("v1.1.0").unwrap();
    let tagged = work.head().unwrap();
    work.commit(&[("a.yaml", "a: 3\n")], "three").unwrap();
    let controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    let constraint = serde_json::json!({"semver": ">=1.0.0 <2.0.0"});
    api.create(
        &PostParams::default(),
        &git_repository("app", &server.url("app"), &constraint, false),
    )
    .await
    .unwrap();
    let want = format!("v1.1.0@sha1:{tagged}");
    let obj = wait_for(&api, "app", "Ready at the highest matching tag", |o| {
        ready_at(o, &want)
    })
    .await;
    let artifact = obj.status.unwrap().artifact.unwrap();

    server.stop();
    request_reconcile(&api, "app", "after-the-server-stopped").await;
    let obj = wait_for(&api, "app", "Ready=False with the git server down", |o| {
        condition(o, "Ready")
            .is_some_and(|c| c.status == "False" && c.reason == "GitOperationFailed")
    })
    .await;
    assert_eq!(
        condition(&obj, "ArtifactInStorage").unwrap().status,
        "True",
        "the last artifact is still stored"
    );
    assert_eq!(
        revision(&obj).as_deref(),
        Some(want.as_str()),
        "status still points at the last good artifact"
    );
    let dest = tempfile::tempdir().unwrap();
    fetch(
        &reqwest_client(),
        &artifact.url,
        artifact.digest.as_deref().unwrap(),
        dest.path(),
        FetchOptions::default(),
    )
    .await
    .expect("the last artifact is still served");
    assert_eq!(
        std::fs::read_to_string(dest.path().join("a.yaml")).unwrap(),
        "a: 2\n"
    );

    api.delete("app", &DeleteParams::default()).await.unwrap();
    eventually_gone(&api, "app", Duration::from_secs(30)).await;
    assert!(
        !controller
            .storage
            .path()
            .join(format!("gitrepository/{ns}/app"))
            .exists(),
        "its artifacts were not deleted"
    );
}

/// In-process, to read the clone counter: an unchanged remote is not cloned
/// again, and a new commit is fetched as soon as a reconcile is requested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commit_is_fetched_on_request_and_an_unchanged_remote_is_not_cloned() {
    let (client, ns) = client_and_namespace("src-commits").await;
    let server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let first = work.head().unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "app", &server.url("app"), false).await;
    wait_for(&api, "app", "Ready at the first commit", |o| {
        ready_at(o, &format!("main@sha1:{first}"))
    })
    .await;
    assert_eq!(reconciler.clones.load(Ordering::SeqCst), 1);

    request_reconcile(&api, "app", "unchanged").await;
    wait_for(&api, "app", "the unchanged request is handled", |o| {
        o.status
            .as_ref()
            .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
            == Some("unchanged")
    })
    .await;
    assert_eq!(
        reconciler.clones.load(Ordering::SeqCst),
        1,
        "an unchanged remote was cloned again"
    );

    let second = work.commit(&[("a.yaml", "a: 2\n")], "second").unwrap();
    request_reconcile(&api, "app", "new-commit").await;
    wait_for(&api, "app", "Ready at the new commit", |o| {
        ready_at(o, &format!("main@sha1:{second}"))
    })
    .await;
    assert_eq!(reconciler.clones.load(Ordering::SeqCst), 2);

    // Regression: a changed spec.ignore at the same revision must rebuild the
    // artifact (the unchanged-remote shortcut once ignored it).
    let before = api
        .get("app")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap()
        .digest;
    let ignore = serde_json::json!({"spec": {"ignore": "a.yaml\n"}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(&ignore))
        .await
        .unwrap();
    let obj = wait_for(
        &api,
        "app",
        "the artifact is rebuilt with the new ignore rules",
        |o| {
            o.status.as_ref().is_some_and(|s| {
                s.observed_ignore.as_deref() == Some("a.yaml\n")
                    && s.artifact.as_ref().map(|a| &a.digest) != Some(&before)
            })
        },
    )
    .await;
    assert_eq!(
        revision(&obj).as_deref(),
        Some(format!("main@sha1:{second}").as_str())
    );
    assert_eq!(reconciler.clones.load(Ordering::SeqCst), 3);
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_replicas_one_leads_and_the_other_takes_over_when_it_is_killed() {
    use k8s_openapi::api::coordination::v1::Lease;

    let (client, ns) = client_and_namespace("src-leader").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let election = [
        "--enable-leader-election",
        "--leader-election-lease-duration=3s",
        "--leader-election-renew-deadline=2s",
        "--leader-election-retry-period=200ms",
    ];
    let mut replicas = [
        Some(Controller::start_with(&ns, "replica-a", &election)),
        Some(Controller::start_with(&ns, "replica-b", &election)),
    ];
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let holder = || async {
        leases
            .get_opt("source-controller-leader-election")
            .await
            .unwrap()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    };
    let leader = eventually("a replica takes the lease", Duration::from_secs(30), holder).await;
    let (leading, standby) = if leader == "replica-a" {
        (0, 1)
    } else {
        (1, 0)
    };

    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "first", &server.url("app"), false).await;
    wait_for(&api, "first", "the leader reconciles", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "True")
    })
    .await;
    let standby_log = eventually(
        "the standby waits for leadership",
        Duration::from_secs(20),
        || async {
            let log = replicas[standby].as_ref().unwrap().log();
            log.contains("waiting for leadership").then_some(log)
        },
    )
    .await;
    assert!(
        !standby_log.contains("acquired leadership"),
        "both replicas lead: {standby_log}"
    );

    // SIGKILL: no release, so the standby must wait for the Lease to expire.
    replicas[leading] = None;
    let standby_name = if standby == 0 {
        "replica-a"
    } else {
        "replica-b"
    };
    eventually(
        "the standby takes over",
        Duration::from_secs(30),
        || async { (holder().await.as_deref() == Some(standby_name)).then_some(()) },
    )
    .await;
    create_on_main(&api, "second", &server.url("app"), false).await;
    wait_for(&api, "second", "the new leader reconciles", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "True")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_repository_with_a_custom_ca_and_basic_auth_becomes_ready() {
    let server = basic_auth_server(PASSWORD, true).await;
    let ca = server.ca_pem().unwrap().to_owned();
    ready_with_secret(
        "src-https",
        &server,
        serde_json::json!({"username": "flux", "password": PASSWORD, "ca.crt": ca}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_demanding_a_client_certificate_gets_the_secrets() {
    let server = GitServer::start_mtls().await.unwrap();
    let tls = server.client_certificate().unwrap();
    let data = serde_json::json!({"ca.crt": server.ca_pem().unwrap(),
                                  "tls.crt": tls.cert_pem, "tls.key": tls.key_pem});
    ready_with_secret("src-mtls", &server, data).await;
}

/// Serves a repository from `server` to a GitRepository whose Secret holds
/// `data`, and waits until it is Ready at the repository's commit.
async fn ready_with_secret(prefix: &str, server: &GitServer, data: serde_json::Value) {
    let (client, ns) = client_and_namespace(prefix).await;
    let work = server
        .create_repo("app", "main", &[("deploy/a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    secret_with(&client, &ns, data).await;
    let _controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "app", &server.url("app"), true).await;
    wait_for(&api, "app", "Ready with the Secret's credentials", |o| {
        ready_at(o, &format!("main@sha1:{sha}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_over_plain_http_is_refused_with_a_clear_message() {
    let (client, ns) = client_and_namespace("src-bearer").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    secret_with(
        &client,
        &ns,
        serde_json::json!({"bearerToken": "ghp_never-over-http"}),
    )
    .await;
    let _controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "app", &server.url("app"), true).await;
    let obj = wait_for(&api, "app", "Ready=False", |o| {
        condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let message = &condition(&obj, "Ready").unwrap().message;
    assert!(message.contains("only sent over https://"), "{message}");
    assert!(
        !serde_json::to_string(&obj)
            .unwrap()
            .contains("ghp_never-over-http")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_the_right_keys_becomes_ready_and_an_unknown_host_key_is_refused() {
    use ferroflux_testenv::ssh::SshServer;

    let (client, ns) = client_and_namespace("src-ssh").await;
    let server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    let sshd = tokio::task::spawn_blocking(SshServer::start)
        .await
        .unwrap()
        .unwrap();
    let identity = sshd.identity().unwrap();
    secret_with(
        &client,
        &ns,
        serde_json::json!({"identity": identity, "known_hosts": sshd.known_hosts().unwrap()}),
    )
    .await;
    named_secret(
        &client,
        &ns,
        "impostor",
        serde_json::json!({"identity": identity, "known_hosts": sshd.wrong_known_hosts().unwrap()}),
    )
    .await;
    let _controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    let url = sshd.url(&server.repo_path("app"));
    create_on_main(&api, "app", &url, true).await;
    wait_for(&api, "app", "Ready over SSH", |o| {
        ready_at(o, &format!("main@sha1:{sha}"))
    })
    .await;

    let mut suspicious = git_repository(
        "suspicious",
        &url,
        &serde_json::json!({"branch": "main"}),
        true,
    );
    suspicious.spec.secret_ref.as_mut().unwrap().name = "impostor".into();
    api.create(&PostParams::default(), &suspicious)
        .await
        .unwrap();
    let obj = wait_for(
        &api,
        "suspicious",
        "Ready=False for the unknown host key",
        |o| condition(o, "Ready").is_some_and(|c| c.status == "False"),
    )
    .await;
    assert_eq!(condition(&obj, "FetchFailed").unwrap().status, "True");
    assert!(
        obj.status.as_ref().unwrap().artifact.is_none(),
        "nothing was fetched from the unverified host"
    );
    assert!(!serde_json::to_string(&obj).unwrap().contains("PRIVATE KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_of_gitrepositories_deleted_while_no_controller_ran_are_removed_at_start() {
    use ferroflux_artifact::storage::ObjectKey;
    use ferroflux_source_controller::gitrepository::remove_orphaned_artifacts;

    let (client, ns) = client_and_namespace("src-orphans").await;
    let api: Api<GitRepository> = Api::namespaced(client.clone(), &ns);
    create_on_main(&api, "live", "http://127.0.0.1:1/live.git", false).await;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let src = tempfile::tempdir().unwrap();
    for (namespace, name) in [
        (ns.as_str(), "live"),
        (ns.as_str(), "deleted"),
        ("another-namespace", "theirs"),
    ] {
        storage
            .archive(
                &ObjectKey::new("GitRepository", namespace, name),
                src.path(),
                &ferroflux_artifact::archive::All,
                "a.tar.gz",
                "r",
            )
            .unwrap();
    }

    let removed = remove_orphaned_artifacts(&client, &storage, Some(&ns))
        .await
        .unwrap();
    assert_eq!(
        removed,
        vec![dir.path().join(format!("gitrepository/{ns}/deleted"))]
    );
    assert!(
        dir.path()
            .join(format!("gitrepository/{ns}/live/a.tar.gz"))
            .is_file()
    );
    assert!(
        dir.path()
            .join("gitrepository/another-namespace/theirs/a.tar.gz")
            .is_file(),
        "outside the watched namespace"
    );
}

/// Malformed Secrets: each GitRepository says what is wrong with its Secret,
/// naming the Secret and the key, and never fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_secrets_say_which_key_is_wrong() {
    let (client, ns) = client_and_namespace("src-badsecret").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let cases = [
        (
            "half",
            "http://127.0.0.1:1/app.git",
            serde_json::json!({"username": "flux"}),
            "must hold both 'username' and 'password'",
        ),
        (
            "badca",
            "https://127.0.0.1:1/app.git",
            serde_json::json!({"ca.crt": "not a certificate"}),
            "ca.crt",
        ),
        (
            "nohosts",
            "ssh://git@127.0.0.1:1/app.git",
            serde_json::json!({"identity": "key"}),
            "needs both 'identity'",
        ),
        (
            "halftls",
            "https://127.0.0.1:1/app.git",
            serde_json::json!({"tls.crt": "cert"}),
            "both 'tls.crt' and 'tls.key'",
        ),
    ];
    let _controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    for (name, url, data, _) in &cases {
        let secret: Secret = serde_json::from_value(
            serde_json::json!({"metadata": {"name": name}, "stringData": data}),
        )
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        let mut repo = git_repository(name, url, &serde_json::json!({"branch": "main"}), true);
        repo.spec.secret_ref.as_mut().unwrap().name = (*name).to_owned();
        api.create(&PostParams::default(), &repo).await.unwrap();
    }
    for (name, _, _, want) in &cases {
        let obj = wait_for(&api, name, "Ready=False", |o| {
            condition(o, "Ready").is_some_and(|c| c.status == "False")
        })
        .await;
        let ready = condition(&obj, "Ready").unwrap();
        assert!(
            ready.message.contains(&format!("Secret '{ns}/{name}'"))
                && ready.message.contains(want),
            "{name}: {}",
            ready.message
        );
        assert!(
            obj.status.as_ref().unwrap().artifact.is_none(),
            "{name} fetched something"
        );
    }
}

/// Runs `reconciler` in this process on namespace `ns` until the returned
/// sender is dropped.
fn run_in_process(
    client: &Client,
    ns: &str,
    reconciler: &Arc<GitRepositoryReconciler>,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        namespace: Some(ns.to_owned()),
        ..Options::default()
    };
    tokio::spawn(run::<GitRepository, _>(
        client.clone(),
        reconciler.clone(),
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    stop
}

/// GitRepository `app` with the sparse checkout `apps` and `deploy` of
/// GitRepository `shared` included at `vendor/shared`.
fn including_app(url: &str) -> GitRepository {
    let mut app = git_repository("app", url, &serde_json::json!({"branch": "main"}), false);
    app.spec.sparse_checkout = vec!["apps".into()];
    app.spec.include = vec![
        serde_json::from_value(serde_json::json!({
            "repository": {"name": "shared"},
            "fromPath": "deploy",
            "toPath": "vendor/shared",
        }))
        .unwrap(),
    ];
    app
}

/// Unpacks the stored artifact of `obj` from `storage` into a temp dir.
fn unpack_stored(storage: &std::path::Path, obj: &GitRepository) -> tempfile::TempDir {
    let artifact = obj.status.as_ref().unwrap().artifact.as_ref().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(storage.join(&artifact.path)).unwrap();
    ferroflux_artifact::extract::tar_gz(
        file,
        dest.path(),
        ferroflux_artifact::extract::Limits::default(),
    )
    .unwrap();
    dest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn includes_and_sparse_checkout_shape_the_artifact() {
    let (client, ns) = client_and_namespace("src-include").await;
    let server = GitServer::start(None).await.unwrap();
    let shared = server
        .create_repo(
            "shared",
            "main",
            &[("deploy/base/a.yaml", "a: 1\n"), ("other/b.yaml", "b: 1\n")],
        )
        .unwrap();
    let app = server
        .create_repo(
            "app",
            "main",
            &[
                ("apps/x.yaml", "x: 1\n"),
                ("apps/sub/y.yaml", "y: 1\n"),
                ("docs/z.md", "z\n"),
                ("scratch/w.yaml", "w: 1\n"),
            ],
        )
        .unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);

    // The including repository comes first: it waits for the included one.
    let including = including_app(&server.url("app"));
    api.create(&PostParams::default(), &including)
        .await
        .unwrap();
    let waiting = wait_for(
        &api,
        "app",
        "IncludeUnavailable while 'shared' is missing",
        |o| condition(o, "IncludeUnavailable").is_some_and(|c| c.status == "True"),
    )
    .await;
    let message = &condition(&waiting, "Ready").unwrap().message;
    assert!(
        message.contains("spec.include[0]")
            && message.contains(&format!("'{ns}/shared' does not exist")),
        "{message}"
    );

    create_on_main(&api, "shared", &server.url("shared"), false).await;
    let app_rev = format!("main@sha1:{}", app.head().unwrap());
    let obj = wait_for(&api, "app", "Ready with the include", |o| {
        ready_at(o, &app_rev)
    })
    .await;
    assert!(condition(&obj, "IncludeUnavailable").is_none());
    let unpacked = unpack_stored(storage_dir.path(), &obj);
    let root = unpacked.path();
    for present in [
        "apps/x.yaml",
        "apps/sub/y.yaml",
        "vendor/shared/base/a.yaml",
    ] {
        assert!(
            root.join(present).is_file(),
            "{present} missing from the artifact"
        );
    }
    for absent in ["docs", "scratch", "vendor/shared/other", "other"] {
        assert!(
            !root.join(absent).exists(),
            "{absent} should not be in the artifact"
        );
    }
    let status = obj.status.clone().unwrap();
    let shared_obj = api.get("shared").await.unwrap();
    let shared_artifact = shared_obj.status.unwrap().artifact.unwrap();
    assert_eq!(status.included_artifacts, vec![shared_artifact]);
    assert_eq!(status.observed_sparse_checkout, vec!["apps".to_owned()]);

    // A new commit in the included repository reaches the includer's artifact
    // at the same revision of its own.
    let shared_second = shared
        .commit(&[("deploy/base/a.yaml", "a: 2\n")], "second")
        .unwrap();
    request_reconcile(&api, "shared", "new-commit").await;
    wait_for(&api, "shared", "shared at its second commit", |o| {
        ready_at(o, &format!("main@sha1:{shared_second}"))
    })
    .await;
    request_reconcile(&api, "app", "included-changed").await;
    let obj = wait_for(&api, "app", "app rebuilt with the new include", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.included_artifacts
                .first()
                .is_some_and(|a| a.revision.ends_with(&shared_second))
        })
    })
    .await;
    assert_eq!(revision(&obj).as_deref(), Some(app_rev.as_str()));
    let unpacked = unpack_stored(storage_dir.path(), &obj);
    assert_eq!(
        std::fs::read_to_string(unpacked.path().join("vendor/shared/base/a.yaml")).unwrap(),
        "a: 2\n"
    );

    drop(stop);
}

/// Issue 15, defect 1: `toPath` was checked as text only, so a symbolic
/// link committed in the tenant's own repository (`vendor -> <elsewhere>`)
/// let the include be copied out of the checkout, over other tenants'
/// artifacts in storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_include_through_a_committed_symlink_is_refused_and_writes_nothing_outside() {
    let (client, ns) = client_and_namespace("src-include-link").await;
    let server = GitServer::start(None).await.unwrap();
    server
        .create_repo("shared", "main", &[("deploy/base/a.yaml", "a: 1\n")])
        .unwrap();
    let app = server
        .create_repo("app", "main", &[("apps/x.yaml", "x: 1\n")])
        .unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), app.path().join("vendor")).unwrap();
    let linked = app.commit(&[], "vendor is a link").unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "shared", &server.url("shared"), false).await;
    let mut including = including_app(&server.url("app"));
    including.spec.sparse_checkout.clear();
    api.create(&PostParams::default(), &including)
        .await
        .unwrap();
    let obj = wait_for(&api, "app", "the include refused", |o| {
        condition(o, "StorageOperationFailed").is_some_and(|c| c.status == "True")
    })
    .await;
    let message = &condition(&obj, "Ready").unwrap().message;
    assert!(
        message.contains("spec.include[0].toPath 'vendor/shared'")
            && message.contains("symbolic link 'vendor'"),
        "{message}"
    );
    assert!(revision(&obj).is_none(), "no artifact at {linked}");
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing may be written through the link"
    );
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_above_the_size_cap_is_refused_with_no_artifact() {
    use std::fmt::Write as _;

    let (client, ns) = client_and_namespace("src-too-big").await;
    let server = GitServer::start(None).await.unwrap();
    // 400 KB of hex from a xorshift generator: incompressible enough that the
    // fetched repository stays far above the 256 KiB cap.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise = (0..200_000).fold(String::new(), |mut out, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let _ = write!(out, "{:02x}", state & 0xff);
        out
    });
    server
        .create_repo("big", "main", &[("blob.txt", noise.as_str())])
        .unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(
        GitRepositoryReconciler::new(client.clone(), storage).with_max_repository_size(256 << 10),
    );
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    create_on_main(&api, "big", &server.url("big"), false).await;
    let big = wait_for(&api, "big", "the oversized repository is refused", |o| {
        condition(o, "Ready").is_some_and(|c| c.reason == "RepositoryTooLarge")
    })
    .await;
    let message = &condition(&big, "Ready").unwrap().message;
    assert!(message.contains("--max-repository-size"), "{message}");
    assert!(big.status.unwrap().artifact.is_none());
    assert!(
        !storage_dir
            .path()
            .join(format!("gitrepository/{ns}/big"))
            .exists()
    );
    drop(stop);
}

/// `identity` re-encrypted with `passphrase` by `ssh-keygen`.
fn encrypted_identity(identity: &str, passphrase: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, identity).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", passphrase, "-f"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let encrypted = std::fs::read_to_string(&file).unwrap();
    assert_ne!(encrypted, identity, "ssh-keygen rewrote the key");
    encrypted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passphrase_protected_ssh_key_is_decrypted_and_a_wrong_passphrase_is_named() {
    use ferroflux_testenv::ssh::SshServer;

    const PASSPHRASE: &str = "correct-horse-passphrase";
    const WRONG: &str = "not-the-passphrase-42";
    let (client, ns) = client_and_namespace("src-ssh-pass").await;
    let server = GitServer::start(None).await.unwrap();
    let work = server
        .create_repo("app", "main", &[("a.yaml", "a: 1\n")])
        .unwrap();
    let sha = work.head().unwrap();
    let sshd = tokio::task::spawn_blocking(SshServer::start)
        .await
        .unwrap()
        .unwrap();
    let identity = encrypted_identity(&sshd.identity().unwrap(), PASSPHRASE);
    let known_hosts = sshd.known_hosts().unwrap();
    secret_with(
        &client,
        &ns,
        serde_json::json!({"identity": identity, "known_hosts": known_hosts, "password": PASSPHRASE}),
    )
    .await;
    named_secret(
        &client,
        &ns,
        "wrong",
        serde_json::json!({"identity": identity, "known_hosts": known_hosts, "password": WRONG}),
    )
    .await;
    let controller = Controller::start(&ns);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    let url = sshd.url(&server.repo_path("app"));
    create_on_main(&api, "app", &url, true).await;
    wait_for(&api, "app", "Ready with the decrypted key", |o| {
        ready_at(o, &format!("main@sha1:{sha}"))
    })
    .await;

    let mut locked = git_repository("locked", &url, &serde_json::json!({"branch": "main"}), true);
    locked.spec.secret_ref.as_mut().unwrap().name = "wrong".into();
    api.create(&PostParams::default(), &locked).await.unwrap();
    let obj = wait_for(
        &api,
        "locked",
        "Ready=False for the wrong passphrase",
        |o| condition(o, "Ready").is_some_and(|c| c.status == "False"),
    )
    .await;
    let message = &condition(&obj, "Ready").unwrap().message;
    assert!(
        message.contains(&format!("Secret '{ns}/wrong'"))
            && message.contains("'password' does not decrypt 'identity'"),
        "{message}"
    );
    let everything = serde_json::to_string(&obj).unwrap() + &controller.log();
    for secret in [PASSPHRASE, WRONG] {
        assert!(!everything.contains(secret), "the passphrase leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurse_submodules_puts_each_submodule_at_its_recorded_commit_into_the_artifact() {
    let (client, ns) = client_and_namespace("src-submodules").await;
    let server = GitServer::start(None).await.unwrap();
    let lib = server
        .create_repo("lib", "main", &[("lib.yaml", "lib: 1\n")])
        .unwrap();
    let app = server
        .create_repo("app", "main", &[("app.yaml", "app: 1\n")])
        .unwrap();
    // Relative, as most .gitmodules are: resolved against the app's URL.
    let sha = app.add_submodule("../lib.git", "vendor/lib").unwrap();
    // A later lib commit the app does not record must not be checked out.
    lib.commit(&[("lib.yaml", "lib: 2\n")], "unrecorded")
        .unwrap();

    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    let reference = serde_json::json!({"branch": "main"});
    let mut with = git_repository("with", &server.url("app"), &reference, false);
    with.spec.recurse_submodules = true;
    api.create(&PostParams::default(), &with).await.unwrap();
    create_on_main(&api, "without", &server.url("app"), false).await;

    let rev = format!("main@sha1:{sha}");
    let obj = wait_for(&api, "with", "Ready with submodules", |o| ready_at(o, &rev)).await;
    assert!(obj.status.as_ref().unwrap().observed_recurse_submodules);
    let unpacked = unpack_stored(storage_dir.path(), &obj);
    assert_eq!(
        std::fs::read_to_string(unpacked.path().join("vendor/lib/lib.yaml")).unwrap(),
        "lib: 1\n"
    );
    assert!(!unpacked.path().join("vendor/lib/.git").exists());

    let obj = wait_for(&api, "without", "Ready without submodules", |o| {
        ready_at(o, &rev)
    })
    .await;
    let unpacked = unpack_stored(storage_dir.path(), &obj);
    assert!(unpacked.path().join("app.yaml").is_file());
    assert!(!unpacked.path().join("vendor/lib/lib.yaml").exists());
    drop(stop);
}

/// Issue 16, item 4: a duration the CRD's pattern lets through but that is
/// not a duration (it overflows) stalls the object, naming the field, the
/// same way for the interval and the timeout; nothing is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_that_does_not_parse_stalls_naming_the_field() {
    let (client, ns) = client_and_namespace("src-bad-duration").await;
    let storage_dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(storage_dir.path(), "127.0.0.1:1", Retention::default()).unwrap();
    let reconciler = Arc::new(GitRepositoryReconciler::new(client.clone(), storage));
    let stop = run_in_process(&client, &ns, &reconciler);
    let api: Api<GitRepository> = Api::namespaced(client, &ns);
    let too_long = "99999999999999999999999m";
    let reference = serde_json::json!({"branch": "main"});
    let mut bad_interval =
        git_repository("bad-interval", "http://127.0.0.1:1/x", &reference, false);
    bad_interval.spec.interval = too_long.into();
    let mut bad_timeout = git_repository("bad-timeout", "http://127.0.0.1:1/x", &reference, false);
    bad_timeout.spec.timeout = Some(too_long.into());
    for (obj, field, reason) in [
        (bad_interval, "spec.interval", "InvalidInterval"),
        (bad_timeout, "spec.timeout", "InvalidTimeout"),
    ] {
        let name = obj.metadata.name.clone().unwrap();
        api.create(&PostParams::default(), &obj).await.unwrap();
        let stalled = wait_for(&api, &name, "the object stalls", |o| {
            condition(o, "Stalled").is_some_and(|c| c.status == "True")
        })
        .await;
        let ready = condition(&stalled, "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reason)
        );
        assert_eq!(
            ready.message,
            format!("{field}: \"{too_long}\" is not a duration such as 30s, 5m or 1h30m")
        );
        assert!(revision(&stalled).is_none());
    }
    drop(stop);
}
