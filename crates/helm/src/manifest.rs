//! Helm's manifest sorting (`releaseutil.SortManifests`): rendered files are split into
//! documents, each document classified by its head (`kind`, the `helm.sh/hook` annotation),
//! and the manifests and hooks each sorted stably by Helm's install order of kinds.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

/// A rendered document that Helm would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A document is not YAML.
    #[error("YAML parse error on {file}: {message}")]
    Yaml {
        /// The template that rendered it.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// One document of a rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template that rendered it (`<chart>/templates/<file>`).
    pub source: String,
    /// The document, trimmed.
    pub content: String,
    /// Its `kind` (`""` when it has none, as a comment-only document).
    pub kind: String,
    /// Its `metadata.name` (`""` when it has none).
    pub name: String,
    /// Its hook events (`test-success` read as `test`); empty for a plain manifest.
    pub hook_events: Vec<String>,
    /// `helm.sh/hook-weight` read as Go's `strconv.Atoi` reads it (0 when absent or not a
    /// number).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`: the comma-separated policies, trimmed and lowercased.
    pub delete_policies: Vec<String>,
}

/// Kinds in the order Helm installs them; other kinds follow, by name.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
];

/// Go's `(?:^|\s*\n)---\s*`, with Go's `\s` (ASCII whitespace without `\v`).
static SEPARATOR: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").ok());

/// Splits one rendered file into trimmed, non-empty documents, as Helm's `SplitManifests`.
#[must_use]
pub fn split(text: &str) -> Vec<String> {
    let trimmed = go_trim(text);
    let pieces: Vec<&str> = match SEPARATOR.as_ref() {
        Some(re) => re.split(trimmed).collect(),
        None => vec![trimmed],
    };
    pieces
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| go_trim(d).to_owned())
        .collect()
}

/// Go's `strings.TrimSpace`.
fn go_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}

/// The documents of a render, as Helm sorts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Plain manifests, in install order.
    pub generic: Vec<Manifest>,
    /// Hooks, in install order.
    pub hooks: Vec<Manifest>,
    /// Documents dropped for unknown hook events, described for the log.
    pub skipped: Vec<String>,
}

/// Sorts the rendered files (by name) into manifests and hooks, each in Helm's order.
/// `NOTES.txt` files and whitespace-only files are skipped. Documents whose hook events are
/// unknown are dropped, as Helm drops them.
///
/// # Errors
/// A document that is not YAML, or not a mapping.
pub fn sort(files: &BTreeMap<String, String>) -> Result<Sorted, Error> {
    let mut generic = Vec::new();
    let mut hooks = Vec::new();
    let mut skipped = Vec::new();
    for (name, text) in files {
        if name.ends_with("NOTES.txt") || go_trim(text).is_empty() {
            continue;
        }
        for doc in split(text) {
            let Head {
                kind,
                name: object_name,
                hook,
                weight,
                delete_policies,
            } = head(name, &doc)?;
            let manifest = Manifest {
                source: name.clone(),
                content: doc,
                kind,
                name: object_name,
                hook_events: Vec::new(),
                weight,
                delete_policies,
            };
            match hook {
                None => generic.push(manifest),
                Some(events) => {
                    let parsed: Option<Vec<String>> = events
                        .split(',')
                        .map(|e| {
                            let e = e.trim().to_lowercase();
                            let e = if e == "test-success" {
                                "test".to_owned()
                            } else {
                                e
                            };
                            HOOK_EVENTS.contains(&e.as_str()).then_some(e)
                        })
                        .collect();
                    match parsed {
                        Some(hook_events) => hooks.push(Manifest {
                            hook_events,
                            ..manifest
                        }),
                        None => skipped.push(format!("{name}: unknown hook {events:?}")),
                    }
                }
            }
        }
    }
    sort_by_kind(&mut generic);
    sort_by_kind(&mut hooks);
    Ok(Sorted {
        generic,
        hooks,
        skipped,
    })
}

fn sort_by_kind(manifests: &mut [Manifest]) {
    let rank = |kind: &str| INSTALL_ORDER.iter().position(|k| *k == kind);
    manifests.sort_by(|a, b| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

/// What Helm reads of a document's head (its `SimpleHead` and hook annotations).
#[derive(Default)]
struct Head {
    kind: String,
    name: String,
    hook: Option<String>,
    weight: i64,
    delete_policies: Vec<String>,
}

/// The document's `kind`, name and hook annotations.
fn head(file: &str, doc: &str) -> Result<Head, Error> {
    let docs = ferroflux_yaml::parse_documents_helm(doc).map_err(|e| Error::Yaml {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    let Some(first) = docs.into_iter().next() else {
        return Ok(Head::default());
    };
    let Json::Object(map) = first else {
        let found = match first {
            Json::Array(_) => "array",
            Json::String(_) => "string",
            Json::Number(_) => "number",
            _ => "bool",
        };
        return Err(Error::Yaml {
            file: file.to_owned(),
            message: format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {found} into Go value of type util.SimpleHead"
            ),
        });
    };
    let kind = match map.get("kind") {
        Some(Json::String(k)) => k.clone(),
        _ => String::new(),
    };
    let metadata = map.get("metadata");
    let name = match metadata.and_then(|m| m.get("name")) {
        Some(Json::String(n)) => n.clone(),
        _ => String::new(),
    };
    let annotation = |key: &str| {
        metadata
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(key))
            .map(|h| match h {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let weight = annotation("helm.sh/hook-weight")
        .and_then(|w| go_atoi(&w))
        .unwrap_or(0);
    let delete_policies = annotation("helm.sh/hook-delete-policy")
        .map(|p| {
            p.split(',')
                .map(|d| d.trim().to_lowercase())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Ok(Head {
        kind,
        name,
        hook: annotation("helm.sh/hook"),
        weight,
        delete_policies,
    })
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, nothing else.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
