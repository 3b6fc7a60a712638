//! Patch-target selectors: a selector and an object (YAML, split by NUL);
//! the selector's regular expressions and label expressions are compiled
//! and matched. No panic, bounded time.
#![no_main]

use ferroflux_kustomize::resource::Resource;
use ferroflux_kustomize::selector::Selector;
use ferroflux_kustomize::yaml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = ferroflux_fuzz::parts(data) else {
        return;
    };
    let (Some(selector), Some(object)) = (parts.first(), parts.get(1)) else {
        return;
    };
    let (Ok(mut selectors), Ok(mut objects)) = (
        yaml::parse_documents(selector),
        yaml::parse_documents(object),
    ) else {
        return;
    };
    let (Some(selector), Some(object)) = (selectors.pop(), objects.pop()) else {
        return;
    };
    let Ok(selector) = serde_json::from_value::<Selector>(selector) else {
        return;
    };
    if let Ok(compiled) = selector.compile() {
        let _ = compiled.matches(&Resource::new(object));
    }
});
