//! Helm's release record (`helm.sh/release.v1`) as Helm v4 writes it: the release JSON
//! (`name`, `info`, `chart`, `config`, `manifest`, `hooks`, `version`, `namespace`,
//! `apply_method`), the chart as the release keeps it (metadata, templates, values, schema and
//! files, base64; no subcharts, as Helm stores none), and the storage encoding Helm's Secret
//! driver uses: base64 of gzip of the JSON, in a Secret `sh.helm.release.v1.<name>.v<version>`
//! labelled `name`, `owner=helm`, `status`, `version` and `modifiedAt`.
//!
//! Pure: no I/O. Fields this model does not know are kept (`extra`) so that a release another
//! Helm wrote survives being read and written back. Decoding is capped
//! ([`MAX_DECODED_BYTES`]): a release Secret is tenant data.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::chart::{Chart, Dependency, File, Metadata};
use crate::funcs::encoding::{b64_decode, b64_encode};
use crate::manifest::Manifest;
use crate::values::Values;

/// The Secret type Helm's Secret driver writes.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// The label every Helm release Secret carries (`owner=helm`).
pub const OWNER_LABEL: (&str, &str) = ("owner", "helm");

/// The most a release record may decompress to (64 MiB): a Kubernetes Secret holds at most
/// 1 MiB, and Helm's own records compress about tenfold, so anything bigger is hostile.
pub const MAX_DECODED_BYTES: u64 = 64 << 20;

/// A release record that cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stored text is not base64.
    #[error("the release record is not base64 (illegal data at byte {0})")]
    Base64(usize),
    /// The gzip stream is corrupt.
    #[error("the release record's gzip data is corrupt: {0}")]
    Gzip(String),
    /// The record decompresses to more than [`MAX_DECODED_BYTES`].
    #[error("the release record decompresses to more than {MAX_DECODED_BYTES} bytes; refusing it")]
    TooLarge,
    /// The JSON does not describe a release.
    #[error("the release record is not a Helm release: {0}")]
    Json(String),
}

/// A release's status, as Helm names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Installed or upgraded: the release's current revision.
    Deployed,
    /// Uninstalled, history kept.
    Uninstalled,
    /// Replaced by a later revision.
    Superseded,
    /// The install, upgrade or rollback failed.
    Failed,
    /// Being uninstalled.
    Uninstalling,
    /// Being installed.
    PendingInstall,
    /// Being upgraded.
    PendingUpgrade,
    /// Being rolled back.
    PendingRollback,
    /// A status this model does not know (Helm's `unknown`, or a future one).
    #[default]
    #[serde(other)]
    Unknown,
}

impl Status {
    /// The name Helm writes (`deployed`, `pending-upgrade`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// Whether an operation on the release is (or was left) in progress.
    #[must_use]
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revision of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Release {
    /// The release name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// When and how it was deployed, and its status.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub info: Option<Info>,
    /// The chart it was made from.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub chart: Option<ChartRecord>,
    /// The values the user supplied (not the chart's defaults).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub config: Values,
    /// The rendered manifests, as Helm stores them (`---\n# Source: ...`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub manifest: String,
    /// The hooks, in install order.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hooks: Vec<Hook>,
    /// The revision, from 1.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub version: u32,
    /// The namespace the release is installed into.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    /// `ssa` (server-side apply) or `csa` (client-side, also when empty).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub apply_method: String,
    /// Fields this model does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

/// Go's JSON writes a nil slice or map as `null`: read it as empty, as Go reads it back.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes the field by reference"
)]
fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A release's deployment facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Info {
    /// When the first revision was deployed (RFC 3339).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub first_deployed: String,
    /// When this revision was deployed (RFC 3339).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub last_deployed: String,
    /// When it was uninstalled (RFC 3339).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub deleted: String,
    /// What happened (`Install complete`, `Upgrade "x" failed: ...`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// The status.
    #[serde(default, deserialize_with = "nullable")]
    pub status: Status,
    /// The rendered `NOTES.txt`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub notes: String,
    /// Fields this model does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

