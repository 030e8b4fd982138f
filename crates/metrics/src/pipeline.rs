//! Pipeline jobs and steps: queue time, job and step durations, success
//! and flaky rates, billed CI minutes and their cost, wasted minutes, the
//! critical path of runs, and the insights that say what to change.
//!
//! Everything here reads [`JobRec`]s: finished jobs of pipeline runs (GitHub
//! `workflow_job`, GitLab job hooks, CDEvents `taskrun`). Whole runs feed
//! `pipeline.success_rate` and `pipeline.duration.*` in [`crate::security`].
//! Definitions are in `docs/metrics.md` ("Pipeline jobs").

use std::collections::BTreeMap;

use bearing_events::{PipelineLayout, Status};
use bearing_intent::{Duration, Intent, Scope};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dataset::{Dataset, FxMap, JobRec, NONE, Ts, to_time, ts};
use crate::engine::{Ctx, MetricValue, Rec, fmt_secs};
use crate::stats::{quantile, select_quantile};

/// GitHub's list price per minute of a standard runner, USD
/// (docs.github.com, "About billing for GitHub Actions", per-minute rates).
pub const DEFAULT_PRICES: [(&str, f64); 4] = [
    ("linux", 0.008),
    ("windows", 0.016),
    ("macos", 0.08),
    ("self-hosted", 0.0),
];

/// Per-minute runner prices: the intent's `settings.ci_prices` over
/// [`DEFAULT_PRICES`].
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    by_key: BTreeMap<String, f64>,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            by_key: DEFAULT_PRICES
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}

impl Prices {
    pub fn from_intent(intent: &Intent) -> Self {
        let mut p = Prices::default();
        if let Some(s) = &intent.settings {
            for (k, v) in &s.ci_prices {
                p.by_key.insert(k.to_ascii_lowercase(), *v);
            }
        }
        p
    }

    /// The price per minute of a runner with these labels (joined by `,`):
    /// a label priced by name; else `self-hosted`; else the OS the labels
    /// name (`windows…`, `macos…`, else Linux) times the size multiplier.
    pub fn per_minute(&self, labels: &str) -> f64 {
        let labels: Vec<String> = labels
            .split(',')
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(p) = labels.iter().find_map(|l| self.by_key.get(l)) {
            return *p;
        }
        if labels.iter().any(|l| l == "self-hosted") {
            return self.get("self-hosted");
        }
        let os = if labels.iter().any(|l| l.starts_with("windows")) {
            "windows"
        } else if labels.iter().any(|l| l.starts_with("macos")) {
            "macos"
        } else {
            "linux"
        };
        self.get(os) * size_multiplier(os, &labels)
    }

    fn get(&self, key: &str) -> f64 {
        self.by_key.get(key).copied().unwrap_or(0.0)
    }
}

/// GitHub's larger runners cost in proportion to their cores (a 2-core
/// runner is 1×): a label `…-8-cores` or `…-8core` is 4×; macOS `…-large`
/// and `…-xlarge` runners cost 1.5× the standard one.
fn size_multiplier(os: &str, labels: &[String]) -> f64 {
    if os == "macos" {
        return if labels.iter().any(|l| l.ends_with("large")) {
            1.5
        } else {
            1.0
        };
    }
    for l in labels {
        for part in l.split('-') {
            let digits = part
                .strip_suffix("cores")
                .or_else(|| part.strip_suffix("core"));
            if let Some(n) = digits.and_then(|d| d.parse::<f64>().ok())
                && n >= 2.0
            {
                return n / 2.0;
            }
        }
        // `ubuntu-latest-8-cores`: the number is its own part.
        let parts: Vec<&str> = l.split('-').collect();
        for w in parts.windows(2) {
            if matches!(w[1], "core" | "cores")
                && let Ok(n) = w[0].parse::<f64>()
                && n >= 2.0
            {
                return n / 2.0;
            }
        }
    }
    1.0
}

/// Billed minutes of a job: its run time rounded up to a whole minute
/// (GitHub's rule); a job that never started bills nothing.
fn billed_minutes(j: &JobRec) -> f64 {
    j.duration().map_or(0.0, |d| ((d + 59) / 60) as f64)
}

fn env_ok(ctx: &Ctx<'_>, env: u32) -> bool {
    match ctx.scope.environment.as_deref() {
        None => true,
        Some(name) => ctx.ds.env_name(env) == Some(name),
    }
}

/// Finished jobs of the scope in the window, matching the `pipeline` and
/// `job` filters, with their service.
fn jobs<'a>(ctx: &Ctx<'a>) -> Vec<(u32, &'a JobRec)> {
    let ds = ctx.ds;
    let pipes = ctx.filter_values("pipeline");
    let names = ctx.filter_values("job");
    let mut out = Vec::new();
    for s in ds.services_in(ctx.scope) {
        let all = &ds.data[s as usize].jobs;
        let a = all.partition_point(|j| j.time <= ctx.from);
        let b = all.partition_point(|j| j.time <= ctx.to);
        for j in &all[a..b.max(a)] {
            if env_ok(ctx, j.env)
                && pipes
                    .as_ref()
                    .is_none_or(|w| w.contains(&ds.names.name(j.pipeline)))
                && names
                    .as_ref()
                    .is_none_or(|w| w.contains(&ds.ci.name(j.name)))
            {
                out.push((s, j));
            }
        }
    }
    out
}

