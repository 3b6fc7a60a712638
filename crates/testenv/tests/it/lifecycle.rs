//! The control plane starts, serves real workloads, stops with nothing left
//! behind, and reports a broken start-up by step with its log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferroflux_testenv::{ControlPlane, Error, Options, namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};

/// Polls `check` every 100 ms until it returns true or `timeout` passes.
fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        // Polling interval of a wait bounded by the deadline above.
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: u32) -> bool {
    // A reaped or never-existing pid has no /proc entry; a zombie still has one
    // but reports state Z, which counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

fn port_of(server: &str) -> u16 {
    server.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn starts_and_stops_cleanly_three_times_in_a_row() {
    for round in 1..=3 {
        let cp = ControlPlane::start().unwrap_or_else(|e| panic!("round {round}: {e}"));
        let pids = cp.pids();
        let dir = cp.dir().to_path_buf();
        let port = port_of(cp.server());
        assert_eq!(pids.len(), 3, "{pids:?}");

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = cp.client().await.unwrap();
            let ns = namespace(&client, "lifecycle").await.unwrap();
            let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some("round".into());
            cm.data = Some([("n".to_string(), round.to_string())].into());
            cms.create(&PostParams::default(), &cm).await.unwrap();
            let back = cms.get("round").await.unwrap();
            assert_eq!(back.data.unwrap()["n"], round.to_string());
        });

        cp.stop();
        for (name, pid) in &pids {
            assert!(
                !alive(*pid),
                "round {round}: {name} (pid {pid}) still runs after stop"
            );
        }
        assert!(
            !dir.exists(),
            "round {round}: {} was not removed",
            dir.display()
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "round {round}: the API server port {port} still accepts connections"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_manager_turns_a_deployment_into_pods() {
    let cp = ferroflux_testenv::shared().expect("shared control plane");
    let client: Client = cp.client().await.unwrap();
    let ns = namespace(&client, "workloads").await.unwrap();
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();

    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .len();
        if n == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the controller manager made {n} of 2 pods in 30s"
        );
        // Polling interval of a wait bounded by the deadline above.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The harness process is killed with SIGKILL, so none of its cleanup code
/// runs: the guardian must still stop every component and remove the directory.
#[test]
fn a_killed_harness_leaves_no_process_or_directory_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroflux-testenv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut dir = None;
    let mut pids = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(path) = line.trim().strip_prefix("state directory: ") {
            dir = Some(PathBuf::from(path));
        }
        if let Some(list) = line.trim().strip_prefix("component pids: ") {
            pids = list
                .split_whitespace()
                .map(|kv| kv.split_once('=').unwrap().1.parse::<u32>().unwrap())
                .collect();
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let dir = dir.expect("the harness printed its state directory");
    assert_eq!(pids.len(), 3, "the harness printed three component pids");
    assert!(pids.iter().all(|p| alive(*p)));

    child.kill().unwrap();
    child.wait().unwrap();

    wait_until(
        "every component has exited",
        Duration::from_secs(30),
        || !pids.iter().any(|p| alive(*p)),
    );
    wait_until(
        "the state directory is removed",
        Duration::from_secs(30),
        || !Path::new(&dir).exists(),
    );
}

#[test]
fn missing_binaries_name_the_binary_and_the_fix() {
    let empty = std::env::temp_dir().join(format!("ferroflux-empty-bin-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = ControlPlane::start_with(&Options {
        bin_dir: Some(empty.clone()),
        ..Options::default()
    })
    .expect_err("no binaries, no control plane");
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(
        matches!(
            err,
            Error::MissingBinary {
                name: "kube-apiserver",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("make deps"), "{err}");
}

#[test]
fn a_component_that_fails_to_start_is_reported_with_its_log() {
    let err = ControlPlane::start_with(&Options {
        extra_apiserver_args: vec!["--no-such-flag=1".into()],
        ..Options::default()
    })
    .expect_err("an unknown flag stops the API server");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Exited {
                component: "kube-apiserver",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("no-such-flag"),
        "the log tail shows the API server's own complaint: {text}"
    );
}

/// The stable APIs the controllers will use (leases for leader election,
/// events.k8s.io/v1 for events, status subresources) work between kube 5 and
/// this Kubernetes 1.20 server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_events_and_status_writes_work_on_this_server_version() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::events::v1::Event;
    use kube::api::{Patch, PatchParams};

    let cp = ferroflux_testenv::shared().expect("shared control plane");
    let client: Client = cp.client().await.unwrap();
    let ns = namespace(&client, "apis").await.unwrap();

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "source-controller-leader"},
        "spec": {"holderIdentity": "replica-a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let patch = serde_json::json!({"spec": {"holderIdentity": "replica-b"}});
    leases
        .patch(
            "source-controller-leader",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let back = leases.get("source-controller-leader").await.unwrap();
    assert_eq!(
        back.spec.unwrap().holder_identity.as_deref(),
        Some("replica-b")
    );

    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let event: Event = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "podinfo.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "source-controller",
        "reportingInstance": "source-controller-0",
        "action": "Reconcile",
        "reason": "NewArtifact",
        "type": "Normal",
        "note": "stored artifact for commit 'abc'",
        "regarding": {"kind": "GitRepository", "namespace": ns, "name": "podinfo"}
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let listed = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].reason.as_deref(), Some("NewArtifact"));

    // A Deployment scaled to zero becomes Available through the controller
    // manager alone (no kubelet needed): health checks can rely on it. Writing
    // a Deployment's status by hand would race the deployment controller.
    let deployments: Api<Deployment> = Api::namespaced(client, &ns);
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "a", "image": "a"}]}}
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();
    let deployments = &deployments;
    ferroflux_testenv::eventually(
        "the zero-replica Deployment is Available",
        Duration::from_secs(30),
        || async move {
            let d = deployments.get_status("app").await.unwrap();
            let status = d.status?;
            let available = status
                .conditions?
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True");
            (available && status.observed_generation == d.metadata.generation).then_some(())
        },
    )
    .await;
}
