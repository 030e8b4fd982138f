//! Change risk: how likely a production deployment is to need remediation,
//! learned from the organisation's own history.
//!
//! **Labels** come from the metric engine's change-failure linking (a
//! deployment failed when it was rolled back, fixed by a hotfix deployment or
//! linked to an incident — explicitly or by window), so the model predicts
//! exactly what `dora.change_failure_rate` counts.
//!
//! **Features** of a deployment (all computed from events *before* it, so
//! training never peeks at the future): lines and files changed and the
//! number of changes it carries (log-scaled), the service's failure rate over
//! the previous 30 days (smoothed), the authors' failed deployments over the
//! previous 90 days, off-hours / weekend / Friday in the intent's time zone,
//! the deploy strategy, a hotfix-like label, hours since the service's
//! previous deployment (log-scaled) and a critical-tier flag. History older
//! than one day before the deployment is used for the rates, since failures
//! are only known after the fact.
//!
//! **Model**: L2-regularised logistic regression on standardised features,
//! fitted by Newton's method (iteratively reweighted least squares), hand
//! written: thirteen features and a few thousand rows do not justify
//! `linfa`/`smartcore` and their `ndarray` stack; Newton on a 14×14 system
//! converges in a handful of exact steps. The intercept is not penalised.
//!
//! **Evaluation** is honest about small samples: a time-ordered split (the
//! oldest 70% train, the newest 30% test), ROC AUC with its Hanley-McNeil
//! standard error, Brier score against the base-rate forecast, and a
//! reliability table; training refuses fewer than 30 deployments or fewer
//! than 5 failures (or 5 successes), evaluation warns below 50 test rows or
//! 10 test failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bearing_events::{Event, Payload};
use bearing_intent::{Duration, Intent, Scope, Tier};
use bearing_metrics::{Dataset, explain};
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::stats::midranks;

/// Errors from training, evaluating or loading a risk model.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(
        "too little history to {what}: {n} deployments with {positives} failures; need at least {min_n} deployments, {min_pos} failures and {min_pos} successes"
    )]
    TooFewSamples {
        what: &'static str,
        n: usize,
        positives: usize,
        min_n: usize,
        min_pos: usize,
    },
    #[error("cannot read the risk model `{path}`: {message}; run `bearing risk train` first")]
    Load { path: String, message: String },
    #[error(
        "the risk model `{path}` has features {found:?}; expected {expected:?}: retrain with `bearing risk train`"
    )]
    Features {
        path: String,
        found: Vec<String>,
        expected: Vec<String>,
    },
}

/// Feature names, in model order.
pub const FEATURES: [&str; 13] = [
    "log_lines_changed",
    "log_files_changed",
    "log_changes",
    "service_failure_rate_30d",
    "author_failures_90d",
    "off_hours",
    "weekend",
    "friday",
    "strategy_canary",
    "strategy_blue_green",
    "hotfix",
    "log_hours_since_previous_deploy",
    "critical_tier",
];

/// Minimum deployments to train.
pub const MIN_SAMPLES: usize = 30;
/// Minimum failures (and successes) to train.
pub const MIN_POSITIVES: usize = 5;
/// Default L2 penalty on standardised coefficients.
pub const DEFAULT_L2: f64 = 1.0;

const LABELS_HOTFIX: [&str; 5] = ["hotfix", "rework", "unplanned", "fix-forward", "urgent"];

/// One labelled production deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub deployment: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub features: Vec<f64>,
    pub failed: bool,
}

#[derive(Debug, Clone)]
struct DeployRec {
    time: DateTime<Utc>,
    failed: bool,
    authors: BTreeSet<String>,
}

/// What the features of a new change are computed against: each service's
/// labelled production deployments.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Per service, sorted by time.
    deploys: BTreeMap<String, Vec<DeployRec>>,
    /// Every failed deployment, sorted by time.
    failed: Vec<DeployRec>,
    tiers: HashMap<String, Tier>,
    tz: Option<chrono_tz::Tz>,
}

