//! Accepted pipeline insights, measured by reconcile, on generated
//! histories whose answers are worked out by hand here.
//!
//! Service `web`, pipeline `CI`, one job `build` on `ubuntu-latest` (0.008
//! USD/min), never queued, steps `Run npm ci` then `Build` (60 s). Ten runs a
//! week: run k of a stretch starts 16.8 h × (k + ½) after its start. Window
//! 14 days (2 weeks). Before the change (the 14 days up to T0): 20 runs,
//! `Run npm ci` takes 190 s. The insight is accepted at T0; after it (the 14
//! days from T0), 20 runs with `Run npm ci` taking `after` seconds.
//!
//! - Expected (the `uncached-install` insight): p50 190 s over 20 runs in 2
//!   weeks = 190/60 × 10 = 31.667 CI min/week, × 0.008 = 0.25333 USD/week;
//!   the same 31.667 min of waiting a week (10 runs a week).
//! - Realised, cached (`after` = 20 s): (190 − 20)/60 × 10 = 28.333 CI
//!   min/week, 0.22667 USD/week; more than 10% of the expected: improved.
//! - Nothing changed (`after` = 190 s): 0 saved: `unchanged`, flagged.
//! - Worse (`after` = 250 s): (190 − 250)/60 × 10 = −10 min/week: worsened.
//! - Job `build` before: 250 s a run, billed 5 min: 10 × 5 = 50 min/week,
//!   0.4 USD/week; cached after: 80 s, billed 2 min: 20 min/week.

use std::path::Path;

use bearing_adapt::pipeline::{self, MIN_RUNS_AFTER};
use bearing_adapt::reconcile::reconcile;
use bearing_events::*;
use bearing_intent::{Duration, Intent, Scope};
use bearing_metrics::{Dataset, pipeline_report};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

const NPM: &str = "Run npm ci";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap()
}

fn window() -> Duration {
    Duration::from_days(14)
}

fn intent() -> Intent {
    let text = "version: 1\nteams: [{ id: a }]\nservices: [{ id: web, team: a }]\n";
    bearing_intent::load_str(Path::new("bearing.yaml"), text)
        .unwrap()
        .intent
}

/// One run of `build` starting at `start`, `npm` seconds of `npm ci`.
fn run(n: usize, start: DateTime<Utc>, npm: i64) -> Event {
    let secs = chrono::Duration::seconds;
    let end = start + secs(npm + 60);
    let step = |name: &str, a: DateTime<Utc>, b: DateTime<Utc>| PipelineStep {
        name: name.into(),
        number: None,
        status: Status::Success,
        started_at: Some(a),
        finished_at: Some(b),
    };
    let mut e = Event::new(
        format!("test:job:{n}"),
        "test",
        end,
        Payload::PipelineRun(PipelineRun {
            commit: Some(format!("c{n}")),
            started_at: Some(start),
            finished_at: Some(end),
            queued_at: Some(start),
            attempt: Some(1),
            branch: Some("main".into()),
            job: Some(Box::new(PipelineJob {
                name: "build".into(),
                run: format!("{n}:1"),
                stage: None,
                needs: Vec::new(),
                runner_labels: vec!["ubuntu-latest".into()],
                runner_name: None,
                steps: vec![
                    step(NPM, start, start + secs(npm)),
                    step("Build", start + secs(npm), end),
                ],
            })),
            ..PipelineRun::new(format!("job:{n}"), "CI", Status::Success)
        }),
    );
    e.service = Some("web".into());
    e
}

/// 20 runs before T0 with a 190 s install, `after_runs` after it with `after`.
fn history(after: i64, after_runs: usize) -> Vec<Event> {
    let gap = chrono::Duration::minutes(1008); // 16.8 h: ten runs a week
    let at = |from: DateTime<Utc>, k: usize| from + gap * (2 * k as i32 + 1) / 2;
    let before = t0() - window().to_chrono();
    let mut ev: Vec<Event> = (0..20).map(|k| run(k, at(before, k), 190)).collect();
    ev.extend((0..after_runs).map(|k| run(100 + k, at(t0(), k), after)));
    ev
}

fn web() -> Scope {
    Scope {
        service: Some("web".into()),
        ..Scope::default()
    }
}

