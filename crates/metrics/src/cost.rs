//! Cost metrics: FOCUS rows attributed to services through the intent's
//! cost match, bucketed by calendar day in the intent's time zone (DST
//! correct), month to date, month-end forecast, budget use, cost per
//! deployment, utilisation and anomalous days.

use std::collections::BTreeMap;

use crate::dataset::{CostRec, NONE, Ts};
use crate::engine::{Ctx, MetricValue, Rec};
use crate::stats::median_mad;

/// Cost rows of the scope with `lo <= start < hi`, after the provider and
/// service-category filters, with the service they belong to.
pub(crate) fn rows<'a>(ctx: &Ctx<'a>, lo: Ts, hi: Ts) -> Vec<(u32, &'a CostRec)> {
    let ds = ctx.ds;
    let providers = ctx.filter_values("provider");
    let categories = ctx.filter_values("service_category");
    let mut out = Vec::new();
    for s in ds.services_in(ctx.scope) {
        let rows = &ds.data[s as usize].costs;
        let a = rows.partition_point(|r| r.start < lo);
        let b = rows.partition_point(|r| r.start < hi);
        for r in &rows[a..b.max(a)] {
            let name = |i: u32| if i == NONE { "" } else { ds.names.name(i) };
            if providers
                .as_ref()
                .is_some_and(|p| !p.contains(&name(r.provider)))
            {
                continue;
            }
            if categories
                .as_ref()
                .is_some_and(|c| !c.contains(&name(r.category)))
            {
                continue;
            }
            out.push((s, r));
        }
    }
    out
}

/// The currency a scope reports in: its budgets' currency, else the most used one.
pub(crate) fn currency(ctx: &Ctx<'_>, rows: &[(u32, &CostRec)]) -> Option<u32> {
    let ds = ctx.ds;
    for s in ds.services_in(ctx.scope) {
        if let Some((_, cur)) = ds.info(s).and_then(|i| i.budget.as_ref())
            && let Some(c) = ds.names.get(cur)
        {
            return Some(c);
        }
    }
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for (_, r) in rows {
        *counts.entry(r.currency).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| {
            a.1.cmp(&b.1)
                .then_with(|| ds.names.name(b.0).cmp(ds.names.name(a.0)))
        })
        .map(|(c, _)| c)
}

/// Sums rows per local day in one currency; traces each row.
fn sum_rows(
    ctx: &mut Ctx<'_>,
    rows: &[(u32, &CostRec)],
    cur: Option<u32>,
    role: &str,
) -> (f64, BTreeMap<i32, f64>, usize) {
    let mut total = 0.0;
    let mut days = BTreeMap::new();
    let mut skipped = 0;
    for &(s, r) in rows {
        if Some(r.currency) != cur {
            skipped += 1;
            continue;
        }
        total += r.amount;
        *days.entry(r.day).or_insert(0.0) += r.amount;
        let rec = Rec {
            ev: r.ev,
            time: r.start,
            svc: s,
            env: NONE,
            value: Some(r.amount),
            confidence: None,
        };
        ctx.tr.add(ctx.ds, rec, || role.to_string());
    }
    (total, days, skipped)
}

pub(crate) fn money(
    ctx: &Ctx<'_>,
    value: Option<f64>,
    samples: usize,
    cur: Option<u32>,
    skipped: usize,
) -> MetricValue {
    let mut v = ctx.value(value, samples);
    v.currency = cur.map(|c| ctx.ds.names.name(c).to_string());
    if skipped > 0 {
        v.note = Some(format!(
            "{skipped} cost row(s) in other currencies left out"
        ));
    }
    v
}

fn today(ctx: &Ctx<'_>) -> i32 {
    ctx.ds.local_day(ctx.to)
}

pub(crate) fn monthly(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let start = ds.month_start_day(today(ctx));
    let rows = rows(ctx, ds.day_start(start), ctx.to + 1);
    let cur = currency(ctx, &rows);
    let (total, days, skipped) = sum_rows(ctx, &rows, cur, "cost row, month to date");
    let value = (!rows.is_empty()).then_some(total);
    money(ctx, value, days.len(), cur, skipped)
}

