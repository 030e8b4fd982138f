//! The demo organisation's 90 days of delivery history.

use std::collections::BTreeMap;

use bearing_events::{
    Change, Commit, CostRow, Deployment, Event, FeatureFlag, Finding, FindingKind, Incident,
    IncidentStatus, Link, Location, MetricPoint, Payload, PipelineRun, ResourceUsage, Rollback,
    Severity, Status,
};
use chrono::{DateTime, Datelike, Duration, DurationRound, Utc, Weekday};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::intent::{SERVICES, ServiceSpec};
use crate::{BURNING_SERVICE, COSTLY_SERVICE, DAYS, FAILING_SERVICE, FEATURE_FLAG};

const AUTHORS: &[&str] = &[
    "alice", "bilal", "chen", "dana", "emeka", "fatima", "goran", "hana", "ivan", "jules", "kofi",
    "lena", "mateo", "nadia", "oscar", "priya",
];

/// Builds the whole history, sorted by time.
pub fn generate(seed: u64, now: DateTime<Utc>) -> Vec<Event> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        ci_rng: ChaCha8Rng::seed_from_u64(seed ^ 0xC1_C1C1),
        ci_runs: 0,
        now,
        start: (now - Duration::days(DAYS))
            .duration_trunc(Duration::days(1))
            .unwrap_or(now - Duration::days(DAYS)),
        events: Vec::new(),
    };
    for (i, s) in SERVICES.iter().enumerate() {
        g.delivery(i, s);
        g.cost(s);
        if let Some(target) = s.slo {
            g.sli(s, target);
        }
    }
    g.findings();
    g.business();
    let mut events = g.events;
    events.retain(|e| e.time <= now && e.time >= g.start);
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    events
}

struct Gen {
    rng: ChaCha8Rng,
    /// Draws for CI jobs, apart so that the rest of the history stays as it was.
    ci_rng: ChaCha8Rng,
    /// First attempts of runs made so far.
    ci_runs: u64,
    now: DateTime<Utc>,
    start: DateTime<Utc>,
    events: Vec<Event>,
}

fn event(
    id: String,
    source: &str,
    time: DateTime<Utc>,
    service: &str,
    env: Option<&str>,
    payload: Payload,
) -> Event {
    Event {
        id,
        source: source.to_string(),
        time,
        service: Some(service.to_string()),
        environment: env.map(str::to_string),
        links: Vec::new(),
        attributes: BTreeMap::new(),
        payload,
    }
}

fn is_weekend(t: DateTime<Utc>) -> bool {
    matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
}

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

/// A planned production deployment before failures are assigned.
struct Planned {
    time: DateTime<Utc>,
}

impl Gen {
    fn days(&self) -> impl Iterator<Item = DateTime<Utc>> + use<> {
        let start = self.start;
        (0..=DAYS).map(move |d| start + Duration::days(d))
    }

    fn sha(&mut self) -> String {
        format!("{:040x}", self.rng.random::<u128>())
    }

