//! `build kustomization` and `diff kustomization`: a Kustomization's
//! objects built from a local directory with the controller's own steps
//! (prepare, build, SOPS decryption when keys are given, `postBuild`
//! substitution, normalisation), and how they differ from what the cluster
//! has, by server-side dry-run. Objects left SOPS-encrypted (no keys given)
//! are not dry-run: a Secret's key names are compared, never its values.

use std::collections::BTreeMap;
use std::path::Path;

use ferroflux_api::kustomize::Kustomization;
use ferroflux_kustomization::{generate, owner, substitute};
use ferroflux_sops::Keys;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::cluster::{self, Resources};
use crate::error::{Error, Result};
use crate::kinds;

/// The controller's field manager: a dry-run as it shows what it would
/// change.
const CONTROLLER_MANAGER: &str = "kustomize-controller";

/// What [`build`] made.
#[derive(Debug)]
pub struct Built {
    /// The objects, as the controller would apply them.
    pub objects: Vec<Value>,
    /// Whether the Kustomization has `spec.decryption` (the controller
    /// decrypts only then).
    pub decryption: bool,
}

/// Builds the Kustomization `name` over the local directory `path` (which
/// stands for `spec.path` inside its source): copies it aside, prepares and
/// builds it, decrypts SOPS files and values with `keys` when given (as the
/// controller does with its decryption Secret; without keys they stay
/// encrypted), substitutes `postBuild` variables (reading `substituteFrom`
/// from the cluster) and normalises the objects as the controller would.
///
/// # Errors
/// The Kustomization missing, the directory unreadable, the build, the
/// decryption (naming the file, never a value) or the substitution failing.
pub async fn build(
    client: &Client,
    namespace: &str,
    name: &str,
    path: &Path,
    keys: Option<&Keys>,
) -> Result<Built> {
    let kind = kinds::kustomization();
    let obj = cluster::get(client, &kind, namespace, name).await?;
    let ks: Kustomization = serde_json::from_value(obj)
        .map_err(|e| Error::Build(format!("decoding Kustomization {name}: {e}")))?;
    if !path.is_dir() {
        return Err(Error::Usage(format!(
            "--path {} is not a directory",
            path.display()
        )));
    }
    let copy = tempfile::tempdir()
        .map_err(|e| Error::Build(format!("creating a temporary directory: {e}")))?;
    copy_dir(path, copy.path())
        .map_err(|e| Error::Build(format!("copying {}: {e}", path.display())))?;
    // The local directory is the Kustomization's path: build it at the root.
    let mut spec = ks.spec.clone();
    spec.path = Some("./".into());
    let mut objects = generate::build_decrypting(copy.path(), &spec, keys)
        .map_err(|e| Error::Build(e.to_string()))?;
    if let Some(post_build) = &ks.spec.post_build {
        let mut vars = BTreeMap::new();
        for reference in &post_build.substitute_from {
            let data =
                substitution_data(client, namespace, &reference.kind, &reference.name).await?;
            match data {
                Some(data) => vars.extend(data),
                None if reference.optional => {}
                None => {
                    return Err(Error::Build(format!(
                        "{} {namespace}/{} not found; create it or mark the reference optional",
                        reference.kind, reference.name
                    )));
                }
            }
        }
        vars.extend(post_build.substitute.clone().unwrap_or_default());
        for value in vars.values_mut() {
            value.retain(|c| c != '\n');
        }
        substitute::check_names(&vars).map_err(|e| Error::Build(e.to_string()))?;
        for o in &mut objects {
            substitute::substitute_object(o, &vars)
                .map_err(|e| Error::Build(format!("post build: {e}")))?;
        }
    }
    owner::normalize_all(
        &mut objects,
        (name, namespace),
        ks.spec.common_metadata.as_ref(),
    );
    Ok(Built {
        objects,
        decryption: ks.spec.decryption.is_some(),
    })
}

/// The data of the ConfigMap or Secret a `substituteFrom` names; `None`
/// when it does not exist.
async fn substitution_data(
    client: &Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let what = format!("reading {kind} {namespace}/{name}");
    match kind {
        "ConfigMap" => Ok(Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(|e| Error::api(&what, &e))?
            .map(|c| c.data.unwrap_or_default())),
        "Secret" => Ok(Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(|e| Error::api(&what, &e))?
            .map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect()
            })),
        other => Err(Error::Build(format!(
            "substituteFrom kind '{other}' is neither ConfigMap nor Secret"
        ))),
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            std::fs::create_dir(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// How one object compares with the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// Not in the cluster.
    Created,
    /// In the cluster with other values: a unified diff of the YAML.
    Changed(String),
    /// As in the cluster.
    Unchanged,
    /// Still SOPS-encrypted (no key given), so not dry-run: for a Secret
    /// its key names are as in the cluster, its values not compared.
    NotCompared,
}

