//! Synthetic delivery histories for benchmarks and the DuckDB comparison.
//!
//! A deterministic organisation of `services` services in teams of ten,
//! each running delivery cycles over `days` days: a change (1–3 commits on
//! a linear main line, so ancestry is known), a pipeline run, a staging
//! deployment and a production deployment; about 5% of production
//! deployments are rolled back and 3% are followed by an incident. Every
//! service also reports one cost row a day and good/total SLO and business
//! points: once a day, or more often when the requested volume exceeds
//! [`MAX_CYCLES`] delivery cycles per service and day (ten million events
//! over 500 services and 90 days is 8 cycles and ~60 point triples a day,
//! rather than an implausible 50 production deployments a day). Events are streamed to a callback, never held,
//! so ten million of them need no more memory than the [`crate::Dataset`].

use std::collections::BTreeMap;

use bearing_events::{
    Change, Commit, CostRow, Deployment, Event, Incident, IncidentStatus, MetricPoint, Payload,
    PipelineRun, Rollback, Status,
};
use bearing_intent::Intent;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub services: usize,
    pub days: u32,
    /// Roughly how many events in total.
    pub events: usize,
    pub seed: u64,
}

impl SynthConfig {
    /// When the history starts; it ends `days` later.
    pub fn start(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }
    /// The instant right after the last event.
    pub fn end(&self) -> DateTime<Utc> {
        self.start() + Duration::days(i64::from(self.days))
    }
}

/// Most delivery cycles (change, run, two deployments) per service and day.
pub const MAX_CYCLES: f64 = 8.0;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn service_name(i: usize) -> String {
    format!("svc-{i:04}")
}

fn team_name(i: usize) -> String {
    format!("team-{:03}", i / 10)
}

/// A 40-hex-digit commit id for commit `n` of service `s`.
pub fn sha(s: usize, n: u64) -> String {
    let mut r = Rng((s as u64) << 40 ^ n);
    format!("{:016x}{:016x}{:08x}", r.next(), r.next(), r.next() as u32)
}

/// The intent of the synthetic organisation: services with budgets and an
/// SLO, and objectives over every layer.
pub fn intent(cfg: &SynthConfig) -> Intent {
    let mut yaml = String::from("version: 1\norganisation: Synthetic\nteams:\n");
    for t in 0..cfg.services.div_ceil(10) {
        yaml.push_str(&format!("  - id: {}\n", team_name(t * 10)));
    }
    yaml.push_str("services:\n");
    for s in 0..cfg.services {
        yaml.push_str(&format!(
            "  - id: {n}\n    team: {t}\n    environments: [staging, production]\n    cost: {{ match: {{ tags: {{ service: {n} }} }}, monthly_budget: 3000 USD }}\n    slos: [{{ id: availability, target: 99.5%, window: 28d, sli: {{ good: http_ok, total: http_total }} }}]\n",
            n = service_name(s),
            t = team_name(s)
        ));
    }
    yaml.push_str(
        r#"objectives:
  - id: faster-delivery
    layer: engineering
    key_results:
      - { metric: dora.lead_time.p50, target: "<= 1d", window: 30d }
      - { metric: dora.lead_time.p90, target: "<= 3d", window: 30d }
      - { metric: dora.deployment_frequency, scope: { team: team-000 }, target: ">= 5/week", window: 30d }
      - { metric: dora.change_failure_rate, target: "< 15%", window: 30d }
      - { metric: dora.recovery_time, target: "<= 1d", window: 30d }
      - { metric: dora.rework_rate, target: "< 5%", window: 30d }
      - { metric: pipeline.success_rate, target: ">= 90%", window: 30d }
  - id: cost
    layer: financial
    key_results:
      - { metric: cost.monthly, target: "<= 2000000 USD" }
      - { metric: cost.budget_used, scope: { service: svc-0000 }, target: "<= 100%" }
      - { metric: cost.anomalies, target: "<= 5", window: 30d }
  - id: security
    layer: security
    key_results:
      - { metric: incident.time_to_resolve, target: "<= 4h", window: 30d }
  - id: reliability
    layer: engineering
    key_results:
      - { metric: slo.error_budget_remaining, scope: { team: team-000 }, target: ">= 0%" }
  - id: conversion
    layer: business
    key_results:
      - { metric: business.conversion, target: ">= 3%", window: 7d }
"#,
    );
    yaml_to_intent(&yaml)
}