/// A change to score that is not deployed yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeInput {
    pub service: String,
    /// Lines added plus deleted.
    pub lines_changed: f64,
    pub files_changed: f64,
    /// Changes (pull requests) in the deployment (default 1).
    pub changes: f64,
    pub authors: Vec<String>,
    pub labels: Vec<String>,
    /// `direct`, `canary`, `blue-green` (default: direct).
    pub strategy: Option<String>,
}

fn log1p(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

impl History {
    fn features(
        &self,
        service: &str,
        time: DateTime<Utc>,
        size: (f64, f64, f64),
        authors: &BTreeSet<String>,
        labels: &BTreeSet<String>,
        strategy: Option<&str>,
    ) -> Vec<f64> {
        let empty = Vec::new();
        let deps = self.deploys.get(service).unwrap_or(&empty); // sorted by time
        let known_until = time - chrono::Duration::days(1);
        let from30 = time - chrono::Duration::days(30);
        let (lo, hi) = (
            deps.partition_point(|d| d.time < from30),
            deps.partition_point(|d| d.time <= known_until),
        );
        let window = &deps[lo..hi.max(lo)];
        let n30 = window.len() as f64;
        let f30 = window.iter().filter(|d| d.failed).count() as f64;
        let from90 = time - chrono::Duration::days(90);
        let author_failures = if authors.is_empty() {
            0.0
        } else {
            let (lo, hi) = (
                self.failed.partition_point(|d| d.time < from90),
                self.failed.partition_point(|d| d.time <= known_until),
            );
            self.failed[lo..hi.max(lo)]
                .iter()
                .filter(|d| !d.authors.is_disjoint(authors))
                .count() as f64
        };
        let before = deps.partition_point(|d| d.time < time);
        let prev = before.checked_sub(1).map(|i| deps[i].time);
        let hours_since = prev.map_or(24.0 * 30.0, |p| (time - p).num_minutes() as f64 / 60.0);
        let (hour, weekday) = match &self.tz {
            Some(tz) => {
                let local = time.with_timezone(tz);
                (local.hour(), local.weekday())
            }
            None => (time.hour(), time.weekday()),
        };
        let strategy = strategy.map(|s| s.to_ascii_lowercase().replace('_', "-"));
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        vec![
            log1p(size.0),
            log1p(size.1),
            log1p(size.2),
            (f30 + 0.3) / (n30 + 2.0),
            log1p(author_failures),
            flag(!(9..18).contains(&hour)),
            flag(matches!(weekday, Weekday::Sat | Weekday::Sun)),
            flag(weekday == Weekday::Fri),
            flag(strategy.as_deref() == Some("canary")),
            flag(strategy.as_deref() == Some("blue-green")),
            flag(labels.iter().any(|l| LABELS_HOTFIX.contains(&l.as_str()))),
            log1p(hours_since.min(24.0 * 30.0)),
            flag(self.tiers.get(service) == Some(&Tier::Critical)),
        ]
    }

    /// Features of a change about to be deployed at `time`.
    pub fn features_for(&self, change: &ChangeInput, time: DateTime<Utc>) -> Vec<f64> {
        let authors: BTreeSet<String> = change.authors.iter().cloned().collect();
        let labels: BTreeSet<String> = change
            .labels
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        let changes = if change.changes > 0.0 {
            change.changes
        } else {
            1.0
        };
        self.features(
            &change.service,
            time,
            (change.lines_changed, change.files_changed, changes),
            &authors,
            &labels,
            change.strategy.as_deref(),
        )
    }
}

/// Builds the labelled samples and the history from events (the same events
/// `ds` was built from).
pub fn samples(
    intent: &Intent,
    events: &[Event],
    ds: &Dataset,
    now: DateTime<Utc>,
) -> (Vec<Sample>, History) {
    let by_id: HashMap<&str, &Event> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    // commit sha -> change event index
    let mut change_of_sha: HashMap<&str, usize> = HashMap::new();
    let changes: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.payload, Payload::Change(_)))
        .collect();
    for (i, e) in changes.iter().enumerate() {
        if let Payload::Change(c) = &e.payload {
            for commit in &c.commits {
                change_of_sha.insert(commit.sha.as_str(), i);
            }
            if let Some(m) = &c.merge_commit {
                change_of_sha.insert(m.as_str(), i);
            }
        }
    }
    // per service: (merge time, change index), sorted
    let mut changes_of_service: HashMap<&str, Vec<(DateTime<Utc>, usize)>> = HashMap::new();
    for (i, e) in changes.iter().enumerate() {
        if let (Some(svc), Payload::Change(c)) = (e.service.as_deref(), &e.payload) {
            changes_of_service
                .entry(svc)
                .or_default()
                .push((c.merged_at.unwrap_or(e.time), i));
        }
    }
    for list in changes_of_service.values_mut() {
        list.sort();
    }
    let earliest = events.iter().map(|e| e.time).min().unwrap_or(now);
    let span = Duration::from_secs(((now - earliest).num_seconds().max(0) as u64) + 86_400);
    let mut history = History {
        tiers: intent
            .services
            .iter()
            .map(|s| (s.id.clone(), s.tier))
            .collect(),
        tz: Some(ds.timezone()),
        ..History::default()
    };
    // per service: (time, id, failed, event)
    let mut rows: Vec<(String, DateTime<Utc>, String, bool)> = Vec::new();
    for svc in &intent.services {
        let scope = Scope {
            service: Some(svc.id.clone()),
            ..Scope::default()
        };
        let ex = explain(ds, "dora.change_failure_rate", &scope, span, now);
        for r in ex.records {
            if r.kind != "deployment" {
                continue;
            }
            let failed = r.role.starts_with("failed");
            rows.push((svc.id.clone(), r.time, r.event_id, failed));
        }
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.cmp(&b.2)));
    rows.dedup_by(|a, b| a.2 == b.2);

    // first pass: authors and labels per deployment
    struct Raw {
        service: String,
        time: DateTime<Utc>,
        id: String,
        failed: bool,
        size: (f64, f64, f64),
        authors: BTreeSet<String>,
        labels: BTreeSet<String>,
        strategy: Option<String>,
    }
    let mut raws: Vec<Raw> = Vec::new();
    let mut last_deploy: HashMap<String, DateTime<Utc>> = HashMap::new();
    for (service, time, id, failed) in rows {
        let Some(Payload::Deployment(d)) = by_id.get(id.as_str()).map(|e| &e.payload) else {
            continue;
        };
        let mut linked: BTreeSet<usize> = d
            .commits
            .iter()
            .chain(d.commit.iter())
            .filter_map(|sha| change_of_sha.get(sha.as_str()).copied())
            .collect();
        if linked.is_empty() {
            let since = last_deploy.get(&service).copied();
            if let Some(list) = changes_of_service.get(service.as_str()) {
                // changes merged in (previous deployment, this deployment]
                let lo = since.map_or(0, |s| list.partition_point(|(t, _)| *t <= s));
                let hi = list.partition_point(|(t, _)| *t <= time);
                linked = list[lo..hi.max(lo)].iter().map(|(_, i)| *i).collect();
            }
        }
        last_deploy.insert(service.clone(), time);
        let (mut lines, mut files) = (0.0, 0.0);
        let mut authors = BTreeSet::new();
        let mut labels: BTreeSet<String> =
            d.labels.iter().map(|l| l.to_ascii_lowercase()).collect();
        for &i in &linked {
            if let Payload::Change(c) = &changes[i].payload {
                lines += f64::from(c.additions.unwrap_or(0)) + f64::from(c.deletions.unwrap_or(0));
                files += f64::from(c.files_changed.unwrap_or(0));
                authors.extend(c.author.iter().cloned());
                authors.extend(c.commits.iter().filter_map(|c| c.author.clone()));
                labels.extend(c.labels.iter().map(|l| l.to_ascii_lowercase()));
            }
        }
        raws.push(Raw {
            service,
            time,
            id,
            failed,
            size: (lines, files, linked.len() as f64),
            authors,
            labels,
            strategy: d.strategy.clone(),
        });
    }
    for r in &raws {
        if r.failed {
            history.failed.push(DeployRec {
                time: r.time,
                failed: true,
                authors: r.authors.clone(),
            });
        }
        history
            .deploys
            .entry(r.service.clone())
            .or_default()
            .push(DeployRec {
                time: r.time,
                failed: r.failed,
                authors: r.authors.clone(),
            });
    }
    let samples = raws
        .iter()
        .map(|r| Sample {
            deployment: r.id.clone(),
            service: r.service.clone(),
            time: r.time,
            features: history.features(
                &r.service,
                r.time,
                r.size,
                &r.authors,
                &r.labels,
                r.strategy.as_deref(),
            ),
            failed: r.failed,
        })
        .collect();
    (samples, history)
}

