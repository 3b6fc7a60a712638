//! Hooks, run as Helm runs them: the release's hooks for one event, by weight then name; each
//! deleted first when its policy says `before-hook-creation` (the default when it names
//! none), created, waited on (a Job until it completes or fails, a Pod until it succeeds or
//! fails, any other kind at once), recorded in the release (`last_run`), then deleted when it
//! succeeded and says `hook-succeeded`, or failed and says `hook-failed`.
//!
//! Hooks are not the release's objects: they get no ownership metadata and are not pruned.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferroflux_helm::release::{self, Hook, Release};
use ferroflux_ssa::apply::{Applier, ObjectId, PropagationPolicy, poll_until};
use serde_json::Value;

use crate::Options;

/// A hook that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hook's manifest is not an object.
    #[error("{event} hook {path}: {source}")]
    Manifest {
        /// The event.
        event: String,
        /// The template it came from.
        path: String,
        /// Why.
        source: Box<crate::resources::Error>,
    },
    /// The API server refused the hook, or a read failed.
    #[error("{event} hook {id}: {source}")]
    Apply {
        /// The event.
        event: String,
        /// The hook object.
        id: String,
        /// Why.
        source: Box<ferroflux_ssa::apply::Error>,
    },
    /// The hook ran and failed, or did not finish in time.
    #[error("{event} hook {id} failed: {reason}")]
    Failed {
        /// The event.
        event: String,
        /// The hook object.
        id: String,
        /// Why.
        reason: String,
    },
}

/// How a hook object ended.
enum Phase {
    Running,
    Succeeded,
    Failed(String),
}

/// A Job or Pod's progress; every other kind is done once created.
fn phase(live: &Value) -> Phase {
    let conditions = || {
        live.pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    let is = |type_: &str| {
        conditions().any(|c| {
            c.get("type").and_then(Value::as_str) == Some(type_)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    };
    match live.get("kind").and_then(Value::as_str) {
        Some("Job") => {
            if is("Complete") {
                Phase::Succeeded
            } else if is("Failed") {
                Phase::Failed("the Job failed".to_owned())
            } else {
                Phase::Running
            }
        }
        Some("Pod") => match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Phase::Succeeded,
            Some("Failed") => Phase::Failed("the Pod failed".to_owned()),
            _ => Phase::Running,
        },
        _ => Phase::Succeeded,
    }
}

/// The hooks of `event`, in the order Helm runs them: by weight, then by name, stably.
#[must_use]
pub fn for_event(hooks: &[Hook], event: &str) -> Vec<usize> {
    let mut picked: Vec<usize> = (0..hooks.len())
        .filter(|i| hooks[*i].events.iter().any(|e| e == event))
        .collect();
    picked.sort_by(|a, b| {
        (hooks[*a].weight, &hooks[*a].name).cmp(&(hooks[*b].weight, &hooks[*b].name))
    });
    picked
}

fn has_policy(hook: &Hook, policy: &str) -> bool {
    if hook.delete_policies.is_empty() {
        return policy == "before-hook-creation";
    }
    hook.delete_policies.iter().any(|p| p == policy)
}

/// Runs the release's hooks for `event` (`pre-install`, `post-upgrade`, `test`, ...) and
/// records each run in `rel`.
///
/// # Errors
/// [`Error`] for the first hook that cannot be created or fails; later hooks do not run.
pub async fn run(
    applier: &Applier,
    rel: &mut Release,
    event: &str,
    opts: &Options,
) -> Result<(), Error> {
    for index in for_event(&rel.hooks, event) {
        let Some(hook) = rel.hooks.get(index).cloned() else {
            continue;
        };
        let (started, _) = release::now();
        let outcome = run_one(applier, &hook, event, opts).await;
        let (now, _) = release::now();
        if let Some(h) = rel.hooks.get_mut(index) {
            h.last_run.started_at = started;
            h.last_run.completed_at.clone_from(&now);
            let phase = if outcome.is_ok() {
                "Succeeded"
            } else {
                "Failed"
            };
            phase.clone_into(&mut h.last_run.phase);
        }
        outcome?;
    }
    Ok(())
}

async fn run_one(applier: &Applier, hook: &Hook, event: &str, opts: &Options) -> Result<(), Error> {
    let manifest_error = |source| Error::Manifest {
        event: event.to_owned(),
        path: hook.path.clone(),
        source: Box::new(source),
    };
    let mut objects = crate::resources::parse(&hook.manifest).map_err(manifest_error)?;
    for obj in &mut objects {
        ferroflux_ssa::normalize::normalize(obj, &[], &[]);
        let id = ObjectId::of(obj);
        let namespaced = applier
            .is_namespaced(&id)
            .await
            .map_err(|source| Error::Apply {
                event: event.to_owned(),
                id: id.to_string(),
                source: Box::new(source),
            })?;
        if id.namespace.is_empty()
            && namespaced
            && let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.insert("namespace".into(), opts.namespace.clone().into());
        }
    }
    for obj in &objects {
        let id = ObjectId::of(obj);
        let apply_error = |source| Error::Apply {
            event: event.to_owned(),
            id: id.to_string(),
            source: Box::new(source),
        };
        if has_policy(hook, "before-hook-creation") {
            delete_and_wait(applier, &id, opts.timeout)
                .await
                .map_err(apply_error)?;
        }
        applier
            .apply_all(std::slice::from_ref(obj), false)
            .await
            .map_err(apply_error)?;
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let finished = poll_until(Duration::from_secs(1), opts.timeout, || {
            let failure = &failure;
            let id = &id;
            async move {
                let why = match applier.get(id).await?.as_ref().map(phase) {
                    Some(Phase::Succeeded) => return Ok(true),
                    Some(Phase::Running) => return Ok(false),
                    Some(Phase::Failed(why)) => why,
                    None => "it was deleted while running".to_owned(),
                };
                *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                Ok(true)
            }
        })
        .await
        .map_err(apply_error)?;
        let failure = if finished {
            failure.into_inner().unwrap_or_else(PoisonError::into_inner)
        } else {
            Some(format!("it did not finish within {:?}", opts.timeout))
        };
        let policy = if failure.is_some() {
            "hook-failed"
        } else {
            "hook-succeeded"
        };
        if has_policy(hook, policy) {
            delete_and_wait(applier, &id, opts.timeout)
                .await
                .map_err(apply_error)?;
        }
        if let Some(reason) = failure {
            return Err(Error::Failed {
                event: event.to_owned(),
                id: id.to_string(),
                reason,
            });
        }
    }
    Ok(())
}

/// Deletes the object if it exists and waits until it is gone.
async fn delete_and_wait(
    applier: &Applier,
    id: &ObjectId,
    timeout: Duration,
) -> Result<(), ferroflux_ssa::apply::Error> {
    applier
        .delete_if(id, &|_| true, &PropagationPolicy::Background)
        .await?;
    poll_until(Duration::from_millis(200), timeout, || async {
        Ok(applier.get(id).await?.is_none())
    })
    .await
    .map(|_| ())
}
