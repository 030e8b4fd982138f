//! The indexed dataset every metric reads.
//!
//! Events are folded once into compact, per-service vectors sorted by
//! `(time, event id)` — never kept as [`Event`]s — so ten million events fit
//! in well under a gigabyte and metrics are binary searches plus short scans.
//! Linking (commits to deployments, failures and incidents to deployments)
//! is derived per service; [`Dataset::push`] re-derives only the service the
//! new event touches, which keeps incremental updates in the millisecond
//! range. Sorting by `(time, id)` makes every figure independent of the order
//! in which events arrived.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bearing_events::{
    DecisionRecord, DecisionSummary, Event, FindingKind, IncidentStatus, Link, Payload,
    PipelineJob, PipelineRun, Severity, Status,
};
use bearing_intent::{CostMatch, Intent};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch.
pub(crate) type Ts = i64;
/// Marker for "none" in compact `u32` fields.
pub(crate) const NONE: u32 = u32::MAX;

pub(crate) fn ts(t: DateTime<Utc>) -> Ts {
    t.timestamp()
}

pub(crate) fn to_time(t: Ts) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

/// A finding's lifecycle, as the caller knows it (the store's finding
/// states map onto this one to one). Findings may also be derived from
/// `finding` events pushed into the dataset; a record given here wins over a
/// derived one with the same key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// Cross-scanner identity: `rule|package|target` ([`bearing_events::Finding::dedup_key`]).
    pub key: String,
    #[serde(default)]
    pub service: Option<String>,
    pub severity: Severity,
    pub scanner: String,
    pub kind: FindingKind,
    pub first_seen: DateTime<Utc>,
    #[serde(default)]
    pub fixed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub event_ids: Vec<String>,
}

/// Append-only string arena: one allocation for millions of ids.
#[derive(Default)]
pub(crate) struct Strs {
    buf: String,
    ends: Vec<u32>,
}

impl Strs {
    /// Appends a string; past 4 GiB of text further strings are kept empty.
    pub fn push(&mut self, s: &str) -> u32 {
        if self.buf.len() + s.len() <= u32::MAX as usize {
            self.buf.push_str(s);
        }
        self.ends.push(self.buf.len() as u32);
        (self.ends.len() - 1) as u32
    }
    pub fn get(&self, i: u32) -> &str {
        let i = i as usize;
        if i >= self.ends.len() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.buf.get(start..self.ends[i] as usize).unwrap_or("")
    }
}

/// Small name ↔ index table (services, environments, series names).
#[derive(Default)]
pub(crate) struct Interner {
    map: FxMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }
    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", String::as_str)
    }
}

/// One commit known from a change event or referenced by a deployment.
pub(crate) struct CommitRec {
    pub sha: u32,
    pub authored: Option<Ts>,
    /// Range into [`Commits::parents`].
    pub parents: (u32, u32),
    /// This sha is the squash or merge commit of a change that lists its own
    /// commits, or the last (head) commit of such a list: it stands for those
    /// commits. A head that is itself listed is also a sample of its own.
    pub squash_of: u32,
    /// The change event that told us about the commit.
    pub ev: u32,
}

pub(crate) struct ChangeRec {
    pub commits: Vec<u32>,
}

/// Commit index: sha → commit, with parents and squash/merge expansion.
#[derive(Default)]
pub(crate) struct Commits {
    by_hash: FxMap<u64, u32>,
    collide: FxMap<String, u32>,
    pub recs: Vec<CommitRec>,
    pub shas: Strs,
    pub parents: Vec<u32>,
    pub changes: Vec<ChangeRec>,
}

/// FxHash-style hasher: a rotate, xor and multiply per 8 bytes. Much faster
/// than SipHash on millions of short keys; not DoS-resistant, which a batch
/// metric engine over the organisation's own events does not need.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;
pub(crate) type FxSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fx>>;

/// 64-bit hash of a commit id, finished with the splitmix64 avalanche.
fn hash64(s: &str) -> u64 {
    let mut h = Fx::default();
    h.write(s.as_bytes());
    let mut z = h.finish() ^ s.len() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Commits {
    pub fn lookup(&self, sha: &str) -> Option<u32> {
        let h = hash64(sha);
        match self.by_hash.get(&h) {
            Some(&i) if self.shas.get(self.recs[i as usize].sha) == sha => Some(i),
            Some(_) => self.collide.get(sha).copied(),
            None => None,
        }
    }
    pub fn intern(&mut self, sha: &str) -> u32 {
        if let Some(i) = self.lookup(sha) {
            return i;
        }
        let i = self.recs.len() as u32;
        let s = self.shas.push(sha);
        self.recs.push(CommitRec {
            sha: s,
            authored: None,
            parents: (0, 0),
            squash_of: NONE,
            ev: NONE,
        });
        match self.by_hash.entry(hash64(sha)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collide.insert(sha.to_string(), i);
            }
        }
        i
    }
    pub fn parents_of(&self, c: u32) -> &[u32] {
        let (s, n) = self.recs[c as usize].parents;
        &self.parents[s as usize..(s + n) as usize]
    }
    pub fn sha(&self, c: u32) -> &str {
        self.shas.get(self.recs[c as usize].sha)
    }
}

/// A deployment attempt (in-progress steps are not kept).
pub(crate) struct DeployRec {
    pub time: Ts,
    pub ev: u32,
    pub dep_id: u32,
    pub head: u32,
    /// Range into [`Dataset::deploy_commits`].
    pub commits: (u32, u32),
    pub ok: bool,
    pub unplanned: bool,
    /// The feature the deployment releases (label `feature`, `feature:<name>`
    /// or `flag:<name>`): a name id, or [`NONE`].
    pub feature: u32,
    pub links: Vec<Link>,
}

/// Why a deployment counts as failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cause {
    Rollback { ev: u32 },
    Hotfix { ev: u32 },
    Incident { inc: u32 },
}

/// What linking derived for one deployment.
#[derive(Clone, Default)]
pub(crate) struct Derived {
    pub failed: Option<Cause>,
    pub restored: Option<(Ts, u32)>,
    pub rolled_back: bool,
    pub rework: bool,
    /// Range into [`Track::leads`].
    pub lead: (u32, u32),
    /// Why the deployment has no lead-time samples, when it has none.
    pub lead_note: Option<&'static str>,
}

/// One commit's lead time, attributed to the deployment that shipped it.
#[derive(Clone, Copy)]
pub(crate) struct Lead {
    pub commit: u32,
    pub secs: f64,
}

/// Deployments of one service to one environment, sorted, with derived links.
pub(crate) struct Track {
    pub env: u32,
    pub deploys: Vec<DeployRec>,
    pub derived: Vec<Derived>,
    pub leads: Vec<Lead>,
    /// Indices of successful deployments, and their times (for binary search).
    pub ok_idx: Vec<u32>,
    pub ok_times: Vec<Ts>,
}

pub(crate) struct RollbackRec {
    pub time: Ts,
    pub ev: u32,
    pub env: u32,
    pub dep_id: u32,
}

pub(crate) struct PipeRec {
    pub time: Ts,
    pub ev: u32,
    pub env: u32,
    pub name: u32,
    pub ok: bool,
    pub finished: bool,
    pub duration: Option<f64>,
}

/// One finished job of a pipeline run (success, failure or cancelled).
pub(crate) struct JobRec {
    /// When it finished (the event time when it has no finish).
    pub time: Ts,
    pub ev: u32,
    pub env: u32,
    /// The pipeline (`Dataset::names`).
    pub pipeline: u32,
    /// `Dataset::ci` ids: job name, run id with attempt, commit, branch,
    /// runner labels joined by `,`.
    pub name: u32,
    pub run: u32,
    pub sha: u32,
    pub branch: u32,
    pub runner: u32,
    pub attempt: u32,
    pub status: Status,
    pub queued: Option<Ts>,
    pub started: Option<Ts>,
    pub finished: Option<Ts>,
    /// `SvcData::steps[steps.0 .. steps.0 + steps.1]`.
    pub steps: (u32, u32),
}

