//! What a soak run saw, kept as it happens and read by the checks and the
//! report.

use std::collections::{BTreeMap, BTreeSet};

use ferroflux_e2e::stack::Controller;

/// One memory sample of one controller process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// Seconds since the fault phase began.
    pub(crate) at: f64,
    /// Which process of the controller: 0 for the first, +1 per restart.
    pub(crate) incarnation: u64,
    /// Its resident set size, KiB.
    pub(crate) kib: u64,
}

/// A controller process that exited without being killed by the soak.
#[derive(Clone, Debug)]
pub(crate) struct Crash {
    /// Seconds since the fault phase began, when it was noticed.
    pub(crate) at: f64,
    /// Which controller.
    pub(crate) controller: Controller,
    /// How it exited.
    pub(crate) status: String,
    /// The last lines of its log.
    pub(crate) log_tail: String,
}

/// A fault the soak injected other than a kill.
#[derive(Clone, Debug)]
pub(crate) struct Outage {
    /// Seconds since the fault phase began, when it started.
    pub(crate) at: f64,
    /// How long the component was away, seconds.
    pub(crate) seconds: f64,
}

/// A broken commit and what became of it.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    /// The broken revision, once pushed.
    pub(crate) revision: Option<String>,
    /// What was verified, or what went wrong.
    pub(crate) result: Result<String, String>,
}

/// Commits by kind, and what they did to the objects.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Commits {
    /// Good commits (including the final one).
    pub(crate) good: u64,
    /// Broken commits.
    pub(crate) broken: u64,
    /// Reverts of broken commits.
    pub(crate) reverts: u64,
    /// Objects added by the commits.
    pub(crate) created: u64,
    /// Objects removed by the commits (pruned).
    pub(crate) deleted: u64,
    /// Objects whose fields the commits changed.
    pub(crate) changed: u64,
}

/// How reconciles were asked for after each commit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Triggers {
    /// The Receiver's webhook answered 200.
    pub(crate) webhook: u64,
    /// The webhook failed; the `requestedAt` annotation was set instead.
    pub(crate) annotation: u64,
    /// Both failed (the API server down); the intervals catch up.
    pub(crate) lost: u64,
}

/// One check's verdict.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    /// What was checked.
    pub(crate) name: String,
    /// Whether it held.
    pub(crate) pass: bool,
    /// The figures behind the verdict, or what was wrong.
    pub(crate) detail: String,
}

/// Everything a run records.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The seed of the random choices.
    pub(crate) seed: u64,
    /// Seconds from start to the fault phase (control plane, stack, the
    /// first revision applied).
    pub(crate) setup_seconds: f64,
    /// Kills by controller.
    pub(crate) kills: BTreeMap<Controller, u64>,
    /// The current process of each controller (0 = the first).
    pub(crate) incarnation: BTreeMap<Controller, u64>,
    /// Controller processes that exited on their own.
    pub(crate) crashes: Vec<Crash>,
    /// kube-apiserver restarts: when, and how long until `/readyz`.
    pub(crate) apiserver_restarts: Vec<Outage>,
    /// The git server's outage.
    pub(crate) git_outage: Option<Outage>,
    /// The commits made.
    pub(crate) commits: Commits,
    /// Every revision pushed, and whether it is a good one.
    pub(crate) pushed: Vec<(String, bool)>,
    /// How reconciles were requested.
    pub(crate) triggers: Triggers,
    /// The broken commits.
    pub(crate) episodes: Vec<Episode>,
    /// Every `lastAppliedRevision` seen per Kustomization.
    pub(crate) applied_seen: BTreeMap<String, BTreeSet<String>>,
    /// How often each object turned to each Ready outcome
    /// (`Ready=False BuildFailed`), from the status samples.
    pub(crate) outcomes: BTreeMap<(String, String), u64>,
    /// The last outcome seen per object.
    pub(crate) last_outcome: BTreeMap<String, String>,
    /// Alerts received at the webhook sink, by kind and reason.
    pub(crate) alerts: BTreeMap<(String, String), u64>,
    /// Memory samples per controller.
    pub(crate) samples: BTreeMap<Controller, Vec<Sample>>,
    /// What the driver itself failed to do (a commit, a restart).
    pub(crate) errors: Vec<String>,
    /// Seconds the fault phase took.
    pub(crate) fault_seconds: f64,
    /// Seconds the fault and steady phases took together.
    pub(crate) run_seconds: f64,
    /// The final revision.
    pub(crate) final_revision: Option<String>,
    /// Seconds from the final commit until every object was Ready at it.
    pub(crate) converge_seconds: Option<f64>,
    /// The checks' verdicts.
    pub(crate) checks: Vec<Check>,
}

impl Record {
    /// Counts `outcome` for `object` if it differs from the last one seen.
    pub(crate) fn outcome(&mut self, object: &str, outcome: String) {
        if self.last_outcome.get(object) != Some(&outcome) {
            *self
                .outcomes
                .entry((object.to_owned(), outcome.clone()))
                .or_default() += 1;
            self.last_outcome.insert(object.to_owned(), outcome);
        }
    }

    /// Adds a check's verdict.
    pub(crate) fn check(&mut self, name: &str, pass: bool, detail: String) {
        self.checks.push(Check {
            name: name.to_owned(),
            pass,
            detail,
        });
    }
}