/// The history a new change is scored against (what [`samples`] builds,
/// without the samples).
pub fn history(intent: &Intent, events: &[Event], ds: &Dataset, now: DateTime<Utc>) -> History {
    samples(intent, events, ds, now).1
}

/// A fitted model, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskModel {
    pub version: u32,
    pub trained_at: DateTime<Utc>,
    pub features: Vec<String>,
    /// Standardisation: z = (x - mean) / scale.
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// Coefficients on standardised features.
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub l2: f64,
    pub n: usize,
    pub positives: usize,
    /// Held-out evaluation made when the model was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The probability that a deployment with these features fails.
pub fn score(model: &RiskModel, features: &[f64]) -> f64 {
    let z: f64 = model.intercept
        + features
            .iter()
            .zip(&model.mean)
            .zip(&model.scale)
            .zip(&model.weights)
            .map(|(((x, m), s), w)| w * (x - m) / s)
            .sum::<f64>();
    sigmoid(z)
}

/// Each feature's contribution to the log-odds (`weight × standardised value`), largest first.
pub fn contributions(model: &RiskModel, features: &[f64]) -> Vec<(String, f64)> {
    let mut c: Vec<(String, f64)> = model
        .features
        .iter()
        .zip(features)
        .zip(model.mean.iter().zip(&model.scale).zip(&model.weights))
        .map(|((name, x), ((m, s), w))| (name.clone(), w * (x - m) / s))
        .collect();
    c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    c
}

