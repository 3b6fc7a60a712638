//! `ArtifactGenerator` (`source.extensions.fluxcd.io/v1beta1`): composes the
//! artifacts of one or more sources into ExternalArtifacts, or splits one
//! source into several (Flux's source-watcher).
//!
//! Each entry of `spec.artifacts` becomes an ExternalArtifact of the same
//! name in the generator's namespace, holding the files its `copy`
//! operations select from the sources named by alias in `spec.sources`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::kind::{Contract, DurationField, Kind};
use crate::meta::{Condition, ReconcileRequestStatus, SUCCEEDED_REASON};

/// The annotation that pauses an ArtifactGenerator when set to `disabled`
/// (any case), Flux's source-watcher's way of suspending one.
pub const RECONCILE_ANNOTATION: &str = "source.extensions.fluxcd.io/reconcile";
/// The label on every generated ExternalArtifact: the generator's UID.
pub const GENERATOR_LABEL: &str = "source.extensions.fluxcd.io/generator";
/// The artifact metadata key `originRevision` fills: the origin's revision.
pub const ORIGIN_REVISION_ANNOTATION: &str = "org.opencontainers.image.revision";
/// How often an ArtifactGenerator is reconciled when nothing else asks, as in Flux.
pub const DEFAULT_INTERVAL: &str = "1h";

/// `Stalled` reason: the spec is invalid (duplicate alias, unknown alias, bad path).
pub const VALIDATION_FAILED_REASON: &str = "ValidationFailed";
/// `Stalled` reason: a cross-namespace source refused by `--no-cross-namespace-refs`.
pub const ACCESS_DENIED_REASON: &str = "AccessDenied";
/// `Ready=False` reason: a source is missing, has no artifact, or its download failed.
pub const SOURCE_FETCH_FAILED_REASON: &str = "SourceFetchFailed";
/// `Ready=False` reason: a copy operation failed (no match, a file missing).
pub const BUILD_FAILED_REASON: &str = "BuildFailed";
/// `Ready=False` reason: writing an ExternalArtifact or the storage failed.
pub const RECONCILIATION_FAILED_REASON: &str = "ReconciliationFailed";

/// The copy strategy that replaces existing files (the default).
pub const OVERWRITE_STRATEGY: &str = "Overwrite";
/// The copy strategy that merges YAML into an existing file, as Helm merges values files.
pub const MERGE_STRATEGY: &str = "Merge";
/// The copy strategy that unpacks `.tar.gz`/`.tgz` archives.
pub const EXTRACT_STRATEGY: &str = "Extract";

/// The desired state of an ArtifactGenerator.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "source.extensions.fluxcd.io",
    version = "v1beta1",
    kind = "ArtifactGenerator",
    plural = "artifactgenerators",
    namespaced,
    status = "ArtifactGeneratorStatus",
    shortname = "ag",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message"
    ),
    doc = "Generates ExternalArtifacts from the artifacts of Flux sources."
)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorSpec {
    /// The sources the artifacts are made from, each under an alias.
    #[schemars(length(min = 1, max = 1000))]
    pub sources: Vec<SourceReference>,
    /// The ExternalArtifacts to generate.
    #[schemars(length(min = 1, max = 1000))]
    pub artifacts: Vec<OutputArtifact>,
}

/// A source of an ArtifactGenerator, named by an alias.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceReference {
    /// The alias copy operations name the source by (`@<alias>/...`); unique
    /// in the generator.
    #[schemars(length(max = 63), pattern(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"))]
    pub alias: String,
    /// Name of the source.
    #[schemars(length(max = 253), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: String,
    /// Namespace of the source; the generator's when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub namespace: Option<String>,
    /// Kind of the source.
    #[schemars(extend("enum" = ["Bucket", "GitRepository", "OCIRepository", "HelmChart", "ExternalArtifact"]))]
    pub kind: String,
}

