//! HelmCharts from OCI registries end to end: charts packaged and pushed by
//! the reference `helm` to a real `docker-registry` (plain HTTP, or HTTPS
//! with htpasswd), HelmRepositories of `type: oci`, the real control plane,
//! and the reconcilers in process (to count chart downloads).

#![expect(
    clippy::too_many_lines,
    reason = "each test is one story over one registry and control plane; split, each part would repeat the setup"
)]

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferroflux_api::source::{GitRepository, HelmChart, HelmRepository};
use ferroflux_oci::auth::Credentials;
use ferroflux_oci::url::OciUrl;
use ferroflux_oci::{Registry, RegistryOptions};
use ferroflux_testenv::git::GitServer;
use ferroflux_testenv::registry::Registry as TestRegistry;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::gitrepository::{client_and_namespace, git_repository};
use crate::helm::{
    InProcess, chart_condition, chart_ready_at, chart_revision, events_of, from_repo, helm_chart,
    helm_repository, request_reconcile, start_in_process, wait_for,
};
use crate::ocirepository::{
    PASSWORD, WRONG_PASSWORD, create_secret, docker_secret, login, start_registry,
};

/// The reference `helm`, with its homes in a temp dir, packaging charts and
/// pushing them to one registry.
struct Helm {
    bin: PathBuf,
    work: tempfile::TempDir,
}