fn rec(s: u32, j: &JobRec, value: Option<f64>) -> Rec {
    Rec {
        ev: j.ev,
        time: j.time,
        svc: s,
        env: j.env,
        value,
        confidence: None,
    }
}

/// `pipeline.queue_time.*`.
pub(crate) fn queue_time(ctx: &mut Ctx<'_>, q: f64) -> MetricValue {
    let mut samples = Vec::new();
    for (s, j) in jobs(ctx) {
        let Some(d) = j.queue() else { continue };
        samples.push(d as f64);
        ctx.tr.add(ctx.ds, rec(s, j, Some(d as f64)), || {
            format!("job waited {} for a runner", fmt_secs(d as f64))
        });
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, q), n)
}

/// `pipeline.job.duration.*`: jobs that succeeded or failed.
pub(crate) fn job_duration(ctx: &mut Ctx<'_>, q: f64) -> MetricValue {
    let mut samples = Vec::new();
    for (s, j) in jobs(ctx) {
        if j.status == Status::Cancelled {
            continue;
        }
        let Some(d) = j.duration() else { continue };
        samples.push(d as f64);
        ctx.tr.add(ctx.ds, rec(s, j, Some(d as f64)), || {
            format!("job took {}", fmt_secs(d as f64))
        });
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, q), n)
}

/// `pipeline.step.duration.*`.
pub(crate) fn step_duration(ctx: &mut Ctx<'_>, q: f64) -> MetricValue {
    let want = ctx.filter_values("step");
    let mut samples = Vec::new();
    for (s, j) in jobs(ctx) {
        let steps = &ctx.ds.data[s as usize].steps;
        let (a, n) = j.steps;
        let mut hit = false;
        for st in &steps[a as usize..(a + n) as usize] {
            if want
                .as_ref()
                .is_none_or(|w| w.contains(&ctx.ds.ci.name(st.name)))
            {
                samples.push((st.end - st.start).max(0) as f64);
                hit = true;
            }
        }
        if hit {
            ctx.tr
                .add(ctx.ds, rec(s, j, None), || "job with the steps".into());
        }
    }
    let n = samples.len();
    ctx.value(quantile(&mut samples, q), n)
}

/// `pipeline.job.success_rate`.
pub(crate) fn job_success(ctx: &mut Ctx<'_>) -> MetricValue {
    let (mut n, mut ok) = (0usize, 0usize);
    for (s, j) in jobs(ctx) {
        if j.status == Status::Cancelled {
            continue;
        }
        n += 1;
        let good = j.status == Status::Success;
        ok += usize::from(good);
        ctx.tr.add(ctx.ds, rec(s, j, None), || {
            if good { "job succeeded" } else { "job failed" }.into()
        });
    }
    ctx.value((n > 0).then(|| ok as f64 / n as f64), n)
}

/// Jobs with a commit, not cancelled, sorted by (service, pipeline, job
/// name, commit, finish, attempt), and the ranges of each (service,
/// pipeline, job name, commit) in it: the attempts of a job on one commit,
/// in finishing order. One sort instead of a map of small vectors.
struct ByCommit<'a> {
    jobs: Vec<(u32, &'a JobRec)>,
    groups: Vec<std::ops::Range<usize>>,
}

fn by_commit<'a>(list: &[(u32, &'a JobRec)]) -> ByCommit<'a> {
    let mut jobs: Vec<(u32, &'a JobRec)> = list
        .iter()
        .copied()
        .filter(|(_, j)| j.sha != NONE && j.status != Status::Cancelled)
        .collect();
    let key = |&(s, j): &(u32, &JobRec)| (s, j.pipeline, j.name, j.sha);
    jobs.sort_unstable_by_key(|x| (key(x), x.1.finished.unwrap_or(x.1.time), x.1.attempt));
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=jobs.len() {
        if i == jobs.len() || key(&jobs[i]) != key(&jobs[start]) {
            groups.push(start..i);
            start = i;
        }
    }
    ByCommit { jobs, groups }
}

/// A failure followed by a success: the failed attempts before the last
/// success were re-run for nothing but flakiness.
fn flaky_failures<'a, 'b>(
    runs: &'b [(u32, &'a JobRec)],
) -> impl Iterator<Item = &'b (u32, &'a JobRec)> {
    let last_ok = runs
        .iter()
        .rposition(|(_, j)| j.status == Status::Success)
        .unwrap_or(0);
    runs[..last_ok]
        .iter()
        .filter(|(_, j)| j.status == Status::Failure)
}

/// `pipeline.job.flaky_rate`.
pub(crate) fn flaky_rate(ctx: &mut Ctx<'_>) -> MetricValue {
    let list = jobs(ctx);
    let g = by_commit(&list);
    let mut flaky = 0usize;
    for r in &g.groups {
        let runs = &g.jobs[r.clone()];
        if flaky_failures(runs).next().is_none() {
            continue;
        }
        flaky += 1;
        for &(s, j) in runs {
            let failed = j.status == Status::Failure;
            ctx.tr.add(ctx.ds, rec(s, j, None), || {
                if failed {
                    "failed, then passed on the same commit"
                } else {
                    "passed on a re-run of the same commit"
                }
                .into()
            });
        }
    }
    let n = g.groups.len();
    ctx.value((n > 0).then(|| flaky as f64 / n as f64), n)
}

