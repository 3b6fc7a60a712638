//! Artifact extraction: the input is a tar stream (gzipped here, so the
//! fuzzer works on the tar layer), extracted into a fresh directory with
//! small limits. Nothing may be written outside it, no link may be made,
//! and no panic.
#![no_main]

use std::io::Write as _;
use std::time::Duration;

use ferroflux_artifact::extract::{Limits, tar_gz};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Stored blocks: still a valid gzip stream, without spending the run on
    // compressing.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(data).expect("writing to memory");
    let archive = gz.finish().expect("finishing in memory");
    let sandbox = tempfile::tempdir_in(ferroflux_fuzz::scratch()).expect("a sandbox");
    let target = sandbox.path().join("target");
    std::fs::create_dir(&target).expect("the target directory");
    let limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 1000,
        max_duration: Duration::from_secs(1),
    };
    let _ = tar_gz(archive.as_slice(), &target, limits);
    // Only the target directory is in the sandbox, and nothing in it is a link.
    let entries: Vec<_> = std::fs::read_dir(sandbox.path())
        .expect("reading the sandbox")
        .collect();
    assert_eq!(entries.len(), 1, "something was written beside the target");
    let mut pending = vec![target];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading an extracted directory") {
            let entry = entry.expect("an entry");
            let kind = entry.file_type().expect("a file type");
            assert!(
                !kind.is_symlink(),
                "a link was extracted: {:?}",
                entry.path()
            );
            if kind.is_dir() {
                pending.push(entry.path());
            }
        }
    }
});
