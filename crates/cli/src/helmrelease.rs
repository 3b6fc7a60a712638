//! `ferroflux diff helmrelease`: what the helm-controller's next upgrade (or
//! install) of a HelmRelease would change, which Flux's CLI cannot tell.
//!
//! The chart comes from the HelmRelease's source artifact and the values
//! are composed, both with the helm-controller's own functions; the chart
//! is rendered as the controller renders it (release name and target
//! namespace, the next revision, as an upgrade) and each object compared
//! with the manifest of the deployed release read from the storage
//! namespace. Secret values are never shown, only whether they change.
//!
//! # Caveats
//! The chart is downloaded from the source's artifact URL, which must be
//! reachable from where the command runs (in a cluster it is the
//! source-controller's Service). Hooks are not compared, and the objects
//! are compared as rendered, not with the cluster: drift is not shown.

use std::fmt::Write as _;

use ferroflux_api::helm::HelmRelease;
use ferroflux_helm::action::{Notices, RenderOptions};
use ferroflux_helm::engine::Release as RenderRelease;
use ferroflux_helm::release::{Release, Status};
use ferroflux_helm_action::cluster::{self, ClusterLookup};
use ferroflux_helm_action::{PostRender as _, Storage};
use ferroflux_helm_controller::postrender::PostRenderers;
use ferroflux_helm_controller::{chart, helmrelease, values};
use ferroflux_runtime::scrub::Scrubbed;
use kube::{Api, Client, ResourceExt as _};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::local::{mask_secret, unified_with};

/// How one object of the release would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only in the new rendering.
    Added,
    /// Only in the deployed release.
    Removed,
    /// In both, different: a unified diff of the YAML.
    Changed(String),
    /// The same in both.
    Unchanged,
}

/// What the next upgrade of a HelmRelease would do.
#[derive(Clone, Debug)]
pub struct ReleaseDiff {
    /// `<storage namespace>/<release name>`.
    pub release: String,
    /// The deployed revision compared with, if any.
    pub current: Option<u32>,
    /// The revision the action would write.
    pub next: u32,
    /// Whether the release is in sync (the deployed revision is the latest
    /// and has this chart and these values): the controller would do
    /// nothing, and no object is compared.
    pub in_sync: bool,
    /// The deployed chart, `name@version`.
    pub chart_before: Option<String>,
    /// The chart of the source artifact, `name@version`.
    pub chart_after: String,
    /// The digest of the deployed values.
    pub values_before: Option<String>,
    /// The digest of the composed values.
    pub values_after: String,
    /// Each object by `Kind/[namespace/]name`: the new rendering's order,
    /// then the removed ones.
    pub objects: Vec<(String, Change)>,
}

impl ReleaseDiff {
    /// Whether the controller would act: a release not in sync gets a new
    /// revision (even when no object differs).
    #[must_use]
    pub fn changes(&self) -> bool {
        !self.in_sync
    }

    /// How many objects would be added, removed or changed.
    #[must_use]
    pub fn changed_objects(&self) -> usize {
        self.objects
            .iter()
            .filter(|(_, c)| !matches!(c, Change::Unchanged))
            .count()
    }

    /// The report: the action, the chart and values digests (before →
    /// after), then each object that would change, with its diff.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let action = match self.current {
            _ if self.in_sync => format!(
                "release {} is in sync at revision {}: nothing to upgrade",
                self.release,
                self.current.unwrap_or_default()
            ),
            Some(current) => format!(
                "release {} would be upgraded from revision {current} to {}",
                self.release, self.next
            ),
            None => format!(
                "release {} would be installed as revision {}",
                self.release, self.next
            ),
        };
        let _ = writeln!(out, "► {action}");
        let _ = writeln!(
            out,
            "{}",
            before_after("chart", self.chart_before.as_deref(), &self.chart_after)
        );
        let _ = writeln!(
            out,
            "{}",
            before_after(
                "values digest",
                self.values_before.as_deref(),
                &self.values_after
            )
        );
        for (id, change) in &self.objects {
            match change {
                Change::Added => {
                    let _ = writeln!(out, "► {id} added");
                }
                Change::Removed => {
                    let _ = writeln!(out, "► {id} removed");
                }
                Change::Changed(diff) => {
                    let _ = write!(out, "► {id} changed\n{diff}");
                }
                Change::Unchanged => {}
            }
        }
        out
    }
}

