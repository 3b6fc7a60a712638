//! The read-only HTTP artifact server (Flux's `--storage-addr`).
//!
//! # Guarantees
//! Only regular files under the storage root are served: no directory
//! listings, no path with `..` or an absolute path, no symbolic link
//! anywhere on the path, no temporary files of writes in progress. The
//! digest cache holds at most [`DIGEST_CACHE_ENTRIES`] files. Responses carry `Content-Length` and
//! an `ETag` of the file's sha256; `If-None-Match` with that tag answers 304.
//! `HEAD` answers the same headers without a body.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::io::ReaderStream;

use crate::digest::Hasher;
use crate::storage::safe_rel;

/// Most files whose digests are remembered; past that the cache starts over
/// (artifacts are replaced as sources change, so old entries would
/// otherwise accumulate for the life of the process).
pub const DIGEST_CACHE_ENTRIES: usize = 4096;

/// File identity for the digest cache: a changed file gets a new digest.
type Stamp = (SystemTime, u64);

#[derive(Debug)]
struct ServerState {
    root: PathBuf,
    digests: Mutex<HashMap<PathBuf, (Stamp, String)>>,
}

/// The router serving the files under `root`.
pub fn router(root: impl Into<PathBuf>) -> Router {
    let state = Arc::new(ServerState {
        root: root.into(),
        digests: Mutex::default(),
    });
    Router::new()
        .route("/{*path}", get(serve_file))
        .with_state(state)
}

/// Serves `root` on `listener` until `shutdown` completes.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(
    listener: TcpListener,
    root: impl Into<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(root))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn serve_file(
    State(state): State<Arc<ServerState>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(rel) = safe_rel(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Writes in progress are hidden: storage names its temporary files `.tmp-*`.
    if rel
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".tmp-"))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let full = state.root.join(rel);
    let Ok(meta) = tokio::fs::symlink_metadata(&full).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !meta.is_file() || !without_links(&state.root, rel).await {
        return StatusCode::NOT_FOUND.into_response();
    }
    let stamp = (
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        meta.len(),
    );
    let digest = match digest_cached(&state, &full, stamp).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(path = %full.display(), error = %e, "reading an artifact for its digest failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag =
        HeaderValue::from_str(&format!("\"{digest}\"")).unwrap_or(HeaderValue::from_static("\"\""));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let file = match tokio::fs::File::open(&full).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(path = %full.display(), error = %e, "opening an artifact failed");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let mut response = Response::new(Body::from_stream(ReaderStream::new(file)));
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ETAG, etag);
    response
}

/// Whether `root/rel` resolves to itself under the resolved `root`: no
/// component of `rel` is a symbolic link.
async fn without_links(root: &Path, rel: &Path) -> bool {
    match (
        tokio::fs::canonicalize(root).await,
        tokio::fs::canonicalize(root.join(rel)).await,
    ) {
        (Ok(root), Ok(resolved)) => resolved == root.join(rel),
        _ => false,
    }
}

/// The file's digest, computed once per (mtime, size).
async fn digest_cached(
    state: &Arc<ServerState>,
    full: &Path,
    stamp: Stamp,
) -> std::io::Result<String> {
    let cached = {
        let map = state.digests.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(full)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, d)| d.clone())
    };
    if let Some(d) = cached {
        return Ok(d);
    }
    let path = full.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || digest_file(&path))
        .await
        .map_err(std::io::Error::other)??;
    let mut digests = state.digests.lock().unwrap_or_else(PoisonError::into_inner);
    if digests.len() >= DIGEST_CACHE_ENTRIES {
        digests.clear();
    }
    digests.insert(full.to_path_buf(), (stamp, digest.clone()));
    Ok(digest)
}

fn digest_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}
