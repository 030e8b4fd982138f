//! Business metrics: any ingested metric-point series (`business.<name>`),
//! before/after comparison around the release that carries a feature (a flag
//! turned on, or a deployment labelled as a feature) with the two-sided
//! Mann-Whitney U test the canary judge uses, and feature time to value.

use bearing_intent::{Duration, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, NONE, Ts, to_time, ts};
use crate::engine::{Ctx, MetricValue, Rec, fmt_secs};
use crate::stats::{MannWhitney, Method, Welch, mann_whitney_u, mean, welch};

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
    /// What the release is: `flag one-click-checkout on`, `deployment v42 (feature x)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    pub span_seconds: i64,
    /// The before window `(at - span, at]` and the after window `(at, at + span]`.
    pub before_window: [DateTime<Utc>; 2],
    pub after_window: [DateTime<Utc>; 2],
    pub before_mean: Option<f64>,
    pub after_mean: Option<f64>,
    pub before_samples: usize,
    pub after_samples: usize,
    /// `after_mean - before_mean`.
    pub change: Option<f64>,
    /// `change / |before_mean|`.
    pub relative_change: Option<f64>,
    /// Two-sided Mann-Whitney U of after against before (the canary
    /// judge's test: exact for small samples without ties, else normal
    /// approximation with tie and continuity correction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mann_whitney: Option<MannWhitney>,
    /// Welch's t-test on the same samples, for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welch: Option<Welch>,
    /// The change stands out from the noise (Mann-Whitney p < 0.05).
    pub significant: bool,
}

/// Significance level of the release comparison.
pub const ALPHA: f64 = 0.05;

/// The release comparison's test: the canary judge's Mann-Whitney U.
fn mann_whitney(before: &[f64], after: &[f64]) -> Option<MannWhitney> {
    mann_whitney_u(after, before, Method::Auto, true)
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
    let mw = mann_whitney(&before, &after);
    Comparison {
        metric: metric.to_string(),
        at,
        release: None,
        release_name: None,
        span_seconds: span,
        before_window: [to_time(t - span), at],
        after_window: [at, to_time(t + span)],
        before_mean: bm,
        after_mean: am,
        before_samples: before.len(),
        after_samples: after.len(),
        change,
        relative_change: change
            .zip(bm)
            .and_then(|(c, b)| (b.abs() > f64::EPSILON).then(|| c / b.abs())),
        significant: mw.is_some_and(|m| m.p_value < ALPHA),
        mann_whitney: mw,
        welch: w,
    }
}

/// The latest release that carries a feature in `(from, to]`: a feature
/// flag turned on, or a successful production deployment labelled as a
/// feature. Routine deployments and flags turned off are not releases of a
/// feature. Returns the time, the event and a name for it.
pub(crate) fn feature_release(ctx: &Ctx<'_>, from: Ts, to: Ts) -> Option<(Ts, u32, String)> {
    let ds = ctx.ds;
    let mut best: Option<(Ts, u32, String)> = None;
    let mut offer = |t: Ts, ev: u32, name: &dyn Fn() -> String| {
        let later = best
            .as_ref()
            .is_none_or(|(bt, bev, _)| (t, ds.id(ev)) > (*bt, ds.id(*bev)));
        if later {
            best = Some((t, ev, name()));
        }
    };
    for (_, t) in crate::dora::tracks(ctx) {
        for &i in crate::dora::in_window(t, from, to) {
            let d = &t.deploys[i as usize];
            if d.feature != NONE {
                let f = ds.names.name(d.feature).to_string();
                let id = ds.id(d.ev).to_string();
                offer(d.time, d.ev, &|| format!("deployment {id} (feature {f})"));
            }
        }
    }
    for s in ds.services_in(ctx.scope) {
        let flags = &ds.data[s as usize].flags;
        let a = flags.partition_point(|f| f.time <= from);
        let b = flags.partition_point(|f| f.time <= to);
        for f in flags[a..b.max(a)].iter().filter(|f| f.enabled) {
            let name = ds.names.name(f.flag).to_string();
            offer(f.time, f.ev, &|| format!("flag {name} on"));
        }
    }
    best
}

/// Release comparison for a business key result: around the latest release
/// carrying a feature in the window, 7 days (at most the time since the
/// release, at least an hour) on each side.
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
    let (at, ev, name) = feature_release(&ctx, from, to)?;
    let span = Duration::from_secs((to - at).clamp(3_600, 7 * 86_400) as u64);
    let mut c = compare_around(ds, metric, scope, to_time(at), span);
    c.release = Some(ds.id(ev).to_string());
    c.release_name = Some(name);
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
        if after.len() >= 3 && mann_whitney(&before, &after).is_some_and(|m| m.p_value < ALPHA) {
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
