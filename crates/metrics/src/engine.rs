//! Evaluation: from a catalog metric name, scope, filter and window to a
//! [`MetricValue`] in base units, with the records behind it.

use std::collections::BTreeMap;

use bearing_intent::units::Unit;
use bearing_intent::{Duration, FilterValue, Scope, catalog};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, NONE, Ts, to_time, ts};
use crate::dora::{DoraLevel, dora_level};
use crate::explain::TracedRecord;
use crate::{business, cost, dora, pipeline, security, slo, threat};

/// One computed figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub metric: String,
    /// In base units: seconds, a fraction, an amount, events per day, a count.
    pub value: Option<f64>,
    pub unit: Unit,
    /// How many observations the value rests on (deployments, commits, days, …).
    pub samples: usize,
    /// Fewer samples than [`min_samples`] asks for: read the value with care.
    pub too_few_samples: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<DoraLevel>,
    /// Ids of the events behind the value.
    #[serde(default)]
    pub records: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Currency of money values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The sample count below which a value is flagged as resting on too few samples.
pub fn min_samples(metric: &str) -> usize {
    match metric {
        "dora.lead_time" | "dora.lead_time.p50" | "pipeline.duration.p50" => 5,
        "dora.lead_time.p90" | "pipeline.duration.p90" => 10,
        "pipeline.queue_time.p50" | "pipeline.job.duration.p50" | "pipeline.step.duration.p50" => 5,
        "pipeline.queue_time.p90" | "pipeline.job.duration.p90" | "pipeline.step.duration.p90" => {
            10
        }
        "pipeline.job.success_rate" | "pipeline.job.flaky_rate" => 10,
        "dora.change_failure_rate" | "dora.rework_rate" | "pipeline.success_rate" => 10,
        "security.compliance_rate" => 10,
        "dora.deployment_frequency" => 1,
        "dora.recovery_time"
        | "incident.time_to_acknowledge"
        | "incident.time_to_resolve"
        | "security.remediation_time" => 3,
        "cost.forecast" | "cost.budget_used" => 3,
        "cost.anomalies" => 14,
        "cost.monthly" | "cost.daily" | "cost.per_deployment" | "cost.utilisation" => 1,
        "cost.efficiency"
        | "cost.idle"
        | "cost.savings_opportunity"
        | "cost.commitment_utilisation" => 1,
        "slo.attainment" | "slo.error_budget_remaining" | "slo.burn_rate" => 1,
        "feature.time_to_value" => 1,
        m if m.starts_with(catalog::BUSINESS_PREFIX) => 3,
        // Counts are exact: zero samples is a true zero.
        _ => 0,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceMode {
    Off,
    Ids,
    Full,
}

/// Collects the records behind a figure while it is computed.
pub(crate) struct Tracer {
    mode: TraceMode,
    ids: Vec<u32>,
    names: Vec<String>,
    pub recs: Vec<TracedRecord>,
}

/// A record reference: event, time, service, environment and optional figures.
#[derive(Clone, Copy)]
pub(crate) struct Rec {
    pub ev: u32,
    pub time: Ts,
    pub svc: u32,
    pub env: u32,
    pub value: Option<f64>,
    pub confidence: Option<f64>,
}

impl Tracer {
    pub fn new(mode: TraceMode) -> Self {
        Tracer {
            mode,
            ids: Vec::new(),
            names: Vec::new(),
            recs: Vec::new(),
        }
    }
    pub fn is_full(&self) -> bool {
        self.mode == TraceMode::Full
    }
    pub fn add(&mut self, ds: &Dataset, r: Rec, role: impl FnOnce() -> String) {
        if r.ev == NONE {
            return;
        }
        match self.mode {
            TraceMode::Off => {}
            TraceMode::Ids => self.ids.push(r.ev),
            TraceMode::Full => {
                self.ids.push(r.ev);
                self.recs.push(TracedRecord {
                    event_id: ds.id(r.ev).to_string(),
                    kind: ds.kind_name(r.ev).to_string(),
                    time: to_time(r.time),
                    service: (r.svc != NONE).then(|| ds.svc_name(r.svc).to_string()),
                    environment: ds.env_name(r.env).map(str::to_string),
                    role: role(),
                    value: r.value,
                    confidence: r.confidence,
                });
            }
        }
    }
    /// Record ids, deduplicated: the `cap` first in id order, and the total.
    pub(crate) fn id_strings_capped(&self, ds: &Dataset, cap: usize) -> (Vec<String>, usize) {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let mut names = self.names.clone();
        names.sort();
        names.dedup();
        let total = ids.len() + names.len();
        if ids.len() > cap {
            ids.select_nth_unstable_by(cap, |a, b| ds.id(*a).cmp(ds.id(*b)));
            ids.truncate(cap);
        }
        let mut out: Vec<String> = ids.iter().map(|&i| ds.id(i).to_string()).collect();
        out.extend(names.into_iter().take(cap));
        out.sort();
        out.truncate(cap);
        (out, total)
    }
    /// Adds an event id to the record list without a traced role.
    pub fn add_id(&mut self, _ds: &Dataset, ev: u32) {
        if self.mode != TraceMode::Off && ev != NONE {
            self.ids.push(ev);
        }
    }
    /// Adds a record that is not an event (a decision), by its own id.
    pub fn add_named(&mut self, id: &str, rec: impl FnOnce() -> TracedRecord) {
        match self.mode {
            TraceMode::Off => {}
            TraceMode::Ids => self.names.push(id.to_string()),
            TraceMode::Full => {
                self.names.push(id.to_string());
                self.recs.push(rec());
            }
        }
    }
    /// Adds a traced record that is not an event (a finding lifecycle).
    pub fn add_other(&mut self, rec: impl FnOnce() -> TracedRecord) {
        if self.mode == TraceMode::Full {
            self.recs.push(rec());
        }
    }
    pub(crate) fn id_strings(&self, ds: &Dataset) -> Vec<String> {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let mut out: Vec<String> = ids.iter().map(|&i| ds.id(i).to_string()).collect();
        out.extend(self.names.iter().cloned());
        out.sort();
        out.dedup();
        out
    }
}

/// Everything a metric computation needs.
pub(crate) struct Ctx<'a> {
    pub ds: &'a Dataset,
    pub metric: &'a str,
    pub scope: &'a Scope,
    pub filter: &'a BTreeMap<String, FilterValue>,
    pub from: Ts,
    pub to: Ts,
    pub tr: &'a mut Tracer,
}

impl<'a> Ctx<'a> {
    pub fn value(&self, value: Option<f64>, samples: usize) -> MetricValue {
        MetricValue {
            metric: self.metric.to_string(),
            value,
            unit: unit_of(self.metric),
            samples,
            too_few_samples: false,
            level: None,
            records: Vec::new(),
            note: None,
            currency: None,
        }
    }
    /// Values of a filter key, if set.
    pub fn filter_values(&self, key: &str) -> Option<Vec<&'a str>> {
        let f: &'a BTreeMap<String, FilterValue> = self.filter;
        f.get(key).map(FilterValue::values)
    }
}