impl JobRec {
    /// Seconds from start to finish, when both are known and in order.
    pub fn duration(&self) -> Option<Ts> {
        match (self.started, self.finished) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }
    /// Seconds from queued to started.
    pub fn queue(&self) -> Option<Ts> {
        match (self.queued, self.started) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }
}

/// One finished step of a job.
pub(crate) struct StepRec {
    /// `Dataset::ci` id of the step name.
    pub name: u32,
    pub start: Ts,
    pub end: Ts,
}

pub(crate) struct CostRec {
    pub start: Ts,
    /// Local calendar day (days since 0001-01-01) in the intent's time zone.
    pub day: i32,
    pub amount: f64,
    pub currency: u32,
    pub provider: u32,
    pub category: u32,
    pub ev: u32,
    pub consumed: Option<f64>,
    pub allocated: Option<f64>,
    /// FOCUS `CommitmentDiscountStatus`: `Some(true)` for `Used`, `Some(false)` for `Unused`.
    pub commitment: Option<bool>,
    /// Requests and usage (OpenCost allocations).
    pub usage: Option<Box<UsageRec>>,
}

/// Requested and used CPU and memory behind one cost row.
pub(crate) struct UsageRec {
    pub workload: u32,
    pub container: u32,
    pub hours: f64,
    pub cpu_req: f64,
    pub cpu_use: f64,
    pub cpu_max: Option<f64>,
    pub cpu_cost: f64,
    pub ram_req: f64,
    pub ram_use: f64,
    pub ram_max: Option<f64>,
    pub ram_cost: f64,
    /// Pods behind the row when known (OpenCost `properties.pod`: one).
    pub pods: Option<f64>,
}

#[derive(Clone, Copy)]
pub(crate) struct Point {
    pub time: Ts,
    pub value: f64,
    pub ev: u32,
    pub dims: u32,
}

/// One metric-point series of one service, with prefix sums for window sums.
#[derive(Default)]
pub(crate) struct Series {
    pub pts: Vec<Point>,
    pub prefix: Vec<f64>,
}

impl Series {
    /// Range of points with `from < time <= to`.
    pub fn range(&self, from: Ts, to: Ts) -> std::ops::Range<usize> {
        let a = self.pts.partition_point(|p| p.time <= from);
        let b = self.pts.partition_point(|p| p.time <= to);
        a..b.max(a)
    }
    /// Sum and count of values with `from < time <= to`.
    pub fn sum(&self, from: Ts, to: Ts) -> (f64, usize) {
        let r = self.range(from, to);
        if r.is_empty() {
            return (0.0, 0);
        }
        (self.prefix[r.end] - self.prefix[r.start], r.len())
    }
}

pub(crate) struct FlagRec {
    pub time: Ts,
    pub ev: u32,
    pub flag: u32,
    pub enabled: bool,
}

/// Everything kept for one service.
#[derive(Default)]
pub(crate) struct SvcData {
    pub tracks: Vec<Track>,
    pub rollbacks: Vec<RollbackRec>,
    pub pipelines: Vec<PipeRec>,
    pub jobs: Vec<JobRec>,
    pub steps: Vec<StepRec>,
    pub costs: Vec<CostRec>,
    pub series: FxMap<u32, Series>,
    pub flags: Vec<FlagRec>,
    pub incidents: Vec<u32>,
    pub findings: Vec<u32>,
}

impl SvcData {
    pub fn track(&self, env: u32) -> Option<&Track> {
        self.tracks.iter().find(|t| t.env == env)
    }
}

/// Intent facts about a service.
pub(crate) struct SvcInfo {
    pub team: u32,
    pub prod_env: u32,
    pub budget: Option<(f64, String)>,
    pub slos: Vec<SloInfo>,
    /// The intent's environments of the service.
    pub envs: Vec<String>,
    pub tier: bearing_intent::Tier,
    pub exposure: bearing_intent::Exposure,
}

/// A repository claim of the intent, normalised: the whole repository when
/// `paths` is empty, else directory prefixes (no leading or trailing `/`).
pub(crate) struct Claim {
    pub repo: String,
    pub svc: u32,
    pub paths: Vec<String>,
}

pub(crate) struct SloInfo {
    pub id: String,
    pub target: f64,
    pub window: Ts,
    pub good: u32,
    pub total: u32,
    /// The spacing of the SLO's points when the intent says it (a
    /// Prometheus source's resolution): no window shorter than this is
    /// measured.
    pub resolution: Option<Ts>,
}

/// An incident folded from its lifecycle steps.
pub(crate) struct IncidentRec {
    pub key: String,
    pub svc: u32,
    /// Which step set the service: the earliest `(time, id)` wins.
    pub svc_from: (Ts, u32),
    pub env: u32,
    pub opened: Option<Ts>,
    pub acked: Option<Ts>,
    pub resolved: Option<Ts>,
    /// The event that reported `resolved` (a resolution step before any
    /// other event carrying the same time), and whether it was one.
    pub resolved_ev: (u32, bool),
    pub first_step: Ts,
    pub severity: Option<(Ts, u32, String)>,
    pub evs: Vec<u32>,
    pub links: Vec<Link>,
    pub linked: Option<IncLink>,
}

impl IncidentRec {
    pub fn opened_at(&self) -> Ts {
        self.opened.unwrap_or(self.first_step)
    }
}

/// The deployment an incident was traced to.
#[derive(Clone, Copy)]
pub(crate) struct IncLink {
    pub dep: u32,
    pub confidence: f64,
    pub explicit: bool,
}

/// A finding's lifecycle (given, or folded from finding events).
pub(crate) struct FindingAgg {
    pub svc: u32,
    pub severity: Severity,
    pub scanner: String,
    pub kind: FindingKind,
    pub first_seen: Ts,
    pub last_seen: Ts,
    pub target: u32,
    /// Known fix time (given records); derived ones look at later scans.
    pub fixed: Option<Option<Ts>>,
    pub evs: Vec<u32>,
    pub key: String,
}

/// Guardrail decisions of one second with the same service, environment and
/// outcome, counted (a server deciding thousands of changes a second keeps a
/// few rows a second, not one per decision; the decision log has them all).
pub(crate) struct DecisionRow {
    pub time: Ts,
    pub svc: u32,
    pub env: u32,
    pub allowed: bool,
    pub waived: bool,
    pub guardrails: Vec<String>,
    /// The first decision of the row.
    pub id: String,
    pub count: u64,
}

