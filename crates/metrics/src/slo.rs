//! SLO metrics from good/total metric points: attainment, error budget
//! remaining and burn rate, plus the multi-window burn-rate alert pairs
//! (1h/5m at 14.4x, 6h/30m at 6x, 3d/6h at 1x).
//!
//! Points are read as counts per interval (not cumulative counters): the
//! good and total events of a window are the sums of the points in it.

use bearing_intent::Duration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, NONE, SloInfo, Ts, ts};
use crate::engine::{Ctx, MetricValue, Rec};

/// Good and total events of one SLO over `(to - window, to]`.
pub(crate) fn counts(ds: &Dataset, s: u32, slo: &SloInfo, window: Ts, to: Ts) -> (f64, f64, usize) {
    let data = &ds.data[s as usize];
    let from = to.saturating_sub(window);
    let (good, _) = data
        .series
        .get(&slo.good)
        .map_or((0.0, 0), |x| x.sum(from, to));
    let (total, n) = data
        .series
        .get(&slo.total)
        .map_or((0.0, 0), |x| x.sum(from, to));
    (good, total, n)
}

/// The SLOs of the scope's services that pass the `slo` filter.
fn slos<'a>(ctx: &Ctx<'a>) -> Vec<(u32, &'a SloInfo)> {
    let ds = ctx.ds;
    let want = ctx.filter_values("slo");
    ds.services_in(ctx.scope)
        .into_iter()
        .filter_map(|s| ds.info(s).map(|i| (s, i)))
        .flat_map(|(s, i)| i.slos.iter().map(move |x| (s, x)))
        .filter(|(_, x)| want.as_ref().is_none_or(|w| w.contains(&x.id.as_str())))
        .collect()
}

fn trace_points(ctx: &mut Ctx<'_>, s: u32, slo: &SloInfo, window: Ts) {
    let ds = ctx.ds;
    let from = ctx.to.saturating_sub(window);
    for name in [slo.good, slo.total] {
        let Some(series) = ds.data[s as usize].series.get(&name) else {
            continue;
        };
        let label = ds.names.name(name);
        for p in &series.pts[series.range(from, ctx.to)] {
            let rec = Rec {
                ev: p.ev,
                time: p.time,
                svc: s,
                env: NONE,
                value: Some(p.value),
                confidence: None,
            };
            ctx.tr
                .add(ds, rec, || format!("SLO `{}` point `{label}`", slo.id));
        }
    }
}

/// Per-SLO figure over its own window; the scope's value is the worst SLO.
fn worst(
    ctx: &mut Ctx<'_>,
    f: impl Fn(f64, f64, &SloInfo) -> Option<f64>,
    higher_is_worse: bool,
) -> MetricValue {
    let list = slos(ctx);
    let mut best: Option<(f64, String)> = None;
    let mut samples = 0;
    for (s, slo) in &list {
        let (good, total, n) = counts(ctx.ds, *s, slo, slo.window, ctx.to);
        let Some(v) = f(good, total, slo) else {
            continue;
        };
        samples += n;
        trace_points(ctx, *s, slo, slo.window);
        let label = format!("{}/{}", ctx.ds.svc_name(*s), slo.id);
        let replace = match &best {
            None => true,
            Some((b, _)) => (higher_is_worse && v > *b) || (!higher_is_worse && v < *b),
        };
        if replace {
            best = Some((v, label));
        }
    }
    let mut v = ctx.value(best.as_ref().map(|b| b.0), samples);
    v.note = match (&best, list.len()) {
        (_, 0) => Some("no SLO in the intent for this scope".into()),
        (None, _) => Some("no good/total points in the SLO window".into()),
        (Some((_, label)), n) if n > 1 => Some(format!("worst of {n} SLOs: {label}")),
        _ => None,
    };
    v
}

pub(crate) fn attainment(ctx: &mut Ctx<'_>) -> MetricValue {
    worst(
        ctx,
        |good, total, _| (total > 0.0).then(|| good / total),
        false,
    )
}

pub(crate) fn budget_remaining(ctx: &mut Ctx<'_>) -> MetricValue {
    worst(
        ctx,
        |good, total, slo| budget(good, total, slo.target),
        false,
    )
}

fn budget(good: f64, total: f64, target: f64) -> Option<f64> {
    if total <= 0.0 || target >= 1.0 {
        return None;
    }
    Some(1.0 - (total - good) / (total * (1.0 - target)))
}

