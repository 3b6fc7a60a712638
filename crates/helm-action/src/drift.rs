//! Drift: the cluster's objects compared with a release's manifest, as Flux's helm-controller
//! compares them (`driftDetection`): each object of the deployed revision is dry-run applied
//! and the result compared with the live object (labels, annotations, everything outside
//! `metadata` and `status`), after removing the fields the ignore rules name (JSON Pointers,
//! RFC 6901) from both. A missing object is drift too. Correcting re-applies the drifted
//! objects without their ignored fields, so fields another manager owns stay theirs.

use ferroflux_helm::release::Release;
use ferroflux_ssa::apply::ObjectId;
use serde_json::Value;

use crate::{Error, Helm, Options, resources};

/// Which objects an ignore rule covers; an unset field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// API group (`""` for the core group).
    pub group: Option<String>,
    /// API version.
    pub version: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// A label selector (Kubernetes syntax) the object's labels in the manifest satisfy.
    pub label_selector: Option<String>,
    /// The same over the object's annotations in the manifest.
    pub annotation_selector: Option<String>,
}

impl Target {
    /// Whether the target covers `id`, whose object in the release manifest is `desired`. A
    /// malformed selector matches nothing (check them first with [`Target::check`]).
    fn matches(&self, id: &ObjectId, desired: &Value) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let selects = |selector: &Option<String>, field: &str| {
            selector.as_deref().is_none_or(|s| {
                ferroflux_kustomize::selector::matches_selector(
                    s,
                    desired.pointer(&format!("/metadata/{field}")),
                )
                .unwrap_or(false)
            })
        };
        eq(&self.group, &id.group)
            && eq(&self.version, &id.version)
            && eq(&self.kind, &id.kind)
            && eq(&self.namespace, &id.namespace)
            && eq(&self.name, &id.name)
            && selects(&self.label_selector, "labels")
            && selects(&self.annotation_selector, "annotations")
    }

    /// Checks the selectors' syntax.
    ///
    /// # Errors
    /// What is wrong with the first malformed selector, naming it.
    pub fn check(&self) -> Result<(), String> {
        for (field, selector) in [
            ("labelSelector", &self.label_selector),
            ("annotationSelector", &self.annotation_selector),
        ] {
            if let Some(selector) = selector {
                ferroflux_kustomize::selector::matches_selector(selector, None)
                    .map_err(|e| format!("{field} {selector:?}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Fields drift detection disregards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRule {
    /// JSON Pointers of the ignored fields.
    pub paths: Vec<String>,
    /// The objects it covers (all when `None`).
    pub target: Option<Target>,
}

/// One drifted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The object.
    pub id: ObjectId,
    /// The fields that differ (JSON Pointers, at most 10), empty when the object is missing.
    pub paths: Vec<String>,
    /// The object does not exist.
    pub missing: bool,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.missing {
            write!(f, "{} is missing", self.id)
        } else {
            write!(f, "{} changed at {}", self.id, self.paths.join(", "))
        }
    }
}

/// Removes the field a JSON Pointer names, if it exists.
pub fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some(rest) = pointer.strip_prefix('/') else {
        return;
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut current = value;
    for token in parents {
        current = match current {
            Value::Object(m) => match m.get_mut(token) {
                Some(v) => v,
                None => return,
            },
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match current {
        Value::Object(m) => {
            m.remove(last);
        }
        Value::Array(items) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// `obj` without the fields the rules covering `id` (whose object in the manifest is `desired`)
/// ignore.
fn without_ignored(obj: &Value, id: &ObjectId, desired: &Value, ignore: &[IgnoreRule]) -> Value {
    let mut out = obj.clone();
    for rule in ignore {
        if rule.target.as_ref().is_none_or(|t| t.matches(id, desired)) {
            for path in &rule.paths {
                remove_pointer(&mut out, path);
            }
        }
    }
    out
}

/// The JSON Pointers where `a` and `b` differ (`metadata` only for labels and annotations,
/// `status` never), at most `limit`.
fn differences(a: &Value, b: &Value, limit: usize) -> Vec<String> {
    fn walk(a: &Value, b: &Value, at: &str, out: &mut Vec<String>, limit: usize) {
        if out.len() >= limit || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let escaped = k.replace('~', "~0").replace('/', "~1");
                    walk(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{at}/{escaped}"),
                        out,
                        limit,
                    );
                }
            }
            _ => out.push(at.to_owned()),
        }
    }
    let trimmed = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("status");
            if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.retain(|k, _| k == "labels" || k == "annotations");
            }
        }
        v
    };
    let mut out = Vec::new();
    walk(&trimmed(a), &trimmed(b), "", &mut out, limit);
    out
}

