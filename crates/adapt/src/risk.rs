//! Change risk: how likely a production deployment is to need remediation,
//! learned from the organisation's own history.
//!
//! **Labels** come from the metric engine's change-failure linking (a
//! deployment failed when it was rolled back, fixed by a hotfix deployment or
//! linked to an incident — explicitly or by window), so the model predicts
//! exactly what `dora.change_failure_rate` counts.
//!
//! **Features** of a deployment (all computed from events *before* it, so
//! training never peeks at the future; [`FEATURES`]): lines and files changed
//! and the number of changes it carries, the service's failure rate over the
//! previous 30 days (smoothed), the authors' failed deployments over the
//! previous 90 days, off-hours / weekend / Friday in the intent's time zone,
//! the deploy strategy, a hotfix-like label, hours since the service's
//! previous deployment, a critical-tier flag and failed pipeline runs on the
//! deployed commit. History older than one day before the deployment is used
//! for the rates, since failures are only known after the fact. **Missing is
//! missing**: a deployment without linked changes has no size, one without a
//! previous deployment no "hours since", one without a known commit no
//! pipeline failures — the model imputes the training mean for them (no
//! effect on the score) and the explanation lists them as missing.
//!
//! **Model** ([`crate::jit`]): class-balanced L2 logistic regression on
//! log1p-transformed, standardised features; Platt scaling fitted on the
//! newest 20% of the training history, so the score is a calibrated
//! probability. On ApacheJIT the boosted trees measure slightly better
//! (`bench/jit.sh`), but on the few hundred deployments an organisation has,
//! the two-parameter-per-feature linear model is the one that does not
//! overfit, and its explanations are exact.
//!
//! **Evaluation** is honest about small samples: a time-ordered split (the
//! oldest 70% train, the newest 30% test), ROC AUC with its Hanley-McNeil
//! standard error, PR AUC, F1, recall at 20% of the changed lines, Brier
//! score against the base-rate forecast, and a reliability table; training
//! refuses fewer than 30 deployments or fewer than 5 failures (or 5
//! successes), evaluation warns below 50 test rows or 10 test failures. A
//! model whose held-out ROC AUC is below its `min_auc` (default
//! [`DEFAULT_MIN_AUC`]) is **advisory**: the `change_risk` guardrail only
//! warns with it, never denies.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bearing_events::{Event, Payload, Status};
use bearing_intent::{Duration, Intent, Scope, Tier};
use bearing_metrics::{Dataset, explain};
use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::jit::{self, CalibrationBin, JitModel, Kind, Transform};

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
    #[error("{file}:{line}: {message}")]
    Input {
        file: String,
        line: usize,
        message: String,
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

/// Feature names, in model order (raw values; the model applies [`TRANSFORMS`]).
pub const FEATURES: [&str; 14] = [
    "lines_changed",
    "files_changed",
    "changes",
    "service_failure_rate_30d",
    "author_failures_90d",
    "off_hours",
    "weekend",
    "friday",
    "strategy_canary",
    "strategy_blue_green",
    "hotfix",
    "hours_since_previous_deploy",
    "critical_tier",
    "pipeline_failures_same_sha",
];

/// How each feature is transformed before standardisation.
pub const TRANSFORMS: [Transform; 14] = {
    use Transform::{Identity as I, Log1p as L};
    [L, L, L, I, L, I, I, I, I, I, I, L, I, L]
};

/// Minimum deployments to train.
pub const MIN_SAMPLES: usize = 30;
/// Minimum failures (and successes) to train.
pub const MIN_POSITIVES: usize = 5;
/// Default L2 penalty on standardised coefficients.
pub const DEFAULT_L2: f64 = 1.0;
/// Below this held-out ROC AUC a model is advisory (never denies).
pub const DEFAULT_MIN_AUC: f64 = 0.65;
/// Share of the (time-ordered) training history Platt scaling is fitted on.
pub const CALIBRATION_SHARE: f64 = 0.2;

const LABELS_HOTFIX: [&str; 5] = ["hotfix", "rework", "unplanned", "fix-forward", "urgent"];

/// One labelled production deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub deployment: String,
    pub service: String,
    pub time: DateTime<Utc>,
    /// In [`FEATURES`] order; `None` is missing.
    pub features: Vec<Option<f64>>,
    pub failed: bool,
}

