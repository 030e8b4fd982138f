//! The canonical event: one fact from the delivery system.
//!
//! Every adapter turns its input format into [`Event`]s; the store keeps them;
//! the metric engine reads them. An event's `id` is stable: the same source
//! event always gets the same id, which is what makes ingest idempotent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One delivery fact.
///
/// Serialised as `{"id","source","time","service","environment","links","attributes","kind","data"}`.
/// `Deserialize` is written by hand (see [`crate::event_de`]) because it is the hot path of
/// bulk JSONL ingest and `#[serde(flatten)]` would buffer every event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Stable, source-scoped id (e.g. `github:deployment_status:1234`,
    /// `cdevents:<context.id>`); the same source event always maps to the same id.
    pub id: String,
    /// Where the event came from (e.g. `github`, `cdevents:/tekton`, `trivy`).
    pub source: String,
    /// When the fact happened (not when it was received).
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// References to other events or external records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Source-specific extras kept verbatim (e.g. CDEvents `customData`, SARIF rule tags).
    /// Never needed by the metrics; shown by `events list` and kept for audit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(flatten)]
    pub payload: Payload,
}

impl Event {
    /// An event with no service, environment, links or attributes.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        time: DateTime<Utc>,
        payload: Payload,
    ) -> Event {
        Event {
            id: id.into(),
            source: source.into(),
            time,
            service: None,
            environment: None,
            links: Vec::new(),
            attributes: BTreeMap::new(),
            payload,
        }
    }

    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }
}

/// A reference from one event to another record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// What the link means: `caused_by`, `deployment`, `change`, `incident`, `url`, …
    pub rel: String,
    /// The target: an event id, a deployment id, a commit, a URL.
    pub target: String,
}

/// Event kinds, as stored and as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Change,
    PipelineRun,
    Deployment,
    Rollback,
    Incident,
    Cost,
    Finding,
    MetricPoint,
    FeatureFlag,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Change,
        Kind::PipelineRun,
        Kind::Deployment,
        Kind::Rollback,
        Kind::Incident,
        Kind::Cost,
        Kind::Finding,
        Kind::MetricPoint,
        Kind::FeatureFlag,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Kind::Change => "change",
            Kind::PipelineRun => "pipeline_run",
            Kind::Deployment => "deployment",
            Kind::Rollback => "rollback",
            Kind::Incident => "incident",
            Kind::Cost => "cost",
            Kind::Finding => "finding",
            Kind::MetricPoint => "metric_point",
            Kind::FeatureFlag => "feature_flag",
        }
    }
    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The kind-specific part of an event. Serialised as `"kind": "...", "data": {...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Payload {
    Change(Change),
    PipelineRun(PipelineRun),
    Deployment(Deployment),
    Rollback(Rollback),
    Incident(Incident),
    Cost(CostRow),
    Finding(Finding),
    MetricPoint(MetricPoint),
    FeatureFlag(FeatureFlag),
}

impl Payload {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Change(_) => Kind::Change,
            Payload::PipelineRun(_) => Kind::PipelineRun,
            Payload::Deployment(_) => Kind::Deployment,
            Payload::Rollback(_) => Kind::Rollback,
            Payload::Incident(_) => Kind::Incident,
            Payload::Cost(_) => Kind::Cost,
            Payload::Finding(_) => Kind::Finding,
            Payload::MetricPoint(_) => Kind::MetricPoint,
            Payload::FeatureFlag(_) => Kind::FeatureFlag,
        }
    }
}

/// A commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// When the commit was authored (the start of the lead-time clock).
    #[serde(deserialize_with = "crate::timestamp::de")]
    pub authored_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Paths the commit added, modified or removed, when the source lists
    /// them (GitHub push events do); what places a monorepo's commits with
    /// the services whose `repos` paths they touch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// Commits merged into the main line: a push or a merged pull request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// PR number or push id within the repo.
    pub change_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The commits the change brings, oldest first.
    #[serde(default)]
    pub commits: Vec<Commit>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub merged_at: Option<DateTime<Utc>>,
    /// The commit on the main line (squash or merge commit), if different from the last commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_changed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletions: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// Outcome of a run or deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Failure,
    Cancelled,
    InProgress,
}

/// A CI pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    pub run_id: String,
    pub pipeline: String,
    pub status: Status,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the run or job was created (queued); queue time is
    /// `started_at - queued_at`.
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub queued_at: Option<DateTime<Utc>>,
    /// Which attempt of the run this is (GitHub `run_attempt`, from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The branch the run built (GitHub `head_branch`, GitLab `ref`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Set when the record is one job of a run rather than the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Box<PipelineJob>>,
}

impl PipelineRun {
    /// A run record with only the fields every source has.
    pub fn new(run_id: impl Into<String>, pipeline: impl Into<String>, status: Status) -> Self {
        PipelineRun {
            run_id: run_id.into(),
            pipeline: pipeline.into(),
            status,
            started_at: None,
            finished_at: None,
            commit: None,
            url: None,
            queued_at: None,
            attempt: None,
            branch: None,
            job: None,
        }
    }
}

/// What makes a pipeline record a job: its name, the run it belongs to,
/// where it ran and its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineJob {
    /// The job's name as the workflow file gives it (GitHub `name`, GitLab `build_name`).
    pub name: String,
    /// The `run_id` of the run this job belongs to.
    pub run: String,
    /// GitLab stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Jobs this one waits for, where the source says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// Runner labels (GitHub `labels`, GitLab runner tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runner_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<PipelineStep>,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineStep {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    pub status: Status,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The shape of a pipeline as its file declares it (read by
/// `bearing-workflow`, used by pipeline insights to point at lines).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineLayout {
    /// The file, relative to the repository.
    pub file: String,
    /// The pipeline's name (GitHub `name:`, else the file name).
    pub name: String,
    /// Whether runs cancel older in-progress runs of the same group.
    pub cancel_in_progress: bool,
    /// Line of `on:` (or of the file's first key): where `concurrency:` goes.
    pub line: u32,
    pub jobs: Vec<LayoutJob>,
}

/// One job of a [`PipelineLayout`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayoutJob {
    /// The job's id (the key under `jobs:`).
    pub id: String,
    /// Its display name (`name:`), which is what GitHub reports for jobs.
    pub name: Option<String>,
    pub line: u32,
    pub needs: Vec<String>,
    pub steps: Vec<LayoutStep>,
}

/// One step of a [`LayoutJob`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayoutStep {
    /// `name:`, else `uses:` or the first line of `run:` (what GitHub shows).
    pub name: String,
    pub line: u32,
    pub uses: Option<String>,
    pub run: Option<String>,
    /// `with:` keys such as `cache` of `actions/setup-node`.
    pub with: Vec<(String, String)>,
}

/// A deployment of a version to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub deployment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The head commit deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The commits this deployment brings, when the source lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<String>,
    pub status: Status,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
    /// `direct`, `canary`, `blue-green`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// e.g. `hotfix` marks an unplanned deployment (rework).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// A rollback of a service in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub rollback_id: String,
    /// The deployment that was rolled back, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
}

/// Incident lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Opened,
    Acknowledged,
    Resolved,
}

/// One step of an incident's life; the metric engine folds steps by `incident_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub incident_id: String,
    pub status: IncidentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub opened_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "crate::timestamp::de_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One FOCUS cost row (only the columns Bearing uses are typed; the rest stay in `extra`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    pub billed_cost: f64,
    pub effective_cost: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_cost: Option<f64>,
    pub currency: String,
    #[serde(deserialize_with = "crate::timestamp::de")]
    pub charge_period_start: DateTime<Utc>,
    #[serde(deserialize_with = "crate::timestamp::de")]
    pub charge_period_end: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_quantity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_unit: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// FOCUS `PricingQuantity`: the quantity the price applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_quantity: Option<f64>,
    /// FOCUS `CommitmentDiscountId` and `CommitmentDiscountStatus` (`Used`,
    /// `Unused`): the row draws on (or is the unused part of) a commitment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_status: Option<String>,
    /// Requested and used CPU and memory behind the cost (OpenCost allocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Box<ResourceUsage>>,
}

