//! The soak's run: a control plane, the stack with a git server demanding
//! credentials, two Kustomizations (the sample overlay and `soak/`) from
//! one GitRepository; then three loops at once, one task: the faults
//! (kills, API-server restarts, the git outage), the commit stream (with
//! broken commits and their reverts) and the sampler (memory, status,
//! controllers that died on their own); then a final commit, convergence
//! and the checks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::source::GitRepository;
use ferroflux_e2e::sample;
use ferroflux_e2e::stack::{Controller, Stack, is_ready, ready_condition};
use ferroflux_testenv::ControlPlane;
use ferroflux_testenv::bench::rss_kib;
use ferroflux_testenv::git::BasicAuth;
use ferroflux_testenv::poll;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::config::Config;
use crate::model::{App, Rng, SOAK_PATH};
use crate::record::{Crash, Episode, Outage, Record, Sample};
use crate::{checks, say};

/// Where the Flux objects and the controllers live.
pub(crate) const FLUX_NS: &str = "flux-system";
/// Where the app goes.
pub(crate) const APP_NS: &str = "soak-app";
/// The Kustomization of `soak/`, beside the sample's `hello`.
pub(crate) const SOAK_KS: &str = "soak";
/// The Kustomizations the run delivers.
pub(crate) const KUSTOMIZATIONS: [&str; 2] = [sample::NAME, SOAK_KS];

/// How often a condition waited for is polled.
const POLL: Duration = Duration::from_millis(500);
/// The longest one request to the API server or the webhook may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the git server's port may take to be bound again.
const GIT_RESTART_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the final commit's reconcile is asked for again while the
/// app has not converged (a trigger may be lost to a fault).
const RETRIGGER: Duration = Duration::from_secs(15);
/// The commit loop and the sampler stop after this long past the plan
/// whatever happens: every loop is bounded in time as well as count.
const OVERRUN: Duration = Duration::from_secs(1800);

/// A fault the plan injects.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `SIGKILL` a random controller and start it again.
    Kill,
    /// Restart kube-apiserver.
    Apiserver,
    /// Take the git server away.
    GitDown,
    /// Bring it back at the same address.
    GitUp,
}

/// An API-server restart under way: when it began (seconds into the fault
/// phase) and the thread doing it, which returns how it ended and how long
/// it took.
type ApiserverRestart = (
    f64,
    tokio::task::JoinHandle<(ferroflux_testenv::Result<()>, Duration)>,
);

/// What the three loops share (one task: `RefCell` borrows never cross an
/// `await`).
pub(crate) struct Run<'a> {
    config: &'a Config,
    /// When the fault phase began; every time in the record counts from it.
    started: Instant,
    stack: RefCell<Stack>,
    control_plane: Arc<Mutex<ControlPlane>>,
    client: Client,
    webhook: String,
    rng: RefCell<Rng>,
    app: RefCell<App>,
    record: RefCell<Record>,
    /// When the fault phase ended.
    fault_end: Cell<Option<Instant>>,
    /// Whether the commit stream has ended (the sampler stops then).
    commits_end: Cell<bool>,
    /// The planned length of the fault phase.
    planned: Duration,
    /// The credentials the checks look for.
    secrets: checks::Secrets,
}