impl Sample {
    /// Inspection effort for the effort-aware figures: lines changed (0 when unknown).
    fn effort(&self) -> f64 {
        self.features[0].unwrap_or(0.0)
    }
}

#[derive(Debug, Clone)]
struct DeployRec {
    time: DateTime<Utc>,
    failed: bool,
    authors: BTreeSet<String>,
}

/// What the features of a new change are computed against: each service's
/// labelled production deployments and the failed pipeline runs per commit.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Per service, sorted by time.
    deploys: BTreeMap<String, Vec<DeployRec>>,
    /// Every failed deployment, sorted by time.
    failed: Vec<DeployRec>,
    /// Commit sha -> times of failed pipeline runs on it.
    pipeline_failures: HashMap<String, Vec<DateTime<Utc>>>,
    tiers: HashMap<String, Tier>,
    tz: Option<chrono_tz::Tz>,
}

/// A change to score that is not deployed yet. Unknown sizes stay `None`
/// (missing, not zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeInput {
    pub service: String,
    /// Lines added plus deleted.
    #[serde(default)]
    pub lines_changed: Option<f64>,
    #[serde(default)]
    pub files_changed: Option<f64>,
    /// Changes (pull requests) in the deployment.
    #[serde(default)]
    pub changes: Option<f64>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// `direct`, `canary`, `blue-green` (default: direct).
    #[serde(default)]
    pub strategy: Option<String>,
    /// The commit to deploy (for failed pipeline runs on it).
    #[serde(default)]
    pub commit: Option<String>,
}

/// What a deployment brings, as far as it is known.
struct Size {
    lines: Option<f64>,
    files: Option<f64>,
    changes: Option<f64>,
}

impl History {
    #[allow(clippy::too_many_arguments)] // one argument per feature source
    fn features(
        &self,
        service: &str,
        time: DateTime<Utc>,
        size: &Size,
        authors: &BTreeSet<String>,
        labels: &BTreeSet<String>,
        strategy: Option<&str>,
        commits: &[&str],
    ) -> Vec<Option<f64>> {
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
        let author_failures = (!authors.is_empty()).then(|| {
            let (lo, hi) = (
                self.failed.partition_point(|d| d.time < from90),
                self.failed.partition_point(|d| d.time <= known_until),
            );
            self.failed[lo..hi.max(lo)]
                .iter()
                .filter(|d| !d.authors.is_disjoint(authors))
                .count() as f64
        });
        let before = deps.partition_point(|d| d.time < time);
        let hours_since = before
            .checked_sub(1)
            .map(|i| (time - deps[i].time).num_minutes() as f64 / 60.0);
        let pipeline_failures = (!commits.is_empty()).then(|| {
            commits
                .iter()
                .filter_map(|c| self.pipeline_failures.get(*c))
                .flatten()
                .filter(|t| **t < time)
                .count() as f64
        });
        let (hour, weekday) = match &self.tz {
            Some(tz) => {
                let local = time.with_timezone(tz);
                (local.hour(), local.weekday())
            }
            None => (time.hour(), time.weekday()),
        };
        let strategy = strategy.map(|s| s.to_ascii_lowercase().replace('_', "-"));
        let flag = |b: bool| Some(if b { 1.0 } else { 0.0 });
        vec![
            size.lines,
            size.files,
            size.changes,
            Some((f30 + 0.3) / (n30 + 2.0)),
            author_failures,
            flag(!(9..18).contains(&hour)),
            flag(matches!(weekday, Weekday::Sat | Weekday::Sun)),
            flag(weekday == Weekday::Fri),
            flag(strategy.as_deref() == Some("canary")),
            flag(strategy.as_deref() == Some("blue-green")),
            flag(labels.iter().any(|l| LABELS_HOTFIX.contains(&l.as_str()))),
            hours_since,
            flag(self.tiers.get(service) == Some(&Tier::Critical)),
            pipeline_failures,
        ]
    }

