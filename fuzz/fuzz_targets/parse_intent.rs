//! Fuzz target: loading an intent file returns the intent or diagnostics,
//! never panics; every duration in a loaded intent is at most `36500d`.
#![no_main]

use std::path::Path;

use bearing_intent::Duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = bearing_intent::load_str(Path::new("bearing.yaml"), text) else {
        return;
    };
    let intent = &loaded.intent;
    for o in &intent.objectives {
        for kr in &o.key_results {
            assert!(kr.window.is_none_or(|w| w <= Duration::MAX));
        }
    }
    for s in &intent.services {
        for slo in &s.slos {
            assert!(slo.window <= Duration::MAX);
        }
    }
    assert!(intent.incident_window() <= Duration::MAX);
});