fn yaml_to_intent(yaml: &str) -> Intent {
    match bearing_intent::load_str(std::path::Path::new("synthetic.yaml"), yaml) {
        Ok(l) => l.intent,
        Err(_) => Intent::default(),
    }
}

fn event(id: String, time: DateTime<Utc>, svc: &str, env: Option<&str>, payload: Payload) -> Event {
    let mut e = Event::new(id, "synth", time, payload);
    e.service = Some(svc.to_string());
    e.environment = env.map(str::to_string);
    e
}

/// Streams the history to `sink`, service by service in time order.
/// Returns the number of events generated.
pub fn generate(cfg: &SynthConfig, mut sink: impl FnMut(Event)) -> usize {
    let mut count = 0usize;
    let per_svc_day = cfg.events as f64 / (cfg.services.max(1) as f64 * f64::from(cfg.days.max(1)));
    // 4 fixed events per day and ~4.25 per delivery cycle, at most
    // `MAX_CYCLES` cycles a day; beyond that the SLI and business series get
    // finer (a good/total/business triple every 24h / `points_per_day`).
    let cycles_per_day = ((per_svc_day - 4.0) / 4.25).clamp(0.1, MAX_CYCLES);
    let points_per_day = ((per_svc_day - 1.0 - 4.25 * cycles_per_day) / 3.0)
        .round()
        .max(1.0) as u32;
    let start = cfg.start();
    for s in 0..cfg.services {
        let name = service_name(s);
        let mut r = Rng(cfg.seed ^ (s as u64).wrapping_mul(0x1234_5678_9ABC));
        let mut emit = |e: Event| {
            count += 1;
            sink(e);
        };
        let gap = 86_400.0 / cycles_per_day;
        let mut t = r.unit() * gap;
        let mut seq: u64 = 0;
        let mut cycle: u64 = 0;
        let horizon = f64::from(cfg.days) * 86_400.0;
        while t < horizon {
            let at = start + Duration::seconds(t as i64);
            let n = 1 + r.below(3);
            let mut commits = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let parent = (seq > 0).then(|| sha(s, seq - 1));
                commits.push(Commit {
                    sha: sha(s, seq),
                    authored_at: at - Duration::seconds(r.below(2 * 86_400) as i64),
                    parents: parent.into_iter().collect(),
                    author: None,
                    files: Vec::new(),
                });
                seq += 1;
            }
            let head = sha(s, seq - 1);
            emit(event(
                format!("{name}:chg:{cycle}"),
                at,
                &name,
                None,
                Payload::Change(Change {
                    change_id: cycle.to_string(),
                    repo: None,
                    title: None,
                    author: None,
                    commits,
                    merged_at: Some(at),
                    merge_commit: None,
                    files_changed: Some(1 + r.below(40) as u32),
                    additions: None,
                    deletions: None,
                    labels: Vec::new(),
                }),
            ));
            let ok_run = r.below(10) != 0;
            let run_time = at + Duration::seconds(300 + r.below(900) as i64);
            emit(event(
                format!("{name}:run:{cycle}"),
                run_time,
                &name,
                None,
                Payload::PipelineRun(PipelineRun {
                    run_id: cycle.to_string(),
                    pipeline: "ci".into(),
                    status: if ok_run {
                        Status::Success
                    } else {
                        Status::Failure
                    },
                    started_at: Some(at),
                    finished_at: Some(run_time),
                    commit: Some(head.clone()),
                    url: None,
                    queued_at: None,
                    attempt: None,
                    branch: None,
                    job: None,
                }),
            ));
            let deploy = |id: String, time: DateTime<Utc>, env: &str, head: &str| {
                event(
                    id.clone(),
                    time,
                    &name,
                    Some(env),
                    Payload::Deployment(Deployment {
                        deployment_id: id,
                        version: None,
                        commit: Some(head.to_string()),
                        commits: Vec::new(),
                        status: Status::Success,
                        started_at: None,
                        finished_at: None,
                        strategy: None,
                        labels: Vec::new(),
                    }),
                )
            };
            // Both deployments land before the next cycle starts, keeping order.
            let stage_at = at + Duration::seconds((gap * 0.2) as i64);
            emit(deploy(
                format!("{name}:stg:{cycle}"),
                stage_at,
                "staging",
                &head,
            ));
            let prod_at = at + Duration::seconds((gap * (0.3 + 0.3 * r.unit())) as i64);
            let prod_id = format!("{name}:prd:{cycle}");
            emit(deploy(prod_id.clone(), prod_at, "production", &head));
            if r.below(20) == 0 {
                emit(event(
                    format!("{name}:rb:{cycle}"),
                    prod_at + Duration::seconds((gap * 0.05) as i64 + 60),
                    &name,
                    Some("production"),
                    Payload::Rollback(Rollback {
                        rollback_id: cycle.to_string(),
                        deployment_id: Some(prod_id.clone()),
                        from_version: None,
                        to_version: None,
                    }),
                ));
            }
            if r.below(33) == 0 {
                let opened = prod_at + Duration::seconds(600 + r.below(4 * 3600) as i64);
                let inc = format!("{name}:inc:{cycle}");
                let step = |step: &str, time: DateTime<Utc>, status: IncidentStatus| {
                    event(
                        format!("{inc}:{step}"),
                        time,
                        &name,
                        None,
                        Payload::Incident(Incident {
                            incident_id: inc.clone(),
                            status,
                            severity: Some("sev2".into()),
                            title: None,
                            opened_at: None,
                            acknowledged_at: None,
                            resolved_at: None,
                            url: None,
                        }),
                    )
                };
                emit(step("open", opened, IncidentStatus::Opened));
                let resolved = opened + Duration::seconds(1_800 + r.below(3 * 3600) as i64);
                emit(step("resolved", resolved, IncidentStatus::Resolved));
            }
            cycle += 1;
            t += gap * (0.8 + 0.4 * r.unit());
        }
        for d in 0..cfg.days {
            let day = start + Duration::days(i64::from(d));
            let mut tags = BTreeMap::new();
            tags.insert("service".to_string(), name.clone());
            let amount = 60.0 + 40.0 * r.unit() + if r.below(60) == 0 { 300.0 } else { 0.0 };
            emit(event(
                format!("{name}:cost:{d}"),
                day,
                &name,
                None,
                Payload::Cost(CostRow {
                    billed_cost: amount,
                    effective_cost: amount,
                    currency: "USD".into(),
                    charge_period_start: day,
                    charge_period_end: day + Duration::days(1),
                    provider: Some("aws".into()),
                    tags,
                    ..Default::default()
                }),
            ));
            for k in 0..points_per_day {
                let total = 100_000.0 / f64::from(points_per_day) + (r.below(2_000) as f64);
                let good = total - (r.below(60) as f64);
                let at =
                    day + Duration::seconds(i64::from(k) * 86_400 / i64::from(points_per_day) + 1);
                for (metric, v) in [("http_ok", good), ("http_total", total)] {
                    emit(event(
                        format!("{name}:{metric}:{d}:{k}"),
                        at,
                        &name,
                        None,
                        Payload::MetricPoint(MetricPoint {
                            name: metric.into(),
                            value: v,
                            dimensions: BTreeMap::new(),
                        }),
                    ));
                }
                emit(event(
                    format!("{name}:conv:{d}:{k}"),
                    at,
                    &name,
                    None,
                    Payload::MetricPoint(MetricPoint {
                        name: "conversion".into(),
                        value: 0.03 + 0.004 * r.unit(),
                        dimensions: BTreeMap::new(),
                    }),
                ));
            }
        }
    }
    count
}

