//! The metric engine at the ends of time: events at the first and last
//! accepted instants (1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z), windows up
//! to the longest accepted duration (`36500d`), and `now` anywhere in the
//! range. Every entry point answers without panicking, and the window it
//! reports is exactly `(now - window, now]`.

use std::collections::BTreeMap;
use std::path::Path;

use bearing_events::Event;
use bearing_events::timestamp::{EARLIEST, LATEST};
use bearing_intent::{Duration, Intent, Scope};
use bearing_metrics::{
    Dataset, ScorecardFilter, burn_alerts, compare_around, evaluate, explain, outcomes, scorecard,
};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::json;

/// Every key result and SLO window is the longest accepted.
const INTENT: &str = r#"
version: 1
teams: [{ id: a }]
services:
  - id: alpha
    team: a
    environments: [staging, production]
    cost: { match: { tags: { service: alpha } }, monthly_budget: 100 EUR }
    slos: [{ id: avail, target: 99%, window: 36500d, sli: { good: ok, total: all } }]
objectives:
  - id: everything
    layer: engineering
    key_results:
      - { metric: dora.deployment_frequency, target: ">= 1/week", window: 36500d }
      - { metric: dora.lead_time.p50, target: "<= 1d", window: 36500d }
      - { metric: dora.change_failure_rate, target: "< 15%", window: 36500d }
      - { metric: dora.recovery_time, target: "<= 1d", window: 36500d }
      - { metric: cost.monthly, scope: { service: alpha }, target: "<= 100 EUR", window: 36500d }
      - { metric: cost.anomalies, scope: { service: alpha }, target: "<= 5", window: 36500d }
      - { metric: slo.attainment, scope: { service: alpha }, target: ">= 99%", window: 36500d }
      - { metric: slo.burn_rate, scope: { service: alpha }, filter: { window: 36500d }, target: "< 1" }
      - { metric: business.ok, scope: { service: alpha }, target: ">= 1", window: 36500d }
      - { metric: incident.time_to_resolve, target: "<= 4h", window: 36500d }
adaptation:
  - { when: "dora.change_failure_rate(36500d) > 15%", then: { strategy: canary }, evaluate_after: 36500d }
settings:
  incident_window: 36500d
  security_sla: { critical: 36500d, high: 36500d, medium: 36500d, low: 36500d }
"#;

