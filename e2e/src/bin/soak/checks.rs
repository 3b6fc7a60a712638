//! The checks at the end of a run: every Kustomization Ready at the last
//! revision; the cluster holding exactly the last good commit's objects
//! (none lost, none left behind, none duplicated); every broken commit
//! refused with the last good state kept; no controller dying on its own;
//! no credential in a log, an Event, a Flux object or an alert; each
//! controller's memory flat; the driver's own plan carried out.
//!
//! # The memory rule
//! A killed controller's memory starts again from nothing, so samples of
//! different processes do not compare. Each controller is judged on its
//! last process alone (the samples since its last restart), which runs
//! through the steady phase: by default that phase lasts as long as the
//! fault phase, so the window holds at least the last half of the run.
//! The window is cut into quarters by time; the first is warm-up (caches
//! filling, first reconciles); the check passes when the peak RSS of the
//! last quarter is at most `SOAK_RSS_GROWTH` (1.25) times the peak of the
//! second. It needs 8 samples of that process at least.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::notification::{Alert, Provider, Receiver};
use ferroflux_api::source::GitRepository;
use ferroflux_e2e::stack::Controller;
use ferroflux_testenv::git::BasicAuth;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Service};
use k8s_openapi::serde::Serialize;
use kube::api::ListParams;
use kube::{Api, Client};

use ferroflux_testenv::poll;

use crate::driver::{APP_NS, FLUX_NS, Run, request};
use crate::record::Sample;

/// The label the kustomize-controller puts on what it applies, naming the
/// Kustomization's namespace.
const APPLIED_BY: &str = "kustomize.toolkit.fluxcd.io/namespace";

/// The fewest samples of a process the memory check judges.
const MIN_SAMPLES: usize = 8;

/// The credentials of a run, which nothing may reveal.
#[derive(Clone, Debug)]
pub(crate) struct Secrets {
    needles: Vec<(&'static str, String)>,
}

impl Secrets {
    /// The git password (and the basic-auth header made of it) and the
    /// webhook token.
    pub(crate) fn new(auth: &BasicAuth, token: &str) -> Self {
        Self {
            needles: vec![
                ("the git password", auth.password.clone()),
                ("the git basic-auth header", auth.encoded()),
                ("the webhook token", token.to_owned()),
            ],
        }
    }

    /// Which credentials `text` contains.
    fn found_in(&self, text: &str) -> Vec<&'static str> {
        self.needles
            .iter()
            .filter(|(_, needle)| text.contains(needle.as_str()))
            .map(|(what, _)| *what)
            .collect()
    }

    /// `text` with every credential replaced by its description, to quote.
    fn redact(&self, text: &str) -> String {
        self.needles
            .iter()
            .fold(text.to_owned(), |t, (what, needle)| {
                t.replace(needle.as_str(), &format!("<{what}>"))
            })
    }
}

/// The objects of the target namespace as the cluster holds them.
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    /// (kind, name) → key fields, as [`crate::model::App::expected`] has them.
    objects: BTreeMap<(String, String), String>,
    /// Objects the kustomize-controller applied outside the target
    /// namespace: `Kind/namespace/name`.
    strays: Vec<String>,
}

impl Cluster {
    /// What differs from `expected`, one line each.
    pub(crate) fn differences(&self, expected: &BTreeMap<(String, String), String>) -> Vec<String> {
        let mut out = Vec::new();
        for (key, want) in expected {
            match self.objects.get(key) {
                None => out.push(format!("{}/{} lost", key.0, key.1)),
                Some(have) if have != want => out.push(format!(
                    "{}/{} has {have:?} where the commit has {want:?}",
                    key.0, key.1
                )),
                Some(_) => {}
            }
        }
        for key in self.objects.keys().filter(|k| !expected.contains_key(*k)) {
            out.push(format!("{}/{} left behind", key.0, key.1));
        }
        for stray in &self.strays {
            out.push(format!("{stray} applied outside {APP_NS}"));
        }
        out
    }
}

/// Reads the cluster, retrying while the API server does not answer, for
/// up to `timeout`.
///
/// # Errors
/// A message when no read succeeded in time.
pub(crate) async fn read_cluster(client: &Client, timeout: Duration) -> Result<Cluster, String> {
    poll(timeout, || try_read_cluster(client))
        .await
        .ok_or_else(|| format!("the cluster could not be read within {timeout:?}"))
}

