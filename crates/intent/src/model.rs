//! The intent model: what an organisation wants from its delivery system.
//!
//! These types are the contract between `bearing.yaml` and every other part of
//! Bearing. Doc comments here become the descriptions in `bearing schema`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{Duration, Money, Percent, Target};

/// A whole intent: one `bearing.yaml`, or a folder of YAML files merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// Format version; always `1`.
    #[schemars(extend("const" = 1))]
    pub version: u32,
    /// Organisation name, shown on the scorecard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<Team>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Objective>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<Guardrail>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<Waiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflows: Option<Workflows>,
    /// Rules that change a service's delivery plan when outcomes drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adaptation: Vec<AdaptationRule>,
    /// Organisation-wide settings for security SLAs and metric linking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    /// Where to tell people about changes: key results changing status,
    /// services frozen or given another strategy, production denies,
    /// waivers about to expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

/// A team that owns services and objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where to reach the team (channel, email). When it is the id of a
    /// destination in `notifications:`, that is the team's default route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// How critical a service is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Critical,
    #[default]
    Standard,
    Experimental,
}

/// Who can reach a service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// Reachable from the internet.
    Internet,
    /// Reachable inside the organisation's network.
    #[default]
    Internal,
    /// Not reachable over the network (batch jobs, isolated workers).
    Isolated,
}

/// A deployable unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: String,
    /// The owning team's id.
    pub team: String,
    #[serde(default)]
    pub tier: Tier,
    /// Who can reach the service: weighs its findings' priority.
    #[serde(default)]
    pub exposure: Exposure,
    /// Repositories whose deliveries count for this service: a whole
    /// repository (`github.com/acme/svc-a`), or directories of a monorepo
    /// (`{repo: github.com/acme/mono, paths: [services/alpha]}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<RepoRef>,
    /// Environments in promotion order; the last one is production unless
    /// `production` is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// The environment whose deployments count for DORA metrics (default:
    /// `production` if listed, else the last environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<ServiceCost>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    /// Build and test commands used by generated workflows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// The default delivery plan; reconcile may tighten it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

impl Service {
    /// The environment that counts as production for this service.
    pub fn production_env(&self) -> &str {
        if let Some(p) = &self.production {
            return p;
        }
        if self.environments.iter().any(|e| e == "production") {
            return "production";
        }
        self.environments
            .last()
            .map_or("production", String::as_str)
    }
}

/// A repository a service claims: all of it, or some of its directories.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RepoRef {
    /// The whole repository, e.g. `github.com/acme/svc-a`.
    Whole(String),
    /// Directories of a monorepo.
    Paths(RepoPaths),
}

/// Directories of a monorepo: a commit belongs to the service when it
/// touches a file under one of `paths`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoPaths {
    /// The repository, e.g. `github.com/acme/mono`.
    pub repo: String,
    /// Directory prefixes relative to the repository root, e.g.
    /// `services/alpha` (matches `services/alpha/…`, not `services/alphabet/…`).
    #[schemars(length(min = 1))]
    pub paths: Vec<String>,
}

impl RepoRef {
    pub fn repo(&self) -> &str {
        match self {
            RepoRef::Whole(r) => r,
            RepoRef::Paths(p) => &p.repo,
        }
    }

    /// The claimed directories; empty for the whole repository.
    pub fn paths(&self) -> &[String] {
        match self {
            RepoRef::Whole(_) => &[],
            RepoRef::Paths(p) => &p.paths,
        }
    }
}

impl<'de> Deserialize<'de> for RepoRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RepoRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a repository, e.g. `github.com/acme/svc-a`, or `{repo: github.com/acme/mono, paths: [services/alpha]}`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RepoRef::Whole(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RepoPaths::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RepoRef::Paths)
            }
        }
        d.deserialize_any(V)
    }
}

/// Cost allocation and budget of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCost {
    /// Which cost rows belong to this service.
    #[serde(rename = "match")]
    pub matcher: CostMatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget: Option<Money>,
}

