//! Health: whether applied objects are ready, in the sense of kstatus
//! (what Flux's `wait` and `healthChecks` use): workloads rolled out and
//! available, Jobs complete, claims bound, CRDs established, and any other
//! object whose `observedGeneration` and `Ready`/`Reconciling`/`Stalled`
//! conditions say it has settled.

use serde_json::Value;

/// An object's readiness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Ready.
    Current,
    /// Not ready yet; the text says what is missing.
    InProgress(String),
    /// It will not become ready without a change.
    Failed(String),
}

impl Status {
    /// kstatus's name for the status.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Current => "Current",
            Self::InProgress(_) => "InProgress",
            Self::Failed(_) => "Failed",
        }
    }
}

fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// The status of condition `type_`: `Some("True")`, `Some("False")`, ...
fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a str> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .and_then(|c| c.get("status").and_then(Value::as_str))
}

/// The readiness of a live object.
#[must_use]
pub fn status(obj: &Value) -> Status {
    let kind = text(obj, "/kind").unwrap_or_default();
    let group = text(obj, "/apiVersion")
        .and_then(|v| v.rsplit_once('/').map(|(g, _)| g))
        .unwrap_or_default();
    let generation = int(obj, "/metadata/generation");
    let observed = int(obj, "/status/observedGeneration");
    if generation.is_some() && observed.is_some() && observed < generation {
        return Status::InProgress(format!(
            "the controller has not observed generation {} yet",
            generation.unwrap_or_default()
        ));
    }
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => replicas_ready(obj, "/status/readyReplicas"),
        ("apps" | "extensions", "ReplicaSet") => replicas_ready(obj, "/status/availableReplicas"),
        ("apps" | "extensions", "DaemonSet") => daemon_set(obj),
        ("batch", "Job") => job(obj),
        ("", "PersistentVolumeClaim") => match text(obj, "/status/phase") {
            Some("Bound") => Status::Current,
            phase => Status::InProgress(format!("phase {}", phase.unwrap_or("unknown"))),
        },
        ("", "Pod") => match (text(obj, "/status/phase"), condition(obj, "Ready")) {
            (Some("Succeeded"), _) | (_, Some("True")) => Status::Current,
            (Some("Failed"), _) => Status::Failed("the pod failed".into()),
            (phase, _) => Status::InProgress(format!("pod {}", phase.unwrap_or("pending"))),
        },
        ("", "Namespace") => match text(obj, "/status/phase") {
            Some("Terminating") => Status::InProgress("terminating".into()),
            _ => Status::Current,
        },
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            match condition(obj, "Established") {
                Some("True") => Status::Current,
                _ => Status::InProgress("not established".into()),
            }
        }
        _ => generic(obj),
    }
}

fn deployment(obj: &Value) -> Status {
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let get = |field: &str| int(obj, &format!("/status/{field}")).unwrap_or(0);
    if obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded"))
    {
        return Status::Failed("progress deadline exceeded".into());
    }
    if get("updatedReplicas") < want {
        return Status::InProgress(format!(
            "{} of {want} replicas updated",
            get("updatedReplicas")
        ));
    }
    if get("replicas") > want {
        return Status::InProgress(format!(
            "{} old replicas pending termination",
            get("replicas") - want
        ));
    }
    if get("availableReplicas") < want {
        return Status::InProgress(format!(
            "{} of {want} replicas available",
            get("availableReplicas")
        ));
    }
    if condition(obj, "Available") == Some("False") {
        return Status::InProgress("not available".into());
    }
    Status::Current
}

fn replicas_ready(obj: &Value, ready_field: &str) -> Status {
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let ready = int(obj, ready_field).unwrap_or(0);
    if ready < want {
        return Status::InProgress(format!("{ready} of {want} replicas ready"));
    }
    let current = text(obj, "/status/currentRevision");
    let update = text(obj, "/status/updateRevision");
    if current.is_some() && update.is_some() && current != update {
        return Status::InProgress("rolling out a new revision".into());
    }
    Status::Current
}