    /// Features of a change about to be deployed at `time`.
    pub fn features_for(&self, change: &ChangeInput, time: DateTime<Utc>) -> Vec<Option<f64>> {
        let authors: BTreeSet<String> = change.authors.iter().cloned().collect();
        let labels: BTreeSet<String> = change
            .labels
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        let known = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0);
        let commits: Vec<&str> = change.commit.iter().map(String::as_str).collect();
        self.features(
            &change.service,
            time,
            &Size {
                lines: known(change.lines_changed),
                files: known(change.files_changed),
                changes: known(change.changes),
            },
            &authors,
            &labels,
            change.strategy.as_deref(),
            &commits,
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
        size: Size,
        authors: BTreeSet<String>,
        labels: BTreeSet<String>,
        strategy: Option<String>,
        commits: Vec<String>,
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
        // a size is known when at least one linked change reports it
        let (mut lines, mut files): (Option<f64>, Option<f64>) = (None, None);
        let mut authors = BTreeSet::new();
        let mut labels: BTreeSet<String> =
            d.labels.iter().map(|l| l.to_ascii_lowercase()).collect();
        for &i in &linked {
            if let Payload::Change(c) = &changes[i].payload {
                if c.additions.is_some() || c.deletions.is_some() {
                    let l =
                        f64::from(c.additions.unwrap_or(0)) + f64::from(c.deletions.unwrap_or(0));
                    lines = Some(lines.unwrap_or(0.0) + l);
                }
                if let Some(f) = c.files_changed {
                    files = Some(files.unwrap_or(0.0) + f64::from(f));
                }
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
            size: Size {
                lines,
                files,
                changes: (!linked.is_empty()).then_some(linked.len() as f64),
            },
            authors,
            labels,
            strategy: d.strategy.clone(),
            commits: d.commit.iter().chain(&d.commits).cloned().collect(),
        });
    }
    for e in events {
        if let Payload::PipelineRun(run) = &e.payload
            && run.status == Status::Failure
            && let Some(sha) = &run.commit
        {
            let t = run.finished_at.or(run.started_at).unwrap_or(e.time);
            history
                .pipeline_failures
                .entry(sha.clone())
                .or_default()
                .push(t);
        }
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
                &r.size,
                &r.authors,
                &r.labels,
                r.strategy.as_deref(),
                &r.commits.iter().map(String::as_str).collect::<Vec<_>>(),
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
    /// 2 since the calibrated model (version 1 files must be retrained).
    pub version: u32,
    pub trained_at: DateTime<Utc>,
    /// Features, scaler, learner and Platt calibration.
    pub model: JitModel,
    pub n: usize,
    pub positives: usize,
    /// Below this held-out ROC AUC the model is advisory.
    pub min_auc: f64,
    /// Held-out evaluation made when the model was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
}

impl RiskModel {
    /// Why the model is only advisory (held-out AUC unknown or below
    /// `min_auc`), or `None` when its scores may deny.
    pub fn advisory(&self) -> Option<String> {
        match self.evaluation.as_ref().and_then(|e| e.auc) {
            Some(auc) if auc >= self.min_auc => None,
            Some(auc) => Some(format!(
                "held-out ROC AUC {auc:.3} is below {:.2}: the score is advisory and never denies",
                self.min_auc
            )),
            None => Some(
                "no held-out ROC AUC (too few failures or successes in the newest deployments): the score is advisory and never denies"
                    .to_string(),
            ),
        }
    }
}

/// The probability that a deployment with these features fails (calibrated).
pub fn score(model: &RiskModel, features: &[Option<f64>]) -> f64 {
    model.model.probability(features)
}

/// Each feature's contribution to the calibrated log-odds, largest first
/// (missing features contribute 0).
pub fn contributions(model: &RiskModel, features: &[Option<f64>]) -> Vec<(String, f64)> {
    model.model.contributions(features)
}

fn check_size(what: &'static str, samples: &[&Sample]) -> Result<(), RiskError> {
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

fn by_time(samples: &[Sample]) -> Vec<&Sample> {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.deployment.cmp(&b.deployment))
    });
    sorted
}

/// Fits on time-ordered `sorted`: the learner on the oldest
/// `1 - CALIBRATION_SHARE`, Platt scaling on the newest `CALIBRATION_SHARE`.
fn fit_sorted(sorted: &[&Sample], l2: f64, now: DateTime<Utc>) -> Result<RiskModel, RiskError> {
    check_size("train", sorted)?;
    let cut = ((sorted.len() as f64) * (1.0 - CALIBRATION_SHARE)).round() as usize;
    let cut = cut.clamp(1, sorted.len() - 1);
    let x: Vec<Vec<Option<f64>>> = sorted.iter().map(|s| s.features.clone()).collect();
    let y: Vec<bool> = sorted.iter().map(|s| s.failed).collect();
    let model = JitModel::fit(
        &FEATURES,
        &TRANSFORMS,
        (&x[..cut], &y[..cut]),
        (&x[cut..], &y[cut..]),
        Kind::Logistic { l2 },
    );
    Ok(RiskModel {
        version: 2,
        trained_at: now,
        model,
        n: sorted.len(),
        positives: y.iter().filter(|v| **v).count(),
        min_auc: DEFAULT_MIN_AUC,
        evaluation: None,
    })
}