/// `pipeline.minutes` (`cost` false) and `pipeline.cost` (`cost` true).
pub(crate) fn minutes(ctx: &mut Ctx<'_>, cost: bool) -> MetricValue {
    let prices = &ctx.ds.ci_prices;
    let mut total = 0.0;
    let mut cache: FxMap<u32, f64> = FxMap::default();
    let list = jobs(ctx);
    for &(s, j) in &list {
        let m = billed_minutes(j);
        let price = *cache
            .entry(j.runner)
            .or_insert_with(|| prices.per_minute(ctx.ds.ci.name(j.runner)));
        let v = if cost { m * price } else { m };
        total += v;
        ctx.tr.add(ctx.ds, rec(s, j, Some(v)), || {
            format!("{m} billed minutes at {price} USD/min")
        });
    }
    let mut v = ctx.value(Some(total), list.len());
    if cost {
        v.currency = Some("USD".into());
    }
    v
}

/// `pipeline.wasted_minutes`.
pub(crate) fn wasted(ctx: &mut Ctx<'_>) -> MetricValue {
    let list = jobs(ctx);
    let w = waste(ctx.ds, &list, &by_commit(&list));
    for (s, j, m, why) in &w.items {
        ctx.tr.add(ctx.ds, rec(*s, j, Some(*m)), || {
            format!("{m} minutes {why}")
        });
    }
    ctx.value(Some(w.total()), list.len())
}

/// Minutes lost, by cause, with the jobs behind each.
struct Waste<'a> {
    items: Vec<(u32, &'a JobRec, f64, &'static str)>,
}

impl Waste<'_> {
    // `+ 0.0`: an empty float sum is -0.0, which prints as `-0`.
    fn total(&self) -> f64 {
        self.items.iter().map(|x| x.2).sum::<f64>() + 0.0
    }
    fn of(&self, why: &str) -> f64 {
        self.items
            .iter()
            .filter(|x| x.3 == why)
            .map(|x| x.2)
            .sum::<f64>()
            + 0.0
    }
}

const FLAKY: &str = "re-run after a flaky failure";
const CANCELLED: &str = "of a cancelled job";
const SUPERSEDED: &str = "after a newer commit's run was queued";

fn waste<'a>(ds: &Dataset, list: &[(u32, &'a JobRec)], commits: &ByCommit<'a>) -> Waste<'a> {
    let mut items = Vec::new();
    for r in &commits.groups {
        for &(s, j) in flaky_failures(&commits.jobs[r.clone()]) {
            items.push((s, j, billed_minutes(j), FLAKY));
        }
    }
    for &(s, j) in list {
        if j.status == Status::Cancelled && billed_minutes(j) > 0.0 {
            items.push((s, j, billed_minutes(j), CANCELLED));
        }
    }
    // Runs per (service, pipeline, branch): a run whose jobs go on after a
    // run for a different commit was queued is working for an old commit.
    let mut jobs: Vec<(u32, &'a JobRec)> = list
        .iter()
        .copied()
        .filter(|(_, j)| j.branch != NONE && j.sha != NONE)
        .collect();
    let run_key = |&(s, j): &(u32, &JobRec)| (s, j.pipeline, j.branch, j.run);
    jobs.sort_unstable_by_key(run_key);
    // (service, pipeline, branch, first queued, run name, sha, jobs range)
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=jobs.len() {
        if i == jobs.len() || run_key(&jobs[i]) != run_key(&jobs[start]) {
            let (s, j) = jobs[start];
            let first = jobs[start..i]
                .iter()
                .map(|(_, j)| j.queued.or(j.started).unwrap_or(j.time))
                .min()
                .unwrap_or(j.time);
            runs.push((
                s,
                j.pipeline,
                j.branch,
                first,
                ds.ci.name(j.run),
                j.sha,
                start..i,
            ));
            start = i;
        }
    }
    runs.sort_unstable_by(|a, b| (a.0, a.1, a.2, a.3, a.4).cmp(&(b.0, b.1, b.2, b.3, b.4)));
    for (i, run) in runs.iter().enumerate() {
        // The first later run of the same branch for another commit.
        let Some(newer) = runs[i + 1..]
            .iter()
            .take_while(|x| (x.0, x.1, x.2) == (run.0, run.1, run.2))
            .find(|x| x.5 != run.5)
            .map(|x| x.3)
        else {
            continue;
        };
        for &(s, j) in &jobs[run.6.clone()] {
            if j.status == Status::Cancelled {
                continue;
            }
            if let (Some(a), Some(b)) = (j.started, j.finished) {
                let over = b - a.max(newer);
                if over > 0 {
                    items.push((s, j, over as f64 / 60.0, SUPERSEDED));
                }
            }
        }
    }
    Waste { items }
}

// ---------------------------------------------------------------------------
// The report: per pipeline figures, a typical run and insights.

/// What an insight serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    LeadTime,
    Cost,
}

