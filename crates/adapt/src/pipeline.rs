//! Accepted pipeline insights (`bearing pipelines insights --accept`): the
//! action logged when a user takes a recommendation of
//! `bearing_metrics::pipeline_report`, with the figures it should move over
//! the window before and the expected saving, and its measured effect —
//! the same figures over a window after, the realised saving per week next
//! to the expected one, and whether the change made things worse.
//!
//! Rule (docs/adapt.md, "Accepted pipeline changes"): reconcile measures an
//! accepted insight at the first pass at least one window after it was
//! accepted whose window `(now − window, now]` holds at least
//! [`MIN_RUNS_AFTER`] runs of the job (of the pipeline when the insight names
//! no job); that window is the after-window.

use std::collections::BTreeMap;

use bearing_events::{Action, ActionStatus};
use bearing_intent::{Duration, FilterValue, Scope};
use bearing_metrics::{Dataset, Insight, evaluate, pipeline_report};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The action log's `origin` of accepted insights.
pub const ORIGIN: &str = "pipelines";

/// Runs of the job (or pipeline) the after-window needs before the effect is
/// measured: the sample floor of the p50 metrics.
pub const MIN_RUNS_AFTER: usize = 5;

/// A realised saving within this share of the expected one (either side of
/// zero) counts as no change.
pub const NO_CHANGE: f64 = 0.1;

/// A fall of the job's success rate larger than this counts as worse.
pub const SUCCESS_DROP: f64 = 0.05;

/// What an insight is about: enough to measure it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub kind: String,
    pub service: String,
    pub pipeline: String,
    pub job: Option<String>,
    pub step: Option<String>,
}

impl Target {
    pub fn of(i: &Insight) -> Self {
        Target {
            id: i.id.clone(),
            kind: i.kind.to_string(),
            service: i.service.clone(),
            pipeline: i.pipeline.clone(),
            job: i.job.clone(),
            step: i.step.clone(),
        }
    }

    fn scope(&self) -> Scope {
        Scope {
            service: Some(self.service.clone()),
            ..Scope::default()
        }
    }

    /// `pipeline`, `job` and `step` filters; `with_step` false leaves the step out.
    fn filter(&self, with_step: bool) -> BTreeMap<String, FilterValue> {
        let mut f = BTreeMap::from([(
            "pipeline".to_string(),
            FilterValue::One(self.pipeline.clone()),
        )]);
        if let Some(j) = &self.job {
            f.insert("job".into(), FilterValue::One(j.clone()));
        }
        if let (true, Some(s)) = (with_step, &self.step) {
            f.insert("step".into(), FilterValue::One(s.clone()));
        }
        f
    }

    /// The metric the insight wants lower, with its filter.
    fn metric(&self) -> (&'static str, BTreeMap<String, FilterValue>) {
        match self.kind.as_str() {
            "uncached-install" | "slow-step" => ("pipeline.step.duration.p50", self.filter(true)),
            "queueing" => ("pipeline.queue_time.p50", self.filter(false)),
            "flaky-job" | "superseded-runs" => ("pipeline.wasted_minutes", self.filter(false)),
            _ => ("pipeline.job.duration.p50", self.filter(false)),
        }
    }
}

/// The figures of an insight's pipeline, job and step over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Runs of the pipeline and its wall-time p50 (seconds).
    pub runs: usize,
    pub runs_per_week: f64,
    pub wall_p50: Option<f64>,
    /// Finished jobs of the job (of the pipeline when no job is named).
    pub job_runs: usize,
    pub job_runs_per_week: f64,
    pub job_p50: Option<f64>,
    pub queue_p50: Option<f64>,
    pub success_rate: Option<f64>,
    /// The step's p50 (seconds) and how many times it ran.
    pub step_p50: Option<f64>,
    pub step_samples: usize,
    /// Billed CI minutes, their cost (USD) and the minutes wasted, per week.
    pub minutes_per_week: f64,
    pub cost_per_week: f64,
    pub wasted_minutes_per_week: f64,
}

impl Figures {
    /// USD per billed minute (0 without minutes).
    fn price(&self) -> f64 {
        if self.minutes_per_week > 0.0 {
            self.cost_per_week / self.minutes_per_week
        } else {
            0.0
        }
    }