/// Runs the soak and returns what it saw, the checks' verdicts included.
///
/// # Errors
/// When the set-up fails (the control plane, the stack, the first
/// revision not applied in time); what happens after is recorded instead.
pub(crate) async fn run(config: &Config) -> anyhow::Result<Record> {
    let begun = Instant::now();
    let mut rng = Rng::new(config.seed);
    say(&format!("soak: seed {} (SOAK_SEED to repeat)", config.seed));
    say("soak: starting etcd, kube-apiserver and kube-controller-manager");
    let control_plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .context("the control plane's start-up thread failed")?
        .context("the control plane did not start (run `make deps` first)")?;
    let client = control_plane.client().await?;
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds()).await?;
    for ns in [FLUX_NS, APP_NS] {
        ferroflux_testenv::create_namespace(&client, ns).await?;
    }
    let auth = BasicAuth {
        username: "soak".to_owned(),
        password: format!("soak-git-password-{:016x}", rng.next_u64()),
    };
    let token = format!("soak-webhook-token-{:016x}", rng.next_u64());
    let secrets = checks::Secrets::new(&auth, &token);
    say("soak: starting the git server (basic auth), the sink and the four controllers");
    let stack = Stack::start_with_auth(&control_plane, FLUX_NS, Some(auth)).await?;
    let app = App::initial();
    let files = app.files().into_iter().collect::<Vec<_>>();
    stack
        .repo
        .commit(&borrowed(&files), "Soak: the initial state")?;
    let mut delivery = stack.delivery(APP_NS, "1m", "1m");
    delivery.token = token;
    stack.deliver(&delivery).await?;
    stack
        .apply(
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": SOAK_KS},
            "spec": {"interval": "1m", "path": format!("./{SOAK_PATH}"), "prune": true,
                     "timeout": "1m", "targetNamespace": APP_NS,
                     "sourceRef": {"kind": "GitRepository", "name": sample::NAME}}}),
        )
        .await?;
    let first = stack.head();
    if wait_converged(&client, &first, config.converge_timeout)
        .await
        .is_none()
    {
        bail!(
            "the first revision {first} was not applied within {:?}:\n{}",
            config.converge_timeout,
            stack.logs()
        );
    }
    let webhook = stack.webhook().await;
    let (plan, planned) = plan(config, &mut rng);
    let record = Record {
        seed: config.seed,
        setup_seconds: begun.elapsed().as_secs_f64(),
        pushed: vec![(first, true)],
        ..Record::default()
    };
    say(&format!(
        "soak: set up in {:.0}s; the fault phase is planned for {:.0}s: {} kills, {} API-server \
         restarts, a {:.0}s git outage; a commit every {:.0}s",
        record.setup_seconds,
        planned.as_secs_f64(),
        config.kills,
        config.apiserver_restarts,
        config.git_outage.as_secs_f64(),
        config.commit_interval.as_secs_f64()
    ));
    let run = Run {
        config,
        started: Instant::now(),
        stack: RefCell::new(stack),
        control_plane: Arc::new(Mutex::new(control_plane)),
        client,
        webhook,
        rng: RefCell::new(rng),
        app: RefCell::new(app),
        record: RefCell::new(record),
        fault_end: Cell::new(None),
        commits_end: Cell::new(false),
        planned,
        secrets,
    };
    tokio::join!(run.faults(plan), run.commits(), run.sampler());
    run.finish().await;
    let Run {
        stack,
        control_plane,
        record,
        ..
    } = run;
    // The controllers go before the control plane they talk to.
    drop(stack);
    drop(control_plane);
    Ok(record.into_inner())
}

/// The faults in time order, and the fault phase's planned length: kills
/// spaced around the mean interval, the API-server restarts evenly spread,
/// the git outage from 45% of the phase.
fn plan(config: &Config, rng: &mut Rng) -> (Vec<(Duration, Fault)>, Duration) {
    let mut faults = Vec::new();
    let mut at = Duration::ZERO;
    for _ in 0..config.kills {
        at += config.kill_interval.mul_f64(rng.spread());
        faults.push((at, Fault::Kill));
    }
    let length = at.max(config.git_outage * 2).max(Duration::from_secs(30));
    let restarts = config.apiserver_restarts;
    for k in 1..=restarts {
        faults.push((length.mul_f64(ratio(k, restarts + 1)), Fault::Apiserver));
    }
    if !config.git_outage.is_zero() {
        // Its end is planned when it begins: `SOAK_GIT_OUTAGE_SECONDS` later.
        faults.push((length.mul_f64(0.45), Fault::GitDown));
    }
    faults.sort_by_key(|(at, _)| *at);
    (faults, length)
}

