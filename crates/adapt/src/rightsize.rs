//! Rightsizing candidates: the metric engine's rightsizing rule (see
//! `bearing_metrics::rightsizing` and docs/metrics.md) per workload, with
//! the SLO hold applied per resource — a cut is held while the service's
//! error budget burns or any of its SLOs is off track (that resource keeps
//! its current request); a raise is never held.
//!
//! The hold, per service with SLOs: `slo.burn_rate` over the last hour above
//! 1 (the budget is being spent faster than it accrues), or
//! `slo.error_budget_remaining` below 25% (the threshold of the `freeze`
//! recommendation; below 0 the SLO, latency or availability, is missed).

use std::collections::BTreeMap;

use bearing_intent::{Duration, FilterValue, Scope};
use bearing_metrics::{Dataset, PodSpec, Rightsizing, evaluate, rightsizing, rightsizing_per_pod};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Error budget left below which cuts are held.
pub const HOLD_BUDGET: f64 = 0.25;

/// One workload's rightsizing and whether the SLO holds it back.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub sizing: Rightsizing,
    /// Why a cut is held, when one is: the held resources keep their
    /// current request in `sizing` (and its saving is left out).
    pub held: Option<String>,
    /// The cuts held: resource (`cpu`, `memory`) and the recommendation
    /// the hold kept back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_cuts: Vec<HeldCut>,
}

/// A cut the SLO hold kept back.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HeldCut {
    pub resource: String,
    pub recommended: f64,
}