pub(crate) fn daily(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let day = today(ctx) - 1;
    let rows = rows(ctx, ds.day_start(day), ds.day_start(day + 1));
    let cur = currency(ctx, &rows);
    let (total, days, skipped) = sum_rows(ctx, &rows, cur, "cost row of the last complete day");
    let mut v = money(
        ctx,
        (!rows.is_empty()).then_some(total),
        days.len(),
        cur,
        skipped,
    );
    if rows.is_empty() {
        v.note = Some("no cost rows for the last complete day".into());
    }
    v
}

/// Month-end forecast of the scope: (forecast, trailing days with data, currency, skipped).
fn forecast_parts(ctx: &mut Ctx<'_>) -> (Option<f64>, usize, Option<u32>, usize) {
    let ds = ctx.ds;
    let today = today(ctx);
    let month = ds.month_start_day(today);
    let lo = (today - 7).min(month);
    let rows = rows(ctx, ds.day_start(lo), ds.day_start(today));
    let cur = currency(ctx, &rows);
    let (_, days, skipped) = sum_rows(ctx, &rows, cur, "cost row used by the forecast");
    let complete: f64 = days.range(month..today).map(|(_, v)| v).sum();
    let trailing: Vec<f64> = days.range(today - 7..today).map(|(_, v)| *v).collect();
    if trailing.is_empty() {
        return (None, 0, cur, skipped);
    }
    let mean = trailing.iter().sum::<f64>() / trailing.len() as f64;
    let remaining = ds.days_in_month(today) - (today - month);
    (
        Some(complete + mean * f64::from(remaining)),
        trailing.len(),
        cur,
        skipped,
    )
}

pub(crate) fn forecast(ctx: &mut Ctx<'_>) -> MetricValue {
    let (value, n, cur, skipped) = forecast_parts(ctx);
    money(ctx, value, n, cur, skipped)
}

/// Sum of monthly budgets of the scope's services that have one.
pub(crate) fn budget_of(ctx: &Ctx<'_>) -> Option<(f64, String)> {
    let mut total: Option<(f64, String)> = None;
    for s in ctx.ds.services_in(ctx.scope) {
        if let Some((amount, cur)) = ctx.ds.info(s).and_then(|i| i.budget.as_ref()) {
            match &mut total {
                None => total = Some((*amount, cur.clone())),
                Some((t, c)) if c == cur => *t += amount,
                Some(_) => {}
            }
        }
    }
    total
}

pub(crate) fn budget_used(ctx: &mut Ctx<'_>) -> MetricValue {
    let Some((budget, _)) = budget_of(ctx) else {
        let mut v = ctx.value(None, 0);
        v.note = Some("no monthly budget in the intent for this scope".into());
        return v;
    };
    let (value, n, cur, skipped) = forecast_parts(ctx);
    let mut v = money(ctx, value.map(|f| f / budget), n, cur, skipped);
    v.currency = None;
    v
}

pub(crate) fn per_deployment(ctx: &mut Ctx<'_>) -> MetricValue {
    let rows = rows(ctx, ctx.from + 1, ctx.to + 1);
    let cur = currency(ctx, &rows);
    let (total, _, skipped) = sum_rows(ctx, &rows, cur, "cost row in the window");
    let deploys = crate::dora::deploy_count(ctx);
    let mut v = money(
        ctx,
        (deploys > 0 && !rows.is_empty()).then(|| total / deploys as f64),
        deploys,
        cur,
        skipped,
    );
    if deploys == 0 {
        v.note = Some("no successful production deployments in the window".into());
    }
    v
}

pub(crate) fn utilisation(ctx: &mut Ctx<'_>) -> MetricValue {
    let rows = rows(ctx, ctx.from + 1, ctx.to + 1);
    let (mut used, mut alloc, mut n) = (0.0, 0.0, 0usize);
    for &(s, r) in &rows {
        if let (Some(c), Some(a)) = (r.consumed, r.allocated)
            && a > 0.0
        {
            used += c;
            alloc += a;
            n += 1;
            let rec = Rec {
                ev: r.ev,
                time: r.start,
                svc: s,
                env: NONE,
                value: Some(c / a),
                confidence: None,
            };
            ctx.tr.add(ctx.ds, rec, || {
                "cost row with consumed and allocated quantity".into()
            });
        }
    }
    let mut v = ctx.value((alloc > 0.0).then(|| used / alloc), n);
    if n == 0 {
        v.note = Some(
            "no cost rows carry both a consumed and an allocated quantity (tag `x_allocated_quantity`)"
                .into(),
        );
    }
    v
}

