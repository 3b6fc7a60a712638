//! The repository's copy of the seed's manifests stays the seed's.

use crate::support::{seed_document_manifests, seed_manifests};

/// Runs whenever `shared/` sits beside the clone (CI always has it) and
/// says so when it does not.
#[test]
fn the_copy_matches_the_seed_document() {
    let Some(seed) = seed_document_manifests() else {
        eprintln!(
            "shared/seeds is not beside this clone: the copy in tests/it/seed was not compared with it"
        );
        return;
    };
    assert_eq!(seed_manifests(), seed);
}
