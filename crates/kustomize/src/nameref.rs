//! Name references: after prefixes, suffixes, namespaces and hash suffixes
//! have renamed objects, every field that names one of them (a pod's
//! ConfigMap volume, a `RoleBinding`'s `roleRef`, an Ingress backend, ... — the
//! `nameReference` table) is rewritten to the final name, as kustomize does
//! once at the top of a build.
//!
//! An object is a candidate for a reference when one of its earlier ids has
//! the referenced name and kind, and it is visible from the referrer (same
//! namespace, cluster-scoped, or a ServiceAccount). Objects never renamed or
//! moved have no earlier ids, so references to them are left alone.

use serde_json::Value;

use crate::fieldspec::{FieldSpec, NameReference};
use crate::resource::{Id, Resource};

/// Why a name reference could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A referring field that names no object unambiguously: a map without
    /// `name`, or a name several renamed objects had.
    #[error("{referrer}: {path}: {reason}")]
    Reference {
        /// The referring object.
        referrer: String,
        /// The field, as the `nameReference` table writes it.
        path: String,
        /// What is wrong, with the candidates when there are several.
        reason: String,
    },
}

/// What a referrer needs to know about another object.
struct Candidate {
    id: Id,
    previous: Vec<Id>,
    original: Id,
    written_namespace: String,
    cluster_scoped: bool,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// The referrer's side of the lookup.
struct Referrer<'a> {
    id: Id,
    cluster_scoped: bool,
    prefixes: &'a [String],
    suffixes: &'a [String],
    role_ref: Option<(String, String)>,
}

/// Rewrites every name reference in `acc` to the referenced object's
/// current name (and namespace, for references that carry one).
///
/// # Errors
/// [`Error::Reference`] naming the referrer, the field and the candidates
/// when a reference could mean more than one object.
pub fn fix(acc: &mut [Resource], name_references: &[NameReference]) -> Result<(), Error> {
    let all: Vec<Candidate> = acc
        .iter()
        .map(|r| Candidate {
            id: r.id(),
            previous: r.previous.clone(),
            original: r.original_id(),
            written_namespace: r.namespace().to_owned(),
            cluster_scoped: r.is_cluster_scoped(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        })
        .collect();
    for (i, resource) in acc.iter_mut().enumerate() {
        let original = &all[i].original;
        let filters: Vec<(&FieldSpec, &FieldSpec)> = name_references
            .iter()
            .flat_map(|backref| {
                backref
                    .referrers
                    .iter()
                    .filter(|spec| original.selected_by(spec))
                    .map(move |spec| (spec, &backref.target))
            })
            .collect();
        if filters.is_empty() {
            continue;
        }
        let visible =
            visible_from(&resource.obj, &all[i], &all).map_err(|reason| Error::Reference {
                referrer: all[i].id.to_string(),
                path: "subjects".into(),
                reason,
            })?;
        let referrer = Referrer {
            id: all[i].id.clone(),
            cluster_scoped: all[i].cluster_scoped,
            prefixes: &resource.prefixes,
            suffixes: &resource.suffixes,
            role_ref: role_ref(&resource.obj),
        };
        let mut obj = resource.obj.clone();
        for (spec, target) in filters {
            let mut failure = None;
            let mut spec = spec.clone();
            spec.create = false;
            spec.visit(&mut obj, &|| Value::Null, &mut |field| {
                if failure.is_none()
                    && let Err(e) = rewrite(field, &visible, &referrer, &spec, target)
                {
                    failure = Some(e);
                }
            });
            if let Some(reason) = failure {
                return Err(Error::Reference {
                    referrer: referrer.id.to_string(),
                    path: spec.path,
                    reason,
                });
            }
        }
        resource.obj = obj;
    }
    Ok(())
}

/// The objects a referrer may name: all of them for a cluster-scoped
/// referrer; else cluster-scoped ones, those in its namespace, and for a
/// `RoleBinding` those in the namespaces of its `ServiceAccount` subjects.
///
/// # Errors
/// A `ServiceAccount` subject whose `namespace` is given but not a string
/// (`namespace:` left blank): kustomize fails on it ("Invalid Input:
/// namespace is blank for resource").
fn visible_from<'a>(
    obj: &Value,
    me: &Candidate,
    all: &'a [Candidate],
) -> Result<Vec<&'a Candidate>, String> {
    if me.cluster_scoped {
        return Ok(all.iter().collect());
    }
    let mut subject_namespaces = Vec::new();
    if me.id.kind == "RoleBinding" {
        for subject in obj
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if subject.get("kind").and_then(Value::as_str) == Some("ServiceAccount") {
                match subject.get("namespace") {
                    Some(Value::String(ns)) => subject_namespaces.push(ns.as_str()),
                    Some(_) => {
                        return Err(
                            "a ServiceAccount subject's namespace is blank (kustomize fails: Invalid Input: namespace is blank); give the namespace or remove the field".into(),
                        );
                    }
                    None => {}
                }
            }
        }
    }
    Ok(all
        .iter()
        .filter(|c| {
            c.cluster_scoped
                || c.id.namespace == me.id.namespace
                || subject_namespaces.contains(&c.written_namespace.as_str())
        })
        .collect())
}