async fn try_read_cluster(client: &Client) -> Option<Cluster> {
    let all = ListParams::default();
    let applied = ListParams::default().labels(&format!("{APPLIED_BY}={FLUX_NS}"));
    let mut cluster = Cluster::default();
    let configs = request(Api::<ConfigMap>::namespaced(client.clone(), APP_NS).list(&all)).await?;
    for cm in configs {
        let name = cm.metadata.name.unwrap_or_default();
        if name == "kube-root-ca.crt" {
            continue;
        }
        let data: Vec<String> = cm
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        cluster
            .objects
            .insert(("ConfigMap".into(), name), data.join(","));
    }
    let services = request(Api::<Service>::namespaced(client.clone(), APP_NS).list(&all)).await?;
    for service in services {
        let name = service.metadata.name.unwrap_or_default();
        cluster
            .objects
            .insert(("Service".into(), name), String::new());
    }
    let deployments =
        request(Api::<Deployment>::namespaced(client.clone(), APP_NS).list(&all)).await?;
    for deployment in deployments {
        let name = deployment.metadata.name.unwrap_or_default();
        let replicas = deployment.spec.and_then(|s| s.replicas).unwrap_or(1);
        cluster
            .objects
            .insert(("Deployment".into(), name), format!("replicas={replicas}"));
    }
    let mut elsewhere = Vec::new();
    for cm in request(Api::<ConfigMap>::all(client.clone()).list(&applied)).await? {
        elsewhere.push(("ConfigMap", cm.metadata));
    }
    for service in request(Api::<Service>::all(client.clone()).list(&applied)).await? {
        elsewhere.push(("Service", service.metadata));
    }
    for deployment in request(Api::<Deployment>::all(client.clone()).list(&applied)).await? {
        elsewhere.push(("Deployment", deployment.metadata));
    }
    cluster.strays = elsewhere
        .into_iter()
        .filter(|(_, meta)| meta.namespace.as_deref() != Some(APP_NS))
        .map(|(kind, meta)| {
            format!(
                "{kind}/{}/{}",
                meta.namespace.unwrap_or_default(),
                meta.name.unwrap_or_default()
            )
        })
        .collect();
    Some(cluster)
}

/// Runs every check, adding the verdicts to the run's record.
pub(crate) async fn run(run: &Run<'_>) {
    converged(run);
    exact_objects(run).await;
    not_duplicated(run).await;
    broken_commits(run);
    no_crash(run);
    no_credentials(run).await;
    for controller in Controller::ALL {
        memory(run, controller);
    }
    plan_carried_out(run);
}

fn converged(run: &Run<'_>) {
    let mut record = run.record();
    let revision = record.final_revision.clone().unwrap_or_default();
    let (pass, detail) = match record.converge_seconds {
        Some(s) => (
            true,
            format!(
                "GitRepository and Kustomizations Ready at {revision} {s:.1}s after the commit"
            ),
        ),
        None => (
            false,
            format!(
                "not Ready at {revision:?} within {:?}; last outcomes: {:?}",
                run.config().converge_timeout,
                record.last_outcome
            ),
        ),
    };
    record.check(
        "every Kustomization Ready at the last revision",
        pass,
        detail,
    );
}

async fn exact_objects(run: &Run<'_>) {
    let expected = run.app().expected();
    let (pass, detail) = match read_cluster(run.client(), Duration::from_secs(60)).await {
        Ok(cluster) => {
            let wrong = cluster.differences(&expected);
            if wrong.is_empty() {
                let configs = expected.keys().filter(|(k, _)| k == "ConfigMap").count();
                let service = expected.keys().any(|(k, _)| k == "Service");
                let replicas = expected
                    .get(&("Deployment".to_owned(), "hello".to_owned()))
                    .cloned()
                    .unwrap_or_default();
                (
                    true,
                    format!(
                        "{} objects, each with the commit's fields: {configs} ConfigMaps, \
                         Deployment hello ({replicas}), Service hello {}; none lost, none left \
                         behind",
                        expected.len(),
                        if service {
                            "present"
                        } else {
                            "absent (pruned)"
                        }
                    ),
                )
            } else {
                (false, wrong.join("; "))
            }
        }
        Err(e) => (false, e),
    };
    run.record().check(
        "the cluster holds exactly the last good commit",
        pass,
        detail,
    );
}