impl Candidate {
    /// A change worth making: one that changes a request (held cuts already
    /// keep theirs).
    pub fn actionable(&self) -> bool {
        let r = &self.sizing;
        r.cpu_recommended != r.cpu_request || r.ram_recommended != r.ram_request
    }
    /// The held cuts in words (`CPU cut to 1150m held, …`); empty without.
    pub fn held_summary(&self) -> String {
        self.held_cuts
            .iter()
            .map(|h| match h.resource.as_str() {
                "cpu" => format!(
                    "CPU cut to {} held",
                    bearing_metrics::format_cpu(h.recommended)
                ),
                _ => format!(
                    "memory cut to {} held",
                    bearing_metrics::format_memory(h.recommended)
                ),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a cut of `service` would be held now, if it would.
pub fn slo_hold(ds: &Dataset, service: &str, now: DateTime<Utc>) -> Option<String> {
    let scope = Scope {
        service: Some(service.to_string()),
        ..Scope::default()
    };
    let no = BTreeMap::new();
    let value = |metric: &str, window: Duration| evaluate(ds, metric, &scope, &no, window, now);
    let budget = value("slo.error_budget_remaining", Duration::from_days(30));
    if let Some(b) = budget.value
        && b < HOLD_BUDGET
    {
        return Some(format!(
            "error budget {:.1}% left (below {:.0}%){}",
            b * 100.0,
            HOLD_BUDGET * 100.0,
            budget.note.map(|n| format!(": {n}")).unwrap_or_default()
        ));
    }
    let burn = value("slo.burn_rate", Duration::from_hours(1));
    if let Some(b) = burn.value
        && b > 1.0
    {
        return Some(format!(
            "error budget burning at {b:.2}x over the last hour"
        ));
    }
    None
}

/// The rightsizing of every workload in `scope` over `window`, largest
/// saving first, with cuts held where the SLO says so.
pub fn candidates(
    ds: &Dataset,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<Candidate> {
    candidates_per_pod(ds, scope, filter, window, now, &|_| None)
}

/// [`candidates`] sized per pod with the manifests' pod specs (see
/// [`bearing_metrics::rightsizing_per_pod`]).
pub fn candidates_per_pod(
    ds: &Dataset,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
    specs: &dyn Fn(&str) -> Option<PodSpec>,
) -> Vec<Candidate> {
    let mut holds: BTreeMap<String, Option<String>> = BTreeMap::new();
    rightsizing_per_pod(ds, scope, filter, window, now, specs)
        .into_iter()
        .map(|mut sizing| {
            let cpu_cut = sizing.cpu_recommended < sizing.cpu_request;
            let ram_cut = sizing.ram_recommended < sizing.ram_request;
            let held = if cpu_cut || ram_cut {
                holds
                    .entry(sizing.service.clone())
                    .or_insert_with(|| slo_hold(ds, &sizing.service, now))
                    .clone()
            } else {
                None
            };
            let mut held_cuts = Vec::new();
            if held.is_some() {
                if cpu_cut {
                    held_cuts.push(HeldCut {
                        resource: "cpu".into(),
                        recommended: sizing.cpu_recommended,
                    });
                    sizing.cpu_recommended = sizing.cpu_request;
                }
                if ram_cut {
                    held_cuts.push(HeldCut {
                        resource: "memory".into(),
                        recommended: sizing.ram_recommended,
                    });
                    sizing.ram_recommended = sizing.ram_request;
                }
                sizing.saving_per_month = sizing.monthly_saving();
            }
            Candidate {
                sizing,
                held,
                held_cuts,
            }
        })
        .collect()
}

/// The action-log entry for a rightsizing applied now: the metric is the
/// workload's `cost.idle`, measured again a window after (by reconcile),
/// together with the realised saving and whether the SLO held (see
/// [`effect`]). `edits` says what was changed (manifest file:line, …).
pub fn action(
    ds: &Dataset,
    c: &Candidate,
    origin: &str,
    window: Duration,
    now: DateTime<Utc>,
    edits: serde_json::Value,
) -> bearing_events::Action {
    let r = &c.sizing;
    let scope = Scope {
        service: Some(r.service.clone()),
        ..Scope::default()
    };
    let filter: BTreeMap<String, FilterValue> =
        BTreeMap::from([("workload".to_string(), FilterValue::One(r.workload.clone()))]);
    let idle = evaluate(ds, "cost.idle", &scope, &filter, window, now);
    let fmt = |cpu: f64, mem: f64| format!("{:.0}m CPU / {:.0} MiB", cpu * 1e3, mem / 1048576.0);
    bearing_events::Action {
        id: format!(
            "{origin}:{}:{}:{}",
            r.service,
            r.workload,
            now.format("%Y%m%dT%H%M%SZ")
        ),
        created_at: now,
        service: Some(r.service.clone()),
        origin: origin.to_string(),
        summary: format!(
            "{}: rightsize {} from {} to {} (expected {:.2} {} a month, {} risk)",
            r.service,
            r.workload,
            fmt(r.cpu_request, r.ram_request),
            fmt(r.cpu_recommended, r.ram_recommended),
            r.saving_per_month,
            r.currency.as_deref().unwrap_or(""),
            r.risk
        ),
        status: bearing_events::ActionStatus::Applied,
        metric: "cost.idle".into(),
        baseline: idle.value,
        evaluate_at: Some(window.after(now).unwrap_or(now)),
        outcome: None,
        evidence: serde_json::json!({
            "metric": "cost.idle",
            "scope": scope,
            "filter": filter,
            "window_seconds": window.as_secs(),
            "cmp": ">",
            "rightsizing": c,
            "idle_records": idle.records,
        }),
        change: Some(serde_json::json!({
            "kind": "apply",
            "action": "rightsize",
            "workload": r.workload,
            "requests": { "cpu": r.cpu_recommended, "memory": r.ram_recommended },
            "pods": r.pods,
            "edits": edits,
        })),
    }
}

/// What a rightsizing did, measured over `(end - window, end]`: the
/// workload's cost per hour then against the one in its evidence, as a
/// monthly saving (× 730 h) next to the expected one, and whether every SLO
/// of the service held (error budget left ≥ 0 over its window). For a
/// `scale` action, whether the SLO held. `None` for other actions.
pub fn effect(
    ds: &Dataset,
    a: &bearing_events::Action,
    window: Duration,
    end: DateTime<Utc>,
) -> Option<serde_json::Value> {
    let change = a.change.as_ref()?;
    match change.get("action").and_then(serde_json::Value::as_str) {
        Some("rightsize") => {}
        Some("scale") => return Some(slo_held(ds, a.service.as_deref(), window, end)),
        _ => return None,
    }
    let before: Candidate = serde_json::from_value(a.evidence.get("rightsizing")?.clone()).ok()?;
    let b = &before.sizing;
    let scope = Scope {
        service: Some(b.service.clone()),
        ..Scope::default()
    };
    let filter = BTreeMap::from([("workload".to_string(), FilterValue::One(b.workload.clone()))]);
    let after = rightsizing(ds, &scope, &filter, window, end);
    let after = after.iter().find(|x| x.workload == b.workload);
    let realised =
        after.map(|x| (b.cost_per_hour - x.cost_per_hour) * bearing_metrics::HOURS_PER_MONTH);
    let mut out = serde_json::json!({
        "expected_saving_per_month": b.saving_per_month,
        "realised_saving_per_month": realised,
        "cost_per_hour_before": b.cost_per_hour,
        "cost_per_hour_after": after.map(|x| x.cost_per_hour),
        "usage_rows_after": after.map_or(0, |x| x.samples),
        "currency": b.currency,
    });
    if let (Some(obj), serde_json::Value::Object(slo)) = (
        out.as_object_mut(),
        slo_held(ds, Some(&b.service), window, end),
    ) {
        obj.extend(slo);
    }
    Some(out)
}

/// Whether every SLO of `service` held over `(end - window, end]`: its
/// worst error budget left is at least 0 (null without SLOs).
fn slo_held(
    ds: &Dataset,
    service: Option<&str>,
    window: Duration,
    end: DateTime<Utc>,
) -> serde_json::Value {
    let scope = Scope {
        service: service.map(str::to_string),
        ..Scope::default()
    };
    let budget = evaluate(
        ds,
        "slo.error_budget_remaining",
        &scope,
        &BTreeMap::new(),
        window,
        end,
    );
    serde_json::json!({
        "slo_budget_remaining": budget.value,
        "slo_held": budget.value.map(|v| v >= 0.0),
    })
}