/// Events indexed for computation; build once with [`Dataset::new`], then
/// keep it current with [`Dataset::push`].
pub struct Dataset {
    pub(crate) tz: Tz,
    pub(crate) incident_window: Ts,
    pub(crate) sla: [Ts; 4],
    /// The threat SLAs of the intent: known exploited, and EPSS from a score on.
    pub(crate) sla_kev: Option<Ts>,
    pub(crate) sla_epss: Option<(f64, Ts)>,
    /// The threat feeds (KEV, EPSS) findings are enriched with.
    pub(crate) threat: bearing_events::formats::threat::ThreatIntel,
    /// Threat fields scanners reported per CVE (Grype's `epss`, `kev`).
    pub(crate) scanner_threat: FxMap<String, crate::threat::ScannerThreat>,
    pub(crate) ids: Strs,
    pub(crate) kinds: Vec<u8>,
    pub(crate) services: Interner,
    pub(crate) envs: Interner,
    pub(crate) names: Interner,
    /// Job and step names, run ids, commits, branches and runners of CI records.
    pub(crate) ci: Interner,
    pub(crate) ci_prices: crate::pipeline::Prices,
    /// Pipeline names of run records, by run id (`ci`): a job whose source
    /// does not name its pipeline (CDEvents `taskrun`) takes its run's.
    run_names: FxMap<u32, u32>,
    /// Queued and started times of jobs not finished yet, by the job's own
    /// id (`ci`): sources that send each state apart (CDEvents) give the
    /// finish without the start.
    open_jobs: FxMap<u32, (Option<Ts>, Option<Ts>)>,
    pub(crate) teams: Interner,
    pub(crate) info: Vec<Option<SvcInfo>>,
    pub(crate) data: Vec<SvcData>,
    pub(crate) commits: Commits,
    pub(crate) deploy_commits: Vec<u32>,
    pub(crate) dep_ids: Strs,
    pub(crate) incidents: Vec<IncidentRec>,
    incident_keys: FxMap<String, u32>,
    pub(crate) findings: Vec<FindingAgg>,
    finding_keys: FxMap<String, u32>,
    /// Scan times per scanned target: a finding not reported by a later scan is fixed.
    pub(crate) scans: FxMap<u32, Vec<(Ts, u32)>>,
    pub(crate) decisions: Vec<DecisionRow>,
    pub(crate) dims: Interner,
    /// Earliest commit of the changes carrying a label (`<flag>` or `flag:<flag>`).
    pub(crate) label_first_commit: FxMap<u32, (Ts, u32)>,
    cost_matchers: Vec<(u32, CostMatch)>,
    /// Matchers by their first tag (`key\u{1f}value`) and by exact resource id.
    cost_by_tag: FxMap<String, Vec<usize>>,
    cost_by_rid: FxMap<String, Vec<usize>>,
    /// Matchers with a resource-id prefix (`…*`).
    cost_prefixed: Vec<usize>,
    events: usize,
    /// Repositories deliveries came from that no service's `repos` claims
    /// (and whose short name is no service either), with event counts.
    unclaimed: std::collections::BTreeMap<String, usize>,
    /// Monorepo deliveries no rule could give a service, by repository.
    unplaced: std::collections::BTreeMap<String, usize>,
    /// The intent's repository claims, in intent order.
    claims: Vec<Claim>,
    /// The services a monorepo commit counts for, and whether that came from
    /// its files (`true`) or is the fallback for a commit whose files are
    /// unknown. Commits of other repositories have no entry.
    pub(crate) commit_svcs: FxMap<u32, (bool, Vec<u32>)>,
    /// Earliest and latest event time.
    span: Option<(Ts, Ts)>,
}

/// Which derived state an ingested event invalidated.
enum Touched {
    Nothing,
    Service(u32),
    Many(Vec<u32>),
    All,
}

const UNPLANNED_LABELS: [&str; 4] = ["hotfix", "rework", "unplanned", "fix-forward"];

impl Dataset {
    /// Indexes `events`, the caller's finding lifecycles and guardrail decisions.
    pub fn new(
        intent: &Intent,
        events: Vec<Event>,
        findings: Vec<FindingRecord>,
        decisions: Vec<DecisionRecord>,
    ) -> Self {
        let mut ds = Dataset::empty(intent);
        for e in events {
            ds.ingest(e);
        }
        for f in findings {
            ds.add_finding_record(f);
        }
        for d in decisions {
            ds.add_decision(&d.summary(), 1);
        }
        ds.rebuild_all();
        ds
    }

    /// An empty dataset for an intent; add events with [`Dataset::ingest_bulk`] or [`Dataset::push`].
    pub fn empty(intent: &Intent) -> Self {
        let tz = intent
            .settings
            .as_ref()
            .and_then(|s| s.timezone.as_deref())
            .and_then(|z| z.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        let sla = intent.security_sla();
        let mut ds = Dataset {
            tz,
            incident_window: intent.incident_window().as_secs() as Ts,
            sla: [
                sla.critical.as_secs() as Ts,
                sla.high.as_secs() as Ts,
                sla.medium.as_secs() as Ts,
                sla.low.as_secs() as Ts,
            ],
            sla_kev: sla.kev.map(|d| d.as_secs() as Ts),
            sla_epss: sla
                .epss
                .as_ref()
                .map(|e| (e.at_least, e.within.as_secs() as Ts)),
            threat: Default::default(),
            scanner_threat: FxMap::default(),
            ids: Strs::default(),
            kinds: Vec::new(),
            services: Interner::default(),
            envs: Interner::default(),
            names: Interner::default(),
            ci: Interner::default(),
            ci_prices: crate::pipeline::Prices::from_intent(intent),
            run_names: FxMap::default(),
            open_jobs: FxMap::default(),
            teams: Interner::default(),
            info: Vec::new(),
            data: Vec::new(),
            commits: Commits::default(),
            deploy_commits: Vec::new(),
            dep_ids: Strs::default(),
            incidents: Vec::new(),
            incident_keys: FxMap::default(),
            findings: Vec::new(),
            finding_keys: FxMap::default(),
            scans: FxMap::default(),
            decisions: Vec::new(),
            dims: Interner::default(),
            label_first_commit: FxMap::default(),
            cost_matchers: Vec::new(),
            cost_by_tag: FxMap::default(),
            cost_by_rid: FxMap::default(),
            cost_prefixed: Vec::new(),
            events: 0,
            unclaimed: Default::default(),
            unplaced: Default::default(),
            claims: Vec::new(),
            commit_svcs: FxMap::default(),
            span: None,
        };
        for t in &intent.teams {
            ds.teams.id(&t.id);
        }
        for s in &intent.services {
            let i = ds.svc(&s.id);
            let team = ds.teams.id(&s.team);
            let prod_env = ds.envs.id(s.production_env());
            let slos = s
                .slos
                .iter()
                .map(|slo| {
                    let (good, total) = slo.series();
                    SloInfo {
                        id: slo.id.clone(),
                        target: slo.target.fraction(),
                        window: slo.window.as_secs() as Ts,
                        good: ds.names.id(&good),
                        total: ds.names.id(&total),
                        resolution: slo.resolution().map(|r| r.as_secs() as Ts),
                    }
                })
                .collect();
            let budget = s
                .cost
                .as_ref()
                .and_then(|c| c.monthly_budget.as_ref())
                .map(|m| (m.amount, m.currency.clone()));
            if let Some(c) = &s.cost {
                let m = ds.cost_matchers.len();
                if let Some((k, v)) = c.matcher.tags.iter().next() {
                    ds.cost_by_tag
                        .entry(format!("{k}\u{1f}{v}"))
                        .or_default()
                        .push(m);
                }
                for rid in &c.matcher.resource_ids {
                    if rid.ends_with('*') {
                        if !ds.cost_prefixed.contains(&m) {
                            ds.cost_prefixed.push(m);
                        }
                    } else {
                        ds.cost_by_rid.entry(rid.clone()).or_default().push(m);
                    }
                }
                ds.cost_matchers.push((i, c.matcher.clone()));
            }
            ds.info[i as usize] = Some(SvcInfo {
                team,
                prod_env,
                budget,
                slos,
                envs: s.environments.clone(),
                tier: s.tier,
                exposure: s.exposure,
            });
            for claim in &s.repos {
                ds.claims.push(Claim {
                    repo: normalise_repo(claim.repo()),
                    svc: i,
                    paths: claim
                        .paths()
                        .iter()
                        .map(|p| normalise_path(p))
                        .filter(|p| !p.is_empty())
                        .collect(),
                });
            }
        }
        ds
    }

    /// Number of events folded in so far.
    pub fn len(&self) -> usize {
        self.events
    }

    /// The earliest and latest event time, if there are events.
    pub fn event_span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.span.map(|(a, b)| (to_time(a), to_time(b)))
    }
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The time zone daily and monthly buckets use.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Adds one event and re-derives what it touches (one service, usually).
    pub fn push(&mut self, e: Event) {
        match self.ingest(e) {
            Touched::Nothing => {}
            Touched::Service(s) => self.rebuild(s),
            Touched::Many(v) => {
                for s in v {
                    self.rebuild(s);
                }
            }
            Touched::All => self.rebuild_all(),
        }
    }