/// A hook of a release and its last run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Hook {
    /// The object's name.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// The object's kind.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    /// The template that rendered it (`<chart>/templates/<file>`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub path: String,
    /// The document.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub manifest: String,
    /// The events it runs on (`pre-install`, `test`, ...).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<String>,
    /// Its last run.
    #[serde(default, deserialize_with = "nullable")]
    pub last_run: HookExecution,
    /// `helm.sh/hook-weight`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub delete_policies: Vec<String>,
    /// Fields this model does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes the field by reference"
)]
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

impl Hook {
    /// The hook record of a rendered hook document, not run yet.
    #[must_use]
    pub fn from_manifest(m: &Manifest) -> Hook {
        Hook {
            name: m.name.clone(),
            kind: m.kind.clone(),
            path: m.source.clone(),
            manifest: m.content.clone(),
            events: m.hook_events.clone(),
            last_run: HookExecution::default(),
            weight: m.weight,
            delete_policies: m.delete_policies.clone(),
            extra: BTreeMap::new(),
        }
    }
}

/// When a hook last ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HookExecution {
    /// When it started (RFC 3339).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub started_at: String,
    /// When it ended (RFC 3339).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub completed_at: String,
    /// `Unknown`, `Running`, `Succeeded` or `Failed`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub phase: String,
}

/// The chart as a release keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChartRecord {
    /// `Chart.yaml`.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: MetadataRecord,
    /// `Chart.lock` (`null` when absent).
    #[serde(default, deserialize_with = "nullable")]
    pub lock: Json,
    /// The files under `templates/`.
    #[serde(default, deserialize_with = "nullable")]
    pub templates: Vec<FileRecord>,
    /// `values.yaml`.
    #[serde(default, deserialize_with = "nullable")]
    pub values: Values,
    /// `values.schema.json`, base64 (`null` when absent).
    #[serde(default, with = "optional_base64")]
    pub schema: Option<Vec<u8>>,
    /// When the schema was loaded (Go's zero time when it was not).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub schemamodtime: String,
    /// The other files.
    #[serde(default, deserialize_with = "nullable")]
    pub files: Vec<FileRecord>,
    /// When the chart was loaded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub modtime: String,
    /// Fields this model does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

/// Go's zero `time.Time` as JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl ChartRecord {
    /// The record of a loaded chart; `loaded_at` is when it was loaded (RFC 3339).
    #[must_use]
    pub fn from_chart(chart: &Chart, loaded_at: &str) -> ChartRecord {
        let file = |f: &File| FileRecord {
            name: f.name.clone(),
            data: f.data.clone(),
            modtime: loaded_at.to_owned(),
        };
        ChartRecord {
            metadata: MetadataRecord::from_metadata(&chart.metadata),
            lock: Json::Null,
            templates: chart.templates.iter().map(file).collect(),
            values: chart.values.clone(),
            schema: chart.schema.clone(),
            schemamodtime: if chart.schema.is_some() {
                loaded_at.to_owned()
            } else {
                ZERO_TIME.to_owned()
            },
            files: chart.files.iter().map(file).collect(),
            modtime: loaded_at.to_owned(),
            extra: BTreeMap::new(),
        }
    }
}

/// A file of a chart record, its content base64 in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FileRecord {
    /// The path inside the chart.
    pub name: String,
    /// The content.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
    /// When it was loaded.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub modtime: String,
}

/// `Chart.yaml` as Helm's `chart.Metadata` marshals it (Go's field order, empty fields left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MetadataRecord {
    /// `name`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// `home`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub home: String,
    /// `sources`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<String>,
    /// `version`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub version: String,
    /// `description`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// `keywords`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub keywords: Vec<String>,
    /// `maintainers`, as written.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub maintainers: Vec<Json>,
    /// `icon`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub icon: String,
    /// `apiVersion`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// `condition`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub condition: String,
    /// `tags`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub tags: String,
    /// `appVersion`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_version: String,
    /// `deprecated`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub deprecated: bool,
    /// `annotations`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// `kubeVersion`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kube_version: String,
    /// `dependencies`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dependencies: Vec<DependencyRecord>,
    /// `type`.
    #[serde(
        default,
        deserialize_with = "nullable",
        rename = "type",
        skip_serializing_if = "String::is_empty"
    )]
    pub chart_type: String,
    /// Fields this model does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

