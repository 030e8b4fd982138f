//! Times the metric engine on a synthetic organisation and optionally
//! exports the same data as CSV for the DuckDB comparison
//! (`bench/scorecard.sh`, `bench/duckdb_dora.py`).
//!
//! ```text
//! cargo run --release -p bearing-metrics --example scorecard_bench -- \
//!     --events 1000000 [--services 500] [--days 90] [--export DIR]
//! ```
//!
//! Prints one JSON object: build, scorecard, incremental timings and peak RSS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use bearing_events::{Event, Payload, Status};
use bearing_intent::{Duration, Scope};
use bearing_metrics::synth::{self, SynthConfig};
use bearing_metrics::{Dataset, ScorecardFilter, evaluate, outcomes, scorecard};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) this process has used: the measure that a
/// busy, shared machine does not inflate.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

struct Exporter {
    commits: std::io::BufWriter<std::fs::File>,
    deploys: std::io::BufWriter<std::fs::File>,
    rollbacks: std::io::BufWriter<std::fs::File>,
    incidents: std::io::BufWriter<std::fs::File>,
}

impl Exporter {
    fn new(dir: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let open = |name: &str, header: &str| {
            let mut w =
                std::io::BufWriter::new(std::fs::File::create(format!("{dir}/{name}")).unwrap());
            writeln!(w, "{header}").unwrap();
            w
        };
        Exporter {
            commits: open("commits.csv", "service,sha,authored,seq"),
            deploys: open("deployments.csv", "service,env,id,time,ok,head"),
            rollbacks: open("rollbacks.csv", "service,deployment_id,time"),
            incidents: open("incidents.csv", "service,id,status,time"),
        }
    }
    fn write(&mut self, e: &Event, seq: &mut u64, last_svc: &mut String) {
        let svc = e.service.as_deref().unwrap_or("");
        if svc != last_svc {
            *seq = 0;
            *last_svc = svc.to_string();
        }
        let t = e.time.timestamp();
        match &e.payload {
            Payload::Change(c) => {
                for x in &c.commits {
                    writeln!(
                        self.commits,
                        "{svc},{},{},{seq}",
                        x.sha,
                        x.authored_at.timestamp()
                    )
                    .unwrap();
                    *seq += 1;
                }
            }
            Payload::Deployment(d) => {
                let env = e.environment.as_deref().unwrap_or("");
                let ok = d.status == Status::Success;
                writeln!(
                    self.deploys,
                    "{svc},{env},{},{t},{ok},{}",
                    d.deployment_id,
                    d.commit.as_deref().unwrap_or("")
                )
                .unwrap();
            }
            Payload::Rollback(r) => {
                writeln!(
                    self.rollbacks,
                    "{svc},{},{t}",
                    r.deployment_id.as_deref().unwrap_or("")
                )
                .unwrap();
            }
            Payload::Incident(i) => {
                let status = match i.status {
                    bearing_events::IncidentStatus::Opened => "opened",
                    bearing_events::IncidentStatus::Acknowledged => "acknowledged",
                    bearing_events::IncidentStatus::Resolved => "resolved",
                };
                writeln!(self.incidents, "{svc},{},{status},{t}", i.incident_id).unwrap();
            }
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = arg(&args, "--events").map_or(1_000_000, |v| v.parse().unwrap());
    let services: usize = arg(&args, "--services").map_or(500, |v| v.parse().unwrap());
    let days: u32 = arg(&args, "--days").map_or(90, |v| v.parse().unwrap());
    let export = arg(&args, "--export");
    let cfg = SynthConfig {
        services,
        days,
        events,
        seed: 42,
    };
    let intent = synth::intent(&cfg);
    let now = cfg.end();

    // Generation alone, to separate its cost from the engine's.
    let t0 = Instant::now();
    let c0 = cpu_s();
    let generated = synth::generate(&cfg, |e| {
        std::hint::black_box(e);
    });
    let gen_s = t0.elapsed().as_secs_f64();
    let gen_cpu = cpu_s() - c0;

    // The CSV export is its own, untimed pass.
    if let Some(dir) = export.as_deref() {
        let mut exporter = Exporter::new(dir);
        let (mut seq, mut last) = (0u64, String::new());
        synth::generate(&cfg, |e| exporter.write(&e, &mut seq, &mut last));
    }
    let c0 = cpu_s();
    let t0 = Instant::now();
    let mut ds = Dataset::empty(&intent);
    synth::generate(&cfg, |e| ds.ingest_bulk(std::iter::once(e)));
    let ingest_s = t0.elapsed().as_secs_f64();
    let ingest_cpu = cpu_s() - c0;
    let t0 = Instant::now();
    let c0 = cpu_s();
    ds.rebuild_all();
    let index_s = t0.elapsed().as_secs_f64();
    let index_cpu = cpu_s() - c0;

    let t0 = Instant::now();
    let c0 = cpu_s();
    let card = scorecard(&intent, &ds, now, ScorecardFilter::default());
    let out = outcomes(&intent, &ds, now);
    let scorecard_s = t0.elapsed().as_secs_f64();
    let scorecard_cpu = cpu_s() - c0;
    std::hint::black_box((&card, &out));

    if let Some(dir) = &export {
        let mut w =
            std::io::BufWriter::new(std::fs::File::create(format!("{dir}/rust_dora.csv")).unwrap());
        writeln!(w, "service,deployments,lead_p50,lead_p90,cfr,recovery_p50").unwrap();
        let t0 = Instant::now();
        let c0 = cpu_s();
        let mut rows = Vec::new();
        for s in &intent.services {
            let scope = Scope {
                service: Some(s.id.clone()),
                ..Scope::default()
            };
            let get = |m: &str| {
                bearing_metrics::evaluate(
                    &ds,
                    m,
                    &scope,
                    &BTreeMap::new(),
                    Duration::from_days(30),
                    now,
                )
            };
            let f = get("dora.deployment_frequency");
            rows.push((
                s.id.clone(),
                f.samples,
                get("dora.lead_time.p50").value,
                get("dora.lead_time.p90").value,
                get("dora.change_failure_rate").value,
                get("dora.recovery_time").value,
            ));
        }
        let dora_s = t0.elapsed().as_secs_f64();
        let dora_cpu = cpu_s() - c0;
        let o = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
        for (s, n, a, b, c, d) in rows {
            writeln!(w, "{s},{n},{},{},{},{}", o(a), o(b), o(c), o(d)).unwrap();
        }
        eprintln!("rust per-service DORA (query only, dataset built): {dora_s:.3}s");
        std::fs::write(format!("{dir}/now.txt"), now.timestamp().to_string()).unwrap();
        std::fs::write(
            format!("{dir}/rust_times.json"),
            format!(
                "{{\"build_s\": {}, \"build_cpu_s\": {}, \"dora_query_s\": {dora_s}, \"dora_query_cpu_s\": {dora_cpu}}}",
                ingest_s - gen_s + index_s,
                (ingest_cpu - gen_cpu).max(0.0) + index_cpu
            ),
        )
        .unwrap();
    }

    // Incremental: one new production deployment of one service, then its figures again.
    let svc = synth::service_name(0);
    let mut e = Event::new(
        "bench:new-deploy",
        "bench",
        now - chrono::Duration::minutes(1),
        Payload::Deployment(bearing_events::Deployment {
            deployment_id: "bench:new-deploy".into(),
            version: None,
            commit: Some(synth::sha(0, 1)),
            commits: Vec::new(),
            status: Status::Success,
            started_at: None,
            finished_at: None,
            strategy: None,
            labels: Vec::new(),
        }),
    );
    e.service = Some(svc.clone());
    e.environment = Some("production".into());
    let t0 = Instant::now();
    ds.push(e);
    let push_s = t0.elapsed().as_secs_f64();
    let scope = Scope {
        service: Some(svc),
        ..Scope::default()
    };
    let t0 = Instant::now();
    for m in [
        "dora.deployment_frequency",
        "dora.lead_time.p50",
        "dora.change_failure_rate",
        "dora.recovery_time",
    ] {
        std::hint::black_box(evaluate(
            &ds,
            m,
            &scope,
            &BTreeMap::new(),
            Duration::from_days(30),
            now,
        ));
    }
    let refresh_s = t0.elapsed().as_secs_f64();

    println!(
        "{{\"events\": {generated}, \"services\": {services}, \"days\": {days}, \"generate_s\": {gen_s:.3}, \"ingest_s\": {ingest_s:.3}, \"index_s\": {index_s:.3}, \"scorecard_s\": {scorecard_s:.3}, \"build_and_scorecard_s\": {:.3}, \"engine_s_excluding_generation\": {:.3}, \"incremental_push_ms\": {:.3}, \"incremental_refresh_ms\": {:.3}, \"key_results\": {}, \"peak_rss_mb\": {:.0}, \"cpu_s\": {{\"generate\": {gen_cpu:.2}, \"generate_and_ingest\": {ingest_cpu:.2}, \"index\": {index_cpu:.2}, \"scorecard\": {scorecard_cpu:.2}, \"engine_excluding_generation\": {:.2}}}}}",
        ingest_s + index_s + scorecard_s,
        (ingest_s - gen_s).max(0.0) + index_s + scorecard_s,
        push_s * 1e3,
        refresh_s * 1e3,
        card.summary.met + card.summary.at_risk + card.summary.off_track + card.summary.no_data,
        peak_rss_mb(),
        (ingest_cpu - gen_cpu).max(0.0) + index_cpu + scorecard_cpu,
    );
}