/// A cost row belongs to a service when all listed tags match, or its
/// ResourceId is listed (or starts with a listed prefix ending in `*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostMatch {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_ids: Vec<String>,
}

/// A service level objective computed from good/total metric points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    pub id: String,
    /// Share of good events, e.g. `99.9%`.
    pub target: Percent,
    /// Rolling compliance window, e.g. `28d`.
    pub window: Duration,
    /// The metric-point names of good and total events. Required without
    /// `source`; with one it defaults to `slo:<id>:good` and `slo:<id>:total`,
    /// the names the sync stores the points under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sli: Option<Sli>,
    /// Where the SLI is read from, instead of being pushed as metric points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SliSource>,
}

impl Slo {
    /// The metric-point names of good and total events: `sli`'s, else the
    /// defaults of an SLO with a `source`.
    pub fn series(&self) -> (String, String) {
        match &self.sli {
            Some(s) => (s.good.clone(), s.total.clone()),
            None => (
                format!("slo:{}:good", self.id),
                format!("slo:{}:total", self.id),
            ),
        }
    }

    /// The spacing of the SLO's points when the intent says it (the
    /// Prometheus resolution), else `None`.
    pub fn resolution(&self) -> Option<Duration> {
        self.source.as_ref().map(|s| s.prometheus.resolution())
    }
}

/// The metric-point names of good and total events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sli {
    pub good: String,
    pub total: String,
}

/// Where an SLO's indicator comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SliSource {
    pub prometheus: PrometheusSli,
}

/// Default spacing of the points read from Prometheus.
pub const DEFAULT_RESOLUTION: Duration = Duration::from_secs(60);
/// Default wait after an interval ends before it is read.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(60);

/// An SLI read from Prometheus' HTTP API (`/api/v1/query_range`, step =
/// `resolution`), as Sloth and Pyrra define SLIs: a query for good (or bad)
/// events and one for all events.
///
/// Each query must return, at every step, the number of events in the
/// interval that ends there: write `increase(...[{{.window}}])`, and Bearing
/// puts the resolution in place of `{{.window}}`. It must return one series
/// (aggregate with `sum(...)`); none at a step counts as zero events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSli {
    /// Prometheus' base URL, e.g. `http://prometheus:9090`.
    pub url: String,
    /// PromQL: good events per interval. Exactly one of `good` and `bad`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good: Option<String>,
    /// PromQL: bad events per interval; good = total - bad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<String>,
    /// PromQL: all events per interval.
    pub total: String,
    /// Spacing of the points (the query step), default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Duration>,
    /// How long after an interval ends it is read, default `1m`: a point is
    /// stored once, so samples scraped after it was read would be missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
}

impl PrometheusSli {
    pub fn resolution(&self) -> Duration {
        self.resolution.unwrap_or(DEFAULT_RESOLUTION)
    }
    pub fn delay(&self) -> Duration {
        self.delay.unwrap_or(DEFAULT_DELAY)
    }
}

/// Build and test commands for generated pipelines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Container image built by the pipeline (scanned by Trivy/Grype).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Terraform directory, if the service ships infrastructure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform: Option<String>,
    /// Command that deploys a version to an environment (`$ENVIRONMENT`, `$VERSION` are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
}

/// Deployment strategies, weakest first.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    #[default]
    Direct,
    BlueGreen,
    Canary,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::BlueGreen => "blue-green",
            Strategy::Canary => "canary",
        }
    }
}

/// How a service is delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    #[serde(default)]
    pub strategy: Strategy,
    /// Canary traffic steps in percent, e.g. `[5%, 25%, 50%]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_steps: Vec<Percent>,
    /// How long each canary step is analysed before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_analysis: Option<Duration>,
    /// Feature flag to roll out with the release, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_flag: Option<String>,
    /// Where the canary analysis reads its samples: without it the deploy
    /// command's `analyse` phase writes sample files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_prometheus: Option<CanaryPrometheus>,
}

