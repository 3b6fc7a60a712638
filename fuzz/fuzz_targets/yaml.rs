//! The YAML reader on any text, and the writer on whatever it reads: no
//! panic, bounded memory, and what is written reads back the same.
#![no_main]

use ferroflux_kustomize::yaml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let normalised = yaml::normalise(text);
    if let Ok(docs) = yaml::parse_documents(&normalised) {
        let written = yaml::to_yaml_stream(&docs);
        let again = yaml::parse_documents(&written).expect("the writer's output reads back");
        assert_eq!(
            again, docs,
            "a round trip changed the documents:\n{written}"
        );
    }
});
