//! Business metrics: any ingested metric-point series (`business.<name>`),
//! before/after comparison around a release (a deployment or a feature-flag
//! change) with Welch's t-test, and feature time to value.

use bearing_intent::{Duration, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, NONE, Ts, to_time, ts};
use crate::engine::{Ctx, MetricValue, Rec, fmt_secs};
use crate::stats::{Welch, mean, welch};

/// The series id a `business.<name>` metric reads: the full name if ingested, else `<name>`.
fn series_id(ds: &Dataset, metric: &str) -> Option<u32> {
    ds.names.get(metric).or_else(|| {
        metric
            .strip_prefix(bearing_intent::catalog::BUSINESS_PREFIX)
            .and_then(|n| ds.names.get(n))
    })
}

/// Values of a series for a scope in `(from, to]`, with their events.
fn values(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    dims: Option<&[&str]>,
    from: Ts,
    to: Ts,
) -> Vec<(Ts, f64, u32, u32)> {
    let Some(id) = series_id(ds, metric) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in ds.services_in(scope) {
        let Some(series) = ds.data[s as usize].series.get(&id) else {
            continue;
        };
        for p in &series.pts[series.range(from, to)] {
            if let Some(want) = dims {
                let have = if p.dims == NONE {
                    ""
                } else {
                    ds.dims.name(p.dims)
                };
                if !want.iter().all(|w| have.split('\u{1f}').any(|kv| kv == *w)) {
                    continue;
                }
            }
            out.push((p.time, p.value, p.ev, s));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| ds.id(a.2).cmp(ds.id(b.2))));
    out
}

pub(crate) fn series_mean(ctx: &mut Ctx<'_>) -> MetricValue {
    let dims = ctx.filter_values("dimension");
    let vals = values(
        ctx.ds,
        ctx.metric,
        ctx.scope,
        dims.as_deref(),
        ctx.from,
        ctx.to,
    );
    let xs: Vec<f64> = vals.iter().map(|v| v.1).collect();
    for &(time, value, ev, svc) in &vals {
        let rec = Rec {
            ev,
            time,
            svc,
            env: NONE,
            value: Some(value),
            confidence: None,
        };
        ctx.tr.add(ctx.ds, rec, || "series point averaged".into());
    }
    let mut v = ctx.value(mean(&xs), xs.len());
    if series_id(ctx.ds, ctx.metric).is_none() {
        v.note = Some("no metric points with this name".into());
    }
    v
}

/// Before/after comparison of a series around one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub metric: String,
    pub at: DateTime<Utc>,
    /// The release event compared around, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub span_seconds: i64,
    pub before_mean: Option<f64>,
    pub after_mean: Option<f64>,
    pub before_samples: usize,
    pub after_samples: usize,
    /// `after_mean - before_mean`.
    pub change: Option<f64>,
    /// `change / |before_mean|`.
    pub relative_change: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welch: Option<Welch>,
    /// The change stands out from the noise (Welch's t, two-sided 5%).
    pub significant: bool,
}

/// Compares a series over `(at - span, at]` against `(at, at + span]`.
pub fn compare_around(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    at: DateTime<Utc>,
    span: Duration,
) -> Comparison {
    let t = ts(at);
    let span = span.as_secs_i64();
    let before: Vec<f64> = values(ds, metric, scope, None, t.saturating_sub(span), t)
        .iter()
        .map(|v| v.1)
        .collect();
    let after: Vec<f64> = values(ds, metric, scope, None, t, t.saturating_add(span))
        .iter()
        .map(|v| v.1)
        .collect();
    let (bm, am) = (mean(&before), mean(&after));
    let change = bm.zip(am).map(|(b, a)| a - b);
    let w = welch(&before, &after);
    Comparison {
        metric: metric.to_string(),
        at,
        release: None,
        span_seconds: span,
        before_mean: bm,
        after_mean: am,
        before_samples: before.len(),
        after_samples: after.len(),
        change,
        relative_change: change
            .zip(bm)
            .and_then(|(c, b)| (b.abs() > f64::EPSILON).then(|| c / b.abs())),
        significant: w.is_some_and(|w| w.significant),
        welch: w,
    }
}