async fn not_duplicated(run: &Run<'_>) {
    let expected: BTreeSet<String> = run
        .app()
        .expected()
        .keys()
        .map(|(kind, name)| {
            let group = if kind == "Deployment" { "apps" } else { "" };
            format!("{APP_NS}_{name}_{group}_{kind}")
        })
        .collect();
    let api = Api::<Kustomization>::namespaced(run.client().clone(), FLUX_NS);
    let params = ListParams::default();
    let list = poll(Duration::from_secs(60), || request(api.list(&params))).await;
    let (pass, detail) = match list {
        None => (false, "the Kustomizations could not be read".to_owned()),
        Some(list) => {
            let ids: Vec<String> = list
                .into_iter()
                .filter_map(|ks| ks.status.and_then(|s| s.inventory))
                .flat_map(|inventory| inventory.entries)
                .map(|entry| entry.id)
                .collect();
            let unique: BTreeSet<String> = ids.iter().cloned().collect();
            let mut wrong = Vec::new();
            if unique.len() != ids.len() {
                wrong.push(format!(
                    "{} inventory entries for {} objects",
                    ids.len(),
                    unique.len()
                ));
            }
            for id in unique.difference(&expected) {
                wrong.push(format!("{id} in an inventory but not in the commit"));
            }
            for id in expected.difference(&unique) {
                wrong.push(format!("{id} in the commit but in no inventory"));
            }
            if wrong.is_empty() {
                (
                    true,
                    format!(
                        "{} inventory entries, each object once, in one Kustomization",
                        ids.len()
                    ),
                )
            } else {
                (false, wrong.join("; "))
            }
        }
    };
    run.record().check("no object duplicated", pass, detail);
}

fn broken_commits(run: &Run<'_>) {
    let planned = run.config().broken_commits;
    let mut record = run.record();
    let failed: Vec<String> = record
        .episodes
        .iter()
        .filter_map(|e| e.result.as_ref().err().cloned())
        .collect();
    let done = record.episodes.len();
    let pass = failed.is_empty() && u64::try_from(done).is_ok_and(|n| n == planned);
    let detail = if failed.is_empty() {
        format!(
            "{done} of {planned} broken commits refused with the last good state kept, then \
             reverted"
        )
    } else {
        failed.join("; ")
    };
    record.check("a broken commit keeps the last good state", pass, detail);
}

fn no_crash(run: &Run<'_>) {
    let running = run.stack_mut().running();
    let mut record = run.record();
    let down: Vec<&str> = running
        .iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| *name)
        .collect();
    let mut wrong: Vec<String> = record
        .crashes
        .iter()
        .map(|c| {
            format!(
                "{} exited at {:.1}s ({}); its log ended:\n{}",
                c.controller.name(),
                c.at,
                c.status,
                c.log_tail
            )
        })
        .collect();
    if !down.is_empty() {
        wrong.push(format!("not running at the end: {}", down.join(", ")));
    }
    let pass = wrong.is_empty();
    let detail = if pass {
        "every exit was a kill; all four running at the end".to_owned()
    } else {
        wrong.join("\n")
    };
    record.check("no controller exited on its own", pass, detail);
}

async fn no_credentials(run: &Run<'_>) {
    let secrets = run.secrets().clone();
    let mut found = Vec::new();
    let mut searched = Vec::new();
    let (logs, alerts): (Vec<(Controller, String)>, Vec<String>) = {
        let stack = run.stack();
        let logs = Controller::ALL
            .into_iter()
            .map(|c| (c, stack.process(c).log()))
            .collect();
        let alerts = stack
            .sink
            .requests()
            .into_iter()
            .map(|r| format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body)))
            .collect();
        (logs, alerts)
    };
    for (controller, log) in &logs {
        searched.push(format!(
            "{} {} log lines",
            log.lines().count(),
            controller.name()
        ));
        for (n, line) in log.lines().enumerate() {
            let hits = secrets.found_in(line);
            if !hits.is_empty() {
                found.push(format!(
                    "{} in the {} log, line {}: {}",
                    hits.join(" and "),
                    controller.name(),
                    n + 1,
                    secrets.redact(line)
                ));
            }
        }
    }
    searched.push(format!("{} alerts", alerts.len()));
    for alert in &alerts {
        let hits = secrets.found_in(alert);
        if !hits.is_empty() {
            found.push(format!(
                "{} in an alert at the sink: {}",
                hits.join(" and "),
                secrets.redact(alert)
            ));
        }
    }
    let client = run.client();
    let mut objects: Vec<(String, String)> = Vec::new();
    let events = list_json::<Event>(Api::all(client.clone())).await;
    let flux = [
        list_json::<GitRepository>(Api::namespaced(client.clone(), FLUX_NS)).await,
        list_json::<Kustomization>(Api::namespaced(client.clone(), FLUX_NS)).await,
        list_json::<Receiver>(Api::namespaced(client.clone(), FLUX_NS)).await,
        list_json::<Provider>(Api::namespaced(client.clone(), FLUX_NS)).await,
        list_json::<Alert>(Api::namespaced(client.clone(), FLUX_NS)).await,
    ];
    let mut unread = Vec::new();
    match events {
        Some(events) => {
            searched.push(format!("{} Events", events.len()));
            objects.extend(events.into_iter().map(|e| ("an Event".to_owned(), e)));
        }
        None => unread.push("the Events"),
    }
    let mut flux_objects = 0;
    for list in flux {
        if let Some(list) = list {
            flux_objects += list.len();
            objects.extend(list.into_iter().map(|o| ("a Flux object".to_owned(), o)));
        } else {
            unread.push("the Flux objects");
        }
    }
    searched.push(format!("{flux_objects} Flux objects with their status"));
    for (what, json) in &objects {
        let hits = secrets.found_in(json);
        if !hits.is_empty() {
            found.push(format!(
                "{} in {what}: {}",
                hits.join(" and "),
                secrets.redact(json)
            ));
        }
    }
    let pass = found.is_empty() && unread.is_empty();
    let mut detail = format!("searched {}", searched.join(", "));
    if !unread.is_empty() {
        let _ = write!(detail, "; could not read {}", unread.join(", "));
    }
    for f in &found {
        let _ = write!(detail, "\n      {f}");
    }
    run.record().check(
        "no credential in a log, an Event, a status or an alert",
        pass,
        detail,
    );
}

