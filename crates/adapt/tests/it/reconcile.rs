//! Reconcile on the demo organisation: the failing service goes canary, the
//! one with a spent error budget freezes, a second pass changes nothing, and
//! after the window the actions report whether their metric moved.

use std::path::Path;

use bearing_adapt::reconcile::reconcile;
use bearing_events::{Action, ActionStatus, DeliveryPlan};
use bearing_metrics::Dataset;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn merge(
    plans: &mut Vec<DeliveryPlan>,
    actions: &mut Vec<Action>,
    o: &bearing_adapt::reconcile::ReconcileOutcome,
) {
    for p in &o.plans {
        plans.retain(|x| x.service != p.service);
        plans.push(p.clone());
    }
    for a in &o.actions {
        actions.retain(|x| x.id != a.id);
        actions.push(a.clone());
    }
}

#[test]
fn demo_org_goes_canary_and_freezes_then_is_idempotent_and_measured() {
    let org = bearing_demo::generate(7, now());
    let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &org.intent_yaml)
        .unwrap()
        .intent;
    let ds = Dataset::new(&intent, org.events.clone(), Vec::new(), Vec::new());

    let first = reconcile(&intent, &ds, &[], &[], now(), false);
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let plan = |s: &str| first.plans.iter().find(|p| p.service == s).unwrap();
    assert_eq!(plan(bearing_demo::FAILING_SERVICE).strategy, "canary");
    assert!(plan(bearing_demo::BURNING_SERVICE).freeze);
    assert!(!plan(bearing_demo::FAILING_SERVICE).freeze);
    // every service gets a plan on the first pass
    assert_eq!(first.plans.len(), intent.services.len());
    let canary = first
        .actions
        .iter()
        .find(|a| a.service.as_deref() == Some(bearing_demo::FAILING_SERVICE))
        .unwrap();
    assert_eq!(canary.origin, "canary-on-failures");
    assert_eq!(canary.metric, "dora.change_failure_rate");
    assert_eq!(canary.status, ActionStatus::Applied);
    assert!(canary.baseline.unwrap() > 0.15);
    // measured after a window as long as the baseline's 30 days, never
    // over days the baseline already covered
    assert_eq!(canary.evidence["window_seconds"], 30 * 86_400);
    assert_eq!(canary.evaluate_at, Some(now() + Duration::days(30)));
    let records = canary.evidence["values"][0]["records"].as_array().unwrap();
    assert!(!records.is_empty(), "evidence lists the records");
    assert!(first.actions.iter().any(|a| a.service.as_deref()
        == Some(bearing_demo::BURNING_SERVICE)
        && a.origin == "freeze-on-spent-budget"));

    let (mut plans, mut actions) = (Vec::new(), Vec::new());
    merge(&mut plans, &mut actions, &first);

    // same data, same time: nothing changes
    let again = reconcile(&intent, &ds, &plans, &actions, now(), false);
    assert!(again.plans.is_empty(), "{:?}", again.plans);
    assert!(again.actions.is_empty(), "{:?}", again.actions);

    // a day later with nothing new: still nothing to do
    let later = reconcile(
        &intent,
        &ds,
        &plans,
        &actions,
        now() + Duration::days(1),
        false,
    );
    assert!(later.actions.iter().all(|a| a.outcome.is_some()) || later.actions.is_empty());

    // 8 days on, the after-window (now, now + 30d] is not complete: too
    // early to measure
    let early = reconcile(
        &intent,
        &ds,
        &plans,
        &actions,
        now() + Duration::days(8),
        false,
    );
    assert!(
        early
            .actions
            .iter()
            .all(|a| a.id != canary.id || a.outcome.is_none()),
        "{:?}",
        early.actions
    );

    // after the window: each action gets its measured outcome, once, over
    // disjoint before/after windows
    let at = now() + Duration::days(31);
    let measured = reconcile(&intent, &ds, &plans, &actions, at, false);
    let outcome = measured
        .actions
        .iter()
        .find(|a| a.id == canary.id)
        .and_then(|a| a.outcome.clone())
        .expect("the canary action is measured");
    assert_eq!(outcome["intended"], "decrease");
    let day = |v: &serde_json::Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let (b0, b1) = (
        day(&outcome["before_window"][0]),
        day(&outcome["before_window"][1]),
    );
    let (a0, a1) = (
        day(&outcome["after_window"][0]),
        day(&outcome["after_window"][1]),
    );
    assert_eq!((b0, b1), (now() - Duration::days(30), now()));
    assert_eq!((a0, a1), (now(), now() + Duration::days(30)));
    assert!(b1 <= a0, "windows overlap");
    assert!(outcome["verdict"].is_string());
    merge(&mut plans, &mut actions, &measured);
    let twice = reconcile(&intent, &ds, &plans, &actions, at, false);
    assert!(twice.actions.iter().all(|a| a.id != canary.id));
}