    /// Runs the after-window rule counts.
    fn counted_runs(&self, t: &Target) -> usize {
        if t.job.is_some() {
            self.job_runs
        } else {
            self.runs
        }
    }
}

/// The figures of `t` over `(end − window, end]`: the pipeline's runs and
/// wall time from [`pipeline_report`], the rest from the metric engine with
/// the `pipeline`/`job`/`step` filters.
pub fn figures(ds: &Dataset, t: &Target, window: Duration, end: DateTime<Utc>) -> Figures {
    let scope = t.scope();
    let weeks = window.as_secs() as f64 / (7.0 * 86_400.0);
    let report = pipeline_report(ds, &scope, window, end, &[]);
    let pipe = report.pipelines.iter().find(|p| p.pipeline == t.pipeline);
    let f = t.filter(false);
    let value = |metric: &str, f: &BTreeMap<String, FilterValue>| {
        evaluate(ds, metric, &scope, f, window, end)
    };
    let job = value("pipeline.job.duration.p50", &f);
    let step = t
        .step
        .as_ref()
        .map(|_| value("pipeline.step.duration.p50", &t.filter(true)));
    let runs = pipe.map_or(0, |p| p.runs);
    let per_week = |x: f64| x / weeks;
    Figures {
        from: report.from,
        to: report.to,
        runs,
        runs_per_week: per_week(runs as f64),
        wall_p50: pipe.and_then(|p| p.wall_p50),
        job_runs: job.samples,
        job_runs_per_week: per_week(job.samples as f64),
        job_p50: job.value,
        queue_p50: value("pipeline.queue_time.p50", &f).value,
        success_rate: value("pipeline.job.success_rate", &f).value,
        step_p50: step.as_ref().and_then(|s| s.value),
        step_samples: step.map_or(0, |s| s.samples),
        minutes_per_week: per_week(value("pipeline.minutes", &f).value.unwrap_or(0.0)),
        cost_per_week: per_week(value("pipeline.cost", &f).value.unwrap_or(0.0)),
        wasted_minutes_per_week: per_week(
            value("pipeline.wasted_minutes", &f).value.unwrap_or(0.0),
        ),
    }
}

/// The saving of `after` against `before` for an insight of `kind`:
/// (seconds saved per run, CI minutes saved per week, minutes of waiting
/// saved per week). See docs/adapt.md for the rule of each kind.
fn saving(kind: &str, before: &Figures, after: &Figures) -> (Option<f64>, f64, f64) {
    let delta = |b: Option<f64>, a: Option<f64>| Some(b? - a?);
    let lead = |s: Option<f64>| s.map_or(0.0, |s| s / 60.0 * after.runs_per_week);
    match kind {
        "uncached-install" | "slow-step" => {
            let s = delta(before.step_p50, after.step_p50);
            (
                s,
                s.map_or(0.0, |s| s / 60.0 * after.job_runs_per_week),
                lead(s),
            )
        }
        "queueing" => {
            let s = delta(before.queue_p50, after.queue_p50);
            (s, 0.0, lead(s))
        }
        "flaky-job" | "superseded-runs" => (
            None,
            before.wasted_minutes_per_week - after.wasted_minutes_per_week,
            0.0,
        ),
        // critical-path, serial-jobs: the run's wall time
        _ => {
            let s = delta(before.wall_p50, after.wall_p50);
            (s, 0.0, lead(s))
        }
    }
}

/// The action logged when a user accepts insight `i` at `now`: its figures
/// over the window before as baseline, the expected saving, and the metric
/// it should lower (measured again by reconcile, see the module docs).
pub fn action(ds: &Dataset, i: &Insight, window: Duration, now: DateTime<Utc>) -> Action {
    let t = Target::of(i);
    let before = figures(ds, &t, window, now);
    let (metric, filter) = t.metric();
    let base = evaluate(ds, metric, &t.scope(), &filter, window, now);
    Action {
        id: format!("{ORIGIN}:{}:{}", t.id, now.format("%Y%m%dT%H%M%SZ")),
        created_at: now,
        service: Some(t.service.clone()),
        origin: ORIGIN.into(),
        summary: format!(
            "{} / {}: accepted: {} (expected {:.1} CI min/week, {:.2} USD/week, {:.1} min of waiting/week)",
            t.service,
            t.pipeline,
            i.message,
            i.minutes_per_week,
            i.money_per_week,
            i.lead_time_minutes_per_week
        ),
        status: ActionStatus::Applied,
        metric: metric.into(),
        baseline: base.value,
        evaluate_at: Some(window.after(now).unwrap_or(now)),
        outcome: None,
        evidence: json!({
            "metric": metric,
            "scope": t.scope(),
            "filter": filter,
            "window_seconds": window.as_secs(),
            "cmp": ">",
            "insight": i,
            "target": t,
            "before": before,
            "expected": {
                "minutes_per_week": i.minutes_per_week,
                "money_per_week": i.money_per_week,
                "run_seconds": i.run_seconds,
                "lead_time_minutes_per_week": i.lead_time_minutes_per_week,
            },
            "records": base.records,
        }),
        change: Some(json!({ "kind": "apply", "action": "pipeline", "insight": t.id })),
    }
}

