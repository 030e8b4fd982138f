//! The change-risk figures (`jit::measure`) against scikit-learn's on the
//! same predictions, live through `bench/jit_sklearn.py --stdin`: generated
//! predictions with ties, rare and common failures, and a model's real
//! outputs. Runs when `BEARING_SKLEARN_PYTHON` names a Python with
//! scikit-learn, or `BEARING_SKLEARN=1` (the repository's `bench/.venv`);
//! `.ci/test` sets it up.

use std::path::PathBuf;

use bearing_adapt::jit::{self, GbtParams, JitModel, Kind, Transform};
use serde_json::json;

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BEARING_SKLEARN_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    (std::env::var("BEARING_SKLEARN").as_deref() == Ok("1"))
        .then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/.venv/bin/python"))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// (labels, calibrated probabilities, log-odds) per case.
fn cases() -> Vec<(Vec<bool>, Vec<f64>, Vec<f64>)> {
    let mut rng = Rng(99);
    let mut out = Vec::new();
    for (n, rate, round) in [(40, 0.5, false), (500, 0.08, true), (2000, 0.2, false)] {
        let y: Vec<bool> = (0..n).map(|_| rng.next() < rate).collect();
        // scores informative but noisy; rounding makes ties
        let s: Vec<f64> = y
            .iter()
            .map(|&l| {
                let v = rng.next() + if l { 0.3 } else { 0.0 } - 0.5;
                if round { (v * 10.0).round() / 10.0 } else { v }
            })
            .collect();
        let p = s.iter().map(|v| jit::sigmoid(3.0 * v)).collect();
        out.push((y, p, s));
    }
    // a fitted model's own predictions on later rows
    let rows: Vec<Vec<Option<f64>>> = (0..1200)
        .map(|_| vec![Some((rng.next() * 6.0).exp()), Some(rng.next())])
        .collect();
    let y: Vec<bool> = rows
        .iter()
        .map(|r| rng.next() < jit::sigmoid(-4.0 + 0.5 * r[0].unwrap().ln_1p()))
        .collect();
    let m = JitModel::fit(
        &["la", "noise"],
        &[Transform::Log1p, Transform::Identity],
        (&rows[..700], &y[..700]),
        (&rows[700..900], &y[700..900]),
        Kind::Gbt(GbtParams::default()),
    );
    let p = rows[900..].iter().map(|r| m.probability(r)).collect();
    let s = rows[900..].iter().map(|r| m.logit(r)).collect();
    out.push((y[900..].to_vec(), p, s));
    out
}

#[test]
fn figures_match_scikit_learn() {
    let Some(python) = python() else {
        eprintln!(
            "scikit-learn not configured (BEARING_SKLEARN=1 or BEARING_SKLEARN_PYTHON): skipped"
        );
        return;
    };
    let cases = cases();
    let input = json!({"cases": cases.iter().map(|(y, p, s)| json!({
        "labels": y.iter().map(|&l| u8::from(l)).collect::<Vec<_>>(), "probs": p, "logits": s,
    })).collect::<Vec<_>>()});
    let doc = crate::scipy_python::run_json(&python, "bench/jit_sklearn.py", &input);
    for ((y, p, s), r) in cases.iter().zip(doc["results"].as_array().unwrap()) {
        let effort = vec![1.0; y.len()];
        let m = jit::measure(p, s, y, &effort, 0.1);
        let ours = [
            ("roc_auc", m.roc_auc.unwrap()),
            ("pr_auc", m.pr_auc.unwrap()),
            ("brier", m.brier),
            ("f1", m.f1),
        ];
        for (k, v) in ours {
            let want = r[k].as_f64().unwrap();
            assert!(
                (v - want).abs() < 1e-12,
                "{k}: bearing {v}, scikit-learn {want} (n {})",
                y.len()
            );
        }
    }
}
