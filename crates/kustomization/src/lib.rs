//! Flux's Kustomization build steps, shared by the kustomize-controller and
//! the CLI: [`generate`] prepares `spec.path` as Flux does (a generated
//! `kustomization.yaml` for a plain directory, the spec's own fields written
//! into it) and builds it with `ferroflux-kustomize`; [`substitute`] is
//! `postBuild` substitution; [`decrypt`] is `spec.decryption` with SOPS; [`owner`] holds the labels and annotations by
//! which a Kustomization marks what it applies, and normalises built objects
//! with them through `ferroflux-ssa`.
//!
//! Only the pure steps live here: reading the ConfigMaps and Secrets that
//! `substituteFrom` names, conditions and status stay with the reconciler.

pub mod decrypt;
pub mod generate;
pub mod owner;
pub mod substitute;
