//! Golden values on a hand-checked history of `checkout` in October 2026
//! (time zone Europe/Berlin; DST ends 2026-10-25 01:00 UTC).
//!
//! Production deployments (UTC) and what linking must make of them:
//!
//! | id | time      | head | brings                               | outcome |
//! |----|-----------|------|--------------------------------------|---------|
//! | P0 | 10-19 12:00 | base0 | first deployment, commit unknown     | no lead sample |
//! | P1 | 10-20 14:00 | sqA  | squash of PR A → a1 (08:00), a2 (10:00) | leads 6h, 4h; failed: incident I3 (explicit link), restored 10-21 14:00 → 24h |
//! | P2 | 10-21 12:00 | b1   | b1 (09:00, parent sqA)               | rolled back 13:00 → failed, recovered 1h; no lead sample |
//! | P3 | 10-21 18:00 | b2   | b2 (15:00) → b1 again (P2 rolled back) | leads 3h, 9h |
//! | P4 | 10-22 12:00 | mC   | change list [c1] (08:00)             | lead 4h |
//! | P5 | 10-22 15:00 | mC   | nothing new (redeploy)               | no lead sample; failed: incident I1 by window (gap 2h → confidence 0.9 − 0.6·2/24 = 0.85), restored at I1 resolution 19:00 → 4h |
//! | P6 | 10-23 14:00 | d1   | hotfix: d1 (13:00, parent mC)        | lead 1h; rework |
//!
//! Staging has S1, S2 (must not count in production). `search` deploys at
//! 10-22 16:30, between P5 and I1: I1 must still link to P5. Incident I2
//! (10-27 12:00) has no deployment within 24 h before it: unlinked.
//!
//! At now = 10-28 00:00 UTC, window 10d (10-18 00:00, 10-28 00:00]:
//! - deployment frequency 7 / 10 d = 0.7/day (high: ≥ 1/week, < 1/day)
//! - lead samples [1, 3, 4, 4, 6, 9] h → p50 = 4h; p90: rank 0.9·5 = 4.5 → 6h + 0.5·3h = 7.5h
//! - change failure rate: P1, P2, P5 of 7 = 3/7
//! - recovery: [1h, 4h, 24h] → median 4h
//! - rework: P6 of 7 = 1/7
//! - incidents: 3; acknowledge [10m (I3), 30m (I1)] → 20m; resolve [1.5h, 2h, 3h] → 2h

use std::collections::BTreeMap;
use std::path::Path;

use bearing_events::{DecisionRecord, Event, FindingKind, IncidentStatus, Link, Severity};
use bearing_intent::{Duration, FilterValue, Intent, Scope};
use bearing_metrics::*;

use crate::fixture::*;

const INTENT: &str = r#"
version: 1
teams:
  - id: payments
  - id: discovery
services:
  - id: checkout
    team: payments
    environments: [staging, production]
    cost:
      match:
        tags: { service: checkout }
        resource_ids: ["arn:aws:rds:eu-west-1:123:db/checkout-*"]
      monthly_budget: 3000 EUR
    slos:
      - id: availability
        target: 99%
        window: 7d
        sli: { good: http_ok, total: http_total }
  - id: search
    team: discovery
    environments: [production]
    cost: { match: { tags: { service: search } } }
objectives:
  - id: faster
    layer: engineering
    owner: payments
    key_results:
      - { metric: dora.lead_time.p50, scope: { service: checkout }, target: "<= 1d", window: 10d }
      - { metric: dora.change_failure_rate, scope: { service: checkout }, target: "< 15%", window: 10d }
      - { metric: dora.deployment_frequency, scope: { team: payments }, target: ">= 5/week", window: 10d }
  - id: spend
    layer: financial
    key_results:
      - { metric: cost.monthly, scope: { service: checkout }, target: "<= 3000 EUR" }
  - id: posture
    layer: security
    key_results:
      - { metric: security.findings_past_sla, filter: { severity: [critical, high] }, target: "== 0" }
  - id: conversion
    layer: business
    key_results:
      - { metric: business.checkout_conversion, scope: { service: checkout }, target: ">= 3%", window: 30d }
