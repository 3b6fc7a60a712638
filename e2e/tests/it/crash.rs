//! The kustomize-controller killed with `SIGKILL` halfway through applying
//! a revision, as the OOM killer or a lost node would, then started again:
//! the new revision ends up applied exactly, and what the old one had and
//! the new one dropped is pruned, because the inventory the killed process
//! never replaced is still the one in status.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use ferroflux_api::kustomize::Kustomization;
use ferroflux_e2e::stack::{Controller, STEP};
use ferroflux_testenv::eventually;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;

/// Revision one has `cm-000` to `cm-099`; revision two `cm-050` to
/// `cm-349`: 250 new objects, applied one by one, give the test a window
/// of seconds to kill the controller in.
const ONE: std::ops::Range<usize> = 0..100;
const TWO: std::ops::Range<usize> = 50..350;

/// The `bulk/` directory holding the ConfigMaps of `names`, labelled with
/// `wave`.
fn bulk(names: std::ops::Range<usize>, wave: &str) -> String {
    names.fold(String::new(), |mut out, i| {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\n  labels:\n    \
             app: bulk\n    wave: {wave}\ndata:\n  index: \"{i}\"\n"
        );
        out
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_apply_then_restarted_loses_and_duplicates_nothing() {
    let mut stack = crate::stack("crash").await;
    let ns = stack.namespace.clone();
    stack
        .repo
        .commit(
            &[
                ("bulk/kustomization.yaml", "resources:\n- configmaps.yaml\n"),
                ("bulk/configmaps.yaml", &bulk(ONE, "one")),
            ],
            "Bulk, wave one",
        )
        .unwrap();
    let one = stack.head();
    // The sample's source, alerting and Receiver, with a Kustomization of
    // its own in place of the sample's.
    for object in stack.delivery(&ns, "1h", "1h").objects() {
        if object["kind"] != "Kustomization" {
            stack.apply(object).await.unwrap();
        }
    }
    stack
        .apply(
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "bulk"},
            "spec": {"interval": "1h", "path": "./bulk", "prune": true, "targetNamespace": ns,
                     "sourceRef": {"kind": "GitRepository", "name": "hello"}}}),
        )
        .await
        .unwrap();
    let kustomizations = Api::<Kustomization>::namespaced(stack.client.clone(), &ns);
    stack.kustomization_applied("bulk", &one).await;

    stack
        .repo
        .commit(
            &[("bulk/configmaps.yaml", &bulk(TWO, "two"))],
            "Bulk, wave two",
        )
        .unwrap();
    let two = stack.head();
    stack.push_webhook().await;
    let configs = Api::<ConfigMap>::namespaced(stack.client.clone(), &ns);
    let wave_two = ListParams::default().labels("wave=two");
    let seen = eventually("wave two partly applied", STEP, || async {
        let n = configs.list_metadata(&wave_two).await.ok()?.items.len();
        (n > 0).then_some(n)
    })
    .await;
    stack.kill(Controller::Kustomize);
    let after_kill = configs.list_metadata(&wave_two).await.unwrap().items.len();
    // On a machine fast enough to apply the whole revision between two
    // polls this fails, saying so: the revision must grow, not the test
    // pass without having killed anything mid-apply.
    assert!(
        after_kill < TWO.len(),
        "the apply finished before the kill ({seen} seen, {after_kill} after); the test needs a bigger revision"
    );
    let status = kustomizations.get("bulk").await.unwrap().status.unwrap();
    assert_eq!(status.last_applied_revision.as_deref(), Some(one.as_str()));

    stack.restart(Controller::Kustomize).unwrap();
    let ks = stack.kustomization_applied("bulk", &two).await;
    let names: BTreeSet<String> = configs
        .list_metadata(&ListParams::default().labels("app=bulk"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| {
            assert_eq!(c.metadata.labels.unwrap_or_default()["wave"], "two");
            c.metadata.name.unwrap()
        })
        .collect();
    let expected: BTreeSet<String> = TWO.map(|i| format!("cm-{i:03}")).collect();
    assert_eq!(names, expected, "exactly wave two, the rest pruned");
    let ids: Vec<String> = ks
        .status
        .unwrap()
        .inventory
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (TWO.len(), TWO.len()));
    let alert = stack.alert("Kustomization", "Progressing", &two).await;
    let message = alert["message"].as_str().unwrap();
    let lines: Vec<&str> = message.lines().collect();
    let distinct: BTreeSet<&&str> = lines.iter().collect();
    assert_eq!(lines.len(), distinct.len(), "an object reported twice");
    assert!(message.contains(&format!("ConfigMap/{ns}/cm-000 deleted")));
    assert!(
        stack.running().iter().all(|(_, up)| *up),
        "{}",
        stack.logs()
    );
}
