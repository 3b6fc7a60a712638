//! The demo's script: a control plane, the CRDs, the sample app in a git
//! server, the four controllers as processes, the Flux objects made Ready
//! (the overlay applied by a Kustomization, the chart installed by a
//! HelmRelease), then a commit shown applied and alerted; then it prints
//! what to try and keeps printing alerts until it is stopped.

use std::cell::Cell;
use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferroflux_api::source::GitRepository;
use ferroflux_e2e::sample;
use ferroflux_e2e::stack::{self, Stack};
use ferroflux_testenv::sink::JsonSink;
use ferroflux_testenv::{ControlPlane, reference_binary};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

/// Where the Flux objects and the controllers live, as in a Flux install.
const FLUX_NAMESPACE: &str = "flux-system";
/// Where the app goes.
const APP_NAMESPACE: &str = "production";
/// How often alerts arriving at the sink are looked for.
const ALERT_POLL: Duration = Duration::from_millis(250);

/// Writes `text` and a newline to stdout at once (the demo's output is for
/// a person, so it is flushed line by line).
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Runs the demo until it fails; it never returns `Ok` on its own, the
/// caller stops it by dropping it.
///
/// # Errors
/// A step that failed, with what to do about it.
pub(crate) async fn run() -> anyhow::Result<()> {
    say("Ferroflux demo: GitOps on this machine, with a real Kubernetes API server.\n");
    let started = Instant::now();
    step(
        1,
        "Starting etcd, kube-apiserver and kube-controller-manager on loopback",
    );
    // Start-up blocks for a while; on a thread of its own the stop signal
    // is still heard meanwhile.
    let control_plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .context("the control plane's start-up thread failed")?
        .context("the control plane did not start (run `make deps` first)")?;
    let client = control_plane.client().await?;
    done(
        started,
        &format!("API server at {}", control_plane.server()),
    );

    step(2, "Installing the Flux CRDs and the namespaces");
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds()).await?;
    for name in [FLUX_NAMESPACE, APP_NAMESPACE] {
        ferroflux_testenv::create_namespace(&client, name).await?;
    }
    done(
        started,
        &format!(
            "{} kinds; namespaces {FLUX_NAMESPACE} and {APP_NAMESPACE}",
            ferroflux_api::all_crds().len()
        ),
    );

    step(
        3,
        "Serving the sample app from git; starting the controllers and a webhook sink",
    );
    let stack = Stack::start(&control_plane, FLUX_NAMESPACE).await?;
    done(
        started,
        &format!(
            "repository {} (apps/hello/base, the production overlay, charts/greeter); \
             source-, kustomize-, helm- and notification-controller are each their own \
             process; alerts go to {}",
            stack.git.url(sample::NAME),
            stack.sink.url()
        ),
    );

    let alerts = Alerts::new(&stack.sink);
    tokio::select! {
        outcome = script(&stack, &alerts, started) => outcome?,
        () = alerts.print_forever() => {}
    }
    hints(&control_plane, &stack).await;
    alerts.print_forever().await;
    Ok(())
}

/// Steps 4 and 5: deliver the app, then a commit.
async fn script(stack: &Stack, alerts: &Alerts<'_>, started: Instant) -> anyhow::Result<()> {
    step(
        4,
        "Creating Provider `webhook-sink`, Alert, Receiver, GitRepository and Kustomization `hello`, and HelmRelease `greeter` in flux-system",
    );
    let delivery = stack.delivery(APP_NAMESPACE, "1m", "30s");
    stack.deliver(&delivery).await?;
    stack
        .apply(delivery.helm_release(&serde_json::json!({"port": 8080})))
        .await?;
    let first = stack.head();
    let ks = stack.applied(&first).await;
    let release = stack.helm_release_ready(sample::RELEASE, 1).await;
    let source = Api::<GitRepository>::namespaced(stack.client.clone(), FLUX_NAMESPACE)
        .get(sample::NAME)
        .await?;
    stack.alert("Kustomization", "Progressing", &first).await;
    alerts.print_new();
    say(&format!(
        "      GitRepository/hello Ready: {}",
        ready_message(&source.status.map(|s| s.conditions).unwrap_or_default())
    ));
    say(&format!(
        "      Kustomization/hello Ready: {}",
        ready_message(&ks.status.map(|s| s.conditions).unwrap_or_default())
    ));
    say(&format!(
        "      HelmRelease/{} Ready: {}",
        sample::RELEASE,
        ready_message(&release.status.map(|s| s.conditions).unwrap_or_default())
    ));
    show_app(stack).await?;
    done(started, "delivered");

    step(
        5,
        "Committing a change (3 replicas, a new message), then calling the Receiver as a git host would",
    );
    stack.repo.commit(
        &[
            (
                "apps/hello/production/replicas.yaml",
                &sample::file("apps/hello/production/replicas.yaml")
                    .replace("replicas: 2", "replicas: 3"),
            ),
            (
                "apps/hello/base/configmap.yaml",
                &sample::file("apps/hello/base/configmap.yaml")
                    .replace("Hello from Ferroflux", "Hello from a git push"),
            ),
        ],
        "Scale to 3 and change the greeting",
    )?;
    let second = stack.head();
    stack.push_webhook().await;
    stack.applied(&second).await;
    stack.alert("Kustomization", "Progressing", &second).await;
    alerts.print_new();
    show_app(stack).await?;
    done(started, &format!("{second} applied and alerted"));
    Ok(())
}