/// Requested and used CPU and memory of one workload over the cost row's
/// period, as OpenCost's allocation API reports them (averages over the
/// period; maxima when the response has them), with what each resource cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// The workload the row is about: the allocation's name, which is
    /// OpenCost's aggregation key (`shop/checkout/api` for
    /// `aggregate=namespace,controller,container`, `shop` by namespace).
    pub workload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Minutes the workload ran in the period.
    pub minutes: f64,
    pub cpu_request_cores: f64,
    pub cpu_usage_cores: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usage_max_cores: Option<f64>,
    /// Cost of the CPU allocated (OpenCost: `max(request, usage)` core-hours × price).
    pub cpu_cost: f64,
    pub ram_request_bytes: f64,
    pub ram_usage_bytes: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_usage_max_bytes: Option<f64>,
    pub ram_cost: f64,
    /// Pods behind the figures when OpenCost says (`properties.pod` set:
    /// one pod); absent when the row may sum several pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<f64>,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Vulnerability,
    Misconfiguration,
    Secret,
    Code,
    License,
}

/// Normalised severity, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
    Unknown,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
            Severity::Unknown => "unknown",
        }
    }
}

/// Where in a file a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// A vulnerability or misconfiguration reported by one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub scanner: String,
    /// Identifies one scan: findings of a target missing from a later scan are fixed.
    pub scan_id: String,
    pub kind: FindingKind,
    /// CVE/GHSA id or rule id.
    pub rule_id: String,
    pub severity: Severity,
    /// What was scanned: image, lockfile, repository path.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    pub fixable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Finding {
    /// The cross-scanner identity: (vulnerability, package, target), normalised so
    /// that two scanners reporting the same CVE in the same package of the same
    /// image agree (see [`crate::formats::normalize_target`] and `docs/formats.md`).
    pub fn dedup_key(&self) -> String {
        format!(
            "{}|{}|{}",
            crate::formats::normalize_vulnerability(&self.rule_id),
            self.package
                .as_deref()
                .map(crate::formats::normalize_package)
                .unwrap_or_default(),
            crate::formats::normalize_target(&self.target)
        )
    }
}

/// One sample of a named series (SLI counters, business KPIs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

/// A feature flag turned on, off or re-weighted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureFlag {
    pub flag: String,
    pub enabled: bool,
    /// Share of traffic in percent, when the flag is a gradual rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<f64>,
}
