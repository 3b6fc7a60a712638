//! `create source bucket` against a real S3 server (`s3s-fs`) and the
//! source-controller process: the keys stored in a Secret, the Bucket
//! Ready, listed by `get sources bucket`, and `reconcile source bucket`
//! fetching a changed object at once.

use ferroflux_testenv::controller::{SourceController, workspace_binary};
use ferroflux_testenv::s3::S3Server;

use crate::expect;

const SECRET_KEY: &str = "cli-bucket-secret-key-5e2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_and_reconcile_a_bucket_source() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (_client, ns) = ferroflux_testenv::setup("cli-bucket", &ferroflux_api::all_crds()).await;
    let kc = ferroflux_testenv::shared().unwrap().kubeconfig();
    let server = S3Server::start("cli-access", SECRET_KEY).expect("s3s-fs starts (make deps)");
    server.create_bucket("manifests").unwrap();
    server
        .put_object("manifests", "deploy/config.yaml", b"color: blue\n")
        .unwrap();
    let _source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        kc,
        &ns,
        &[],
    );
    let host = server.host();
    let run = expect(
        kc,
        0,
        &[
            "create",
            "source",
            "bucket",
            "store",
            "-n",
            &ns,
            "--bucket-name",
            "manifests",
            "--endpoint",
            &host,
            "--insecure",
            "--access-key",
            "cli-access",
            "--secret-key",
            SECRET_KEY,
            "--interval",
            "1h",
            "--timeout",
            "60s",
        ],
    );
    assert!(
        run.stderr.contains("fetched revision: sha256:"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(SECRET_KEY), "{}", run.stderr);
    let first = run
        .stderr
        .split("fetched revision: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();

    let table = expect(kc, 0, &["get", "sources", "bucket", "-n", &ns]).stdout;
    let row = table
        .lines()
        .find(|l| l.starts_with("store "))
        .unwrap_or_default();
    assert!(row.contains(&first) && row.contains("True"), "{table}");

    server
        .put_object("manifests", "deploy/config.yaml", b"color: green\n")
        .unwrap();
    let run = expect(
        kc,
        0,
        &["reconcile", "source", "bucket", "store", "-n", &ns],
    );
    let second = run
        .stderr
        .split("fetched revision: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        second.starts_with("sha256:") && second != first,
        "{}",
        run.stderr
    );

    let run = expect(
        kc,
        2,
        &[
            "create",
            "source",
            "bucket",
            "half",
            "-n",
            &ns,
            "--bucket-name",
            "manifests",
            "--endpoint",
            &host,
            "--access-key",
            "cli-access",
        ],
    );
    assert!(run.stderr.contains("--secret-key"), "{}", run.stderr);
}
