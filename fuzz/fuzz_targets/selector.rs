//! Patch-target selectors: a selector and an object (YAML, split by NUL);
//! the selector's regular expressions and label expressions are compiled
//! and matched. No panic, bounded time.
#![no_main]

use ferroflux_kustomize::resource::Resource;
use ferroflux_kustomize::selector::Selector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((selector, object)) = ferroflux_fuzz::two_documents(data) else {
        return;
    };
    let Ok(selector) = serde_json::from_value::<Selector>(selector) else {
        return;
    };
    if let Ok(compiled) = selector.compile() {
        let _ = compiled.matches(&Resource::new(object));
    }
});
