//! Recommendations: for each key result off target (scorecard status
//! `off_track` or `at_risk`), candidate actions with the evidence behind
//! them — numbers and record ids — and the metric each should move.
//!
//! | key result metric | candidates |
//! |---|---|
//! | `dora.lead_time*`, `dora.deployment_frequency` | ship smaller batches (commits per deployment, deploy frequency); shorten the pipeline (p90 duration) |
//! | `dora.change_failure_rate`, `dora.rework_rate`, `dora.recovery_time` | canary for the services failing most (their failed deployments); require checks where pipelines fail (success rate) |
//! | `cost.*` | rightsize the workloads with the largest monthly saving (requests vs p95/peak usage, SLO hold; see [`crate::rightsize`]); look at anomalous cost days (seasonal baseline) |
//! | `security.*` | fix the oldest fixable findings first (package, fix version, age) |
//! | `slo.*` | freeze risky deploys while the budget is spent; canary |
//! | anything else | review the records behind the figure |

use std::collections::{BTreeMap, HashMap};

use bearing_events::{Event, Payload};
use bearing_intent::{Duration, FilterValue, Intent, Scope, catalog};
use bearing_metrics::{
    DEFAULT_WINDOW, Dataset, KeyResultCard, ScorecardFilter, Status, evaluate, explain,
    explain_with, scorecard,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::anomaly::{self, Params, Point};

/// Record ids kept per piece of evidence.
const IDS: usize = 20;

/// One candidate action for a key result off target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub objective: String,
    /// The key result's metric and scope.
    pub key_result: String,
    pub scope: Scope,
    pub status: Status,
    /// The key result's value and target, in base units.
    pub value: Option<f64>,
    pub target: String,
    /// Short identifier of the kind of action (`smaller_batches`, `canary`, …).
    pub kind: String,
    pub title: String,
    /// The metric this action should move, and which way.
    pub moves: String,
    pub direction: String,
    /// Numbers and record ids behind the recommendation.
    pub evidence: Value,
}

fn services_in(intent: &Intent, scope: &Scope) -> Vec<String> {
    intent
        .services
        .iter()
        .filter(|s| scope.service.as_deref().is_none_or(|id| id == s.id))
        .filter(|s| scope.team.as_deref().is_none_or(|t| t == s.team))
        .map(|s| s.id.clone())
        .collect()
}

fn svc_scope(service: &str, env: Option<&String>) -> Scope {
    Scope {
        service: Some(service.to_string()),
        environment: env.cloned(),
        team: None,
    }
}

struct Ctx<'a> {
    intent: &'a Intent,
    ds: &'a Dataset,
    events: HashMap<&'a str, &'a Event>,
    all_events: &'a [Event],
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn value(&self, metric: &str, scope: &Scope, window: Duration) -> Value {
        let v = evaluate(self.ds, metric, scope, &BTreeMap::new(), window, self.now);
        json!({
            "metric": metric,
            "value": v.value,
            "samples": v.samples,
            "too_few_samples": v.too_few_samples,
            "records": v.records.iter().take(IDS).collect::<Vec<_>>(),
        })
    }
}

/// Candidate actions for every key result off target.
pub fn recommend(
    intent: &Intent,
    ds: &Dataset,
    events: &[Event],
    now: DateTime<Utc>,
) -> Vec<Recommendation> {
    let ctx = Ctx {
        intent,
        ds,
        events: events.iter().map(|e| (e.id.as_str(), e)).collect(),
        all_events: events,
        now,
    };
    let card = scorecard(intent, ds, now, ScorecardFilter::default());
    let mut out = Vec::new();
    for o in &card.objectives {
        for kr in &o.key_results {
            if !matches!(kr.status, Status::OffTrack | Status::AtRisk) {
                continue;
            }
            let window = Duration::from_secs(kr.window_seconds.max(1));
            let make = |kind: &str, title: String, moves: &str, lower: bool, evidence: Value| {
                Recommendation {
                    objective: o.id.clone(),
                    key_result: kr.metric.clone(),
                    scope: kr.scope.clone(),
                    status: kr.status,
                    value: kr.value,
                    target: kr.target.clone(),
                    kind: kind.to_string(),
                    title,
                    moves: moves.to_string(),
                    direction: direction(kr, moves, lower).to_string(),
                    evidence,
                }
            };
            let m = kr.metric.as_str();
            if m.starts_with("dora.lead_time") || m == "dora.deployment_frequency" {
                out.extend(delivery_speed(&ctx, kr, window, &make));
            } else if m == "dora.change_failure_rate"
                || m == "dora.rework_rate"
                || m == "dora.recovery_time"
            {
                out.extend(failures(&ctx, kr, window, &make));
            } else if m.starts_with("cost.") {
                out.extend(cost(&ctx, kr, window, &make));
            } else if m.starts_with("security.") && m != "security.compliance_rate" {
                out.extend(security(&ctx, kr, window, &make));
            } else if m.starts_with("slo.") {
                out.extend(slo(&ctx, kr, window, &make));
            } else {
                let lower = catalog::lookup(m).is_some_and(|d| d.lower_is_better);
                out.push(make(
                    "review",
                    format!("review the {} records behind {m}", kr.records_total),
                    m,
                    lower,
                    json!({ "value": kr.value, "samples": kr.samples, "records": kr.records.iter().take(IDS).collect::<Vec<_>>(), "release_impact": kr.release_impact }),
                ));
            }
        }
    }
    out
}

