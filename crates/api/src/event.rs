//! The event the controllers POST to the notification-controller
//! (`event.toolkit.fluxcd.io/v1beta1`, Flux's payload, field for field).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// Severity of an informational event.
pub const SEVERITY_INFO: &str = "info";
/// Severity of an error event.
pub const SEVERITY_ERROR: &str = "error";
/// Severity of a trace event.
pub const SEVERITY_TRACE: &str = "trace";

/// The metadata key (after the object's API group and a `/`) holding the
/// revision the event is about, e.g. `source.toolkit.fluxcd.io/revision`.
pub const REVISION_KEY: &str = "revision";

/// A report of something a controller did or failed to do to an object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectReference,
    /// `trace`, `info` or `error`.
    pub severity: String,
    /// When the event was recorded.
    pub timestamp: Time,
    /// What happened, for people.
    pub message: String,
    /// Why, for machines (e.g. `NewArtifact`, `GitOperationFailed`).
    pub reason: String,
    /// Extra data, e.g. `<group>/revision`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller that emitted the event, e.g. `source-controller`.
    pub reporting_controller: String,
    /// The instance (pod) that emitted it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}
