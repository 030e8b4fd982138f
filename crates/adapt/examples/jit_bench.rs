//! ApacheJIT bench: trains Bearing's change-risk learners on the past and
//! measures them on the future (see `bench/jit.sh` and `docs/adapt.md`).
//!
//! `cargo run -p bearing-adapt --example jit_bench -- PATH.csv [--folds K]
//! [--predictions OUT.csv] [--figures OUT.json]`
//!
//! Protocol (rolling origin, no shuffling): changes sorted by author date are
//! cut into `K + 2` equal blocks; fold `i` (1..=K) trains on blocks
//! `0..i`, fits Platt scaling on block `i` and tests on block `i + 1`. Every
//! test prediction comes from a model that saw only older changes. Figures
//! per project and overall are over the pooled test predictions of all folds;
//! the spread over folds is printed beside them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use bearing_adapt::jit::{self, GbtParams, JitModel, Kind, Metrics, Transform};
use bearing_adapt::jitdata::{self, Change};

struct Pred {
    fold: usize,
    project: String,
    label: bool,
    prob: f64,
    logit: f64,
    effort: f64,
}

fn models() -> Vec<(&'static str, Vec<usize>, Kind)> {
    let all: Vec<usize> = (0..jitdata::FEATURES.len()).collect();
    vec![
        // LApredict (Zeng et al., ISSTA 2021): logistic regression on `la` alone
        ("la-only LR", vec![4], Kind::Logistic { l2: 1.0 }),
        ("logistic", all.clone(), Kind::Logistic { l2: 1.0 }),
        ("boosted trees", all, Kind::Gbt(GbtParams::default())),
    ]
}

fn pick(c: &Change, cols: &[usize]) -> Vec<Option<f64>> {
    cols.iter().map(|&i| c.features[i]).collect()
}

fn run(changes: &[Change], folds: usize) -> BTreeMap<&'static str, Vec<Pred>> {
    let n = changes.len();
    let blocks = folds + 2;
    let cut = |b: usize| b * n / blocks;
    let mut out: BTreeMap<&'static str, Vec<Pred>> = BTreeMap::new();
    for (name, cols, kind) in models() {
        let names: Vec<&str> = cols.iter().map(|&i| jitdata::FEATURES[i]).collect();
        let transforms: Vec<Transform> = cols.iter().map(|&i| jitdata::TRANSFORMS[i]).collect();
        for fold in 1..=folds {
            let (train, cal, test) = (
                &changes[..cut(fold)],
                &changes[cut(fold)..cut(fold + 1)],
                &changes[cut(fold + 1)..cut(fold + 2)],
            );
            let rows = |s: &[Change]| -> (Vec<Vec<Option<f64>>>, Vec<bool>) {
                (
                    s.iter().map(|c| pick(c, &cols)).collect(),
                    s.iter().map(|c| c.buggy).collect(),
                )
            };
            let (xt, yt) = rows(train);
            let (xc, yc) = rows(cal);
            let model = JitModel::fit(&names, &transforms, (&xt, &yt), (&xc, &yc), kind);
            for c in test {
                let row = pick(c, &cols);
                out.entry(name).or_default().push(Pred {
                    fold,
                    project: c.project.clone(),
                    label: c.buggy,
                    prob: model.probability(&row),
                    logit: model.logit(&row),
                    effort: c.effort,
                });
            }
        }
    }
    out
}

fn measure(preds: &[&Pred], base: f64) -> Metrics {
    let p: Vec<f64> = preds.iter().map(|p| p.prob).collect();
    let s: Vec<f64> = preds.iter().map(|p| p.logit).collect();
    let y: Vec<bool> = preds.iter().map(|p| p.label).collect();
    let e: Vec<f64> = preds.iter().map(|p| p.effort).collect();
    jit::measure(&p, &s, &y, &e, base)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "  n/a".to_string(), |v| format!("{v:.3}"))
}