/// The canary analysis' samples read from Prometheus (`bearing canary judge
/// --prometheus`), named like the metrics of an Argo Rollouts
/// AnalysisTemplate: each metric is one query for the baseline and one for
/// the canary, judged over the last `canary_analysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryPrometheus {
    /// Prometheus' base URL, e.g. `http://prometheus:9090`.
    pub url: String,
    /// The metrics judged; at least one, names unique.
    pub metrics: Vec<CanaryMetric>,
    /// Spacing of the samples (the query step), default `15s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Duration>,
}

/// Default spacing of the canary analysis' samples.
pub const DEFAULT_CANARY_STEP: Duration = Duration::from_secs(15);

impl CanaryPrometheus {
    pub fn step(&self) -> Duration {
        self.step.unwrap_or(DEFAULT_CANARY_STEP)
    }
}

/// One metric of the canary analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryMetric {
    /// The metric's name in the verdict, e.g. `error_rate`.
    pub name: String,
    /// PromQL for the baseline's samples, e.g. selecting `version="baseline"`.
    pub baseline: String,
    /// PromQL for the canary's samples, e.g. selecting `version="canary"`.
    pub canary: String,
    /// Which change is bad: `increase` (the default: errors, latency),
    /// `decrease` (throughput, success rate) or `either`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<CanaryBad>,
}

/// Which direction of change in a canary metric is bad.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanaryBad {
    #[default]
    Increase,
    Decrease,
    Either,
}

impl CanaryBad {
    pub fn name(self) -> &'static str {
        match self {
            CanaryBad::Increase => "increase",
            CanaryBad::Decrease => "decrease",
            CanaryBad::Either => "either",
        }
    }
}

/// The layer of the organisation an objective belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Engineering,
    Financial,
    Security,
    Business,
}

/// A business intent with measurable key results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub layer: Layer,
    /// Owning team id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::units::date::deserialize_opt"
    )]
    pub due: Option<NaiveDate>,
    pub key_results: Vec<KeyResult>,
}

/// A metric held against a target over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyResult {
    /// A metric from `bearing metrics`, e.g. `dora.lead_time.p50`.
    pub metric: String,
    #[serde(default)]
    pub scope: Scope,
    /// Extra filters, e.g. `severity: [critical, high]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FilterValue>,
    pub target: Target,
    /// Rolling window the metric is computed over (default `30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// One filter value or a list of accepted values.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum FilterValue {
    One(String),
    Any(Vec<String>),
}

