//! Test support for Ferroflux: a real Kubernetes control plane on loopback.
//!
//! [`ControlPlane::start`] runs etcd, kube-apiserver and kube-controller-manager
//! (built from Debian's `kubernetes` source package by `scripts/install-deps.sh`)
//! on free loopback ports in a private temp directory, waits until the API server
//! answers `/readyz` and the controller manager has done its first work, and
//! writes an admin kubeconfig. Dropping it stops every process and removes the
//! directory.
//!
//! A test binary shares one control plane through [`shared`]; each test takes its
//! own namespace with [`namespace`]. A guardian process removes everything when
//! the test process ends in any way (normal exit, panic, or `SIGKILL`), so no
//! `etcd` or `kube-apiserver` outlives the tests that started it.

pub mod bench;
mod binaries;
pub mod chartrepo;
mod control_plane;
pub mod controller;
mod crds;
mod error;
pub mod git;
mod process;
pub mod registry;
pub mod s3;
mod shared;
pub mod sink;
pub mod ssh;
mod tls;
mod wait;

pub use binaries::{Binaries, KUBERNETES_VERSION, cache_dir, reference_binary};
pub use control_plane::{ControlPlane, Options};
pub use crds::{established, install_crds};
pub use error::{Error, Result};
pub use shared::{create_namespace, namespace, setup, shared};
pub use tls::{ClientCertificate, terminating_proxy};
pub use wait::{eventually, eventually_gone, poll};