/// `(apiGroup, kind)` of a binding's `roleRef`.
fn role_ref(obj: &Value) -> Option<(String, String)> {
    let r = obj.get("roleRef")?;
    let text = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some((text("apiGroup"), text("kind")))
}

/// Rewrites one field: a name, or a map with `name` (and `namespace`).
fn rewrite(
    field: &mut Value,
    visible: &[&Candidate],
    referrer: &Referrer<'_>,
    spec: &FieldSpec,
    target: &FieldSpec,
) -> Result<(), String> {
    match field {
        Value::String(old) => {
            if let Some(found) = select(old, visible, referrer, spec, target)? {
                *old = found.id.name.clone();
            }
            Ok(())
        }
        Value::Object(map) => {
            let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_owned) else {
                return Err("a reference without a name field".into());
            };
            let by_namespace: Vec<&Candidate>;
            let candidates = match map.get("namespace").and_then(Value::as_str) {
                None => visible,
                Some(ns) => {
                    let originally: Vec<&Candidate> = visible
                        .iter()
                        .copied()
                        .filter(|c| !c.cluster_scoped && c.original.namespace == ns)
                        .collect();
                    by_namespace = if originally.is_empty() {
                        visible
                            .iter()
                            .copied()
                            .filter(|c| !c.cluster_scoped && c.id.namespace == ns)
                            .collect()
                    } else {
                        originally
                    };
                    &by_namespace
                }
            };
            let Some(found) = select(&old, candidates, referrer, spec, target)? else {
                return Ok(());
            };
            if found.id.name == old && found.written_namespace.is_empty() {
                return Ok(());
            }
            map.insert("name".into(), Value::String(found.id.name.clone()));
            if !found.written_namespace.is_empty() {
                map.insert(
                    "namespace".into(),
                    Value::String(found.written_namespace.clone()),
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// kustomize's choice among the candidates for the name `old`.
fn select<'a>(
    old: &str,
    candidates: &[&'a Candidate],
    referrer: &Referrer<'_>,
    spec: &FieldSpec,
    target: &FieldSpec,
) -> Result<Option<&'a Candidate>, String> {
    let is_role_ref = spec.path.ends_with("roleRef/name");
    let found: Vec<&Candidate> = candidates
        .iter()
        .copied()
        .filter(|c| c.previous.iter().any(|id| id.name == old))
        .filter(|c| c.previous.iter().any(|id| id.selected_by(target)))
        .filter(|c| match (&referrer.role_ref, is_role_ref) {
            (Some((group, kind)), true) => {
                (group.is_empty() || *group == c.id.group)
                    && (kind.is_empty() || *kind == c.id.kind)
            }
            _ => true,
        })
        .filter(|c| {
            referrer.cluster_scoped
                || c.cluster_scoped
                || c.id.kind == "ServiceAccount"
                || c.id.namespace == referrer.id.namespace
        })
        .collect();
    if found.len() <= 1 {
        return Ok(found.first().copied());
    }
    // kustomize sieves twice: first letting an empty history match any,
    // then, if several remain, only exactly agreeing histories (a base
    // included under several overlays refers within its own copy).
    let mut found: Vec<&Candidate> = found
        .into_iter()
        .filter(|c| {
            same_history(&c.prefixes, referrer.prefixes, true)
                && same_history(&c.suffixes, referrer.suffixes, true)
        })
        .collect();
    if found.len() > 1 {
        found.retain(|c| {
            same_history(&c.prefixes, referrer.prefixes, false)
                && same_history(&c.suffixes, referrer.suffixes, false)
        });
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..]
            if rest.iter().all(|c| {
                c.id.name == first.id.name && c.written_namespace == first.written_namespace
            }) =>
        {
            Ok(Some(first))
        }
        _ => Err(format!(
            "'{old}' could refer to any of {}; give them distinct names",
            found
                .iter()
                .map(|c| c.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether two prefix (or suffix) histories agree: the shorter is the tail
/// of the longer; with `allow_empty`, an empty history agrees with any, and
/// without, only with another empty one.
fn same_history(a: &[String], b: &[String], allow_empty: bool) -> bool {
    if a.is_empty() || b.is_empty() {
        return allow_empty || (a.is_empty() && b.is_empty());
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.ends_with(short)
}
