//! The generated CRDs load on the real API server and show Flux's columns.

use ferroflux_testenv::namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use serde_json::Value;

use crate::support;

#[tokio::test]
async fn every_crd_becomes_established() {
    let client = support::client().await;
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let crds = ferroflux_api::all_crds();
    assert_eq!(crds.len(), 12, "twelve Flux kinds");
    for crd in crds {
        let live = api
            .get(crd.metadata.name.as_deref().unwrap())
            .await
            .unwrap();
        assert!(
            support::established(&live),
            "{} is not Established",
            crd.metadata.name.unwrap()
        );
    }
}

#[tokio::test]
async fn a_git_repository_lists_with_fluxs_columns() {
    let client = support::client().await;
    let ns = namespace(&client, "columns").await.unwrap();
    let seed = support::seed_manifests()
        .into_iter()
        .find(|m| m["kind"] == "GitRepository")
        .unwrap();
    support::create(&client, &ns, &seed).await.unwrap();

    // The server-side table is what `kubectl get gitrepositories` prints.
    let req = http::Request::get(format!(
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/gitrepositories"
    ))
    .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    .body(Vec::new())
    .unwrap();
    let table: Value = serde_json::from_str(&client.request_text(req).await.unwrap()).unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "URL", "Age", "Ready", "Status"]);
    assert_eq!(
        table["rows"][0]["cells"][1],
        "https://github.com/stefanprodan/podinfo"
    );
}
