//! `bearing risk train|evaluate|score`: the change-risk model (see
//! `docs/adapt.md`). The model is a JSON file next to a SQLite database
//! (`bearing.db` → `bearing.risk.json`), `bearing.risk.json` in the working
//! directory for Postgres, or wherever `--model` / `BEARING_RISK_MODEL` says.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::jit::Learner;
use bearing_adapt::risk::{self, ChangeInput, Evaluation, RiskError, RiskModel, RiskScore};
use bearing_intent::Intent;
use bearing_store::{DynStore, EventQuery};
use chrono::{DateTime, Utc};

use super::common::{Global, Output};
use super::reconcile::load_intent;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Train the model on the stored history and write it (with its held-out
    /// evaluation): class-balanced logistic regression, calibrated on the
    /// newest 20% of the training history; advisory below `--min-auc`.
    ///
    /// Exit codes: 0 trained, 1 too little history (fewer than 30 production
    /// deployments, or fewer than 5 failures or successes), 2 I/O error.
    Train(TrainArgs),
    /// Evaluate on held-out history: the newest 30% of deployments are scored
    /// by a model trained on the older 70%. Prints ROC AUC with its standard
    /// error, PR AUC, F1, recall at 20% of the changed lines, Brier score
    /// against the base rate, and a reliability table; `--output json` also
    /// lists every test deployment with its outcome and score.
    Evaluate(EvaluateArgs),
    /// Score a change about to be deployed; `--output json` prints what
    /// guardrails see as `data.bearing.risk`.
    Score(ScoreArgs),
    /// Change metrics of Kamei et al. (ns, nd, nf, entropy, la, ld, lt, fix,
    /// ndev, age, nuc, exp, rexp, sexp) of each commit of a git repository,
    /// from `git log --numstat` (see docs/adapt.md); CSV, or JSON with
    /// `--output json`. An unknown value (age of a commit touching only new
    /// files) is empty, not zero.
    Features(FeaturesArgs),
}

#[derive(clap::Args)]
pub struct FeaturesArgs {
    /// The git repository.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Revision range whose commits are printed (`v1.0..HEAD`; default every
    /// commit reachable from HEAD). Earlier history still counts.
    #[arg(long)]
    pub rev: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct ModelArgs {
    /// Model file (default: next to the SQLite database, `<db>.risk.json`).
    #[arg(long, env = "BEARING_RISK_MODEL")]
    pub model: Option<PathBuf>,
    /// Compute as of this time (RFC 3339 or YYYY-MM-DD, UTC; default now).
    #[arg(long, value_parser = super::report::parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: ModelArgs,
    /// Held-out ROC AUC below which the model is advisory: `risk score` says
    /// so and the `change_risk` guardrail warns instead of denying.
    #[arg(long, default_value_t = risk::DEFAULT_MIN_AUC)]
    pub min_auc: f64,
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub common: ModelArgs,
    /// Share of the newest deployments held out for testing.
    #[arg(long, default_value_t = 0.3)]
    pub test_share: f64,
}

#[derive(clap::Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub common: ModelArgs,
    #[arg(long)]
    pub service: String,
    /// Lines added plus deleted (unknown when not given: it then does not
    /// move the score).
    #[arg(long)]
    pub change_size: Option<f64>,
    /// Files touched (unknown when not given).
    #[arg(long)]
    pub files: Option<f64>,
    /// Changes (pull requests) in the deployment (unknown when not given).
    #[arg(long)]
    pub changes: Option<f64>,
    /// The commit to deploy: failed pipeline runs on it count.
    #[arg(long)]
    pub commit: Option<String>,
    /// Author (repeatable).
    #[arg(long = "author")]
    pub authors: Vec<String>,
    /// Label (repeatable), e.g. `hotfix`.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// `direct`, `canary` or `blue-green`.
    #[arg(long)]
    pub strategy: Option<String>,
}

fn model_path(args: &ModelArgs, g: &Global) -> PathBuf {
    args.model
        .clone()
        .unwrap_or_else(|| risk::default_model_path(&g.database))
}

