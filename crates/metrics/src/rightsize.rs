//! Waste and rightsizing from requested vs used CPU and memory (OpenCost
//! allocations on cost rows): efficiency, idle cost, the rightsizing rule and
//! its savings opportunity, and commitment utilisation (FOCUS).
//!
//! The rule follows the Kubernetes Vertical Pod Autoscaler's recommender
//! (kubernetes/autoscaler, `vertical-pod-autoscaler/docs/faq.md`, "What are
//! the parameters to VPA recommender?": a usage percentile as the target, a
//! safety margin of 0.15, a minimum of 25 millicores and 250 MB per pod),
//! with the percentile of VPA's documented "performance" recommender for CPU
//! (`--target-cpu-percentile=0.95`) and the peak for memory (a container
//! over its memory is killed, so the highest usage seen is the base). The
//! percentile is taken over the cost rows of the window (one per OpenCost
//! step), not over VPA's decaying histogram of raw samples.

use std::collections::BTreeMap;

use bearing_intent::{Duration, FilterValue, Scope};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cost::{currency, money, rows};
use crate::dataset::{CostRec, Dataset, NONE, UsageRec, ts};
use crate::engine::{Ctx, MetricValue, Rec, TraceMode, Tracer};

/// Percentile of per-step CPU usage taken as the CPU base.
pub const CPU_PERCENTILE: f64 = 0.95;
/// Safety margin added to the base (VPA's `recommendation-margin-fraction`).
pub const MARGIN: f64 = 0.15;
/// No cut below these (VPA's per-pod minimums): cores and bytes.
pub const MIN_CPU_CORES: f64 = 0.025;
pub const MIN_RAM_BYTES: f64 = 250.0 * 1024.0 * 1024.0;
/// Hours in an average month (8760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The `resource` filter: which of CPU and memory count.
fn resources(ctx: &Ctx<'_>) -> (bool, bool) {
    match ctx.filter_values("resource") {
        None => (true, true),
        Some(v) => (
            v.contains(&"cpu"),
            v.iter().any(|x| *x == "memory" || *x == "ram"),
        ),
    }
}

/// Cost rows of the window with usage, after the `workload` filter.
fn usage_rows<'a>(ctx: &Ctx<'a>) -> Vec<(u32, &'a CostRec, &'a UsageRec)> {
    let ds = ctx.ds;
    let want = ctx.filter_values("workload");
    rows(ctx, ctx.from + 1, ctx.to + 1)
        .into_iter()
        .filter_map(|(s, r)| r.usage.as_deref().map(|u| (s, r, u)))
        .filter(|(_, _, u)| {
            want.as_ref()
                .is_none_or(|w| w.contains(&ds.names.name(u.workload)))
        })
        .collect()
}

/// (usage, request, cost) of CPU and of memory, as the `resource` filter keeps them.
fn parts(u: &UsageRec, cpu: bool, ram: bool) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    if cpu {
        out.push((u.cpu_use, u.cpu_req, u.cpu_cost));
    }
    if ram {
        out.push((u.ram_use, u.ram_req, u.ram_cost));
    }
    out
}

fn trace(ctx: &mut Ctx<'_>, s: u32, r: &CostRec, value: f64, role: &str) {
    let rec = Rec {
        ev: r.ev,
        time: r.start,
        svc: s,
        env: NONE,
        value: Some(value),
        confidence: None,
    };
    ctx.tr.add(ctx.ds, rec, || role.to_string());
}

/// `cost.efficiency`: Σ (usage / request × cost) / Σ cost over CPU and memory
/// of every row with a request above zero (OpenCost's `totalEfficiency`).
pub(crate) fn efficiency(ctx: &mut Ctx<'_>) -> MetricValue {
    let (cpu, ram) = resources(ctx);
    let (mut num, mut den, mut n) = (0.0, 0.0, 0usize);
    for (s, r, u) in usage_rows(ctx) {
        let (mut rn, mut rd) = (0.0, 0.0);
        for (used, req, cost) in parts(u, cpu, ram) {
            if req > 0.0 {
                rn += used / req * cost;
                rd += cost;
            }
        }
        if rd > 0.0 {
            num += rn;
            den += rd;
            n += 1;
            trace(ctx, s, r, rn / rd, "cost row with requests and usage");
        }
    }
    let mut v = ctx.value((den > 0.0).then(|| num / den), n);
    if n == 0 {
        v.note =
            Some("no cost rows with requests above zero and a cost (OpenCost allocations)".into());
    }
    v
}

