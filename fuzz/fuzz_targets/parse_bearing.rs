//! Fuzz target: `Bearing` parser must return `Ok` or a `ParseError`, never panic.
#![no_main]

use bearing_events::{Format, ParseContext, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(chrono::DateTime::UNIX_EPOCH);
    let result = parse(Format::Bearing, data, &ctx);
    // Every event survives a JSON round trip; the streaming reader must not panic either.
    if let Ok(events) = &result {
        for e in events {
            let json = serde_json::to_string(e).expect("an event serialises");
            let back: bearing_events::Event =
                serde_json::from_str(&json).expect("a serialised event parses");
            assert_eq!(&back, e);
        }
    }
    let _ = bearing_events::JsonlReader::new(data).count();
    let _ = result;
});
