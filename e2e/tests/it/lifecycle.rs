//! A team's life with one app, as the seed documents tell it: deploy from
//! git, a change pushed and applied at once through the Receiver, drift
//! reverted, a removed file pruned and brought back by `git revert`, and a
//! broken commit that leaves the last good state running until it is
//! reverted; with an alert at the webhook sink for each.

use ferroflux_api::kustomize::Kustomization;
use ferroflux_api::source::GitRepository;
use ferroflux_e2e::sample;
use ferroflux_e2e::stack::{STEP, Stack, ready_condition};
use ferroflux_testenv::eventually;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

const REPLICAS: &str = "apps/hello/production/replicas.yaml";
const BASE: &str = "apps/hello/base/kustomization.yaml";
const CONFIG: &str = "apps/hello/base/configmap.yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_change_drift_prune_revert_and_a_broken_commit() {
    let stack = crate::stack("lifecycle").await;
    let ns = stack.namespace.clone();
    // The source only fetches on its own hourly: every change below arrives
    // through the Receiver. The Kustomization re-applies every 5s, which is
    // what reverts drift.
    stack
        .deliver(&stack.delivery(&ns, "1h", "5s"))
        .await
        .unwrap();
    deploy(&stack, &ns).await;
    change_through_the_receiver(&stack, &ns).await;
    drift_is_reverted(&stack, &ns).await;
    prune_then_revert(&stack, &ns).await;
    broken_commit_keeps_the_last_good_state(&stack, &ns).await;
}

/// The first revision: the overlay applied, alerts for the artifact and
/// for each object created.
async fn deploy(stack: &Stack, ns: &str) {
    let first = stack.head();
    let ks = stack.applied(&first).await;
    let conditions = ks.status.unwrap().conditions;
    let ready = ready_condition(&conditions).unwrap();
    // Flux's reason and message, which users' scripts and alerts match on.
    assert_eq!(ready.reason, "ReconciliationSucceeded");
    assert_eq!(ready.message, format!("Applied revision: {first}"));
    assert_eq!(stack.replicas(ns, "hello").await, 2);
    let config = Api::<ConfigMap>::namespaced(stack.client.clone(), ns)
        .get("hello-config")
        .await
        .unwrap();
    let data = config.data.unwrap_or_default();
    assert_eq!(data["environment"], "production");
    assert_eq!(
        config.metadata.labels.unwrap_or_default()["env"],
        "production"
    );
    Api::<Service>::namespaced(stack.client.clone(), ns)
        .get("hello")
        .await
        .unwrap();
    let fetched = stack.alert("GitRepository", "NewArtifact", &first).await;
    assert_eq!(fetched["severity"], "info");
    let applied = stack.alert("Kustomization", "Progressing", &first).await;
    let message = applied["message"].as_str().unwrap();
    for line in [
        format!("ConfigMap/{ns}/hello-config created"),
        format!("Service/{ns}/hello created"),
        format!("Deployment/{ns}/hello created"),
    ] {
        assert!(message.contains(&line), "{message}");
    }
    assert_eq!(applied["reportingController"], "kustomize-controller");
}

/// A push, then the git host's webhook: applied long before the hourly
/// fetch, the request recorded as handled.
async fn change_through_the_receiver(stack: &Stack, ns: &str) {
    stack
        .repo
        .commit(
            &[(
                REPLICAS,
                &sample::file(REPLICAS).replace("replicas: 2", "replicas: 3"),
            )],
            "Three replicas",
        )
        .unwrap();
    let second = stack.head();
    stack.push_webhook().await;
    stack.applied(&second).await;
    assert_eq!(stack.replicas(ns, "hello").await, 3);
    let alert = stack.alert("Kustomization", "Progressing", &second).await;
    assert_eq!(
        alert["message"],
        format!("Deployment/{ns}/hello configured"),
        "only what changed is reported"
    );
    let source = Api::<GitRepository>::namespaced(stack.client.clone(), ns)
        .get(sample::NAME)
        .await
        .unwrap();
    let requested =
        source.metadata.annotations.unwrap_or_default()["reconcile.fluxcd.io/requestedAt"].clone();
    let handled = source
        .status
        .unwrap()
        .reconcile_request
        .last_handled_reconcile_at;
    assert_eq!(handled.as_deref(), Some(requested.as_str()));
}