/// Reads the store's events and builds the labelled samples and history.
pub async fn samples_from_store(
    store: &DynStore,
    intent: &Intent,
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<risk::Sample>, risk::History)> {
    let events = store
        .events(&EventQuery::default())
        .await
        .context("cannot read events")?;
    // failure labels need only the events (not findings or decisions)
    let ds = bearing_metrics::Dataset::new(intent, events.clone(), Vec::new(), Vec::new());
    Ok(risk::samples(intent, &events, &ds, now))
}

/// Loads intent and events and builds the labelled samples and history.
fn load(g: &Global, now: DateTime<Utc>) -> anyhow::Result<(Vec<risk::Sample>, risk::History)> {
    let intent = load_intent(g)?;
    let rt = super::common::runtime()?;
    rt.block_on(async {
        let store = super::common::open_store(g).await?;
        samples_from_store(&store, &intent, now).await
    })
}

/// The reasons of a score in one line, for guardrail messages:
/// `lines_changed 2000 (+1.78 log-odds), …`.
pub fn reasons(s: &RiskScore) -> String {
    let mut parts: Vec<String> = s
        .top_factors
        .iter()
        .map(|f| {
            format!(
                "{} {} ({:+.2} log-odds)",
                f.feature,
                f.value.map_or_else(|| "missing".to_string(), value),
                f.contribution
            )
        })
        .collect();
    if !s.missing.is_empty() {
        parts.push(format!("unknown: {}", s.missing.join(", ")));
    }
    parts.join("; ")
}

/// A feature value as people read it: integers without decimals.
fn value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Train(a) => train(a, g),
        Command::Evaluate(a) => evaluate(a, g),
        Command::Score(a) => score(a, g),
        Command::Features(a) => features(a),
    }
}

fn features(a: FeaturesArgs) -> anyhow::Result<ExitCode> {
    let rows = bearing_adapt::gitmetrics::repo_metrics(&a.repo, a.rev.as_deref())?;
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Output::Text => {
            let mut out = String::from(
                "sha,time,author,ns,nd,nf,entropy,la,ld,lt,fix,ndev,age,nuc,exp,rexp,sexp\n",
            );
            for m in &rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{:.6},{},{},{},{},{},{},{},{},{:.6},{}\n",
                    m.sha,
                    m.time,
                    m.author.replace(',', " "),
                    m.ns,
                    m.nd,
                    m.nf,
                    m.entropy,
                    m.la,
                    m.ld,
                    m.lt,
                    m.fix,
                    m.ndev,
                    m.age.map_or_else(String::new, |v| format!("{v:.6}")),
                    m.nuc,
                    m.exp,
                    m.rexp,
                    m.sexp
                ));
            }
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn too_few(e: RiskError) -> anyhow::Result<ExitCode> {
    match e {
        e @ RiskError::TooFewSamples { .. } => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(super::EXIT_INVALID))
        }
        e => Err(e.into()),
    }
}

fn train(a: TrainArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let now = a.common.at.unwrap_or_else(Utc::now);
    let (samples, _) = load(g, now)?;
    let model = match risk::train(&samples, a.min_auc, now) {
        Ok(m) => m,
        Err(e) => return too_few(e),
    };
    let path = model_path(&a.common, g);
    let text = serde_json::to_string_pretty(&model)?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write the model to `{}`", path.display()))?;
    match a.common.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&model)?),
        Output::Text => {
            println!(
                "trained on {} deployments ({} failed, {:.1}%); model written to {}",
                model.n,
                model.positives,
                100.0 * model.positives as f64 / model.n as f64,
                path.display()
            );
            print_weights(&model);
            if let Some(ev) = &model.evaluation {
                print_evaluation(ev);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate(a: EvaluateArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let now = a.common.at.unwrap_or_else(Utc::now);
    let (samples, _) = load(g, now)?;
    let ev = match risk::evaluate(&samples, risk::DEFAULT_L2, a.test_share, now) {
        Ok(e) => e,
        Err(e) => return too_few(e),
    };
    match a.common.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&ev)?),
        Output::Text => print_evaluation(&ev),
    }
    Ok(ExitCode::SUCCESS)
}

