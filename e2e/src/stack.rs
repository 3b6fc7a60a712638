//! The whole system on one machine: a git server serving the sample app,
//! the source-, kustomize-, helm- and notification-controllers as their own
//! processes (artifacts over HTTP from the first to the next two, events
//! posted to the last), and a webhook sink receiving the alerts, all on
//! loopback against one control plane.

use std::path::Path;
use std::time::Duration;

use ferroflux_api::helm::HelmRelease;
use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::meta::Condition;
use ferroflux_api::notification::Receiver;
use ferroflux_api::source::HelmChart;
use ferroflux_testenv::controller::{
    ControllerProcess, SourceController, free_port, workspace_binary,
};
use ferroflux_testenv::git::{BasicAuth, GitServer, WorkingCopy};
use ferroflux_testenv::sink::JsonSink;
use ferroflux_testenv::{ControlPlane, Error, Result, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use crate::sample::{self, Delivery};

/// How long one step (a fetch, an apply, a delivery) may take on a noisy
/// two-core machine running several stacks at once.
pub const STEP: Duration = Duration::from_secs(120);

/// The field manager the stack applies the Flux objects with, as a user's
/// `kubectl apply --server-side` would.
const MANAGER: &str = "ferroflux-e2e";

/// A running system. Dropping it stops the controllers (`SIGKILL`), the
/// git server and the sink.
pub struct Stack {
    /// The namespace the controllers watch and the Flux objects live in.
    pub namespace: String,
    /// A client of the control plane.
    pub client: Client,
    /// The git server; the sample app is its repository `hello`.
    pub git: GitServer,
    /// A working copy of the sample app; commits are pushed at once.
    pub repo: WorkingCopy,
    /// The webhook the Provider posts alerts to.
    pub sink: JsonSink,
    git_auth: Option<BasicAuth>,
    source: SourceController,
    kustomize: ControllerProcess,
    helm: ControllerProcess,
    notification: ControllerProcess,
    receiver_port: u16,
}

impl Stack {
    /// Starts the git server with the sample app committed, the sink, and
    /// the four controllers watching `namespace` of `control_plane`.
    /// Returns once the notification-controller accepts events, so none is
    /// lost.
    ///
    /// # Errors
    /// When the git server, its repository or the client cannot be made.
    ///
    /// # Panics
    /// When a controller binary is not built or cannot be started, or the
    /// notification-controller does not listen within [`STEP`].
    pub async fn start(control_plane: &ControlPlane, namespace: &str) -> Result<Self> {
        Self::start_with_auth(control_plane, namespace, None).await
    }

    /// As [`Stack::start`], with a git server demanding `git_auth` (HTTP
    /// basic auth) when given; [`Stack::delivery`] then gives the
    /// GitRepository a Secret holding it.
    ///
    /// # Errors
    /// As [`Stack::start`].
    ///
    /// # Panics
    /// As [`Stack::start`].
    pub async fn start_with_auth(
        control_plane: &ControlPlane,
        namespace: &str,
        git_auth: Option<BasicAuth>,
    ) -> Result<Self> {
        let kubeconfig = control_plane.kubeconfig();
        let git = GitServer::start(git_auth.clone()).await?;
        let repo = git.create_repo(sample::NAME, "main", sample::FILES)?;
        let sink = JsonSink::start().await;
        let client = control_plane.client().await?;
        let (events_port, receiver_port) = (free_port(), free_port());
        let notification = ControllerProcess::start(
            &workspace_binary("ferroflux-notification-controller"),
            kubeconfig,
            namespace,
            "notification-controller-0",
            &[
                format!("--events-addr=127.0.0.1:{events_port}"),
                format!("--receiver-addr=127.0.0.1:{receiver_port}"),
            ],
        );
        eventually("the notification-controller to listen", STEP, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", events_port))
                .await
                .ok()
                .map(drop)
        })
        .await;
        let events_url = format!("http://127.0.0.1:{events_port}/");
        let source = SourceController::start(
            &workspace_binary("ferroflux-source-controller"),
            kubeconfig,
            namespace,
            &[format!("--events-addr={events_url}")],
        );
        let kustomize = start_kustomize(kubeconfig, namespace, &events_url);
        let helm = start_helm(kubeconfig, namespace, &events_url);
        Ok(Self {
            namespace: namespace.to_owned(),
            client,
            git,
            repo,
            sink,
            git_auth,
            source,
            kustomize,
            helm,
            notification,
            receiver_port,
        })
    }

    /// The sample app's delivery from this stack's git server to `target`,
    /// alerting this stack's sink, with the git server's credentials if it
    /// demands any; intervals as given.
    #[must_use]
    pub fn delivery(
        &self,
        target: &str,
        source_interval: &'static str,
        kustomization_interval: &'static str,
    ) -> Delivery {
        Delivery {
            namespace: self.namespace.clone(),
            target_namespace: target.to_owned(),
            url: self.git.url(sample::NAME),
            source_interval,
            kustomization_interval,
            alert_address: self.sink.url().to_owned(),
            token: format!("token-of-{}", self.namespace),
            git_auth: self.git_auth.clone(),
        }
    }

    /// Applies `delivery`'s objects (server-side, so applying again updates).
    ///
    /// # Errors
    /// [`Error::Request`] when the API server refuses one.
    pub async fn deliver(&self, delivery: &Delivery) -> Result<()> {
        for object in delivery.objects() {
            self.apply(object).await?;
        }
        Ok(())
    }

    /// Server-side applies `object` (any kind the API server serves) into
    /// this stack's namespace.
    ///
    /// # Errors
    /// [`Error::Request`] when the kind is unknown or the apply refused.
    pub async fn apply(&self, object: Value) -> Result<()> {
        let request = |step, source| Error::Request { step, source };
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, _) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| request("discover a kind", e))?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &resource);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        api.patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map(drop)
        .map_err(|e| request("apply a Flux object", e))
    }

    /// The revision the source-controller reports for the working copy's
    /// head, `main@sha1:<sha>`.
    ///
    /// # Panics
    /// When `git rev-parse` fails.
    #[must_use]
    pub fn head(&self) -> String {
        #[allow(
            clippy::expect_used,
            reason = "the working copy is the stack's own; git failing there is a broken machine"
        )]
        let sha = self.repo.head().expect("git rev-parse HEAD");
        format!("main@sha1:{sha}")
    }

    /// The Receiver's webhook URL, once the notification-controller has
    /// made it Ready.
    pub async fn webhook(&self) -> String {
        let receivers = Api::<Receiver>::namespaced(self.client.clone(), &self.namespace);
        let path = eventually("the Receiver to be Ready with a path", STEP, || async {
            let status = receivers.get(sample::NAME).await.ok()?.status?;
            let ready = is_ready(&status.conditions);
            status.webhook_path.filter(|_| ready)
        })
        .await;
        format!("http://127.0.0.1:{}{path}", self.receiver_port)
    }

    /// Calls the Receiver's webhook as a git host does after a push, until
    /// it answers 200 (its server learns a new path from a watch, so the
    /// first calls may find none).
    pub async fn push_webhook(&self) {
        let url = self.webhook().await;
        let http = ferroflux_tls::http_client();
        eventually("the Receiver's webhook to accept a call", STEP, || async {
            let status = http.post(&url).body("{}").send().await.ok()?.status();
            status.is_success().then_some(())
        })
        .await;
    }

    /// Waits until the sample's Kustomization has applied `revision` and is
    /// Ready, and returns it.
    pub async fn applied(&self, revision: &str) -> Kustomization {
        self.kustomization_applied(sample::NAME, revision).await
    }

    /// Waits until the Kustomization `name` has applied `revision` and is
    /// Ready, and returns it.
    pub async fn kustomization_applied(&self, name: &str, revision: &str) -> Kustomization {
        let api = Api::<Kustomization>::namespaced(self.client.clone(), &self.namespace);
        eventually(
            &format!("Kustomization {name} applied {revision}"),
            STEP,
            || async {
                let ks = api.get(name).await.ok()?;
                let status = ks.status.as_ref()?;
                (is_ready(&status.conditions)
                    && status.last_applied_revision.as_deref() == Some(revision))
                .then_some(ks)
            },
        )
        .await
    }

    /// Waits until the HelmRelease `name` is Ready, for its current
    /// generation, with release revision `revision` deployed (the newest of
    /// `status.history`), and returns it.
    ///
    /// # Panics
    /// After [`STEP`], with what the HelmRelease and its HelmChart last
    /// said and the controllers' logs.
    pub async fn helm_release_ready(&self, name: &str, revision: i64) -> HelmRelease {
        let api = Api::<HelmRelease>::namespaced(self.client.clone(), &self.namespace);
        let found = ferroflux_testenv::poll(STEP, || async {
            let hr = api.get(name).await.ok()?;
            let status = hr.status.as_ref()?;
            let ready = ready_condition(&status.conditions).is_some_and(|c| {
                c.status == "True" && c.observed_generation == hr.metadata.generation
            });
            let newest = status.history.first()?;
            (ready && newest.version == revision && newest.status == "deployed").then_some(hr)
        })
        .await;
        if let Some(hr) = found {
            return hr;
        }
        panic!(
            "timed out after {STEP:?} waiting until HelmRelease {ns}/{name} is Ready with \
             release revision {revision} deployed\n{}\n{}",
            self.describe_helm_release(name).await,
            self.logs(),
            ns = self.namespace,
        );
    }

    /// What the HelmRelease `name` and its HelmChart say: generations,
    /// conditions, release history; for a failing wait's message.
    async fn describe_helm_release(&self, name: &str) -> String {
        let hr = match Api::<HelmRelease>::namespaced(self.client.clone(), &self.namespace)
            .get(name)
            .await
        {
            Ok(hr) => hr,
            Err(e) => return format!("HelmRelease {name} cannot be read: {e}"),
        };
        let status = hr.status.unwrap_or_default();
        let mut lines = vec![format!(
            "HelmRelease {name}: generation {:?}, observed {:?}, last attempted revision {:?}",
            hr.metadata.generation, status.observed_generation, status.last_attempted_revision
        )];
        lines.extend(status.conditions.iter().map(condition_line));
        lines.extend(status.history.iter().map(|s| {
            format!(
                "  release {}.v{}: {} ({}@{})",
                s.name, s.version, s.status, s.chart_name, s.chart_version
            )
        }));
        let Some((chart_ns, chart_name)) =
            status.helm_chart.as_deref().and_then(|c| c.split_once('/'))
        else {
            lines.push("  no HelmChart yet (status.helmChart is empty)".to_owned());
            return lines.join("\n");
        };
        match Api::<HelmChart>::namespaced(self.client.clone(), chart_ns)
            .get(chart_name)
            .await
        {
            Ok(chart) => {
                let status = chart.status.unwrap_or_default();
                lines.push(format!(
                    "HelmChart {chart_ns}/{chart_name}: artifact {:?}",
                    status.artifact.map(|a| a.revision)
                ));
                lines.extend(status.conditions.iter().map(condition_line));
            }
            Err(e) => lines.push(format!(
                "HelmChart {chart_ns}/{chart_name} cannot be read: {e}"
            )),
        }
        lines.join("\n")
    }

    /// Waits for an alert at the sink about `kind` whose reason is
    /// `reason` and whose metadata names `revision`, and returns it.
    pub async fn alert(&self, kind: &str, reason: &str, revision: &str) -> Value {
        self.alert_since(
            0,
            &format!("a {reason} alert about {kind} at {revision}"),
            |v| {
                v["involvedObject"]["kind"] == kind
                    && v["reason"] == reason
                    && v["metadata"]["revision"] == revision
            },
        )
        .await
    }

    /// Waits for an alert `pick` accepts among those the sink received
    /// after its first `since`, and returns it; `what` names it in the
    /// timeout's message.
    pub async fn alert_since(
        &self,
        since: usize,
        what: &str,
        pick: impl Fn(&Value) -> bool,
    ) -> Value {
        let pick = &pick;
        eventually(&format!("an alert: {what}"), STEP, || async move {
            self.sink
                .received()
                .into_iter()
                .skip(since)
                .find(|v| pick(v))
        })
        .await
    }

    /// The `spec.replicas` of Deployment `name` in `namespace`, once it
    /// can be read.
    pub async fn replicas(&self, namespace: &str, name: &str) -> i32 {
        let api = Api::<Deployment>::namespaced(self.client.clone(), namespace);
        eventually(
            &format!("Deployment {namespace}/{name} read"),
            STEP,
            || async {
                let deployment = api.get(name).await.ok()?;
                Some(deployment.spec.and_then(|s| s.replicas).unwrap_or(1))
            },
        )
        .await
    }

    /// Kills `controller` with `SIGKILL`, mid-whatever it was doing.
    pub fn kill(&mut self, controller: Controller) {
        self.process_mut(controller).kill();
    }

    /// Starts `controller` again in place of the old process (killed first
    /// if still running), as a Deployment does after a crash: same flags,
    /// ports and, for the source-controller, artifact storage; its log
    /// goes on in the same file.
    ///
    /// # Errors
    /// [`Error::Spawn`] when the binary cannot be started.
    pub fn restart(&mut self, controller: Controller) -> Result<()> {
        self.process_mut(controller).restart()
    }

    /// The process of `controller`.
    #[must_use]
    pub fn process(&self, controller: Controller) -> &ControllerProcess {
        match controller {
            Controller::Source => &self.source.process,
            Controller::Kustomize => &self.kustomize,
            Controller::Helm => &self.helm,
            Controller::Notification => &self.notification,
        }
    }

    /// The process of `controller`, to kill, restart or check it.
    pub fn process_mut(&mut self, controller: Controller) -> &mut ControllerProcess {
        match controller {
            Controller::Source => &mut self.source.process,
            Controller::Kustomize => &mut self.kustomize,
            Controller::Helm => &mut self.helm,
            Controller::Notification => &mut self.notification,
        }
    }

    /// Whether each controller process is still running, by name.
    pub fn running(&mut self) -> Vec<(&'static str, bool)> {
        Controller::ALL
            .into_iter()
            .map(|c| (c.name(), self.process_mut(c).running()))
            .collect()
    }

    /// The controllers' logs, for a failing test's message.
    #[must_use]
    pub fn logs(&self) -> String {
        Controller::ALL
            .into_iter()
            .map(|c| format!("--- {}\n{}", c.name(), self.process(c).log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One of the stack's four controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// The source-controller.
    Source,
    /// The kustomize-controller.
    Kustomize,
    /// The helm-controller.
    Helm,
    /// The notification-controller.
    Notification,
}

impl Controller {
    /// The four, in the order reports list them.
    pub const ALL: [Self; 4] = [
        Self::Source,
        Self::Kustomize,
        Self::Helm,
        Self::Notification,
    ];

    /// The controller's name, such as `source-controller`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source-controller",
            Self::Kustomize => "kustomize-controller",
            Self::Helm => "helm-controller",
            Self::Notification => "notification-controller",
        }
    }
}