fn intent() -> Intent {
    bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
        .unwrap()
        .intent
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// One event of each kind the engine reads, at `t`.
fn events_at(n: usize, t: DateTime<Utc>) -> Vec<Event> {
    let at = rfc(t);
    let docs = [
        json!({"id": format!("c{n}"), "source": "t", "time": at, "kind": "change", "service": "alpha",
            "data": {"change_id": format!("c{n}"), "merged_at": at,
                "commits": [{"sha": format!("s{n}"), "authored_at": at, "parents": []}]}}),
        json!({"id": format!("d{n}"), "source": "t", "time": at, "kind": "deployment", "service": "alpha",
            "environment": "production",
            "data": {"deployment_id": format!("d{n}"), "status": "success", "commit": format!("s{n}"),
                "started_at": at, "finished_at": at}}),
        json!({"id": format!("i{n}"), "source": "t", "time": at, "kind": "incident", "service": "alpha",
            "data": {"incident_id": format!("i{n}"), "status": "resolved", "opened_at": at, "resolved_at": at}}),
        json!({"id": format!("k{n}"), "source": "t", "time": at, "kind": "cost",
            "data": {"billed_cost": 1.0, "effective_cost": 1.0, "currency": "EUR",
                "charge_period_start": at, "charge_period_end": at, "tags": {"service": "alpha"}}}),
        json!({"id": format!("g{n}"), "source": "t", "time": at, "kind": "metric_point", "service": "alpha",
            "data": {"name": "ok", "value": 99.0}}),
        json!({"id": format!("a{n}"), "source": "t", "time": at, "kind": "metric_point", "service": "alpha",
            "data": {"name": "all", "value": 100.0}}),
        json!({"id": format!("f{n}"), "source": "t", "time": at, "kind": "feature_flag", "service": "alpha",
            "data": {"flag": "new", "enabled": true}}),
    ];
    docs.into_iter()
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

/// Instants at both ends of the range, near them, and anywhere inside.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let (lo, hi) = (EARLIEST.timestamp(), LATEST.timestamp());
    prop_oneof![
        Just(EARLIEST),
        Just(LATEST),
        (lo..lo + 86_400 * 400).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        (hi - 86_400 * 400..=hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        (lo..=hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
    ]
}

/// Windows from one second to the longest accepted, weighted to the ends.
fn window() -> impl Strategy<Value = Duration> {
    let max = Duration::MAX.as_secs();
    prop_oneof![
        Just(Duration::MAX),
        (1u64..=86_400).prop_map(Duration::from_secs),
        (max - 86_400..=max).prop_map(Duration::from_secs),
        (1u64..=max).prop_map(Duration::from_secs),
    ]
}

fn alpha() -> Scope {
    Scope {
        service: Some("alpha".into()),
        ..Scope::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_metric_answers_at_the_ends_of_time(
        times in prop::collection::vec(instant(), 0..4),
        now in instant(),
        window in window(),
    ) {
        let intent = intent();
        let mut events: Vec<Event> = Vec::new();
        for (n, t) in [EARLIEST, LATEST].into_iter().chain(times).enumerate() {
            events.extend(events_at(n, t));
        }
        let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
        for metric in bearing_intent::catalog::names().chain(["business.ok"]) {
            let v = evaluate(&ds, metric, &alpha(), &BTreeMap::new(), window, now);
            prop_assert!(v.value.is_none_or(f64::is_finite), "{}: {:?}", metric, v.value);
            let x = explain(&ds, metric, &alpha(), window, now);
            prop_assert_eq!(x.to, now);
            prop_assert_eq!(x.from, now - window.to_chrono(), "{}", metric);
        }
        let card = scorecard(&intent, &ds, now, ScorecardFilter::default());
        prop_assert_eq!(card.objectives[0].key_results.len(), 10);
        let _ = outcomes(&intent, &ds, now);
        let _ = burn_alerts(&ds, "alpha", now);
        let _ = compare_around(&ds, "business.ok", &alpha(), now, window);
    }
}

/// The records at the first and last instants are counted by the windows that
/// reach them, and only by those.
#[test]
fn the_first_and_last_instants_are_inside_the_windows_that_reach_them() {
    let intent = intent();
    let mut events = events_at(0, EARLIEST);
    events.extend(events_at(1, LATEST));
    let ds = Dataset::new(&intent, events, Vec::new(), Vec::new());
    let deploys = |window: Duration, now: DateTime<Utc>| {
        evaluate(
            &ds,
            "dora.deployment_frequency",
            &alpha(),
            &BTreeMap::new(),
            window,
            now,
        )
        .records
    };
    let second = chrono::TimeDelta::seconds(1);
    assert_eq!(deploys(Duration::MAX, LATEST), ["d1"]);
    assert_eq!(deploys(Duration::from_secs(1), LATEST), ["d1"]);
    assert_eq!(deploys(Duration::MAX, EARLIEST), ["d0"]);
    assert_eq!(deploys(Duration::MAX, EARLIEST + second), ["d0"]);
    assert!(deploys(Duration::MAX, LATEST - second).is_empty());
    let x = explain(
        &ds,
        "dora.deployment_frequency",
        &alpha(),
        Duration::MAX,
        EARLIEST,
    );
    assert_eq!(rfc(x.from), "1870-01-25T00:00:00.000000000Z");
}

/// The intent's dates and the events' times share one range, and the last
/// accepted instant is the last of the day the intent accepts.
#[test]
fn the_intent_and_the_events_accept_the_same_range() {
    assert_eq!(EARLIEST.date_naive(), bearing_intent::units::EARLIEST);
    assert_eq!(LATEST.date_naive(), bearing_intent::units::LATEST);
    let next = LATEST + chrono::TimeDelta::nanoseconds(1);
    assert_eq!(rfc(next), "+10000-01-01T00:00:00.000000000Z");
}