fn score(a: ScoreArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let now = a.common.at.unwrap_or_else(Utc::now);
    let path = model_path(&a.common, g);
    let model: RiskModel = risk::load_model(&path)?;
    let (_, history) = load(g, now)?;
    for (flag, v) in [
        ("--change-size", a.change_size),
        ("--files", a.files),
        ("--changes", a.changes),
    ] {
        if let Some(v) = v.filter(|v| !v.is_finite() || *v < 0.0) {
            anyhow::bail!("`{flag} {v}`: expected a non-negative number");
        }
    }
    let change = ChangeInput {
        service: a.service,
        lines_changed: a.change_size,
        files_changed: a.files,
        changes: a.changes,
        authors: a.authors,
        labels: a.labels,
        strategy: a.strategy,
        commit: a.commit,
    };
    let s = risk::score_change(&model, &history, &change, now);
    match a.common.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        Output::Text => {
            print!("{}", explain_score(&s));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text form of a score: the calibrated probability, its reasons, what
/// was missing and whether it may deny.
pub fn explain_score(s: &RiskScore) -> String {
    let mut out = format!(
        "risk {:.3} ({}) for a change to {}: calibrated probability that the deployment needs remediation\n",
        s.score, s.level, s.service
    );
    for f in &s.top_factors {
        let v = f.value.map_or_else(|| "missing".to_string(), value);
        out.push_str(&format!(
            "  {:<30} {v:>10}  {:+.3} log-odds\n",
            f.feature, f.contribution
        ));
    }
    if !s.missing.is_empty() {
        out.push_str(&format!(
            "  not known (no effect on the score): {}\n",
            s.missing.join(", ")
        ));
    }
    match s.model_auc {
        Some(auc) => out.push_str(&format!(
            "model trained {} (held-out ROC AUC {auc:.3})\n",
            s.model_trained_at
        )),
        None => out.push_str(&format!(
            "model trained {} (no held-out ROC AUC)\n",
            s.model_trained_at
        )),
    }
    if let Some(why) = &s.advisory {
        out.push_str(&format!("advisory: {why}\n"));
    }
    out
}

fn print_weights(m: &RiskModel) {
    let Learner::Logistic(l) = &m.model.learner else {
        return;
    };
    println!(
        "coefficients (log1p-transformed, standardised features, class-balanced, L2 = {}); Platt a = {:.3}, b = {:.3}:",
        l.l2, m.model.platt.a, m.model.platt.b
    );
    let mut w: Vec<(&String, f64)> = m
        .model
        .features
        .iter()
        .zip(l.weights.iter().copied())
        .collect();
    w.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    for (name, v) in w {
        println!("  {name:<34} {v:+.3}");
    }
    if let Some(why) = m.advisory() {
        println!("advisory: {why}");
    }
}

fn print_evaluation(ev: &Evaluation) {
    println!(
        "held-out evaluation: train {} deployments ({} failed), test {} from {} ({} failed)",
        ev.n_train,
        ev.positives_train,
        ev.n_test,
        ev.split_at.format("%Y-%m-%d"),
        ev.positives_test
    );
    match (ev.auc, ev.auc_se) {
        (Some(a), Some(se)) => println!(
            "  ROC AUC {a:.3} (± {:.3} at 95%, Hanley-McNeil)",
            1.96 * se
        ),
        _ => println!("  ROC AUC: n/a (the test set lacks failures or successes)"),
    }
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
    println!(
        "  PR AUC {}, F1 {:.3} (class-balanced at 0.5), recall at 20% of changed lines {}",
        opt(ev.pr_auc),
        ev.f1,
        opt(ev.recall_at_20_effort)
    );
    println!(
        "  Brier {:.4} (base-rate forecast {:.4}), log loss {:.4}",
        ev.brier, ev.brier_base_rate, ev.log_loss
    );
    println!("  reliability: predicted range, n, mean predicted, observed failure rate");
    for b in &ev.calibration {
        println!(
            "    {:.1}-{:.1}  {:>5}  {:.3}  {:.3}",
            b.lower, b.upper, b.n, b.mean_predicted, b.observed_rate
        );
    }
    for w in &ev.warnings {
        println!("  warning: {w}");
    }
}
