//! Flux's artifact verbs against a real `docker-registry` (HTTPS with a test
//! CA, htpasswd), and `create`/`get`/`reconcile source oci` with the
//! source-controller as its own process.

use std::path::Path;
use std::time::Duration;

use ferroflux_oci::auth::Credentials;
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};
use ferroflux_testenv::controller::{SourceController, workspace_binary};
use ferroflux_testenv::git::BasicAuth;
use ferroflux_testenv::registry::{
    Registry as TestRegistry, RegistryOptions as TestRegistryOptions,
};

use crate::{expect, ferroflux};

const PASSWORD: &str = "cli-registry-password";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// What Flux's `push artifact` writes: its config and content media types
/// and the three annotations.
async fn assert_written_as_flux_does(registry: &TestRegistry, digest: &str) {
    let client = Registry::new(RegistryOptions {
        insecure: false,
        ca_pem: Some(registry.ca_pem().unwrap().as_bytes().to_vec()),
        credentials: Some(Credentials {
            username: "flux".into(),
            password: PASSWORD.into(),
        }),
        timeout: Some(Duration::from_secs(20)),
    })
    .unwrap();
    let parsed = OciUrl::parse(&registry.url("org/app"), false).unwrap();
    let manifest = client.manifest(&parsed, Some("v1"), None).await.unwrap();
    assert_eq!(manifest.digest, digest);
    assert_eq!(
        manifest.manifest.config.media_type,
        "application/vnd.cncf.flux.config.v1+json"
    );
    assert_eq!(manifest.manifest.layers.len(), 1);
    assert_eq!(
        manifest.manifest.layers[0].media_type,
        "application/vnd.cncf.flux.content.v1.tar+gzip"
    );
    let annotations = manifest.annotations();
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://github.com/org/app"
    );
    assert_eq!(
        annotations["org.opencontainers.image.revision"],
        "main@sha1:0123abcd"
    );
    assert!(annotations.contains_key("org.opencontainers.image.created"));
}

/// `list artifacts` shows both tags of the one artifact, in tag order.
fn assert_listed(stdout: &str, repository: &str, digest: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("ARTIFACT"), "{stdout}");
    for (line, tag) in lines[1..].iter().zip(["latest", "v1"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                format!("{repository}:{tag}").as_str(),
                digest,
                "https://github.com/org/app",
                "main@sha1:0123abcd"
            ],
            "{stdout}"
        );
    }
}

/// A refused login fails with exit code 1, a clear message and no password.
fn assert_wrong_credentials_refused(kc: &Path, repository: &str, ca_flag: &str) {
    let run = ferroflux(
        kc,
        &[
            "list",
            "artifacts",
            repository,
            "--creds",
            "flux:wrong-password-here",
            ca_flag,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("refused the credentials"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("wrong-password-here"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_tag_and_list_write_what_flux_push_artifact_writes() {
    let registry = TestRegistry::start(TestRegistryOptions {
        tls: true,
        auth: Some(BasicAuth {
            username: "flux".into(),
            password: PASSWORD.into(),
        }),
    })
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.crt");
    std::fs::write(&ca, registry.ca_pem().unwrap()).unwrap();
    let content = work.path().join("content");
    write(
        &content,
        &[
            ("deploy/app.yaml", "kind: ConfigMap\n"),
            ("README.md", "hi\n"),
        ],
    );
    let creds = format!("flux:{PASSWORD}");
    let ca_flag = format!("--ca-file={}", ca.display());
    let kc = Path::new("/nonexistent-kubeconfig");
    let url = format!("{}:v1", registry.url("org/app"));
    let run = expect(
        kc,
        0,
        &[
            "push",
            "artifact",
            &url,
            "--path",
            content.to_str().unwrap(),
            "--source",
            "https://github.com/org/app",
            "--revision",
            "main@sha1:0123abcd",
            "--creds",
            &creds,
            &ca_flag,
        ],
    );
    let pushed = run.stdout.trim().to_owned();
    let digest = pushed
        .strip_prefix(&format!("{}@", registry.url("org/app")))
        .unwrap_or_else(|| panic!("push printed {pushed}"))
        .to_owned();
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);

    assert_written_as_flux_does(&registry, &digest).await;

    let out = work.path().join("pulled");
    expect(
        kc,
        0,
        &[
            "pull",
            "artifact",
            &url,
            "--output",
            out.to_str().unwrap(),
            "--creds",
            &creds,
            &ca_flag,
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("deploy/app.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("README.md")).unwrap(),
        "hi\n"
    );

    expect(
        kc,
        0,
        &[
            "tag", "artifact", &url, "--tag", "latest", "--creds", &creds, &ca_flag,
        ],
    );
    let run = expect(
        kc,
        0,
        &[
            "list",
            "artifacts",
            &registry.url("org/app"),
            "--creds",
            &creds,
            &ca_flag,
        ],
    );
    assert_listed(&run.stdout, registry.url("org/app").as_str(), &digest);

    assert_wrong_credentials_refused(kc, &registry.url("org/app"), &ca_flag);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_and_reconcile_source_oci() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (_client, ns) = ferroflux_testenv::setup("cli-oci", &ferroflux_api::all_crds()).await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    let registry = TestRegistry::start(TestRegistryOptions::default()).unwrap();
    let work = tempfile::tempdir().unwrap();
    write(work.path(), &[("a.yaml", "a: 1\n")]);
    let push = |tag: &str| {
        let run = expect(
            kc,
            0,
            &[
                "push",
                "artifact",
                &format!("{}:{tag}", registry.url("app")),
                "--path",
                work.path().to_str().unwrap(),
                "--source",
                "https://github.com/org/app",
                "--revision",
                &format!("main@sha1:{tag}"),
                "--insecure-registry",
            ],
        );
        let pushed = run.stdout.trim().to_owned();
        pushed.rsplit_once('@').unwrap().1.to_owned()
    };
    let first = push("1.0.0");
    let _source = SourceController::start(
        &workspace_binary("ferroflux-source-controller"),
        kc,
        &ns,
        &[],
    );
    let run = expect(
        kc,
        0,
        &[
            "create",
            "source",
            "oci",
            "app",
            "-n",
            &ns,
            "--url",
            &registry.url("app"),
            "--tag-semver",
            "1.x",
            "--insecure",
            "--interval",
            "1h",
        ],
    );
    assert!(
        run.stderr.contains(&format!("1.0.0@{first}")),
        "{}",
        run.stderr
    );
    let run = expect(kc, 0, &["get", "sources", "oci", "-n", &ns]);
    assert!(
        run.stdout.contains("app") && run.stdout.contains(&format!("1.0.0@{first}")),
        "{}",
        run.stdout
    );

    write(work.path(), &[("a.yaml", "a: 2\n")]);
    let second = push("1.1.0");
    let run = expect(kc, 0, &["reconcile", "source", "oci", "app", "-n", &ns]);
    assert!(
        run.stderr.contains(&format!("1.1.0@{second}")),
        "{}",
        run.stderr
    );
}
