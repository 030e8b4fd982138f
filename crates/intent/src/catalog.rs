//! The metric catalog: every metric a key result or adaptation rule may name.
//!
//! Data, not code: the metric engine implements each entry, validation checks
//! names, scopes and units against it, and `bearing metrics` prints it. Full
//! definitions live in `docs/metrics.md`.

use serde::Serialize;

use crate::model::Layer;
use crate::units::Unit;

/// What a metric can be cut by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Org,
    Team,
    Service,
    Environment,
}

/// One catalog entry.
#[derive(Debug, Clone, Serialize)]
pub struct MetricDef {
    pub name: &'static str,
    pub layer: Layer,
    pub unit: Unit,
    pub scopes: &'static [ScopeKind],
    /// Filter keys a key result may set.
    pub filters: &'static [&'static str],
    /// Whether lower values are better (used for trends and anomaly direction).
    pub lower_is_better: bool,
    pub definition: &'static str,
}

use ScopeKind::{Environment as E, Org as O, Service as S, Team as T};

const ALL_SCOPES: &[ScopeKind] = &[O, T, S, E];
const ORG_TEAM_SERVICE: &[ScopeKind] = &[O, T, S];
const SEVERITY: &[&str] = &["severity", "scanner", "kind"];
const JOB: &[&str] = &["pipeline", "job"];
const STEP: &[&str] = &["pipeline", "job", "step"];

macro_rules! metric {
    ($name:expr, $layer:ident, $unit:ident, $scopes:expr, $filters:expr, $lower:expr, $def:expr) => {
        MetricDef {
            name: $name,
            layer: Layer::$layer,
            unit: Unit::$unit,
            scopes: $scopes,
            filters: $filters,
            lower_is_better: $lower,
            definition: $def,
        }
    };
}

