//! Timings of the adapt crate's hot paths: a Mann-Whitney test on two
//! 1,000-sample metrics, anomaly detection over 180 days, and a canary
//! judgement over five metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bearing_adapt::anomaly::{Params, Point, detect};
use bearing_adapt::canary::{CanaryConfig, Method, Samples, judge, mann_whitney_u};
use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};

/// Deterministic values in 0..1.
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let x: Vec<f64> = noise(1000, 1).iter().map(|v| 100.0 + 10.0 * v).collect();
    let y: Vec<f64> = noise(1000, 2).iter().map(|v| 101.0 + 10.0 * v).collect();
    c.bench_function("mann_whitney_u 1000 x 1000", |b| {
        b.iter(|| mann_whitney_u(&x, &y, Method::Asymptotic, true))
    });

    let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let series: Vec<Point> = noise(180, 3)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let weekend = i % 7 >= 5;
            Point::new(
                start + chrono::Duration::days(i as i64),
                if weekend { 60.0 } else { 100.0 } * (1.0 + 0.05 * v),
            )
        })
        .collect();
    c.bench_function("anomaly detect 180 days", |b| {
        b.iter(|| detect(&series, &Params::default(), Some(true)))
    });

    let mk = |seed: u64, shift: f64| -> Samples {
        (0..5)
            .map(|m| {
                let v = noise(200, seed + m).iter().map(|v| v + shift).collect();
                (format!("metric_{m}"), v)
            })
            .collect()
    };
    let (base, can) = (mk(10, 0.0), mk(20, 0.02));
    let cfg = CanaryConfig::default();
    c.bench_function("canary judge 5 metrics x 200 samples", |b| {
        b.iter(|| judge(&base, &can, &cfg))
    });
}

criterion_group!(adapt, benches);
criterion_main!(adapt);
