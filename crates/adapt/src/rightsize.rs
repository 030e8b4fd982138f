//! Rightsizing candidates: the metric engine's rightsizing rule (see
//! `bearing_metrics::rightsizing` and docs/metrics.md) per workload, with
//! the SLO hold applied — a cut is held while the service's error budget
//! burns or any of its SLOs is off track; a raise is never held.
//!
//! The hold, per service with SLOs: `slo.burn_rate` over the last hour above
//! 1 (the budget is being spent faster than it accrues), or
//! `slo.error_budget_remaining` below 25% (the threshold of the `freeze`
//! recommendation; below 0 the SLO, latency or availability, is missed).

use std::collections::BTreeMap;

use bearing_intent::{Duration, FilterValue, Scope};
use bearing_metrics::{Dataset, Rightsizing, evaluate, rightsizing};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Error budget left below which cuts are held.
pub const HOLD_BUDGET: f64 = 0.25;

/// One workload's rightsizing and whether the SLO holds it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub sizing: Rightsizing,
    /// Why the cut is held, when it is (the requests then stay as they are).
    pub held: Option<String>,
}

impl Candidate {
    /// A change worth making: a held cut is not, nor one that changes nothing.
    pub fn actionable(&self) -> bool {
        let r = &self.sizing;
        self.held.is_none()
            && (r.cpu_recommended != r.cpu_request || r.ram_recommended != r.ram_request)
    }
}

/// Why a cut of `service` would be held now, if it would.
pub fn slo_hold(ds: &Dataset, service: &str, now: DateTime<Utc>) -> Option<String> {
    let scope = Scope {
        service: Some(service.to_string()),
        ..Scope::default()
    };
    let no = BTreeMap::new();
    let budget = evaluate(
        ds,
        "slo.error_budget_remaining",
        &scope,
        &no,
        Duration::from_days(30),
        now,
    );
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
    let burn = evaluate(
        ds,
        "slo.burn_rate",
        &scope,
        &no,
        Duration::from_hours(1),
        now,
    );
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
    let mut holds: BTreeMap<String, Option<String>> = BTreeMap::new();
    rightsizing(ds, scope, filter, window, now)
        .into_iter()
        .map(|sizing| {
            let cut = sizing.cpu_recommended < sizing.cpu_request
                || sizing.ram_recommended < sizing.ram_request;
            let held = if cut {
                holds
                    .entry(sizing.service.clone())
                    .or_insert_with(|| slo_hold(ds, &sizing.service, now))
                    .clone()
            } else {
                None
            };
            Candidate { sizing, held }
        })
        .collect()
}