fn unit_of(metric: &str) -> Unit {
    catalog::lookup(metric).map_or(Unit::Count, |d| d.unit)
}

/// Computes one metric for a scope over `(now - window, now]`.
pub fn evaluate(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> MetricValue {
    let mut tr = Tracer::new(TraceMode::Ids);
    let mut v = compute(ds, metric, scope, filter, window, now, &mut tr);
    v.records = tr.id_strings(ds);
    v
}

/// The anomalous days behind `cost.anomalies` for a scope over
/// `(now - window, now]`: the same series, baseline and threshold as the
/// metric, one record per anomalous day.
pub fn cost_anomalies(
    ds: &Dataset,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<crate::cost::CostAnomaly> {
    let to = ts(now);
    let from = to.saturating_sub(window.as_secs_i64().max(1));
    let mut tr = Tracer::new(TraceMode::Off);
    let mut ctx = Ctx {
        ds,
        metric: "cost.anomalies",
        scope,
        filter,
        from,
        to,
        tr: &mut tr,
    };
    crate::cost::anomaly_records(&mut ctx)
}

/// Like [`evaluate`] keeping only the first `cap` record ids (in id order)
/// and their total count.
pub(crate) fn evaluate_capped(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
    cap: usize,
) -> (MetricValue, usize) {
    let mut tr = Tracer::new(TraceMode::Ids);
    let mut v = compute(ds, metric, scope, filter, window, now, &mut tr);
    let (records, total) = tr.id_strings_capped(ds, cap);
    v.records = records;
    (v, total)
}

/// Like [`evaluate`] without collecting record ids (hot paths).
pub(crate) fn evaluate_quiet(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> MetricValue {
    compute(
        ds,
        metric,
        scope,
        filter,
        window,
        now,
        &mut Tracer::new(TraceMode::Off),
    )
}

pub(crate) fn compute(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
    tr: &mut Tracer,
) -> MetricValue {
    let to = ts(now);
    let from = to.saturating_sub(window.as_secs_i64().max(1));
    let mut ctx = Ctx {
        ds,
        metric,
        scope,
        filter,
        from,
        to,
        tr,
    };
    let mut v = match metric {
        "dora.deployment_frequency" => dora::deployment_frequency(&mut ctx),
        "dora.lead_time" | "dora.lead_time.p50" => dora::lead_time(&mut ctx, 0.5),
        "dora.lead_time.p90" => dora::lead_time(&mut ctx, 0.9),
        "dora.change_failure_rate" => dora::change_failure_rate(&mut ctx),
        "dora.recovery_time" => dora::recovery_time(&mut ctx),
        "dora.rework_rate" => dora::rework_rate(&mut ctx),
        "pipeline.success_rate" => security::pipeline_success(&mut ctx),
        "pipeline.duration.p50" => security::pipeline_duration(&mut ctx, 0.5),
        "pipeline.duration.p90" => security::pipeline_duration(&mut ctx, 0.9),
        "pipeline.queue_time.p50" => pipeline::queue_time(&mut ctx, 0.5),
        "pipeline.queue_time.p90" => pipeline::queue_time(&mut ctx, 0.9),
        "pipeline.job.duration.p50" => pipeline::job_duration(&mut ctx, 0.5),
        "pipeline.job.duration.p90" => pipeline::job_duration(&mut ctx, 0.9),
        "pipeline.step.duration.p50" => pipeline::step_duration(&mut ctx, 0.5),
        "pipeline.step.duration.p90" => pipeline::step_duration(&mut ctx, 0.9),
        "pipeline.job.success_rate" => pipeline::job_success(&mut ctx),
        "pipeline.job.flaky_rate" => pipeline::flaky_rate(&mut ctx),
        "pipeline.minutes" => pipeline::minutes(&mut ctx, false),
        "pipeline.cost" => pipeline::minutes(&mut ctx, true),
        "pipeline.wasted_minutes" => pipeline::wasted(&mut ctx),
        "cost.monthly" => cost::monthly(&mut ctx),
        "cost.daily" => cost::daily(&mut ctx),
        "cost.forecast" => cost::forecast(&mut ctx),
        "cost.budget_used" => cost::budget_used(&mut ctx),
        "cost.per_deployment" => cost::per_deployment(&mut ctx),
        "cost.utilisation" => cost::utilisation(&mut ctx),
        "cost.anomalies" => cost::anomalies(&mut ctx),
        "cost.efficiency" => crate::rightsize::efficiency(&mut ctx),
        "cost.idle" => crate::rightsize::idle(&mut ctx),
        "cost.savings_opportunity" => crate::rightsize::savings(&mut ctx),
        "cost.commitment_utilisation" => crate::rightsize::commitment_utilisation(&mut ctx),
        "security.open_findings" => security::open_findings(&mut ctx, false),
        "security.findings_past_sla" => security::open_findings(&mut ctx, true),
        "security.remediation_time" => security::remediation_time(&mut ctx),
        "security.kev_open" => threat::threat_metric(&mut ctx, threat::ThreatMetric::KevOpen),
        "security.kev_past_due" => {
            threat::threat_metric(&mut ctx, threat::ThreatMetric::KevPastDue)
        }
        "security.epss_weighted_exposure" => {
            threat::threat_metric(&mut ctx, threat::ThreatMetric::EpssExposure)
        }
        "security.compliance_rate" => security::compliance_rate(&mut ctx),
        "incident.time_to_acknowledge" => security::incident_time(&mut ctx, true),
        "incident.time_to_resolve" => security::incident_time(&mut ctx, false),
        "incident.count" => security::incident_count(&mut ctx),
        "slo.attainment" => slo::attainment(&mut ctx),
        "slo.error_budget_remaining" => slo::budget_remaining(&mut ctx),
        "slo.burn_rate" => slo::burn_rate(&mut ctx),
        "feature.time_to_value" => business::time_to_value(&mut ctx),
        m if m.starts_with(catalog::BUSINESS_PREFIX) => business::series_mean(&mut ctx),
        other => {
            let mut v = ctx.value(None, 0);
            v.note = Some(format!(
                "unknown metric `{other}`: expected a name from `bearing metrics`"
            ));
            v
        }
    };
    if let Some(x) = v.value {
        v.level = dora_level(metric, x);
    }
    v.too_few_samples = v.samples < min_samples(metric);
    v
}

/// A value in base units as people read it, shaped like the target when
/// one is given: `3h12m`, `4.2/week`, `12.5%`, `10250 USD`, `2.1x`.
pub fn format_value(
    unit: Unit,
    v: f64,
    target: Option<&bearing_intent::Quantity>,
    currency: Option<&str>,
) -> String {
    use bearing_intent::Quantity;
    match (target, unit) {
        (Some(Quantity::Rate(r)), _) => format!("{:.1}/{}", v * r.per.days(), r.per.name()),
        (Some(Quantity::Percent(_)), _) | (_, Unit::Percent) => format!("{:.1}%", v * 100.0),
        (Some(Quantity::Duration(_)), _) | (_, Unit::Duration) => fmt_secs(v),
        (Some(Quantity::Money(m)), _) => format!("{v:.0} {}", currency.unwrap_or(&m.currency)),
        (_, Unit::Money) => format!("{v:.0} {}", currency.unwrap_or(""))
            .trim_end()
            .to_string(),
        (_, Unit::Rate) => format!("{v:.2}/day"),
        (_, Unit::Ratio) => format!("{v:.2}x"),
        (_, Unit::Count) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        (_, Unit::Count) => format!("{v:.3}"),
    }
}

/// `3h12m`, `2d4h`, `45s`: the two largest units of a duration in seconds.
pub fn fmt_secs(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s == 0 {
        return "0s".into();
    }
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut out = String::new();
    let mut rest = s;
    let mut parts = 0;
    for (u, m) in units {
        if rest >= m && parts < 2 {
            out.push_str(&format!("{}{u}", rest / m));
            rest %= m;
            parts += 1;
        } else if parts > 0 {
            parts += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_compactly() {
        assert_eq!(fmt_secs(11_520.0), "3h12m");
        assert_eq!(fmt_secs(45.0), "45s");
        assert_eq!(fmt_secs(86_400.0 * 2.0 + 3_600.0 * 4.0), "2d4h");
        assert_eq!(fmt_secs(86_400.0 + 30.0), "1d");
    }
}