    /// Adds events without re-deriving; call [`Dataset::rebuild_all`] after.
    pub fn ingest_bulk(&mut self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.ingest(e);
        }
    }

    /// Adds a guardrail decision (for `security.compliance_rate`).
    pub fn push_decision(&mut self, d: &DecisionRecord) {
        self.add_decision(&d.summary(), 1);
    }

    /// Replaces the decisions made at or after `from` (all of them when
    /// `None`) with `counted`, the store's counts of decisions alike from
    /// `from` on (see [`DecisionSummary`]; `d.id` stands for them all): what
    /// a refresh does, so that counts which grew since the last read are
    /// taken whole rather than added twice.
    pub fn replace_decision_summaries(
        &mut self,
        from: Option<DateTime<Utc>>,
        counted: &[(DecisionSummary, u64)],
    ) {
        let keep = from.map_or(0, |t| {
            let t = ts(t);
            self.decisions.partition_point(|x| x.time < t)
        });
        self.decisions.truncate(keep);
        for (d, count) in counted {
            self.add_decision(d, *count);
        }
    }

    /// Adds or replaces a finding lifecycle.
    pub fn push_finding(&mut self, f: FindingRecord) {
        self.add_finding_record(f);
    }

    pub(crate) fn svc(&mut self, name: &str) -> u32 {
        let i = self.services.id(name);
        while self.data.len() <= i as usize {
            self.data.push(SvcData::default());
            self.info.push(None);
        }
        i
    }

    pub(crate) fn svc_name(&self, s: u32) -> &str {
        self.services.name(s)
    }

    pub(crate) fn env_name(&self, e: u32) -> Option<&str> {
        (e != NONE).then(|| self.envs.name(e))
    }

    pub(crate) fn id(&self, ev: u32) -> &str {
        self.ids.get(ev)
    }

    pub(crate) fn kind_name(&self, ev: u32) -> &'static str {
        self.kinds
            .get(ev as usize)
            .and_then(|k| bearing_events::Kind::ALL.get(*k as usize))
            .map_or("event", |k| k.name())
    }

    /// The production environment of a service (intent, or `production`).
    pub(crate) fn prod_env(&self, s: u32) -> u32 {
        self.info
            .get(s as usize)
            .and_then(Option::as_ref)
            .map_or_else(
                || self.envs.get("production").unwrap_or(NONE),
                |i| i.prod_env,
            )
    }

    pub(crate) fn local_day(&self, t: Ts) -> i32 {
        to_time(t)
            .with_timezone(&self.tz)
            .date_naive()
            .num_days_from_ce()
    }

    /// The UTC instant a local calendar day starts (DST-correct).
    pub(crate) fn day_start(&self, day: i32) -> Ts {
        let Some(date) = NaiveDate::from_num_days_from_ce_opt(day) else {
            return 0;
        };
        let mut h = 0;
        // A day may start at a time that does not exist locally (DST gap at midnight).
        while h < 24 {
            if let Some(naive) = date.and_hms_opt(h, 0, 0)
                && let Some(t) = naive.and_local_timezone(self.tz).earliest()
            {
                return t.timestamp();
            }
            h += 1;
        }
        0
    }

    /// The service of an event from a repository: the service whose `repos`
    /// claims it, else the event's own (by default the repository's name).
    /// An explicit service other than the repository's name is kept. In a
    /// monorepo (a repository claimed with `paths`) see [`Self::place_in_monorepo`].
    /// Returns the services the event counts for when that is not simply
    /// `e.service` (empty otherwise).
    fn map_repo(&mut self, e: &mut Event) -> Vec<u32> {
        let Some(r) = repo_of(e) else {
            return Vec::new();
        };
        if !defaults_to_repo(e, &r) {
            return Vec::new();
        }
        if self
            .claims
            .iter()
            .any(|c| !c.paths.is_empty() && same_repo(&c.repo, &r))
        {
            return self.place_in_monorepo(e, &r);
        }
        match self.service_of_repo(&r) {
            Some(s) => e.service = Some(self.svc_name(s).to_string()),
            None => {
                let known = e
                    .service
                    .as_deref()
                    .and_then(|s| self.services.get(s))
                    .is_some_and(|s| self.info(s).is_some());
                if !known {
                    *self.unclaimed.entry(r).or_default() += 1;
                }
            }
        }
        Vec::new()
    }

    /// The services a delivery from monorepo `r` counts for (see
    /// `docs/metrics.md`, "Monorepos"):
    /// - a change: every claiming service; each commit counts for the
    ///   services whose paths its files touch (recorded in `commit_svcs`);
    /// - a deployment, rollback or pipeline run: the services it names (by
    ///   environment or pipeline name), else the service claiming the whole
    ///   repository, else every claiming service;
    /// - an incident: the service a label names, else the whole repository's
    ///   service, else none (kept under the repository's name, and reported).
    fn place_in_monorepo(&mut self, e: &mut Event, r: &str) -> Vec<u32> {
        let mut svcs: Vec<u32> = Vec::new();
        for c in &self.claims {
            if same_repo(&c.repo, r) && !svcs.contains(&c.svc) {
                svcs.push(c.svc);
            }
        }
        let whole = self.service_of_repo(r);
        if let Payload::Change(c) = &e.payload {
            self.place_commits(c, r, whole);
            e.service = None;
            return svcs;
        }
        let named = self.named_services(e, &svcs);
        if !named.is_empty() {
            return named;
        }
        if let Some(w) = whole {
            return vec![w];
        }
        match e.payload {
            Payload::Deployment(_) | Payload::Rollback(_) | Payload::PipelineRun(_) => svcs,
            _ => {
                *self.unplaced.entry(r.to_owned()).or_default() += 1;
                Vec::new()
            }
        }
    }

    /// Records which services each commit of a monorepo change counts for:
    /// those whose paths its files touch (the whole repository's service
    /// always); a commit whose files are unknown counts for the whole
    /// repository's service if there is one, else for every claiming service.
    /// Known files win over that fallback whichever event comes first.
    fn place_commits(&mut self, c: &bearing_events::Change, r: &str, whole: Option<u32>) {
        let claims: Vec<(u32, Vec<String>)> = self
            .claims
            .iter()
            .filter(|x| same_repo(&x.repo, r))
            .map(|x| (x.svc, x.paths.clone()))
            .collect();
        let fallback: Vec<u32> = match whole {
            Some(w) => vec![w],
            None => {
                let mut v: Vec<u32> = Vec::new();
                for (s, _) in &claims {
                    if !v.contains(s) {
                        v.push(*s);
                    }
                }
                v
            }
        };
        let place = |ds: &mut Self, sha: &str, files: &[String]| {
            let i = ds.commits.intern(sha);
            if files.is_empty() {
                ds.commit_svcs
                    .entry(i)
                    .or_insert_with(|| (false, fallback.clone()));
                return;
            }
            let mut svcs: Vec<u32> = Vec::new();
            for (s, paths) in &claims {
                let hit = paths.is_empty()
                    || files.iter().any(|f| paths.iter().any(|p| under_path(f, p)));
                if hit && !svcs.contains(s) {
                    svcs.push(*s);
                }
            }
            let slot = ds.commit_svcs.entry(i).or_insert((true, Vec::new()));
            if !slot.0 {
                *slot = (true, Vec::new());
            }
            for s in svcs {
                if !slot.1.contains(&s) {
                    slot.1.push(s);
                }
            }
        };
        for commit in &c.commits {
            place(self, &commit.sha, &commit.files);
        }
        if let Some(m) = &c.merge_commit {
            place(self, m, &[]);
        }
    }

    /// The claiming services a deployment, rollback or pipeline run names:
    /// an environment only one of them lists, or `<service>/<env>`,
    /// `<env>/<service>` (also with `-`, `_` or `:`) where `<env>` is one of
    /// the service's environments (the event's environment becomes `<env>`);
    /// a pipeline whose name holds the service's id as a word; an incident
    /// labelled `<service>` or `service:<service>`.
    fn named_services(&self, e: &mut Event, svcs: &[u32]) -> Vec<u32> {
        let id = |s: u32| self.svc_name(s).to_ascii_lowercase();
        let envs_of = |s: u32| -> Vec<String> {
            let mut v = self.info(s).map(|i| i.envs.clone()).unwrap_or_default();
            if let Some(p) = self.env_name(self.prod_env(s)) {
                v.push(p.to_owned());
            }
            v
        };
        match &e.payload {
            Payload::Deployment(_) | Payload::Rollback(_) => {
                let Some(env) = e.environment.clone() else {
                    return Vec::new();
                };
                let listing: Vec<u32> = svcs
                    .iter()
                    .copied()
                    .filter(|&s| envs_of(s).contains(&env))
                    .collect();
                if listing.len() == 1 {
                    return listing;
                }
                let lower = env.to_ascii_lowercase();
                for &s in svcs {
                    let name = id(s);
                    for sep in ['/', '-', '_', ':'] {
                        let rest = lower
                            .strip_prefix(name.as_str())
                            .and_then(|x| x.strip_prefix(sep))
                            .or_else(|| {
                                lower
                                    .strip_suffix(name.as_str())
                                    .and_then(|x| x.strip_suffix(sep))
                            });
                        if let Some(rest) = rest
                            && let Some(env) = envs_of(s)
                                .into_iter()
                                .find(|x| x.eq_ignore_ascii_case(rest))
                        {
                            e.environment = Some(env);
                            return vec![s];
                        }
                    }
                }
                Vec::new()
            }
            Payload::PipelineRun(p) => {
                let name = p.pipeline.to_ascii_lowercase();
                let hits: Vec<(u32, String)> = svcs
                    .iter()
                    .map(|&s| (s, id(s)))
                    .filter(|(_, i)| has_word(&name, i))
                    .collect();
                // `svc-a` in `deploy svc-a-web` is part of the longer id.
                hits.iter()
                    .filter(|(_, i)| !hits.iter().any(|(_, j)| j != i && j.contains(i.as_str())))
                    .map(|x| x.0)
                    .collect()
            }
            Payload::Incident(_) => {
                let labels: Vec<String> = e
                    .attributes
                    .get("labels")
                    .and_then(|v| v.as_array())
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str())
                            .map(|x| x.trim().to_ascii_lowercase())
                            .collect()
                    })
                    .unwrap_or_default();
                svcs.iter()
                    .copied()
                    .find(|&s| {
                        let i = id(s);
                        labels.iter().any(|l| {
                            *l == i
                                || l.strip_prefix("service:")
                                    .or_else(|| l.strip_prefix("service/"))
                                    .is_some_and(|x| x.trim() == i)
                        })
                    })
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Repositories deliveries came from that no service claims (by `repos`
    /// or by name), with how many events each brought.
    pub fn unclaimed_repos(&self) -> Vec<(&str, usize)> {
        self.unclaimed
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }

    /// Monorepos with deliveries (incidents) that name none of the services
    /// claiming them and have no service claiming the whole repository, with
    /// how many events each brought; those count for no service.
    pub fn unplaced_deliveries(&self) -> Vec<(&str, usize)> {
        self.unplaced
            .iter()
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }

    fn ingest(&mut self, mut e: Event) -> Touched {
        self.events += 1;
        let svcs = self.map_repo(&mut e);
        match svcs.as_slice() {
            [] => self.ingest_one(e),
            _ if matches!(e.payload, Payload::Change(_)) => {
                self.ingest_one(e);
                Touched::Many(svcs)
            }
            [one] => {
                e.service = Some(self.svc_name(*one).to_owned());
                self.ingest_one(e)
            }
            [first, rest @ ..] => {
                // A monorepo deployment naming no service ships them all.
                for &s in rest {
                    let mut copy = e.clone();
                    copy.service = Some(self.svc_name(s).to_owned());
                    self.ingest_one(copy);
                }
                e.service = Some(self.svc_name(*first).to_owned());
                self.ingest_one(e);
                Touched::Many(svcs)
            }
        }
    }

    fn ingest_one(&mut self, e: Event) -> Touched {
        let ev = self.ids.push(&e.id);
        self.kinds.push(
            bearing_events::Kind::ALL
                .iter()
                .position(|k| *k == e.kind())
                .unwrap_or(0) as u8,
        );
        let env = e.environment.as_deref().map_or(NONE, |x| self.envs.id(x));
        let time = ts(e.time);
        self.span = Some(
            self.span
                .map_or((time, time), |(a, b)| (a.min(time), b.max(time))),
        );
        match e.payload {
            Payload::Change(c) => {
                let svc = match e.service.as_deref() {
                    Some(s) => Some(self.svc(s)),
                    None => c.repo.as_deref().and_then(|r| self.service_of_repo(r)),
                };
                let mut listed = Vec::with_capacity(c.commits.len());
                for commit in &c.commits {
                    let i = self.commits.intern(&commit.sha);
                    let authored = ts(commit.authored_at);
                    let parents: Vec<u32> = commit
                        .parents
                        .iter()
                        .map(|p| self.commits.intern(p))
                        .collect();
                    let rec = &mut self.commits.recs[i as usize];
                    rec.authored = Some(rec.authored.map_or(authored, |a| a.min(authored)));
                    if rec.ev == NONE || self.ids.get(ev) < self.ids.get(rec.ev) {
                        rec.ev = ev;
                    }
                    if rec.parents.1 == 0 && !parents.is_empty() {
                        let start = self.commits.parents.len() as u32;
                        self.commits.parents.extend_from_slice(&parents);
                        self.commits.recs[i as usize].parents = (start, parents.len() as u32);
                    }
                    listed.push(i);
                }
                // A change without a separate merge commit lands as its last
                // commit (a push's head): deploying it brings the whole list.
                let head = match c.merge_commit.as_deref() {
                    Some(m) => Some(self.commits.intern(m)),
                    None => listed.last().copied(),
                };
                if let Some(mi) = head {
                    let rec = &mut self.commits.recs[mi as usize];
                    if rec.ev == NONE || self.ids.get(ev) < self.ids.get(rec.ev) {
                        rec.ev = ev;
                    }
                    let merged = c.merged_at.map_or(time, ts);
                    if listed.is_empty() {
                        rec.authored = Some(rec.authored.map_or(merged, |a| a.min(merged)));
                    } else if rec.squash_of == NONE {
                        let ci = self.commits.changes.len() as u32;
                        self.commits.changes.push(ChangeRec {
                            commits: listed.clone(),
                        });
                        self.commits.recs[mi as usize].squash_of = ci;
                    }
                }
                let first = c
                    .commits
                    .iter()
                    .map(|x| ts(x.authored_at))
                    .min()
                    .or(c.merged_at.map(ts));
                if let Some(first) = first {
                    for l in &c.labels {
                        let name = l.strip_prefix("flag:").unwrap_or(l);
                        let id = self.names.id(name);
                        let slot = self.label_first_commit.entry(id).or_insert((first, ev));
                        if first < slot.0 {
                            *slot = (first, ev);
                        }
                    }
                }
                match svc {
                    Some(s) => Touched::Service(s),
                    None => Touched::All,
                }
            }
            Payload::Deployment(d) => {
                if d.status == Status::InProgress {
                    return Touched::Nothing;
                }
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let env = if env == NONE { self.prod_env(s) } else { env };
                let env = if env == NONE {
                    self.envs.id("production")
                } else {
                    env
                };
                let head = d.commit.as_deref().map_or(NONE, |c| self.commits.intern(c));
                let start = self.deploy_commits.len() as u32;
                for c in &d.commits {
                    let i = self.commits.intern(c);
                    self.deploy_commits.push(i);
                }
                let feature = d
                    .labels
                    .iter()
                    .find_map(|l| {
                        l.strip_prefix("feature:")
                            .or_else(|| l.strip_prefix("flag:"))
                            .or((l == "feature").then_some(l.as_str()))
                    })
                    .map_or(NONE, |f| self.names.id(f));
                let rec = DeployRec {
                    feature,
                    time: d.finished_at.map_or(time, ts),
                    ev,
                    // NONE: the deployment id is the event id (no second copy).
                    dep_id: if d.deployment_id == e.id {
                        NONE
                    } else {
                        self.dep_ids.push(&d.deployment_id)
                    },
                    head,
                    commits: (start, d.commits.len() as u32),
                    ok: d.status == Status::Success,
                    unplanned: d
                        .labels
                        .iter()
                        .any(|l| UNPLANNED_LABELS.contains(&l.to_ascii_lowercase().as_str())),
                    links: e.links,
                };
                let data = &mut self.data[s as usize];
                match data.tracks.iter_mut().find(|t| t.env == env) {
                    Some(t) => t.deploys.push(rec),
                    None => data.tracks.push(Track {
                        env,
                        deploys: vec![rec],
                        derived: Vec::new(),
                        leads: Vec::new(),
                        ok_idx: Vec::new(),
                        ok_times: Vec::new(),
                    }),
                }
                Touched::Service(s)
            }
            Payload::Rollback(r) => {
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let dep_id = match r.deployment_id.as_deref().or_else(|| {
                    e.links
                        .iter()
                        .find(|l| matches!(l.rel.as_str(), "deployment" | "rollback_of"))
                        .map(|l| l.target.as_str())
                }) {
                    Some(d) => self.dep_ids.push(d),
                    None => NONE,
                };
                self.data[s as usize].rollbacks.push(RollbackRec {
                    time,
                    ev,
                    env,
                    dep_id,
                });
                Touched::Service(s)
            }
            Payload::PipelineRun(p) => {
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let old_job = e.attributes.get("granularity").is_some_and(|g| g == "job");
                match &p.job {
                    Some(job) => self.add_job(s, ev, time, env, &p, job),
                    // Jobs stored before they had their own fields: not a run.
                    None if old_job => {}
                    None => self.add_run(s, ev, time, env, &p),
                }
                Touched::Service(s)
            }
            Payload::Incident(i) => self.add_incident_step(ev, time, e.service, env, e.links, i),
            Payload::Cost(c) => {
                let s = match self.match_cost(&c) {
                    Some(s) => s,
                    None => self.svc(e.service.as_deref().unwrap_or("")),
                };
                let start = ts(c.charge_period_start);
                let day = self.local_day(start);
                let currency = self.names.id(&c.currency);
                let provider = c.provider.as_deref().map_or(NONE, |p| self.names.id(p));
                let category = c
                    .service_category
                    .as_deref()
                    .map_or(NONE, |p| self.names.id(p));
                let allocated = ["x_allocated_quantity", "allocated_quantity"]
                    .iter()
                    .find_map(|k| c.tags.get(*k))
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite());
                self.data[s as usize].costs.push(CostRec {
                    start,
                    day,
                    amount: c.effective_cost,
                    currency,
                    provider,
                    category,
                    ev,
                    consumed: c.consumed_quantity.filter(|v| v.is_finite()),
                    allocated,
                    commitment: match c.commitment_status.as_deref() {
                        Some(x) if x.eq_ignore_ascii_case("used") => Some(true),
                        Some(x) if x.eq_ignore_ascii_case("unused") => Some(false),
                        _ => None,
                    },
                    usage: c.usage.as_ref().map(|u| {
                        Box::new(UsageRec {
                            workload: self.names.id(&u.workload),
                            container: u.container.as_deref().map_or(NONE, |x| self.names.id(x)),
                            hours: u.minutes / 60.0,
                            cpu_req: u.cpu_request_cores,
                            cpu_use: u.cpu_usage_cores,
                            cpu_max: u.cpu_usage_max_cores,
                            cpu_cost: u.cpu_cost,
                            ram_req: u.ram_request_bytes,
                            ram_use: u.ram_usage_bytes,
                            ram_max: u.ram_usage_max_bytes,
                            ram_cost: u.ram_cost,
                            pods: u.pods,
                        })
                    }),
                });
                Touched::Service(s)
            }
            Payload::Finding(f) => {
                self.note_scanner_threat(&f.rule_id, &e.attributes);
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let key = f.dedup_key();
                let target = self.names.id(&f.target);
                let scan = self.names.id(&f.scan_id);
                let scans = self.scans.entry(target).or_default();
                match scans.iter_mut().find(|(_, id)| *id == scan) {
                    Some(x) => x.0 = x.0.min(time),
                    None => scans.push((time, scan)),
                }
                scans.sort_unstable();
                match self.finding_keys.get(&key) {
                    Some(&i) => {
                        let a = &mut self.findings[i as usize];
                        if a.fixed.is_none() {
                            if time < a.first_seen {
                                a.first_seen = time;
                            }
                            if time >= a.last_seen {
                                a.last_seen = time;
                                a.severity = f.severity;
                            }
                            a.evs.push(ev);
                        }
                    }
                    None => {
                        let i = self.findings.len() as u32;
                        self.findings.push(FindingAgg {
                            svc: s,
                            severity: f.severity,
                            scanner: f.scanner,
                            kind: f.kind,
                            first_seen: time,
                            last_seen: time,
                            target,
                            fixed: None,
                            evs: vec![ev],
                            key: key.clone(),
                        });
                        self.finding_keys.insert(key, i);
                        self.data[s as usize].findings.push(i);
                    }
                }
                Touched::Nothing
            }
            Payload::MetricPoint(m) => {
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let name = self.names.id(&m.name);
                let dims = if m.dimensions.is_empty() {
                    NONE
                } else {
                    let key: Vec<String> = m
                        .dimensions
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    self.dims.id(&key.join("\u{1f}"))
                };
                self.data[s as usize]
                    .series
                    .entry(name)
                    .or_default()
                    .pts
                    .push(Point {
                        time,
                        value: m.value,
                        ev,
                        dims,
                    });
                Touched::Service(s)
            }
            Payload::FeatureFlag(f) => {
                let s = self.svc(e.service.as_deref().unwrap_or(""));
                let flag = self.names.id(&f.flag);
                self.data[s as usize].flags.push(FlagRec {
                    time,
                    ev,
                    flag,
                    enabled: f.enabled,
                });
                Touched::Service(s)
            }
        }
    }

    fn add_incident_step(
        &mut self,
        ev: u32,
        time: Ts,
        service: Option<String>,
        env: u32,
        links: Vec<Link>,
        i: bearing_events::Incident,
    ) -> Touched {
        let svc = service.as_deref().map(|s| self.svc(s));
        let idx = match self.incident_keys.get(&i.incident_id) {
            Some(&x) => x,
            None => {
                let x = self.incidents.len() as u32;
                self.incidents.push(IncidentRec {
                    key: i.incident_id.clone(),
                    svc: NONE,
                    svc_from: (Ts::MAX, NONE),
                    env: NONE,
                    opened: None,
                    acked: None,
                    resolved: None,
                    resolved_ev: (NONE, false),
                    first_step: time,
                    severity: None,
                    evs: Vec::new(),
                    links: Vec::new(),
                    linked: None,
                });
                self.incident_keys.insert(i.incident_id.clone(), x);
                x
            }
        };
        let older = {
            let r = &self.incidents[idx as usize];
            r.svc_from.1 == NONE
                || (time, self.ids.get(ev)) < (r.svc_from.0, self.ids.get(r.svc_from.1))
        };
        let sev_newer = {
            let r = &self.incidents[idx as usize];
            match &r.severity {
                None => true,
                Some((t, e, _)) => (time, self.ids.get(ev)) > (*t, self.ids.get(*e)),
            }
        };
        let prev_svc = self.incidents[idx as usize].svc;
        let r = &mut self.incidents[idx as usize];
        if let Some(s) = svc
            && older
        {
            r.svc = s;
            r.svc_from = (time, ev);
            if env != NONE {
                r.env = env;
            }
        }
        r.first_step = r.first_step.min(time);
        let opened = i
            .opened_at
            .map(ts)
            .or_else(|| (i.status == IncidentStatus::Opened).then_some(time));
        if let Some(o) = opened {
            r.opened = Some(r.opened.map_or(o, |x| x.min(o)));
        }
        let acked = i
            .acknowledged_at
            .map(ts)
            .or_else(|| (i.status == IncidentStatus::Acknowledged).then_some(time));
        if let Some(a) = acked {
            r.acked = Some(r.acked.map_or(a, |x| x.min(a)));
        }
        let resolved = i
            .resolved_at
            .map(ts)
            .or_else(|| (i.status == IncidentStatus::Resolved).then_some(time));
        if let Some(z) = resolved {
            let step = i.status == IncidentStatus::Resolved;
            let (cur, cur_step) = r.resolved_ev;
            let better = match r.resolved {
                None => true,
                Some(x) if z != x => z > x,
                Some(_) if step != cur_step => step,
                Some(_) => self.ids.get(ev) < self.ids.get(cur),
            };
            if better {
                r.resolved_ev = (ev, step);
            }
            r.resolved = Some(r.resolved.map_or(z, |x| x.max(z)));
        }
        if let Some(sev) = i.severity
            && sev_newer
        {
            r.severity = Some((time, ev, sev.to_ascii_lowercase()));
        }
        r.evs.push(ev);
        for l in links {
            if !r.links.contains(&l) {
                r.links.push(l);
            }
        }
        let new_svc = r.svc;
        if prev_svc != new_svc && prev_svc != NONE {
            self.data[prev_svc as usize].incidents.retain(|&x| x != idx);
            self.rebuild(prev_svc);
        }
        if new_svc == NONE {
            return Touched::Nothing;
        }
        let list = &mut self.data[new_svc as usize].incidents;
        if !list.contains(&idx) {
            list.push(idx);
        }
        Touched::Service(new_svc)
    }

    fn add_finding_record(&mut self, f: FindingRecord) {
        let svc = self.svc(f.service.as_deref().unwrap_or(""));
        let evs = f.event_ids.iter().map(|id| self.ids.push(id)).collect();
        let target = self.names.id(f.key.rsplit('|').next().unwrap_or(""));
        let agg = FindingAgg {
            svc,
            severity: f.severity,
            scanner: f.scanner,
            kind: f.kind,
            first_seen: ts(f.first_seen),
            last_seen: ts(f.first_seen),
            target,
            fixed: Some(f.fixed_at.map(ts)),
            evs,
            key: f.key.clone(),
        };
        match self.finding_keys.get(&f.key) {
            Some(&i) => {
                let old = self.findings[i as usize].svc;
                self.data[old as usize].findings.retain(|&x| x != i);
                self.findings[i as usize] = agg;
                self.data[svc as usize].findings.push(i);
            }
            None => {
                let i = self.findings.len() as u32;
                self.findings.push(agg);
                self.finding_keys.insert(f.key, i);
                self.data[svc as usize].findings.push(i);
            }
        }
    }

    fn add_decision(&mut self, d: &DecisionSummary, count: u64) {
        let svc = d.service.as_deref().map_or(NONE, |s| self.svc(s));
        let env = d.environment.as_deref().map_or(NONE, |e| self.envs.id(e));
        let time = ts(d.time);
        let allowed = d.result == "allow";
        // Kept sorted by time; appends are the common case.
        let lo = self.decisions.partition_point(|x| x.time < time);
        let hi = self.decisions.partition_point(|x| x.time <= time);
        if let Some(row) = self.decisions[lo..hi].iter_mut().find(|x| {
            x.svc == svc
                && x.env == env
                && x.allowed == allowed
                && x.waived == d.waived
                && x.guardrails == d.guardrails
        }) {
            if row.id != d.id {
                row.count += count;
            }
            return;
        }
        let row = DecisionRow {
            time,
            svc,
            env,
            allowed,
            waived: d.waived,
            guardrails: d.guardrails.clone(),
            id: d.id.clone(),
            count,
        };
        self.decisions.insert(hi, row);
    }

    /// Fix time of a finding: known, or the first later scan of its target
    /// that no longer reported it.
    pub(crate) fn fixed_at(&self, f: &FindingAgg) -> Option<Ts> {
        if let Some(known) = f.fixed {
            return known;
        }
        let scans = self.scans.get(&f.target)?;
        let i = scans.partition_point(|(t, _)| *t <= f.last_seen);
        scans.get(i).map(|(t, _)| *t)
    }

    /// The first service (intent order) whose cost match takes the row.
    fn match_cost(&self, c: &bearing_events::CostRow) -> Option<u32> {
        let mut candidates: Vec<usize> = self.cost_prefixed.clone();
        for (k, v) in &c.tags {
            if let Some(ms) = self.cost_by_tag.get(&format!("{k}\u{1f}{v}")) {
                candidates.extend_from_slice(ms);
            }
        }
        if let Some(ms) = c
            .resource_id
            .as_deref()
            .and_then(|r| self.cost_by_rid.get(r))
        {
            candidates.extend_from_slice(ms);
        }
        candidates.sort_unstable();
        candidates.into_iter().find_map(|i| {
            let (s, m) = &self.cost_matchers[i];
            let tags_ok =
                !m.tags.is_empty() && m.tags.iter().all(|(k, v)| c.tags.get(k) == Some(v));
            let id_ok = c.resource_id.as_deref().is_some_and(|rid| {
                m.resource_ids.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => rid.starts_with(prefix),
                    None => rid == p,
                })
            });
            (tags_ok || id_ok).then_some(*s)
        })
    }

    /// The service claiming the whole repository (the first, if several do).
    fn service_of_repo(&self, repo: &str) -> Option<u32> {
        let r = normalise_repo(repo);
        self.claims
            .iter()
            .find(|c| c.paths.is_empty() && same_repo(&c.repo, &r))
            .map(|c| c.svc)
    }

    fn opt_ci(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NONE, |x| self.ci.id(x))
    }

    fn add_run(&mut self, s: u32, ev: u32, time: Ts, env: u32, p: &PipelineRun) {
        let name = self.names.id(&p.pipeline);
        let duration = match (p.started_at, p.finished_at) {
            (Some(a), Some(b)) if b >= a => Some((b - a).num_milliseconds() as f64 / 1e3),
            _ => None,
        };
        let finished = matches!(p.status, Status::Success | Status::Failure);
        let run = self.ci.id(&p.run_id);
        self.run_names.insert(run, name);
        let rec = PipeRec {
            time: p.finished_at.map_or(time, ts),
            ev,
            env,
            name,
            ok: p.status == Status::Success,
            finished,
            duration,
        };
        self.data[s as usize].pipelines.push(rec);
    }

    /// Keeps finished jobs only: a job's queued and in-progress events are
    /// earlier states of the same job.
    fn add_job(&mut self, s: u32, ev: u32, time: Ts, env: u32, p: &PipelineRun, job: &PipelineJob) {
        let own = self.ci.id(&p.run_id);
        let (mut queued, mut started) = (p.queued_at.map(ts), p.started_at.map(ts));
        if p.status == Status::InProgress {
            let seen = self.open_jobs.entry(own).or_default();
            seen.0 = seen.0.or(queued);
            seen.1 = seen.1.or(started);
            return;
        }
        if let Some((q, st)) = self.open_jobs.remove(&own) {
            queued = queued.or(q);
            started = started.or(st);
        }
        let pipeline = self.names.id(&p.pipeline);
        let name = self.ci.id(&job.name);
        let run = self.ci.id(&job.run);
        let sha = self.opt_ci(p.commit.as_deref());
        let branch = self.opt_ci(p.branch.as_deref());
        let runner = self.ci.id(&job.runner_labels.join(","));
        let mut steps = Vec::with_capacity(job.steps.len());
        for st in &job.steps {
            if let (Some(a), Some(b)) = (st.started_at, st.finished_at)
                && st.status != Status::InProgress
            {
                let name = self.ci.id(&st.name);
                steps.push(StepRec {
                    name,
                    start: ts(a),
                    end: ts(b),
                });
            }
        }
        let data = &mut self.data[s as usize];
        let first = data.steps.len() as u32;
        let n = steps.len() as u32;
        data.steps.extend(steps);
        data.jobs.push(JobRec {
            time: p.finished_at.map_or(time, ts),
            ev,
            env,
            pipeline,
            name,
            run,
            sha,
            branch,
            runner,
            attempt: p.attempt.unwrap_or(1),
            status: p.status,
            queued,
            started,
            finished: p.finished_at.map(ts),
            steps: (first, n),
        });
    }

    /// Re-sorts and re-derives everything.
    pub fn rebuild_all(&mut self) {
        for s in 0..self.data.len() as u32 {
            self.rebuild(s);
        }
    }

    fn rebuild(&mut self, s: u32) {
        let mut data = std::mem::take(&mut self.data[s as usize]);
        let ids = &self.ids;
        let by =
            |a: (Ts, u32), b: (Ts, u32)| a.0.cmp(&b.0).then_with(|| ids.get(a.1).cmp(ids.get(b.1)));
        for t in &mut data.tracks {
            t.deploys.sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
        }
        data.tracks.sort_by_key(|t| t.env);
        data.rollbacks
            .sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
        data.pipelines
            .sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
        data.jobs.sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
        for j in &mut data.jobs {
            if let Some(&name) = self.run_names.get(&j.run) {
                j.pipeline = name;
            }
        }
        data.costs
            .sort_by(|a, b| by((a.start, a.ev), (b.start, b.ev)));
        data.flags
            .sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
        for series in data.series.values_mut() {
            series
                .pts
                .sort_by(|a, b| by((a.time, a.ev), (b.time, b.ev)));
            series.prefix.clear();
            series.prefix.reserve(series.pts.len() + 1);
            let mut acc = 0.0;
            series.prefix.push(acc);
            for p in &series.pts {
                acc += p.value;
                series.prefix.push(acc);
            }
        }
        data.incidents.sort_by(|a, b| {
            let (x, y) = (&self.incidents[*a as usize], &self.incidents[*b as usize]);
            (x.opened_at(), &x.key).cmp(&(y.opened_at(), &y.key))
        });
        crate::dora::derive(self, s, &mut data);
        self.data[s as usize] = data;
    }

    /// Services a scope covers: one service, a team's services, or all.
    pub(crate) fn services_in(&self, scope: &bearing_intent::Scope) -> Vec<u32> {
        if let Some(name) = &scope.service {
            return self.services.get(name).into_iter().collect();
        }
        if let Some(team) = &scope.team {
            let Some(t) = self.teams.get(team) else {
                return Vec::new();
            };
            return (0..self.info.len() as u32)
                .filter(|&i| self.info[i as usize].as_ref().is_some_and(|x| x.team == t))
                .collect();
        }
        (0..self.data.len() as u32).collect()
    }

    pub(crate) fn info(&self, s: u32) -> Option<&SvcInfo> {
        self.info.get(s as usize).and_then(Option::as_ref)
    }

    pub(crate) fn month_start_day(&self, day: i32) -> i32 {
        NaiveDate::from_num_days_from_ce_opt(day)
            .and_then(|d| d.with_day(1))
            .map_or(day, |d| d.num_days_from_ce())
    }

    pub(crate) fn days_in_month(&self, day: i32) -> i32 {
        let Some(d) = NaiveDate::from_num_days_from_ce_opt(day) else {
            return 30;
        };
        let (y, m) = if d.month() == 12 {
            (d.year() + 1, 1)
        } else {
            (d.year(), d.month() + 1)
        };
        let first = d.with_day(1).map_or(0, |x| x.num_days_from_ce());
        NaiveDate::from_ymd_opt(y, m, 1).map_or(30, |n| n.num_days_from_ce() - first)
    }
}

