//! Writes N realistic Bearing JSONL events to stdout, for the ingest bench
//! (`bench/ingest.sh`): deployments, changes, pipeline runs, incidents, cost
//! rows and metric points across 20 services, deterministic for a seed.
//!
//! Usage: `cargo run --release -p bearing-store --example gen_events -- N [SEED]`

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use bearing_events::{
    Change, Commit, CostRow, Deployment, Event, Incident, IncidentStatus, MetricPoint, Payload,
    PipelineRun, Status,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// A small deterministic generator (xorshift64*), enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sha(rng: &mut Rng) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        rng.next(),
        rng.next(),
        rng.below(1 << 32)
    )
}

fn event(rng: &mut Rng, n: u64, start: DateTime<Utc>) -> Event {
    let service = format!("svc-{:02}", rng.below(20));
    let env = if rng.below(3) == 0 { "staging" } else { "prod" };
    // Spread the events over 90 days, in order.
    let time = start + Duration::milliseconds((n * 7_776) as i64 + rng.below(5_000) as i64);
    let roll = rng.below(100);
    let (kind, payload) = match roll {
        0..=39 => (
            "metric",
            Payload::MetricPoint(MetricPoint {
                name: ["business.orders", "sli.latency_p99_ms", "sli.errors"]
                    [rng.below(3) as usize]
                    .to_string(),
                value: (rng.unit() * 1000.0 * 100.0).round() / 100.0,
                dimensions: BTreeMap::from([("region".to_string(), "eu-west-1".to_string())]),
            }),
        ),
        40..=59 => {
            let status = if rng.below(10) == 0 {
                Status::Failure
            } else {
                Status::Success
            };
            (
                "deploy",
                Payload::Deployment(Deployment {
                    deployment_id: format!("dep-{n}"),
                    version: Some(format!("1.{}.{}", rng.below(50), rng.below(20))),
                    commit: Some(sha(rng)),
                    commits: Vec::new(),
                    status,
                    started_at: Some(time - Duration::seconds(rng.below(600) as i64)),
                    finished_at: Some(time),
                    strategy: Some("canary".to_string()),
                    labels: Vec::new(),
                }),
            )
        }
        60..=79 => (
            "change",
            Payload::Change(Change {
                change_id: format!("{}", 1000 + n),
                repo: Some(format!("acme/{service}")),
                title: Some("Fix checkout retry on timeout".to_string()),
                author: Some(format!("dev{}", rng.below(40))),
                commits: vec![Commit {
                    sha: sha(rng),
                    authored_at: time - Duration::hours(rng.below(72) as i64),
                    parents: Vec::new(),
                    author: None,
                    files: Vec::new(),
                }],
                merged_at: Some(time),
                merge_commit: None,
                files_changed: Some(rng.below(40) as u32 + 1),
                additions: Some(rng.below(500) as u32),
                deletions: Some(rng.below(200) as u32),
                labels: Vec::new(),
            }),
        ),
        80..=93 => (
            "run",
            Payload::PipelineRun(PipelineRun {
                run_id: format!("run-{n}"),
                pipeline: "ci".to_string(),
                status: if rng.below(8) == 0 {
                    Status::Failure
                } else {
                    Status::Success
                },
                started_at: Some(time - Duration::seconds(rng.below(900) as i64)),
                finished_at: Some(time),
                commit: Some(sha(rng)),
                url: None,
                queued_at: None,
                attempt: None,
                branch: None,
                job: None,
            }),
        ),
        94..=96 => (
            "incident",
            Payload::Incident(Incident {
                incident_id: format!("inc-{}", n / 3),
                status: [
                    IncidentStatus::Opened,
                    IncidentStatus::Acknowledged,
                    IncidentStatus::Resolved,
                ][rng.below(3) as usize],
                severity: Some("sev2".to_string()),
                title: Some("Checkout errors above SLO".to_string()),
                opened_at: Some(time - Duration::minutes(30)),
                acknowledged_at: None,
                resolved_at: None,
                url: None,
            }),
        ),
        _ => (
            "cost",
            Payload::Cost(CostRow {
                billed_cost: (rng.unit() * 50_000.0).round() / 100.0,
                effective_cost: (rng.unit() * 50_000.0).round() / 100.0,
                currency: "USD".to_string(),
                charge_period_start: time - Duration::hours(1),
                charge_period_end: time,
                provider: Some("AWS".to_string()),
                service_name: Some("Amazon EC2".to_string()),
                service_category: Some("Compute".to_string()),
                resource_id: Some(format!("i-{:012x}", rng.below(1 << 40))),
                region: Some("eu-west-1".to_string()),
                charge_category: Some("Usage".to_string()),
                consumed_quantity: Some(1.0),
                consumed_unit: Some("Hours".to_string()),
                tags: BTreeMap::from([("service".to_string(), service.clone())]),
                ..Default::default()
            }),
        ),
    };
    let mut e = Event::new(format!("gen:{kind}:{n}"), "bench", time, payload);
    e.service = Some(service);
    e.environment = Some(env.to_string());
    e
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().as_deref().unwrap_or("1000000").parse()?;
    let seed: u64 = args.next().as_deref().unwrap_or("42").parse()?;
    let mut rng = Rng(seed.max(1));
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("bad start date")?;
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    for n in 0..count {
        serde_json::to_writer(&mut out, &event(&mut rng, n, start))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
