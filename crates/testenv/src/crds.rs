//! Installing CRDs into a test control plane.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::error::{Error, Result};

/// How long CRDs get to become Established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Server-side applies `crds` and waits until each is Established. Safe to
/// call from many tests at once: applying the same CRDs again changes nothing.
///
/// # Errors
/// [`Error::Request`] when an apply fails; [`Error::NotReady`] when a CRD is
/// not Established within 30 s.
pub async fn install_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("ferroflux-testenv").force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(|source| Error::Request {
                step: "apply a CRD",
                source,
            })?;
    }
    let start = Instant::now();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let live = api.get(&name).await.map_err(|source| Error::Request {
                step: "read a CRD",
                source,
            })?;
            if established(&live) {
                break;
            }
            if start.elapsed() > ESTABLISH_TIMEOUT {
                return Err(Error::NotReady {
                    step: "establish the CRDs",
                    waited: ESTABLISH_TIMEOUT,
                    last_error: format!("{name} is not Established"),
                    component: "kube-apiserver",
                    log_tail: String::new(),
                });
            }
            // Polling interval of a wait bounded by ESTABLISH_TIMEOUT.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Whether the CRD has `Established=True`.
#[must_use]
pub fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}
