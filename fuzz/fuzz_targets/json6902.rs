//! JSON 6902 patches: a document and an operation list (YAML, split by
//! NUL), parsed and applied. No panic, bounded memory.
#![no_main]

use ferroflux_kustomize::json6902;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mut doc, ops)) = ferroflux_fuzz::two_documents(data) else {
        return;
    };
    if let Ok(ops) = json6902::parse(&ops) {
        let _ = json6902::apply(&mut doc, &ops);
    }
});