fn check_size(what: &'static str, samples: &[Sample]) -> Result<(), RiskError> {
    let positives = samples.iter().filter(|s| s.failed).count();
    let n = samples.len();
    if n < MIN_SAMPLES || positives < MIN_POSITIVES || n - positives < MIN_POSITIVES {
        return Err(RiskError::TooFewSamples {
            what,
            n,
            positives,
            min_n: MIN_SAMPLES,
            min_pos: MIN_POSITIVES,
        });
    }
    Ok(())
}

/// Fits the model on `samples`.
pub fn fit(samples: &[Sample], l2: f64, now: DateTime<Utc>) -> Result<RiskModel, RiskError> {
    check_size("train", samples)?;
    let p = FEATURES.len();
    let n = samples.len() as f64;
    let mut mean = vec![0.0; p];
    for s in samples {
        for (m, x) in mean.iter_mut().zip(&s.features) {
            *m += x / n;
        }
    }
    let mut scale = vec![0.0; p];
    for s in samples {
        for ((v, x), m) in scale.iter_mut().zip(&s.features).zip(&mean) {
            *v += (x - m).powi(2) / n;
        }
    }
    for v in &mut scale {
        *v = if *v > 1e-12 { v.sqrt() } else { 1.0 };
    }
    // design matrix with intercept in column 0
    let rows: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| {
            std::iter::once(1.0)
                .chain(
                    s.features
                        .iter()
                        .zip(&mean)
                        .zip(&scale)
                        .map(|((x, m), sd)| (x - m) / sd),
                )
                .collect()
        })
        .collect();
    let y: Vec<f64> = samples
        .iter()
        .map(|s| if s.failed { 1.0 } else { 0.0 })
        .collect();
    let k = p + 1;
    let mut beta = vec![0.0; k];
    let base = y.iter().sum::<f64>() / n;
    beta[0] = (base / (1.0 - base)).ln();
    for _ in 0..100 {
        let mut grad = vec![0.0; k];
        let mut hess = vec![vec![0.0; k]; k];
        for (x, yi) in rows.iter().zip(&y) {
            let eta: f64 = x.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let mu = sigmoid(eta);
            let w = (mu * (1.0 - mu)).max(1e-10);
            for i in 0..k {
                grad[i] += (mu - yi) * x[i];
                for j in i..k {
                    hess[i][j] += w * x[i] * x[j];
                }
            }
        }
        for i in 1..k {
            grad[i] += l2 * beta[i];
            hess[i][i] += l2;
        }
        #[allow(clippy::needless_range_loop)] // symmetric fill reads the other triangle
        for i in 0..k {
            for j in 0..i {
                hess[i][j] = hess[j][i];
            }
        }
        let Some(step) = solve(hess, grad) else {
            break;
        };
        let mut max = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            max = max.max(s.abs());
        }
        if max < 1e-9 {
            break;
        }
    }
    Ok(RiskModel {
        version: 1,
        trained_at: now,
        features: FEATURES.iter().map(ToString::to_string).collect(),
        mean,
        scale,
        weights: beta[1..].to_vec(),
        intercept: beta[0],
        l2,
        n: samples.len(),
        positives: y.iter().filter(|v| **v > 0.5).count(),
        evaluation: None,
    })
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f == 0.0 {
                continue;
            }
            let (top, bottom) = a.split_at_mut(row);
            for (x, p) in bottom[0][col..].iter_mut().zip(&top[col][col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// One reliability bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub n: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Held-out evaluation of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Deployments at or after this time form the test set.
    pub split_at: DateTime<Utc>,
    pub n_train: usize,
    pub positives_train: usize,
    pub n_test: usize,
    pub positives_test: usize,
    /// ROC AUC on the test set (`None` without both classes there).
    pub auc: Option<f64>,
    /// Hanley-McNeil standard error of the AUC.
    pub auc_se: Option<f64>,
    /// Mean squared error of the predicted probabilities.
    pub brier: f64,
    /// Brier score of always predicting the training failure rate.
    pub brier_base_rate: f64,
    pub log_loss: f64,
    pub calibration: Vec<CalibrationBin>,
    pub warnings: Vec<String>,
}

/// ROC AUC (probability a failed deployment scores above a good one, ties
/// half) and its Hanley-McNeil standard error.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let pos = labels.iter().filter(|l| **l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (ranks, _) = midranks(scores);
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    let (p, q) = (pos as f64, neg as f64);
    let a = (rank_sum - p * (p + 1.0) / 2.0) / (p * q);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (q - 1.0) * (q2 - a * a)) / (p * q);
    Some((a, var.max(0.0).sqrt()))
}

