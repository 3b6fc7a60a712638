//! Where the control plane and reference binaries live: a cache directory
//! outside the clone, filled by `scripts/install-deps.sh`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The Debian `kubernetes` source version the control plane is built from.
pub const KUBERNETES_VERSION: &str = "1.20.5+really1.20.2";

/// The cache directory: `$FERROFLUX_CACHE`, else `$HOME/.cache/ferroflux`.
#[must_use]
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERROFLUX_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("ferroflux")
}

/// A reference binary (`kubectl`, `helm`) installed by `scripts/install-deps.sh`,
/// if present. Tests use these as oracles only; controllers never run them.
#[must_use]
pub fn reference_binary(name: &str) -> Option<PathBuf> {
    let path = cache_dir().join("reference").join("bin").join(name);
    path.is_file().then_some(path)
}

/// The three control-plane binaries.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// The etcd server.
    pub etcd: PathBuf,
    /// The Kubernetes API server.
    pub kube_apiserver: PathBuf,
    /// The Kubernetes controller manager.
    pub kube_controller_manager: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`, or in `$FERROFLUX_CONTROL_PLANE_BIN`, or in the
    /// cache's `control-plane/<version>/bin`; etcd falls back to `/usr/bin/etcd`.
    ///
    /// # Errors
    /// [`Error::MissingBinary`] naming the first binary that is not there.
    pub fn locate(dir: Option<&Path>) -> Result<Self> {
        let dir = dir.map_or_else(
            || {
                std::env::var_os("FERROFLUX_CONTROL_PLANE_BIN").map_or_else(
                    || {
                        cache_dir()
                            .join("control-plane")
                            .join(KUBERNETES_VERSION)
                            .join("bin")
                    },
                    PathBuf::from,
                )
            },
            Path::to_path_buf,
        );
        let find = |name: &'static str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::MissingBinary { name, path })
            }
        };
        let etcd = find("etcd").or_else(|err| {
            let system = PathBuf::from("/usr/bin/etcd");
            if system.is_file() {
                Ok(system)
            } else {
                Err(err)
            }
        })?;
        Ok(Self {
            etcd,
            kube_apiserver: find("kube-apiserver")?,
            kube_controller_manager: find("kube-controller-manager")?,
        })
    }
}