    /// A normal sample (Box-Muller).
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = self.rng.random();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A log-normal sample with the given median: the long tail of lead times.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * self.normal(0.0, sigma).exp()
    }

    /// The jobs of one run of `ci` (lint, build, then unit, integration and
    /// e2e after build, package after unit), fitted so the run ends after
    /// `total` minutes, with the demo's CI problems: `checkout`'s
    /// `integration` is flaky (one run in seven fails and passes on a
    /// re-run), `web-frontend` installs dependencies without a cache
    /// (`Run npm ci` about 3m10s), `search` waits for self-hosted runners,
    /// `catalog`'s `e2e` dominates the critical path; and now and then a
    /// run for the previous commit is still going when this one is queued
    /// (no `cancel-in-progress`).
    fn ci_jobs(
        &mut self,
        s: &ServiceSpec,
        run_id: &str,
        head: &str,
        prev: Option<&str>,
        start: DateTime<Utc>,
        total: f64,
    ) {
        self.ci_run(s, run_id, head, start, total, 1);
        // `web-frontend` merges often, and its runs overlap.
        let overlap = if s.id == "web-frontend" { 0.3 } else { 0.0 };
        if let Some(prev) = prev
            && self.ci_rng.random_bool(overlap)
        {
            // The previous commit's run, queued a few minutes before this one.
            let lead = 2.0 + self.ci_rng.random::<f64>() * 4.0;
            self.ci_run(
                s,
                &format!("{run_id}-prev"),
                prev,
                start - minutes(lead),
                total,
                1,
            );
        }
    }

    fn ci_run(
        &mut self,
        s: &ServiceSpec,
        run_id: &str,
        sha: &str,
        start: DateTime<Utc>,
        total: f64,
        attempt: u32,
    ) {
        // One first attempt in seven of `checkout`'s `integration` fails (every
        // window of the demo has some), and passes on a re-run.
        let flaky = s.id == "checkout" && attempt == 1 && self.ci_runs % 7 == 3;
        if attempt == 1 {
            self.ci_runs += 1;
        }
        let r = &mut self.ci_rng;
        let self_hosted = s.id == "search";
        let wait = |r: &mut ChaCha8Rng| {
            if self_hosted {
                2.5 + r.random::<f64>() * 3.0
            } else {
                0.1 + r.random::<f64>() * 0.4
            }
        };
        let npm = if s.id == "web-frontend" {
            3.0 + r.random::<f64>() * 0.4
        } else {
            0.3 + r.random::<f64>() * 0.2
        };
        let q_build = wait(r);
        // Build is about 40% of a run, except in `catalog` (short build, long e2e).
        let build = if s.id == "catalog" {
            npm + 1.0 + r.random::<f64>() * 1.5
        } else {
            (total * (0.35 + r.random::<f64>() * 0.1)).max(npm + 1.0)
        };
        let build_end = q_build + build;
        let q_after = wait(r);
        // e2e ends the run; in `catalog` it is most of it.
        let e2e_start = build_end + q_after;
        let e2e = (total - e2e_start).max(if s.id == "catalog" { 9.0 } else { 3.0 });
        let unit = (e2e * (0.4 + r.random::<f64>() * 0.2)).min(e2e - 0.5);
        let integration = (e2e * (0.6 + r.random::<f64>() * 0.3)).min(e2e - 0.2);
        let q_lint = wait(r);
        let lint = npm + 0.8 + r.random::<f64>() * 0.8;
        // (name, queued, started, minutes, failed, steps (name, minutes))
        let jobs = [
            (
                "lint",
                0.0,
                q_lint,
                lint,
                false,
                vec![("Run npm ci", npm), ("Run npm run lint", lint - npm)],
            ),
            (
                "build",
                0.0,
                q_build,
                build,
                false,
                vec![("Run npm ci", npm), ("Run npm run build", build - npm)],
            ),
            (
                "unit",
                build_end,
                e2e_start,
                unit,
                false,
                vec![("Run npm test", unit)],
            ),
            (
                "integration",
                build_end,
                e2e_start,
                integration,
                flaky,
                vec![("Run integration tests", integration)],
            ),
            (
                "e2e",
                build_end,
                e2e_start,
                e2e,
                false,
                vec![("Run cypress", e2e)],
            ),
        ];
        let labels: Vec<String> = if self_hosted {
            vec!["self-hosted".into(), "linux".into()]
        } else {
            vec!["ubuntu-latest".into()]
        };
        let run = if attempt == 1 {
            run_id.to_string()
        } else {
            format!("{run_id}:{attempt}")
        };
        for (name, queued, started, length, failed, steps) in jobs {
            if attempt > 1 && name != "integration" {
                continue;
            }
            let t0 = start + minutes(started);
            let mut at = t0;
            let steps = steps
                .into_iter()
                .map(|(step, m)| {
                    let from = at;
                    at += minutes(m.max(0.05));
                    bearing_events::PipelineStep {
                        name: step.to_string(),
                        number: None,
                        status: Status::Success,
                        started_at: Some(from),
                        finished_at: Some(at),
                    }
                })
                .collect();
            let end = t0 + minutes(length);
            self.events.push(event(
                format!("demo:job:{}:{run}:{name}", s.id),
                "github-actions",
                end,
                s.id,
                None,
                Payload::PipelineRun(PipelineRun {
                    run_id: format!("job:{run}:{name}"),
                    pipeline: "ci".to_string(),
                    status: if failed {
                        Status::Failure
                    } else {
                        Status::Success
                    },
                    started_at: Some(t0),
                    finished_at: Some(end),
                    commit: Some(sha.to_string()),
                    url: None,
                    queued_at: Some(start + minutes(queued)),
                    attempt: Some(attempt),
                    branch: Some("main".to_string()),
                    job: Some(Box::new(bearing_events::PipelineJob {
                        name: name.to_string(),
                        run: run.clone(),
                        stage: None,
                        needs: Vec::new(),
                        runner_labels: labels.clone(),
                        runner_name: None,
                        steps,
                    })),
                }),
            ));
            if failed {
                // Re-run of the failed job on the same commit, which passes.
                let again = end + minutes(3.0);
                self.ci_run(s, run_id, sha, again - minutes(e2e_start), total, 2);
            }
        }
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        // Knuth's method; means here are small.
        let l = (-mean).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.rng.random::<f64>();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }

    /// Changes, pipeline runs, staging and production deployments, incidents,
    /// rollbacks and hotfixes of one service.
    fn delivery(&mut self, index: usize, s: &ServiceSpec) {
        let mut planned = Vec::new();
        for day in self.days().collect::<Vec<_>>() {
            let mean = if is_weekend(day) {
                s.deploys_per_day * 0.1
            } else {
                s.deploys_per_day
            };
            for _ in 0..self.poisson(mean) {
                let hour = 9.0 + self.rng.random::<f64>() * 8.5;
                planned.push(Planned {
                    time: day + minutes(hour * 60.0),
                });
            }
        }
        planned.sort_by_key(|p| p.time);
        let failed = self.choose_failures(s, &planned);

        let repo = format!("github.com/acme-retail/{}", s.id);
        let mut version = 0u32;
        let mut prev_head: Option<String> = None;
        let mut change_no = 1000u32;
        for (n, p) in planned.iter().enumerate() {
            version += 1;
            let v = format!("1.{}.{}", 40 + index, version);
            // Changes merged since the previous deployment.
            let nchanges = 1 + self.poisson(0.7);
            let mut shas = Vec::new();
            for _ in 0..nchanges {
                let ncommits = 1 + self.poisson(1.2);
                let author = AUTHORS[self.rng.random_range(0..AUTHORS.len())];
                let mut commits = Vec::new();
                let mut first = p.time;
                for _ in 0..ncommits {
                    let age = minutes(self.lognormal(s.lead_median_h * 60.0, 0.95).max(20.0));
                    let authored = p.time - age;
                    first = first.min(authored);
                    let sha = self.sha();
                    commits.push(Commit {
                        sha: sha.clone(),
                        authored_at: authored,
                        parents: prev_head.iter().cloned().collect(),
                        author: Some(author.to_string()),
                        files: Vec::new(),
                    });
                    shas.push((authored, sha));
                }
                commits.sort_by_key(|c| c.authored_at);
                let last_authored = commits.last().map_or(first, |c| c.authored_at);
                let merged = last_authored + (p.time - last_authored) / 3;
                let files = 1 + self.poisson(6.0);
                change_no += 1;
                let change_id = format!("{change_no}");
                self.events.push(event(
                    format!("demo:change:{}:{change_id}", s.id),
                    "github",
                    merged,
                    s.id,
                    None,
                    Payload::Change(Change {
                        change_id: change_id.clone(),
                        repo: Some(repo.clone()),
                        title: Some(change_title(&mut self.rng)),
                        author: Some(author.to_string()),
                        commits,
                        merged_at: Some(merged),
                        merge_commit: None,
                        files_changed: Some(files),
                        additions: Some(files * (5 + self.rng.random_range(0..40))),
                        deletions: Some(files * self.rng.random_range(0..15)),
                        labels: Vec::new(),
                    }),
                ));
            }
            shas.sort();
            let head = shas.last().map(|(_, s)| s.clone()).unwrap_or_default();
            let commit_list: Vec<String> = shas.into_iter().map(|(_, s)| s).collect();
            // CI run for the head commit.
            let ci_start = p.time - minutes(70.0 + self.rng.random::<f64>() * 30.0);
            let ci_minutes = 8.0 + self.lognormal(7.4, 0.4);
            self.events.push(event(
                format!("demo:run:{}:{n}", s.id),
                "github-actions",
                ci_start + minutes(ci_minutes),
                s.id,
                None,
                Payload::PipelineRun(PipelineRun {
                    run_id: format!("{}", 50_000 + index * 10_000 + n),
                    pipeline: "ci".to_string(),
                    status: Status::Success,
                    started_at: Some(ci_start),
                    finished_at: Some(ci_start + minutes(ci_minutes)),
                    commit: Some(head.clone()),
                    url: None,
                    queued_at: None,
                    attempt: None,
                    branch: None,
                    job: None,
                }),
            ));
            let run_id = format!("{}", 50_000 + index * 10_000 + n);
            self.ci_jobs(
                s,
                &run_id,
                &head,
                prev_head.as_deref(),
                ci_start,
                ci_minutes,
            );
            // A red run that was retried, now and then.
            if self.rng.random_bool(0.08) {
                self.events.push(event(
                    format!("demo:run:{}:{n}:retry", s.id),
                    "github-actions",
                    ci_start - minutes(5.0),
                    s.id,
                    None,
                    Payload::PipelineRun(PipelineRun {
                        run_id: format!("{}", 50_000 + index * 10_000 + n + 5_000),
                        pipeline: "ci".to_string(),
                        status: Status::Failure,
                        started_at: Some(ci_start - minutes(17.0)),
                        finished_at: Some(ci_start - minutes(5.0)),
                        commit: Some(head.clone()),
                        url: None,
                        queued_at: None,
                        attempt: None,
                        branch: None,
                        job: None,
                    }),
                ));
            }
            for (env, offset) in [("staging", 40.0), ("production", 0.0)] {
                let started = p.time - minutes(offset + 6.0);
                let finished = p.time - minutes(offset);
                let id = format!("demo:deploy:{}:{env}:{n}", s.id);
                let strategy = if s.id == "checkout" && env == "production" {
                    "canary"
                } else {
                    "direct"
                };
                self.events.push(event(
                    id.clone(),
                    "argocd",
                    finished,
                    s.id,
                    Some(env),
                    Payload::Deployment(Deployment {
                        deployment_id: id,
                        version: Some(v.clone()),
                        commit: Some(head.clone()),
                        commits: commit_list.clone(),
                        status: Status::Success,
                        started_at: Some(started),
                        finished_at: Some(finished),
                        strategy: Some(strategy.to_string()),
                        labels: Vec::new(),
                    }),
                ));
            }
            if failed.contains(&n) {
                self.failure(s, n, p.time, &v, &head);
            }
            prev_head = Some(head);
        }
    }

    /// Which planned deployments fail: an exact share of each 30-day block, so
    /// the story (only `payments-api` over 15% in the last 30 days) holds for
    /// every seed.
    fn choose_failures(&mut self, s: &ServiceSpec, planned: &[Planned]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut block_start = self.now - Duration::days(30);
        let mut block_end = self.now + Duration::days(1);
        loop {
            let idx: Vec<usize> = planned
                .iter()
                .enumerate()
                .filter(|(_, p)| p.time >= block_start && p.time < block_end)
                .map(|(i, _)| i)
                .collect();
            let rate = if s.id == FAILING_SERVICE && block_end > self.now {
                s.failure_rate
            } else if s.id == FAILING_SERVICE {
                0.07
            } else {
                s.failure_rate
            };
            let mut k = ((idx.len() as f64) * rate).round() as usize;
            if s.id != FAILING_SERVICE {
                // Well under the 15% rule however the metric engine links
                // remediations (a hotfix or rollback may count once more).
                k = k.min((idx.len() as f64 * 0.08).floor() as usize);
            }
            let mut shuffled = idx;
            shuffled.shuffle(&mut self.rng);
            out.extend(shuffled.into_iter().take(k));
            if block_start <= self.start {
                break;
            }
            block_end = block_start;
            block_start -= Duration::days(30);
        }
        out.sort_unstable();
        out
    }

    /// An incident caused by a deployment, remediated by a rollback or a hotfix.
    fn failure(&mut self, s: &ServiceSpec, n: usize, deployed: DateTime<Utc>, v: &str, head: &str) {
        let deploy_id = format!("demo:deploy:{}:production:{n}", s.id);
        let opened = deployed + minutes(8.0 + self.rng.random::<f64>() * 150.0);
        let ack = opened + minutes(3.0 + self.rng.random::<f64>() * 25.0);
        let fix_minutes = self.lognormal(75.0, 0.8);
        let resolved = ack + minutes(fix_minutes);
        let severity = if s.tier == "critical" && self.rng.random_bool(0.4) {
            "sev1"
        } else {
            "sev2"
        };
        let incident_id = format!("INC-{}-{n}", s.id.to_uppercase());
        let title = format!("{}: {}", s.id, incident_title(&mut self.rng));
        for (status, time) in [
            (IncidentStatus::Opened, opened),
            (IncidentStatus::Acknowledged, ack),
            (IncidentStatus::Resolved, resolved),
        ] {
            let mut e = event(
                format!("demo:incident:{incident_id}:{status:?}").to_lowercase(),
                "pagerduty",
                time,
                s.id,
                Some("production"),
                Payload::Incident(Incident {
                    incident_id: incident_id.clone(),
                    status,
                    severity: Some(severity.to_string()),
                    title: Some(title.clone()),
                    opened_at: Some(opened),
                    acknowledged_at: (status != IncidentStatus::Opened).then_some(ack),
                    resolved_at: (status == IncidentStatus::Resolved).then_some(resolved),
                    url: None,
                }),
            );
            e.links.push(Link {
                rel: "caused_by".to_string(),
                target: deploy_id.clone(),
            });
            self.events.push(e);
        }
        if self.rng.random_bool(0.5) {
            let id = format!("demo:rollback:{}:{n}", s.id);
            self.events.push(event(
                id.clone(),
                "argocd",
                ack + minutes(fix_minutes * 0.6),
                s.id,
                Some("production"),
                Payload::Rollback(Rollback {
                    rollback_id: id,
                    deployment_id: Some(deploy_id),
                    from_version: Some(v.to_string()),
                    to_version: None,
                }),
            ));
        } else {
            let id = format!("demo:deploy:{}:production:{n}:hotfix", s.id);
            let sha = self.sha();
            let finished = ack + minutes(fix_minutes * 0.8);
            self.events.push(event(
                format!("demo:change:{}:{n}:hotfix", s.id),
                "github",
                finished - minutes(20.0),
                s.id,
                None,
                Payload::Change(Change {
                    change_id: format!("hotfix-{n}"),
                    repo: Some(format!("github.com/acme-retail/{}", s.id)),
                    title: Some(format!("Hotfix for {incident_id}")),
                    author: Some(AUTHORS[n % AUTHORS.len()].to_string()),
                    commits: vec![Commit {
                        sha: sha.clone(),
                        authored_at: ack + minutes(5.0),
                        parents: vec![head.to_string()],
                        author: Some(AUTHORS[n % AUTHORS.len()].to_string()),
                        files: Vec::new(),
                    }],
                    merged_at: Some(finished - minutes(20.0)),
                    merge_commit: None,
                    files_changed: Some(2),
                    additions: Some(12),
                    deletions: Some(4),
                    labels: vec!["hotfix".to_string()],
                }),
            ));
            self.events.push(event(
                id.clone(),
                "argocd",
                finished,
                s.id,
                Some("production"),
                Payload::Deployment(Deployment {
                    deployment_id: id,
                    version: Some(format!("{v}-hotfix.1")),
                    commit: Some(sha.clone()),
                    commits: vec![sha],
                    status: Status::Success,
                    started_at: Some(finished - minutes(5.0)),
                    finished_at: Some(finished),
                    strategy: Some("direct".to_string()),
                    labels: vec!["hotfix".to_string()],
                }),
            ));
        }
    }

    /// Daily FOCUS rows (compute and database) with weekly seasonality, the
    /// compute rows carrying requests and usage (see [`demo_usage`]); the
    /// costly service has a runaway batch job for four days.
    fn cost(&mut self, s: &ServiceSpec) {
        let anomaly_from = self.now - Duration::days(9);
        let anomaly_to = self.now - Duration::days(5);
        for day in self.days().collect::<Vec<_>>() {
            if day + Duration::days(1) > self.now {
                continue;
            }
            let week = if is_weekend(day) { 0.72 } else { 1.0 };
            // Slow growth over the quarter.
            let growth = 1.0 + 0.08 * ((day - self.start).num_days() as f64 / DAYS as f64);
            let mut total = s.daily_cost * week * growth * self.normal(1.0, 0.05).max(0.5);
            if s.id == COSTLY_SERVICE && day >= anomaly_from && day < anomaly_to {
                total *= 3.6;
            }
            for (part, share, name, category) in [
                ("compute", 0.68, "Amazon Elastic Compute Cloud", "Compute"),
                (
                    "database",
                    0.32,
                    "Amazon Relational Database Service",
                    "Databases",
                ),
            ] {
                let cost = (total * share * 100.0).round() / 100.0;
                let mut tags = BTreeMap::new();
                tags.insert("service".to_string(), s.id.to_string());
                tags.insert("team".to_string(), s.team.to_string());
                tags.insert("env".to_string(), "production".to_string());
                self.events.push(event(
                    format!("demo:cost:{}:{part}:{}", s.id, day.format("%Y-%m-%d")),
                    "focus",
                    day,
                    s.id,
                    None,
                    Payload::Cost(CostRow {
                        billed_cost: cost,
                        effective_cost: cost,
                        list_cost: Some((cost * 1.18 * 100.0).round() / 100.0),
                        currency: "USD".to_string(),
                        charge_period_start: day,
                        charge_period_end: day + Duration::days(1),
                        provider: Some("AWS".to_string()),
                        service_name: Some(name.to_string()),
                        service_category: Some(category.to_string()),
                        resource_id: Some(format!(
                            "arn:aws:{part}:eu-west-1:123456789012:{}",
                            s.id
                        )),
                        resource_name: Some(format!("{}-{part}", s.id)),
                        region: Some("eu-west-1".to_string()),
                        charge_category: Some("Usage".to_string()),
                        sub_account: Some("acme-retail-prod".to_string()),
                        usage: (part == "compute").then(|| demo_usage(s, day, cost)),
                        tags,
                        ..Default::default()
                    }),
                ));
            }
        }
    }

    /// Good/total request counts every three hours (hourly over the last three
    /// days, for the burn-rate windows). The burning service has a bad fortnight.
    fn sli(&mut self, s: &ServiceSpec, target: f64) {
        let budget = 1.0 - target;
        let hourly_from = self.now - Duration::days(3);
        let burn_from = self.now - Duration::days(12);
        let mut t = self.now - Duration::days(56);
        t = t.duration_trunc(Duration::hours(3)).unwrap_or(t);
        while t < self.now {
            let step = if t >= hourly_from { 1 } else { 3 };
            let next = t + Duration::hours(step);
            if next > self.now {
                break;
            }
            let hour = t.hour_of_day();
            let diurnal = 0.45
                + 0.55 * (((hour as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos() + 1.0) / 2.0;
            let total =
                (s.traffic * step as f64 * diurnal * (0.9 + 0.2 * self.rng.random::<f64>()))
                    .round();
            let mut bad_rate = budget * (0.15 + 0.3 * self.rng.random::<f64>());
            if s.id == BURNING_SERVICE && t >= burn_from {
                bad_rate = budget * (2.6 + 2.0 * self.rng.random::<f64>());
            }
            let good = (total * (1.0 - bad_rate)).round();
            for (suffix, value) in [("good", good), ("total", total)] {
                let mut dims = BTreeMap::new();
                dims.insert("interval".to_string(), format!("{step}h"));
                self.events.push(event(
                    format!("demo:sli:{}:{suffix}:{}", s.id, t.timestamp()),
                    "prometheus",
                    next,
                    s.id,
                    Some("production"),
                    Payload::MetricPoint(MetricPoint {
                        name: format!("{}.requests.{suffix}", s.id),
                        value,
                        dimensions: dims,
                    }),
                ));
            }
            t = next;
        }
    }

    /// Weekly scans of every service by Trivy and Grype (images) and a SARIF
    /// code scanner; findings appear and get fixed over successive scans.
    fn findings(&mut self) {
        struct Open {
            rule: String,
            package: Option<String>,
            version: Option<String>,
            fixed_version: Option<String>,
            severity: Severity,
            kind: FindingKind,
            title: String,
            /// Scans until it is fixed (`u32::MAX`: left open).
            life: u32,
        }
        let weeks = (DAYS / 7) as u32;
        for (si, s) in SERVICES.iter().enumerate() {
            let image = format!("registry.acme.example/{}", s.id);
            let repo = format!("github.com/acme-retail/{}", s.id);
            let mut image_open: Vec<Open> = Vec::new();
            let mut code_open: Vec<Open> = Vec::new();
            for w in 0..=weeks {
                let scan_time = self.start
                    + Duration::days(i64::from(w) * 7)
                    + Duration::hours(3 + si as i64 % 5);
                if scan_time > self.now {
                    break;
                }
                // Fix what is due, then introduce new findings.
                for list in [&mut image_open, &mut code_open] {
                    for f in list.iter_mut() {
                        f.life = f.life.saturating_sub(1);
                    }
                    list.retain(|f| f.life > 0);
                }
                let new_vulns = if w == 0 { 4 } else { self.poisson(1.1) };
                for _ in 0..new_vulns {
                    let (pkg, ver, fix) = PACKAGES[self.rng.random_range(0..PACKAGES.len())];
                    let severity = pick_severity(&mut self.rng);
                    let life = match severity {
                        Severity::Critical => 1 + self.rng.random_range(0..2),
                        Severity::High => 1 + self.rng.random_range(0..4),
                        _ => 2 + self.rng.random_range(0..10),
                    };
                    image_open.push(Open {
                        rule: format!(
                            "CVE-{}-{}",
                            2023 + self.rng.random_range(0..3),
                            10_000 + self.rng.random_range(0..40_000)
                        ),
                        package: Some(pkg.to_string()),
                        version: Some(ver.to_string()),
                        fixed_version: Some(fix.to_string()),
                        severity,
                        kind: FindingKind::Vulnerability,
                        title: format!(
                            "{pkg}: {}",
                            VULN_TITLES[self.rng.random_range(0..VULN_TITLES.len())]
                        ),
                        life,
                    });
                }
                // The story's stragglers: criticals left open past their SLA.
                if (s.id == "billing" || s.id == "fraud-scoring" || s.id == "reporting")
                    && w == weeks - 5
                {
                    image_open.push(Open {
                        rule: format!("CVE-2025-{}", 31_000 + si),
                        package: Some("openssl".to_string()),
                        version: Some("3.0.13".to_string()),
                        fixed_version: Some("3.0.15".to_string()),
                        severity: Severity::Critical,
                        kind: FindingKind::Vulnerability,
                        title: "openssl: denial of service in certificate verification".to_string(),
                        life: u32::MAX,
                    });
                }
                if s.id == "auth" && w == weeks - 7 {
                    image_open.push(Open {
                        rule: "CVE-2025-22871".to_string(),
                        package: Some("golang.org/x/net".to_string()),
                        version: Some("0.33.0".to_string()),
                        fixed_version: Some("0.38.0".to_string()),
                        severity: Severity::High,
                        kind: FindingKind::Vulnerability,
                        title: "golang.org/x/net: request smuggling through invalid chunked data"
                            .to_string(),
                        life: u32::MAX,
                    });
                }
                // Real CVEs in CISA's KEV catalog (`crate::threat`), open in the
                // internet-facing services: HTTP/2 Rapid Reset in the gateway's Go
                // HTTP/2 server for about four weeks (under its 30-day SLA as a
                // high, past KEV's 7 days), and git's CVE-2025-48384 in the web
                // frontend's image (node images carry git) for about three, which
                // joins the KEV catalog late in the demo.
                if s.id == "api-gateway" && w == weeks - 3 {
                    image_open.push(Open {
                        rule: "CVE-2023-44487".to_string(),
                        package: Some("golang.org/x/net".to_string()),
                        version: Some("0.15.0".to_string()),
                        fixed_version: Some("0.17.0".to_string()),
                        severity: Severity::High,
                        kind: FindingKind::Vulnerability,
                        title: "golang.org/x/net: HTTP/2 rapid reset can cause excessive work"
                            .to_string(),
                        life: u32::MAX,
                    });
                }
                if s.id == crate::threat::LATE_KEV_SERVICE && w == weeks - 2 {
                    image_open.push(Open {
                        rule: crate::threat::LATE_KEV_CVE.to_string(),
                        package: Some("git".to_string()),
                        version: Some("2.45.2".to_string()),
                        fixed_version: Some("2.45.4".to_string()),
                        severity: Severity::High,
                        kind: FindingKind::Vulnerability,
                        title: "git: arbitrary file write when cloning with submodules (carriage return in config)"
                            .to_string(),
                        life: u32::MAX,
                    });
                }
                if self.rng.random_bool(0.3) || w == 0 {
                    let (rule, title) = CODE_RULES[self.rng.random_range(0..CODE_RULES.len())];
                    code_open.push(Open {
                        rule: rule.to_string(),
                        package: None,
                        version: None,
                        fixed_version: None,
                        severity: if self.rng.random_bool(0.3) {
                            Severity::High
                        } else {
                            Severity::Medium
                        },
                        kind: FindingKind::Code,
                        title: title.to_string(),
                        life: 1 + self.rng.random_range(0..6),
                    });
                }
                for (scanner, offset) in [("trivy", 0), ("grype", 20)] {
                    let scan_id = format!("{scanner}:{}:{w}", s.id);
                    let time = scan_time + Duration::minutes(offset);
                    for (i, f) in image_open.iter().enumerate() {
                        // Grype misses a few of Trivy's findings and vice versa.
                        if (scanner == "grype" && f.rule.ends_with('7'))
                            || (scanner == "trivy" && f.rule.ends_with('3'))
                        {
                            continue;
                        }
                        self.events.push(finding_event(
                            scanner,
                            &scan_id,
                            time,
                            s.id,
                            &image,
                            f.rule.clone(),
                            f.package.clone(),
                            f.version.clone(),
                            f.fixed_version.clone(),
                            f.severity,
                            f.kind,
                            &f.title,
                            None,
                            i,
                        ));
                    }
                }
                let scan_id = format!("codeql:{}:{w}", s.id);
                for (i, f) in code_open.iter().enumerate() {
                    let loc = Location {
                        file: format!(
                            "src/{}.ts",
                            ["handlers", "db/query", "auth/session", "render"][i % 4]
                        ),
                        line: Some(20 + (i as u32) * 17),
                        column: Some(9),
                    };
                    self.events.push(finding_event(
                        "codeql",
                        &scan_id,
                        scan_time + Duration::minutes(40),
                        s.id,
                        &repo,
                        f.rule.clone(),
                        None,
                        None,
                        None,
                        f.severity,
                        f.kind,
                        &f.title,
                        Some(loc),
                        i,
                    ));
                }
            }
        }
    }

    /// `business.checkout_conversion` (a daily share) and orders, moved by the
    /// release of the one-click checkout feature flag 24 days ago.
    fn business(&mut self) {
        let flag_day = (self.now - Duration::days(24))
            .duration_trunc(Duration::days(1))
            .unwrap_or(self.now);
        let flag_time = flag_day + Duration::hours(10);
        self.events.push(event(
            format!("demo:flag:{FEATURE_FLAG}:on"),
            "launchdarkly",
            flag_time,
            "checkout",
            Some("production"),
            Payload::FeatureFlag(FeatureFlag {
                flag: FEATURE_FLAG.to_string(),
                enabled: true,
                rollout: Some(100.0),
            }),
        ));
        self.events.push(event(
            format!("demo:flag:{FEATURE_FLAG}:ramp"),
            "launchdarkly",
            flag_time - Duration::days(3),
            "checkout",
            Some("production"),
            Payload::FeatureFlag(FeatureFlag {
                flag: FEATURE_FLAG.to_string(),
                enabled: true,
                rollout: Some(10.0),
            }),
        ));
        for day in self.days().collect::<Vec<_>>() {
            let t = day + Duration::hours(23) + Duration::minutes(59);
            if t > self.now {
                continue;
            }
            let base = if is_weekend(day) { 0.0285 } else { 0.0301 };
            let lift = if t >= flag_time { 0.0042 } else { 0.0 };
            let conversion =
                ((base + lift + self.normal(0.0, 0.0011)) * 10_000.0).round() / 10_000.0;
            let visitors = if is_weekend(day) { 61_000.0 } else { 48_000.0 }
                * (0.95 + 0.1 * self.rng.random::<f64>());
            for (name, value) in [
                ("business.checkout_conversion", conversion),
                ("business.orders", (visitors * conversion).round()),
            ] {
                self.events.push(event(
                    format!("demo:kpi:{name}:{}", day.format("%Y-%m-%d")),
                    "analytics",
                    t,
                    "checkout",
                    Some("production"),
                    Payload::MetricPoint(MetricPoint {
                        name: name.to_string(),
                        value,
                        dimensions: BTreeMap::new(),
                    }),
                ));
            }
        }
    }
}

trait HourOfDay {
    fn hour_of_day(&self) -> u32;
}

impl HourOfDay for DateTime<Utc> {
    fn hour_of_day(&self) -> u32 {
        chrono::Timelike::hour(self)
    }
}

#[allow(clippy::too_many_arguments)]
fn finding_event(
    scanner: &str,
    scan_id: &str,
    time: DateTime<Utc>,
    service: &str,
    target: &str,
    rule: String,
    package: Option<String>,
    version: Option<String>,
    fixed: Option<String>,
    severity: Severity,
    kind: FindingKind,
    title: &str,
    location: Option<Location>,
    i: usize,
) -> Event {
    event(
        format!("demo:finding:{scan_id}:{i}:{rule}"),
        scanner,
        time,
        service,
        None,
        Payload::Finding(Finding {
            scanner: scanner.to_string(),
            scan_id: scan_id.to_string(),
            kind,
            rule_id: rule,
            severity,
            target: target.to_string(),
            package,
            installed_version: version,
            fixable: fixed.is_some(),
            fixed_version: fixed,
            title: Some(title.to_string()),
            location,
        }),
    )
}

fn pick_severity(rng: &mut ChaCha8Rng) -> Severity {
    match rng.random_range(0..100) {
        0..8 => Severity::Critical,
        8..30 => Severity::High,
        30..70 => Severity::Medium,
        _ => Severity::Low,
    }
}

fn change_title(rng: &mut ChaCha8Rng) -> String {
    const VERBS: &[&str] = &[
        "Add",
        "Fix",
        "Refactor",
        "Speed up",
        "Harden",
        "Clean up",
        "Instrument",
        "Simplify",
    ];
    const THINGS: &[&str] = &[
        "retry policy",
        "cart validation",
        "currency rounding",
        "session cache",
        "feature toggles",
        "rate limiter",
        "search ranking",
        "webhook handler",
        "pagination",
        "error pages",
        "metrics labels",
        "db connection pool",
    ];
    format!(
        "{} {}",
        VERBS[rng.random_range(0..VERBS.len())],
        THINGS[rng.random_range(0..THINGS.len())]
    )
}

fn incident_title(rng: &mut ChaCha8Rng) -> &'static str {
    const T: &[&str] = &[
        "elevated 5xx after release",
        "p99 latency above 2s",
        "payment confirmations delayed",
        "connection pool exhausted",
        "memory leak in new build",
        "stale cache served to customers",
    ];
    T[rng.random_range(0..T.len())]
}

