//! Fuzz target: `GitlabWebhook` parser must return `Ok` or a `ParseError`, never panic.
#![no_main]

use bearing_events::{Format, ParseContext, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(chrono::DateTime::UNIX_EPOCH);
    let result = parse(Format::GitlabWebhook, data, &ctx);
    let _ = result;
});