impl MetadataRecord {
    /// The record of a chart's metadata.
    #[must_use]
    pub fn from_metadata(m: &Metadata) -> MetadataRecord {
        MetadataRecord {
            name: m.name.clone(),
            home: m.home.clone(),
            sources: m.sources.clone(),
            version: m.version.clone(),
            description: m.description.clone(),
            keywords: m.keywords.clone(),
            maintainers: m.maintainers.clone(),
            icon: m.icon.clone(),
            api_version: m.api_version.clone(),
            condition: m.condition.clone(),
            tags: m.tags.clone(),
            app_version: m.app_version.clone(),
            deprecated: m.deprecated,
            annotations: m.annotations.clone().unwrap_or_default(),
            kube_version: m.kube_version.clone(),
            dependencies: m
                .dependencies
                .iter()
                .map(DependencyRecord::from_dependency)
                .collect(),
            chart_type: m.chart_type.clone(),
            extra: BTreeMap::new(),
        }
    }
}

/// One `dependencies:` entry as Helm's `chart.Dependency` marshals it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DependencyRecord {
    /// `name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `version`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub version: String,
    /// `repository`.
    #[serde(default, deserialize_with = "nullable")]
    pub repository: String,
    /// `condition`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub condition: String,
    /// `tags`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    /// `enabled`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enabled: bool,
    /// `import-values`.
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_values: Vec<Json>,
    /// `alias`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub alias: String,
}

impl DependencyRecord {
    fn from_dependency(d: &Dependency) -> DependencyRecord {
        DependencyRecord {
            name: d.name.clone(),
            version: d.version.clone(),
            repository: d.repository.clone(),
            condition: d.condition.clone(),
            tags: d.tags.clone(),
            enabled: d.enabled,
            import_values: d.import_values.clone(),
            alias: d.alias.clone(),
        }
    }
}

mod base64_bytes {
    use super::{Deserialize as _, Deserializer, Serializer, b64_decode, b64_encode};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        b64_decode(&text)
            .map_err(|at| serde::de::Error::custom(format!("illegal base64 data at byte {at}")))
    }
}

mod optional_base64 {
    use super::{Deserialize as _, Deserializer, Serializer, b64_decode, b64_encode};

    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&b64_encode(b)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => b64_decode(&text).map(Some).map_err(|at| {
                serde::de::Error::custom(format!("illegal base64 data at byte {at}"))
            }),
        }
    }
}

impl Release {
    /// The status (`unknown` when the record has no `info`).
    #[must_use]
    pub fn status(&self) -> Status {
        self.info.as_ref().map_or(Status::Unknown, |i| i.status)
    }

    /// Sets the status and the description, as Helm's `SetStatus` does.
    pub fn set_status(&mut self, status: Status, description: &str) {
        let info = self.info.get_or_insert_with(Info::default);
        info.status = status;
        description.clone_into(&mut info.description);
    }

    /// The name of the Secret Helm keeps this revision in.
    #[must_use]
    pub fn secret_name(&self) -> String {
        secret_name(&self.name, self.version)
    }

    /// The labels Helm's Secret driver puts on this revision's Secret; `modified_at` is the
    /// Unix time of the write.
    #[must_use]
    pub fn labels(&self, modified_at: i64) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("name".to_owned(), self.name.clone()),
            (OWNER_LABEL.0.to_owned(), OWNER_LABEL.1.to_owned()),
            ("status".to_owned(), self.status().as_str().to_owned()),
            ("version".to_owned(), self.version.to_string()),
            ("modifiedAt".to_owned(), modified_at.to_string()),
        ])
    }

    /// The chart's name and version as Helm lists them (`podinfo-6.5.0`).
    #[must_use]
    pub fn chart_label(&self) -> String {
        self.chart.as_ref().map_or_else(String::new, |c| {
            format!("{}-{}", c.metadata.name, c.metadata.version)
        })
    }
}

