//! JSON 6902 patches: a document and an operation list (YAML, split by
//! NUL), parsed and applied. No panic, bounded memory.
#![no_main]

use ferroflux_kustomize::{json6902, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = ferroflux_fuzz::parts(data) else {
        return;
    };
    let (Some(doc), Some(ops)) = (parts.first(), parts.get(1)) else {
        return;
    };
    let (Ok(mut docs), Ok(mut ops)) = (yaml::parse_documents(doc), yaml::parse_documents(ops))
    else {
        return;
    };
    let (Some(mut doc), Some(ops)) = (docs.pop(), ops.pop()) else {
        return;
    };
    if let Ok(ops) = json6902::parse(&ops) {
        let _ = json6902::apply(&mut doc, &ops);
    }
});