impl Helm {
    fn new() -> Self {
        Self {
            bin: ferroflux_testenv::reference_binary("helm")
                .expect("the reference helm (make deps)"),
            work: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let w = self.work.path();
        let out = std::process::Command::new(&self.bin)
            .args(args)
            .current_dir(w)
            .env("HELM_CACHE_HOME", w.join("cache"))
            .env("HELM_CONFIG_HOME", w.join("config"))
            .env("HELM_DATA_HOME", w.join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
    }

    /// Packages chart `name` at `version` (a ConfigMap template, `values`
    /// and a `values-prod.yaml`) with `helm package`; returns the bytes.
    fn package(&self, name: &str, version: &str, values: &str) -> Vec<u8> {
        let dir = self.work.path().join("src").join(name);
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: 0.0.1\n"),
        )
        .unwrap();
        std::fs::write(dir.join("values.yaml"), values).unwrap();
        std::fs::write(dir.join("values-prod.yaml"), "env: prod\n").unwrap();
        std::fs::write(
            dir.join("templates/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )
        .unwrap();
        self.run(&["package", dir.to_str().unwrap(), "--version", version]);
        std::fs::read(self.work.path().join(format!("{name}-{version}.tgz"))).unwrap()
    }

    /// Packages and pushes chart `name` at `version` to `<registry>/charts`
    /// with `helm push` (its CA and login when it has them); returns the
    /// pushed package.
    fn push(&self, registry: &TestRegistry, name: &str, version: &str, values: &str) -> Vec<u8> {
        let bytes = self.package(name, version, values);
        let mut args = vec![
            "push".to_owned(),
            format!("{name}-{version}.tgz"),
            format!("oci://{}/charts", registry.host()),
        ];
        match registry.ca_pem() {
            Some(pem) => {
                let ca_file = self.work.path().join("ca.pem");
                std::fs::write(&ca_file, pem).unwrap();
                args.extend(["--ca-file".to_owned(), ca_file.display().to_string()]);
            }
            None => args.push("--plain-http".to_owned()),
        }
        if let Some(auth) = registry.auth() {
            args.extend([
                "--username".to_owned(),
                auth.username.clone(),
                "--password".to_owned(),
                auth.password.clone(),
            ]);
        }
        self.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        bytes
    }
}

/// The digest of the chart layer of `charts/<name>:<tag>` in `registry`, as
/// its manifest gives it.
async fn chart_layer_digest(registry: &TestRegistry, name: &str, tag: &str) -> String {
    let client = Registry::new(RegistryOptions {
        insecure: registry.ca_pem().is_none(),
        ca_pem: registry.ca_pem().map(|p| p.as_bytes().to_vec()),
        credentials: registry.auth().map(|a| Credentials {
            username: a.username.clone(),
            password: a.password.clone(),
        }),
        timeout: Some(Duration::from_secs(20)),
    })
    .unwrap();
    let url = OciUrl::parse(&registry.url(&format!("charts/{name}")), false).unwrap();
    let manifest = client.manifest(&url, Some(tag), None).await.unwrap();
    manifest
        .manifest
        .layers
        .iter()
        .find(|l| {
            l.media_type == ferroflux_source_controller::helmchart::oci::CHART_LAYER_MEDIA_TYPE
        })
        .expect("helm push writes a chart layer")
        .digest
        .clone()
}

/// Creates the HelmRepository `name` of type `oci` at `url`.
async fn create_oci_repo(
    client: &Client,
    ns: &str,
    name: &str,
    url: &str,
    extra: serde_json::Value,
) {
    let mut spec = serde_json::json!({"type": "oci"});
    if let (Some(spec), serde_json::Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    Api::<HelmRepository>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &helm_repository(name, url, spec))
        .await
        .unwrap();
}

fn stored(running: &InProcess, obj: &HelmChart) -> Vec<u8> {
    let artifact = obj.status.as_ref().unwrap().artifact.as_ref().unwrap();
    std::fs::read(running.storage_dir.path().join(&artifact.path)).unwrap()
}

fn pulls(running: &InProcess) -> u64 {
    running.charts.pulls.load(Ordering::SeqCst)
}

fn handled(token: &'static str) -> impl Fn(&HelmChart) -> bool {
    move |o| {
        o.status
            .as_ref()
            .and_then(|s| s.reconcile_request.last_handled_reconcile_at.as_deref())
            == Some(token)
    }
}

/// Waits until the current generation was reconciled and Ready is `False`.
async fn wait_not_ready(charts: &Api<HelmChart>, name: &str) -> HelmChart {
    wait_for(charts, name, &format!("{name} is not Ready"), |o| {
        chart_condition(o, "Ready")
            .is_some_and(|c| c.status == "False" && c.observed_generation == o.metadata.generation)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semver_range_picks_the_highest_tag_follows_new_pushes_and_stores_the_registrys_exact_chart()
 {
    let (client, ns) = client_and_namespace("helmoci-semver").await;
    let registry = start_registry(false, false);
    let helm = Helm::new();
    helm.push(&registry, "demo", "1.0.0", "replicas: 1\n");
    let v120 = helm.push(&registry, "demo", "1.2.0", "replicas: 2\n");
    let v200 = helm.push(&registry, "demo", "2.0.0", "replicas: 3\n");
    let running = start_in_process(&client, &ns, false);
    let url = registry.url("charts");
    create_oci_repo(
        &client,
        &ns,
        "registry",
        &url,
        serde_json::json!({"insecure": true}),
    )
    .await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    charts
        .create(
            &PostParams::default(),
            &helm_chart("demo", from_repo("demo", "^1.0.0", "registry")),
        )
        .await
        .unwrap();

    let chart = wait_for(&charts, "demo", "Ready at 1.2.0", |o| {
        chart_ready_at(o, "1.2.0")
    })
    .await;
    let status = chart.status.clone().unwrap();
    let artifact = status.artifact.clone().unwrap();
    assert_eq!(artifact.path, format!("helmchart/{ns}/demo/demo-1.2.0.tgz"));
    assert_eq!(
        stored(&running, &chart),
        v120,
        "the stored chart is not the pushed one"
    );
    assert_eq!(
        artifact.digest.as_deref(),
        Some(
            chart_layer_digest(&registry, "demo", "1.2.0")
                .await
                .as_str()
        ),
        "the artifact's digest is not the registry's chart layer digest"
    );
    assert_eq!(status.observed_chart_name.as_deref(), Some("demo"));
    assert_eq!(
        status.observed_source_artifact_revision, None,
        "an OCI HelmRepository has no artifact to observe, as in Flux"
    );
    assert_eq!(
        chart_condition(&chart, "Ready").unwrap().message,
        "packaged 'demo' chart with version '1.2.0'"
    );
    assert_eq!(pulls(&running), 1);

    // Unchanged: nothing is downloaded, nothing written.
    request_reconcile(&charts, "demo", "unchanged").await;
    let again = wait_for(
        &charts,
        "demo",
        "the unchanged request",
        handled("unchanged"),
    )
    .await;
    assert_eq!(again.status.unwrap().artifact, Some(artifact.clone()));
    assert_eq!(
        pulls(&running),
        1,
        "an unchanged version was downloaded again"
    );

    // A newly pushed version in the range is followed; its build metadata
    // is `_` in the tag and `+` in the version.
    let v130 = helm.push(&registry, "demo", "1.3.0+build.7", "replicas: 4\n");
    request_reconcile(&charts, "demo", "new-version").await;
    let chart = wait_for(&charts, "demo", "Ready at 1.3.0+build.7", |o| {
        chart_ready_at(o, "1.3.0+build.7")
    })
    .await;
    assert_eq!(stored(&running, &chart), v130);
    let artifact = chart.status.unwrap().artifact.unwrap();
    assert_eq!(
        artifact.digest.as_deref(),
        Some(
            chart_layer_digest(&registry, "demo", "1.3.0_build.7")
                .await
                .as_str()
        )
    );
    assert_eq!(pulls(&running), 2);
    request_reconcile(&charts, "demo", "unchanged-with-metadata").await;
    wait_for(
        &charts,
        "demo",
        "the second unchanged request",
        handled("unchanged-with-metadata"),
    )
    .await;
    assert_eq!(
        pulls(&running),
        2,
        "a version with build metadata was downloaded again"
    );

    // An exact version, and values files merged as for any repository.
    let spec = serde_json::json!({
        "chart": "demo",
        "version": "2.0.0",
        "sourceRef": {"kind": "HelmRepository", "name": "registry"},
    });
    charts
        .create(&PostParams::default(), &helm_chart("exact", spec))
        .await
        .unwrap();
    let exact = wait_for(&charts, "exact", "Ready at 2.0.0", |o| {
        chart_ready_at(o, "2.0.0")
    })
    .await;
    assert_eq!(stored(&running, &exact), v200);
    let spec = serde_json::json!({
        "chart": "demo",
        "version": "1.2.0",
        "sourceRef": {"kind": "HelmRepository", "name": "registry"},
        "valuesFiles": ["values.yaml", "values-prod.yaml"],
    });
    charts
        .create(&PostParams::default(), &helm_chart("merged", spec))
        .await
        .unwrap();
    let merged = wait_for(&charts, "merged", "Ready at 1.2.0", |o| {
        chart_ready_at(o, "1.2.0")
    })
    .await;
    let loaded = ferroflux_helm::chart::load_archive(&stored(&running, &merged), "stored").unwrap();
    assert_eq!(
        serde_json::Value::Object(loaded.values),
        serde_json::json!({"replicas": 2.0, "env": "prod"})
    );
    assert_eq!(
        merged.status.unwrap().observed_values_files,
        ["values.yaml", "values-prod.yaml"]
    );

    // The OCI HelmRepository itself stays static, as in Flux.
    let repo = Api::<HelmRepository>::namespaced(client.clone(), &ns)
        .get("registry")
        .await
        .unwrap();
    assert!(
        repo.status
            .as_ref()
            .is_none_or(|s| s.conditions.is_empty() && s.artifact.is_none()),
        "an OCI HelmRepository gets no status: {:?}",
        repo.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_registry_with_a_docker_login_and_its_ca_serves_the_chart_and_a_wrong_password_is_named_without_it()
 {
    let (client, ns) = client_and_namespace("helmoci-auth").await;
    let registry = start_registry(true, true);
    let helm = Helm::new();
    let v1 = helm.push(&registry, "demo", "1.0.0", "replicas: 1\n");
    docker_secret(&client, &ns, "regcred", &registry, PASSWORD).await;
    docker_secret(&client, &ns, "wrong", &registry, WRONG_PASSWORD).await;
    create_secret(
        &client,
        &ns,
        "basic",
        "Opaque",
        serde_json::json!({"username": login(PASSWORD).username, "password": PASSWORD}),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "registry-ca",
        "Opaque",
        serde_json::json!({"ca.crt": registry.ca_pem().unwrap()}),
    )
    .await;
    let running = start_in_process(&client, &ns, false);
    let url = registry.url("charts");
    create_oci_repo(
        &client,
        &ns,
        "registry",
        &url,
        serde_json::json!({"secretRef": {"name": "regcred"}, "certSecretRef": {"name": "registry-ca"}}),
    )
    .await;
    create_oci_repo(
        &client,
        &ns,
        "basic",
        &url,
        serde_json::json!({"secretRef": {"name": "basic"}, "certSecretRef": {"name": "registry-ca"}}),
    )
    .await;
    create_oci_repo(
        &client,
        &ns,
        "no-ca",
        &url,
        serde_json::json!({"secretRef": {"name": "regcred"}}),
    )
    .await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    for (name, repo) in [("demo", "registry"), ("basic", "basic"), ("no-ca", "no-ca")] {
        charts
            .create(
                &PostParams::default(),
                &helm_chart(name, from_repo("demo", "1.x", repo)),
            )
            .await
            .unwrap();
    }
    let demo = wait_for(
        &charts,
        "demo",
        "Ready at 1.0.0 through the docker login",
        |o| chart_ready_at(o, "1.0.0"),
    )
    .await;
    assert_eq!(stored(&running, &demo), v1);
    let last = demo.status.as_ref().unwrap().artifact.clone().unwrap();
    wait_for(
        &charts,
        "basic",
        "Ready at 1.0.0 through username and password",
        |o| chart_ready_at(o, "1.0.0"),
    )
    .await;
    // Without the CA the registry's certificate is not trusted.
    let no_ca = wait_not_ready(&charts, "no-ca").await;
    let ready = chart_condition(&no_ca, "Ready").unwrap();
    assert_eq!(ready.reason, "ChartPullError", "{ready:?}");
    assert!(
        ready.message.contains("chart 'demo' version '1.x'")
            && ready.message.contains(&url)
            && ready.message.contains("could not be reached")
            && ready.message.contains("spec.certSecretRef"),
        "{}",
        ready.message
    );

    // A wrong password: a clear condition naming chart, version and
    // registry, the password nowhere, the last chart kept.
    Api::<HelmRepository>::namespaced(client.clone(), &ns)
        .patch(
            "registry",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"secretRef": {"name": "wrong"}}})),
        )
        .await
        .unwrap();
    request_reconcile(&charts, "demo", "wrong-password").await;
    let failed = wait_for(&charts, "demo", "the wrong password fails", |o| {
        handled("wrong-password")(o)
            && chart_condition(o, "Ready").is_some_and(|c| c.status == "False")
    })
    .await;
    let ready = chart_condition(&failed, "Ready").unwrap();
    assert_eq!(ready.reason, "AuthenticationFailed", "{ready:?}");
    assert_eq!(
        chart_condition(&failed, "FetchFailed").unwrap().status,
        "True"
    );
    for want in [
        "chart 'demo' version '1.x'",
        &format!("HelmRepository '{ns}/registry'"),
        url.as_str(),
        "refused the credentials",
        "spec.secretRef",
    ] {
        assert!(
            ready.message.contains(want),
            "no '{want}' in: {}",
            ready.message
        );
    }
    assert_eq!(failed.status.as_ref().unwrap().artifact, Some(last));
    assert_eq!(stored(&running, &failed), v1, "the last chart was removed");
    let events = eventually_event(&client, &ns, "demo", "AuthenticationFailed").await;
    let everything = format!("{events:?} {:?}", failed.status);
    assert!(
        !everything.contains(WRONG_PASSWORD) && !everything.contains(PASSWORD),
        "a password leaked: {everything}"
    );
}

/// Waits for an event about `name` with `reason`; returns them all.
async fn eventually_event(client: &Client, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let prefix = format!("{reason}: ");
    let prefix = &prefix;
    ferroflux_testenv::eventually(
        &format!("an event {reason} about {name}"),
        Duration::from_secs(40),
        || async move {
            let events = events_of(client, ns, name).await;
            events
                .iter()
                .any(|e| e.starts_with(prefix))
                .then_some(events)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chart_or_version_names_the_chart_the_version_and_the_registry() {
    let (client, ns) = client_and_namespace("helmoci-missing").await;
    let registry = start_registry(false, false);
    let helm = Helm::new();
    helm.push(&registry, "demo", "1.0.0", "replicas: 1\n");
    let _running = start_in_process(&client, &ns, false);
    let url = registry.url("charts");
    create_oci_repo(
        &client,
        &ns,
        "registry",
        &url,
        serde_json::json!({"insecure": true}),
    )
    .await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    for (name, chart, version, want) in [
        ("no-chart", "missing", "1.x", "not found"),
        ("no-version", "demo", "9.9.9", "not found"),
        ("no-match", "demo", ">=5.0.0", "no version of"),
    ] {
        charts
            .create(
                &PostParams::default(),
                &helm_chart(name, from_repo(chart, version, "registry")),
            )
            .await
            .unwrap();
        let obj = wait_not_ready(&charts, name).await;
        let ready = chart_condition(&obj, "Ready").unwrap();
        assert_eq!(ready.reason, "ChartPullError", "{ready:?}");
        assert_eq!(chart_condition(&obj, "FetchFailed").unwrap().status, "True");
        for want in [
            format!("chart '{chart}' version '{version}'"),
            format!("HelmRepository '{ns}/registry'"),
            url.clone(),
            want.to_owned(),
        ] {
            assert!(
                ready.message.contains(&want),
                "no '{want}' in: {}",
                ready.message
            );
        }
        assert!(chart_revision(&obj).is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_dependency_of_a_chart_from_git_is_pulled_with_the_login_of_the_oci_helm_repository_with_its_url()
 {
    let (client, ns) = client_and_namespace("helmoci-dep").await;
    let registry = start_registry(false, true);
    let helm = Helm::new();
    helm.push(&registry, "lib", "0.3.0", "lib: old\n");
    let lib = helm.push(&registry, "lib", "0.3.1", "lib: new\n");
    helm.push(&registry, "lib", "0.4.0", "lib: next\n");
    docker_secret(&client, &ns, "regcred", &registry, PASSWORD).await;
    let server = GitServer::start(None).await.unwrap();
    let url = registry.url("charts");
    let chart_yaml = format!(
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: ~0.3.0\n  repository: {url}\n"
    );
    server
        .create_repo(
            "charts",
            "main",
            &[
                ("app/Chart.yaml", chart_yaml.as_str()),
                ("app/values.yaml", "replicas: 1\n"),
                ("app/templates/cm.yaml", "kind: ConfigMap\n"),
            ],
        )
        .unwrap();
    let running = start_in_process(&client, &ns, true);
    create_oci_repo(
        &client,
        &ns,
        "registry",
        &format!("{url}/"),
        serde_json::json!({"insecure": true, "secretRef": {"name": "regcred"}}),
    )
    .await;
    Api::<GitRepository>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &git_repository(
                "charts",
                &server.url("charts"),
                &serde_json::json!({"branch": "main"}),
                false,
            ),
        )
        .await
        .unwrap();
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), &ns);
    let spec = serde_json::json!({
        "chart": "app",
        "sourceRef": {"kind": "GitRepository", "name": "charts"},
    });
    charts
        .create(&PostParams::default(), &helm_chart("app", spec))
        .await
        .unwrap();
    let app = wait_for(&charts, "app", "the chart from git is Ready", |o| {
        chart_ready_at(o, "0.1.0")
    })
    .await;
    let files = ferroflux_helm::chart::archive_files(&stored(&running, &app)).unwrap();
    let dep = files
        .iter()
        .find(|f| f.name == "charts/lib-0.3.1.tgz")
        .unwrap_or_else(|| {
            panic!(
                "no charts/lib-0.3.1.tgz in {:?}",
                files.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(dep.data, lib, "the dependency is not the pushed chart");
    assert_eq!(pulls(&running), 1);

    // Without the HelmRepository the registry is reached anonymously over
    // HTTPS, as Flux does, which this one refuses; the error says what to create.
    Api::<HelmRepository>::namespaced(client.clone(), &ns)
        .delete("registry", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    charts
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"valuesFiles": ["app/values.yaml"]}})),
        )
        .await
        .unwrap();
    let obj = wait_not_ready(&charts, "app").await;
    let ready = chart_condition(&obj, "Ready").unwrap();
    for want in [
        "dependency 'lib'",
        url.as_str(),
        "HelmRepository of type 'oci'",
    ] {
        assert!(
            ready.message.contains(want),
            "no '{want}' in: {}",
            ready.message
        );
    }
}