fn daemon_set(obj: &Value) -> Status {
    let get = |field: &str| int(obj, &format!("/status/{field}")).unwrap_or(0);
    let desired = get("desiredNumberScheduled");
    for field in ["updatedNumberScheduled", "numberAvailable", "numberReady"] {
        if get(field) < desired {
            return Status::InProgress(format!("{} of {desired} pods {field}", get(field)));
        }
    }
    Status::Current
}

fn job(obj: &Value) -> Status {
    if condition(obj, "Failed") == Some("True") {
        return Status::Failed("the job failed".into());
    }
    if condition(obj, "Complete") == Some("True") {
        return Status::Current;
    }
    Status::InProgress("not complete".into())
}

fn generic(obj: &Value) -> Status {
    if condition(obj, "Stalled") == Some("True") {
        return Status::Failed("stalled".into());
    }
    if condition(obj, "Reconciling") == Some("True") {
        return Status::InProgress("reconciling".into());
    }
    match condition(obj, "Ready") {
        Some("False") => Status::InProgress("Ready is False".into()),
        Some("Unknown") => Status::InProgress("Ready is Unknown".into()),
        _ => Status::Current,
    }
}

/// A user's readiness rule for the objects of one kind (Flux's `healthCheckExprs`): CEL
/// expressions over the object's top-level fields. See [`status_with`].
#[derive(Debug)]
pub struct CustomCheck {
    group: String,
    kind: Option<String>,
    current: ferroflux_cel::Expression,
    in_progress: Option<ferroflux_cel::Expression>,
    failed: Option<ferroflux_cel::Expression>,
}

impl CustomCheck {
    /// Compiles entry `index` of `field` (`spec.healthCheckExprs`): the objects of
    /// `api_version`'s group and `kind` (any kind of the group when `None`), judged by
    /// `current`, `in_progress` and `failed`.
    ///
    /// # Errors
    /// The first expression that does not parse, naming its field.
    pub fn compile(
        field: &str,
        index: usize,
        api_version: &str,
        kind: Option<&str>,
        current: &str,
        in_progress: Option<&str>,
        failed: Option<&str>,
    ) -> Result<Self, ferroflux_cel::Error> {
        let at = |name: &str| format!("{field}[{index}].{name}");
        let optional = |name: &str, source: Option<&str>| {
            source
                .filter(|s| !s.trim().is_empty())
                .map(|s| ferroflux_cel::Expression::compile(&at(name), s))
                .transpose()
        };
        Ok(Self {
            group: api_version
                .rsplit_once('/')
                .map(|(g, _)| g.to_owned())
                .unwrap_or_default(),
            kind: kind.filter(|k| !k.is_empty()).map(str::to_owned),
            current: ferroflux_cel::Expression::compile(&at("current"), current)?,
            in_progress: optional("inProgress", in_progress)?,
            failed: optional("failed", failed)?,
        })
    }

    fn covers(&self, obj: &Value) -> bool {
        let group = text(obj, "/apiVersion")
            .and_then(|v| v.rsplit_once('/').map(|(g, _)| g))
            .unwrap_or_default();
        group == self.group
            && self
                .kind
                .as_deref()
                .is_none_or(|k| Some(k) == text(obj, "/kind"))
    }

    /// Flux's order: a controller that has not observed the object's generation yet means in
    /// progress; then `inProgress`, `failed` and `current`, the first that holds deciding; none
    /// holding, or one failing to evaluate (a field not there yet), means in progress.
    fn judge(&self, obj: &Value) -> Status {
        let generation = int(obj, "/metadata/generation");
        let observed = int(obj, "/status/observedGeneration");
        if let (Some(generation), Some(observed)) = (generation, observed)
            && observed != generation
        {
            return Status::InProgress(format!(
                "the controller has not observed generation {generation} yet"
            ));
        }
        let steps = [
            (self.in_progress.as_ref(), "inProgress"),
            (self.failed.as_ref(), "failed"),
            (Some(&self.current), "current"),
        ];
        for (expression, name) in steps {
            let Some(expression) = expression else {
                continue;
            };
            match expression.evaluate_on_object(obj) {
                Ok(true) => {
                    return match name {
                        "current" => Status::Current,
                        "failed" => Status::Failed(format!(
                            "healthCheckExprs failed expression holds: {}",
                            expression.source()
                        )),
                        _ => Status::InProgress(format!(
                            "healthCheckExprs inProgress expression holds: {}",
                            expression.source()
                        )),
                    };
                }
                Ok(false) => {}
                Err(e) => return Status::InProgress(e.to_string()),
            }
        }
        Status::InProgress(format!(
            "healthCheckExprs current expression does not hold yet: {}",
            self.current.source()
        ))
    }
}

