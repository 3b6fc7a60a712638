//! `postBuild` substitution: variables (`name=value` lines) and a text
//! (split by NUL), substituted as text and, when the text is a YAML
//! object, as an object. No panic, no stack overflow, bounded memory.
#![no_main]

use std::collections::BTreeMap;

use ferroflux_kustomize::yaml;
use ferroflux_kustomization::substitute;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(parts) = ferroflux_fuzz::parts(data) else {
        return;
    };
    let (Some(vars), Some(text)) = (parts.first(), parts.get(1)) else {
        return;
    };
    let vars: BTreeMap<String, String> = vars
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let _ = substitute::check_names(&vars);
    let _ = substitute::substitute(text, &vars);
    if let Ok(mut docs) = yaml::parse_documents(text)
        && let Some(mut obj) = docs.pop()
    {
        let _ = substitute::substitute_object(&mut obj, &vars);
    }
});
