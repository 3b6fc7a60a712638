//! The kustomize-controller: Flux's `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`)
//! built from a source's artifact with `ferroflux-kustomize` and applied to the
//! cluster with `ferroflux-ssa`'s server-side apply, keeping an inventory and
//! pruning what left it.
//!
//! [`kustomization`] is the reconciler; [`generate`] prepares `spec.path` as
//! Flux does; [`substitute`] is `postBuild` substitution; [`owner`] holds the
//! labels and annotations by which a Kustomization marks what it applies.

pub mod generate;
pub mod kustomization;
pub mod owner;
pub mod sources;
pub mod substitute;
