//! The notification-controller's inputs from the network: an event posted
//! to its endpoint (Flux's JSON payload), cut down and formatted for every
//! provider type, and a Receiver's webhook signature check over a body.
//! No panic, whatever the payload.
#![no_main]

use ferroflux_api::event::Event;
use ferroflux_notify::metadata::cleanup_metadata;
use ferroflux_notify::providers::{Target, request};
use ferroflux_notify::signature;
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 8] = [
    "generic",
    "generic-hmac",
    "slack",
    "msteams",
    "discord",
    "googlechat",
    "github",
    "unknown",
];

fuzz_target!(|data: &[u8]| {
    let header = std::str::from_utf8(data.get(..71).unwrap_or(data)).ok();
    let _ = signature::matches(header, "token", data);
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let event = cleanup_metadata(event);
    for provider_type in TYPES {
        let target = Target {
            provider_type: provider_type.to_owned(),
            provider_uid: "0c9c2e41-9a5e-4a4c-8a5d-2c9d4d2d1a11".to_owned(),
            address: "https://github.com/org/repo".to_owned(),
            token: Some("token".to_owned()),
            ..Target::default()
        };
        let _ = request(&target, &event);
    }
});
