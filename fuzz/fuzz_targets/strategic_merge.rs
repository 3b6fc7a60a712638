//! Strategic merge patches: a target and a patch (YAML, split by NUL),
//! merged with the schema of the target's kind when it has one (a
//! Deployment, a Pod, ...) or as a custom resource otherwise.
#![no_main]

use ferroflux_kustomize::{openapi, smp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mut target, patch)) = ferroflux_fuzz::two_documents(data) else {
        return;
    };
    let api_version = target["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = target["kind"].as_str().unwrap_or_default().to_owned();
    let view = openapi::View::Builtin;
    let def = view.definition(&api_version, &kind);
    let _ = smp::apply(&mut target, &patch, view, def);
});