fn target(a: &Action) -> Option<Target> {
    let c = a.change.as_ref()?;
    if c.get("action")?.as_str()? != "pipeline" {
        return None;
    }
    serde_json::from_value(a.evidence.get("target")?.clone()).ok()
}

/// Whether `a` is an accepted insight.
pub fn is_pipeline(a: &Action) -> bool {
    target(a).is_some()
}

/// Whether an accepted insight still waits for runs: the window ending now
/// holds fewer than [`MIN_RUNS_AFTER`] runs of its job (or pipeline).
pub fn waiting(ds: &Dataset, a: &Action, window: Duration, now: DateTime<Utc>) -> bool {
    target(a).is_some_and(|t| figures(ds, &t, window, now).counted_runs(&t) < MIN_RUNS_AFTER)
}

/// The measured effect of an accepted insight over `(end − window, end]`:
/// the figures after next to those before, the realised saving per week
/// (CI minutes, USD, minutes of waiting) next to the expected one, and
/// `worse` with the reasons. `None` for other actions.
pub fn effect(ds: &Dataset, a: &Action, window: Duration, end: DateTime<Utc>) -> Option<Value> {
    let t = target(a)?;
    let before: Figures = serde_json::from_value(a.evidence.get("before")?.clone()).ok()?;
    let expected = a.evidence.get("expected")?;
    let exp = |k: &str| expected.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let after = figures(ds, &t, window, end);
    let (seconds, minutes, lead) = saving(&t.kind, &before, &after);
    let price = if after.minutes_per_week > 0.0 {
        after.price()
    } else {
        before.price()
    };
    // The figure the insight promised most of: CI minutes, else waiting.
    let (realised, expected_main) = if exp("minutes_per_week") > 0.0 {
        (minutes, exp("minutes_per_week"))
    } else {
        (lead, exp("lead_time_minutes_per_week"))
    };
    let tol = NO_CHANGE * expected_main.abs();
    let enough = after.counted_runs(&t) >= MIN_RUNS_AFTER;
    let verdict = if !enough {
        "unknown"
    } else if realised < -tol.max(1e-9) {
        "worsened"
    } else if realised <= tol {
        "unchanged"
    } else {
        "improved"
    };
    let mut why = Vec::new();
    if verdict == "worsened" {
        why.push(format!(
            "{realised:.1} min/week saved: the figure it should lower went up"
        ));
    }
    if let (Some(b), Some(x)) = (before.success_rate, after.success_rate)
        && x < b - SUCCESS_DROP
    {
        why.push(format!(
            "job success rate fell from {:.0}% to {:.0}%",
            100.0 * b,
            100.0 * x
        ));
    }
    Some(json!({
        "insight": t.id,
        "kind": t.kind,
        "min_runs": MIN_RUNS_AFTER,
        "runs_after": after.counted_runs(&t),
        "before": before,
        "after": after,
        "seconds_saved_per_run": seconds,
        "expected_minutes_per_week": exp("minutes_per_week"),
        "expected_money_per_week": exp("money_per_week"),
        "expected_lead_time_minutes_per_week": exp("lead_time_minutes_per_week"),
        "realised_minutes_per_week": minutes,
        "realised_money_per_week": minutes * price,
        "realised_lead_time_minutes_per_week": lead,
        "verdict": verdict,
        "no_saving": verdict == "unchanged",
        "worse": !why.is_empty(),
        "worse_because": why,
    }))
}