fn burn(good: f64, total: f64, target: f64) -> Option<f64> {
    (total > 0.0 && target < 1.0).then(|| ((total - good) / total) / (1.0 - target))
}

pub(crate) fn burn_rate(ctx: &mut Ctx<'_>) -> MetricValue {
    let window: Ts = ctx
        .filter_values("window")
        .and_then(|w| {
            w.first()
                .and_then(|x| x.parse::<bearing_intent::Duration>().ok())
        })
        .map_or(3600, |d| d.as_secs_i64());
    let list = slos(ctx);
    let mut worst_v: Option<f64> = None;
    let mut samples = 0;
    let mut coarse = Vec::new();
    for (s, slo) in &list {
        if let Some(note) = too_coarse(slo, window) {
            coarse.push(format!("{}/{}: {note}", ctx.ds.svc_name(*s), slo.id));
            continue;
        }
        let (good, total, n) = counts(ctx.ds, *s, slo, window, ctx.to);
        if let Some(b) = burn(good, total, slo.target) {
            samples += n;
            trace_points(ctx, *s, slo, window);
            worst_v = Some(worst_v.map_or(b, |w: f64| w.max(b)));
        }
    }
    let mut v = ctx.value(worst_v, samples);
    if list.is_empty() {
        v.note = Some("no SLO in the intent for this scope".into());
    } else if !coarse.is_empty() {
        v.note = Some(coarse.join("; "));
    }
    v
}

/// Why a window cannot be measured on an SLO's points: they are further
/// apart than the window is long (hourly points and a 5m window).
fn too_coarse(slo: &SloInfo, window: Ts) -> Option<String> {
    let r = slo.resolution?;
    (r > window).then(|| {
        format!(
            "not enough resolution: points every {}, the {} window needs finer ones",
            Duration::from_secs(r.max(0) as u64),
            Duration::from_secs(window.max(0) as u64)
        )
    })
}

/// One multi-window burn-rate check of one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnAlert {
    pub service: String,
    pub slo: String,
    pub long_window_seconds: i64,
    pub short_window_seconds: i64,
    pub threshold: f64,
    pub long_burn: Option<f64>,
    pub short_burn: Option<f64>,
    /// Both windows burn faster than the threshold.
    pub firing: bool,
    /// Why the pair cannot fire, when the SLO's points are coarser than its
    /// short window ("not enough resolution: …"); its burns are then unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The standard pairs: (long, short, threshold).
pub const BURN_PAIRS: [(i64, i64, f64); 3] = [
    (3_600, 300, 14.4),
    (6 * 3_600, 1_800, 6.0),
    (3 * 86_400, 6 * 3_600, 1.0),
];

/// Every SLO of a service against the three standard window pairs.
pub fn burn_alerts(ds: &Dataset, service: &str, now: DateTime<Utc>) -> Vec<BurnAlert> {
    let Some(s) = ds.services.get(service) else {
        return Vec::new();
    };
    let Some(info) = ds.info(s) else {
        return Vec::new();
    };
    let to = ts(now);
    let mut out = Vec::new();
    for slo in &info.slos {
        for (long, short, threshold) in BURN_PAIRS {
            // A window finer than the points cannot be measured: no burn.
            let note = too_coarse(slo, short);
            let (long_burn, short_burn) = if note.is_some() {
                (None, None)
            } else {
                let (g, t, _) = counts(ds, s, slo, long, to);
                let long_burn = burn(g, t, slo.target);
                let (g, t, _) = counts(ds, s, slo, short, to);
                (long_burn, burn(g, t, slo.target))
            };
            out.push(BurnAlert {
                service: service.to_string(),
                slo: slo.id.clone(),
                long_window_seconds: long,
                short_window_seconds: short,
                threshold,
                long_burn,
                short_burn,
                firing: long_burn.is_some_and(|b| b > threshold)
                    && short_burn.is_some_and(|b| b > threshold),
                note,
            });
        }
    }
    out
}

/// Error budget remaining of every SLO of a service (its minimum), and the total points read.
pub(crate) fn service_budget(ds: &Dataset, s: u32, to: Ts) -> (Option<f64>, usize) {
    let Some(info) = ds.info(s) else {
        return (None, 0);
    };
    let mut min: Option<f64> = None;
    let mut n = 0;
    for slo in &info.slos {
        let (g, t, k) = counts(ds, s, slo, slo.window, to);
        n += k;
        if let Some(b) = budget(g, t, slo.target) {
            min = Some(min.map_or(b, |m: f64| m.min(b)));
        }
    }
    (min, n)
}
