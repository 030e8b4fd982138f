//! Replicas from the demand forecast (`action: scale`): the daily mean of a
//! `business.*` demand metric over the last 56 complete UTC days is
//! forecast for today and the six days after with the anomaly detector's
//! baseline (weekly seasonality, Theil-Sen trend; [`crate::anomaly`]), and
//!
//! - `minReplicas` = ⌈highest expected demand ÷ `per_replica`⌉ (at least 1),
//! - `maxReplicas` = ⌈highest (expected + 3 × predictive scale) ÷
//!   `per_replica`⌉, at least `minReplicas`.
//!
//! While the service's SLO holds cuts back (see [`crate::rightsize::slo_hold`])
//! the manifests only take raises: a lower value leaves the current one.

use std::collections::BTreeMap;

use bearing_intent::{Duration, Scope};
use bearing_metrics::{Dataset, evaluate};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::anomaly::{Params, Point, baseline};

/// Days of demand history read.
pub const HISTORY_DAYS: u64 = 56;
/// Days forecast, today included.
pub const FORECAST_DAYS: u64 = 7;
/// Predictive scales above the expectation that `maxReplicas` covers.
pub const UPPER_SCALES: f64 = 3.0;

/// One forecast day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub date: NaiveDate,
    pub expected: f64,
    pub upper: f64,
}

/// The replicas a service needs for the coming week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalePlan {
    pub service: String,
    pub demand: String,
    pub per_replica: f64,
    pub history_days: usize,
    pub forecast: Vec<Forecast>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Why only raises are applied now (the SLO), if so.
    pub only_raise: Option<String>,
}

fn replicas(demand: f64, per_replica: f64) -> u32 {
    ((demand / per_replica - 1e-9).ceil().max(1.0)) as u32
}

/// The plan, or `None` with fewer than 21 days of demand in the history.
pub fn plan(
    ds: &Dataset,
    service: &str,
    demand: &str,
    per_replica: f64,
    now: DateTime<Utc>,
) -> Option<ScalePlan> {
    let scope = Scope {
        service: Some(service.to_string()),
        ..Scope::default()
    };
    let today = now.date_naive();
    let no = BTreeMap::new();
    let history: Vec<Point> = (1..=HISTORY_DAYS)
        .rev()
        .filter_map(|back| {
            let date = today.checked_sub_days(Days::new(back))?;
            let end =
                date.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc() - chrono::Duration::seconds(1);
            let v = evaluate(ds, demand, &scope, &no, Duration::from_days(1), end);
            v.value.map(|x| Point::new(date, x))
        })
        .collect();
    let refs: Vec<&Point> = history.iter().collect();
    let params = Params::default();
    let forecast: Vec<Forecast> = (0..FORECAST_DAYS)
        .filter_map(|ahead| {
            let date = today.checked_add_days(Days::new(ahead))?;
            let b = baseline(&refs, date, &params)?;
            Some(Forecast {
                date,
                expected: b.expected,
                upper: b.expected + UPPER_SCALES * b.scale,
            })
        })
        .collect();
    if forecast.is_empty() {
        return None;
    }
    let peak = forecast.iter().map(|f| f.expected).fold(0.0, f64::max);
    let upper = forecast.iter().map(|f| f.upper).fold(0.0, f64::max);
    let min_replicas = replicas(peak, per_replica);
    Some(ScalePlan {
        service: service.to_string(),
        demand: demand.to_string(),
        per_replica,
        history_days: history.len(),
        forecast,
        min_replicas,
        max_replicas: replicas(upper, per_replica).max(min_replicas),
        only_raise: crate::rightsize::slo_hold(ds, service, now),
    })
}
