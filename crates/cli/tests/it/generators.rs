//! `get artifact generators`, `tree artifact generator`, `get sources
//! external` and the refusals around ExternalArtifacts, on objects whose
//! status the test writes as the source-watcher would (the source-watcher's
//! own tests run it for real).

use ferroflux_api::extensions::ArtifactGenerator;
use ferroflux_api::source::ExternalArtifact;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};

use crate::expect;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_generators_and_external_artifacts_are_listed_and_drawn() {
    let _crds_stay = crate::CLUSTER_WIDE.lock().await;
    let (client, ns) = ferroflux_testenv::setup("cli-ag", &ferroflux_api::all_crds()).await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    let generators = Api::<ArtifactGenerator>::namespaced(client.clone(), &ns);
    let generator: ArtifactGenerator = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
        "metadata": {"name": "monorepo", "namespace": ns},
        "spec": {
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
            "artifacts": [
                {"name": "infrastructure", "copy": [{"from": "@repo/infrastructure/**", "to": "@artifact/"}]},
                {"name": "apps", "copy": [{"from": "@repo/apps/**", "to": "@artifact/"}]}
            ]
        }
    }))
    .unwrap();
    generators
        .create(&PostParams::default(), &generator)
        .await
        .unwrap();
    let status = serde_json::json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                "message": "reconciliation succeeded, generated 2 artifact(s)",
                "lastTransitionTime": "2025-01-01T00:00:00Z"}],
            "inventory": [
                {"name": "infrastructure", "namespace": ns, "digest": "sha256:aa", "filename": "aa.tar.gz"},
                {"name": "apps", "namespace": ns, "digest": "sha256:bb", "filename": "bb.tar.gz"}
            ]
        }
    });
    generators
        .patch_status(
            "monorepo",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    let artifacts = Api::<ExternalArtifact>::namespaced(client.clone(), &ns);
    let apps: ExternalArtifact = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
        "metadata": {"name": "apps", "namespace": ns},
        "spec": {"sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator", "name": "monorepo", "namespace": ns}}
    }))
    .unwrap();
    artifacts
        .create(&PostParams::default(), &apps)
        .await
        .unwrap();
    let revision = "latest@sha256:bb";
    let status = serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
        "status": {
            "artifact": {"path": "externalartifact/x/apps/bb.tar.gz", "url": "http://w/x",
                "revision": revision, "digest": "sha256:bb",
                "lastUpdateTime": "2025-01-01T00:00:00Z"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                "message": "stored artifact for revision 'latest@sha256:bb'",
                "lastTransitionTime": "2025-01-01T00:00:00Z"}]
        }
    });
    artifacts
        .patch_status(
            "apps",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();

    let table = expect(kc, 0, &["get", "artifact", "generators", "-n", &ns]).stdout;
    let row = table
        .lines()
        .find(|l| l.starts_with("monorepo"))
        .unwrap_or_default();
    assert!(
        row.contains("True") && row.contains("generated 2 artifact(s)"),
        "{table}"
    );
    let tree = expect(
        kc,
        0,
        &["tree", "artifact", "generator", "monorepo", "-n", &ns],
    )
    .stdout;
    assert_eq!(
        tree,
        format!(
            "ArtifactGenerator/{ns}/monorepo\n├── ExternalArtifact/{ns}/infrastructure\n└── ExternalArtifact/{ns}/apps\n"
        )
    );
    for args in [["get", "sources", "external"], ["get", "sources", "all"]] {
        let table = expect(kc, 0, &[args[0], args[1], args[2], "-n", &ns]).stdout;
        let row = table
            .lines()
            .find(|l| l.contains("apps"))
            .unwrap_or_default();
        assert!(row.contains(revision) && row.contains("True"), "{table}");
    }
    let run = expect(
        kc,
        2,
        &["reconcile", "source", "external", "apps", "-n", &ns],
    );
    assert!(
        run.stderr.contains("is not reconciled")
            && run
                .stderr
                .contains("ferroflux reconcile artifact generator"),
        "{}",
        run.stderr
    );
    let run = expect(kc, 2, &["get", "artifact", "builders", "-n", &ns]);
    assert!(
        run.stderr.contains("unknown artifact kind 'builders'"),
        "{}",
        run.stderr
    );
    // Suspending a generator sets Flux's annotation, which the table shows.
    expect(
        kc,
        0,
        &["suspend", "artifact", "generator", "monorepo", "-n", &ns],
    );
    let annotations = generators
        .get("monorepo")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(
        annotations
            .get("source.extensions.fluxcd.io/reconcile")
            .map(String::as_str),
        Some("disabled")
    );
}