impl Run<'_> {
    /// The planned length of the fault and steady phases.
    fn planned_total(&self) -> Duration {
        self.planned + self.config.steady.unwrap_or(self.planned)
    }

    /// Seconds since the fault phase began.
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Prints a progress line stamped with the time.
    fn say(&self, text: &str) {
        say(&format!("[{:7.1}s] {text}", self.now()));
    }

    /// Notes something the driver failed to do.
    fn error(&self, text: String) {
        self.say(&format!("ERROR {text}"));
        self.record.borrow_mut().errors.push(text);
    }

    /// The fault loop: runs `plan` on time, then marks the fault phase
    /// ended. An API-server restart runs on a blocking thread while the
    /// kills go on (the next restart waits for it); the git server comes
    /// back `SOAK_GIT_OUTAGE_SECONDS` after it went.
    async fn faults(&self, plan: Vec<(Duration, Fault)>) {
        let mut plan: VecDeque<(Duration, Fault)> = plan.into();
        let mut apiserver = None;
        while let Some((at, fault)) = plan.pop_front() {
            pace_until(self.started + at).await;
            match fault {
                Fault::Kill => self.kill(),
                Fault::Apiserver => {
                    if let Some(restart) = apiserver.take() {
                        self.apiserver_restarted(restart).await;
                    }
                    apiserver = Some(self.restart_apiserver());
                }
                Fault::GitDown => {
                    self.stack.borrow_mut().git.stop();
                    self.record.borrow_mut().git_outage = Some(Outage {
                        at: self.now(),
                        seconds: 0.0,
                    });
                    self.say("git server stopped");
                    let up = self.started.elapsed() + self.config.git_outage;
                    let index = plan.partition_point(|(at, _)| *at <= up);
                    plan.insert(index, (up, Fault::GitUp));
                }
                Fault::GitUp => self.restart_git().await,
            }
            if apiserver
                .as_ref()
                .is_some_and(|(_, task): &ApiserverRestart| task.is_finished())
                && let Some(restart) = apiserver.take()
            {
                self.apiserver_restarted(restart).await;
            }
        }
        if let Some(restart) = apiserver.take() {
            self.apiserver_restarted(restart).await;
        }
        self.fault_end.set(Some(Instant::now()));
        self.say("fault phase over; commits go on without faults");
    }

    /// Kills a random controller with `SIGKILL` and starts it again.
    fn kill(&self) {
        let count = u64::try_from(Controller::ALL.len()).unwrap_or(1);
        let index = self.rng.borrow_mut().below(count);
        let controller = Controller::ALL[usize::try_from(index).unwrap_or(0)];
        let (old, new) = {
            let mut stack = self.stack.borrow_mut();
            let old = stack.process(controller).pid();
            stack.kill(controller);
            let restarted = stack.restart(controller);
            (old, restarted.map(|()| stack.process(controller).pid()))
        };
        let mut record = self.record.borrow_mut();
        *record.kills.entry(controller).or_default() += 1;
        *record.incarnation.entry(controller).or_default() += 1;
        let n: u64 = record.kills.values().sum();
        drop(record);
        match new {
            Ok(pid) => self.say(&format!(
                "kill {n}: {} pid {old} killed, restarted as pid {pid}",
                controller.name()
            )),
            Err(e) => self.error(format!("{} could not be restarted: {e}", controller.name())),
        }
    }

    /// Starts restarting kube-apiserver on a blocking thread, so the other
    /// loops go on (and meet the outage) meanwhile.
    fn restart_apiserver(&self) -> ApiserverRestart {
        let at = self.now();
        self.say("kube-apiserver restarting");
        let control_plane = self.control_plane.clone();
        let task = tokio::task::spawn_blocking(move || {
            let began = Instant::now();
            let outcome = control_plane
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .restart_apiserver(|| ());
            (outcome, began.elapsed())
        });
        (at, task)
    }

    /// Records how an API-server restart ended, once it has.
    async fn apiserver_restarted(&self, (at, task): ApiserverRestart) {
        match task.await {
            Ok((Ok(()), took)) => {
                let seconds = took.as_secs_f64();
                self.record
                    .borrow_mut()
                    .apiserver_restarts
                    .push(Outage { at, seconds });
                self.say(&format!(
                    "kube-apiserver (restarted at {at:.1}s) was ready again after {seconds:.1}s"
                ));
            }
            Ok((Err(e), _)) => self.error(format!("kube-apiserver restart failed: {e}")),
            Err(e) => self.error(format!("kube-apiserver restart thread failed: {e}")),
        }
    }

    /// Brings the git server back at its address, retrying while the port
    /// is still held (bounded).
    async fn restart_git(&self) {
        let deadline = Instant::now() + GIT_RESTART_TIMEOUT;
        loop {
            let outcome = self.stack.borrow_mut().git.restart();
            match outcome {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    self.error(format!("the git server did not come back: {e}"));
                    return;
                }
                // Polling interval until the old listener is closed.
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
        let now = self.now();
        if let Some(outage) = self.record.borrow_mut().git_outage.as_mut() {
            outage.seconds = now - outage.at;
        }
        self.say("git server back at the same URL");
    }

    /// The commit stream: a commit every interval, broken commits at
    /// their planned times, until the steady phase after the faults is
    /// over.
    async fn commits(&self) {
        let interval = self.config.commit_interval;
        let broken = self.config.broken_commits;
        let total = self.planned_total();
        let mut broken_at: Vec<Duration> = (1..=broken)
            .rev()
            .map(|k| total.mul_f64(ratio(k, broken + 1)))
            .collect();
        let give_up = self.started + total + OVERRUN;
        let mut next = self.started + interval;
        while Instant::now() < give_up {
            if let Some(end) = self.fault_end.get() {
                // The steady phase lasts as long as the faults did, unless set.
                let steady = self.config.steady.unwrap_or(end - self.started);
                if Instant::now() >= end + steady {
                    break;
                }
            }
            pace_until(next).await;
            if broken_at
                .last()
                .is_some_and(|at| self.started.elapsed() >= *at)
            {
                broken_at.pop();
                self.broken_episode().await;
            } else {
                self.good_commit("Soak: a change").await;
            }
            next = (next + interval).max(Instant::now());
        }
        self.commits_end.set(true);
        let end = self.now();
        let mut record = self.record.borrow_mut();
        record.run_seconds = end;
        record.fault_seconds = self
            .fault_end
            .get()
            .map_or(end, |e| (e - self.started).as_secs_f64());
    }

    /// Makes the next good commit, pushes it and asks for a reconcile;
    /// returns its revision.
    async fn good_commit(&self, message: &str) -> Option<String> {
        let n = self.record.borrow().commits.good + 1;
        let (next, change) = self.app.borrow().next(&mut self.rng.borrow_mut(), n);
        let files = next.changes_from(&self.app.borrow());
        let pushed = self
            .stack
            .borrow()
            .repo
            .commit(&borrowed(&files), &format!("{message} ({n})"));
        let revision = match pushed {
            Ok(sha) => revision(&sha),
            Err(e) => {
                self.error(format!("commit {n} failed: {e}"));
                return None;
            }
        };
        *self.app.borrow_mut() = next;
        {
            let mut record = self.record.borrow_mut();
            record.commits.good += 1;
            record.commits.created += change.created;
            record.commits.deleted += change.deleted;
            record.commits.changed += change.changed;
            record.pushed.push((revision.clone(), true));
        }
        self.trigger().await;
        Some(revision)
    }

    /// A broken commit: once the last good revision is applied, a commit
    /// whose YAML does not parse; the `soak` Kustomization must refuse it
    /// (`Ready=False`, `BuildFailed`, naming the file) and keep the last
    /// good state applied. Then the commit is reverted.
    async fn broken_episode(&self) {
        let good = self.head();
        let timeout = self.config.converge_timeout;
        self.say(&format!("broken commit: waiting until {good} is applied"));
        if self.converge(&good).await.is_none() {
            self.episode(
                None,
                Err(format!(
                    "{good} was not applied within {timeout:?}, so no broken commit was made"
                )),
            );
            return;
        }
        let (path, contents) = self.app.borrow().broken();
        let pushed = self.stack.borrow().repo.commit(
            &[(path.as_str(), contents.as_str())],
            "Soak: a broken commit (malformed YAML)",
        );
        let sha = match pushed {
            Ok(sha) => sha,
            Err(e) => {
                self.episode(None, Err(format!("the broken commit failed: {e}")));
                return;
            }
        };
        let bad = revision(&sha);
        {
            let mut record = self.record.borrow_mut();
            record.commits.broken += 1;
            record.pushed.push((bad.clone(), false));
        }
        self.trigger().await;
        let result = self.refused(&good, &bad, &path).await;
        let reverted = self.stack.borrow().repo.revert(&sha);
        match reverted {
            Ok(sha) => {
                let mut record = self.record.borrow_mut();
                record.commits.reverts += 1;
                record.pushed.push((revision(&sha), true));
            }
            Err(e) => self.error(format!("reverting the broken commit failed: {e}")),
        }
        self.trigger().await;
        self.episode(Some(bad), result);
    }

    /// Whether the broken revision `bad` was refused as it should be, the
    /// cluster still holding the last good state.
    async fn refused(&self, good: &str, bad: &str, path: &str) -> Result<String, String> {
        let api = Api::<Kustomization>::namespaced(self.client.clone(), FLUX_NS);
        let timeout = self.config.converge_timeout;
        let status = poll(timeout, || async {
            let ks = request(api.get(SOAK_KS)).await?;
            let status = ks.status?;
            let ready = ready_condition(&status.conditions)?;
            (status.last_attempted_revision.as_deref() == Some(bad) && ready.status == "False")
                .then_some(status)
        })
        .await
        .ok_or_else(|| format!("{bad} was not attempted and refused within {timeout:?}"))?;
        let (reason, message) = ready_condition(&status.conditions)
            .map(|c| (c.reason.clone(), c.message.clone()))
            .unwrap_or_default();
        let file = path.rsplit('/').next().unwrap_or(path);
        let mut wrong = Vec::new();
        if reason != "BuildFailed" {
            wrong.push(format!("Ready reason {reason} (want BuildFailed)"));
        }
        if !message.contains(file) {
            wrong.push(format!("the message does not name {file}: {message}"));
        }
        if status.last_applied_revision.as_deref() != Some(good) {
            wrong.push(format!(
                "lastAppliedRevision {:?} (want the last good {good})",
                status.last_applied_revision
            ));
        }
        let expected = self.app.borrow().expected();
        match checks::read_cluster(&self.client, timeout).await {
            Ok(cluster) => wrong.extend(cluster.differences(&expected)),
            Err(e) => wrong.push(e),
        }
        if wrong.is_empty() {
            Ok(format!(
                "refused with BuildFailed naming {file}; {good} stayed applied, the cluster \
                 unchanged"
            ))
        } else {
            Err(wrong.join("; "))
        }
    }

    /// Records a broken commit's outcome.
    fn episode(&self, revision: Option<String>, result: Result<String, String>) {
        match &result {
            Ok(text) => self.say(&format!("broken commit: {text}")),
            Err(text) => self.say(&format!("broken commit FAILED: {text}")),
        }
        self.record
            .borrow_mut()
            .episodes
            .push(Episode { revision, result });
    }

    /// The revision of the last good commit (or revert).
    fn head(&self) -> String {
        self.record
            .borrow()
            .pushed
            .iter()
            .rev()
            .find(|(_, good)| *good)
            .map(|(r, _)| r.clone())
            .unwrap_or_default()
    }

    /// Asks for a reconcile of the GitRepository: the Receiver's webhook as
    /// a git host calls it, else (the notification-controller down) the
    /// `reconcile.fluxcd.io/requestedAt` annotation as `flux reconcile`
    /// sets it; else (the API server down too) nothing, and the
    /// intervals catch up.
    async fn trigger(&self) {
        let http = ferroflux_tls::http_client();
        let call = http.post(&self.webhook).body("{}").send();
        let webhook = matches!(
            tokio::time::timeout(REQUEST_TIMEOUT, call).await,
            Ok(Ok(response)) if response.status().is_success()
        );
        if webhook {
            self.record.borrow_mut().triggers.webhook += 1;
            return;
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let api = Api::<GitRepository>::namespaced(self.client.clone(), FLUX_NS);
        let patch = json!({"metadata": {"annotations": {
            "reconcile.fluxcd.io/requestedAt": format!("soak-{nanos}")}}});
        let params = PatchParams::default();
        let annotated = request(api.patch(sample::NAME, &params, &Patch::Merge(&patch)))
            .await
            .is_some();
        let mut record = self.record.borrow_mut();
        if annotated {
            record.triggers.annotation += 1;
        } else {
            record.triggers.lost += 1;
        }
    }

    /// The sampler: every interval, each controller's memory (restarting,
    /// and recording, one that died on its own) and the objects' status,
    /// until the commit stream ends.
    async fn sampler(&self) {
        let interval = self.config.sample_interval;
        let give_up = self.started + self.planned_total() + OVERRUN;
        let mut next = Instant::now();
        while !self.commits_end.get() && Instant::now() < give_up {
            self.sample().await;
            // A sample slowed by a fault is not followed by a burst.
            next = (next + interval).max(Instant::now());
            pace_until(next).await;
        }
    }

    /// One sample of every controller, and of the objects' status.
    async fn sample(&self) {
        let at = self.now();
        for controller in Controller::ALL {
            let (pid, crash) = {
                let mut stack = self.stack.borrow_mut();
                let crash = stack.process_mut(controller).exit_status().map(|status| {
                    let log = stack.process(controller).log();
                    let lines: Vec<&str> = log.lines().collect();
                    Crash {
                        at,
                        controller,
                        status: status.to_string(),
                        log_tail: lines[lines.len().saturating_sub(20)..].join("\n"),
                    }
                });
                let restarted = crash.as_ref().map(|_| stack.restart(controller));
                (stack.process(controller).pid(), crash.zip(restarted))
            };
            if let Some((crash, restarted)) = crash {
                self.say(&format!(
                    "{} EXITED on its own ({}); restarted",
                    controller.name(),
                    crash.status
                ));
                if let Err(e) = restarted {
                    self.error(format!("{} could not be restarted: {e}", controller.name()));
                }
                let mut record = self.record.borrow_mut();
                record.crashes.push(crash);
                *record.incarnation.entry(controller).or_default() += 1;
            }
            if let Some(kib) = rss_kib(pid) {
                let mut record = self.record.borrow_mut();
                let incarnation = record
                    .incarnation
                    .get(&controller)
                    .copied()
                    .unwrap_or_default();
                record.samples.entry(controller).or_default().push(Sample {
                    at,
                    incarnation,
                    kib,
                });
            }
        }
        self.observe().await;
    }

    /// Records each object's Ready outcome and applied revision.
    async fn observe(&self) {
        let params = ListParams::default();
        let kustomizations = Api::<Kustomization>::namespaced(self.client.clone(), FLUX_NS);
        if let Some(list) = request(kustomizations.list(&params)).await {
            let mut record = self.record.borrow_mut();
            for ks in list {
                let name = ks.metadata.name.clone().unwrap_or_default();
                let status = ks.status.unwrap_or_default();
                if let Some(revision) = status.last_applied_revision {
                    record
                        .applied_seen
                        .entry(name.clone())
                        .or_default()
                        .insert(revision);
                }
                record.outcome(
                    &format!("Kustomization/{name}"),
                    outcome(&status.conditions),
                );
            }
        }
        let sources = Api::<GitRepository>::namespaced(self.client.clone(), FLUX_NS);
        if let Some(list) = request(sources.list(&params)).await {
            let mut record = self.record.borrow_mut();
            for source in list {
                let name = source.metadata.name.clone().unwrap_or_default();
                let conditions = source.status.unwrap_or_default().conditions;
                record.outcome(&format!("GitRepository/{name}"), outcome(&conditions));
            }
        }
    }

    /// After the loops: the final commit, convergence, the checks.
    async fn finish(&self) {
        self.say("final commit");
        let mut final_revision = None;
        for _ in 0..3 {
            final_revision = self.good_commit("Soak: the final commit").await;
            if final_revision.is_some() {
                break;
            }
        }
        let pushed = Instant::now();
        let converged = match &final_revision {
            Some(revision) => self.converge(revision).await,
            None => None,
        };
        self.sample().await;
        let seconds = converged.map(|d| d.as_secs_f64());
        {
            let mut record = self.record.borrow_mut();
            record.final_revision.clone_from(&final_revision);
            record.converge_seconds = seconds;
        }
        match seconds {
            Some(s) => self.say(&format!("converged {s:.1}s after the final commit")),
            None => self.say(&format!(
                "NOT converged {:.0}s after the final commit",
                pushed.elapsed().as_secs_f64()
            )),
        }
        let alerts = self.stack.borrow().sink.received();
        {
            let mut record = self.record.borrow_mut();
            for alert in &alerts {
                let key = (
                    alert["involvedObject"]["kind"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned(),
                    alert["reason"].as_str().unwrap_or("?").to_owned(),
                );
                *record.alerts.entry(key).or_default() += 1;
            }
        }
        checks::run(self).await;
    }

    /// Waits (up to `SOAK_CONVERGE_SECONDS`) until every object is Ready
    /// at `revision`, asking for a reconcile again every [`RETRIGGER`] (a
    /// request may have been lost to a fault; the intervals are a
    /// minute); returns how long it took.
    async fn converge(&self, revision: &str) -> Option<Duration> {
        let began = Instant::now();
        let deadline = began + self.config.converge_timeout;
        let mut asked = began;
        while Instant::now() < deadline {
            if at_revision(&self.client, revision).await {
                return Some(began.elapsed());
            }
            if asked.elapsed() >= RETRIGGER {
                self.trigger().await;
                asked = Instant::now();
            }
            // Polling interval of a wait bounded by the deadline.
            tokio::time::sleep(POLL).await;
        }
        None
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Config {
        self.config
    }

    /// The client of the control plane.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The stack.
    pub(crate) fn stack(&self) -> std::cell::Ref<'_, Stack> {
        self.stack.borrow()
    }

    /// The stack, to check its processes.
    pub(crate) fn stack_mut(&self) -> std::cell::RefMut<'_, Stack> {
        self.stack.borrow_mut()
    }

    /// The app as last committed (good).
    pub(crate) fn app(&self) -> App {
        self.app.borrow().clone()
    }

    /// The record, to add to.
    pub(crate) fn record(&self) -> std::cell::RefMut<'_, Record> {
        self.record.borrow_mut()
    }

    /// The credentials the run uses.
    pub(crate) fn secrets(&self) -> &checks::Secrets {
        &self.secrets
    }
}