impl<'de> Deserialize<'de> for FilterValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FilterValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value or a list of values, e.g. `critical` or `[critical, high]`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FilterValue::One(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(FilterValue::One(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(FilterValue::One(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(FilterValue::One(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FilterValue::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(FilterValue::Any(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl FilterValue {
    pub fn values(&self) -> Vec<&str> {
        match self {
            FilterValue::One(s) => vec![s.as_str()],
            FilterValue::Any(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What a key result, waiver or rule applies to. Empty means the whole organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Scope {
    pub fn is_org(&self) -> bool {
        self.team.is_none() && self.service.is_none() && self.environment.is_none()
    }
}

/// Built-in guardrail kinds; `rego` loads custom policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailKind {
    CostBudget,
    Vulnerabilities,
    ErrorBudget,
    IamLeastPrivilege,
    K8sBaseline,
    ChangeWindow,
    DeployStrategy,
    RequiredChecks,
    ChangeRisk,
    Rego,
}

impl GuardrailKind {
    pub const ALL: [GuardrailKind; 10] = [
        GuardrailKind::CostBudget,
        GuardrailKind::Vulnerabilities,
        GuardrailKind::ErrorBudget,
        GuardrailKind::IamLeastPrivilege,
        GuardrailKind::K8sBaseline,
        GuardrailKind::ChangeWindow,
        GuardrailKind::DeployStrategy,
        GuardrailKind::RequiredChecks,
        GuardrailKind::ChangeRisk,
        GuardrailKind::Rego,
    ];
    pub fn name(self) -> &'static str {
        match self {
            GuardrailKind::CostBudget => "cost_budget",
            GuardrailKind::Vulnerabilities => "vulnerabilities",
            GuardrailKind::ErrorBudget => "error_budget",
            GuardrailKind::IamLeastPrivilege => "iam_least_privilege",
            GuardrailKind::K8sBaseline => "k8s_baseline",
            GuardrailKind::ChangeWindow => "change_window",
            GuardrailKind::DeployStrategy => "deploy_strategy",
            GuardrailKind::RequiredChecks => "required_checks",
            GuardrailKind::ChangeRisk => "change_risk",
            GuardrailKind::Rego => "rego",
        }
    }
}

/// How a guardrail's violations affect the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Violations deny the change.
    #[default]
    Enforce,
    /// Violations are reported as warnings.
    Warn,
    /// Violations are only recorded in the decision log.
    Audit,
}

/// A policy that protects an objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guardrail {
    pub id: String,
    pub kind: GuardrailKind,
    /// The objective this guardrail protects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protects: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// Kind-specific parameters (see `docs/guardrails.md`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// For `rego`: a file or folder of policies, relative to the intent file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where the guardrail applies (default: everywhere).
    #[serde(default, skip_serializing_if = "Scope::is_org")]
    pub scope: Scope,
}

/// An exception to a guardrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub guardrail: String,
    #[serde(default)]
    pub scope: Scope,
    pub owner: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Last day the waiver applies (inclusive, UTC).
    #[serde(deserialize_with = "crate::units::date::deserialize")]
    pub expires: NaiveDate,
    /// Only these rule ids / messages are waived (default: all of the guardrail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Waiver {
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }
}

/// CI platforms Bearing generates pipelines for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WorkflowTarget {
    #[default]
    GithubActions,
    GitlabCi,
}

/// Settings for generated workflows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflows {
    #[serde(default)]
    pub target: WorkflowTarget,
    /// Scanner used in generated pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner: Option<Scanner>,
    /// URL of the Bearing server pipelines report to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scanner {
    #[default]
    Trivy,
    Grype,
}

/// When an expression over outcomes holds, change the delivery plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptationRule {
    /// Optional id used in the action log (default: `rule-<index>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// e.g. `dora.change_failure_rate(30d) > 15%`; `and` / `or` combine comparisons.
    pub when: String,
    pub then: PlanChange,
    /// Services the rule applies to (default: every service).
    #[serde(default, skip_serializing_if = "Scope::is_org")]
    pub scope: Scope,
    /// How long after applying to measure whether the metric moved (default `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_after: Option<Duration>,
}

/// A change to a service's delivery plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<bool>,
    /// Extra guardrail ids to enforce, e.g. `required_checks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_gates: Vec<String>,
    /// An action on the service's workloads instead of its delivery plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RuleAction>,
    /// `action: scale`: the `business.*` metric that measures demand (its
    /// daily mean is forecast), and how much of it one replica serves
    /// within the service's SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_replica: Option<f64>,
}

/// What a rule does to a service's workloads when it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RuleAction {
    /// Resize the workloads' CPU and memory requests by the rightsizing rule
    /// (docs/metrics.md): proposed by `bearing reconcile`, written into the
    /// manifests by `bearing reconcile --manifests DIR`.
    Rightsize,
    /// Set the HorizontalPodAutoscaler's `minReplicas`/`maxReplicas` from
    /// the demand forecast (needs `demand` and `per_replica`; docs/adapt.md).
    Scale,
}

/// Destinations for notifications and which events go where.
///
/// A team whose `contact` is a destination id gets every event about its
/// services and objectives there (its default route); `routes` add more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// Where notifications are posted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Named by routes and by a team's `contact`.
    pub id: String,
    pub kind: DestinationKind,
    /// The URL posted to. Exactly one of `url` and `url_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An environment variable holding the URL (a Slack webhook URL is a
    /// secret: keep it out of the intent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// `webhook` only: the environment variable holding the HMAC-SHA256
    /// secret; the body's signature is sent as
    /// `X-Bearing-Signature-256: sha256=<hex>`. Never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
}

/// The shape of what is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A Slack-compatible incoming webhook: `{text, blocks}`.
    Slack,
    /// A JSON document describing the event, signed with HMAC-SHA256.
    Webhook,
}

