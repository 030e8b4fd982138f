//! Every duration and date the intent can hold is bounded where it is
//! written: a value in range loads as exactly that value, one out of range is
//! one error at its line naming it (durations at most `36500d`, dates from
//! 1970-01-01 to 9999-12-31), and nothing panics.

use std::path::Path;

use bearing_intent::{Duration, LoadError, LoadOptions, Severity, load_sources};
use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

/// A valid intent with one `@` where the value under test goes, on line 3 of
/// its entry point.
const ENTRY_POINTS: [(&str, Kind); 13] = [
    ("key result window", Kind::Duration),
    ("SLO window", Kind::Duration),
    ("adaptation expression window", Kind::Duration),
    ("adaptation evaluate_after", Kind::Duration),
    ("burn-rate filter window", Kind::Duration),
    ("incident_window", Kind::Duration),
    ("security SLA", Kind::Duration),
    ("canary_analysis", Kind::Duration),
    ("vulnerabilities max_age", Kind::Duration),
    ("objective due date", Kind::Date),
    ("waiver expiry", Kind::Date),
    ("change_window blackout from", Kind::Date),
    ("change_window blackout to", Kind::Date),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Duration,
    Date,
}

/// The intent with `value` at entry point `i`, and the line it is on.
fn intent(i: usize, value: &str) -> (String, usize) {
    let pick = |j: usize, default: &str| {
        if i == j {
            value.to_string()
        } else {
            default.to_string()
        }
    };
    let text = format!(
        r#"version: 1
teams: [{{ id: payments }}]
services:
  - id: checkout
    team: payments
    delivery: {{ strategy: canary, canary_analysis: {canary} }}
    slos:
      - {{ id: availability, target: 99.9%, window: {slo}, sli: {{ good: ok, total: all }} }}
objectives:
  - id: faster
    layer: engineering
    due: {due}
    key_results:
      - {{ metric: dora.lead_time.p50, target: "<= 1d", window: {kr} }}
      - {{ metric: slo.burn_rate, scope: {{ service: checkout }}, filter: {{ slo: availability, window: {burn} }}, target: "< 14.4" }}
guardrails:
  - {{ id: g, kind: error_budget }}
  - {{ id: v, kind: vulnerabilities, params: {{ max_age: {max_age} }} }}
  - {{ id: w, kind: change_window, params: {{ blackouts: [{{ from: {bfrom}, to: {bto} }}] }} }}
waivers:
  - {{ guardrail: g, owner: alice, reason: r, expires: {expires} }}
adaptation:
  - {{ when: "dora.change_failure_rate({expr}) > 15%", then: {{ strategy: canary }}, evaluate_after: {after} }}
settings:
  incident_window: {incident}
  security_sla: {{ critical: {sla} }}
"#,
        kr = pick(0, "30d"),
        slo = pick(1, "28d"),
        expr = pick(2, "30d"),
        after = pick(3, "7d"),
        burn = pick(4, "1h"),
        incident = pick(5, "24h"),
        sla = pick(6, "15d"),
        canary = pick(7, "10m"),
        max_age = pick(8, "30d"),
        due = pick(9, "2027-03-31"),
        expires = pick(10, "2027-01-15"),
        bfrom = pick(11, "1970-01-01"),
        bto = pick(12, "9999-12-31"),
    );
    let line = [14, 8, 23, 23, 15, 25, 26, 6, 18, 12, 21, 19, 19][i];
    (text, line)
}

fn load(text: &str) -> Result<bearing_intent::Loaded, Vec<bearing_intent::Diagnostic>> {
    let opts = LoadOptions {
        today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
    };
    match load_sources(&[(Path::new("bearing.yaml").into(), text.into())], &opts) {
        Ok(l) => Ok(l),
        Err(LoadError::Invalid(d)) => Err(d),
        Err(e) => panic!("unexpected load error: {e}"),
    }
}

/// Counts near every boundary that matters, plus anything at all.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..100,
        36_490u64..36_510,
        5_210u64..5_220,
        876_590u64..876_610,
        52_559_990u64..52_560_010,
        3_153_599_990u64..3_153_600_010,
        u64::MAX - 10..=u64::MAX,
    ]
}

fn duration_text() -> impl Strategy<Value = (String, u128)> {
    (
        count(),
        proptest::sample::select(vec![
            ("s", 1u64),
            ("m", 60),
            ("h", 3_600),
            ("d", 86_400),
            ("w", 604_800),
        ]),
    )
        .prop_map(|(n, (u, mult))| (format!("{n}{u}"), u128::from(n) * u128::from(mult)))
}

/// Dates around both ends of the range and far outside it, written the way
/// `chrono` prints them (`+10000-01-01` for five-digit years).
fn date() -> impl Strategy<Value = NaiveDate> {
    let year = prop_oneof![1960i32..1980, 9990i32..10_010, -262_000i32..262_000];
    prop_oneof![
        8 => (year, 1u32..=12, 1u32..=31)
            .prop_filter_map("a real day", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        1 => Just(NaiveDate::MIN),
        1 => Just(NaiveDate::MAX),
    ]
}

fn check(i: usize, text_value: &str, in_range: bool, what: &str) -> Result<(), TestCaseError> {
    let (text, line) = intent(i, text_value);
    let name = ENTRY_POINTS[i].0;
    match load(&text) {
        Ok(_) => prop_assert!(in_range, "{name}: `{text_value}` accepted"),
        Err(diags) => {
            let errors: Vec<_> = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            prop_assert!(!in_range, "{name}: `{text_value}` refused: {errors:?}");
            // An item refused for its value can make others dangle (an SLO
            // missing from a filter); the value itself is named once, at its line.
            let quoted = format!("`{text_value}`");
            let named: Vec<_> = errors
                .iter()
                .filter(|e| e.message.contains(&quoted))
                .collect();
            prop_assert_eq!(named.len(), 1, "{}: {:?}", name, errors);
            let e = named[0];
            prop_assert_eq!(e.line, line, "{}: {}", name, e);
            prop_assert!(e.column > 1, "{}: {}", name, e);
            prop_assert!(e.message.contains(what), "{}: {}", name, e);
        }
    }
    Ok(())
}

#[test]
fn the_template_is_valid_with_the_defaults_and_with_the_extremes() {
    for (i, (name, kind)) in ENTRY_POINTS.iter().enumerate() {
        for v in match kind {
            Kind::Duration => ["1s", "36500d"],
            Kind::Date => ["1970-01-01", "9999-12-31"],
        } {
            let (text, _) = intent(i, v);
            let loaded = load(&text).unwrap_or_else(|d| panic!("{name} = {v}: {d:?}"));
            if *name == "key result window" {
                let kr = &loaded.intent.objectives[0].key_results[0];
                assert_eq!(kr.window, Some(v.parse::<Duration>().unwrap()));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_intent_duration_is_exact_or_one_located_error(
        i in 0usize..9,
        (text, secs) in duration_text(),
    ) {
        let in_range = secs <= u128::from(Duration::MAX.as_secs());
        // A zero duration is a different error (`is zero`), covered by the golden cases.
        prop_assume!(secs > 0);
        check(i, &text, in_range, "is too long; expected at most `36500d`")?;
    }

    #[test]
    fn every_intent_date_is_exact_or_one_located_error(i in 9usize..13, d in date()) {
        let text = d.format("%Y-%m-%d").to_string();
        let in_range = (1970..=9999).contains(&d.year());
        check(i, &text, in_range, "is out of range; expected a date from 1970-01-01 to 9999-12-31")?;
    }
}