/// Trains on the oldest `1 - test_share` of the samples (by time) and
/// evaluates on the rest.
pub fn evaluate(
    samples: &[Sample],
    l2: f64,
    test_share: f64,
    now: DateTime<Utc>,
) -> Result<Evaluation, RiskError> {
    check_size("evaluate", samples)?;
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by_key(|s| s.time);
    let cut = ((sorted.len() as f64) * (1.0 - test_share.clamp(0.05, 0.95))).round() as usize;
    let cut = cut.clamp(1, sorted.len() - 1);
    let train: Vec<Sample> = sorted[..cut].iter().map(|s| (*s).clone()).collect();
    let test: Vec<&Sample> = sorted[cut..].to_vec();
    let model = fit(&train, l2, now)?;
    let probs: Vec<f64> = test.iter().map(|s| score(&model, &s.features)).collect();
    let labels: Vec<bool> = test.iter().map(|s| s.failed).collect();
    let base = model.positives as f64 / model.n as f64;
    let nt = test.len() as f64;
    let y = |l: bool| if l { 1.0 } else { 0.0 };
    let brier = probs
        .iter()
        .zip(&labels)
        .map(|(p, l)| (p - y(*l)).powi(2))
        .sum::<f64>()
        / nt;
    let brier_base_rate = labels.iter().map(|l| (base - y(*l)).powi(2)).sum::<f64>() / nt;
    let log_loss = -probs
        .iter()
        .zip(&labels)
        .map(|(p, l)| {
            let p = p.clamp(1e-12, 1.0 - 1e-12);
            if *l { p.ln() } else { (1.0 - p).ln() }
        })
        .sum::<f64>()
        / nt;
    let bins = if test.len() < 100 { 5 } else { 10 };
    let mut calibration = Vec::new();
    for b in 0..bins {
        let lower = b as f64 / bins as f64;
        let upper = (b + 1) as f64 / bins as f64;
        let members: Vec<(f64, bool)> = probs
            .iter()
            .zip(&labels)
            .filter(|(p, _)| **p >= lower && (**p < upper || (b == bins - 1 && **p <= upper)))
            .map(|(p, l)| (*p, *l))
            .collect();
        if members.is_empty() {
            continue;
        }
        let n = members.len() as f64;
        calibration.push(CalibrationBin {
            lower,
            upper,
            n: members.len(),
            mean_predicted: members.iter().map(|m| m.0).sum::<f64>() / n,
            observed_rate: members.iter().filter(|m| m.1).count() as f64 / n,
        });
    }
    let positives_test = labels.iter().filter(|l| **l).count();
    let mut warnings = Vec::new();
    if test.len() < 50 {
        warnings.push(format!(
            "only {} test deployments: the figures are rough",
            test.len()
        ));
    }
    if positives_test < 10 {
        warnings.push(format!(
            "only {positives_test} failures in the test set: the AUC is uncertain (see its standard error)"
        ));
    }
    let auc_pair = auc(&probs, &labels);
    if let Some((a, se)) = auc_pair
        && a - 1.96 * se <= 0.5
    {
        warnings.push(format!(
            "AUC {a:.3} ± {:.3} (95%) does not exclude 0.5: no evidence the model ranks better than chance",
            1.96 * se
        ));
    }
    Ok(Evaluation {
        split_at: test.first().map_or(now, |s| s.time),
        n_train: train.len(),
        positives_train: model.positives,
        n_test: test.len(),
        positives_test,
        auc: auc_pair.map(|p| p.0),
        auc_se: auc_pair.map(|p| p.1),
        brier,
        brier_base_rate,
        log_loss,
        calibration,
        warnings,
    })
}