/// `cost.idle`: Σ cost × (request − usage) / request over CPU and memory of
/// every row where the request exceeds the usage.
pub(crate) fn idle(ctx: &mut Ctx<'_>) -> MetricValue {
    let (cpu, ram) = resources(ctx);
    let list = usage_rows(ctx);
    let plain: Vec<(u32, &CostRec)> = list.iter().map(|(s, r, _)| (*s, *r)).collect();
    let cur = currency(ctx, &plain);
    let (mut total, mut n, mut skipped) = (0.0, 0usize, 0usize);
    for (s, r, u) in list {
        if Some(r.currency) != cur {
            skipped += 1;
            continue;
        }
        let idle: f64 = parts(u, cpu, ram)
            .into_iter()
            .filter(|(used, req, _)| *req > *used)
            .map(|(used, req, cost)| cost * (req - used) / req)
            .sum();
        total += idle;
        n += 1;
        trace(
            ctx,
            s,
            r,
            idle,
            "cost row: idle cost (requested but unused)",
        );
    }
    money(ctx, (n > 0).then_some(total), n, cur, skipped)
}

/// `cost.commitment_utilisation`: effective cost of `Used` commitment rows /
/// effective cost of `Used` and `Unused` ones.
pub(crate) fn commitment_utilisation(ctx: &mut Ctx<'_>) -> MetricValue {
    let (mut used, mut all, mut n) = (0.0, 0.0, 0usize);
    for (s, r) in rows(ctx, ctx.from + 1, ctx.to + 1) {
        let Some(u) = r.commitment else { continue };
        all += r.amount;
        if u {
            used += r.amount;
        }
        n += 1;
        let role = if u {
            "commitment row, used"
        } else {
            "commitment row, unused"
        };
        trace(ctx, s, r, r.amount, role);
    }
    let mut v = ctx.value((all > 0.0).then(|| used / all), n);
    if n == 0 {
        v.note = Some("no cost rows with a FOCUS `CommitmentDiscountStatus`".into());
    } else if all <= 0.0 {
        v.note = Some("the commitment rows carry no effective cost".into());
    }
    v
}

/// `cost.savings_opportunity`: the monthly savings of every cut the
/// rightsizing rule finds in the scope (raises count as zero).
pub(crate) fn savings(ctx: &mut Ctx<'_>) -> MetricValue {
    let found = compute(ctx);
    let list = usage_rows(ctx);
    for &(s, r, u) in &list {
        trace(ctx, s, r, u.cpu_use, "cost row with requests and usage");
    }
    let plain: Vec<(u32, &CostRec)> = list.iter().map(|(s, r, _)| (*s, *r)).collect();
    let cur = currency(ctx, &plain);
    let total: f64 = found
        .iter()
        .filter(|w| w.currency.as_deref() == cur.map(|c| ctx.ds.names.name(c)))
        .map(|w| w.saving_per_month.max(0.0))
        .sum();
    money(
        ctx,
        (!found.is_empty()).then_some(total),
        found.len(),
        cur,
        0,
    )
}

/// One workload's rightsizing: current and recommended requests, the usage
/// behind them, the monthly saving and the risk.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Rightsizing {
    pub service: String,
    /// OpenCost's allocation name (`namespace/controller/container`, …).
    pub workload: String,
    pub container: Option<String>,
    /// Pods the workload's figures are divided by (its latest row): the
    /// requests, bases and recommendations are per pod. `None` when not
    /// known, and then they are the workload's totals over all its pods.
    pub pods: Option<f64>,
    /// Where `pods` comes from.
    pub pods_from: Option<String>,
    /// Requests of the latest row per pod (cores, bytes).
    pub cpu_request: f64,
    pub ram_request: f64,
    /// The bases: p95 of per-row CPU usage (maxima where known, else
    /// averages) and the highest memory usage.
    pub cpu_p95: f64,
    pub ram_peak: f64,
    /// Recommended requests: base × 1.15, rounded up to a millicore / a MiB,
    /// never cut below the minimums.
    pub cpu_recommended: f64,
    pub ram_recommended: f64,
    /// Price per core-hour and per byte-hour from the rows' costs.
    pub cpu_price: Option<f64>,
    pub ram_price: Option<f64>,
    /// (current − recommended) × pods × price × 730 h; negative for a raise.
    pub saving_per_month: f64,
    pub currency: Option<String>,
    /// What the workload cost per hour over the window (CPU and memory).
    pub cost_per_hour: f64,
    /// Rows and hours of usage behind the figures.
    pub samples: usize,
    pub hours: f64,
    /// `low`, `medium` or `high` (see docs/metrics.md).
    pub risk: String,
    pub records: Vec<String>,
}