/// Accepts the install insight at T0, then reconciles at `at`.
fn accept_and_reconcile(after: i64, after_runs: usize, at: DateTime<Utc>) -> (Action, Vec<Action>) {
    let intent = intent();
    let ds = Dataset::new(&intent, history(after, after_runs), Vec::new(), Vec::new());
    let report = pipeline_report(&ds, &web(), window(), t0(), &[]);
    let insight = report
        .insights
        .iter()
        .find(|i| i.id == "uncached-install:web:CI:build:Run npm ci")
        .expect("the install insight, by its id");
    let accepted = pipeline::action(&ds, insight, window(), t0());
    let out = reconcile(
        &intent,
        &ds,
        &[],
        std::slice::from_ref(&accepted),
        at,
        false,
    );
    (accepted, out.actions)
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

fn effect(actions: &[Action]) -> Value {
    let a = actions.first().expect("the accepted change is measured");
    a.outcome.as_ref().expect("an outcome")["pipeline"].clone()
}

#[test]
fn the_accepted_change_logs_its_baseline_and_expected_saving() {
    let (a, _) = accept_and_reconcile(20, 20, t0());
    assert_eq!(a.origin, "pipelines");
    assert_eq!(a.status, ActionStatus::Applied);
    assert_eq!(a.metric, "pipeline.step.duration.p50");
    assert_eq!(a.baseline, Some(190.0));
    let e = &a.evidence;
    close(&e["expected"]["minutes_per_week"], 190.0 / 60.0 * 10.0);
    close(
        &e["expected"]["money_per_week"],
        190.0 / 60.0 * 10.0 * 0.008,
    );
    close(
        &e["expected"]["lead_time_minutes_per_week"],
        190.0 / 60.0 * 10.0,
    );
    let b = &e["before"];
    close(&b["step_p50"], 190.0);
    close(&b["job_p50"], 250.0);
    assert_eq!(b["runs"], 20);
    close(&b["job_runs_per_week"], 10.0);
    close(&b["minutes_per_week"], 50.0);
    close(&b["cost_per_week"], 0.4);
}

#[test]
fn caching_the_install_realises_the_hand_computed_saving() {
    let end = t0() + window().to_chrono();
    let (_, actions) = accept_and_reconcile(20, 20, end);
    let m = effect(&actions);
    close(&m["seconds_saved_per_run"], 170.0);
    close(&m["realised_minutes_per_week"], 170.0 / 60.0 * 10.0);
    close(&m["realised_money_per_week"], 170.0 / 60.0 * 10.0 * 0.008);
    close(
        &m["realised_lead_time_minutes_per_week"],
        170.0 / 60.0 * 10.0,
    );
    close(&m["expected_minutes_per_week"], 190.0 / 60.0 * 10.0);
    close(&m["after"]["step_p50"], 20.0);
    close(&m["after"]["minutes_per_week"], 20.0);
    assert_eq!(m["verdict"], "improved");
    assert_eq!(m["worse"], false);
    assert_eq!(m["no_saving"], false);
    let o = actions[0].outcome.as_ref().unwrap();
    close(&o["value"], 20.0);
    assert_eq!(o["verdict"], "improved");
}

#[test]
fn a_change_that_saved_nothing_is_flagged() {
    let (_, actions) = accept_and_reconcile(190, 20, t0() + window().to_chrono());
    let m = effect(&actions);
    close(&m["realised_minutes_per_week"], 0.0);
    close(&m["realised_money_per_week"], 0.0);
    assert_eq!(m["verdict"], "unchanged");
    assert_eq!(m["no_saving"], true);
}

#[test]
fn a_change_that_slowed_the_step_is_worse() {
    let (_, actions) = accept_and_reconcile(250, 20, t0() + window().to_chrono());
    let m = effect(&actions);
    close(&m["realised_minutes_per_week"], -10.0);
    assert_eq!(m["verdict"], "worsened");
    assert_eq!(m["worse"], true);
}

#[test]
fn reconcile_waits_for_a_window_and_enough_runs() {
    // A day early: the after-window would overlap the baseline's.
    let early = t0() + window().to_chrono() - chrono::Duration::days(1);
    assert!(accept_and_reconcile(20, 20, early).1.is_empty());
    // A window later but one run short of the floor: still waiting.
    let end = t0() + window().to_chrono();
    assert!(
        accept_and_reconcile(20, MIN_RUNS_AFTER - 1, end)
            .1
            .is_empty()
    );
    // With exactly the floor, measured over those runs.
    let (_, actions) = accept_and_reconcile(20, MIN_RUNS_AFTER, end);
    let m = effect(&actions);
    assert_eq!(m["runs_after"], MIN_RUNS_AFTER);
    // 5 runs in 2 weeks: 2.5 a week, 170 s saved on each.
    close(&m["realised_minutes_per_week"], 170.0 / 60.0 * 2.5);
}
