//! `explain`: a figure together with every record behind it and the role
//! each played (deployment counted, commit lead time, incident linked by
//! explicit link or by window with a confidence, …).

use std::collections::BTreeMap;

use bearing_intent::{Duration, FilterValue, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::engine::{MetricValue, TraceMode, Tracer, compute};

/// One record behind a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracedRecord {
    /// Event id (or decision id, finding key for records that are not events).
    pub event_id: String,
    pub kind: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// What the record contributed, in words.
    pub role: String,
    /// The record's own figure (a lead time in seconds, an amount), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Confidence of an inferred link (incident → deployment by window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// A figure and the records behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub metric: String,
    pub scope: Scope,
    pub window_seconds: u64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub value: MetricValue,
    pub records: Vec<TracedRecord>,
}

/// Computes a metric and lists the records behind it, oldest first.
pub fn explain(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    window: Duration,
    now: DateTime<Utc>,
) -> Explanation {
    explain_with(ds, metric, scope, &BTreeMap::new(), window, now)
}

/// [`explain`] with key-result filters (`severity`, `slo`, `pipeline`, …).
pub fn explain_with(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> Explanation {
    let mut tr = Tracer::new(TraceMode::Full);
    let mut value = compute(ds, metric, scope, filter, window, now, &mut tr);
    value.records = tr.id_strings(ds);
    let mut records = std::mem::take(&mut tr.recs);
    records.sort_by(|a, b| (a.time, &a.event_id).cmp(&(b.time, &b.event_id)));
    Explanation {
        metric: metric.to_string(),
        scope: scope.clone(),
        window_seconds: window.as_secs(),
        from: window.before(now).unwrap_or(DateTime::<Utc>::MIN_UTC),
        to: now,
        value,
        records,
    }
}