/// CPU as whole millicores (rounded up).
pub fn format_cpu(cores: f64) -> String {
    if cores <= 0.0 {
        return "0".into();
    }
    format!("{}m", (cores * 1000.0 - 1e-6).ceil().max(1.0) as u64)
}

/// Memory as whole MiB (rounded up), bytes when below one MiB.
pub fn format_memory(bytes: f64) -> String {
    let mib = 1024.0 * 1024.0;
    if bytes < mib {
        return format!("{}", bytes.ceil() as u64);
    }
    format!("{}Mi", (bytes / mib - 1e-9).ceil() as u64)
}

/// Nearest-rank percentile of a non-empty list.
fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The recommended request for a base: base × 1.15 rounded up to `step`,
/// never below `minimum` (VPA applies its minimums to every recommendation).
pub fn recommend(base: f64, minimum: f64, step: f64) -> f64 {
    // a hair below the step so that float noise (1.0 × 1.15) does not add one
    let target = (base * (1.0 + MARGIN) / step - 1e-9).ceil() * step;
    target.max(minimum)
}

/// A pod's requests as a manifest declares them, to turn a workload's
/// totals into per-pod figures: each row's pods = its request ÷ the pod's
/// (CPU, else memory), else `replicas`.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpec {
    pub cpu: Option<f64>,
    pub ram: Option<f64>,
    pub replicas: Option<f64>,
    /// Where the spec is (`file:line`).
    pub source: String,
}

impl Rightsizing {
    /// (current − recommended) × pods × price × 730 h over CPU and memory.
    pub fn monthly_saving(&self) -> f64 {
        HOURS_PER_MONTH
            * self.pods.unwrap_or(1.0)
            * ((self.cpu_request - self.cpu_recommended) * self.cpu_price.unwrap_or(0.0)
                + (self.ram_request - self.ram_recommended) * self.ram_price.unwrap_or(0.0))
    }
}

/// Pods behind a row and where that comes from: OpenCost's own (one pod),
/// else the ratio of the row's request to the manifest's per-pod request,
/// else the manifest's replicas.
fn pods_of(u: &UsageRec, spec: Option<&PodSpec>) -> Option<(f64, String)> {
    if let Some(p) = u.pods {
        return Some((p, "OpenCost properties.pod".into()));
    }
    let spec = spec?;
    let ratio =
        |total: f64, per: Option<f64>| per.filter(|p| *p > 0.0 && total > 0.0).map(|p| total / p);
    if let Some(p) = ratio(u.cpu_req, spec.cpu) {
        return Some((p, format!("CPU request ÷ the pod's at {}", spec.source)));
    }
    if let Some(p) = ratio(u.ram_req, spec.ram) {
        return Some((p, format!("memory request ÷ the pod's at {}", spec.source)));
    }
    spec.replicas
        .map(|r| (r, format!("replicas at {}", spec.source)))
}

/// A row divided by its pods (per-pod requests and usage).
fn per_pod(u: &UsageRec, pods: f64) -> UsageRec {
    let d = if pods > 0.0 { pods } else { 1.0 };
    UsageRec {
        cpu_req: u.cpu_req / d,
        cpu_use: u.cpu_use / d,
        cpu_max: u.cpu_max.map(|x| x / d),
        ram_req: u.ram_req / d,
        ram_use: u.ram_use / d,
        ram_max: u.ram_max.map(|x| x / d),
        pods: Some(pods),
        ..*u
    }
}

fn compute(ctx: &Ctx<'_>) -> Vec<Rightsizing> {
    compute_with(ctx, &|_| None)
}