const PACKAGES: &[(&str, &str, &str)] = &[
    ("openssl", "3.0.11", "3.0.14"),
    ("libcurl", "8.4.0", "8.9.1"),
    ("glibc", "2.36-9", "2.36-9+deb12u7"),
    ("zlib", "1.2.13", "1.3.1"),
    ("lodash", "4.17.20", "4.17.21"),
    ("jackson-databind", "2.13.4", "2.15.0"),
    ("golang.org/x/crypto", "0.17.0", "0.31.0"),
    ("requests", "2.28.1", "2.32.3"),
    ("express", "4.18.2", "4.20.0"),
    ("netty-codec-http", "4.1.94", "4.1.108"),
    ("libxml2", "2.9.14", "2.11.7"),
    ("axios", "1.6.0", "1.7.4"),
];

const VULN_TITLES: &[&str] = &[
    "denial of service via crafted input",
    "heap buffer overflow",
    "prototype pollution",
    "HTTP request smuggling",
    "improper certificate validation",
    "information disclosure",
];

const CODE_RULES: &[(&str, &str)] = &[
    (
        "js/sql-injection",
        "Database query built from user-controlled sources",
    ),
    ("js/xss", "Cross-site scripting from user input"),
    (
        "js/missing-rate-limiting",
        "Missing rate limiting on an expensive route",
    ),
    (
        "js/insecure-randomness",
        "Insecure randomness used for a token",
    ),
    (
        "js/path-injection",
        "Uncontrolled data used in path expression",
    ),
];

