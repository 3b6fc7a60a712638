//! The API server restarted under running controllers, as an upgrade of
//! the control plane does: their connections and watches break, requests
//! fail for a while, then everything resumes without a controller
//! restarting. A commit pushed while the API server is down is applied
//! once it is back; drift made after is still reverted.

use ferroflux_e2e::sample;
use ferroflux_e2e::stack::{STEP, Stack};
use ferroflux_testenv::ControlPlane;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_restarted_under_the_controllers() {
    // A control plane of its own: stopping the shared one would break the
    // other tests.
    let mut control_plane = tokio::task::spawn_blocking(ControlPlane::start)
        .await
        .unwrap()
        .unwrap();
    let client = control_plane.client().await.unwrap();
    ferroflux_testenv::install_crds(&client, &ferroflux_api::all_crds())
        .await
        .unwrap();
    let ns = ferroflux_testenv::namespace(&client, "restart")
        .await
        .unwrap();
    let mut stack = Stack::start(&control_plane, &ns).await.unwrap();
    stack
        .deliver(&stack.delivery(&ns, "1h", "5s"))
        .await
        .unwrap();
    stack.applied(&stack.head()).await;

    let replicas = "apps/hello/production/replicas.yaml";
    let repo = &stack.repo;
    tokio::task::block_in_place(|| {
        control_plane.restart_apiserver(|| {
            repo.commit(
                &[(
                    replicas,
                    &sample::file(replicas).replace("replicas: 2", "replicas: 4"),
                )],
                "Four replicas, pushed while the API server is down",
            )
            .unwrap();
        })
    })
    .unwrap();
    let pushed = stack.head();
    stack.push_webhook().await;
    stack.applied(&pushed).await;
    assert_eq!(stack.replicas(&ns, "hello").await, 4);

    // The kustomize-controller's periodic reconcile survived the restart.
    Api::<Deployment>::namespaced(stack.client.clone(), &ns)
        .patch(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    ferroflux_testenv::eventually("the drift after the restart reverted", STEP, || async {
        (stack.replicas(&ns, "hello").await == 4).then_some(())
    })
    .await;
    stack.alert("Kustomization", "Progressing", &pushed).await;
    let running = stack.running();
    assert!(
        running.iter().all(|(_, up)| *up),
        "{running:?}\n{}",
        stack.logs()
    );
}