/// A recommendation with its evidence, a place to change and the saving.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight {
    /// Stable id, `kind:service:pipeline[:job][:step]`: the same finding
    /// keeps it from one report to the next (see [`insight_id`]).
    pub id: String,
    /// `critical-path`, `slow-step`, `uncached-install`, `flaky-job`,
    /// `superseded-runs`, `queueing`, `serial-jobs`.
    pub kind: &'static str,
    pub objective: Objective,
    pub service: String,
    pub pipeline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// One sentence: the finding and what to change.
    pub message: String,
    /// `file:line` in the repository, when its workflows were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// CI minutes a week the change would save (cost insights).
    pub minutes_per_week: f64,
    /// The same in USD.
    pub money_per_week: f64,
    /// Seconds off a typical run's wall time (lead-time insights).
    pub run_seconds: f64,
    /// `run_seconds` over the runs of a week: minutes of waiting saved.
    pub lead_time_minutes_per_week: f64,
    /// Event ids of the job records behind it (the first 20 in id order) and their count.
    pub records: Vec<String>,
    pub record_count: usize,
}

/// One bar of a typical run's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub job: String,
    /// Seconds from the run's start to the job being queued, started, finished.
    pub queued: f64,
    pub started: f64,
    pub finished: f64,
    pub critical: bool,
}

/// Per job figures of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    pub job: String,
    pub runs: usize,
    pub duration_p50: Option<f64>,
    pub duration_p90: Option<f64>,
    pub queue_p50: Option<f64>,
    pub success_rate: Option<f64>,
    pub flaky_rate: Option<f64>,
    /// Seconds this job spent on runs' critical paths / the runs' wall time.
    pub critical_share: f64,
    pub minutes: f64,
    pub cost: f64,
}

/// One pipeline of one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineSummary {
    pub service: String,
    pub pipeline: String,
    /// Run attempts with at least one finished job.
    pub runs: usize,
    pub wall_p50: Option<f64>,
    pub minutes: f64,
    pub cost: f64,
    pub wasted_minutes: f64,
    pub jobs: Vec<JobSummary>,
    /// The run whose wall time is the median, job by job.
    pub typical_run: Vec<Bar>,
    /// Billed minutes and cost per day (UTC date, minutes, USD), oldest first.
    pub daily: Vec<(String, f64, f64)>,
    /// Queue time p50 per day (UTC date, seconds).
    pub daily_queue: Vec<(String, f64)>,
}

/// `bearing pipelines insights` and the dashboard's Pipelines page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub pipelines: Vec<PipelineSummary>,
    /// Largest saving first.
    pub insights: Vec<Insight>,
}

/// Dependency installs worth caching, by a step's lower-case name.
const INSTALLS: [&str; 12] = [
    "npm ci",
    "npm install",
    "yarn install",
    "pnpm install",
    "pip install",
    "poetry install",
    "bundle install",
    "go mod download",
    "cargo fetch",
    "composer install",
    "mvn dependency",
    "gradle dependencies",
];

/// Insights need this much behind them.
const MIN_RUNS: usize = 3;

/// Pipelines of the scope over `(now - window, now]`, with insights joined
/// to `layouts` (the repository's workflows, when known) by pipeline name.
pub fn pipeline_report(
    ds: &Dataset,
    scope: &Scope,
    window: Duration,
    now: DateTime<Utc>,
    layouts: &[PipelineLayout],
) -> PipelineReport {
    let prices = &ds.ci_prices;
    let to = ts(now);
    let from = to.saturating_sub(window.as_secs_i64().max(1));
    let weeks = (to - from) as f64 / (7.0 * 86_400.0);
    let filter = BTreeMap::new();
    let mut tr = crate::engine::Tracer::new(crate::engine::TraceMode::Off);
    let ctx = Ctx {
        ds,
        metric: "pipeline.report",
        scope,
        filter: &filter,
        from,
        to,
        tr: &mut tr,
    };
    let list = jobs(&ctx);
    let mut by_pipe: FxMap<(u32, u32), Vec<(u32, &JobRec)>> = FxMap::default();
    for &(s, j) in &list {
        by_pipe.entry((s, j.pipeline)).or_default().push((s, j));
    }
    let mut keys: Vec<_> = by_pipe.keys().copied().collect();
    keys.sort_by(|a, b| {
        (ds.svc_name(a.0), ds.names.name(a.1)).cmp(&(ds.svc_name(b.0), ds.names.name(b.1)))
    });
    let mut pipelines = Vec::new();
    let mut insights = Vec::new();
    for k in keys {
        let name = ds.names.name(k.1);
        let layout = layouts.iter().find(|l| l.name == name);
        let (summary, mut found) = one_pipeline(ds, prices, k.0, name, &by_pipe[&k], weeks, layout);
        pipelines.push(summary);
        insights.append(&mut found);
    }
    // Minutes a week, of CI or of waiting, whichever the change saves more of.
    insights.sort_by(|a, b| {
        let score = |i: &Insight| i.minutes_per_week.max(i.lead_time_minutes_per_week);
        score(b)
            .total_cmp(&score(a))
            .then_with(|| a.message.cmp(&b.message))
    });
    PipelineReport {
        from: to_time(from),
        to: to_time(to),
        pipelines,
        insights,
    }
}

/// The jobs of one run attempt, and its critical path.
struct Run<'a, 'b> {
    jobs: &'b [&'a JobRec],
    start: Ts,
    end: Ts,
    /// Indexes into `jobs`, first job first.
    path: Vec<usize>,
}