/// Trains on all samples and attaches the held-out evaluation (30% newest).
pub fn train(samples: &[Sample], now: DateTime<Utc>) -> Result<RiskModel, RiskError> {
    let mut model = fit(samples, DEFAULT_L2, now)?;
    model.evaluation = evaluate(samples, DEFAULT_L2, 0.3, now).ok();
    Ok(model)
}

/// A scored change, as guardrails see it under `data.bearing.risk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskScore {
    /// Probability, 0..1, that the deployment needs remediation.
    pub score: f64,
    /// `low` (< 0.1), `medium` (< 0.3) or `high`.
    pub level: String,
    pub service: String,
    /// The feature values the score was computed from.
    pub features: BTreeMap<String, f64>,
    /// The three features that moved the score most (log-odds contributions).
    pub top_factors: Vec<(String, f64)>,
    pub model_trained_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_auc: Option<f64>,
}

/// The level name of a score.
pub fn level(score: f64) -> &'static str {
    if score < 0.1 {
        "low"
    } else if score < 0.3 {
        "medium"
    } else {
        "high"
    }
}

/// Scores a change about to be deployed at `now`.
pub fn score_change(
    model: &RiskModel,
    history: &History,
    change: &ChangeInput,
    now: DateTime<Utc>,
) -> RiskScore {
    let features = history.features_for(change, now);
    let s = score(model, &features);
    RiskScore {
        score: s,
        level: level(s).to_string(),
        service: change.service.clone(),
        features: FEATURES
            .iter()
            .map(ToString::to_string)
            .zip(features.iter().copied())
            .collect(),
        top_factors: contributions(model, &features)
            .into_iter()
            .take(3)
            .collect(),
        model_trained_at: model.trained_at,
        model_auc: model.evaluation.as_ref().and_then(|e| e.auc),
    }
}

