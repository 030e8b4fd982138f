//! Precision and recall of anomaly detection at the default sensitivity, on
//! generated daily series with injected anomalies (fixed seed).
//!
//! Four families, 40 series each (12 in debug builds), 150 days: daily cost (weekly pattern,
//! trend, 4% noise), lead time (log-normal, right-skewed), deployment counts
//! (Poisson, quiet weekends) and failure rate (binomial share of ~40 daily
//! deployments). Each series gets 3 to 6 injected anomalies after day 30, up
//! or down, sized 5 to 12 noise standard deviations (counts: that many
//! sigmas on the square-root scale where Poisson noise is about 1); a drop
//! that would go below zero is injected as a spike. A detection on an
//! injected day is a true positive; any other detection is a false positive.
//! Run `bench/adapt_quality.sh` for the figures in a release build.

use bearing_adapt::anomaly::{Params, Point, detect};
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, LogNormal, Normal, Poisson};

const DAYS: i64 = 150;
/// 40 series per family in optimised builds (`bench/adapt_quality.sh`), 12 in
/// debug builds so `cargo test` stays quick.
const PER_FAMILY: usize = if cfg!(debug_assertions) { 12 } else { 40 };

struct Generated {
    series: Vec<Point>,
    injected: Vec<NaiveDate>,
    params: Params,
}

fn day(i: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::days(i)
}

fn injections(rng: &mut ChaCha8Rng) -> Vec<(i64, f64)> {
    let k = rng.random_range(3..=6);
    let mut days: Vec<i64> = Vec::new();
    while days.len() < k {
        let d = rng.random_range(30..DAYS);
        if days.iter().all(|x| (x - d).abs() > 3) {
            days.push(d);
        }
    }
    days.sort();
    days.into_iter()
        .map(|d| {
            let size = rng.random_range(5.0..12.0);
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            (d, sign * size)
        })
        .collect()
}

fn generate(family: usize, rng: &mut ChaCha8Rng) -> Generated {
    let inj = injections(rng);
    let size_on = |i: i64| inj.iter().find(|(d, _)| *d == i).map(|(_, s)| *s);
    let weekend = |i: i64| i % 7 >= 5;
    let mut params = Params::default();
    let values: Vec<f64> = match family {
        // daily cost: level × weekly factor × trend, 4% normal noise
        0 => {
            let level = rng.random_range(50.0..5000.0);
            let trend = rng.random_range(-0.002..0.004);
            let wk = rng.random_range(0.5..0.9);
            let noise = Normal::new(0.0, 0.04).unwrap();
            (0..DAYS)
                .map(|i| {
                    let base = level * (1.0 + trend * i as f64) * if weekend(i) { wk } else { 1.0 };
                    let sd = 0.04 * base;
                    let mut v = base * (1.0 + noise.sample(rng));
                    if let Some(s) = size_on(i) {
                        v += s * sd;
                    }
                    v.max(0.0)
                })
                .collect()
        }
        // lead time in seconds: log-normal around a median of 6h to 3d
        1 => {
            let median = rng.random_range(6.0 * 3600.0..72.0 * 3600.0);
            let sigma = 0.08;
            let ln = LogNormal::new(f64::ln(median), sigma).unwrap();
            (0..DAYS)
                .map(|i| {
                    let mut v = ln.sample(rng);
                    if let Some(s) = size_on(i) {
                        // s sigmas on the log scale
                        v = median * f64::exp(s * sigma);
                    }
                    v
                })
                .collect()
        }
        // deployments per day: Poisson, fewer at weekends
        2 => {
            params = Params::counts();
            let mean = rng.random_range(4.0..15.0);
            (0..DAYS)
                .map(|i| {
                    let m: f64 = if weekend(i) { mean * 0.2 } else { mean };
                    let mut v = Poisson::new(m).unwrap().sample(rng);
                    if let Some(s) = size_on(i) {
                        // s sigmas on the square-root scale where Poisson noise is ~1;
                        // a drop that would go below zero becomes a spike
                        let f = 2.0 * (m + 0.375).sqrt();
                        let target = if f - s.abs() < 2.0 * 0.375f64.sqrt() {
                            f + s.abs()
                        } else {
                            f + s
                        };
                        v = ((target / 2.0).powi(2) - 0.375).max(0.0).round();
                    }
                    v
                })
                .collect()
        }
        // failure rate: failed / ~40 deployments per day
        _ => {
            params = Params::rates();
            let p = rng.random_range(0.08..0.3);
            let n = 40u64;
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            (0..DAYS)
                .map(|i| {
                    let mut v = Binomial::new(n, p).unwrap().sample(rng) as f64 / n as f64;
                    if let Some(s) = size_on(i) {
                        // a drop that would go below zero becomes a spike
                        let s = if p + s * sd < 0.0 { s.abs() } else { s };
                        v = ((p + s * sd) * n as f64).round().clamp(0.0, n as f64) / n as f64;
                    }
                    v
                })
                .collect()
        }
    };
    let series = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| Point {
            date: day(i as i64),
            value: v,
            records: vec![format!("r{i}")],
        })
        .collect();
    Generated {
        series,
        injected: inj.iter().map(|(d, _)| day(*d)).collect(),
        params,
    }
}

#[test]
fn precision_and_recall_at_default_sensitivity() {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_126);
    let names = ["cost", "lead_time", "deploy_count", "failure_rate"];
    let (mut tp_all, mut fp_all, mut fn_all) = (0usize, 0usize, 0usize);
    for (family, name) in names.iter().enumerate() {
        let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
        for _ in 0..PER_FAMILY {
            let g = generate(family, &mut rng);
            let found = detect(&g.series, &g.params, None);
            for a in &found {
                if g.injected.contains(&a.date) {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            fneg += g
                .injected
                .iter()
                .filter(|d| !found.iter().any(|a| a.date == **d))
                .count();
        }
        println!(
            "{name:>13}: injected {:>3}, detected {:>3}, precision {:.3}, recall {:.3}",
            tp + fneg,
            tp + fp,
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / (tp + fneg).max(1) as f64
        );
        tp_all += tp;
        fp_all += fp;
        fn_all += fneg;
    }
    let precision = tp_all as f64 / (tp_all + fp_all) as f64;
    let recall = tp_all as f64 / (tp_all + fn_all) as f64;
    println!(
        "{:>13}: injected {}, detected {}, precision {precision:.3}, recall {recall:.3}",
        "all",
        tp_all + fn_all,
        tp_all + fp_all
    );
    assert!(precision >= 0.85, "precision {precision:.3}");
    assert!(recall >= 0.75, "recall {recall:.3}");
}