/// What to try next, with this run's paths and addresses.
async fn hints(control_plane: &ControlPlane, stack: &Stack) {
    let ferroflux = built_beside("ferroflux");
    let kubectl = reference_binary("kubectl").unwrap_or_else(|| "kubectl".into());
    let (ferroflux, kubectl) = (ferroflux.display(), kubectl.display());
    let webhook = stack.webhook().await;
    say(&format!(
        "
Try next, in another terminal:

  export KUBECONFIG={kubeconfig}
  {ferroflux} get all -n flux-system
  {ferroflux} tree kustomization hello -n flux-system

  # Change the app in git; the Receiver applies it at once:
  cd {repo}
  sed -i 's/replicas: 3/replicas: 4/' apps/hello/production/replicas.yaml
  git -c user.name=demo -c user.email=demo@example.com commit -qam 'Four replicas' && git push -q origin main
  curl -X POST {webhook}
  {ferroflux} get kustomizations -n flux-system --watch

  # A new chart version in git upgrades the Helm release (revision 2):
  sed -i 's/version: 0.1.0/version: 0.2.0/' charts/greeter/Chart.yaml
  sed -i 's/from a Helm chart/from chart 0.2.0/' charts/greeter/values.yaml
  git -c user.name=demo -c user.email=demo@example.com commit -qam 'greeter 0.2.0' && git push -q origin main
  curl -X POST {webhook}
  {kubectl} -n flux-system get helmreleases --watch

  # Drift is reverted within the Kustomization's interval (30s), or now:
  {kubectl} -n production scale deployment hello --replicas=1
  {ferroflux} reconcile kustomization hello -n flux-system
  {kubectl} -n production get deployment hello

Alerts arriving at the webhook sink are printed below. Ctrl-C stops everything.
",
        kubeconfig = control_plane.kubeconfig().display(),
        repo = stack.repo.path().display(),
    ));
}

/// Prints the app's state as the cluster has it.
async fn show_app(stack: &Stack) -> anyhow::Result<()> {
    let replicas = stack.replicas(APP_NAMESPACE, "hello").await;
    let config = Api::<ConfigMap>::namespaced(stack.client.clone(), APP_NAMESPACE)
        .get("hello-config")
        .await?;
    let data = config.data.unwrap_or_default();
    say(&format!(
        "      In namespace production: Deployment/hello with {replicas} replicas, Service/hello, \
         ConfigMap/hello-config saying {:?} ({})",
        data.get("message").map_or("", String::as_str),
        data.get("environment").map_or("", String::as_str),
    ));
    let greeting = Api::<ConfigMap>::namespaced(stack.client.clone(), APP_NAMESPACE)
        .get(sample::RELEASE_CONFIGMAP)
        .await?;
    let data = greeting.data.unwrap_or_default();
    say(&format!(
        "      Helm release {release} in namespace production: Service/{release}, ConfigMap/{} \
         saying {:?} (revision {})",
        sample::RELEASE_CONFIGMAP,
        data.get("message").map_or("", String::as_str),
        data.get("revision").map_or("", String::as_str),
        release = sample::RELEASE,
    ));
    Ok(())
}

fn ready_message(conditions: &[ferroflux_api::meta::Condition]) -> String {
    stack::ready_condition(conditions)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The workspace binary `name` built beside this one, or just its name
/// (for `PATH`) when it was not built.
fn built_beside(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(name)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| name.into())
}

fn step(n: u8, text: &str) {
    say(&format!("[{n}/5] {text}"));
}

fn done(started: Instant, text: &str) {
    say(&format!(
        "      ok at {:.1}s: {text}",
        started.elapsed().as_secs_f64()
    ));
}

/// Prints the alerts the sink received, each once.
struct Alerts<'a> {
    sink: &'a JsonSink,
    printed: Cell<usize>,
}

impl<'a> Alerts<'a> {
    fn new(sink: &'a JsonSink) -> Self {
        Self {
            sink,
            printed: Cell::new(0),
        }
    }

    /// Prints what arrived since the last call.
    fn print_new(&self) {
        let received = self.sink.received();
        for alert in received.iter().skip(self.printed.get()) {
            say(&alert_line(alert));
        }
        self.printed.set(received.len());
    }

    async fn print_forever(&self) {
        loop {
            self.print_new();
            // The sink only stores what arrives; polling it a few times a
            // second is what a person watching the output can tell apart.
            tokio::time::sleep(ALERT_POLL).await;
        }
    }
}

/// One alert as a line: who, severity, reason, message, revision.
fn alert_line(alert: &serde_json::Value) -> String {
    let object = &alert["involvedObject"];
    let message = alert["message"]
        .as_str()
        .unwrap_or_default()
        .replace('\n', "; ");
    format!(
        "      alert  {}/{}  {} {}: {message}  [{}]",
        object["kind"].as_str().unwrap_or_default(),
        object["name"].as_str().unwrap_or_default(),
        alert["severity"].as_str().unwrap_or_default(),
        alert["reason"].as_str().unwrap_or_default(),
        alert["metadata"]["revision"].as_str().unwrap_or_default(),
    )
}