#[test]
fn demo_org_recommendations_carry_evidence() {
    let org = bearing_demo::generate(7, now());
    let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &org.intent_yaml)
        .unwrap()
        .intent;
    let ds = Dataset::new(&intent, org.events.clone(), Vec::new(), Vec::new());
    let recs = bearing_adapt::recommend::recommend(&intent, &ds, &org.events, now());
    for r in &recs {
        println!(
            "{} [{}] {} -> {} {}",
            r.objective, r.key_result, r.title, r.direction, r.moves
        );
    }
    assert!(!recs.is_empty());
    let canary = recs
        .iter()
        .find(|r| r.kind == "canary" && r.evidence["service"] == bearing_demo::FAILING_SERVICE);
    if let Some(c) = canary {
        assert!(
            !c.evidence["failed_deployments"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(c.moves, "dora.change_failure_rate");
    }
    // a recommendation for the key result's own metric goes the way its
    // target points (`>= 90%` of compliance: increase, never decrease)
    for r in recs.iter().filter(|r| r.moves == r.key_result) {
        let want = if r.target.starts_with('>') {
            "increase"
        } else if r.target.starts_with('<') {
            "decrease"
        } else {
            continue;
        };
        assert_eq!(r.direction, want, "{r:?}");
    }
    // every recommendation names the metric it should move and has evidence
    for r in &recs {
        assert!(!r.moves.is_empty());
        assert!(r.evidence.is_object(), "{r:?}");
    }
}

#[test]
fn a_compliance_key_result_below_target_is_to_be_raised() {
    let intent = bearing_intent::load_str(
        Path::new("bearing.yaml"),
        r#"
version: 1
teams: [{ id: payments }]
services: [{ id: checkout, team: payments, environments: [production] }]
objectives:
  - id: posture
    layer: security
    owner: payments
    key_results:
      - { metric: security.compliance_rate, target: ">= 90%", window: 30d }
"#,
    )
    .unwrap()
    .intent;
    let decision = |id: &str, result: &str| bearing_events::DecisionRecord {
        id: id.into(),
        time: now() - Duration::days(2),
        service: Some("checkout".into()),
        environment: Some("production".into()),
        result: result.into(),
        input_digest: String::new(),
        policy_revision: String::new(),
        input: serde_json::Value::Null,
        decision: serde_json::json!({ "violations": [] }),
    };
    let decisions = vec![
        decision("d1", "allow"),
        decision("d2", "deny"),
        decision("d3", "deny"),
    ];
    let ds = Dataset::new(&intent, Vec::new(), Vec::new(), decisions);
    let recs = bearing_adapt::recommend::recommend(&intent, &ds, &[], now());
    let r = recs
        .iter()
        .find(|r| r.key_result == "security.compliance_rate")
        .expect("a recommendation for the off-target key result");
    assert_eq!(r.moves, "security.compliance_rate");
    assert_eq!(r.direction, "increase", "{r:?}");
}