fn before_after(what: &str, before: Option<&str>, after: &str) -> String {
    match before {
        Some(b) if b == after => format!("  {what}: {after} (unchanged)"),
        Some(b) => format!("  {what}: {b} → {after}"),
        None => format!("  {what}: {after} (new)"),
    }
}

/// Compares what `namespace/name`'s chart and values render to with its
/// deployed release.
///
/// # Errors
/// [`Error::NotFound`] for the HelmRelease; [`Error::Build`] when its
/// chart source has no artifact, the chart does not download or load, the
/// values cannot be composed or the chart does not render (messages never
/// carry values from Secrets); [`Error::Api`] when the release records
/// cannot be read.
pub async fn diff(client: &Client, namespace: &str, name: &str) -> Result<ReleaseDiff> {
    let hr = Api::<HelmRelease>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| Error::api(&format!("reading HelmRelease {namespace}/{name}"), &e))?
        .ok_or_else(|| Error::NotFound {
            kind: "HelmRelease".into(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            cli: "helmreleases".into(),
        })?;
    let what = format!("HelmRelease {namespace}/{name}");
    let (loaded, composed) = chart_and_values(client, &hr, &what).await?;
    let hide = |text: &str| {
        let secrets: Vec<&str> = composed.secrets.iter().map(String::as_str).collect();
        Scrubbed::with_secrets(text, &secrets).as_str().to_owned()
    };

    let own = hr.namespace().unwrap_or_default();
    let release = helmrelease::release_name(&hr);
    let target = hr
        .spec
        .target_namespace
        .clone()
        .unwrap_or_else(|| own.clone());
    let storage_ns = hr.spec.storage_namespace.clone().unwrap_or(own);
    let history = Storage::new(client.clone(), &storage_ns)
        .history(&release)
        .await
        .map_err(|e| Error::Api {
            what: format!("reading the records of release {storage_ns}/{release}"),
            reason: e.to_string(),
        })?;

    let chart_name = loaded.metadata.name.clone();
    let chart_version = loaded.metadata.version.clone();
    let digest = values::digest(&composed.values);
    // The controller's decision: upgrade from the deployed revision, or
    // install when nothing is deployed.
    let last = history.last();
    let deployed = history
        .iter()
        .rev()
        .find(|r| r.status() == Status::Deployed)
        .filter(|_| last.is_some_and(|l| l.status() != Status::Uninstalled));
    let in_sync = match (last, deployed) {
        (Some(l), Some(d)) => {
            l.version == d.version
                && helmrelease::in_sync(d, &chart_name, &chart_version, &digest)
                // As the controller: a deployed revision its status does
                // not record (made by hand) is upgraded.
                && hr
                    .status
                    .as_ref()
                    .is_some_and(|s| helmrelease::managed(s, d))
                && hr
                    .status
                    .as_ref()
                    .and_then(|s| s.observed_post_renderers_digest.clone())
                    == ferroflux_helm_controller::postrender::digest(&hr.spec.post_renderers)
        }
        _ => false,
    };
    let next = last.map_or(1, |l| l.version + 1);
    let mut report = ReleaseDiff {
        release: format!("{storage_ns}/{release}"),
        current: deployed.map(|d| d.version),
        next,
        in_sync,
        chart_before: deployed.and_then(chart_label),
        chart_after: format!("{chart_name}@{chart_version}"),
        values_before: deployed.map(|d| values::digest(&d.config)),
        values_after: digest,
        objects: Vec::new(),
    };
    if in_sync {
        // The controller leaves an in-sync release alone: nothing changes.
        return Ok(report);
    }
    let rendered = render(
        client,
        &hr,
        loaded,
        &composed.values,
        &release,
        target,
        next,
        deployed.is_some(),
    )
    .await
    .map_err(|e| {
        Error::Build(hide(&format!(
            "{what}: chart {chart_name}@{chart_version} does not render: {e}"
        )))
    })?;
    let before = deployed.map_or_else(String::new, |d| d.manifest.clone());
    let labels = (
        deployed.map_or_else(
            || "(none)".to_owned(),
            |d| format!("{release}.v{}", d.version),
        ),
        format!("{release}.v{next}"),
    );
    report.objects = compare(&before, &rendered.manifest(), (&labels.0, &labels.1))
        .map_err(|e| Error::Build(hide(&format!("{what}: {e}"))))?;
    Ok(report)
}