/// Every metric Bearing computes, except `business.*` series (see [`lookup`]).
pub const METRICS: &[MetricDef] = &[
    metric!(
        "dora.deployment_frequency",
        Engineering,
        Rate,
        ALL_SCOPES,
        &[],
        false,
        "successful production deployments per period over the window"
    ),
    metric!(
        "dora.lead_time",
        Engineering,
        Duration,
        ALL_SCOPES,
        &[],
        true,
        "median time from a commit to that commit running in production (same as dora.lead_time.p50)"
    ),
    metric!(
        "dora.lead_time.p50",
        Engineering,
        Duration,
        ALL_SCOPES,
        &[],
        true,
        "50th percentile of commit-to-production time over commits deployed in the window"
    ),
    metric!(
        "dora.lead_time.p90",
        Engineering,
        Duration,
        ALL_SCOPES,
        &[],
        true,
        "90th percentile of commit-to-production time over commits deployed in the window"
    ),
    metric!(
        "dora.change_failure_rate",
        Engineering,
        Percent,
        ALL_SCOPES,
        &[],
        true,
        "production deployments that needed remediation (rollback, hotfix or linked incident) / all production deployments"
    ),
    metric!(
        "dora.recovery_time",
        Engineering,
        Duration,
        ALL_SCOPES,
        &[],
        true,
        "median time from a failed deployment to the deployment or rollback that restored service"
    ),
    metric!(
        "dora.rework_rate",
        Engineering,
        Percent,
        ALL_SCOPES,
        &[],
        true,
        "unplanned deployments made to fix a user-facing incident / all production deployments"
    ),
    metric!(
        "pipeline.success_rate",
        Engineering,
        Percent,
        ALL_SCOPES,
        &["pipeline"],
        false,
        "finished pipeline runs (whole runs, not their jobs) that succeeded / all finished pipeline runs"
    ),
    metric!(
        "pipeline.duration.p50",
        Engineering,
        Duration,
        ALL_SCOPES,
        &["pipeline"],
        true,
        "median duration of finished pipeline runs (whole runs, not their jobs)"
    ),
    metric!(
        "pipeline.duration.p90",
        Engineering,
        Duration,
        ALL_SCOPES,
        &["pipeline"],
        true,
        "90th percentile duration of finished pipeline runs (whole runs, not their jobs)"
    ),
    metric!(
        "pipeline.queue_time.p50",
        Engineering,
        Duration,
        ALL_SCOPES,
        JOB,
        true,
        "median time a pipeline job waited for a runner: queued (created) to started"
    ),
    metric!(
        "pipeline.queue_time.p90",
        Engineering,
        Duration,
        ALL_SCOPES,
        JOB,
        true,
        "90th percentile time a pipeline job waited for a runner: queued (created) to started"
    ),
    metric!(
        "pipeline.job.duration.p50",
        Engineering,
        Duration,
        ALL_SCOPES,
        JOB,
        true,
        "median duration (started to completed) of pipeline jobs that succeeded or failed"
    ),
    metric!(
        "pipeline.job.duration.p90",
        Engineering,
        Duration,
        ALL_SCOPES,
        JOB,
        true,
        "90th percentile duration (started to completed) of pipeline jobs that succeeded or failed"
    ),
    metric!(
        "pipeline.step.duration.p50",
        Engineering,
        Duration,
        ALL_SCOPES,
        STEP,
        true,
        "median duration of finished steps of pipeline jobs"
    ),
    metric!(
        "pipeline.step.duration.p90",
        Engineering,
        Duration,
        ALL_SCOPES,
        STEP,
        true,
        "90th percentile duration of finished steps of pipeline jobs"
    ),
    metric!(
        "pipeline.job.success_rate",
        Engineering,
        Percent,
        ALL_SCOPES,
        JOB,
        false,
        "pipeline jobs that succeeded / jobs that succeeded or failed"
    ),
    metric!(
        "pipeline.job.flaky_rate",
        Engineering,
        Percent,
        ALL_SCOPES,
        JOB,
        true,
        "(job, commit) pairs where the job failed and later passed on the same commit / (job, commit) pairs the job ran on"
    ),
    metric!(
        "pipeline.minutes",
        Financial,
        Count,
        ALL_SCOPES,
        JOB,
        true,
        "CI minutes billed for pipeline jobs: each job's run time rounded up to a whole minute"
    ),
    metric!(
        "pipeline.cost",
        Financial,
        Money,
        ALL_SCOPES,
        JOB,
        true,
        "billed CI minutes × the runner's per-minute price (settings.ci_prices, default GitHub's list prices), USD"
    ),
    metric!(
        "pipeline.wasted_minutes",
        Financial,
        Count,
        ALL_SCOPES,
        JOB,
        true,
        "CI minutes of failed attempts of flaky jobs, of cancelled jobs, and of jobs still running after a newer commit's run of the same pipeline and branch was queued"
    ),
    metric!(
        "cost.monthly",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &["provider", "service_category"],
        true,
        "effective cost attributed through the intent's cost match over the current calendar month (in settings.timezone)"
    ),
    metric!(
        "cost.daily",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &["provider", "service_category"],
        true,
        "effective cost attributed through the intent's cost match on the last complete day (in settings.timezone)"
    ),
    metric!(
        "cost.forecast",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &[],
        true,
        "month-end spend forecast: month-to-date cost plus the trailing 7-day daily mean times the days left"
    ),
    metric!(
        "cost.budget_used",
        Financial,
        Percent,
        ORG_TEAM_SERVICE,
        &[],
        true,
        "month-end forecast / monthly budget"
    ),
    metric!(
        "cost.per_deployment",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &[],
        true,
        "cost over the window / successful production deployments over the window"
    ),
    metric!(
        "cost.utilisation",
        Financial,
        Percent,
        ORG_TEAM_SERVICE,
        &[],
        false,
        "consumed quantity / committed or allocated quantity, where the cost data carries both"
    ),
    metric!(
        "cost.efficiency",
        Financial,
        Percent,
        ORG_TEAM_SERVICE,
        &["workload", "resource"],
        false,
        "sum of usage / request x cost over sum of cost, for CPU and memory of every cost row with requests above zero (OpenCost allocations)"
    ),
    metric!(
        "cost.idle",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &["workload", "resource"],
        true,
        "requested but unused, priced: sum of cost x (request - usage) / request for CPU and memory where the request exceeds the usage"
    ),
    metric!(
        "cost.savings_opportunity",
        Financial,
        Money,
        ORG_TEAM_SERVICE,
        &["workload"],
        true,
        "monthly saving of the rightsizing rule's cuts: (request - recommended) x price x 730 h, recommended = p95 CPU / peak memory + 15%"
    ),
    metric!(
        "cost.commitment_utilisation",
        Financial,
        Percent,
        ORG_TEAM_SERVICE,
        &[],
        false,
        "effective cost of FOCUS rows with CommitmentDiscountStatus Used / that of rows Used or Unused"
    ),
    metric!(
        "cost.anomalies",
        Financial,
        Count,
        ORG_TEAM_SERVICE,
        &[],
        true,
        "days in the window whose cost lies more than 3 robust deviations (1.4826 x MAD, at least 5% of the median) from the median of the 28 days before"
    ),
    metric!(
        "security.open_findings",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "findings (deduplicated by vulnerability, package and target) not yet fixed"
    ),
    metric!(
        "security.findings_past_sla",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "open findings older than their SLA: the shortest of their severity's (defaults: critical 15d, high 30d, medium 90d, low 180d) and, when set, the KEV and EPSS SLAs"
    ),
    metric!(
        "security.kev_open",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "open findings whose CVE is in CISA's Known Exploited Vulnerabilities catalog"
    ),
    metric!(
        "security.kev_past_due",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "open known-exploited findings past the KEV catalog's due date for their CVE"
    ),
    metric!(
        "security.epss_weighted_exposure",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "sum over open vulnerability findings of their exploitation probability (EPSS; 1 when in KEV): the findings expected to be exploited in 30 days"
    ),
    metric!(
        "security.remediation_time",
        Security,
        Duration,
        ORG_TEAM_SERVICE,
        SEVERITY,
        true,
        "mean time from first seen to fixed over findings fixed in the window"
    ),
    metric!(
        "security.compliance_rate",
        Security,
        Percent,
        ALL_SCOPES,
        &["guardrail"],
        false,
        "guardrail decisions allowed without a waiver / all decisions in the window"
    ),
    metric!(
        "incident.time_to_acknowledge",
        Security,
        Duration,
        ORG_TEAM_SERVICE,
        &["severity"],
        true,
        "median time from an incident being opened to being acknowledged"
    ),
    metric!(
        "incident.time_to_resolve",
        Security,
        Duration,
        ORG_TEAM_SERVICE,
        &["severity"],
        true,
        "median time from an incident being opened to being resolved"
    ),
    metric!(
        "incident.count",
        Security,
        Count,
        ORG_TEAM_SERVICE,
        &["severity"],
        true,
        "incidents opened in the window"
    ),
    metric!(
        "slo.attainment",
        Engineering,
        Percent,
        &[O, T, S],
        &["slo"],
        false,
        "good events / total events over the SLO window"
    ),
    metric!(
        "slo.error_budget_remaining",
        Engineering,
        Percent,
        &[O, T, S],
        &["slo"],
        false,
        "1 - (bad events / (total events x (1 - SLO target))); negative once the budget is spent"
    ),
    metric!(
        "slo.burn_rate",
        Engineering,
        Ratio,
        &[O, T, S],
        &["slo", "window"],
        true,
        "error rate over a window / (1 - SLO target); alerts on the 1h/5m (14.4x), 6h/30m (6x) and 3d/6h (1x) pairs"
    ),
    metric!(
        "feature.time_to_value",
        Business,
        Duration,
        &[O, T, S],
        &["flag", "metric"],
        true,
        "time from a feature's first commit to the first day its business metric moved significantly after release"
    ),
];

/// Prefix of free-form business series.
pub const BUSINESS_PREFIX: &str = "business.";

/// Catalog entry for business series, returned by [`lookup`] for `business.*`.
pub const BUSINESS: MetricDef = metric!(
    "business.*",
    Business,
    Count,
    &[O, T, S],
    &["dimension"],
    false,
    "mean of an ingested metric-point series over the window; any unit"
);

/// Finds a metric by name; `business.<name>` matches the business entry.
pub fn lookup(name: &str) -> Option<&'static MetricDef> {
    if let Some(rest) = name.strip_prefix(BUSINESS_PREFIX) {
        return (!rest.is_empty()).then_some(&BUSINESS);
    }
    METRICS.iter().find(|m| m.name == name)
}

/// All names, for "did you mean" suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lookup_works() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "duplicate {}", m.name);
            assert_eq!(lookup(m.name).map(|d| d.name), Some(m.name));
        }
        assert!(lookup("business.checkout_conversion").is_some());
        assert!(lookup("business.").is_none());
        assert!(lookup("dora.lead_tim").is_none());
    }
}