impl Helm {
    /// The objects of `rel` that differ from their manifest in the cluster.
    ///
    /// # Errors
    /// [`Error::Resources`] when the manifest does not read or a dry run fails.
    pub async fn detect_drift(
        &self,
        rel: &Release,
        ignore: &[IgnoreRule],
    ) -> Result<Vec<Drift>, Error> {
        let opts = Options::new(&rel.name, &rel.namespace);
        let objects = self.objects_of(&rel.manifest, &opts).await?;
        let mut drifts = Vec::new();
        for obj in &objects {
            let id = ObjectId::of(obj);
            let desired = without_ignored(obj, &id, obj, ignore);
            let (live, dry) = self
                .applier
                .dry_run(&desired)
                .await
                .map_err(resources::Error::from)?;
            let Some(live) = live else {
                drifts.push(Drift {
                    id,
                    paths: Vec::new(),
                    missing: true,
                });
                continue;
            };
            let live = without_ignored(&live, &id, obj, ignore);
            let dry = without_ignored(&dry, &id, obj, ignore);
            if ferroflux_ssa::apply::drifted(&dry, &live) {
                drifts.push(Drift {
                    paths: differences(&dry, &live, 10),
                    id,
                    missing: false,
                });
            }
        }
        Ok(drifts)
    }

    /// Re-applies the drifted objects of `rel`, without their ignored fields.
    ///
    /// # Errors
    /// [`Error::Resources`] when an apply fails.
    pub async fn correct_drift(
        &self,
        rel: &Release,
        drifts: &[Drift],
        ignore: &[IgnoreRule],
    ) -> Result<(), Error> {
        let opts = Options::new(&rel.name, &rel.namespace);
        let objects: Vec<Value> = self
            .objects_of(&rel.manifest, &opts)
            .await?
            .into_iter()
            .filter_map(|o| {
                let id = ObjectId::of(&o);
                drifts
                    .iter()
                    .any(|d| d.id == id)
                    .then(|| without_ignored(&o, &id, &o, ignore))
            })
            .collect();
        resources::apply(&self.applier, &objects, false).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_remove_fields_and_items() {
        let mut v = json!({"spec": {"replicas": 3, "a/b": 1, "list": [1, 2, 3]}});
        remove_pointer(&mut v, "/spec/replicas");
        remove_pointer(&mut v, "/spec/a~1b");
        remove_pointer(&mut v, "/spec/list/1");
        remove_pointer(&mut v, "/spec/missing/deeper");
        assert_eq!(v, json!({"spec": {"list": [1, 3]}}));
    }

    #[test]
    fn targets_select_by_the_manifest_labels_and_annotations() {
        let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns",
                         "labels": {"tier": "front", "app": "web"},
                         "annotations": {"drift": "ignore"}},
            "spec": {"replicas": 3, "paused": false}});
        let id = ObjectId::of(&desired);
        let rule = |label: Option<&str>, annotation: Option<&str>| IgnoreRule {
            paths: vec!["/spec/replicas".into()],
            target: Some(Target {
                kind: Some("Deployment".into()),
                label_selector: label.map(Into::into),
                annotation_selector: annotation.map(Into::into),
                ..Target::default()
            }),
        };
        let live = json!({"spec": {"replicas": 5, "paused": true}});
        for (label, annotation, ignored) in [
            (Some("tier in (front,back),app"), None, true),
            (Some("tier=back"), None, false),
            (None, Some("drift=ignore"), true),
            (Some("app=web"), Some("drift!=ignore"), false),
        ] {
            let out = without_ignored(&live, &id, &desired, &[rule(label, annotation)]);
            assert_eq!(
                out.pointer("/spec/replicas").is_none(),
                ignored,
                "{label:?} {annotation:?}"
            );
            assert_eq!(out.pointer("/spec/paused"), Some(&json!(true)));
        }
        let bad = rule(Some("tier in (front"), None).target.unwrap();
        let err = bad.check().unwrap_err();
        assert!(err.contains("labelSelector \"tier in (front\""), "{err}");
        assert!(
            rule(Some("a,b!=c"), Some("x"))
                .target
                .unwrap()
                .check()
                .is_ok()
        );
    }

    #[test]
    fn differences_name_the_changed_leaves() {
        let a =
            json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v", "same": 1}});
        let b =
            json!({"metadata": {"name": "y", "labels": {"a": "2"}}, "data": {"k": "w", "same": 1}});
        assert_eq!(differences(&a, &b, 10), ["/data/k", "/metadata/labels/a"]);
    }
}