/// Whether two normalised repository names are the same repository
/// (`github.com/acme/a`, `acme/a`).
fn same_repo(x: &str, r: &str) -> bool {
    x == r || x.ends_with(&format!("/{r}")) || r.ends_with(&format!("/{x}"))
}

/// The normalised repository an event came from: a delivery's `repository`
/// link, else a change's `repo`.
fn repo_of(e: &Event) -> Option<String> {
    e.links
        .iter()
        .find(|l| l.rel == "repository")
        .map(|l| l.target.as_str())
        .or(match &e.payload {
            Payload::Change(c) => c.repo.as_deref(),
            _ => None,
        })
        .map(normalise_repo)
}

/// Whether the event's service is the default taken from its repository
/// (none, or the repository's short name) rather than an explicit one.
fn defaults_to_repo(e: &Event, repo: &str) -> bool {
    let short = repo.rsplit('/').next().unwrap_or(repo);
    e.service.as_deref().is_none_or(|s| s == short)
}

/// Repositories of `events` that no service of `intent` claims, by `repos`
/// or by name, with event counts: what `bearing ingest` warns about, the
/// same rule [`Dataset`] maps deliveries by.
pub fn unclaimed_repos(intent: &Intent, events: &[Event]) -> Vec<(String, usize)> {
    let repos: Vec<String> = intent
        .services
        .iter()
        .flat_map(|s| s.repos.iter().map(|r| normalise_repo(r.repo())))
        .collect();
    let mut out: std::collections::BTreeMap<String, usize> = Default::default();
    for e in events {
        let Some(r) = repo_of(e) else { continue };
        if !defaults_to_repo(e, &r) || repos.iter().any(|x| same_repo(x, &r)) {
            continue;
        }
        if e.service
            .as_deref()
            .is_some_and(|s| intent.service(s).is_some())
        {
            continue;
        }
        *out.entry(r).or_default() += 1;
    }
    out.into_iter().collect()
}

/// A monorepo directory as a prefix: no `./`, no leading or trailing `/`.
fn normalise_path(p: &str) -> String {
    p.trim()
        .trim_start_matches("./")
        .trim_matches('/')
        .to_owned()
}

/// Whether `file` is `dir` or lies under it (`services/alpha` holds
/// `services/alpha/x`, not `services/alphabet/x`).
fn under_path(file: &str, dir: &str) -> bool {
    let f = file.trim_start_matches("./").trim_start_matches('/');
    f.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `word` occurs in `text` between non-alphanumeric characters.
fn has_word(text: &str, word: &str) -> bool {
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
}

fn normalise_repo(r: &str) -> String {
    let r = r.trim().trim_end_matches('/');
    let r = r.strip_suffix(".git").unwrap_or(r);
    let r = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))
        .unwrap_or(r);
    r.to_ascii_lowercase()
}

/// Severity index into the SLA table (`None` for info/unknown: no SLA).
pub(crate) fn sla_index(s: Severity) -> Option<usize> {
    match s {
        Severity::Critical => Some(0),
        Severity::High => Some(1),
        Severity::Medium => Some(2),
        Severity::Low => Some(3),
        Severity::Info | Severity::Unknown => None,
    }
}