/// One ExternalArtifact an ArtifactGenerator produces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// Name of the ExternalArtifact; unique in the generator.
    #[schemars(length(max = 253), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: String,
    /// `@<alias>`: the artifact takes that source's revision; when omitted
    /// the revision is `latest@<digest of the content>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), pattern(r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"))]
    pub revision: Option<String>,
    /// `@<alias>`: that source's origin revision (or its revision) is recorded
    /// in the artifact's metadata as `org.opencontainers.image.revision`,
    /// without changing the artifact's revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), pattern(r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$"))]
    pub origin_revision: Option<String>,
    /// The copy operations, applied in order; later ones overwrite earlier ones.
    #[schemars(length(min = 1))]
    pub copy: Vec<CopyOperation>,
}

/// Files copied from a source into a generated artifact.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyOperation {
    /// `@<alias>/<path or glob>`: what to copy (`*` one path segment, `**` any).
    #[schemars(
        length(max = 1024),
        pattern(r"^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$")
    )]
    pub from: String,
    /// `@artifact/<path>`: where to copy it; a trailing `/` names a directory.
    #[schemars(length(max = 1024), pattern(r"^@(artifact)/(.*)$"))]
    pub to: String,
    /// Globs of files matched by `from` to leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub exclude: Vec<String>,
    /// `Overwrite` (the default), `Merge` (YAML merged as Helm merges values
    /// files) or `Extract` (unpack `.tar.gz`/`.tgz` archives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Overwrite", "Merge", "Extract"]))]
    pub strategy: Option<String>,
}

/// The observed state of an ArtifactGenerator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorStatus {
    /// The last handled reconcile request.
    #[serde(flatten)]
    pub reconcile_request: ReconcileRequestStatus,
    /// `Ready`, `Reconciling`, `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The ExternalArtifacts generated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<ExternalArtifactReference>,
    /// A digest of the revisions and digests of every source the last
    /// generation used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
}

/// A generated ExternalArtifact in an ArtifactGenerator's inventory.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactReference {
    /// Name of the ExternalArtifact.
    pub name: String,
    /// Namespace of the ExternalArtifact.
    pub namespace: String,
    /// Digest of its artifact file.
    pub digest: String,
    /// The artifact file's name in storage.
    pub filename: String,
}

impl ArtifactGenerator {
    /// Whether the `source.extensions.fluxcd.io/reconcile` annotation is `disabled`.
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RECONCILE_ANNOTATION))
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    }
}

/// The alias `@<alias>` names, if `value` has that form.
#[must_use]
pub fn alias_of(value: &str) -> Option<&str> {
    let alias = value.strip_prefix('@')?;
    let ok = !alias.is_empty()
        && alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !alias.starts_with(['-', '_'])
        && !alias.ends_with(['-', '_']);
    ok.then_some(alias)
}

impl Kind for ArtifactGenerator {
    type Status = ArtifactGeneratorStatus;

    const CONTRACT: Contract = Contract {
        negative: &[],
        ready_reason: SUCCEEDED_REASON,
    };

    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
    fn interval(&self) -> GoDuration {
        GoDuration::new(DEFAULT_INTERVAL)
    }
    fn durations(&self) -> Vec<DurationField<'_>> {
        Vec::new()
    }
    fn suspended(&self) -> bool {
        self.is_disabled()
    }
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition> {
        &mut status.conditions
    }
    /// Flux's ArtifactGenerator status has no `observedGeneration`; the
    /// conditions record the generation they describe.
    fn set_observed_generation(_status: &mut Self::Status, _generation: i64) {}
    fn last_handled_reconcile_at(status: &mut Self::Status) -> &mut Option<String> {
        &mut status.reconcile_request.last_handled_reconcile_at
    }
}

#[cfg(test)]
mod tests {
    use super::alias_of;

    #[test]
    fn aliases_are_read_as_the_crd_pattern_allows() {
        assert_eq!(alias_of("@monorepo"), Some("monorepo"));
        assert_eq!(alias_of("@a_b-1"), Some("a_b-1"));
        assert_eq!(alias_of("monorepo"), None);
        assert_eq!(alias_of("@"), None);
        assert_eq!(alias_of("@-x"), None);
        assert_eq!(alias_of("@Upper"), None);
    }
}