/// Requests and usage behind a demo compute row, without random draws (the
/// event stream stays the same): 70% of the cost is CPU at 0.03 USD per
/// core-hour, 30% memory at 0.004 USD per GiB-hour; each service uses a
/// fixed share of its requests (25% to 73%, from its name), 20% less at
/// weekends, and memory 15 points more.
fn demo_usage(s: &ServiceSpec, day: DateTime<Utc>, cost: f64) -> Box<ResourceUsage> {
    let gib = 1024.0 * 1024.0 * 1024.0;
    let (cpu_cost, ram_cost) = (cost * 0.7, cost * 0.3);
    let cpu_req = cpu_cost / (24.0 * 0.03);
    let ram_req = ram_cost / (24.0 * 0.004) * gib;
    let share = 0.25 + f64::from(s.id.bytes().map(u32::from).sum::<u32>() % 49) / 100.0;
    let share = if is_weekend(day) { share * 0.8 } else { share };
    Box::new(ResourceUsage {
        workload: format!("{}/{}/app", s.team, s.id),
        container: Some("app".to_string()),
        minutes: 1440.0,
        cpu_request_cores: cpu_req,
        cpu_usage_cores: cpu_req * share,
        cpu_usage_max_cores: Some(cpu_req * (share * 1.6).min(1.0)),
        cpu_cost,
        ram_request_bytes: ram_req,
        ram_usage_bytes: ram_req * (share + 0.15),
        ram_usage_max_bytes: Some(ram_req * (share + 0.25).min(1.0)),
        ram_cost,
        pods: None,
    })
}