settings:
  timezone: Europe/Berlin
"#;

pub fn intent() -> Intent {
    bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
        .unwrap()
        .intent
}

pub fn events() -> Vec<Event> {
    use IncidentStatus::*;
    let mut v = vec![
        change(
            "chg:A",
            "10-20 12:00",
            "checkout",
            vec![
                commit("a1", "10-20 08:00", &["base0"]),
                commit("a2", "10-20 10:00", &["a1"]),
            ],
            Some("sqA"),
            &[],
        ),
        change(
            "chg:B",
            "10-21 09:30",
            "checkout",
            vec![commit("b1", "10-21 09:00", &["sqA"])],
            None,
            &[],
        ),
        change(
            "chg:B2",
            "10-21 15:30",
            "checkout",
            vec![commit("b2", "10-21 15:00", &["b1"])],
            None,
            &[],
        ),
        change(
            "chg:C",
            "10-22 10:00",
            "checkout",
            vec![commit("c1", "10-22 08:00", &["b2"])],
            Some("mC"),
            &[],
        ),
        change(
            "chg:D",
            "10-23 13:10",
            "checkout",
            vec![commit("d1", "10-23 13:00", &["mC"])],
            None,
            &["hotfix"],
        ),
        deploy(
            "P0",
            "10-19 12:00",
            "checkout",
            "production",
            "base0",
            &[],
            &[],
        ),
        deploy("S1", "10-20 13:00", "checkout", "staging", "sqA", &[], &[]),
        deploy(
            "P1",
            "10-20 14:00",
            "checkout",
            "production",
            "sqA",
            &[],
            &[],
        ),
        deploy("S2", "10-21 11:00", "checkout", "staging", "b1", &[], &[]),
        deploy(
            "P2",
            "10-21 12:00",
            "checkout",
            "production",
            "b1",
            &[],
            &[],
        ),
        rollback("RB1", "10-21 13:00", "checkout", "P2"),
        deploy(
            "P3",
            "10-21 18:00",
            "checkout",
            "production",
            "b2",
            &[],
            &[],
        ),
        deploy(
            "P4",
            "10-22 12:00",
            "checkout",
            "production",
            "mC",
            &["c1"],
            &[],
        ),
        deploy(
            "P5",
            "10-22 15:00",
            "checkout",
            "production",
            "mC",
            &[],
            &[],
        ),
        deploy("X1", "10-22 16:30", "search", "production", "s1", &[], &[]),
        deploy(
            "P6",
            "10-23 14:00",
            "checkout",
            "production",
            "d1",
            &[],
            &["hotfix"],
        ),
        incident("I1", "open", "10-22 17:00", "checkout", Opened),
        incident("I1", "ack", "10-22 17:30", "checkout", Acknowledged),
        incident("I1", "resolve", "10-22 19:00", "checkout", Resolved),
        incident("I2", "open", "10-27 12:00", "checkout", Opened),
        incident("I2", "resolve", "10-27 15:00", "checkout", Resolved),
        incident("I3", "ack", "10-21 12:40", "checkout", Acknowledged),
        incident("I3", "resolve", "10-21 14:00", "checkout", Resolved),
        // DST: local day 10-25 runs 10-24 22:00 → 10-25 23:00 UTC (25 hours).
        cost(
            "c1",
            t("10-24 21:30"),
            10.0,
            &[("service", "checkout")],
            None,
        ), // local 10-24
        cost(
            "c2",
            t("10-24 22:30"),
            20.0,
            &[("service", "checkout")],
            None,
        ), // local 10-25 00:30
        cost(
            "c3",
            t("10-25 22:30"),
            40.0,
            &[("service", "checkout")],
            None,
        ), // local 10-25 23:30
        cost(
            "c4",
            t("10-25 23:30"),
            80.0,
            &[("service", "checkout")],
            None,
        ), // local 10-26
        cost(
            "c5",
            t("10-27 10:00"),
            5.0,
            &[],
            Some("arn:aws:rds:eu-west-1:123:db/checkout-main"),
        ),
        cost(
            "c6",
            t("10-26 10:00"),
            1000.0,
            &[("service", "search")],
            None,
        ),
        point("g1", "10-27 12:00", "checkout", "http_ok", 990.0),
        point("n1", "10-27 12:00", "checkout", "http_total", 1000.0),
        point("g2", "10-27 23:30", "checkout", "http_ok", 985.0),
        point("n2", "10-27 23:30", "checkout", "http_total", 1000.0),
    ];
    // I3 opens after P2 but links P1 explicitly: the link must win over the window.
    let mut i3 = incident("I3", "open", "10-21 12:30", "checkout", Opened);
    i3.links.push(Link {
        rel: "caused_by".into(),
        target: "P1".into(),
    });
    v.push(i3);
    // Business series: conversion around the `new-checkout` flag (10-14 00:00).
    let before = [0.030, 0.031, 0.029, 0.030, 0.032, 0.028, 0.030];
    for (i, x) in before.iter().enumerate() {
        v.push(point(
            &format!("conv-b{i}"),
            &format!("10-{:02} 12:00", 7 + i),
            "checkout",
            "checkout_conversion",
            *x,
        ));
    }
    let after = [0.036, 0.037, 0.035, 0.036, 0.038, 0.035, 0.036];
    for (i, x) in after.iter().enumerate() {
        v.push(point(
            &format!("conv-a{i}"),
            &format!("10-{:02} 12:00", 14 + i),
            "checkout",
            "checkout_conversion",
            *x,
        ));
    }
    v.push(flag("flag-on", "10-14 00:00", "checkout", "new-checkout"));
    v.push(change(
        "chg:F",
        "10-12 00:00",
        "checkout",
        vec![commit("f1", "10-10 00:00", &[])],
        None,
        &["flag:new-checkout"],
    ));
    v
}

