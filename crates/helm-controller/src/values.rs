//! A HelmRelease's values, composed as Flux composes them: each `valuesFrom` reference in
//! order (a ConfigMap or Secret in the HelmRelease's namespace, `valuesKey` defaulting to
//! `values.yaml`, merged as a map, or set at `targetPath` with Helm's `--set` parser, quoted
//! text as a string; `optional` references skipped when missing), then `spec.values` merged
//! last; and the digest of the result (`sha256:<hex>` of its JSON with sorted keys).
//!
//! What a Secret holds never appears in an error: messages name the object and key only.

use std::collections::BTreeMap;

use ferroflux_api::helm::HelmRelease;
use ferroflux_helm::values::Values;
use ferroflux_helm::values::read::{float_numbers, merge_into, read_values};
use ferroflux_helm::values::strvals::{self, Mode};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client, ResourceExt as _};
use sha2::{Digest as _, Sha256};

/// Why the values could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A referenced object does not exist and is not optional.
    #[error(
        "could not find {kind} '{namespace}/{name}' (spec.valuesFrom); create it or mark the reference optional"
    )]
    Missing {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The key is absent and the reference is not optional.
    #[error("missing key '{key}' in {kind} '{namespace}/{name}' (spec.valuesFrom)")]
    MissingKey {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key.
        key: String,
    },
    /// The key's text is not a YAML map, or does not parse at `targetPath`.
    #[error("unable to read values from key '{key}' in {kind} '{namespace}/{name}': {message}")]
    Invalid {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key.
        key: String,
        /// What is wrong (never the value itself).
        message: String,
    },
    /// The kind is neither ConfigMap nor Secret.
    #[error("unsupported valuesFrom kind '{0}': use ConfigMap or Secret")]
    Kind(String),
    /// The API server failed.
    #[error("reading {kind} '{namespace}/{name}' (spec.valuesFrom) failed: {message}")]
    Api {
        /// `ConfigMap` or `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API server's message.
        message: String,
    },
    /// `spec.values` is not a map.
    #[error("spec.values must be a map")]
    NotAMap,
}

/// The composed values and what no message may show.
#[derive(Debug, Clone, Default)]
pub struct Composed {
    /// The values.
    pub values: Values,
    /// The values read from Secrets (to scrub from messages).
    pub secrets: Vec<String>,
}

/// Shortest Secret value masked on its own: shorter ones (`true`, a port) would mask ordinary
/// words in every message.
const MIN_MASKED_LEN: usize = 4;

/// The string and number leaves of `value` long enough to mask, into `out`.
fn leaf_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.len() >= MIN_MASKED_LEN => out.push(s.clone()),
        serde_json::Value::Number(n) if n.to_string().len() >= MIN_MASKED_LEN => {
            out.push(n.to_string());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| leaf_strings(v, out)),
        serde_json::Value::Object(m) => m.values().for_each(|v| leaf_strings(v, out)),
        _ => {}
    }
}

/// The data of a ConfigMap or Secret (`None` when it does not exist).
async fn read(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, Error> {
    let err_api = |e: kube::Error| Error::Api {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        message: e.to_string(),
    };
    match kind {
        "ConfigMap" => Ok(Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(err_api)?
            .map(|c| c.data.unwrap_or_default())),
        "Secret" => Ok(Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(err_api)?
            .map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect()
            })),
        other => Err(Error::Kind(other.to_owned())),
    }
}

/// Composes the HelmRelease's values.
///
/// # Errors
/// [`Error`] naming the reference that failed.
pub async fn compose(client: &Client, obj: &HelmRelease) -> Result<Composed, Error> {
    let namespace = obj.namespace().unwrap_or_default();
    let mut out = Composed::default();
    for reference in &obj.spec.values_from {
        let kind = reference.kind.as_str();
        let name = reference.name.as_str();
        let data = read(client, kind, &namespace, name).await?;
        let optional = reference.optional.unwrap_or(false);
        let Some(data) = data else {
            if optional {
                continue;
            }
            return Err(Error::Missing {
                kind: kind.to_owned(),
                namespace,
                name: name.to_owned(),
            });
        };
        let key = reference.values_key.as_deref().unwrap_or("values.yaml");
        let Some(text) = data.get(key) else {
            if optional {
                continue;
            }
            return Err(Error::MissingKey {
                kind: kind.to_owned(),
                namespace,
                name: name.to_owned(),
                key: key.to_owned(),
            });
        };
        if kind == "Secret" {
            out.secrets.push(text.clone());
        }
        let invalid = |message: String| Error::Invalid {
            kind: kind.to_owned(),
            namespace: namespace.clone(),
            name: name.to_owned(),
            key: key.to_owned(),
            message,
        };
        match reference.target_path.as_deref().filter(|p| !p.is_empty()) {
            None => {
                let values = read_values(text, key).map_err(|e| {
                    invalid(if kind == "Secret" {
                        "the text is not a YAML map".to_owned()
                    } else {
                        e.to_string()
                    })
                })?;
                if kind == "Secret" {
                    // Each value of a Secret's map is masked on its own too: an error may
                    // quote one value, never the whole text.
                    for value in values.values() {
                        leaf_strings(value, &mut out.secrets);
                    }
                }
                merge_into(&mut out.values, values);
            }
            Some(path) => {
                let quoted = |q: char| text.len() >= 2 && text.starts_with(q) && text.ends_with(q);
                let (line, mode) = if reference.literal.unwrap_or(false) {
                    (format!("{path}={text}"), Mode::Literal)
                } else if quoted('\'') || quoted('"') {
                    let inner = text.trim_matches(|c| c == '\'' || c == '"');
                    (format!("{path}={inner}"), Mode::String)
                } else {
                    (format!("{path}={text}"), Mode::Typed)
                };
                strvals::parse_into(&line, &mut out.values, mode)
                    .map_err(|_| invalid(format!("cannot set it at targetPath '{path}'")))?;
            }
        }
    }
    match &obj.spec.values {
        None | Some(serde_json::Value::Null) => {}
        // Read as Helm reads values (through JSON: every number a float64), as Flux does.
        Some(v @ serde_json::Value::Object(_)) => {
            if let serde_json::Value::Object(m) = float_numbers(v.clone()) {
                merge_into(&mut out.values, m);
            }
        }
        Some(_) => return Err(Error::NotAMap),
    }
    Ok(out)
}

/// `sha256:<hex>` of the values' JSON (keys sorted).
#[must_use]
pub fn digest(values: &Values) -> String {
    let json = serde_json::to_vec(values).unwrap_or_default();
    format!("sha256:{}", sha256_hex(&json))
}

/// The lowercase hex SHA-256 of `bytes`.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