/// Where the model lives by default: next to a SQLite database
/// (`bearing.db` → `bearing.risk.json`), else `bearing.risk.json` in the
/// working directory.
pub fn default_model_path(database: &str) -> PathBuf {
    let path = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
        .unwrap_or(database);
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return PathBuf::from("bearing.risk.json");
    }
    let p = Path::new(path.split('?').next().unwrap_or(path));
    p.with_extension("risk.json")
}

/// Reads a model written by `bearing risk train`.
pub fn load_model(path: &Path) -> Result<RiskModel, RiskError> {
    let err = |message: String| RiskError::Load {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let model: RiskModel = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let expected: Vec<String> = FEATURES.iter().map(ToString::to_string).collect();
    if model.features != expected
        || model.weights.len() != expected.len()
        || model.mean.len() != expected.len()
        || model.scale.len() != expected.len()
    {
        return Err(RiskError::Features {
            path: path.display().to_string(),
            found: model.features,
            expected,
        });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
    }

    /// Deterministic pseudo-random numbers in 0..1 (xorshift).
    fn rng(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn synthetic(n: usize, seed: u64) -> Vec<Sample> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                let mut f: Vec<f64> = (0..FEATURES.len()).map(|_| rng(&mut s)).collect();
                f[0] *= 8.0; // log lines changed 0..8
                let p = sigmoid(-3.0 + 0.6 * f[0]);
                Sample {
                    deployment: format!("d{i}"),
                    service: "svc".into(),
                    time: t0() + chrono::Duration::hours(i as i64),
                    features: f,
                    failed: rng(&mut s) < p,
                }
            })
            .collect()
    }

    #[test]
    fn auc_of_perfect_reversed_and_tied_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels).unwrap().0, 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels).unwrap().0, 0.0);
        assert_eq!(auc(&[0.5; 4], &labels).unwrap().0, 0.5);
        assert!(auc(&[0.5, 0.6], &[true, true]).is_none());
    }

    #[test]
    fn learns_a_real_signal_and_ranks_held_out_changes() {
        let samples = synthetic(600, 42);
        let model = fit(&samples, DEFAULT_L2, t0()).unwrap();
        assert!(model.weights[0] > 0.5, "{:?}", model.weights);
        // noise features stay small
        assert!(
            model.weights[1..].iter().all(|w| w.abs() < 0.35),
            "{:?}",
            model.weights
        );
        let ev = evaluate(&samples, DEFAULT_L2, 0.3, t0()).unwrap();
        assert_eq!(ev.n_test, 180);
        assert!(ev.auc.unwrap() > 0.7, "{ev:?}");
        assert!(ev.brier < ev.brier_base_rate);
        assert!(!ev.calibration.is_empty());
        let total: usize = ev.calibration.iter().map(|b| b.n).sum();
        assert_eq!(total, 180);
    }

    #[test]
    fn refuses_to_train_on_too_little_history() {
        let err = fit(&synthetic(20, 1), DEFAULT_L2, t0()).unwrap_err();
        assert!(err.to_string().contains("20 deployments"), "{err}");
    }

    #[test]
    fn scores_are_probabilities_and_monotone_in_the_signal() {
        let model = fit(&synthetic(600, 7), DEFAULT_L2, t0()).unwrap();
        let mut small = vec![0.5; FEATURES.len()];
        small[0] = 1.0;
        let mut big = small.clone();
        big[0] = 7.0;
        let (a, b) = (score(&model, &small), score(&model, &big));
        assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b));
        assert!(b > a);
        assert_eq!(contributions(&model, &big)[0].0, "log_lines_changed");
    }

    #[test]
    fn model_path_sits_next_to_the_database() {
        assert_eq!(
            default_model_path("sqlite://data/bearing.db"),
            PathBuf::from("data/bearing.risk.json")
        );
        assert_eq!(
            default_model_path("bearing.db"),
            PathBuf::from("bearing.risk.json")
        );
        assert_eq!(
            default_model_path("postgres://u@h/db"),
            PathBuf::from("bearing.risk.json")
        );
    }
}