fn findings() -> Vec<FindingRecord> {
    let f = |key: &str, sev, first: &str, fixed: Option<&str>| FindingRecord {
        key: key.into(),
        service: Some("checkout".into()),
        severity: sev,
        scanner: "trivy".into(),
        kind: FindingKind::Vulnerability,
        first_seen: t(first),
        fixed_at: fixed.map(t),
        event_ids: vec![format!("scan:{key}")],
    };
    vec![
        // 27 days old at 10-28: past the 15-day critical SLA.
        f("CVE-1|openssl|img", Severity::Critical, "10-01 00:00", None),
        // 18 days old: inside the 30-day high SLA.
        f("CVE-2|zlib|img", Severity::High, "10-10 00:00", None),
        // Fixed 10-20 after 15 days.
        f(
            "CVE-3|curl|img",
            Severity::Medium,
            "10-05 00:00",
            Some("10-20 00:00"),
        ),
    ]
}

fn decisions() -> Vec<DecisionRecord> {
    let d = |id: &str, result: &str, decision: serde_json::Value| DecisionRecord {
        id: id.into(),
        time: t("10-25 10:00"),
        service: Some("checkout".into()),
        environment: Some("production".into()),
        result: result.into(),
        input_digest: String::new(),
        policy_revision: String::new(),
        input: serde_json::Value::Null,
        decision,
    };
    vec![
        d("D1", "allow", serde_json::json!({ "violations": [] })),
        d(
            "D2",
            "deny",
            serde_json::json!({ "violations": [{ "guardrail": "vuln-sla" }] }),
        ),
        d(
            "D3",
            "allow",
            serde_json::json!({ "violations": [{ "guardrail": "vuln-sla", "waiver": { "owner": "alice" } }] }),
        ),
    ]
}

pub fn dataset(events: Vec<Event>) -> Dataset {
    Dataset::new(&intent(), events, findings(), decisions())
}

fn svc(s: &str) -> Scope {
    Scope {
        service: Some(s.into()),
        ..Scope::default()
    }
}

