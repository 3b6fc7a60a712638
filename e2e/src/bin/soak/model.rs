//! What the soak keeps in git: the sample app's overlay (its Deployment's
//! replicas, its ConfigMap's message, whether its Service exists) and a
//! directory `soak/` of small ConfigMaps that come and go, as a model from
//! which each commit's files and the objects the cluster must hold are
//! derived; and the seeded random numbers that choose each change.

use std::collections::BTreeMap;

/// The directory of the soak's own Kustomization.
pub(crate) const SOAK_PATH: &str = "soak";

/// How many `soak/` ConfigMaps there can be at most (`cm-00` …).
const POOL: u64 = 12;

/// The overlay's Deployment replicas patch.
const REPLICAS: &str = "apps/hello/production/replicas.yaml";
/// The base's ConfigMap.
const CONFIG: &str = "apps/hello/base/configmap.yaml";
/// The base's kustomization, which lists the Service or not.
const BASE: &str = "apps/hello/base/kustomization.yaml";
/// The base's Service.
const SERVICE: &str = "apps/hello/base/service.yaml";

/// `SplitMix64`: small, seeded, and good enough to choose faults and
/// changes reproducibly (`SOAK_SEED`).
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A factor in `[0.5, 1.5)`, to spread intervals around their mean.
    pub(crate) fn spread(&mut self) -> f64 {
        0.5 + f64::from(u32::try_from(self.below(1000)).unwrap_or(0)) / 1000.0
    }
}

/// The state of the app in one commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct App {
    /// The Deployment `hello`'s replicas.
    pub(crate) replicas: u64,
    /// The ConfigMap `hello-config`'s `message`.
    pub(crate) message: String,
    /// Whether the Service `hello` is in the base.
    pub(crate) service: bool,
    /// The `soak/` ConfigMaps: name → their `value`.
    pub(crate) configs: BTreeMap<String, String>,
}

/// What one change did, for the report.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Change {
    /// Objects the commit added.
    pub(crate) created: u64,
    /// Objects the commit removed (which prune must delete).
    pub(crate) deleted: u64,
    /// Objects whose fields the commit changed.
    pub(crate) changed: u64,
}

impl App {
    /// The first state: the sample app as committed, and four ConfigMaps.
    pub(crate) fn initial() -> Self {
        Self {
            replicas: 2,
            message: "Hello from Ferroflux".to_owned(),
            service: true,
            configs: (0..4).map(|i| (config_name(i), "v0".to_owned())).collect(),
        }
    }

    /// The next commit's state: new replicas and message, the Service
    /// sometimes removed or brought back, a ConfigMap sometimes added or
    /// deleted, and one ConfigMap's value changed; `n` numbers the commit.
    pub(crate) fn next(&self, rng: &mut Rng, n: u64) -> (Self, Change) {
        let mut next = self.clone();
        let mut change = Change::default();
        next.replicas = 1 + rng.below(5);
        next.message = format!("soak commit {n}");
        change.changed += 1 + u64::from(next.replicas != self.replicas);
        if rng.chance(15) {
            next.service = !self.service;
            if next.service {
                change.created += 1;
            } else {
                change.deleted += 1;
            }
        }
        if rng.chance(40) {
            let absent: Vec<String> = (0..POOL)
                .map(config_name)
                .filter(|name| !next.configs.contains_key(name))
                .collect();
            if let Some(name) = pick(rng, &absent) {
                next.configs.insert(name, format!("c{n}"));
                change.created += 1;
            }
        }
        if rng.chance(40) && next.configs.len() > 1 {
            let present: Vec<String> = next.configs.keys().cloned().collect();
            if let Some(name) = pick(rng, &present) {
                next.configs.remove(&name);
                change.deleted += 1;
            }
        }
        let present: Vec<String> = next.configs.keys().cloned().collect();
        if let Some(name) = pick(rng, &present) {
            next.configs.insert(name, format!("c{n}"));
            change.changed += 1;
        }
        (next, change)
    }

    /// Every file this model decides, path → contents.
    pub(crate) fn files(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        files.insert(
            REPLICAS.to_owned(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: hello\nspec:\n  \
                 replicas: {}\n",
                self.replicas
            ),
        );
        files.insert(
            CONFIG.to_owned(),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello-config\ndata:\n  \
                 message: {}\n  environment: base\n",
                self.message
            ),
        );
        let service = if self.service { "- service.yaml\n" } else { "" };
        files.insert(
            BASE.to_owned(),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n\
                 - configmap.yaml\n- deployment.yaml\n{service}"
            ),
        );
        if self.service {
            files.insert(
                SERVICE.to_owned(),
                ferroflux_e2e::sample::file(SERVICE).to_owned(),
            );
        }
        let list = self
            .configs
            .keys()
            .fold(String::new(), |list, name| list + "- " + name + ".yaml\n");
        files.insert(
            format!("{SOAK_PATH}/kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n\
                 {list}"
            ),
        );
        for (name, value) in &self.configs {
            files.insert(
                format!("{SOAK_PATH}/{name}.yaml"),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    \
                     app: soak\ndata:\n  value: {value}\n"
                ),
            );
        }
        files
    }

    /// The files to commit to go from `before` to this state: changed and
    /// new files with their contents, removed ones with empty contents
    /// (which [`ferroflux_testenv::git::WorkingCopy::commit`] deletes).
    pub(crate) fn changes_from(&self, before: &Self) -> Vec<(String, String)> {
        let (old, new) = (before.files(), self.files());
        let mut changes: Vec<(String, String)> = new
            .iter()
            .filter(|(path, contents)| old.get(*path) != Some(contents))
            .map(|(path, contents)| (path.clone(), contents.clone()))
            .collect();
        changes.extend(
            old.keys()
                .filter(|path| !new.contains_key(*path))
                .map(|path| (path.clone(), String::new())),
        );
        changes
    }

    /// A broken commit's file: one of the `soak/` ConfigMaps' files with
    /// YAML that does not parse, and the file's name.
    pub(crate) fn broken(&self) -> (String, String) {
        let name = self
            .configs
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| config_name(0));
        (
            format!("{SOAK_PATH}/{name}.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n".to_owned(),
        )
    }

    /// The objects the cluster must hold in the target namespace, by
    /// (kind, name), with their key fields as [`crate::checks`] reads them
    /// (`k=v` pairs of a ConfigMap's data, a Deployment's replicas).
    pub(crate) fn expected(&self) -> BTreeMap<(String, String), String> {
        let mut objects = BTreeMap::new();
        let mut put = |kind: &str, name: &str, fields: String| {
            objects.insert((kind.to_owned(), name.to_owned()), fields);
        };
        put("Deployment", "hello", format!("replicas={}", self.replicas));
        put(
            "ConfigMap",
            "hello-config",
            format!("environment=production,message={}", self.message),
        );
        if self.service {
            put("Service", "hello", String::new());
        }
        for (name, value) in &self.configs {
            put("ConfigMap", name, format!("value={value}"));
        }
        objects
    }
}

/// The name of the `i`th pool ConfigMap.
fn config_name(i: u64) -> String {
    format!("cm-{i:02}")
}

/// A random element of `items`, if any.
fn pick(rng: &mut Rng, items: &[String]) -> Option<String> {
    let len = u64::try_from(items.len()).ok().filter(|n| *n > 0)?;
    let index = usize::try_from(rng.below(len)).ok()?;
    items.get(index).cloned()
}
