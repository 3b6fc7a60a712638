//! How a Kustomization marks the objects it applies: the owner labels and
//! the opt-out annotations under `kustomize.toolkit.fluxcd.io` (Flux's
//! `kustomize.toolkit.fluxcd.io/name`, `/namespace`, `/ssa`, `/force`,
//! `/reconcile`, `/prune`), and what `spec.commonMetadata` adds. The apply
//! machinery in `ferroflux-ssa` takes these as an [`Owner`].

use ferroflux_api::kustomize::{CommonMetadata, GROUP};
use ferroflux_ssa::apply::Owner;
use ferroflux_ssa::normalize::normalize;
use serde_json::Value;

/// The labels and annotations of Kustomizations, under their API group.
#[must_use]
pub fn owner() -> Owner {
    Owner::new(GROUP)
}

/// Normalises built `objects` for the Kustomization `owner` (name,
/// namespace): its owner labels, then `spec.commonMetadata`'s labels and
/// annotations (which win over an owner label of the same key), as Flux
/// sets them.
pub fn normalize_all(objects: &mut [Value], owner: (&str, &str), common: Option<&CommonMetadata>) {
    let mut labels = self::owner().labels(owner.0, owner.1);
    let mut annotations = Vec::new();
    if let Some(common) = common {
        labels.extend(common.labels.clone().unwrap_or_default());
        annotations.extend(common.annotations.clone().unwrap_or_default());
    }
    for obj in objects {
        normalize(obj, &labels, &annotations);
    }
}
