//! Flux manifests survive the trip into our Rust types and into the real API
//! server with every field intact.

use ferroflux_api::{extensions, helm, kustomize, notification, source};
use ferroflux_testenv::namespace;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::support;

/// Deserialises `manifest` as `K` and serialises it back.
fn through<K: DeserializeOwned + Serialize>(manifest: &Value) -> Value {
    let typed: K = serde_json::from_value(manifest.clone())
        .unwrap_or_else(|e| panic!("{} does not deserialise: {e}", manifest["kind"]));
    serde_json::to_value(typed).unwrap()
}

fn through_rust_type(manifest: &Value) -> Value {
    match manifest["kind"].as_str().unwrap() {
        "GitRepository" => through::<source::GitRepository>(manifest),
        "OCIRepository" => through::<source::OCIRepository>(manifest),
        "HelmRepository" => through::<source::HelmRepository>(manifest),
        "HelmChart" => through::<source::HelmChart>(manifest),
        "Bucket" => through::<source::Bucket>(manifest),
        "ExternalArtifact" => through::<source::ExternalArtifact>(manifest),
        "ArtifactGenerator" => through::<extensions::ArtifactGenerator>(manifest),
        "Kustomization" => through::<kustomize::Kustomization>(manifest),
        "HelmRelease" => through::<helm::HelmRelease>(manifest),
        "Provider" => through::<notification::Provider>(manifest),
        "Alert" => through::<notification::Alert>(manifest),
        "Receiver" => through::<notification::Receiver>(manifest),
        other => panic!("no Rust type for kind {other}"),
    }
}

#[test]
fn there_is_a_fixture_for_every_kind() {
    let kinds: Vec<String> = support::fixtures()
        .iter()
        .map(|(_, m)| m["kind"].as_str().unwrap().to_string())
        .collect();
    for crd in ferroflux_api::all_crds() {
        assert!(
            kinds.contains(&crd.spec.names.kind),
            "no fixture for {}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn seed_and_fixture_manifests_round_trip_through_the_rust_types() {
    let manifests = support::seed_manifests()
        .into_iter()
        .map(|m| ("seed".to_string(), m))
        .chain(support::fixtures());
    for (name, manifest) in manifests {
        let back = through_rust_type(&manifest);
        let context = format!("{name} ({}) through the Rust type", manifest["kind"]);
        support::assert_contains(&context, &manifest, &back);
        support::assert_contains(&format!("{context}, reversed"), &back, &manifest);
    }
}

#[tokio::test]
async fn seed_manifests_apply_and_read_back_with_no_field_lost() {
    let client = support::client().await;
    let ns = namespace(&client, "seeds").await.unwrap();
    for manifest in support::seed_manifests() {
        let stored = support::create(&client, &ns, &manifest)
            .await
            .unwrap_or_else(|e| {
                panic!("the API server refused the seed {}: {e}", manifest["kind"])
            });
        let mut want = manifest.clone();
        want["metadata"]["namespace"] = Value::String(ns.clone());
        support::assert_contains(
            &format!("seed {} on the API server", manifest["kind"]),
            &want,
            &stored,
        );
        // The stored object (with the server's defaults, such as `force: false`)
        // reads through our types with nothing changed or invented. `false`
        // booleans are omitted on the way out, as Flux's `omitempty` does.
        support::assert_contains(
            "stored seed through the Rust type",
            &through_rust_type(&stored)["spec"],
            &stored["spec"],
        );
    }
}

#[test]
fn the_seed_kustomization_reads_as_flux_means_it() {
    let seed = support::seed_manifests()
        .into_iter()
        .find(|m| m["kind"] == "Kustomization")
        .unwrap();
    let ks: kustomize::Kustomization = serde_json::from_value(seed).unwrap();
    assert_eq!(ks.spec.source_ref.kind, "GitRepository");
    assert_eq!(ks.spec.source_ref.name, "podinfo");
    assert_eq!(ks.spec.path.as_deref(), Some("./kustomize"));
    assert_eq!(ks.spec.target_namespace.as_deref(), Some("default"));
    assert_eq!(
        ks.spec
            .timeout
            .as_ref()
            .map(ferroflux_api::duration::GoDuration::as_str),
        Some("1m")
    );
    assert_eq!(ks.spec.interval, "10m");
    assert!(ks.spec.prune);
}

#[test]
fn a_verify_block_without_provider_reads_as_cosign_as_in_flux() {
    let repo: source::OCIRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "podinfo", "namespace": "default"},
        "spec": {
            "url": "oci://ghcr.io/stefanprodan/manifests/podinfo",
            "interval": "5m",
            "verify": {"secretRef": {"name": "cosign-pub"}}
        }
    }))
    .unwrap();
    assert_eq!(repo.spec.verify.unwrap().provider, "cosign");
}

#[tokio::test]
async fn fixtures_apply_and_read_back_with_no_field_lost() {
    let client = support::client().await;
    let ns = namespace(&client, "fixtures").await.unwrap();
    for (name, manifest) in support::fixtures() {
        let stored = support::create(&client, &ns, &manifest)
            .await
            .unwrap_or_else(|e| panic!("the API server refused {name}: {e}"));
        support::assert_contains(
            &format!("{name} on the API server"),
            &manifest["spec"],
            &stored["spec"],
        );
    }
}
