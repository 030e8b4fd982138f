//! Outcome metrics: DORA, pipeline, cost, security, incident, SLO and
//! business figures computed from delivery events, and the intent scorecard.
//!
//! Pure computation: nothing here reads a database. The caller loads events,
//! finding lifecycles and decisions (from the store, a file, a generator),
//! builds a [`Dataset`] once — events indexed per service in compact,
//! time-sorted vectors — and then asks for figures:
//!
//! - [`evaluate`]: one catalog metric for a scope, filter and window;
//! - [`explain`]: the same figure with every record behind it and its role;
//! - [`scorecard`]: every objective and key result of the intent, with status
//!   and trend;
//! - [`outcomes`]: per-service figures the guardrails and reconcile read.
//!
//! Definitions are in `docs/metrics.md`; the code and that document agree.

mod business;
mod cost;
mod dataset;
mod dora;
mod engine;
mod explain;
mod filter;
mod outcomes;
mod pipeline;
mod rightsize;
mod scorecard;
mod security;
mod slo;
pub mod stats;
pub mod synth;
pub mod threat;

pub use business::{Comparison, compare_around};
pub use cost::CostAnomaly;
pub use dataset::{Dataset, FindingRecord, unclaimed_repos};
pub use dora::{DoraLevel, dora_level};
pub use engine::{MetricValue, cost_anomalies, evaluate, fmt_secs, format_value, min_samples};
pub use explain::{Explanation, TracedRecord, explain, explain_with};
pub use filter::{filters_text, parse_filters};
pub use outcomes::{
    Outcomes, ServiceOutcome, SeverityCounts, THREAT_EPSS_FLOOR, ThreatFinding, outcomes,
};
pub use pipeline::{
    Bar, DEFAULT_PRICES, Insight, JobSummary, Objective, PipelineReport, PipelineSummary, Prices,
    insight_id, pipeline_report,
};
pub use rightsize::{
    CPU_PERCENTILE, HOURS_PER_MONTH, MARGIN, MIN_CPU_CORES, MIN_RAM_BYTES, PodSpec, Rightsizing,
    format_cpu, format_memory, recommend, rightsizing, rightsizing_per_pod,
};
pub use scorecard::{
    KeyResultCard, ObjectiveCard, Scorecard, ScorecardFilter, Status, Trend, scorecard,
};
pub use slo::{BurnAlert, burn_alerts};

/// Default window of a key result without one.
pub const DEFAULT_WINDOW: bearing_intent::Duration = bearing_intent::Duration::from_days(30);