/// Compares each object with the cluster by a server-side dry-run apply
/// as the controller; Secrets' values are masked in the diff. An object
/// still SOPS-encrypted is not dry-run (its ciphertext is not what the
/// controller would apply): a Secret's key names are compared with the
/// cluster's, as `flux diff` does, anything else is [`Drift::NotCompared`].
///
/// # Errors
/// A dry-run the server refuses.
pub async fn diff(client: &Client, objects: &[Value]) -> Result<Vec<(String, Drift)>> {
    let mut resources = Resources::default();
    let mut out = Vec::with_capacity(objects.len());
    for obj in objects {
        let (resource, namespaced) = resources.of(client, obj).await?;
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let ns = obj["metadata"]["namespace"].as_str();
        let api: Api<DynamicObject> = match ns {
            Some(ns) if namespaced => Api::namespaced_with(client.clone(), ns, &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        let id = match ns {
            Some(ns) => format!("{}/{ns}/{name}", resource.kind),
            None => format!("{}/{name}", resource.kind),
        };
        let live = api
            .get_opt(name)
            .await
            .map_err(|e| Error::api(&format!("reading {id}"), &e))?;
        let Some(live) = live else {
            out.push((id, Drift::Created));
            continue;
        };
        if crate::sops::is_encrypted(obj) {
            let live = serde_json::to_value(&live).unwrap_or_default();
            out.push((id, encrypted_drift(obj, &live)));
            continue;
        }
        let dry = api
            .patch(
                name,
                &PatchParams::apply(CONTROLLER_MANAGER).dry_run().force(),
                &Patch::Apply(obj),
            )
            .await
            .map_err(|e| Error::api(&format!("dry-run applying {id}"), &e))?;
        let (before, after) = (
            comparable(&live, &dry, "cluster"),
            comparable(&dry, &live, "local"),
        );
        if before == after {
            out.push((id, Drift::Unchanged));
        } else {
            out.push((id, Drift::Changed(unified(&before, &after))));
        }
    }
    Ok(out)
}

/// The object as YAML without the fields the server maintains. Secret
/// values are masked: `***` when equal in `other`, else marked with
/// `side` (`cluster` or `local`), so a changed value shows as changed and
/// never in clear.
fn comparable(obj: &DynamicObject, other: &DynamicObject, side: &str) -> String {
    let mut value = serde_json::to_value(obj).unwrap_or_default();
    let other = serde_json::to_value(other).unwrap_or_default();
    if let Some(meta) = value["metadata"].as_object_mut() {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(key);
        }
    }
    mask_secret(&mut value, &other, side);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("status");
    }
    ferroflux_kustomize::yaml::to_yaml(&value)
}

/// Masks the values of a Secret's `data` and `stringData`: `***` when
/// `other` (the object it is compared with) has the same value, else
/// `*** (<side> value)`, so a changed value shows as changed and never in
/// clear. Other kinds are left alone.
pub(crate) fn mask_secret(value: &mut Value, other: &Value, side: &str) {
    if value["kind"] != "Secret" {
        return;
    }
    for key in ["data", "stringData"] {
        if let Some(data) = value[key].as_object_mut() {
            for (k, v) in data.iter_mut() {
                let mask = if other[key][k] == *v {
                    "***".to_owned()
                } else {
                    format!("*** ({side} value)")
                };
                *v = Value::String(mask);
            }
        }
    }
}

/// How a still-encrypted object compares with the cluster: a Secret whose
/// key names differ from the live one's is [`Drift::Changed`], shown with
/// every value masked; anything else is [`Drift::NotCompared`].
fn encrypted_drift(local: &Value, live: &Value) -> Drift {
    if local["kind"] != "Secret" {
        return Drift::NotCompared;
    }
    let names = |o: &Value, fields: &[&str]| -> String {
        let keys: std::collections::BTreeSet<&str> = fields
            .iter()
            .filter_map(|f| o[*f].as_object())
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        let mut text = "data:\n".to_owned();
        for k in keys {
            text.push_str("  ");
            text.push_str(k);
            text.push_str(": '***'\n");
        }
        text
    };
    let (before, after) = (
        names(live, &["data", "stringData"]),
        names(local, &["data", "stringData"]),
    );
    if before == after {
        Drift::NotCompared
    } else {
        Drift::Changed(unified(&before, &after))
    }
}

fn unified(before: &str, after: &str) -> String {
    unified_with(before, after, ("cluster", "local"))
}

/// A unified diff of two texts under the given header names.
pub(crate) fn unified_with(before: &str, after: &str, (from, to): (&str, &str)) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header(from, to)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn diffs_are_unified_with_headers() {
        let d = unified("a: 1\nb: 2\n", "a: 1\nb: 3\n");
        assert!(d.starts_with("--- cluster\n+++ local\n"), "{d}");
        assert!(d.contains("-b: 2\n+b: 3\n"), "{d}");
    }
}
