//! Criterion bench: pipeline insights (`pipeline_report`: per pipeline and
//! job figures, critical paths, flaky jobs, waste, step durations and the
//! recommendations) over generated CI history, beside the scorecard bench.
//! Size from `BEARING_BENCH_JOBS` (default 20,000 job records, small enough
//! for test mode); `bench/pipelines.sh` runs the 1M measurement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bearing_intent::{Duration, Scope};
use bearing_metrics::synth::{self, SynthConfig};
use bearing_metrics::{Dataset, pipeline_report};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let jobs = std::env::var("BEARING_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let cfg = SynthConfig {
        services: (jobs / 20_000).clamp(1, 50),
        days: 90,
        events: 0,
        seed: 7,
    };
    let intent = synth::intent(&cfg);
    let mut ds = Dataset::empty(&intent);
    let made = synth::ci_jobs(&cfg, jobs, |e| ds.ingest_bulk(std::iter::once(e)));
    ds.rebuild_all();
    eprintln!("{made} job records over {} services", cfg.services);
    let now = cfg.end();
    let mut g = c.benchmark_group("pipelines");
    g.sample_size(10);
    g.bench_function("insights", |b| {
        b.iter(|| {
            let r = pipeline_report(&ds, &Scope::default(), Duration::from_days(90), now, &[]);
            std::hint::black_box(r)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