/// Which way `moves` should go: for the key result's own metric, the way its
/// target points (`>= 90%` → increase, whatever the metric's usual sense);
/// for another metric an action moves, `lower` (lower is better) decides.
fn direction(kr: &KeyResultCard, moves: &str, lower: bool) -> &'static str {
    let t = kr.target.trim_start();
    let down = if moves != kr.metric {
        lower
    } else if t.starts_with('>') {
        false
    } else if t.starts_with('<') {
        true
    } else {
        match kr.value {
            Some(v) if v != kr.target_value => v > kr.target_value,
            _ => lower,
        }
    };
    if down { "decrease" } else { "increase" }
}

type Make<'a> = dyn Fn(&str, String, &str, bool, Value) -> Recommendation + 'a;

fn delivery_speed(
    ctx: &Ctx<'_>,
    kr: &KeyResultCard,
    window: Duration,
    make: &Make<'_>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let lt = evaluate(
        ctx.ds,
        "dora.lead_time.p50",
        &kr.scope,
        &BTreeMap::new(),
        window,
        ctx.now,
    );
    let freq = evaluate(
        ctx.ds,
        "dora.deployment_frequency",
        &kr.scope,
        &BTreeMap::new(),
        window,
        ctx.now,
    );
    let deploys = freq.samples.max(1) as f64;
    let commits_per_deploy = lt.samples as f64 / deploys;
    let moves = if kr.metric == "dora.deployment_frequency" {
        ("dora.deployment_frequency", false)
    } else {
        ("dora.lead_time.p50", true)
    };
    out.push(make(
        "smaller_batches",
        format!(
            "ship smaller batches: {:.1} commits per deployment at {:.2} deployments/day",
            commits_per_deploy,
            freq.value.unwrap_or(0.0)
        ),
        moves.0,
        moves.1,
        json!({
            "lead_time_p50_seconds": lt.value,
            "commits": lt.samples,
            "deployments": freq.samples,
            "commits_per_deployment": commits_per_deploy,
            "deployments_per_day": freq.value,
            "records": freq.records.iter().take(IDS).collect::<Vec<_>>(),
        }),
    ));
    let p90 = evaluate(
        ctx.ds,
        "pipeline.duration.p90",
        &kr.scope,
        &BTreeMap::new(),
        window,
        ctx.now,
    );
    if let Some(d) = p90.value {
        out.push(make(
            "faster_pipeline",
            format!(
                "shorten the pipeline and remove manual gates: p90 pipeline duration {}",
                bearing_metrics::fmt_secs(d)
            ),
            "dora.lead_time.p50",
            true,
            json!({
                "pipeline_duration_p90_seconds": d,
                "runs": p90.samples,
                "records": p90.records.iter().take(IDS).collect::<Vec<_>>(),
            }),
        ));
    }
    out
}

