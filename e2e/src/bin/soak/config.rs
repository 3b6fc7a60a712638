//! The soak's settings: `SOAK_*` environment variables, each with the
//! default a full run (`make soak`) uses. A smoke run shortens them, e.g.
//! `SOAK_KILLS=6 SOAK_GIT_OUTAGE_SECONDS=5`.

use std::time::Duration;

use anyhow::{Context as _, bail};

/// What the soak does and for how long.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `SOAK_KILLS` (100): controllers killed with `SIGKILL` in all.
    pub(crate) kills: u64,
    /// `SOAK_KILL_INTERVAL_SECONDS` (5): the mean time between two kills;
    /// each gap is drawn from half to one and a half times it.
    pub(crate) kill_interval: Duration,
    /// `SOAK_APISERVER_RESTARTS` (2): kube-apiserver restarts, spread over
    /// the fault phase.
    pub(crate) apiserver_restarts: u64,
    /// `SOAK_GIT_OUTAGE_SECONDS` (60): how long the git server is away,
    /// once, in the middle of the fault phase; 0 for no outage.
    pub(crate) git_outage: Duration,
    /// `SOAK_COMMIT_INTERVAL_SECONDS` (5): time between two commits.
    pub(crate) commit_interval: Duration,
    /// `SOAK_BROKEN_COMMITS` (2): broken commits (each then reverted),
    /// spread over the run.
    pub(crate) broken_commits: u64,
    /// `SOAK_STEADY_SECONDS` (the fault phase's planned length): commits
    /// go on without faults for this long after the fault phase, so every
    /// controller's last process runs through the last half of the run
    /// (the memory check's window).
    pub(crate) steady: Option<Duration>,
    /// `SOAK_SAMPLE_SECONDS` (2): how often memory and status are sampled.
    pub(crate) sample_interval: Duration,
    /// `SOAK_CONVERGE_SECONDS` (300): how long the app may take to reach a
    /// revision (before a broken commit, and after the final commit).
    pub(crate) converge_timeout: Duration,
    /// `SOAK_RSS_GROWTH` (1.25): the most the memory check lets the peak
    /// RSS of the last quarter exceed that of the second quarter, as a
    /// factor.
    pub(crate) rss_growth: f64,
    /// `SOAK_SEED` (random): the seed of every random choice, printed so
    /// a run can be repeated.
    pub(crate) seed: u64,
}

impl Config {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A variable that is set but not a number (or not a positive one
    /// where zero makes no sense), naming it.
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        let config = Self {
            kills: integer("SOAK_KILLS", 100)?,
            kill_interval: seconds("SOAK_KILL_INTERVAL_SECONDS", 5.0)?,
            apiserver_restarts: integer("SOAK_APISERVER_RESTARTS", 2)?,
            git_outage: seconds("SOAK_GIT_OUTAGE_SECONDS", 60.0)?,
            commit_interval: seconds("SOAK_COMMIT_INTERVAL_SECONDS", 5.0)?,
            broken_commits: integer("SOAK_BROKEN_COMMITS", 2)?,
            steady: std::env::var_os("SOAK_STEADY_SECONDS")
                .map(|_| seconds("SOAK_STEADY_SECONDS", 0.0))
                .transpose()?,
            sample_interval: seconds("SOAK_SAMPLE_SECONDS", 2.0)?,
            converge_timeout: seconds("SOAK_CONVERGE_SECONDS", 300.0)?,
            rss_growth: number("SOAK_RSS_GROWTH", 1.25)?,
            seed: match std::env::var("SOAK_SEED") {
                Ok(seed) => seed
                    .trim()
                    .parse()
                    .with_context(|| format!("SOAK_SEED={seed:?} is not an integer"))?,
                Err(_) => random_seed()?,
            },
        };
        for (name, value) in [
            ("SOAK_KILL_INTERVAL_SECONDS", config.kill_interval),
            ("SOAK_COMMIT_INTERVAL_SECONDS", config.commit_interval),
            ("SOAK_SAMPLE_SECONDS", config.sample_interval),
            ("SOAK_CONVERGE_SECONDS", config.converge_timeout),
        ] {
            if value.is_zero() {
                bail!("{name} must be more than 0");
            }
        }
        if config.rss_growth < 1.0 {
            bail!("SOAK_RSS_GROWTH must be at least 1");
        }
        Ok(config)
    }
}

/// The variable `name` as a number, `default` when unset.
fn number(name: &str, default: f64) -> anyhow::Result<f64> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let value: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("{name}={text:?} is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        bail!("{name}={text:?} must be a number of 0 or more");
    }
    Ok(value)
}

/// The variable `name` as seconds, `default` when unset.
fn seconds(name: &str, default: f64) -> anyhow::Result<Duration> {
    let value = number(name, default)?;
    Duration::try_from_secs_f64(value).with_context(|| format!("{name} is too large"))
}

/// The variable `name` as a whole number, `default` when unset.
fn integer(name: &str, default: u64) -> anyhow::Result<u64> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    text.trim()
        .parse()
        .with_context(|| format!("{name}={text:?} is not a whole number"))
}

/// A seed from the kernel's random numbers.
fn random_seed() -> anyhow::Result<u64> {
    use std::io::Read as _;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a seed")?;
    Ok(u64::from_le_bytes(bytes))
}
