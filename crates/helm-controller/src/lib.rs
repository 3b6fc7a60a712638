//! The helm-controller (issue 19): reconciles Flux's `HelmRelease`
//! (`helm.toolkit.fluxcd.io/v2`) with Helm's own semantics, releases kept in the Secrets the
//! reference `helm` reads.
//!
//! - [`helmrelease`]: the reconciler (chart, values, install/upgrade/remediation, status);
//! - [`chart`]: where the chart comes from (`spec.chartRef`, or the `HelmChart` made from
//!   `spec.chart`) and loading it from the source's artifact;
//! - [`values`]: `valuesFrom` and `values` composed as Flux composes them;
//! - [`postrender`]: `spec.postRenderers` (kustomize patches and images) over the render;
//! - [`sources`]: watches on chart sources so a new chart reconciles its HelmReleases at once.
//!
//! Helm's actions themselves are `ferroflux-helm-action`'s.

pub mod chart;
pub mod helmrelease;
pub mod postrender;
pub mod sources;
pub mod values;