/// Renders `chart` for release `release` as the helm-controller does: against the live cluster
/// (`.Capabilities`, `lookup`), then through the HelmRelease's post-renderers; on a blocking
/// thread, as `lookup` blocks.
#[expect(
    clippy::too_many_arguments,
    reason = "the release's identity and revision, as the controller passes them"
)]
async fn render(
    client: &Client,
    hr: &HelmRelease,
    chart: ferroflux_helm::chart::Chart,
    values: &ferroflux_helm::values::Values,
    release: &str,
    target: String,
    revision: u32,
    is_upgrade: bool,
) -> std::result::Result<ferroflux_helm::action::Rendered, String> {
    let caps = cluster::capabilities(client)
        .await
        .map_err(|e| format!("discovering the cluster's version and API versions failed: {e}"))?;
    let options = RenderOptions {
        release: RenderRelease {
            name: release.to_owned(),
            namespace: target,
            revision: i64::from(revision),
            is_upgrade,
        },
        kube_version: Some(caps.kube_version),
        api_versions: caps.api_versions,
        api_versions_from_cluster: true,
        skip_schema_validation: if is_upgrade {
            hr.spec
                .upgrade
                .as_ref()
                .is_some_and(|u| u.disable_schema_validation)
        } else {
            hr.spec
                .install
                .as_ref()
                .is_some_and(|i| i.disable_schema_validation)
        },
        lookup: Some(std::sync::Arc::new(ClusterLookup::new(client.clone()))),
    };
    let post = PostRenderers::new(&hr.spec);
    let values = values.clone();
    tokio::task::spawn_blocking(move || {
        let mut notices = Notices::default();
        let mut rendered = ferroflux_helm::action::render(chart, &values, &options, &mut notices)
            .map_err(|e| e.to_string())?;
        if let Some(post) = post {
            rendered.post_rendered = Some(post.run(&rendered.manifest())?);
        }
        Ok(rendered)
    })
    .await
    .map_err(|e| format!("the render was interrupted: {e}"))?
}

/// The chart of `hr`'s source artifact, downloaded and loaded (an OCI
/// chart's version with the artifact's digest), and its values composed,
/// as the helm-controller gets them; `what` names `hr` in errors.
async fn chart_and_values(
    client: &Client,
    hr: &HelmRelease,
    what: &str,
) -> Result<(ferroflux_helm::chart::Chart, values::Composed)> {
    let source = chart::source_ref(hr).map_err(|e| Error::Build(format!("{what}: {e}")))?;
    let artifact = chart::artifact(client, &source).await.map_err(|e| {
        let hint = if hr.spec.chart.is_some() {
            "; the helm-controller makes this HelmChart from spec.chart: wait for it, or `ferroflux reconcile helmrelease --with-source`"
        } else {
            ""
        };
        Error::Build(format!("{what}: {e}{hint}"))
    })?;
    let mut loaded = chart::load(&ferroflux_tls::http_client(), &artifact)
        .await
        .map_err(|e| Error::Build(format!("{what}: {e}")))?;
    // As the controller: an OCIRepository's or ExternalArtifact's chart version carries the
    // artifact's digest.
    loaded.metadata.version =
        chart::release_version(&source.kind, &loaded.metadata.version, &artifact)
            .map_err(|e| Error::Build(format!("{what}: {e}")))?;
    let composed = values::compose(client, hr)
        .await
        .map_err(|e| Error::Build(format!("{what}: {e}")))?;
    Ok((loaded, composed))
}