fn row(label: &str, m: &Metrics) -> String {
    format!(
        "{label:<26} {:>5} {:>4}  {}  {}  {:.3}  {:.4} ({:.4})  {}",
        m.n,
        m.positives,
        opt(m.roc_auc),
        opt(m.pr_auc),
        m.f1,
        m.brier,
        m.brier_base_rate,
        opt(m.recall_at_20_effort)
    )
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut path, mut folds, mut pred_out, mut fig_out) = (None, 4usize, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--folds" => folds = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--predictions" => pred_out = args.next().map(PathBuf::from),
            "--figures" => fig_out = args.next().map(PathBuf::from),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let (Some(path), true) = (path, folds >= 1) else {
        eprintln!(
            "usage: jit_bench APACHEJIT.csv [--folds K>=1] [--predictions OUT.csv] [--figures OUT.json]"
        );
        return ExitCode::from(2);
    };
    let mut changes = match jitdata::read_apachejit(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    changes.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.commit.cmp(&b.commit)));
    let buggy = changes.iter().filter(|c| c.buggy).count();
    let span = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d").to_string())
    };
    println!(
        "{}: {} changes ({} buggy, {:.1}%), {} to {}; {} folds, rolling origin (train on blocks before, Platt on the previous block, test on the next)",
        path.display(),
        changes.len(),
        buggy,
        100.0 * buggy as f64 / changes.len().max(1) as f64,
        changes.first().map_or_else(String::new, |c| span(c.time)),
        changes.last().map_or_else(String::new, |c| span(c.time)),
        folds
    );
    let all = run(&changes, folds);
    // the base-rate forecast: the failure rate before the first test block
    let first_test = changes.len() * 2 / (folds + 2);
    let base =
        changes[..first_test].iter().filter(|c| c.buggy).count() as f64 / first_test.max(1) as f64;
    let mut figures = serde_json::Map::new();
    for (name, preds) in &all {
        println!("\n== {name}");
        println!(
            "{:<26} {:>5} {:>4}  {:>5}  {:>5}  {:>5}  {:>6} {:>8}  R@20%E",
            "project", "n", "bug", "ROC", "PR", "F1", "Brier", "(base)"
        );
        let mut projects: BTreeMap<&str, Vec<&Pred>> = BTreeMap::new();
        for p in preds {
            projects.entry(p.project.as_str()).or_default().push(p);
        }
        for (proj, ps) in &projects {
            println!("{}", row(proj, &measure(ps, base)));
        }
        let pooled: Vec<&Pred> = preds.iter().collect();
        let overall = measure(&pooled, base);
        println!("{}", row("OVERALL", &overall));
        let per_fold: Vec<Metrics> = (1..=folds)
            .map(|f| {
                measure(
                    &preds.iter().filter(|p| p.fold == f).collect::<Vec<_>>(),
                    base,
                )
            })
            .collect();
        let aucs: Vec<f64> = per_fold.iter().filter_map(|m| m.roc_auc).collect();
        let mean = aucs.iter().sum::<f64>() / aucs.len().max(1) as f64;
        let sd = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>()
            / (aucs.len().max(2) - 1) as f64)
            .sqrt();
        println!(
            "ROC AUC per fold: {} (mean {mean:.3}, sd {sd:.3})",
            aucs.iter()
                .map(|a| format!("{a:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!("reliability (overall): predicted range, n, mean predicted, observed");
        for b in &overall.calibration {
            println!(
                "  {:.1}-{:.1} {:>5}  {:.3}  {:.3}",
                b.lower, b.upper, b.n, b.mean_predicted, b.observed_rate
            );
        }
        figures.insert(
            name.to_string(),
            serde_json::to_value(&overall).unwrap_or_default(),
        );
    }
    if let Some(out) = pred_out {
        let mut text = String::from("model,fold,project,label,prob,logit,effort\n");
        for (name, preds) in &all {
            for p in preds {
                text.push_str(&format!(
                    "{name},{},{},{},{:e},{:e},{}\n",
                    p.fold,
                    p.project,
                    u8::from(p.label),
                    p.prob,
                    p.logit,
                    p.effort
                ));
            }
        }
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    if let Some(out) = fig_out {
        let text = serde_json::to_string_pretty(&figures).unwrap_or_default();
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