/// What can be notified.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A key result changed status (e.g. met → off_track).
    KrStatus,
    /// Reconcile froze a service.
    ServiceFrozen,
    /// Reconcile changed a service's delivery strategy.
    StrategyChanged,
    /// A decision denied a change to production.
    ProductionDeny,
    /// A waiver expires within 7 days.
    WaiverExpiring,
    /// A service's daily cost is anomalous (as `cost.anomalies` judges it).
    Anomaly,
    /// A newer KEV catalog lists open findings of a service as known exploited.
    KnownExploited,
}

impl NotificationKind {
    pub fn name(self) -> &'static str {
        match self {
            NotificationKind::KrStatus => "kr_status",
            NotificationKind::ServiceFrozen => "service_frozen",
            NotificationKind::StrategyChanged => "strategy_changed",
            NotificationKind::ProductionDeny => "production_deny",
            NotificationKind::WaiverExpiring => "waiver_expiring",
            NotificationKind::Anomaly => "anomaly",
            NotificationKind::KnownExploited => "known_exploited",
        }
    }
}

/// Sends matching events to a destination. Empty filters match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A destination id.
    pub to: String,
    /// Only these kinds of event (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotificationKind>,
    /// Only events about these teams (default: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    /// Only events about these services (default: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// Organisation-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Time to fix a finding, per severity (defaults: critical 15d, high 30d,
    /// medium 90d, low 180d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_sla: Option<SecuritySla>,
    /// How far back from an incident to look for the deployment that caused it (default `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_window: Option<Duration>,
    /// IANA time zone for daily buckets (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// CI runner prices in USD per minute, by runner OS (`linux`, `windows`,
    /// `macos`, `self-hosted`) or by exact runner label; what is not set
    /// keeps GitHub's list price (linux 0.008, windows 0.016, macos 0.08,
    /// self-hosted 0).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci_prices: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySla {
    #[serde(default = "sla_critical")]
    pub critical: Duration,
    #[serde(default = "sla_high")]
    pub high: Duration,
    #[serde(default = "sla_medium")]
    pub medium: Duration,
    #[serde(default = "sla_low")]
    pub low: Duration,
    /// Time to fix a finding whose CVE is in CISA's Known Exploited
    /// Vulnerabilities catalog (e.g. `7d`); the shortest applicable SLA wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<Duration>,
    /// Time to fix a finding whose EPSS score is at least `at_least`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssSla>,
}

/// An SLA for findings likely to be exploited: `{at_least: 0.5, within: 15d}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EpssSla {
    /// EPSS probability (0 to 1) from which the SLA applies.
    pub at_least: f64,
    pub within: Duration,
}

impl Default for SecuritySla {
    fn default() -> Self {
        SecuritySla {
            critical: sla_critical(),
            high: sla_high(),
            medium: sla_medium(),
            low: sla_low(),
            kev: None,
            epss: None,
        }
    }
}

fn sla_critical() -> Duration {
    Duration::from_days(15)
}
fn sla_high() -> Duration {
    Duration::from_days(30)
}
fn sla_medium() -> Duration {
    Duration::from_days(90)
}
fn sla_low() -> Duration {
    Duration::from_days(180)
}

impl Intent {
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }
    pub fn objective(&self, id: &str) -> Option<&Objective> {
        self.objectives.iter().find(|o| o.id == id)
    }
    pub fn guardrail(&self, id: &str) -> Option<&Guardrail> {
        self.guardrails.iter().find(|g| g.id == id)
    }
    /// Services owned by a team.
    pub fn services_of<'a>(&'a self, team: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.iter().filter(move |s| s.team == team)
    }
    pub fn security_sla(&self) -> SecuritySla {
        self.settings
            .as_ref()
            .and_then(|s| s.security_sla.clone())
            .unwrap_or_default()
    }
    pub fn incident_window(&self) -> Duration {
        self.settings
            .as_ref()
            .and_then(|s| s.incident_window)
            .unwrap_or(Duration::from_hours(24))
    }
}
