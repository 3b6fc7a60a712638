//! Helpers: source trees, a running artifact server, hostile tarballs.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

/// Writes `files` (`path`, contents) under `root`, creating directories.
pub(crate) fn tree(root: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
}

/// Serves `root` on a free loopback port until the returned sender is dropped.
pub(crate) async fn serve(root: &Path) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let root = root.to_path_buf();
    tokio::spawn(async move {
        ferroflux_artifact::server::serve(listener, root, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (addr, tx)
}

/// A served storage holding one artifact of `files`; keep the guard alive.
pub(crate) struct Served {
    _root: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Archives `files` into a fresh storage served on loopback, as a source-controller would.
pub(crate) async fn served_artifact(
    files: &[(&str, &str)],
) -> (ferroflux_api::meta::Artifact, Served) {
    use ferroflux_artifact::archive::All;
    use ferroflux_artifact::storage::{ObjectKey, Retention, Storage};

    let root = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), files);
    let (addr, stop) = serve(root.path()).await;
    let storage = Storage::new(root.path(), addr.to_string(), Retention::default()).unwrap();
    let key = ObjectKey::new("GitRepository", "ns", "r");
    let artifact = storage
        .archive(&key, src.path(), &All, "f.tar.gz", "r")
        .unwrap();
    (
        artifact,
        Served {
            _root: root,
            _stop: stop,
        },
    )
}

/// One raw tar entry: the name and link name are written into the header
/// bytes directly, bypassing the checks a well-behaved writer makes.
pub(crate) struct RawEntry<'a> {
    pub(crate) name: &'a str,
    pub(crate) kind: tar::EntryType,
    pub(crate) link: &'a str,
    pub(crate) data: &'a [u8],
}

/// A tar.gz of `entries`, however hostile.
pub(crate) fn hostile_tar_gz(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for e in entries {
        let mut header = tar::Header::new_old();
        {
            let old = header.as_old_mut();
            old.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            old.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        }
        header.set_entry_type(e.kind);
        header.set_mode(0o644);
        header.set_size(e.data.len() as u64);
        header.set_cksum();
        builder.append(&header, e.data).unwrap();
    }
    let mut gz = builder.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}