fn failures(
    ctx: &Ctx<'_>,
    kr: &KeyResultCard,
    window: Duration,
    make: &Make<'_>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut per_service: Vec<(String, f64, usize, Vec<String>)> = Vec::new();
    for s in services_in(ctx.intent, &kr.scope) {
        let scope = svc_scope(&s, kr.scope.environment.as_ref());
        let ex = explain(ctx.ds, "dora.change_failure_rate", &scope, window, ctx.now);
        let Some(rate) = ex.value.value else { continue };
        let failed: Vec<String> = ex
            .records
            .iter()
            .filter(|r| r.kind == "deployment" && r.role.starts_with("failed"))
            .map(|r| r.event_id.clone())
            .collect();
        if !failed.is_empty() {
            per_service.push((s, rate, ex.value.samples, failed));
        }
    }
    per_service.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (s, rate, n, failed) in per_service.iter().take(3) {
        let strategy = ctx
            .intent
            .service(s)
            .and_then(|x| x.delivery.as_ref())
            .map(|d| d.strategy.name())
            .unwrap_or("direct");
        out.push(make(
            "canary",
            format!(
                "deploy {s} by canary (now {strategy}): {} of {n} deployments failed ({:.1}%)",
                failed.len(),
                rate * 100.0
            ),
            "dora.change_failure_rate",
            true,
            json!({
                "service": s,
                "change_failure_rate": rate,
                "deployments": n,
                "failed_deployments": failed.iter().take(IDS).collect::<Vec<_>>(),
                "current_strategy": strategy,
            }),
        ));
    }
    let success = evaluate(
        ctx.ds,
        "pipeline.success_rate",
        &kr.scope,
        &BTreeMap::new(),
        window,
        ctx.now,
    );
    if let Some(v) = success.value {
        out.push(make(
            "required_checks",
            format!(
                "require passing checks before deploy (pipeline success rate {:.1}% over {} runs)",
                v * 100.0,
                success.samples
            ),
            "dora.change_failure_rate",
            true,
            json!({
                "pipeline_success_rate": v,
                "runs": success.samples,
                "records": success.records.iter().take(IDS).collect::<Vec<_>>(),
            }),
        ));
    }
    out
}

/// Whether a cost row belongs to a service by the intent's cost match.
fn cost_matches(intent: &Intent, service: &str, row: &bearing_events::CostRow) -> bool {
    let Some(m) = intent.service(service).and_then(|s| s.cost.as_ref()) else {
        return false;
    };
    let m = &m.matcher;
    let tags_ok = !m.tags.is_empty() && m.tags.iter().all(|(k, v)| row.tags.get(k) == Some(v));
    let id_ok = row.resource_id.as_deref().is_some_and(|rid| {
        m.resource_ids.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => rid.starts_with(prefix),
            None => rid == p,
        })
    });
    tags_ok || id_ok
}

/// Daily effective cost of a service (UTC days), with the cost rows behind each day.
pub fn daily_cost_series(intent: &Intent, events: &[Event], service: &str) -> Vec<Point> {
    let mut days: BTreeMap<NaiveDate, (f64, Vec<String>)> = BTreeMap::new();
    for e in events {
        if let Payload::Cost(c) = &e.payload
            && cost_matches(intent, service, c)
        {
            let d = days.entry(c.charge_period_start.date_naive()).or_default();
            d.0 += c.effective_cost;
            d.1.push(e.id.clone());
        }
    }
    let points: Vec<Point> = days
        .into_iter()
        .map(|(date, (value, records))| Point {
            date,
            value,
            records,
        })
        .collect();
    anomaly::fill_gaps(&points, 0.0)
}

/// Rightsizing candidates shown in a recommendation.
const TOP_RIGHTSIZING: usize = 5;