fn value(ds: &Dataset, metric: &str, scope: &Scope, window_days: u64, now: &str) -> MetricValue {
    evaluate(
        ds,
        metric,
        scope,
        &BTreeMap::new(),
        Duration::from_days(window_days),
        t(now),
    )
}

fn approx(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

const NOW: &str = "10-28 00:00";
const H: f64 = 3600.0;

#[test]
fn dora_metrics_match_the_hand_worked_values() {
    let ds = dataset(events());
    let c = svc("checkout");
    let f = value(&ds, "dora.deployment_frequency", &c, 10, NOW);
    approx(f.value, 0.7);
    assert_eq!(f.samples, 7);
    assert_eq!(f.level, Some(DoraLevel::High));

    let p50 = value(&ds, "dora.lead_time.p50", &c, 10, NOW);
    approx(p50.value, 4.0 * H);
    assert_eq!(p50.samples, 6);
    assert_eq!(p50.level, Some(DoraLevel::Elite));
    approx(value(&ds, "dora.lead_time", &c, 10, NOW).value, 4.0 * H);
    approx(value(&ds, "dora.lead_time.p90", &c, 10, NOW).value, 7.5 * H);

    let cfr = value(&ds, "dora.change_failure_rate", &c, 10, NOW);
    approx(cfr.value, 3.0 / 7.0);
    assert_eq!(cfr.level, Some(DoraLevel::Low));
    assert!(cfr.too_few_samples, "7 deployments < 10");

    let rec = value(&ds, "dora.recovery_time", &c, 10, NOW);
    approx(rec.value, 4.0 * H);
    assert_eq!(rec.samples, 3);
    assert_eq!(rec.level, Some(DoraLevel::High));

    approx(value(&ds, "dora.rework_rate", &c, 10, NOW).value, 1.0 / 7.0);
}

#[test]
fn staging_is_its_own_environment() {
    let ds = dataset(events());
    let staging = Scope {
        service: Some("checkout".into()),
        environment: Some("staging".into()),
        ..Scope::default()
    };
    let f = value(&ds, "dora.deployment_frequency", &staging, 10, NOW);
    approx(f.value, 0.2);
    assert_eq!(f.records, vec!["S1".to_string(), "S2".to_string()]);
    // S1 is the first staging deployment: its head sqA stands for a1 and a2
    // (13:00 − 08:00 = 5h, 13:00 − 10:00 = 3h); S2 brings b1 (11:00 − 09:00 = 2h).
    let lt = value(&ds, "dora.lead_time.p50", &staging, 10, NOW);
    approx(lt.value, 3.0 * H);
}

#[test]
fn incidents_link_explicitly_then_by_window_never_to_any_last_deploy() {
    let ds = dataset(events());
    let c = svc("checkout");
    let x = explain(&ds, "incident.count", &c, Duration::from_days(10), t(NOW));
    approx(x.value.value, 3.0);
    let role = |id: &str| {
        x.records
            .iter()
            .find(|r| r.event_id == id)
            .map(|r| (r.role.clone(), r.confidence))
            .unwrap()
    };
    assert_eq!(
        role("I3:open").0,
        "incident I3 opened; caused by deployment P1 (explicit link)"
    );
    let (r1, conf) = role("I1:open");
    assert_eq!(
        r1,
        "incident I1 opened; linked by window to deployment P5 with confidence 0.85"
    );
    assert_eq!(conf, Some(0.85));
    assert_eq!(
        role("I2:open").0,
        "incident I2 opened; no deployment linked"
    );

    let cfr = explain(
        &ds,
        "dora.change_failure_rate",
        &c,
        Duration::from_days(10),
        t(NOW),
    );
    let p2 = cfr.records.iter().find(|r| r.event_id == "P2").unwrap();
    assert_eq!(p2.role, "failed: rolled back by RB1");
    let p1 = cfr.records.iter().find(|r| r.event_id == "P1").unwrap();
    assert_eq!(p1.role, "failed: incident I3 linked by explicit link");

    approx(
        value(&ds, "incident.time_to_acknowledge", &c, 10, NOW).value,
        1200.0,
    );
    approx(
        value(&ds, "incident.time_to_resolve", &c, 10, NOW).value,
        2.0 * H,
    );
}

#[test]
fn explain_shows_lead_times_per_commit() {
    let ds = dataset(events());
    let x = explain(
        &ds,
        "dora.lead_time.p50",
        &svc("checkout"),
        Duration::from_days(10),
        t(NOW),
    );
    let roles: Vec<&str> = x.records.iter().map(|r| r.role.as_str()).collect();
    assert!(roles.contains(&"commit a1 lead time 6h"), "{roles:?}");
    assert!(roles.contains(&"commit b1 lead time 9h"), "{roles:?}");
    assert!(roles.contains(
        &"deployment, no lead-time sample: no new commits since the previous deployment"
    ));
    assert!(roles.contains(&"deployment, no lead-time sample: rolled back: its commits count at the next deployment that stays"));
}

#[test]
fn a_window_with_a_single_sample_says_so() {
    let ds = dataset(events());
    // (10-22 20:00, 10-23 20:00]: only P6, bringing d1 one hour after it was written.
    let v = value(
        &ds,
        "dora.lead_time.p50",
        &svc("checkout"),
        1,
        "10-23 20:00",
    );
    approx(v.value, H);
    assert_eq!(v.samples, 1);
    assert!(v.too_few_samples);
}

#[test]
fn cost_uses_local_days_across_the_dst_change() {
    let ds = dataset(events());
    let c = svc("checkout");
    // Last complete local day at 10-26 12:00 UTC is 10-25 (25 hours): c2 + c3.
    let daily = value(&ds, "cost.daily", &c, 30, "10-26 12:00");
    approx(daily.value, 60.0);
    assert_eq!(daily.currency.as_deref(), Some("EUR"));
    // Month to date: c1..c5 (c5 matched by resource-id prefix), not search's c6.
    approx(value(&ds, "cost.monthly", &c, 30, NOW).value, 155.0);
    // Complete days 10-24 (10), 10-25 (60), 10-26 (80), 10-27 (5) = 155; trailing
    // mean over the 4 days with data = 38.75; days left 28..31 = 4 → 155 + 155 = 310.
    approx(value(&ds, "cost.forecast", &c, 30, NOW).value, 310.0);
    approx(
        value(&ds, "cost.budget_used", &c, 30, NOW).value,
        310.0 / 3000.0,
    );
    // 155 over the 7 production deployments of the 10-day window.
    approx(
        value(&ds, "cost.per_deployment", &c, 10, NOW).value,
        155.0 / 7.0,
    );
    approx(
        value(&ds, "cost.monthly", &svc("search"), 30, NOW).value,
        1000.0,
    );
}

#[test]
fn security_and_compliance() {
    let ds = dataset(events());
    let c = svc("checkout");
    approx(value(&ds, "security.open_findings", &c, 30, NOW).value, 2.0);
    approx(
        value(&ds, "security.findings_past_sla", &c, 30, NOW).value,
        1.0,
    );
    let mut high = BTreeMap::new();
    high.insert(
        "severity".to_string(),
        FilterValue::Any(vec!["high".into()]),
    );
    let v = evaluate(
        &ds,
        "security.findings_past_sla",
        &c,
        &high,
        Duration::from_days(30),
        t(NOW),
    );
    approx(v.value, 0.0);
    approx(
        value(&ds, "security.remediation_time", &c, 10, NOW).value,
        15.0 * 86_400.0,
    );
    // D1 allowed; D2 denied; D3 allowed only through a waiver.
    approx(
        value(&ds, "security.compliance_rate", &c, 10, NOW).value,
        1.0 / 3.0,
    );
}

#[test]
fn many_decisions_in_one_second_are_counted_once_each() {
    let mut ds = dataset(events());
    let c = svc("checkout");
    let mut d = decisions()[0].clone();
    for i in 0..1000 {
        d.id = format!("bulk{i}");
        ds.push_decision(&d);
    }
    // The row's first decision again (a refresh that overlaps) is not counted twice.
    ds.push_decision(&decisions()[0]);
    let v = value(&ds, "security.compliance_rate", &c, 10, NOW);
    approx(v.value, 1001.0 / 1003.0);
    assert_eq!(v.samples, 1003);
}

#[test]
fn counts_read_again_replace_the_ones_kept() {
    let mut ds = dataset(events());
    let c = svc("checkout");
    let allowed = decisions()[0].summary();
    // A later second: the three decisions of 10:00 stay; 5 allowed are added.
    let later = allowed.time + chrono::Duration::seconds(30);
    let at_later = bearing_events::DecisionSummary {
        time: later,
        id: "L1".into(),
        ..allowed.clone()
    };
    ds.replace_decision_summaries(Some(later), &[(at_later.clone(), 5)]);
    let v = value(&ds, "security.compliance_rate", &c, 10, NOW);
    assert_eq!(v.samples, 8);
    // The store's count of that second grew to 7 (decisions stored late):
    // read again, it replaces the 5 instead of adding to them.
    ds.replace_decision_summaries(Some(later), &[(at_later, 7)]);
    let v = value(&ds, "security.compliance_rate", &c, 10, NOW);
    assert_eq!(v.samples, 10);
    approx(v.value, 8.0 / 10.0);
    // From the start: everything is replaced.
    ds.replace_decision_summaries(None, &[(allowed, 2)]);
    let v = value(&ds, "security.compliance_rate", &c, 10, NOW);
    assert_eq!(v.samples, 2);
    approx(v.value, 1.0);
}

#[test]
fn slo_budget_and_burn() {
    let ds = dataset(events());
    let c = svc("checkout");
    // 2000 total, 1975 good over 7d: attainment 0.9875; budget 20 bad, 25 spent.
    approx(value(&ds, "slo.attainment", &c, 30, NOW).value, 0.9875);
    approx(
        value(&ds, "slo.error_budget_remaining", &c, 30, NOW).value,
        -0.25,
    );
    // Last hour holds the 23:30 point: 15/1000 bad over a 1% budget = 1.5x.
    approx(value(&ds, "slo.burn_rate", &c, 30, NOW).value, 1.5);
    let alerts = burn_alerts(&ds, "checkout", t(NOW));
    assert_eq!(alerts.len(), 3);
    assert!(alerts.iter().all(|a| !a.firing || a.threshold == 1.0));
}

#[test]
fn business_release_comparison_and_time_to_value() {
    let ds = dataset(events());
    let c = svc("checkout");
    let cmp = compare_around(
        &ds,
        "business.checkout_conversion",
        &c,
        t("10-14 00:00"),
        Duration::from_days(7),
    );
    assert_eq!((cmp.before_samples, cmp.after_samples), (7, 7));
    approx(cmp.change, 0.036142857142857 - 0.03);
    assert!(cmp.significant);
    // First commit f1 10-10 00:00; three days after the flag the mean has moved
    // significantly (three points needed): 10-17 00:00 − 10-10 00:00 = 7 days.
    let mut filter = BTreeMap::new();
    filter.insert(
        "metric".to_string(),
        FilterValue::One("business.checkout_conversion".into()),
    );
    filter.insert("flag".to_string(), FilterValue::One("new-checkout".into()));
    let v = evaluate(
        &ds,
        "feature.time_to_value",
        &c,
        &filter,
        Duration::from_days(30),
        t(NOW),
    );
    approx(v.value, 7.0 * 86_400.0);
}

#[test]
fn arrival_order_does_not_matter() {
    let sorted = dataset(events());
    let mut rev = events();
    rev.reverse();
    let reversed = dataset(rev);
    let mut pushed = Dataset::new(&intent(), Vec::new(), findings(), decisions());
    let mut evs = events();
    // A fixed interleaving: odd positions first, then even.
    let odd: Vec<Event> = evs.iter().skip(1).step_by(2).cloned().collect();
    evs = evs.into_iter().step_by(2).collect();
    for e in odd.into_iter().chain(evs) {
        pushed.push(e);
    }
    let now = t(NOW);
    for metric in bearing_intent::catalog::names() {
        for ds in [&reversed, &pushed] {
            let a = evaluate(
                &sorted,
                metric,
                &svc("checkout"),
                &BTreeMap::new(),
                Duration::from_days(10),
                now,
            );
            let b = evaluate(
                ds,
                metric,
                &svc("checkout"),
                &BTreeMap::new(),
                Duration::from_days(10),
                now,
            );
            assert_eq!(a, b, "{metric}");
        }
    }
}

#[test]
fn scorecard_and_outcomes() {
    let intent = intent();
    let ds = dataset(events());
    let card = scorecard(&intent, &ds, t(NOW), ScorecardFilter::default());
    let kr = |o: &str, i: usize| {
        &card
            .objectives
            .iter()
            .find(|x| x.id == o)
            .unwrap()
            .key_results[i]
    };
    assert_eq!(kr("faster", 0).status, Status::Met); // 4h <= 1d
    assert_eq!(kr("faster", 0).display, "4h");
    assert_eq!(kr("faster", 1).status, Status::OffTrack); // 42.9% >= 15%
    // 0.7/day = 4.9/week: misses >= 5/week.
    assert_eq!(kr("faster", 2).display, "4.9/week");
    assert_eq!(kr("faster", 2).status, Status::OffTrack);
    assert_eq!(kr("spend", 0).status, Status::Met);
    assert_eq!(kr("posture", 0).status, Status::OffTrack);
    let conv = kr("conversion", 0);
    assert_eq!(conv.status, Status::Met);
    assert!(conv.release_impact.is_some());

    // Filtered to the discovery team, only the org-wide key results remain, narrowed to it.
    let team = scorecard(
        &intent,
        &ds,
        t(NOW),
        ScorecardFilter {
            team: Some("discovery".into()),
            ..ScorecardFilter::default()
        },
    );
    assert_eq!(team.objectives.len(), 1);
    assert_eq!(
        team.objectives[0].key_results[0].scope.team.as_deref(),
        Some("discovery")
    );

    let out = outcomes(&intent, &ds, t(NOW));
    let o = &out.services["checkout"];
    approx(o.change_failure_rate, 3.0 / 7.0);
    approx(o.lead_time_p50_seconds, 4.0 * H);
    approx(o.error_budget_remaining, -0.25);
    approx(o.forecast_monthly_cost, 310.0);
    approx(o.spend_vs_budget, 310.0 / 3000.0);
    assert_eq!(o.findings_past_sla.critical, 1);
    assert_eq!(o.open_findings.high, 1);
    assert_eq!(o.currency.as_deref(), Some("EUR"));
    let json = serde_json::to_value(&out).unwrap();
    for key in [
        "error_budget_remaining",
        "change_failure_rate",
        "deployment_frequency_per_day",
        "lead_time_p50_seconds",
        "monthly_cost",
        "monthly_budget",
        "forecast_monthly_cost",
        "spend_vs_budget",
        "currency",
        "findings_past_sla",
        "open_findings",
        "samples",
    ] {
        assert!(json["services"]["search"].get(key).is_some(), "{key}");
    }
}

#[test]
fn pipelines_and_cost_anomalies() {
    use bearing_events::{Payload, PipelineRun, Status as RunStatus};
    let run = |id: &str, start: &str, end: &str, status| {
        ev(
            id,
            end,
            "checkout",
            None,
            Payload::PipelineRun(PipelineRun {
                run_id: id.into(),
                pipeline: "ci".into(),
                status,
                started_at: Some(t(start)),
                finished_at: Some(t(end)),
                commit: None,
                url: None,
                queued_at: None,
                attempt: None,
                branch: None,
                job: None,
            }),
        )
    };
    let mut events = vec![
        run("r1", "10-20 10:00", "10-20 10:10", RunStatus::Success),
        run("r2", "10-21 10:00", "10-21 10:20", RunStatus::Success),
        run("r3", "10-22 10:00", "10-22 10:30", RunStatus::Failure),
        // Cancelled runs count neither way.
        run("r4", "10-23 10:00", "10-23 10:05", RunStatus::Cancelled),
    ];
    // 30 days of 100 EUR at local noon, one 300 EUR day (10-20) and one 104 EUR day
    // (10-22, inside the 5% floor around the median of 100).
    for d in 1..=27u32 {
        let amount = match d {
            20 => 300.0,
            22 => 104.0,
            _ => 100.0,
        };
        events.push(cost(
            &format!("day{d}"),
            t(&format!("10-{d:02} 10:00")),
            amount,
            &[("service", "checkout")],
            None,
        ));
    }
    let ds = Dataset::new(&intent(), events, Vec::new(), Vec::new());
    let c = svc("checkout");
    // 2 of 3 finished runs succeeded; durations [10m, 20m, 30m] → p50 20m, p90 28m.
    approx(
        value(&ds, "pipeline.success_rate", &c, 10, NOW).value,
        2.0 / 3.0,
    );
    approx(
        value(&ds, "pipeline.duration.p50", &c, 10, NOW).value,
        1200.0,
    );
    approx(
        value(&ds, "pipeline.duration.p90", &c, 10, NOW).value,
        1680.0,
    );
    // Days judged need 14 days of history: 10-15 … 10-27 in the window; only 10-20 stands out.
    let a = value(&ds, "cost.anomalies", &c, 13, NOW);
    approx(a.value, 1.0);
    assert_eq!(a.records, vec!["day20".to_string()]);
}

#[test]
fn the_restored_service_record_is_the_event_that_resolved_the_incident() {
    // GitHub-style ids sort `closed` before `opened`: the record must still be
    // the resolution, not the latest id of the incident.
    let events: Vec<Event> = events()
        .into_iter()
        .map(|mut e| {
            if e.id == "I1:resolve" {
                e.id = "I1:closed".into();
            }
            e
        })
        .collect();
    let ds = dataset(events);
    let x = explain(
        &ds,
        "dora.recovery_time",
        &svc("checkout"),
        Duration::from_days(10),
        t(NOW),
    );
    let restored: Vec<(&str, _)> = x
        .records
        .iter()
        .filter(|r| r.role == "restored service")
        .map(|r| (r.event_id.as_str(), r.time))
        .collect();
    assert!(
        restored.contains(&("I1:closed", t("10-22 19:00"))),
        "{restored:?}"
    );
    assert!(
        !restored.iter().any(|(id, _)| *id == "I1:open"),
        "{restored:?}"
    );
}

#[test]
fn a_scorecard_after_the_history_says_so_and_a_window_reaches_back() {
    let intent = intent();
    let ds = dataset(events());
    let later = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 3, 1, 0, 0, 0).unwrap();
    let card = scorecard(&intent, &ds, later, ScorecardFilter::default());
    assert_eq!(card.notes.len(), 1, "{:?}", card.notes);
    assert!(
        card.notes[0].starts_with("every event is older than the key results' windows"),
        "{}",
        card.notes[0]
    );
    assert!(card.notes[0].contains("--window"), "{}", card.notes[0]);
    let lead = |c: &Scorecard| {
        c.objectives
            .iter()
            .flat_map(|o| &o.key_results)
            .find(|k| k.metric == "dora.lead_time.p50")
            .unwrap()
            .clone()
    };
    assert_eq!(lead(&card).samples, 0);

    // One window for every key result, long enough to reach the history.
    let wide = scorecard(
        &intent,
        &ds,
        later,
        ScorecardFilter {
            window: Some(Duration::from_days(200)),
            ..ScorecardFilter::default()
        },
    );
    assert!(wide.notes.is_empty(), "{:?}", wide.notes);
    let k = lead(&wide);
    assert_eq!(k.window_seconds, 200 * 86_400);
    assert_eq!(k.samples, 6);
    approx(k.value, 4.0 * H);

    // As of the history's own time there is nothing to say.
    assert!(
        scorecard(&intent, &ds, t(NOW), ScorecardFilter::default())
            .notes
            .is_empty()
    );
}
