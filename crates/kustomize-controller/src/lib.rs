//! The kustomize-controller: Flux's `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`)
//! built from a source's artifact with `ferroflux-kustomize` and applied to the
//! cluster with server-side apply, keeping an inventory and pruning what left it.
//!
//! [`kustomization`] is the reconciler; [`generate`] prepares `spec.path` as
//! Flux does; [`normalize`] adjusts objects before [`apply`] writes them.

pub mod apply;
pub mod generate;
pub mod health;
pub mod kustomization;
pub mod normalize;
pub mod sources;
pub mod substitute;