/// The `Ready` condition among `conditions`.
#[must_use]
pub fn ready_condition(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == "Ready")
}

/// A condition as one line of a failing wait's message.
fn condition_line(c: &Condition) -> String {
    format!(
        "  {}={} {} (generation {:?}): {}",
        c.type_, c.status, c.reason, c.observed_generation, c.message
    )
}

/// Whether `conditions` say `Ready=True`.
#[must_use]
pub fn is_ready(conditions: &[Condition]) -> bool {
    ready_condition(conditions).is_some_and(|c| c.status == "True")
}

fn start_kustomize(kubeconfig: &Path, namespace: &str, events_url: &str) -> ControllerProcess {
    ControllerProcess::start(
        &workspace_binary("ferroflux-kustomize-controller"),
        kubeconfig,
        namespace,
        "kustomize-controller-0",
        &[format!("--events-addr={events_url}")],
    )
}

fn start_helm(kubeconfig: &Path, namespace: &str, events_url: &str) -> ControllerProcess {
    ControllerProcess::start(
        &workspace_binary("ferroflux-helm-controller"),
        kubeconfig,
        namespace,
        "helm-controller-0",
        // A HelmRelease whose HelmChart has no artifact yet looks again this soon
        // (Flux's default is 5s; the new artifact also triggers it at once).
        &[
            format!("--events-addr={events_url}"),
            "--requeue-dependency=2s".to_owned(),
        ],
    )
}
