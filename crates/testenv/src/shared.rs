//! One control plane per test binary, and a namespace per test.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::control_plane::ControlPlane;
use crate::error::{Error, Result};

static SHARED: OnceLock<Result<ControlPlane>> = OnceLock::new();
static NEXT_NAMESPACE: AtomicU32 = AtomicU32::new(0);

/// The control plane shared by every test in this process, started on first use.
///
/// # Errors
/// The start-up error, returned to every caller (it is not retried).
///
/// # Caveats
/// A static is never dropped: the control plane is stopped by its guardian
/// when the test process exits.
pub fn shared() -> Result<&'static ControlPlane, &'static Error> {
    SHARED.get_or_init(ControlPlane::start).as_ref()
}

/// Creates a namespace named `<prefix>-<n>`, unique in this process, for one test.
///
/// # Errors
/// [`Error::Request`] when the namespace cannot be created.
pub async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let n = NEXT_NAMESPACE.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}-{n}");
    create_namespace(client, &name).await?;
    Ok(name)
}

/// Creates the namespace `name`.
///
/// # Errors
/// [`Error::Request`] when the namespace cannot be created.
pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .map_err(|source| Error::Request {
            step: "create namespace",
            source,
        })
        .map(drop)
}

/// What most tests start with: a client of the shared control plane, the
/// CRDs `crds` installed, and a fresh namespace `<prefix>-<n>`.
///
/// # Panics
/// When the shared control plane cannot start or the setup fails; a test
/// cannot run without them.
#[allow(
    clippy::expect_used,
    reason = "test support: a failed setup is a failed test"
)]
pub async fn setup(
    prefix: &str,
    crds: &[k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition],
) -> (Client, String) {
    let cp = shared().expect("the shared test control plane starts");
    let client = cp.client().await.expect("a client of the control plane");
    crate::install_crds(&client, crds)
        .await
        .expect("the CRDs install");
    let ns = namespace(&client, prefix)
        .await
        .expect("a namespace for the test");
    (client, ns)
}