/// The jobs of a synthetic pipeline `ci`: name, the job it waits for (by
/// index), median seconds, and whether it fails now and then and passes on
/// a re-run (flaky).
const CI_JOBS: [(&str, Option<usize>, u64, bool); 8] = [
    ("lint", None, 90, false),
    ("build", None, 300, false),
    ("unit", Some(1), 240, false),
    ("integration", Some(1), 420, true),
    ("e2e", Some(1), 600, true),
    ("package", Some(2), 120, false),
    ("scan", Some(5), 150, false),
    ("deploy", Some(4), 180, false),
];

/// One synthetic job record: attempt `attempt` of job `k` of run `r`.
struct CiJob<'a> {
    svc: &'a str,
    s: usize,
    r: usize,
    k: usize,
    attempt: u32,
    sha: &'a str,
    status: Status,
    queued: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    steps: Vec<bearing_events::PipelineStep>,
}

impl CiJob<'_> {
    fn event(self) -> Event {
        let (s, r, k, a) = (self.s, self.r, self.k, self.attempt);
        event(
            format!("ci:{s}:{r}:{k}:{a}"),
            self.end,
            self.svc,
            None,
            Payload::PipelineRun(PipelineRun {
                run_id: format!("job:{s}:{r}:{k}:{a}"),
                pipeline: "ci".into(),
                status: self.status,
                started_at: Some(self.start),
                finished_at: Some(self.end),
                commit: Some(self.sha.to_string()),
                url: None,
                queued_at: Some(self.queued),
                attempt: Some(a),
                branch: Some("main".into()),
                job: Some(Box::new(bearing_events::PipelineJob {
                    name: CI_JOBS[k].0.to_string(),
                    run: format!("{s}:{r}:{a}"),
                    stage: None,
                    needs: Vec::new(),
                    runner_labels: vec!["ubuntu-latest".into()],
                    runner_name: None,
                    steps: self.steps,
                })),
            }),
        )
    }
}

