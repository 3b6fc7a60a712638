//! Custom `openapi` schemas (a kustomization's `openapi: {path}`, tenant
//! input): the schema text, then a target and a patch (split by NUL). The
//! schema is read, and when it is usable the patch is merged with it alone
//! and layered over the built-in schema: nothing may panic or loop (a
//! `$ref` cycle must be refused, not followed).
#![no_main]

use ferroflux_kustomize::{openapi, smp, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = ferroflux_fuzz::parts(data) else {
        return;
    };
    let Some(schema) = parts.first() else {
        return;
    };
    let Ok(table) = openapi::Table::parse_custom(schema) else {
        return;
    };
    let document = |i: usize| {
        yaml::parse_documents(parts.get(i)?)
            .ok()?
            .into_iter()
            .next()
    };
    let (Some(target), Some(patch)) = (document(1), document(2)) else {
        return;
    };
    let api_version = target["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = target["kind"].as_str().unwrap_or_default().to_owned();
    for view in [openapi::View::Custom(&table), openapi::View::Layered(&table)] {
        let mut object = target.clone();
        let def = view.definition(&api_version, &kind);
        let _ = smp::apply(&mut object, &patch, view, def);
    }
});
