//! Fuzz target: format detection and the GitHub signature check never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bearing_events::detect(Some("input.json"), data);
    let _ = bearing_events::detect(None, data);
    let header = std::str::from_utf8(data).ok();
    let _ = bearing_events::github::verify_signature(b"secret", data, header);
});