fn cost(
    ctx: &Ctx<'_>,
    kr: &KeyResultCard,
    window: Duration,
    make: &Make<'_>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let services = services_in(ctx.intent, &kr.scope);
    let all = crate::rightsize::candidates(ctx.ds, &kr.scope, &BTreeMap::new(), window, ctx.now);
    // held cuts keep their request, so what is left to save is ready
    let ready: Vec<_> = all
        .iter()
        .filter(|c| c.sizing.saving_per_month > 0.0)
        .collect();
    let held: Vec<_> = all.iter().filter(|c| !c.held_cuts.is_empty()).collect();
    if let Some(top) = ready.first() {
        let total: f64 = ready.iter().map(|c| c.sizing.saving_per_month).sum();
        let currency = top.sizing.currency.clone().unwrap_or_default();
        out.push(make(
            "rightsizing",
            format!(
                "rightsize {} workload(s) to p95 CPU / peak memory + 15%: {total:.2} {currency} a month, most from {} ({:.2} {currency}, {} risk)",
                ready.len(),
                top.sizing.workload,
                top.sizing.saving_per_month,
                top.sizing.risk
            ),
            "cost.monthly",
            true,
            json!({
                "currency": currency,
                "saving_per_month": total,
                "rule": "p95 CPU, peak memory, +15%, at least 25m / 250Mi (docs/metrics.md)",
                "top": ready.iter().take(TOP_RIGHTSIZING).collect::<Vec<_>>(),
                "held": held,
            }),
        ));
    }
    for s in &services {
        let series = daily_cost_series(ctx.intent, ctx.all_events, s);
        let recent = ctx.now.date_naive() - chrono::Duration::days(30);
        let found: Vec<_> = anomaly::detect(&series, &Params::default(), Some(true))
            .into_iter()
            .filter(|a| a.date >= recent && a.bad == Some(true))
            .collect();
        if found.is_empty() {
            continue;
        }
        let extra: f64 = found.iter().map(|a| a.observed - a.expected).sum();
        let currency = ctx
            .all_events
            .iter()
            .find_map(|e| match &e.payload {
                Payload::Cost(c) if cost_matches(ctx.intent, s, c) => Some(c.currency.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        out.push(make(
            "cost_anomaly",
            format!(
                "investigate {} anomalous cost day(s) of {s} in the last 30 days ({:.0} {currency} above expected)",
                found.len(),
                extra
            ),
            "cost.monthly",
            true,
            json!({
                "service": s,
                "anomalies": found.iter().map(|a| json!({
                    "date": a.date,
                    "observed": a.observed,
                    "expected": a.expected,
                    "expected_range": [a.expected_low, a.expected_high],
                    "sigmas": a.sigmas,
                    "relative": a.relative,
                    "records": a.records.iter().take(IDS).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
        ));
    }
    out
}

fn security(
    ctx: &Ctx<'_>,
    kr: &KeyResultCard,
    window: Duration,
    make: &Make<'_>,
) -> Vec<Recommendation> {
    let filter: BTreeMap<String, FilterValue> = kr.filter.clone();
    let ex = explain_with(ctx.ds, &kr.metric, &kr.scope, &filter, window, ctx.now);
    let mut findings: Vec<(DateTime<Utc>, &Event, &bearing_events::Finding)> = ex
        .records
        .iter()
        .filter_map(|r| ctx.events.get(r.event_id.as_str()).map(|e| (r.time, *e)))
        .filter_map(|(t, e)| match &e.payload {
            Payload::Finding(f) => Some((t, e, f)),
            _ => None,
        })
        .collect();
    // one entry per finding identity, oldest sighting first
    findings.sort_by_key(|f| f.0);
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.2.dedup_key()));
    let fixable: Vec<&(DateTime<Utc>, &Event, &bearing_events::Finding)> =
        findings.iter().filter(|f| f.2.fixable).collect();
    if fixable.is_empty() {
        return vec![make(
            "review",
            format!(
                "no fixable finding among the {} behind {}: review them for mitigations or waivers",
                findings.len(),
                kr.metric
            ),
            &kr.metric,
            true,
            json!({ "records": ex.records.iter().take(IDS).map(|r| &r.event_id).collect::<Vec<_>>() }),
        )];
    }
    let list: Vec<Value> = fixable
        .iter()
        .take(10)
        .map(|(t, e, f)| {
            json!({
                "finding": f.rule_id,
                "severity": f.severity.name(),
                "package": f.package,
                "installed": f.installed_version,
                "fixed_version": f.fixed_version,
                "target": f.target,
                "service": e.service,
                "first_seen": t,
                "age_days": (ctx.now - *t).num_days(),
                "record": e.id,
            })
        })
        .collect();
    let (t, _, f) = fixable[0];
    vec![make(
        "fix_oldest",
        format!(
            "fix the {} oldest fixable findings first: {} in {} (upgrade to {}), open {} days",
            list.len(),
            f.rule_id,
            f.package.as_deref().unwrap_or(&f.target),
            f.fixed_version.as_deref().unwrap_or("a fixed version"),
            (ctx.now - *t).num_days()
        ),
        &kr.metric,
        true,
        json!({ "fixable": fixable.len(), "total": findings.len(), "oldest_fixable": list }),
    )]
}

fn slo(
    ctx: &Ctx<'_>,
    kr: &KeyResultCard,
    window: Duration,
    make: &Make<'_>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for s in services_in(ctx.intent, &kr.scope) {
        let scope = svc_scope(&s, None);
        let budget = ctx.value(
            "slo.error_budget_remaining",
            &scope,
            window.max(DEFAULT_WINDOW),
        );
        let Some(b) = budget["value"].as_f64() else {
            continue;
        };
        if b > 0.25 {
            continue;
        }
        let cfr = ctx.value("dora.change_failure_rate", &scope, DEFAULT_WINDOW);
        out.push(make(
            "freeze",
            format!(
                "freeze non-fix deployments of {s} until the error budget recovers ({:.0}% left)",
                b * 100.0
            ),
            "slo.error_budget_remaining",
            false,
            json!({ "service": s, "error_budget_remaining": budget, "change_failure_rate": cfr }),
        ));
    }
    out
}
