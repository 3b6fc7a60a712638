//! Artifacts: what a source-controller produces and every other controller consumes.
//!
//! - [`archive`] packs a directory into a tar.gz whose bytes, and so whose
//!   sha256 digest, depend only on file names, contents and the executable bit.
//! - [`storage`] lays artifacts out as `<kind>/<namespace>/<name>/<file>`,
//!   writes them atomically, and applies retention.
//! - [`server`] serves the storage root read-only over HTTP.
//! - [`fetch`] downloads an artifact with retries and a size cap, verifies its
//!   digest, and hands it to [`extract`], which unpacks it refusing anything
//!   that could write outside the target directory.

pub mod archive;
pub mod digest;
pub mod extract;
pub mod fetch;
pub mod server;
pub mod storage;
