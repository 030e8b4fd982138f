//! Criterion bench: the full scorecard and outcomes over a generated
//! organisation, and one incremental push. Size from `BEARING_BENCH_EVENTS`
//! (default 50,000 events, 50 services, 90 days, small enough for test
//! mode); `bench/scorecard.sh` runs the 1M and 10M measurements.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bearing_metrics::synth::{self, SynthConfig};
use bearing_metrics::{Dataset, ScorecardFilter, outcomes, scorecard};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let events = std::env::var("BEARING_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let cfg = SynthConfig {
        services: (events / 2_000).clamp(1, 500),
        days: 90,
        events,
        seed: 7,
    };
    let intent = synth::intent(&cfg);
    let now = cfg.end();
    let mut ds = Dataset::empty(&intent);
    synth::generate(&cfg, |e| ds.ingest_bulk(std::iter::once(e)));
    ds.rebuild_all();
    let mut g = c.benchmark_group("metrics");
    g.sample_size(10);
    g.bench_function("scorecard_and_outcomes", |b| {
        b.iter(|| {
            let card = scorecard(&intent, &ds, now, ScorecardFilter::default());
            let out = outcomes(&intent, &ds, now);
            std::hint::black_box((card, out))
        })
    });
    let mut n = 0u64;
    g.bench_function("push_one_deployment", |b| {
        b.iter(|| {
            n += 1;
            let mut e = bearing_events::Event::new(
                format!("bench:{n}"),
                "bench",
                now,
                bearing_events::Payload::Deployment(bearing_events::Deployment {
                    deployment_id: format!("bench:{n}"),
                    version: None,
                    commit: Some(synth::sha(0, 1)),
                    commits: Vec::new(),
                    status: bearing_events::Status::Success,
                    started_at: None,
                    finished_at: None,
                    strategy: None,
                    labels: Vec::new(),
                }),
            );
            e.service = Some(synth::service_name(0));
            e.environment = Some("production".into());
            ds.push(e);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
