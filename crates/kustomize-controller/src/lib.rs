//! The kustomize-controller: Flux's `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`)
//! built from a source's artifact with `ferroflux-kustomize` and applied to the
//! cluster with `ferroflux-ssa`'s server-side apply, keeping an inventory and
//! pruning what left it.
//!
//! [`kustomization`] is the reconciler, built on `ferroflux-kustomization`'s
//! steps (preparing `spec.path` as Flux does, `postBuild` substitution, the
//! owner labels); [`sources`] reads the artifacts of the source kinds.

pub mod kustomization;
pub mod sources;