/// Fits the model on `samples` (learner on the older 80%, calibration on the newest 20%).
pub fn fit(samples: &[Sample], l2: f64, now: DateTime<Utc>) -> Result<RiskModel, RiskError> {
    fit_sorted(&by_time(samples), l2, now)
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
    /// Average precision (PR AUC).
    #[serde(default)]
    pub pr_auc: Option<f64>,
    /// F1 of the class-balanced learner at 0.5.
    #[serde(default)]
    pub f1: f64,
    /// Share of the failures found inspecting the riskiest changes per
    /// changed line first until 20% of the changed lines are spent.
    #[serde(default)]
    pub recall_at_20_effort: Option<f64>,
    /// Mean squared error of the calibrated probabilities.
    pub brier: f64,
    /// Brier score of always predicting the training failure rate.
    pub brier_base_rate: f64,
    pub log_loss: f64,
    pub calibration: Vec<CalibrationBin>,
    pub warnings: Vec<String>,
    /// Every test deployment with its outcome and calibrated score: the
    /// records behind the figures (`bearing risk evaluate --output json`;
    /// not kept in the model file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictions: Vec<Prediction>,
}

/// One held-out deployment as the evaluation scored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub deployment: String,
    pub service: String,
    pub time: DateTime<Utc>,
    pub failed: bool,
    pub score: f64,
}

/// ROC AUC and its Hanley-McNeil standard error ([`jit::roc_auc`]).
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    jit::roc_auc(scores, labels)
}

/// Trains on the oldest `1 - test_share` of the samples (by time) and
/// evaluates on the rest.
pub fn evaluate(
    samples: &[Sample],
    l2: f64,
    test_share: f64,
    now: DateTime<Utc>,
) -> Result<Evaluation, RiskError> {
    let sorted = by_time(samples);
    check_size("evaluate", &sorted)?;
    let cut = ((sorted.len() as f64) * (1.0 - test_share.clamp(0.05, 0.95))).round() as usize;
    let cut = cut.clamp(1, sorted.len() - 1);
    let (train, test) = sorted.split_at(cut);
    let model = fit_sorted(train, l2, now)?;
    let probs: Vec<f64> = test.iter().map(|s| score(&model, &s.features)).collect();
    let logits: Vec<f64> = test
        .iter()
        .map(|s| model.model.logit(&s.features))
        .collect();
    let labels: Vec<bool> = test.iter().map(|s| s.failed).collect();
    let effort: Vec<f64> = test.iter().map(|s| s.effort()).collect();
    let base = model.positives as f64 / model.n as f64;
    let m = jit::measure(&probs, &logits, &labels, &effort, base);
    let log_loss = -probs
        .iter()
        .zip(&labels)
        .map(|(p, l)| {
            let p = p.clamp(1e-12, 1.0 - 1e-12);
            if *l { p.ln() } else { (1.0 - p).ln() }
        })
        .sum::<f64>()
        / test.len() as f64;
    let mut warnings = Vec::new();
    if test.len() < 50 {
        warnings.push(format!(
            "only {} test deployments: the figures are rough",
            test.len()
        ));
    }
    if m.positives < 10 {
        warnings.push(format!(
            "only {} failures in the test set: the AUC is uncertain (see its standard error)",
            m.positives
        ));
    }
    if let (Some(a), Some(se)) = (m.roc_auc, m.roc_auc_se)
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
        positives_test: m.positives,
        auc: m.roc_auc,
        auc_se: m.roc_auc_se,
        pr_auc: m.pr_auc,
        f1: m.f1,
        recall_at_20_effort: m.recall_at_20_effort,
        brier: m.brier,
        brier_base_rate: m.brier_base_rate,
        log_loss,
        calibration: m.calibration,
        warnings,
        predictions: test
            .iter()
            .zip(&probs)
            .map(|(s, p)| Prediction {
                deployment: s.deployment.clone(),
                service: s.service.clone(),
                time: s.time,
                failed: s.failed,
                score: *p,
            })
            .collect(),
    })
}

