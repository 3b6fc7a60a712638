//! `ferroflux install`, `check` and `uninstall` on the real control plane.
//! It has no kubelet, so the controllers' pods never run: `check` must
//! say so and fail, while the CRDs pass.

use crate::{CLUSTER_WIDE, expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_check_and_uninstall() {
    let _alone = CLUSTER_WIDE.lock().await;
    let cp = ferroflux_testenv::shared().unwrap();
    let kc = cp.kubeconfig();
    let exported = expect(kc, 0, &["install", "--export"]).stdout;
    assert!(
        exported.contains("kind: CustomResourceDefinition"),
        "{exported}"
    );
    for controller in [
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    ] {
        assert!(
            exported.contains(&format!("/usr/local/bin/ferroflux-{controller}")),
            "{controller}: {exported}"
        );
    }

    // The source-watcher is an extra component, installed only when asked for.
    assert!(
        !exported.contains("/usr/local/bin/ferroflux-source-watcher"),
        "{exported}"
    );
    let extra = expect(
        kc,
        0,
        &[
            "install",
            "--export",
            "--components-extra",
            "source-watcher",
        ],
    )
    .stdout;
    assert!(
        extra.contains("/usr/local/bin/ferroflux-source-watcher")
            && extra.contains("name: artifactgenerators.source.extensions.fluxcd.io"),
        "{extra}"
    );
    let run = expect(
        kc,
        2,
        &["install", "--export", "--components-extra=image-automation"],
    );
    assert!(
        run.stderr.contains(
            "unknown extra component 'image-automation'; the extra components are source-watcher"
        ),
        "{}",
        run.stderr
    );

    let run = expect(kc, 0, &["install", "--wait=false"]);
    assert!(run.stderr.contains("CRDs established"), "{}", run.stderr);
    let run = expect(kc, 1, &["check"]);
    assert!(
        run.stderr
            .contains("✔ gitrepositories.source.toolkit.fluxcd.io (v1)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("✗ source-controller: deployment not ready"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("source-watcher"),
        "an extra component not installed is not checked: {}",
        run.stderr
    );
    expect(kc, 0, &["check", "--pre"]);

    let run = expect(kc, 2, &["uninstall"]);
    assert!(run.stderr.contains("--silent"), "{}", run.stderr);
    let run = expect(kc, 0, &["uninstall", "--silent", "--keep-namespace"]);
    assert!(run.stderr.contains("uninstall finished"), "{}", run.stderr);
    let run = expect(kc, 1, &["check"]);
    assert!(
        run.stderr
            .contains("gitrepositories.source.toolkit.fluxcd.io is missing"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("source-controller: not installed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("helm-controller: not installed"),
        "{}",
        run.stderr
    );
}