/// Someone scales the Deployment by hand and deletes the ConfigMap: the
/// next reconcile puts both back, and says so.
async fn drift_is_reverted(stack: &Stack, ns: &str) {
    let since = stack.sink.received().len();
    let scaled = Api::<Deployment>::namespaced(stack.client.clone(), ns)
        .patch(
            "hello",
            &PatchParams {
                field_manager: Some("kubectl-scale".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(7));
    let configs = Api::<ConfigMap>::namespaced(stack.client.clone(), ns);
    configs
        .delete("hello-config", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the scale reverted", STEP, || async {
        (stack.replicas(ns, "hello").await == 3).then_some(())
    })
    .await;
    // The revert of the scale may come alone, as `Deployment/<ns>/hello
    // configured`; the notification-controller then drops it as a repeat
    // of the change's alert within its rate-limit window, as Flux does. The
    // ConfigMap's recreation is an alert of its own in any case.
    let line = format!("ConfigMap/{ns}/hello-config created");
    let alert = stack
        .alert_since(since, "the ConfigMap recreated", |v| {
            v["reason"] == "Progressing"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.lines().any(|l| l == line))
        })
        .await;
    assert_eq!(alert["metadata"]["revision"], stack.head());
    assert!(configs.get_opt("hello-config").await.unwrap().is_some());
}

/// The Service's file is removed from git: the Service is deleted. The
/// removal is reverted with `git revert`: it is created again.
async fn prune_then_revert(stack: &Stack, ns: &str) {
    let services = Api::<Service>::namespaced(stack.client.clone(), ns);
    let removal = stack
        .repo
        .commit(
            &[
                (BASE, &sample::file(BASE).replace("- service.yaml\n", "")),
                ("apps/hello/base/service.yaml", ""),
            ],
            "Retire the Service",
        )
        .unwrap();
    let pruned = stack.head();
    stack.push_webhook().await;
    let ks = stack.applied(&pruned).await;
    assert!(services.get_opt("hello").await.unwrap().is_none());
    let inventory = ks.status.unwrap().inventory.unwrap().entries;
    assert!(
        inventory.iter().all(|e| !e.id.ends_with("_Service")),
        "{inventory:?}"
    );
    let alert = stack.alert("Kustomization", "Progressing", &pruned).await;
    assert_eq!(alert["message"], format!("Service/{ns}/hello deleted"));

    stack.repo.revert(&removal).unwrap();
    let restored = stack.head();
    stack.push_webhook().await;
    stack.applied(&restored).await;
    assert!(services.get_opt("hello").await.unwrap().is_some());
    let alert = stack.alert("Kustomization", "Progressing", &restored).await;
    assert_eq!(alert["message"], format!("Service/{ns}/hello created"));
}

/// A commit with YAML that does not parse: Ready turns False naming the
/// file, an error alert goes out, and what was applied stays applied, at
/// the last good revision. Reverting it makes the Kustomization Ready.
async fn broken_commit_keeps_the_last_good_state(stack: &Stack, ns: &str) {
    let good = stack.head();
    let broken = stack
        .repo
        .commit(
            &[(CONFIG, "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")],
            "A typo",
        )
        .unwrap();
    let bad = stack.head();
    stack.push_webhook().await;
    let kustomizations = Api::<Kustomization>::namespaced(stack.client.clone(), ns);
    let status = eventually("the broken revision refused", STEP, || async {
        let status = kustomizations.get(sample::NAME).await.ok()?.status?;
        (status.last_attempted_revision.as_deref() == Some(bad.as_str())).then_some(status)
    })
    .await;
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "BuildFailed")
    );
    assert!(
        ready.message.contains("configmap.yaml"),
        "{}",
        ready.message
    );
    assert_eq!(status.last_applied_revision.as_deref(), Some(good.as_str()));
    let alert = stack.alert("Kustomization", "BuildFailed", &bad).await;
    assert_eq!(alert["severity"], "error");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("configmap.yaml"),
        "{alert}"
    );
    // Still running what was last applied.
    assert_eq!(stack.replicas(ns, "hello").await, 3);
    let config = Api::<ConfigMap>::namespaced(stack.client.clone(), ns)
        .get("hello-config")
        .await
        .unwrap();
    assert_eq!(
        config.data.unwrap_or_default()["message"],
        "Hello from Ferroflux"
    );

    stack.repo.revert(&broken).unwrap();
    let fixed = stack.head();
    stack.push_webhook().await;
    stack.applied(&fixed).await;
    stack
        .alert("Kustomization", "ReconciliationSucceeded", &fixed)
        .await;
}