/// About `jobs` finished pipeline jobs, each first attempt with four steps,
/// over the services and days of `cfg` (its `events` is not used): runs of
/// the eight jobs of `ci` on commits of `main`, a flaky job failing one time
/// in twenty and passing on a re-run, streamed to `sink`. Returns how many
/// jobs it made.
pub fn ci_jobs(cfg: &SynthConfig, jobs: usize, mut sink: impl FnMut(Event)) -> usize {
    let runs = (jobs / CI_JOBS.len()).max(1);
    let per_svc = runs.div_ceil(cfg.services.max(1)).max(1);
    let gap = (i64::from(cfg.days) * 86_400 / per_svc as i64).max(1);
    let mut rng = Rng(cfg.seed ^ 0xC1);
    let mut made = 0;
    for s in 0..cfg.services {
        let svc = service_name(s);
        for r in 0..per_svc {
            if made >= jobs {
                return made;
            }
            let queued = cfg.start() + Duration::seconds(r as i64 * gap + rng.below(60) as i64);
            let sha = sha(s, r as u64);
            let mut ends = [queued; CI_JOBS.len()];
            for (k, (_, needs, median, flaky)) in CI_JOBS.iter().enumerate() {
                let q = needs.map_or(queued, |n| ends[n]);
                let start = q + Duration::seconds(5 + rng.below(90) as i64);
                let secs = (*median as f64 * (0.7 + 0.6 * rng.unit())) as i64;
                let end = start + Duration::seconds(secs);
                ends[k] = end;
                let failed = *flaky && rng.below(20) == 0;
                let step = secs / 4;
                let steps = ["Set up job", "Run npm ci", "Run tests", "Complete job"]
                    .iter()
                    .zip(0i64..)
                    .map(|(n, i)| bearing_events::PipelineStep {
                        name: (*n).to_string(),
                        number: Some(i as u32 + 1),
                        status: Status::Success,
                        started_at: Some(start + Duration::seconds(step * i)),
                        finished_at: Some(start + Duration::seconds(step * (i + 1))),
                    })
                    .collect();
                let job = |attempt, status, queued, start, steps| CiJob {
                    svc: &svc,
                    s,
                    r,
                    k,
                    attempt,
                    sha: &sha,
                    status,
                    queued,
                    start,
                    end: start + Duration::seconds(secs),
                    steps,
                };
                let status = if failed {
                    Status::Failure
                } else {
                    Status::Success
                };
                sink(job(1, status, q, start, steps).event());
                made += 1;
                if failed {
                    let again = end + Duration::seconds(60);
                    let rerun = job(
                        2,
                        Status::Success,
                        again,
                        again + Duration::seconds(60),
                        Vec::new(),
                    );
                    sink(rerun.event());
                    made += 1;
                }
            }
        }
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_about_the_requested_volume() {
        let cfg = SynthConfig {
            services: 4,
            days: 20,
            events: 4 * 20 * 22,
            seed: 1,
        };
        let n = generate(&cfg, |_| {});
        assert!((1400..2200).contains(&n), "{n}");
        let intent = intent(&cfg);
        assert_eq!(intent.services.len(), 4);
        assert!(!intent.objectives.is_empty());
    }
}
