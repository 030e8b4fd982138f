//! The scorecard: every objective and key result of the intent, with value,
//! target, status, trend against the previous window, sample count and a
//! warning when samples are too few.
//!
//! Status rules (also in `docs/metrics.md`):
//! - `no_data`: the metric has no value for the scope and window;
//! - `off_track`: the value misses the target;
//! - `at_risk`: the value meets the target but lies within 10% of it
//!   (ordering targets `<`, `<=`, `>`, `>=` with a non-zero target), or the
//!   change since the previous window, repeated once more, would miss it;
//! - `met`: otherwise.

use std::collections::BTreeMap;

use bearing_intent::catalog;
use bearing_intent::units::{Comparator, Unit};
use bearing_intent::{Duration, FilterValue, Intent, Layer, Scope, Target};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::DEFAULT_WINDOW;
use crate::business::{Comparison, release_impact};
use crate::dataset::Dataset;
use crate::dora::DoraLevel;
use crate::engine::{evaluate_capped, evaluate_quiet, format_value};

/// Which part of the intent a scorecard covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorecardFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// One window for every key result instead of each one's own
    /// (`bearing report --window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// Where a key result stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OffTrack,
    AtRisk,
    NoData,
    Met,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::AtRisk => "at_risk",
            Status::OffTrack => "off_track",
            Status::NoData => "no_data",
        }
    }
    /// One-character symbol for text output.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Met => "✓",
            Status::AtRisk => "!",
            Status::OffTrack => "✗",
            Status::NoData => "?",
        }
    }
}

/// The value against the previous window of the same length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub previous: Option<f64>,
    pub delta: Option<f64>,
    /// `improving`, `worsening`, `flat` or `unknown`.
    pub direction: String,
}

/// One key result on the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyResultCard {
    pub metric: String,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FilterValue>,
    pub window_seconds: u64,
    /// The target as written, e.g. `<= 1d`.
    pub target: String,
    /// The target in base units.
    pub target_value: f64,
    /// The value in base units.
    pub value: Option<f64>,
    /// The value formatted like the target (`3h12m`, `4.2/week`, `12.5%`).
    pub display: String,
    pub unit: Unit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<DoraLevel>,
    pub samples: usize,
    pub too_few_samples: bool,
    pub trend: Trend,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Event ids behind the value (first 100; see `records_total`).
    pub records: Vec<String>,
    pub records_total: usize,
    /// For business metrics: the latest release in the window, compared before/after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_impact: Option<Comparison>,
}

/// One objective and its key results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveCard {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub layer: Layer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// The worst status of its key results.
    pub status: Status,
    pub key_results: Vec<KeyResultCard>,
}

/// Count of key results per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub met: usize,
    pub at_risk: usize,
    pub off_track: usize,
    pub no_data: usize,
}

/// The whole scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub generated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub filter: ScorecardFilter,
    pub summary: Summary,
    pub objectives: Vec<ObjectiveCard>,
    /// What a reader must know to read the figures, e.g. that every event
    /// is older than the key results' windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

const RECORDS_SHOWN: usize = 100;

/// Evaluates every key result of the intent (narrowed by `filter`).
pub fn scorecard(
    intent: &Intent,
    ds: &Dataset,
    now: DateTime<Utc>,
    filter: ScorecardFilter,
) -> Scorecard {
    let mut objectives = Vec::new();
    let mut summary = Summary::default();
    let mut longest = Duration::from_secs(0);
    for o in &intent.objectives {
        let mut krs = Vec::new();
        for kr in &o.key_results {
            let Some(scope) = narrow(intent, &kr.scope, &filter) else {
                continue;
            };
            let window = filter.window.or(kr.window).unwrap_or(DEFAULT_WINDOW);
            longest = longest.max(window);
            let card = key_result(ds, &kr.metric, scope, &kr.filter, &kr.target, window, now);
            match card.status {
                Status::Met => summary.met += 1,
                Status::AtRisk => summary.at_risk += 1,
                Status::OffTrack => summary.off_track += 1,
                Status::NoData => summary.no_data += 1,
            }
            krs.push(card);
        }
        if krs.is_empty() {
            continue;
        }
        let status = krs.iter().map(|k| k.status).min().unwrap_or(Status::NoData);
        objectives.push(ObjectiveCard {
            id: o.id.clone(),
            title: o.title.clone(),
            layer: o.layer,
            owner: o.owner.clone(),
            due: o.due,
            status,
            key_results: krs,
        });
    }
    let mut notes = Vec::new();
    if let Some((first, last)) = ds.event_span()
        && longest.as_secs() > 0
    {
        let from = now - longest.to_chrono();
        if last <= from {
            let days = (now - last).num_days();
            // Windows are `(at - window, at]`: the day after the last event
            // still holds it, and a window one day longer than the history's
            // age holds its first event.
            let at = last.date_naive().succ_opt().unwrap_or(last.date_naive());
            notes.push(format!(
                "every event is older than the key results' windows: the {} stored events run from {} to {}, {days} days before {}; every windowed figure is empty. Report as of that history (`--at {}`) or over a window that reaches it (`--window {}d`)",
                ds.len(),
                first.format("%Y-%m-%d"),
                last.format("%Y-%m-%d"),
                now.format("%Y-%m-%d"),
                at.format("%Y-%m-%d"),
                (now - first).num_days() + 1,
            ));
        } else if first > now {
            notes.push(format!(
                "every event is later than {}: the history starts {}",
                now.format("%Y-%m-%d"),
                first.format("%Y-%m-%d"),
            ));
        }
    }
    let unclaimed = ds.unclaimed_repos();
    if !unclaimed.is_empty() {
        let list: Vec<String> = unclaimed
            .iter()
            .map(|(r, n)| format!("{r} ({n} events)"))
            .collect();
        notes.push(format!(
            "deliveries from repositories no service claims: {}; add each to a service's `repos` (or name a service after it) to count them",
            list.join(", ")
        ));
    }
    let unplaced = ds.unplaced_deliveries();
    if !unplaced.is_empty() {
        let list: Vec<String> = unplaced
            .iter()
            .map(|(r, n)| format!("{r} ({n} events)"))
            .collect();
        notes.push(format!(
            "incidents from monorepos that name none of their services: {}; label each `service:<id>` (or ingest with `--service`) to count them",
            list.join(", ")
        ));
    }
    Scorecard {
        generated_at: now,
        organisation: intent.organisation.clone(),
        filter,
        summary,
        objectives,
        notes,
    }
}