fn chart_label(rel: &Release) -> Option<String> {
    rel.chart
        .as_ref()
        .map(|c| format!("{}@{}", c.metadata.name, c.metadata.version))
}

/// `Kind/[namespace/]name` of a rendered object.
fn id(obj: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let kind = text(&obj["kind"]);
    let name = text(&obj["metadata"]["name"]);
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) if !ns.is_empty() => format!("{kind}/{ns}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}

/// Each object of two release manifests compared by kind, namespace and
/// name; Secret values masked.
///
/// # Errors
/// A manifest that does not parse.
fn compare(
    before: &str,
    after: &str,
    labels: (&str, &str),
) -> std::result::Result<Vec<(String, Change)>, String> {
    let parse = |text: &str| {
        ferroflux_helm_action::resources::parse(text)
            .map(|objects| {
                objects
                    .into_iter()
                    .map(|o| (id(&o), o))
                    .collect::<Vec<(String, Value)>>()
            })
            .map_err(|e| e.to_string())
    };
    let old = parse(before)?;
    let new = parse(after)?;
    let mut out = Vec::with_capacity(new.len());
    for (id, obj) in &new {
        let change = match old.iter().find(|(i, _)| i == id) {
            None => Change::Added,
            Some((_, previous)) => {
                // Each side masked against the other, so a changed
                // Secret value shows as changed on both.
                let mut was = previous.clone();
                let mut now = obj.clone();
                mask_secret(&mut was, obj, labels.0);
                mask_secret(&mut now, previous, labels.1);
                let (was, now) = (
                    ferroflux_kustomize::yaml::to_yaml(&was),
                    ferroflux_kustomize::yaml::to_yaml(&now),
                );
                if was == now {
                    Change::Unchanged
                } else {
                    Change::Changed(unified_with(&was, &now, labels))
                }
            }
        };
        out.push((id.clone(), change));
    }
    for (id, _) in &old {
        if !new.iter().any(|(i, _)| i == id) {
            out.push((id.clone(), Change::Removed));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Change, compare};

    const OLD: &str = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-cm\ndata:\n  a: one\n---\n# Source: demo/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secret\nstringData:\n  password: hunter2\n  user: admin\n---\n# Source: demo/templates/old.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-old\n";
    const NEW: &str = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-cm\ndata:\n  a: two\n---\n# Source: demo/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secret\nstringData:\n  password: correct-horse\n  user: admin\n---\n# Source: demo/templates/extra.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-extra\n  namespace: apps\n";

    #[test]
    fn objects_are_added_removed_or_changed_and_secrets_stay_masked() {
        let objects = compare(OLD, NEW, ("web.v1", "web.v2")).unwrap();
        let ids: Vec<&str> = objects.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ConfigMap/web-cm",
                "Secret/web-secret",
                "ConfigMap/apps/web-extra",
                "ConfigMap/web-old"
            ]
        );
        let Change::Changed(cm) = &objects[0].1 else {
            panic!("{objects:?}")
        };
        assert!(cm.starts_with("--- web.v1\n+++ web.v2\n"), "{cm}");
        assert!(cm.contains("-  a: one\n+  a: two\n"), "{cm}");
        let Change::Changed(secret) = &objects[1].1 else {
            panic!("{objects:?}")
        };
        assert!(
            secret.contains("-  password: '*** (web.v1 value)'")
                || secret.contains("-  password: \"*** (web.v1 value)\""),
            "{secret}"
        );
        assert!(!secret.contains("hunter2") && !secret.contains("correct-horse"));
        assert!(!secret.contains("admin"), "{secret}");
        assert_eq!(objects[2].1, Change::Added);
        assert_eq!(objects[3].1, Change::Removed);
        assert_eq!(
            compare(NEW, NEW, ("a", "b"))
                .unwrap()
                .iter()
                .filter(|(_, c)| *c != Change::Unchanged)
                .count(),
            0
        );
    }
}