/// The latest release of a scope in `(from, to]`: a successful production
/// deployment or a feature-flag change.
pub(crate) fn latest_release(ctx: &Ctx<'_>, from: Ts, to: Ts) -> Option<(Ts, u32)> {
    let ds = ctx.ds;
    let mut best = crate::dora::deploy_times(ctx, from, to).last().copied();
    for s in ds.services_in(ctx.scope) {
        let flags = &ds.data[s as usize].flags;
        let a = flags.partition_point(|f| f.time <= from);
        let b = flags.partition_point(|f| f.time <= to);
        if let Some(f) = flags[a..b.max(a)].last()
            && best.is_none_or(|(t, _)| f.time > t)
        {
            best = Some((f.time, f.ev));
        }
    }
    best
}

/// Release comparison for a business key result (latest release in the window).
pub(crate) fn release_impact(
    ds: &Dataset,
    metric: &str,
    scope: &Scope,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<Comparison> {
    let filter = Default::default();
    let mut tr = crate::engine::Tracer::new(crate::engine::TraceMode::Off);
    let to = ts(now);
    let from = to.saturating_sub(window.as_secs_i64());
    let ctx = Ctx {
        ds,
        metric,
        scope,
        filter: &filter,
        from,
        to,
        tr: &mut tr,
    };
    let (at, ev) = latest_release(&ctx, from, to)?;
    let span = Duration::from_secs((to - at).clamp(3_600, 7 * 86_400) as u64);
    let mut c = compare_around(ds, metric, scope, to_time(at), span);
    c.release = Some(ds.id(ev).to_string());
    Some(c)
}

const DAY: Ts = 86_400;

/// Time from a feature's first commit to the first day its business metric
/// differs significantly from the 14 days before the flag was turned on.
pub(crate) fn time_to_value(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let Some(metric) = ctx
        .filter_values("metric")
        .and_then(|m| m.first().map(|x| x.to_string()))
    else {
        let mut v = ctx.value(None, 0);
        v.note = Some("set filter `metric` to the business series the feature should move".into());
        return v;
    };
    let flags = ctx.filter_values("flag");
    // First enable of the flag (or of the latest enabled flag) in the scope.
    let mut release: Option<(Ts, u32, u32)> = None;
    for s in ds.services_in(ctx.scope) {
        for f in &ds.data[s as usize].flags {
            if !f.enabled || f.time > ctx.to {
                continue;
            }
            let name = ds.names.name(f.flag);
            if flags.as_ref().is_some_and(|w| !w.contains(&name)) {
                continue;
            }
            let better = match release {
                None => true,
                Some((t, _, fl)) if flags.is_some() || fl == f.flag => f.time < t,
                Some((t, _, _)) => f.time > t,
            };
            if better {
                release = Some((f.time, f.ev, f.flag));
            }
        }
    }
    let Some((at, ev, flag)) = release else {
        let mut v = ctx.value(None, 0);
        v.note = Some("no feature flag was turned on in this scope".into());
        return v;
    };
    let first_commit = ds.label_first_commit.get(&flag).copied();
    let start = first_commit.map_or(at, |(t, _)| t.min(at));
    let before: Vec<f64> = values(ds, &metric, ctx.scope, None, at - 14 * DAY, at)
        .iter()
        .map(|v| v.1)
        .collect();
    let flag_rec = Rec {
        ev,
        time: at,
        svc: NONE,
        env: NONE,
        value: None,
        confidence: None,
    };
    ctx.tr
        .add(ds, flag_rec, || "feature flag turned on (release)".into());
    if let Some((t, cev)) = first_commit {
        let rec = Rec {
            ev: cev,
            time: t,
            svc: NONE,
            env: NONE,
            value: None,
            confidence: None,
        };
        ctx.tr.add(ds, rec, || {
            "change carrying the feature's first commit".into()
        });
    }
    for d in 1..=30 {
        let end = (at + d * DAY).min(ctx.to);
        let after: Vec<f64> = values(ds, &metric, ctx.scope, None, at, end)
            .iter()
            .map(|v| v.1)
            .collect();
        if after.len() >= 3 && welch(&before, &after).is_some_and(|w| w.significant) {
            let secs = (end - start) as f64;
            let mut v = ctx.value(Some(secs), after.len() + before.len());
            v.note = Some(format!(
                "`{metric}` moved significantly {} after the release",
                fmt_secs((end - at) as f64)
            ));
            if first_commit.is_none() {
                v.note = Some(
                    "no change labelled with the flag: measured from the release, not the first commit"
                        .into(),
                );
            }
            return v;
        }
        if end >= ctx.to {
            break;
        }
    }
    let mut v = ctx.value(None, before.len());
    v.note = Some(format!(
        "`{metric}` has not moved significantly since the release"
    ));
    v
}
