//! Fuzz target: durations, dates and times are bounded wherever they are
//! parsed. Whatever parses is within its range (durations at most `36500d`,
//! times from 1970 to 9999), prints back to itself, and can be taken from or
//! added to any accepted time; nothing panics.
#![no_main]

use bearing_intent::units::{EARLIEST, LATEST};
use bearing_intent::{Duration, Quantity, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let first = EARLIEST.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let last = bearing_events::timestamp::LATEST;
    if let Ok(d) = s.parse::<Duration>() {
        assert!(d <= Duration::MAX, "`{s}` parsed to {d}");
        assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        assert!(d.before(first).is_some() && d.after(last).is_some());
    }
    if let Ok(Target {
        value: Quantity::Duration(d),
        ..
    }) = s.parse::<Target>()
    {
        assert!(d <= Duration::MAX, "`{s}` parsed to {d}");
    }
    if let Ok(e) = bearing_intent::expr::parse(s) {
        for c in e.comparisons() {
            assert!(c.window.is_none_or(|w| w <= Duration::MAX), "`{s}`");
        }
    }
    for t in [
        bearing_events::timestamp::parse_rfc3339(s),
        bearing_events::timestamp::parse_lenient(s),
    ]
    .into_iter()
    .flatten()
    {
        assert!(bearing_events::timestamp::in_range(t), "`{s}` parsed to {t}");
        assert!((EARLIEST..=LATEST).contains(&t.date_naive()));
        assert!(Duration::MAX.before(t).is_some() && Duration::MAX.after(t).is_some());
    }
    // The message for a refused time never panics either (it truncates the input).
    let _ = bearing_events::timestamp::expected_timestamp(s);
});
