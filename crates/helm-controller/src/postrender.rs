//! Flux's post-renderers of a HelmRelease, in Flux's order: each `spec.postRenderers[].kustomize`
//! (`patches`, `images`) rewrites the rendered manifests with Ferroflux's kustomize builder, in
//! the order listed, as Flux's kustomize post-renderer does; then `spec.commonMetadata` sets its
//! labels and annotations on every object (replacing values under the same keys), as Flux's
//! common-metadata post-renderer does. Only the plain manifests go through them, not the hooks
//! (Flux's `postRenderStrategy: nohooks`). Their output is the release's manifest.

use ferroflux_api::helm::{HelmReleaseSpec, Kustomize};
use ferroflux_api::kustomize::CommonMetadata;
use ferroflux_helm_action::PostRender;
use ferroflux_kustomize::build::{LoadRestrictor, Options};
use serde_json::Value;

/// The manifests' file inside the build directory, named as Flux names it.
const MANIFESTS: &str = "helm-output.yaml";

/// The post-renderers of a HelmRelease.
#[derive(Debug, Clone)]
pub struct PostRenderers {
    kustomize: Vec<Kustomize>,
    common: Option<CommonMetadata>,
}

impl PostRenderers {
    /// The post-renderers `spec` asks for; `None` when there are none.
    #[must_use]
    pub fn new(spec: &HelmReleaseSpec) -> Option<Self> {
        let kustomize: Vec<Kustomize> = spec
            .post_renderers
            .iter()
            .filter_map(|r| r.kustomize.clone())
            .collect();
        let common = spec.common_metadata.clone().filter(|c| {
            c.labels.as_ref().is_some_and(|l| !l.is_empty())
                || c.annotations.as_ref().is_some_and(|a| !a.is_empty())
        });
        (!kustomize.is_empty() || common.is_some()).then_some(Self { kustomize, common })
    }
}

/// Sets `common`'s labels and annotations on every object of `manifest`.
fn set_common_metadata(manifest: &str, common: &CommonMetadata) -> Result<String, String> {
    let mut objects = ferroflux_kustomize::yaml::parse_objects(manifest)
        .map_err(|e| format!("spec.commonMetadata: the rendered manifest does not read: {e}"))?;
    for obj in &mut objects {
        for (field, entries) in [
            ("labels", &common.labels),
            ("annotations", &common.annotations),
        ] {
            let Some(entries) = entries.as_ref().filter(|e| !e.is_empty()) else {
                continue;
            };
            let Some(metadata) = obj
                .as_object_mut()
                .map(|o| {
                    o.entry("metadata")
                        .or_insert_with(|| Value::Object(serde_json::Map::new()))
                })
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let map = metadata
                .entry(field)
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !map.is_object() {
                *map = Value::Object(serde_json::Map::new());
            }
            if let Some(map) = map.as_object_mut() {
                for (k, v) in entries {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
    }
    Ok(ferroflux_kustomize::yaml::to_yaml_stream(&objects))
}

impl PostRender for PostRenderers {
    fn run(&self, manifest: &str) -> Result<String, String> {
        let mut current = manifest.to_owned();
        for (i, k) in self.kustomize.iter().enumerate() {
            let at = |e: &dyn std::fmt::Display| format!("spec.postRenderers[{i}].kustomize: {e}");
            let dir = tempfile::tempdir().map_err(|e| at(&e))?;
            std::fs::write(dir.path().join(MANIFESTS), &current).map_err(|e| at(&e))?;
            let mut kustomization = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [MANIFESTS],
            });
            if !k.patches.is_empty() {
                kustomization["patches"] = serde_json::to_value(&k.patches).map_err(|e| at(&e))?;
            }
            if !k.images.is_empty() {
                kustomization["images"] = serde_json::to_value(&k.images).map_err(|e| at(&e))?;
            }
            // JSON is YAML: the builder reads it as written.
            std::fs::write(
                dir.path().join("kustomization.yaml"),
                kustomization.to_string(),
            )
            .map_err(|e| at(&e))?;
            let objects = ferroflux_kustomize::build::build(
                dir.path(),
                &Options {
                    root: dir.path().to_path_buf(),
                    load_restrictor: LoadRestrictor::RootOnly,
                    enable_helm: false,
                },
            )
            .map_err(|e| at(&e))?;
            current = ferroflux_kustomize::yaml::to_yaml_stream(&objects);
        }
        if let Some(common) = &self.common {
            current = set_common_metadata(&current, common)?;
        }
        Ok(current)
    }
}

/// The digest Flux records as `status.observedPostRenderersDigest`: sha256 of the
/// post-renderers' JSON; `None` without post-renderers.
#[must_use]
pub fn digest(renderers: &[ferroflux_api::helm::PostRenderer]) -> Option<String> {
    if renderers.is_empty() {
        return None;
    }
    let json = serde_json::to_vec(renderers).unwrap_or_default();
    Some(format!("sha256:{}", crate::values::sha256_hex(&json)))
}

/// The digest Flux records as `status.observedCommonMetadataDigest`: sha256 of
/// `spec.commonMetadata`'s JSON; `None` without it.
#[must_use]
pub fn common_metadata_digest(common: Option<&CommonMetadata>) -> Option<String> {
    let json = serde_json::to_vec(common?).unwrap_or_default();
    Some(format!("sha256:{}", crate::values::sha256_hex(&json)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_metadata_overrides_and_adds_on_every_object() {
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    team: old\n    keep: me\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n";
        let common = CommonMetadata {
            labels: Some([("team".to_owned(), "platform".to_owned())].into()),
            annotations: Some([("owner".to_owned(), "ops@example.com".to_owned())].into()),
        };
        let out = set_common_metadata(manifest, &common).unwrap();
        let objects = ferroflux_kustomize::yaml::parse_objects(&out).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            objects[0]["metadata"]["labels"],
            serde_json::json!({"team": "platform", "keep": "me"})
        );
        assert_eq!(
            objects[1]["metadata"]["labels"],
            serde_json::json!({"team": "platform"})
        );
        for obj in &objects {
            assert_eq!(obj["metadata"]["annotations"]["owner"], "ops@example.com");
        }
        assert!(
            set_common_metadata("a: [", &common)
                .unwrap_err()
                .contains("spec.commonMetadata")
        );
    }
}