/// Trains on all samples and attaches the held-out evaluation (30% newest);
/// `min_auc` is the held-out ROC AUC below which the model is advisory.
pub fn train(samples: &[Sample], min_auc: f64, now: DateTime<Utc>) -> Result<RiskModel, RiskError> {
    let mut model = fit(samples, DEFAULT_L2, now)?;
    model.min_auc = min_auc;
    model.evaluation = evaluate(samples, DEFAULT_L2, 0.3, now)
        .ok()
        .map(|e| Evaluation {
            predictions: Vec::new(),
            ..e
        });
    Ok(model)
}

/// One reason behind a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub feature: String,
    /// The raw value (`None`: missing, so it did not move the score).
    pub value: Option<f64>,
    /// Contribution to the calibrated log-odds.
    pub contribution: f64,
}

/// A scored change, as guardrails see it under `data.bearing.risk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskScore {
    /// Calibrated probability, 0..1, that the deployment needs remediation.
    pub score: f64,
    /// `low` (< 0.1), `medium` (< 0.3) or `high`.
    pub level: String,
    pub service: String,
    /// The feature values the score was computed from (`null`: missing).
    pub features: BTreeMap<String, Option<f64>>,
    /// Features that were missing (imputed with the training mean: no effect).
    pub missing: Vec<String>,
    /// The three known features that moved the score most.
    pub top_factors: Vec<Factor>,
    pub model_trained_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_auc: Option<f64>,
    /// Why the score may not deny (the model's held-out AUC is too low), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
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
    let value_of: HashMap<&str, Option<f64>> = FEATURES
        .iter()
        .copied()
        .zip(features.iter().copied())
        .collect();
    RiskScore {
        score: s,
        level: level(s).to_string(),
        service: change.service.clone(),
        features: FEATURES
            .iter()
            .map(ToString::to_string)
            .zip(features.iter().copied())
            .collect(),
        missing: FEATURES
            .iter()
            .zip(&features)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n.to_string())
            .collect(),
        top_factors: contributions(model, &features)
            .into_iter()
            .filter(|(name, _)| value_of.get(name.as_str()).copied().flatten().is_some())
            .take(3)
            .map(|(feature, contribution)| Factor {
                value: value_of.get(feature.as_str()).copied().flatten(),
                feature,
                contribution,
            })
            .collect(),
        model_trained_at: model.trained_at,
        model_auc: model.evaluation.as_ref().and_then(|e| e.auc),
        advisory: model.advisory(),
    }
}

/// Lines changed (added plus deleted) and files touched by a change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffSize {
    pub lines: f64,
    pub files: f64,
}

/// Sizes a unified diff (`git diff`, `diff -u`): the `+`/`-` lines of each
/// hunk, read by the hunk header's counts (`@@ -l,s +l,s @@`), and files by
/// `diff --git` headers (renames and binary files count) or, without them,
/// by `+++` headers. `file` names the input in errors.
pub fn diff_size(text: &str, file: &str) -> Result<DiffSize, RiskError> {
    let err = |line: usize, message: String| RiskError::Input {
        file: file.to_string(),
        line,
        message,
    };
    let (mut lines, mut files, mut git_files) = (0usize, 0usize, 0usize);
    let (mut old_left, mut new_left) = (0u64, 0u64);
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        if old_left > 0 || new_left > 0 {
            match line.as_bytes().first() {
                Some(b'+') => {
                    new_left = new_left.saturating_sub(1);
                    lines += 1;
                }
                Some(b'-') => {
                    old_left = old_left.saturating_sub(1);
                    lines += 1;
                }
                Some(b'\\') => {}
                Some(b' ') | None => {
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
                _ => {
                    return Err(err(
                        i + 1,
                        format!("`{line}` inside a hunk (expected ` `, `+`, `-` or `\\`)"),
                    ));
                }
            }
            continue;
        }
        if line.starts_with("diff --git ") {
            git_files += 1;
            header_seen = true;
        } else if line.starts_with("+++ ") {
            files += 1;
            header_seen = true;
        } else if line.starts_with("--- ") {
            header_seen = true;
        } else if let Some(rest) = line.strip_prefix("@@ ") {
            if !header_seen {
                return Err(err(
                    i + 1,
                    "a hunk before any file header (`diff --git`, `---` or `+++`)".into(),
                ));
            }
            let count = |spec: Option<&str>, sign: char| -> Option<u64> {
                let spec = spec?.strip_prefix(sign)?;
                match spec.split_once(',') {
                    Some((_, n)) => n.parse().ok(),
                    None => spec.parse::<u64>().ok().map(|_| 1),
                }
            };
            let mut parts = rest.split_whitespace();
            let (Some(o), Some(n)) = (count(parts.next(), '-'), count(parts.next(), '+')) else {
                return Err(err(
                    i + 1,
                    format!("`{line}` is not a hunk header `@@ -l,s +l,s @@`"),
                ));
            };
            (old_left, new_left) = (o, n);
        }
    }
    if old_left > 0 || new_left > 0 {
        return Err(err(
            text.lines().count(),
            "the diff ends inside a hunk".into(),
        ));
    }
    let files = files.max(git_files);
    if files == 0 {
        return Err(err(
            0,
            "not a unified diff: no file header (`diff --git`, `+++`)".into(),
        ));
    }
    Ok(DiffSize {
        lines: lines as f64,
        files: files as f64,
    })
}