fn compute_with(ctx: &Ctx<'_>, specs: &dyn Fn(&str) -> Option<PodSpec>) -> Vec<Rightsizing> {
    let ds = ctx.ds;
    let mut groups: BTreeMap<(u32, u32), Vec<(&CostRec, &UsageRec)>> = BTreeMap::new();
    for (s, r, u) in usage_rows(ctx) {
        groups.entry((s, u.workload)).or_default().push((r, u));
    }
    let mut out = Vec::new();
    for ((s, w), totals) in groups {
        let spec = specs(ds.names.name(w));
        let pods: Vec<Option<(f64, String)>> = totals
            .iter()
            .map(|(_, u)| pods_of(u, spec.as_ref()))
            .collect();
        let divided: Vec<UsageRec> = totals
            .iter()
            .zip(&pods)
            .map(|((_, u), p)| per_pod(u, p.as_ref().map_or(1.0, |p| p.0)))
            .collect();
        let list: Vec<(&CostRec, &UsageRec)> =
            totals.iter().map(|(r, _)| *r).zip(&divided).collect();
        let Some(at) = (0..list.len()).max_by_key(|&i| list[i].0.start) else {
            continue;
        };
        let (last_r, last) = list[at];
        let last_pods = pods[at].clone();
        let cpu_p95 = percentile(
            list.iter()
                .map(|(_, u)| u.cpu_max.unwrap_or(u.cpu_use))
                .collect(),
            CPU_PERCENTILE,
        );
        let ram_peak = list
            .iter()
            .map(|(_, u)| u.ram_max.unwrap_or(u.ram_use))
            .fold(0.0, f64::max);
        let cpu_recommended = recommend(cpu_p95, MIN_CPU_CORES, 0.001);
        let ram_recommended = recommend(ram_peak, MIN_RAM_BYTES, 1024.0 * 1024.0);
        // prices from the totals: what a core-hour (byte-hour) of any pod costs
        let price = |cost: fn(&UsageRec) -> f64, alloc: fn(&UsageRec) -> f64| {
            let c: f64 = totals.iter().map(|(_, u)| cost(u)).sum();
            let a: f64 = totals.iter().map(|(_, u)| alloc(u) * u.hours).sum();
            (a > 0.0).then(|| c / a)
        };
        let cpu_price = price(|u| u.cpu_cost, |u| u.cpu_req.max(u.cpu_use));
        let ram_price = price(|u| u.ram_cost, |u| u.ram_req.max(u.ram_use));
        let hours: f64 = list.iter().map(|(_, u)| u.hours).sum();
        let cost: f64 = list.iter().map(|(_, u)| u.cpu_cost + u.ram_cost).sum();
        let cut = |cur: f64, new: f64| cur > 0.0 && new < cur / 2.0;
        let risk = if hours < 24.0 {
            "high"
        } else if hours < 7.0 * 24.0
            || cut(last.cpu_req, cpu_recommended)
            || cut(last.ram_req, ram_recommended)
        {
            "medium"
        } else {
            "low"
        };
        let mut records: Vec<String> = list.iter().map(|(r, _)| ds.id(r.ev).to_string()).collect();
        records.sort();
        let mut r = Rightsizing {
            service: ds.svc_name(s).to_string(),
            workload: ds.names.name(w).to_string(),
            container: (last.container != NONE).then(|| ds.names.name(last.container).to_string()),
            pods: last_pods.as_ref().map(|p| p.0),
            pods_from: last_pods.map(|p| p.1),
            cpu_request: last.cpu_req,
            ram_request: last.ram_req,
            cpu_p95,
            ram_peak,
            cpu_recommended,
            ram_recommended,
            cpu_price,
            ram_price,
            saving_per_month: 0.0,
            currency: Some(ds.names.name(last_r.currency).to_string()),
            cost_per_hour: if hours > 0.0 { cost / hours } else { 0.0 },
            samples: list.len(),
            hours,
            risk: risk.to_string(),
            records,
        };
        r.saving_per_month = r.monthly_saving();
        out.push(r);
    }
    out.sort_by(|a, b| {
        b.saving_per_month
            .total_cmp(&a.saving_per_month)
            .then_with(|| a.workload.cmp(&b.workload))
    });
    out
}

/// Every workload of the scope with requests and usage in the window, its
/// recommended requests and monthly saving, largest saving first.
pub fn rightsizing(
    ds: &Dataset,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<Rightsizing> {
    rightsizing_per_pod(ds, scope, filter, window, now, &|_| None)
}

/// [`rightsizing`] with the pod spec of each workload (by name) where a
/// manifest gives it, so that rows summing several pods are sized per pod.
pub fn rightsizing_per_pod(
    ds: &Dataset,
    scope: &Scope,
    filter: &BTreeMap<String, FilterValue>,
    window: Duration,
    now: DateTime<Utc>,
    specs: &dyn Fn(&str) -> Option<PodSpec>,
) -> Vec<Rightsizing> {
    let to = ts(now);
    let mut tr = Tracer::new(TraceMode::Off);
    let ctx = Ctx {
        ds,
        metric: "cost.savings_opportunity",
        scope,
        filter,
        from: to.saturating_sub(window.as_secs_i64().max(1)),
        to,
        tr: &mut tr,
    };
    compute_with(&ctx, specs)
}
