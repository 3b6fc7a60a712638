//! The API server enforces the schema: a wrong type, a missing required field
//! or a bad pattern is refused with a message naming the field, and Flux's
//! defaults are filled in.

use ferroflux_testenv::namespace;
use serde_json::{Value, json};

use crate::support;

fn git_repository(spec: &Value) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "bad"},
        "spec": spec,
    })
}

async fn refusal(manifest: &Value) -> String {
    let client = support::client().await;
    let ns = namespace(&client, "invalid").await.unwrap();
    match support::create(&client, &ns, manifest).await {
        Ok(stored) => panic!("the API server accepted an invalid object: {stored:#}"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn a_missing_required_field_is_refused_naming_it() {
    let message = refusal(&git_repository(&json!({"interval": "5m"}))).await;
    assert!(
        message.contains("spec.url") && message.contains("Required"),
        "{message}"
    );

    let kustomization = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "bad"},
        "spec": {"interval": "10m", "prune": true},
    });
    let message = refusal(&kustomization).await;
    assert!(
        message.contains("spec.sourceRef") && message.contains("Required"),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_type_is_refused_naming_the_field() {
    let message = refusal(&git_repository(
        &json!({"url": "https://example.com/x.git", "interval": 300}),
    ))
    .await;
    assert!(
        message.contains("spec.interval") && message.contains("string"),
        "{message}"
    );

    let message = refusal(&git_repository(&json!({
        "url": "https://example.com/x.git", "interval": "5m", "suspend": "yes please"
    })))
    .await;
    assert!(
        message.contains("spec.suspend") && message.contains("boolean"),
        "{message}"
    );
}

#[tokio::test]
async fn a_value_outside_the_pattern_or_enum_is_refused_naming_the_field() {
    let message = refusal(&git_repository(
        &json!({"url": "ftp://example.com/x.git", "interval": "5m"}),
    ))
    .await;
    assert!(message.contains("spec.url"), "{message}");

    let message = refusal(&git_repository(
        &json!({"url": "https://example.com/x.git", "interval": "five minutes"}),
    ))
    .await;
    assert!(message.contains("spec.interval"), "{message}");

    let kustomization = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "bad"},
        "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": "ConfigMap", "name": "x"}},
    });
    let message = refusal(&kustomization).await;
    assert!(message.contains("spec.sourceRef.kind"), "{message}");
}

#[tokio::test]
async fn fluxs_defaults_are_filled_in_by_the_server() {
    let client = support::client().await;
    let ns = namespace(&client, "defaults").await.unwrap();
    let stored = support::create(
        &client,
        &ns,
        &git_repository(&json!({"url": "https://example.com/x.git", "interval": "5m"})),
    )
    .await
    .unwrap();
    assert_eq!(stored["spec"]["timeout"], "60s", "{stored:#}");

    // An explicit null is dropped and defaulted, as with Flux's CRDs (the
    // schema must not mark optional fields nullable).
    let mut explicit_null = git_repository(&json!({
        "url": "https://example.com/x.git", "interval": "5m", "timeout": null
    }));
    explicit_null["metadata"]["name"] = json!("explicit-null");
    let stored = support::create(&client, &ns, &explicit_null).await.unwrap();
    assert_eq!(stored["spec"]["timeout"], "60s", "{stored:#}");
}

/// Regression: `valuesFrom[].name` once carried a DNS-label pattern Flux does
/// not have, refusing Secret names with dots.
#[tokio::test]
async fn a_helm_release_may_take_values_from_a_secret_name_with_dots() {
    let client = support::client().await;
    let ns = namespace(&client, "values").await.unwrap();
    let release = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo"},
        "spec": {
            "interval": "10m",
            "chartRef": {"kind": "OCIRepository", "name": "podinfo"},
            "valuesFrom": [{"kind": "Secret", "name": "podinfo.values.production", "literal": true,
                            "targetPath": "ingress.hosts[0].host"}]
        }
    });
    let stored = support::create(&client, &ns, &release).await.unwrap();
    support::assert_contains("HelmRelease valuesFrom", &release["spec"], &stored["spec"]);
}