/// Every object `api` lists, as JSON, or `None` when it cannot be listed.
async fn list_json<K>(api: Api<K>) -> Option<Vec<String>>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + k8s_openapi::serde::de::DeserializeOwned
        + Serialize,
{
    let params = ListParams::default();
    let list = poll(Duration::from_secs(60), || request(api.list(&params))).await?;
    Some(
        list.into_iter()
            .map(|o| serde_json::to_string(&o).unwrap_or_default())
            .collect(),
    )
}

fn memory(run: &Run<'_>, controller: Controller) {
    let growth = run.config().rss_growth;
    let mut record = run.record();
    let last = record
        .incarnation
        .get(&controller)
        .copied()
        .unwrap_or_default();
    let samples = record.samples.get(&controller).cloned().unwrap_or_default();
    let window: Vec<Sample> = samples
        .into_iter()
        .filter(|s| s.incarnation == last)
        .collect();
    let (pass, detail) = flat(&window, growth, record.run_seconds);
    record.check(&format!("{} memory flat", controller.name()), pass, detail);
}

/// The memory rule (see the module's doc) on the samples of one process.
fn flat(window: &[Sample], growth: f64, run_seconds: f64) -> (bool, String) {
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        return (false, "no sample of its last process".to_owned());
    };
    if window.len() < MIN_SAMPLES {
        return (
            false,
            format!(
                "only {} samples of its last process (from {:.0}s); raise SOAK_STEADY_SECONDS",
                window.len(),
                first.at
            ),
        );
    }
    let span = (last.at - first.at).max(f64::EPSILON);
    // The quarter of the window a sample falls in (its last instant counts
    // in the fourth).
    let peak = |from: f64, to: f64| {
        window
            .iter()
            .filter(|s| {
                let at = (s.at - first.at) / span;
                at >= from && (at < to || to >= 1.0)
            })
            .map(|s| s.kib)
            .max()
            .unwrap_or_default()
    };
    let (second, fourth) = (peak(0.25, 0.5), peak(0.75, 1.0));
    let ratio = mib(fourth) / mib(second).max(f64::EPSILON);
    let pass = ratio <= growth;
    (
        pass,
        format!(
            "last process sampled {:.0}s..{:.0}s of the run's {run_seconds:.0}s ({} samples): \
             peak {:.1} MiB in its 2nd quarter, {:.1} MiB in its 4th (x{ratio:.2}, limit \
             x{growth})",
            first.at,
            last.at,
            window.len(),
            mib(second),
            mib(fourth)
        ),
    )
}

fn plan_carried_out(run: &Run<'_>) {
    let config = run.config().clone();
    let mut record = run.record();
    let mut wrong = record.errors.clone();
    let kills: u64 = record.kills.values().sum();
    if kills != config.kills {
        wrong.push(format!("{kills} kills of {} planned", config.kills));
    }
    let restarts = u64::try_from(record.apiserver_restarts.len()).unwrap_or(u64::MAX);
    if restarts != config.apiserver_restarts {
        wrong.push(format!(
            "{restarts} API-server restarts of {} planned",
            config.apiserver_restarts
        ));
    }
    if !config.git_outage.is_zero() && !record.git_outage.as_ref().is_some_and(|o| o.seconds > 0.0)
    {
        wrong.push("the git outage did not end".to_owned());
    }
    let pass = wrong.is_empty();
    let detail = if pass {
        format!("{kills} kills, {restarts} API-server restarts, the git outage, as planned")
    } else {
        wrong.join("; ")
    };
    record.check("the fault plan carried out", pass, detail);
}

/// KiB as MiB.
pub(crate) fn mib(kib: u64) -> f64 {
    f64::from(u32::try_from(kib).unwrap_or(u32::MAX)) / 1024.0
}