/// The readiness of a live object, judged by the first of `checks` that covers its kind, else
/// as [`status`] judges it.
#[must_use]
pub fn status_with(obj: &Value, checks: &[CustomCheck]) -> Status {
    checks
        .iter()
        .find(|c| c.covers(obj))
        .map_or_else(|| status(obj), |c| c.judge(obj))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{CustomCheck, Status, status, status_with};

    #[test]
    fn workloads_are_current_once_rolled_out_and_available() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1}});
        assert_eq!(status(&d).name(), "InProgress");
        d["status"] = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "availableReplicas": 1});
        assert_eq!(
            status(&d),
            Status::InProgress("1 of 2 replicas available".into())
        );
        d["status"]["availableReplicas"] = json!(2);
        assert_eq!(status(&d), Status::Current);
        let zero = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"replicas": 0}, "status": {}});
        assert_eq!(status(&zero), Status::Current);
        let stuck = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "status": {"conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(status(&stuck).name(), "Failed");
    }

    #[test]
    fn other_kinds_follow_their_rules() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(status(&job), Status::Current);
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "status": {"phase": "Pending"}});
        assert_eq!(status(&pvc).name(), "InProgress");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(status(&cm), Status::Current);
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(status(&custom).name(), "InProgress");
        let stalled = json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "status": {"conditions": [{"type": "Stalled", "status": "True"}]}});
        assert_eq!(status(&stalled).name(), "Failed");
    }

    fn certificate_check() -> CustomCheck {
        CustomCheck::compile(
            "spec.healthCheckExprs",
            0,
            "cert-manager.io/v1",
            Some("Certificate"),
            "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
            Some("status.conditions.exists(e, e.type == 'Issuing' && e.status == 'True')"),
            Some("status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')"),
        )
        .unwrap()
    }

    #[test]
    fn custom_checks_judge_their_kind_in_flux_order() {
        let checks = [certificate_check()];
        let cert = |conditions: serde_json::Value| {
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "c", "generation": 1},
                   "status": {"observedGeneration": 1, "conditions": conditions}})
        };
        let issuing = cert(json!([{"type": "Issuing", "status": "True"},
                                  {"type": "Ready", "status": "True"}]));
        assert!(
            matches!(status_with(&issuing, &checks), Status::InProgress(m) if m.contains("inProgress"))
        );
        let failed = cert(json!([{"type": "Ready", "status": "False"}]));
        assert_eq!(status_with(&failed, &checks).name(), "Failed");
        // Without the check, kstatus reads Ready=False as in progress.
        assert_eq!(status(&failed).name(), "InProgress");
        let ready = cert(json!([{"type": "Ready", "status": "True"}]));
        assert_eq!(status_with(&ready, &checks), Status::Current);
        let mut behind = ready.clone();
        behind["metadata"]["generation"] = json!(2);
        assert!(
            matches!(status_with(&behind, &checks), Status::InProgress(m) if m.contains("generation 2"))
        );
        // A field not there yet: in progress, with the evaluation error.
        let fresh = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                           "metadata": {"name": "c"}});
        assert!(
            matches!(status_with(&fresh, &checks), Status::InProgress(m) if m.contains("evaluating"))
        );
        // Other kinds keep the built-in rules.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(status_with(&cm, &checks), Status::Current);
    }

    #[test]
    fn a_custom_check_that_does_not_parse_names_its_field() {
        let err = CustomCheck::compile(
            "spec.healthCheckExprs",
            2,
            "a/v1",
            Some("B"),
            "true",
            None,
            Some("status.("),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("spec.healthCheckExprs[2].failed:"), "{err}");
    }
}