/// Days of the baseline before each judged day.
const BASELINE_DAYS: i32 = 28;
/// Fewest baseline days with data before a day is judged.
const BASELINE_MIN: usize = 14;

/// Daily totals of the scope over `[first, last]` (days with data only).
fn daily_series(ctx: &mut Ctx<'_>, first: i32, last: i32) -> BTreeMap<i32, f64> {
    let ds = ctx.ds;
    let rows = rows(ctx, ds.day_start(first), ds.day_start(last + 1));
    let cur = currency(ctx, &rows);
    let mut days = BTreeMap::new();
    for (_, r) in rows {
        if Some(r.currency) == cur {
            *days.entry(r.day).or_insert(0.0) += r.amount;
        }
    }
    days
}

/// One anomalous day found by `cost.anomalies`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CostAnomaly {
    /// The local calendar day (the intent's time zone).
    pub date: chrono::NaiveDate,
    /// The day's total cost.
    pub observed: f64,
    /// The median of the previous 28 days.
    pub expected: f64,
    /// The expected range, `expected ± spread`.
    pub low: f64,
    pub high: f64,
    pub currency: Option<String>,
}

/// The days `cost.anomalies` judges in its window, and the anomalous ones.
fn anomaly_days(ctx: &mut Ctx<'_>) -> (usize, Vec<(i32, f64, f64, f64)>) {
    let ds = ctx.ds;
    let today = today(ctx);
    let first = ds.local_day(ctx.from + 1);
    let series = daily_series(ctx, first - BASELINE_DAYS, today - 1);
    let mut judged = 0usize;
    let mut found = Vec::new();
    for day in first..today {
        let Some(&x) = series.get(&day) else {
            continue;
        };
        let base: Vec<f64> = series
            .range(day - BASELINE_DAYS..day)
            .map(|(_, v)| *v)
            .collect();
        if base.len() < BASELINE_MIN {
            continue;
        }
        let Some((med, mad)) = median_mad(&base) else {
            continue;
        };
        judged += 1;
        let spread = (3.0 * 1.4826 * mad).max(0.05 * med.abs());
        if (x - med).abs() > spread {
            found.push((day, x, med, spread));
        }
    }
    (judged, found)
}

/// The anomalous days behind `cost.anomalies` for `ctx`'s scope and window.
pub(crate) fn anomaly_records(ctx: &mut Ctx<'_>) -> Vec<CostAnomaly> {
    let (_, found) = anomaly_days(ctx);
    let ds = ctx.ds;
    let first = ds.local_day(ctx.from + 1);
    let rows = rows(
        ctx,
        ds.day_start(first - BASELINE_DAYS),
        ds.day_start(today(ctx)),
    );
    let currency = currency(ctx, &rows).map(|c| ds.names.name(c).to_string());
    found
        .into_iter()
        .filter_map(|(day, x, med, spread)| {
            Some(CostAnomaly {
                date: chrono::NaiveDate::from_num_days_from_ce_opt(day)?,
                observed: x,
                expected: med,
                low: med - spread,
                high: med + spread,
                currency: currency.clone(),
            })
        })
        .collect()
}

/// Anomalous days: outside median ± max(3·1.4826·MAD, 5% of median) of the previous 28 days.
pub(crate) fn anomalies(ctx: &mut Ctx<'_>) -> MetricValue {
    let ds = ctx.ds;
    let (judged, found) = anomaly_days(ctx);
    let count = found.len();
    for (day, x, med, spread) in found {
        let lo = ds.day_start(day);
        let hi = ds.day_start(day + 1);
        for (s, r) in rows(ctx, lo, hi) {
            let rec = Rec {
                ev: r.ev,
                time: r.start,
                svc: s,
                env: NONE,
                value: Some(r.amount),
                confidence: None,
            };
            ctx.tr.add(ds, rec, || {
                format!(
                    "cost row of an anomalous day: {x:.2} against an expected {:.2}..{:.2}",
                    med - spread,
                    med + spread
                )
            });
        }
    }
    let mut v = ctx.value((judged > 0).then_some(count as f64), judged);
    if judged == 0 {
        v.note = Some(format!(
            "no day in the window has {BASELINE_MIN} days of cost history before it"
        ));
    }
    v
}