/// Sizes `git diff --numstat` output (`added<TAB>deleted<TAB>path`, `-` for
/// binary files).
pub fn numstat_size(text: &str, file: &str) -> Result<DiffSize, RiskError> {
    let (mut lines, mut files) = (0.0, 0.0);
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let err = |message: String| RiskError::Input {
            file: file.to_string(),
            line: i + 1,
            message,
        };
        let mut parts = line.splitn(3, '\t');
        let (Some(a), Some(d), Some(_path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(format!("`{line}` is not `added<TAB>deleted<TAB>path`")));
        };
        for v in [a, d] {
            if v != "-" {
                lines += v
                    .parse::<u64>()
                    .map_err(|_| err(format!("`{v}` is not a line count")))?
                    as f64;
            }
        }
        files += 1.0;
    }
    Ok(DiffSize { lines, files })
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
    if model.model.features != expected || model.model.scaler.mean.len() != expected.len() {
        return Err(RiskError::Features {
            path: path.display().to_string(),
            found: model.model.features,
            expected,
        });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::{Learner, sigmoid};
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

    /// Failure odds rise with log lines changed (0..8); the other features are noise.
    fn synthetic(n: usize, seed: u64) -> Vec<Sample> {
        synthetic_at(n, seed, -3.0)
    }

    fn synthetic_at(n: usize, seed: u64, intercept: f64) -> Vec<Sample> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                let mut f: Vec<Option<f64>> =
                    (0..FEATURES.len()).map(|_| Some(rng(&mut s))).collect();
                let log_lines = 8.0 * rng(&mut s);
                f[0] = Some(log_lines.exp() - 1.0);
                let p = sigmoid(intercept + 0.6 * log_lines);
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

    fn weights(m: &RiskModel) -> &[f64] {
        match &m.model.learner {
            Learner::Logistic(l) => &l.weights,
            Learner::Gbt(_) => &[],
        }
    }

    #[test]
    fn learns_a_real_signal_and_ranks_held_out_changes() {
        let samples = synthetic(600, 42);
        let model = fit(&samples, DEFAULT_L2, t0()).unwrap();
        let w = weights(&model);
        assert!(w[0] > 0.5, "{w:?}");
        // noise features stay small
        assert!(w[1..].iter().all(|w| w.abs() < 0.35), "{w:?}");
        let ev = evaluate(&samples, DEFAULT_L2, 0.3, t0()).unwrap();
        assert_eq!(ev.n_test, 180);
        assert!(ev.auc.unwrap() > 0.7, "{ev:?}");
        assert!(ev.brier < ev.brier_base_rate, "{ev:?}");
        assert!(ev.pr_auc.is_some() && ev.recall_at_20_effort.is_some());
        let total: usize = ev.calibration.iter().map(|b| b.n).sum();
        assert_eq!(total, 180);
        // the records behind the figures: the 180 newest deployments, in time order
        assert_eq!(ev.predictions.len(), 180);
        assert_eq!(ev.predictions[0].deployment, "d420");
        assert_eq!(
            ev.predictions.iter().filter(|p| p.failed).count(),
            ev.positives_test
        );
    }

    #[test]
    fn calibrated_scores_match_the_observed_failure_rate() {
        // class-balanced weights push raw probabilities towards 0.5; Platt
        // scaling on the later slice brings the mean back to the base rate
        let samples = synthetic_at(2000, 3, -5.0);
        let model = fit(&samples, DEFAULT_L2, t0()).unwrap();
        let rate = samples.iter().filter(|s| s.failed).count() as f64 / 2000.0;
        let mean = samples
            .iter()
            .map(|s| score(&model, &s.features))
            .sum::<f64>()
            / 2000.0;
        assert!(
            (mean - rate).abs() < 0.03,
            "mean score {mean} vs rate {rate}"
        );
        let raw = samples
            .iter()
            .map(|s| sigmoid(model.model.logit(&s.features)))
            .sum::<f64>()
            / 2000.0;
        assert!(raw > rate + 0.1, "balanced raw mean {raw} vs rate {rate}");
    }

    #[test]
    fn refuses_to_train_on_too_little_history() {
        let err = fit(&synthetic(20, 1), DEFAULT_L2, t0()).unwrap_err();
        assert!(err.to_string().contains("20 deployments"), "{err}");
    }

    #[test]
    fn scores_are_probabilities_and_monotone_in_the_signal() {
        let model = fit(&synthetic(600, 7), DEFAULT_L2, t0()).unwrap();
        let mut small = vec![Some(0.5); FEATURES.len()];
        small[0] = Some(2.0);
        let mut big = small.clone();
        big[0] = Some(1000.0);
        let (a, b) = (score(&model, &small), score(&model, &big));
        assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b));
        assert!(b > a);
        assert_eq!(contributions(&model, &big)[0].0, "lines_changed");
    }

    #[test]
    fn a_missing_size_is_neutral_not_zero() {
        let model = fit(&synthetic(600, 11), DEFAULT_L2, t0()).unwrap();
        let history = History::default();
        let change = |lines: Option<f64>, files: Option<f64>| ChangeInput {
            service: "svc".into(),
            lines_changed: lines,
            files_changed: files,
            ..ChangeInput::default()
        };
        let big = score_change(&model, &history, &change(Some(2000.0), None), t0());
        let tiny = score_change(&model, &history, &change(Some(10.0), None), t0());
        let unknown = score_change(&model, &history, &change(None, None), t0());
        assert!(
            big.score > unknown.score && unknown.score > tiny.score,
            "{big:?} {unknown:?} {tiny:?}"
        );
        assert_eq!(unknown.features["lines_changed"], None);
        assert!(unknown.missing.contains(&"lines_changed".to_string()));
        assert!(
            unknown
                .top_factors
                .iter()
                .all(|f| f.feature != "lines_changed")
        );
        assert_eq!(big.top_factors[0].feature, "lines_changed");
        assert_eq!(big.top_factors[0].value, Some(2000.0));
        // giving a typical file count does not flip a large change
        let with_files = score_change(&model, &history, &change(Some(2000.0), Some(0.5)), t0());
        assert!(
            (with_files.score - big.score).abs() < 0.1,
            "{with_files:?} {big:?}"
        );
    }

    #[test]
    fn features_of_a_change_know_what_they_do_not_know() {
        let t = t0();
        let h = |hours: i64| t + chrono::Duration::hours(hours);
        let mut history = History::default();
        history.deploys.insert(
            "svc".into(),
            vec![
                DeployRec {
                    time: h(-72),
                    failed: true,
                    authors: ["ann".to_string()].into(),
                },
                DeployRec {
                    time: h(-30),
                    failed: false,
                    authors: BTreeSet::new(),
                },
            ],
        );
        history.failed.push(DeployRec {
            time: h(-72),
            failed: true,
            authors: ["ann".to_string()].into(),
        });
        history
            .pipeline_failures
            .insert("abc".into(), vec![h(-2), h(-1), h(1)]);
        let at =
            |name: &str, f: &[Option<f64>]| f[FEATURES.iter().position(|n| *n == name).unwrap()];
        let known = ChangeInput {
            service: "svc".into(),
            lines_changed: Some(12.0),
            authors: vec!["ann".into()],
            commit: Some("abc".into()),
            ..ChangeInput::default()
        };
        let f = history.features_for(&known, t);
        assert_eq!(at("lines_changed", &f), Some(12.0));
        assert_eq!(at("files_changed", &f), None);
        assert_eq!(at("changes", &f), None);
        // the failure 72 h ago is older than a day, so it counts; 1 of 2 deployments
        assert_eq!(
            at("service_failure_rate_30d", &f),
            Some((1.0 + 0.3) / (2.0 + 2.0))
        );
        assert_eq!(at("author_failures_90d", &f), Some(1.0));
        assert_eq!(at("hours_since_previous_deploy", &f), Some(30.0));
        // two failed runs on the commit before now; the one after does not count
        assert_eq!(at("pipeline_failures_same_sha", &f), Some(2.0));
        let other = ChangeInput {
            service: "new".into(),
            commit: Some("fff".into()),
            ..ChangeInput::default()
        };
        let f = history.features_for(&other, t);
        assert_eq!(
            at("hours_since_previous_deploy", &f),
            None,
            "no previous deployment"
        );
        assert_eq!(at("author_failures_90d", &f), None, "no known author");
        assert_eq!(
            at("pipeline_failures_same_sha", &f),
            Some(0.0),
            "a known commit without failures"
        );
        let f = history.features_for(
            &ChangeInput {
                service: "new".into(),
                ..ChangeInput::default()
            },
            t,
        );
        assert_eq!(at("pipeline_failures_same_sha", &f), None, "no commit");
        // a negative or non-finite size is not a size
        let bad = ChangeInput {
            service: "svc".into(),
            lines_changed: Some(-5.0),
            files_changed: Some(f64::NAN),
            ..ChangeInput::default()
        };
        let f = history.features_for(&bad, t);
        assert_eq!(
            (at("lines_changed", &f), at("files_changed", &f)),
            (None, None)
        );
    }

    #[test]
    fn a_weak_model_is_advisory() {
        // labels independent of every feature: held-out AUC near 0.5
        let mut s = 5u64;
        let mut samples = synthetic(600, 5);
        for x in &mut samples {
            x.failed = rng(&mut s) < 0.2;
        }
        let model = train(&samples, DEFAULT_MIN_AUC, t0()).unwrap();
        let why = model.advisory().unwrap();
        assert!(why.contains("advisory"), "{why}");
        let strong = train(&synthetic(600, 42), DEFAULT_MIN_AUC, t0()).unwrap();
        assert_eq!(strong.advisory(), None, "{:?}", strong.evaluation);
    }

    #[test]
    fn sizes_a_unified_diff_and_numstat_by_hand() {
        let diff = "diff --git a/x.rs b/x.rs\nindex 1..2 100644\n--- a/x.rs\n+++ b/x.rs\n@@ -1,4 +1,3 @@\n fn a() {\n-    1\n--- a deleted line that looks like a header\n+    2\n }\ndiff --git a/y.png b/y.png\nBinary files differ\ndiff --git a/z b/z\n--- a/z\n+++ b/z\n@@ -0,0 +1,2 @@\n+one\n+two\n";
        // x.rs: -2 +1 (the "--- a deleted line" is inside the hunk's counts); y.png: a file; z: +2
        assert_eq!(
            diff_size(diff, "d.diff").unwrap(),
            DiffSize {
                lines: 5.0,
                files: 3.0
            }
        );
        // diff -u of two files, no git headers: the second file's `---` is a header, not a deletion
        let plain = "--- a.txt\n+++ a.txt\n@@ -1 +1 @@\n-a\n+b\n--- b.txt\n+++ b.txt\n@@ -1,2 +1 @@\n-c\n d\n";
        assert_eq!(
            diff_size(plain, "p.diff").unwrap(),
            DiffSize {
                lines: 3.0,
                files: 2.0
            }
        );
        let e = diff_size("--- a\n+++ a\n@@ -1,2 +1,2 @@\n-a\n", "cut.diff").unwrap_err();
        assert_eq!(e.to_string(), "cut.diff:4: the diff ends inside a hunk");
        let e = diff_size("--- a\n+++ a\n@@ -1 +1 @@\n?x\n", "odd.diff").unwrap_err();
        assert!(
            e.to_string().starts_with("odd.diff:4: `?x` inside a hunk"),
            "{e}"
        );
        let e = diff_size("@@ -1 +1 @@\n+x\n", "bad.diff").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad.diff:1: a hunk before any file header (`diff --git`, `---` or `+++`)"
        );
        assert!(diff_size("hello\n", "h").is_err());
        let n = numstat_size("10\t2\tsrc/a.rs\n-\t-\timg.png\n0\t7\tb\n", "git").unwrap();
        assert_eq!(
            n,
            DiffSize {
                lines: 19.0,
                files: 3.0
            }
        );
        let e = numstat_size("10\tx\ta\n", "git").unwrap_err();
        assert_eq!(e.to_string(), "git:1: `x` is not a line count");
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
