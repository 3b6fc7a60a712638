//! Flux's `spec.postRenderers`: each `kustomize` post-renderer (`patches`, `images`) rewrites
//! the rendered manifests with Ferroflux's kustomize builder, in the order listed, as Flux's
//! kustomize post-renderer does. Only the plain manifests go through it, not the hooks
//! (Flux's `postRenderStrategy: nohooks`). Its output is the release's manifest.

use ferroflux_api::helm::Kustomize;
use ferroflux_helm_action::PostRender;
use ferroflux_kustomize::build::{LoadRestrictor, Options};

/// The manifests' file inside the build directory, named as Flux names it.
const MANIFESTS: &str = "helm-output.yaml";

/// The `kustomize` post-renderers of a HelmRelease, in order.
#[derive(Debug, Clone)]
pub struct KustomizePostRenderer {
    renderers: Vec<Kustomize>,
}

impl KustomizePostRenderer {
    /// The post-renderers of `spec.postRenderers`; `None` when none has a `kustomize` entry.
    #[must_use]
    pub fn new(renderers: &[ferroflux_api::helm::PostRenderer]) -> Option<Self> {
        let renderers: Vec<Kustomize> = renderers
            .iter()
            .filter_map(|r| r.kustomize.clone())
            .collect();
        (!renderers.is_empty()).then_some(Self { renderers })
    }
}

impl PostRender for KustomizePostRenderer {
    fn run(&self, manifest: &str) -> Result<String, String> {
        let mut current = manifest.to_owned();
        for (i, k) in self.renderers.iter().enumerate() {
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
                },
            )
            .map_err(|e| at(&e))?;
            current = ferroflux_kustomize::yaml::to_yaml_stream(&objects);
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