/// Whether the GitRepository has an artifact of `revision` and is Ready,
/// and every Kustomization is Ready having applied it.
async fn at_revision(client: &Client, revision: &str) -> bool {
    let sources = Api::<GitRepository>::namespaced(client.clone(), FLUX_NS);
    let Some(source) = request(sources.get(sample::NAME)).await else {
        return false;
    };
    let status = source.status.unwrap_or_default();
    let artifact = status.artifact.map(|a| a.revision);
    if !is_ready(&status.conditions) || artifact.as_deref() != Some(revision) {
        return false;
    }
    let kustomizations = Api::<Kustomization>::namespaced(client.clone(), FLUX_NS);
    for name in KUSTOMIZATIONS {
        let Some(ks) = request(kustomizations.get(name)).await else {
            return false;
        };
        let status = ks.status.unwrap_or_default();
        if !is_ready(&status.conditions)
            || status.last_applied_revision.as_deref() != Some(revision)
        {
            return false;
        }
    }
    true
}

/// Waits until every object is Ready at `revision`; how long it took, or
/// `None` after `timeout`.
async fn wait_converged(client: &Client, revision: &str, timeout: Duration) -> Option<Duration> {
    let began = Instant::now();
    poll(timeout, || async {
        at_revision(client, revision).await.then_some(())
    })
    .await
    .map(|()| began.elapsed())
}