/// `sh.helm.release.v1.<name>.v<version>`.
#[must_use]
pub fn secret_name(name: &str, version: u32) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// The release as Helm's Secret driver stores it: base64 of the gzip (best compression) of
/// the JSON.
///
/// # Errors
/// [`Error::Json`] if the release does not serialize (a value JSON cannot hold).
pub fn encode(release: &Release) -> Result<String, Error> {
    let json = serde_json::to_vec(release).map_err(|e| Error::Json(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json)
        .and_then(|()| gz.finish())
        .map(|bytes| b64_encode(&bytes))
        .map_err(|e| Error::Gzip(e.to_string()))
}

/// Reads a stored release: base64, then gzip when the data starts with gzip's magic (Helm
/// reads uncompressed JSON too), then JSON; never more than [`MAX_DECODED_BYTES`].
///
/// # Errors
/// [`Error`]: bad base64, corrupt gzip, too large, or JSON that is not a release.
pub fn decode(text: &str) -> Result<Release, Error> {
    let raw = b64_decode(text.trim()).map_err(Error::Base64)?;
    let json = if raw.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::Gzip(e.to_string()))?;
        if out.len() as u64 > MAX_DECODED_BYTES {
            return Err(Error::TooLarge);
        }
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).map_err(|e| Error::Json(e.to_string()))
}

/// The current time as Helm's release records write it, and as Unix seconds (for the
/// `modifiedAt` label).
#[must_use]
pub fn now() -> (String, i64) {
    let (secs, nanos) = crate::funcs::dates::now_unix();
    (crate::funcs::dates::rfc3339_nano(secs, nanos), secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_unknown_fields_and_statuses() {
        let json = r#"{"name":"r","info":{"first_deployed":"2026-12-07T11:10:44.04Z","status":"pending-upgrade","future":1},"version":3,"namespace":"ns","labels_x":{"a":"b"}}"#;
        let release: Release = serde_json::from_str(json).unwrap();
        assert_eq!(release.status(), Status::PendingUpgrade);
        assert!(release.status().is_pending());
        assert_eq!(release.secret_name(), "sh.helm.release.v1.r.v3");
        let back = decode(&encode(&release).unwrap()).unwrap();
        assert_eq!(back, release);
        let text = serde_json::to_string(&back).unwrap();
        assert!(text.contains(r#""future":1"#), "{text}");
        assert!(text.contains(r#""labels_x":{"a":"b"}"#), "{text}");
    }

    #[test]
    fn unknown_status_reads_as_unknown() {
        let release: Release = serde_json::from_str(r#"{"info":{"status":"exploding"}}"#).unwrap();
        assert_eq!(release.status(), Status::Unknown);
    }

    #[test]
    fn refuses_a_gzip_bomb_and_garbage() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..65 {
            assert!(gz.write_all(&zeros).is_ok());
        }
        let bomb = b64_encode(&gz.finish().unwrap());
        assert!(matches!(decode(&bomb), Err(Error::TooLarge)));
        assert!(matches!(decode("%%%"), Err(Error::Base64(_))));
        assert!(matches!(decode(&b64_encode(b"[1]")), Err(Error::Json(_))));
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        assert_eq!(
            crate::funcs::dates::rfc3339_nano(1_796_641_844, 40_858_793),
            "2026-12-07T11:10:44.040858793Z"
        );
        assert_eq!(
            crate::funcs::dates::rfc3339_nano(1_796_641_844, 500_000_000),
            "2026-12-07T11:10:44.5Z"
        );
        assert_eq!(
            crate::funcs::dates::rfc3339_nano(1_796_641_844, 0),
            "2026-12-07T11:10:44Z"
        );
    }
}
