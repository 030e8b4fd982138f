//! Rightsizing recommendations on the generated utilisation history of
//! bearing-metrics' tests (answers worked out there): the cost key result
//! off target gets the workloads with the largest saving, and a service
//! whose error budget burns gets no cut.

use std::collections::BTreeMap;
use std::path::Path;

use bearing_adapt::recommend::recommend;
use bearing_adapt::rightsize::candidates;
use bearing_events::Event;
use bearing_intent::{Duration, Scope};
use bearing_metrics::Dataset;

use crate::usage_history::{GIB, MIB, day, history, slo_points, usage_row};

fn intent() -> bearing_intent::Intent {
    let text = r#"
version: 1
teams: [{ id: a }]
services:
  - id: web
    team: a
    cost: { match: { tags: { app: web } } }
    slos: [{ id: avail, target: 99%, window: 30d, sli: { good: ok, total: all } }]
  - id: billing
    team: a
    cost: { match: { tags: { app: billing } } }
objectives:
  - id: spend
    layer: business
    key_results:
      - { metric: cost.monthly, scope: { service: web }, target: "<= 1 USD", window: 30d }
"#;
    bearing_intent::load_str(Path::new("bearing.yaml"), text)
        .unwrap()
        .intent
}

fn run(good: f64) -> (Dataset, Vec<Event>) {
    let mut events = history();
    events.extend(slo_points("web", 10, good));
    let ds = Dataset::new(&intent(), events.clone(), Vec::new(), Vec::new());
    (ds, events)
}

#[test]
fn the_largest_savings_are_recommended() {
    let (ds, events) = run(1000.0);
    let recs = recommend(&intent(), &ds, &events, day(11));
    let r = recs
        .iter()
        .find(|r| r.kind == "rightsizing")
        .expect("a rightsizing recommendation");
    let top = r.evidence["top"].as_array().unwrap();
    let names: Vec<&str> = top
        .iter()
        .map(|t| t["workload"].as_str().unwrap())
        .collect();
    // api saves 730 × 0.032296875, worker 730 × 0.0322734375; the sidecar is a raise
    assert_eq!(names, ["shop/web/api", "shop/web/worker"]);
    let want = 730.0 * (0.032296875 + 0.0322734375);
    let got = r.evidence["saving_per_month"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert_eq!(top[0]["risk"], "low");
    assert_eq!(top[0]["records"].as_array().unwrap().len(), 10);
    assert!(r.evidence["held"].as_array().unwrap().is_empty());
}

#[test]
fn no_cut_while_the_error_budget_burns() {
    // 900 good of 1000 at 99%: the budget is spent ten times over
    let (ds, events) = run(900.0);
    let recs = recommend(&intent(), &ds, &events, day(11));
    assert!(recs.iter().all(|r| r.kind != "rightsizing"), "{recs:#?}");
    let scope = Scope {
        service: Some("web".into()),
        ..Scope::default()
    };
    let all = candidates(
        &ds,
        &scope,
        &BTreeMap::new(),
        Duration::from_days(30),
        day(11),
    );
    let api = all
        .iter()
        .find(|c| c.sizing.workload == "shop/web/api")
        .unwrap();
    assert!(
        api.held
            .as_deref()
            .unwrap()
            .starts_with("error budget -900.0% left"),
        "{:?}",
        api.held
    );
    assert!(!api.actionable());
    // a raise is never held
    let sidecar = all
        .iter()
        .find(|c| c.sizing.workload == "shop/web/sidecar")
        .unwrap();
    assert_eq!(sidecar.held, None);
    assert!(sidecar.actionable());
}

#[test]
fn a_raise_goes_through_while_the_cut_beside_it_is_held() {
    // CPU 2 cores requested, 0.1 used (a cut to 115m); memory 100 MiB
    // requested, 1 GiB used (a raise to 1177.6 → 1178 MiB), 0.004 per GiB-hour
    let mut events = vec![usage_row(
        "mixed",
        day(10),
        1440.0,
        "shop/web/mixed",
        (2.0, 0.1, 1.44),
        (100.0 * MIB, GIB, 0.096),
    )];
    events.extend(slo_points("web", 10, 900.0));
    let ds = Dataset::new(&intent(), events, Vec::new(), Vec::new());
    let all = candidates(
        &ds,
        &Scope::default(),
        &BTreeMap::new(),
        Duration::from_days(30),
        day(11),
    );
    let [c] = all.as_slice() else {
        panic!("{all:#?}")
    };
    assert!(c.held.as_deref().unwrap().starts_with("error budget"));
    assert_eq!(
        c.sizing.cpu_recommended, 2.0,
        "the held cut keeps the request"
    );
    assert_eq!(
        c.sizing.ram_recommended,
        1178.0 * MIB,
        "the raise goes through"
    );
    assert_eq!(c.held_cuts.len(), 1);
    assert_eq!(c.held_cuts[0].resource, "cpu");
    assert!((c.held_cuts[0].recommended - 0.115).abs() < 1e-12);
    assert_eq!(c.held_summary(), "CPU cut to 115m held");
    assert!(c.actionable());
    // the saving is the raise's alone: −730 × 1078/1024 GiB × 0.004
    let want = -730.0 * 1078.0 / 1024.0 * 0.004;
    assert!(
        (c.sizing.saving_per_month - want).abs() < 1e-9,
        "{}",
        c.sizing.saving_per_month
    );
}
