//! Shared helpers: install the CRDs once per control plane, read manifests,
//! create arbitrary objects, and compare JSON trees with a path in the message.

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use serde_json::Value;

/// A client for the shared control plane, with every CRD installed and Established.
pub(crate) async fn client() -> Client {
    let cp = ferroflux_testenv::shared().expect("the shared test control plane starts");
    let client = cp.client().await.unwrap();
    install_crds(&client).await;
    client
}

/// Installs every generated CRD and waits until each is Established.
pub(crate) async fn install_crds(client: &Client) {
    ferroflux_testenv::install_crds(client, &ferroflux_api::all_crds())
        .await
        .unwrap();
}

pub(crate) fn established(crd: &CustomResourceDefinition) -> bool {
    ferroflux_testenv::established(crd)
}

/// The fixture manifests: one full-featured example per kind.
pub(crate) fn fixtures() -> Vec<(String, Value)> {
    let dir = manifest_dir().join("tests/it/fixtures");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The Flux manifests of the project's seed document, which must work
/// unchanged: the repository's copy in `tests/it/seed/` (checked against
/// the seed itself by `seed::the_copy_matches_the_seed_document`).
pub(crate) fn seed_manifests() -> Vec<Value> {
    let dir = manifest_dir().join("tests/it/seed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let blocks: Vec<Value> = files
        .iter()
        .map(|p| serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    assert!(
        blocks.len() >= 2,
        "the seed holds a GitRepository and a Kustomization"
    );
    blocks
}

/// The fenced YAML blocks with an `apiVersion` of the seed document in
/// `shared/` beside the clone; `None` when that is not there.
pub(crate) fn seed_document_manifests() -> Option<Vec<Value>> {
    let path = manifest_dir().join("../../../shared/seeds/001_b895e98d51749281.txt");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(
        text.split("```")
            .skip(1)
            .step_by(2)
            .filter(|block| block.contains("apiVersion:"))
            .map(|block| serde_saphyr::from_str(block).unwrap())
            .collect(),
    )
}

/// The `ApiResource` of a manifest's kind, from the generated CRDs.
pub(crate) fn api_resource(manifest: &Value) -> ApiResource {
    let (group, version) = manifest["apiVersion"]
        .as_str()
        .unwrap()
        .split_once('/')
        .unwrap();
    let kind = manifest["kind"].as_str().unwrap();
    let crd = ferroflux_api::all_crds()
        .into_iter()
        .find(|c| c.spec.group == group && c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {group}/{kind}"));
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        &crd.spec.names.plural,
    )
}

/// Creates `manifest` in namespace `ns` and returns what the server stored.
pub(crate) async fn create(
    client: &Client,
    ns: &str,
    manifest: &Value,
) -> Result<Value, kube::Error> {
    let ar = api_resource(manifest);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let mut obj: DynamicObject = serde_json::from_value(manifest.clone()).unwrap();
    obj.metadata.namespace = Some(ns.to_string());
    api.create(&PostParams::default(), &obj).await?;
    let name = obj.metadata.name.clone().unwrap();
    Ok(serde_json::to_value(api.get(&name).await?).unwrap())
}

/// Asserts every field of `want` is in `got` with the same value; the message
/// names the first missing or different field by its path.
pub(crate) fn assert_contains(context: &str, want: &Value, got: &Value) {
    if let Err(path) = contains(want, got, String::new()) {
        panic!("{context}: field `{path}` was lost or changed\nwant: {want:#}\ngot:  {got:#}");
    }
}

fn contains(want: &Value, got: &Value, path: String) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let gv = g.get(key).ok_or_else(|| sub.clone())?;
                contains(wv, gv, sub)?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .try_for_each(|(i, (wv, gv))| contains(wv, gv, format!("{path}[{i}]"))),
        (w, g) if w == g => Ok(()),
        _ => Err(path),
    }
}

/// The crate's directory, from the run-time variable: a test binary built in
/// another checkout sharing the target directory carries that checkout's path.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