/// The chain of jobs that set the run's wall time: from the job that
/// finished last, back through the job it waited for — among its `needs`
/// when the workflow is known, else any job — that finished last before
/// it started. Cancelled jobs set no result and are left out.
fn critical_path<'n>(jobs: &[&JobRec], needs: &dyn Fn(u32) -> Option<&'n Vec<u32>>) -> Vec<usize> {
    let done: Vec<usize> = (0..jobs.len())
        .filter(|&i| {
            jobs[i].status != Status::Cancelled
                && jobs[i].started.is_some()
                && jobs[i].finished.is_some()
        })
        .collect();
    let Some(&last) = done
        .iter()
        .max_by_key(|&&i| (jobs[i].finished, jobs[i].duration()))
    else {
        return Vec::new();
    };
    let mut path = vec![last];
    let mut cur = last;
    while let Some(start) = jobs[cur].started {
        let allowed = needs(jobs[cur].name);
        let prev = done
            .iter()
            .copied()
            .filter(|&i| !path.contains(&i))
            .filter(|&i| jobs[i].finished.is_some_and(|f| f <= start))
            .filter(|&i| allowed.as_ref().is_none_or(|a| a.contains(&jobs[i].name)))
            .max_by_key(|&i| (jobs[i].finished, jobs[i].duration()));
        match prev {
            Some(p) => {
                path.push(p);
                cur = p;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

fn is_install(step: &str) -> bool {
    let s = step.to_ascii_lowercase();
    INSTALLS.iter().any(|i| s.contains(i))
}

fn records_of(ds: &Dataset, jobs: &[&JobRec]) -> (Vec<String>, usize) {
    let mut ids: Vec<&str> = jobs.iter().map(|j| ds.id(j.ev)).collect();
    ids.sort_unstable();
    ids.dedup();
    let n = ids.len();
    (ids.into_iter().take(20).map(str::to_string).collect(), n)
}

fn p50(v: &mut [f64]) -> Option<f64> {
    select_quantile(v, 0.5)
}

#[allow(clippy::too_many_lines)]
fn one_pipeline(
    ds: &Dataset,
    prices: &Prices,
    svc: u32,
    name: &str,
    list: &[(u32, &JobRec)],
    weeks: f64,
    layout: Option<&PipelineLayout>,
) -> (PipelineSummary, Vec<Insight>) {
    let service = ds.svc_name(svc).to_string();
    // Layout jobs by the name GitHub reports (`name:` else the id).
    let lay_job = |job: &str| {
        layout.and_then(|l| {
            l.jobs
                .iter()
                .find(|x| x.name.as_deref().unwrap_or(&x.id) == job || x.id == job)
        })
    };
    let at = |line: u32| layout.map(|l| format!("{}:{line}", l.file));
    // `needs` by job name id, from the workflow.
    let mut needs_of: FxMap<u32, Vec<u32>> = FxMap::default();
    if let Some(l) = layout {
        for lj in &l.jobs {
            if let Some(id) = ds.ci.get(lj.name.as_deref().unwrap_or(&lj.id)) {
                let needs = lj
                    .needs
                    .iter()
                    .filter_map(|n| {
                        let j = l.jobs.iter().find(|x| &x.id == n)?;
                        ds.ci.get(j.name.as_deref().unwrap_or(&j.id))
                    })
                    .collect();
                needs_of.insert(id, needs);
            }
        }
    }
    let needs = |name: u32| needs_of.get(&name);
    // Runs: the jobs sorted by run, each run a slice.
    let mut sorted: Vec<&JobRec> = list.iter().map(|x| x.1).collect();
    sorted.sort_unstable_by_key(|j| (j.run, j.started, j.finished, j.name));
    let mut runs: Vec<Run<'_, '_>> = Vec::new();
    let mut first = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i].run != sorted[first].run {
            let jobs = &sorted[first..i];
            runs.push(Run {
                jobs,
                start: jobs
                    .iter()
                    .map(|j| j.queued.or(j.started).unwrap_or(j.time))
                    .min()
                    .unwrap_or(0),
                end: jobs
                    .iter()
                    .map(|j| j.finished.unwrap_or(j.time))
                    .max()
                    .unwrap_or(0),
                path: critical_path(jobs, &needs),
            });
            first = i;
        }
    }
    // Per job name.
    struct Acc<'a> {
        durations: Vec<f64>,
        queues: Vec<f64>,
        ok: usize,
        failed: usize,
        critical: f64,
        minutes: f64,
        cost: f64,
        recs: Vec<&'a JobRec>,
        runner: u32,
        /// (commits, flaky commits, the jobs of flaky commits)
        flaky: (usize, usize, Vec<&'a JobRec>),
    }
    let mut acc: FxMap<u32, Acc<'_>> = FxMap::default();
    let mut price_of: FxMap<u32, f64> = FxMap::default();
    let (mut minutes, mut cost) = (0.0, 0.0);
    let mut daily: FxMap<i64, Day> = FxMap::default();
    for &(_, j) in list {
        let a = acc.entry(j.name).or_insert_with(|| Acc {
            durations: Vec::new(),
            queues: Vec::new(),
            ok: 0,
            failed: 0,
            critical: 0.0,
            minutes: 0.0,
            cost: 0.0,
            recs: Vec::new(),
            runner: j.runner,
            flaky: (0, 0, Vec::new()),
        });
        if j.status != Status::Cancelled
            && let Some(d) = j.duration()
        {
            a.durations.push(d as f64);
        }
        if let Some(q) = j.queue() {
            a.queues.push(q as f64);
        }
        match j.status {
            Status::Success => a.ok += 1,
            Status::Failure => a.failed += 1,
            _ => {}
        }
        let m = billed_minutes(j);
        let price = *price_of
            .entry(j.runner)
            .or_insert_with(|| prices.per_minute(ds.ci.name(j.runner)));
        a.minutes += m;
        a.cost += m * price;
        a.recs.push(j);
        minutes += m;
        cost += m * price;
        let day = daily.entry(j.time.div_euclid(86_400)).or_default();
        day.0 += m;
        day.1 += m * price;
        if let Some(q) = j.queue() {
            day.2.push(q as f64);
        }
    }
    let mut walls = Vec::new();
    let mut wall_total = 0.0;
    for r in &runs {
        if r.path.is_empty() {
            continue;
        }
        let wall = (r.end - r.start) as f64;
        walls.push(wall);
        wall_total += wall;
        for &i in &r.path {
            let j = r.jobs[i];
            if let (Some(a), Some(d)) = (acc.get_mut(&j.name), j.duration()) {
                a.critical += d as f64;
            }
        }
    }
    let commits = by_commit(list);
    for r in &commits.groups {
        let g = &commits.jobs[r.clone()];
        let Some(a) = acc.get_mut(&g[0].1.name) else {
            continue;
        };
        a.flaky.0 += 1;
        if flaky_failures(g).next().is_some() {
            a.flaky.1 += 1;
            a.flaky.2.extend(g.iter().map(|x| x.1));
        }
    }
    let w = waste(ds, list, &commits);
    let mut acc: Vec<(&str, Acc<'_>)> = acc.into_iter().map(|(k, v)| (ds.ci.name(k), v)).collect();
    acc.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut insights = Vec::new();
    let base = |kind, objective, job: Option<&str>, message: String| Insight {
        id: String::new(),
        kind,
        objective,
        service: service.clone(),
        pipeline: name.to_string(),
        job: job.map(str::to_string),
        step: None,
        message,
        location: None,
        minutes_per_week: 0.0,
        money_per_week: 0.0,
        run_seconds: 0.0,
        lead_time_minutes_per_week: 0.0,
        records: Vec::new(),
        record_count: 0,
    };
    let mut jobs_out = Vec::new();
    let mut slow_queues: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (job, a) in &mut acc {
        let job: &str = job;
        let price = price_of.get(&a.runner).copied().unwrap_or(0.0);
        let f = (a.flaky.0 > 0).then_some(&a.flaky);
        let flaky_rate = f.map(|f| f.1 as f64 / f.0 as f64);
        let summary = JobSummary {
            job: job.to_string(),
            runs: a.recs.len(),
            duration_p50: p50(&mut a.durations),
            duration_p90: select_quantile(&mut a.durations, 0.9),
            queue_p50: p50(&mut a.queues),
            success_rate: (a.ok + a.failed > 0).then(|| a.ok as f64 / (a.ok + a.failed) as f64),
            flaky_rate,
            critical_share: if wall_total > 0.0 {
                a.critical / wall_total
            } else {
                0.0
            },
            minutes: a.minutes,
            cost: a.cost,
        };
        // Flaky job: what its failed attempts cost.
        if let Some((n, nf, recs)) = f
            && *nf > 0
        {
            let fails: f64 = w
                .items
                .iter()
                .filter(|x| x.3 == FLAKY && ds.ci.name(x.1.name) == job)
                .map(|x| x.2)
                .sum();
            let mut i = base(
                "flaky-job",
                Objective::Cost,
                Some(job),
                format!(
                    "job `{job}` is flaky ({:.0}% of commits: {nf} of {n} failed and then passed on a re-run; {:.0} min/week re-run): fix or quarantine the flaky test",
                    100.0 * *nf as f64 / *n as f64,
                    fails / weeks
                ),
            );
            i.minutes_per_week = fails / weeks;
            i.money_per_week = fails * price / weeks;
            (i.records, i.record_count) = records_of(ds, recs);
            i.location = lay_job(job).and_then(|l| at(l.line));
            insights.push(i);
        }
        // Queueing: jobs that wait two minutes or more for a runner.
        if summary.queue_p50.is_some_and(|q| q >= 120.0) && a.queues.len() >= MIN_RUNS {
            slow_queues.entry(a.runner).or_default().push(job);
        }
        jobs_out.push(summary);
    }
    let acc_of = |job: &str| acc.iter().find(|x| x.0 == job).map(|x| &x.1);
    // One recommendation per runner pool that keeps jobs waiting.
    for (runner, names) in &slow_queues {
        let pool: Vec<&Acc<'_>> = names.iter().filter_map(|n| acc_of(n)).collect();
        let mut waits: Vec<f64> = pool.iter().flat_map(|a| a.queues.iter().copied()).collect();
        let Some(q) = p50(&mut waits) else { continue };
        let recs: Vec<&JobRec> = pool.iter().flat_map(|a| a.recs.iter().copied()).collect();
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (what, job) = match names.as_slice() {
            [one] => (format!("job {list} waits"), Some(*one)),
            _ => (format!("jobs {list} wait"), None),
        };
        let mut i = base(
            "queueing",
            Objective::LeadTime,
            job,
            format!(
                "{what} {} p50 for a runner (`{}`): add runners to that pool or move the jobs to a larger one",
                fmt_secs(q),
                ds.ci.name(*runner)
            ),
        );
        i.run_seconds = q;
        (i.records, i.record_count) = records_of(ds, &recs);
        i.location = job.and_then(lay_job).and_then(|l| at(l.line));
        insights.push(i);
    }
    // The critical path's biggest job, and its slowest step.
    if walls.len() >= MIN_RUNS
        && let Some(top) = jobs_out
            .iter()
            .max_by(|a, b| a.critical_share.total_cmp(&b.critical_share))
        && top.critical_share >= 0.6
        && jobs_out.len() > 1
    {
        let recs = acc_of(&top.job).map_or(&[][..], |a| &a.recs[..]);
        let slowest = slowest_step(ds, svc, recs);
        let tail = match &slowest {
            Some((st, d)) => format!("; its slowest step `{st}` takes {} p50", fmt_secs(*d)),
            None => String::new(),
        };
        let mut i = base(
            "critical-path",
            Objective::LeadTime,
            Some(&top.job),
            format!(
                "job `{}` is {:.0}% of the critical path of `{name}`{tail}: split it or run its parts in parallel",
                top.job,
                100.0 * top.critical_share
            ),
        );
        i.step = slowest.as_ref().map(|s| s.0.clone());
        i.run_seconds = top.duration_p50.unwrap_or(0.0) / 2.0;
        (i.records, i.record_count) = records_of(ds, recs);
        i.location = lay_job(&top.job).and_then(|l| at(l.line));
        insights.push(i);
    }
    // Dependency installs without a cache.
    for (job, a) in &acc {
        let job: &str = job;
        let lj = lay_job(job);
        let cached = lj.is_some_and(|l| {
            l.steps.iter().any(|s| {
                s.uses.as_deref().is_some_and(|u| {
                    u.starts_with("actions/cache")
                        || (u.starts_with("actions/setup-")
                            && s.with.iter().any(|(k, v)| k == "cache" && !v.is_empty()))
                })
            })
        });
        if cached {
            continue;
        }
        for (st, mut d) in step_durations(ds, svc, &a.recs) {
            if !is_install(&st) || d.len() < MIN_RUNS {
                continue;
            }
            let n = d.len();
            let Some(m) = p50(&mut d) else { continue };
            if m < 60.0 {
                continue;
            }
            let price = price_of.get(&a.runner).copied().unwrap_or(0.0);
            let line = lj.and_then(|l| l.steps.iter().find(|s| s.name == st).map(|s| s.line));
            let mut i = base(
                "uncached-install",
                Objective::LeadTime,
                Some(job),
                format!(
                    "step `{st}` of job `{job}` takes {} p50 with no cache: add actions/cache or the setup action's `cache:` input",
                    fmt_secs(m)
                ),
            );
            i.step = Some(st.clone());
            // Up to the step's whole time, on every run of the job.
            let per_week = m / 60.0 * n as f64 / weeks;
            i.minutes_per_week = per_week;
            i.money_per_week = per_week * price;
            i.run_seconds = m;
            (i.records, i.record_count) = records_of(ds, &a.recs);
            i.location = line.and_then(at);
            insights.push(i);
        }
    }
    // Superseded runs.
    let sup = w.of(SUPERSEDED);
    if sup > 0.0 && !layout.is_some_and(|l| l.cancel_in_progress) {
        let jobs: Vec<&JobRec> = w
            .items
            .iter()
            .filter(|x| x.3 == SUPERSEDED)
            .map(|x| x.1)
            .collect();
        let money: f64 = w
            .items
            .iter()
            .filter(|x| x.3 == SUPERSEDED)
            .map(|x| x.2 * price_of.get(&x.1.runner).copied().unwrap_or(0.0))
            .sum();
        // GitLab cancels redundant pipelines itself once jobs are interruptible.
        let change = if jobs.iter().all(|j| ds.id(j.ev).starts_with("gitlab:")) {
            format!(
                "mark the jobs of `{name}` `interruptible: true` and turn on auto-cancel redundant pipelines"
            )
        } else {
            format!(
                "add `concurrency: {{group: ${{{{ github.workflow }}}}-${{{{ github.ref }}}}, cancel-in-progress: true}}` to `{name}`"
            )
        };
        let mut i = base(
            "superseded-runs",
            Objective::Cost,
            None,
            format!(
                "{change} (superseded runs wasted {:.0} min/week)",
                sup / weeks
            ),
        );
        i.minutes_per_week = sup / weeks;
        i.money_per_week = money / weeks;
        (i.records, i.record_count) = records_of(ds, &jobs);
        i.location = layout.map(|l| format!("{}:{}", l.file, l.line));
        insights.push(i);
    }
    // Serial jobs: a job that `needs` a check job whose outputs it cannot use.
    if let Some(l) = layout {
        for lj in &l.jobs {
            for dep in &lj.needs {
                let Some(d) = l.jobs.iter().find(|x| &x.id == dep) else {
                    continue;
                };
                let dn = d.name.as_deref().unwrap_or(&d.id);
                let jn = lj.name.as_deref().unwrap_or(&lj.id);
                let check = ["lint", "format", "fmt", "style", "typecheck"]
                    .iter()
                    .any(|c| dn.to_ascii_lowercase().contains(c));
                let Some(a) = acc_of(dn) else { continue };
                if !check || a.durations.is_empty() {
                    continue;
                }
                let mut d50 = a.durations.clone();
                let m = p50(&mut d50).unwrap_or(0.0);
                let mut i = base(
                    "serial-jobs",
                    Objective::LeadTime,
                    Some(jn),
                    format!(
                        "run `{dn}` and `{jn}` in parallel: `{jn}` waits for `{dn}` through `needs` ({} p50) though a check job has nothing to hand on",
                        fmt_secs(m)
                    ),
                );
                i.run_seconds = m;
                (i.records, i.record_count) = records_of(ds, &a.recs);
                i.location = at(lj.line);
                insights.push(i);
            }
        }
    }
    // The typical run: the median wall time.
    let mut order: Vec<(Ts, &str, usize)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.path.is_empty())
        .map(|(i, r)| (r.end - r.start, ds.ci.name(r.jobs[0].run), i))
        .collect();
    let mid = order.len().saturating_sub(1) / 2;
    let typical_run = (!order.is_empty())
        .then(|| *order.select_nth_unstable(mid).1)
        .map(|(_, _, k)| {
            let r = &runs[k];
            r.jobs
                .iter()
                .enumerate()
                .map(|(i, j)| Bar {
                    job: ds.ci.name(j.name).to_string(),
                    queued: (j.queued.or(j.started).unwrap_or(r.start) - r.start) as f64,
                    started: (j.started.unwrap_or(j.time) - r.start) as f64,
                    finished: (j.finished.unwrap_or(j.time) - r.start) as f64,
                    critical: r.path.contains(&i),
                })
                .collect()
        })
        .unwrap_or_default();
    let day_name = |d: i64| to_time(d * 86_400).format("%Y-%m-%d").to_string();
    let mut daily: Vec<(i64, Day)> = daily.into_iter().collect();
    daily.sort_unstable_by_key(|x| x.0);
    let summary = PipelineSummary {
        service,
        pipeline: name.to_string(),
        runs: walls.len(),
        wall_p50: p50(&mut walls),
        minutes,
        cost,
        wasted_minutes: w.total(),
        jobs: jobs_out,
        typical_run,
        daily: daily
            .iter()
            .map(|(d, x)| (day_name(*d), x.0, x.1))
            .collect(),
        daily_queue: daily
            .iter_mut()
            .filter_map(|(d, x)| p50(&mut x.2).map(|q| (day_name(*d), q)))
            .collect(),
    };
    let runs_per_week = summary.runs as f64 / weeks;
    for i in &mut insights {
        i.lead_time_minutes_per_week = i.run_seconds / 60.0 * runs_per_week;
        i.id = insight_id(
            i.kind,
            &i.service,
            &i.pipeline,
            i.job.as_deref(),
            i.step.as_deref(),
        );
    }
    (summary, insights)
}

/// The id of an insight: `kind:service:pipeline`, then `:job` and `:step`
/// when it names them.
pub fn insight_id(
    kind: &str,
    service: &str,
    pipeline: &str,
    job: Option<&str>,
    step: Option<&str>,
) -> String {
    let mut id = format!("{kind}:{service}:{pipeline}");
    for part in [job, step].into_iter().flatten() {
        id.push(':');
        id.push_str(part);
    }
    id
}

/// One day of a pipeline: billed minutes, their cost, and the queue times.
type Day = (f64, f64, Vec<f64>);

/// Durations of each step name over `jobs`, in step-name order.
fn step_durations(ds: &Dataset, svc: u32, jobs: &[&JobRec]) -> BTreeMap<String, Vec<f64>> {
    let steps = &ds.data[svc as usize].steps;
    let mut by: FxMap<u32, Vec<f64>> = FxMap::default();
    for j in jobs {
        let (a, n) = j.steps;
        for st in &steps[a as usize..(a + n) as usize] {
            by.entry(st.name)
                .or_default()
                .push((st.end - st.start).max(0) as f64);
        }
    }
    by.into_iter()
        .map(|(k, v)| (ds.ci.name(k).to_string(), v))
        .collect()
}

/// The step with the largest p50 duration, and that p50.
fn slowest_step(ds: &Dataset, svc: u32, jobs: &[&JobRec]) -> Option<(String, f64)> {
    step_durations(ds, svc, jobs)
        .into_iter()
        .filter_map(|(k, mut v)| p50(&mut v).map(|m| (k, m)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_prices() {
        let p = Prices::default();
        assert_eq!(p.per_minute("ubuntu-latest"), 0.008);
        assert_eq!(p.per_minute("windows-2022"), 0.016);
        assert_eq!(p.per_minute("macos-14"), 0.08);
        assert_eq!(p.per_minute("self-hosted,linux,x64"), 0.0);
        assert_eq!(p.per_minute("ubuntu-latest-8-cores"), 0.032);
        assert_eq!(p.per_minute("linux-16core"), 0.064);
        assert!((p.per_minute("macos-14-xlarge") - 0.12).abs() < 1e-12);
        let mut custom = Prices::default();
        custom.by_key.insert("gpu-runner".into(), 0.07);
        custom.by_key.insert("linux".into(), 0.006);
        assert_eq!(custom.per_minute("gpu-runner"), 0.07);
        assert_eq!(custom.per_minute("ubuntu-24.04"), 0.006);
    }
}