/// A request to the API server, `None` when it fails or takes longer than
/// [`REQUEST_TIMEOUT`] (the API server may be restarting).
pub(crate) async fn request<T>(call: impl Future<Output = Result<T, kube::Error>>) -> Option<T> {
    tokio::time::timeout(REQUEST_TIMEOUT, call).await.ok()?.ok()
}

/// Waits until `at`. This paces the load generator (faults, commits,
/// samples on their schedule); it synchronises nothing.
async fn pace_until(at: Instant) {
    tokio::time::sleep_until(at.into()).await;
}

/// `Ready=<status> <reason>` of `conditions`, or `no Ready condition`.
fn outcome(conditions: &[ferroflux_api::meta::Condition]) -> String {
    ready_condition(conditions).map_or_else(
        || "no Ready condition".to_owned(),
        |c| format!("Ready={} {}", c.status, c.reason),
    )
}

/// The revision the source-controller reports for commit `sha`.
fn revision(sha: &str) -> String {
    format!("main@sha1:{sha}")
}

/// `k / n` as a fraction.
fn ratio(k: u64, n: u64) -> f64 {
    let to_f64 = |v: u64| f64::from(u32::try_from(v).unwrap_or(u32::MAX));
    to_f64(k) / to_f64(n.max(1))
}

/// `files` as the borrowed pairs `WorkingCopy::commit` takes.
fn borrowed(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(path, contents)| (path.as_str(), contents.as_str()))
        .collect()
}