/// The scope a key result is evaluated at under a filter, or `None` when
/// the key result is outside the filter. Org-wide key results are narrowed
/// to the filtered team or service; a team key result under a service
/// filter is narrowed to that service when the team owns it.
fn narrow(intent: &Intent, scope: &Scope, f: &ScorecardFilter) -> Option<Scope> {
    let team_of = |s: &str| intent.service(s).map(|x| x.team.as_str());
    let mut out = scope.clone();
    if let Some(svc) = &f.service {
        match (&scope.service, &scope.team) {
            (Some(s), _) if s != svc => return None,
            (Some(_), _) => {}
            (None, Some(t)) if team_of(svc) != Some(t.as_str()) => return None,
            _ => {
                out.team = None;
                out.service = Some(svc.clone());
            }
        }
    }
    if let Some(team) = &f.team {
        match (&scope.service, &scope.team) {
            (Some(s), _) => {
                if team_of(s) != Some(team.as_str()) {
                    return None;
                }
            }
            (None, Some(t)) => {
                if t != team {
                    return None;
                }
            }
            (None, None) => {
                if f.service.is_none() {
                    out.team = Some(team.clone());
                }
            }
        }
    }
    Some(out)
}

fn key_result(
    ds: &Dataset,
    metric: &str,
    scope: Scope,
    filter: &BTreeMap<String, FilterValue>,
    target: &Target,
    window: Duration,
    now: DateTime<Utc>,
) -> KeyResultCard {
    let (v, records_total) =
        evaluate_capped(ds, metric, &scope, filter, window, now, RECORDS_SHOWN);
    let before = window.before(now).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let prev = evaluate_quiet(ds, metric, &scope, filter, window, before);
    let previous = prev
        .value
        .filter(|_| prev.samples > 0 || !prev.too_few_samples);
    let status = status(target, v.value, previous);
    let lower_is_better = catalog::lookup(metric).is_some_and(|d| d.lower_is_better);
    let delta = v.value.zip(previous).map(|(a, b)| a - b);
    let direction = match delta {
        None => "unknown",
        Some(d) if d.abs() <= 1e-9 * v.value.unwrap_or(0.0).abs().max(1.0) => "flat",
        Some(d) => {
            let better_up = match target.cmp {
                Comparator::Ge | Comparator::Gt => true,
                Comparator::Le | Comparator::Lt => false,
                Comparator::Eq | Comparator::Ne => !lower_is_better,
            };
            if (d > 0.0) == better_up {
                "improving"
            } else {
                "worsening"
            }
        }
    };
    let release_impact = metric
        .starts_with(catalog::BUSINESS_PREFIX)
        .then(|| release_impact(ds, metric, &scope, window, now))
        .flatten();
    let display = v.value.map_or_else(
        || "no data".to_string(),
        |x| format_value(v.unit, x, Some(&target.value), v.currency.as_deref()),
    );
    let records = v.records;
    KeyResultCard {
        metric: metric.to_string(),
        scope,
        filter: filter.clone(),
        window_seconds: window.as_secs(),
        target: target.to_string(),
        target_value: target.value.base_value(),
        value: v.value,
        display,
        unit: v.unit,
        currency: v.currency,
        status,
        level: v.level,
        samples: v.samples,
        too_few_samples: v.too_few_samples,
        trend: Trend {
            previous,
            delta,
            direction: direction.to_string(),
        },
        note: v.note,
        records,
        records_total,
        release_impact,
    }
}

/// The status rule (see the module doc).
pub fn status(target: &Target, value: Option<f64>, previous: Option<f64>) -> Status {
    let Some(v) = value else {
        return Status::NoData;
    };
    if !target.is_met(v) {
        return Status::OffTrack;
    }
    let t = target.value.base_value();
    let ordering = !matches!(target.cmp, Comparator::Eq | Comparator::Ne);
    if ordering && t.abs() > f64::EPSILON && (v - t).abs() <= 0.1 * t.abs() {
        return Status::AtRisk;
    }
    if ordering
        && let Some(p) = previous
        && !target.is_met(v + (v - p))
    {
        return Status::AtRisk;
    }
    Status::Met
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rules() {
        let t: Target = "<= 1d".parse().unwrap();
        assert_eq!(status(&t, None, None), Status::NoData);
        assert_eq!(status(&t, Some(90_000.0), None), Status::OffTrack);
        assert_eq!(status(&t, Some(80_000.0), None), Status::AtRisk); // within 10%
        assert_eq!(status(&t, Some(40_000.0), None), Status::Met);
        // Worsening by 30k per window: next window would be 100k > 86.4k.
        assert_eq!(status(&t, Some(70_000.0), Some(40_000.0)), Status::AtRisk);
        let zero: Target = "== 0".parse().unwrap();
        assert_eq!(status(&zero, Some(0.0), Some(3.0)), Status::Met);
        assert_eq!(status(&zero, Some(2.0), None), Status::OffTrack);
    }
}
