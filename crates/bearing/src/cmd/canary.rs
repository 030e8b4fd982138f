//! `bearing canary judge`: compares canary samples with baseline samples per
//! metric and says promote, hold or rollback (see `docs/adapt.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::canary::{self, CanaryConfig, Judgement, MetricStatus, Verdict};

use super::common::{Global, Output};

/// Exit code of `canary judge` when the verdict is hold.
pub const EXIT_HOLD: u8 = 4;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Judge a canary against its baseline.
    ///
    /// Samples are JSON (`{"latency_ms": [..], "errors": [..]}` or a list of
    /// `{"metric", "value"}`) or CSV (`metric,value` rows, or one column per
    /// metric), or read from Prometheus: `--prometheus URL --baseline-query Q
    /// --canary-query Q` takes every value of every series each query
    /// returns over the last `--range`, at `--step`, as one metric's
    /// samples. The config (JSON) sets per-metric weight, bad direction,
    /// critical flag and thresholds. Exit codes: 0 promote, 1 rollback,
    /// 4 hold, 2 unreadable input or Prometheus unreachable.
    Judge(JudgeArgs),
}

#[derive(clap::Args)]
pub struct JudgeArgs {
    /// Baseline samples (JSON or CSV).
    #[arg(
        long,
        required_unless_present = "prometheus",
        conflicts_with = "prometheus"
    )]
    pub baseline: Option<PathBuf>,
    /// Canary samples (JSON or CSV).
    #[arg(
        long,
        required_unless_present = "prometheus",
        conflicts_with = "prometheus"
    )]
    pub canary: Option<PathBuf>,
    /// Read both sample sets from the Prometheus at this base URL.
    #[arg(long, value_name = "URL", requires_all = ["baseline_query", "canary_query"])]
    pub prometheus: Option<String>,
    /// PromQL for the baseline's samples (with `--prometheus`).
    #[arg(long, value_name = "PROMQL", requires = "prometheus")]
    pub baseline_query: Option<String>,
    /// PromQL for the canary's samples (with `--prometheus`).
    #[arg(long, value_name = "PROMQL", requires = "prometheus")]
    pub canary_query: Option<String>,
    /// How far back from now the samples reach (with `--prometheus`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub range: bearing_intent::Duration,
    /// Spacing of the samples (with `--prometheus`).
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub step: bearing_intent::Duration,
    /// The metric name the Prometheus samples are judged under (the key of
    /// its settings in `--config`).
    #[arg(long, value_name = "NAME", default_value = "prometheus")]
    pub metric: String,
    /// Which change of the `--metric` is bad (with `--prometheus`); it
    /// overrides `--config`.
    #[arg(long, value_enum, value_name = "DIRECTION", requires = "prometheus")]
    pub bad: Option<BadArg>,
    /// Judge config (JSON); defaults apply without one.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `--bad`: which change of a metric is bad.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BadArg {
    /// Higher canary values are bad (errors, latency).
    Increase,
    /// Lower canary values are bad (throughput, success rate).
    Decrease,
    /// Any significant change is bad.
    Either,
}

impl From<BadArg> for canary::Bad {
    fn from(b: BadArg) -> Self {
        match b {
            BadArg::Increase => canary::Bad::Increase,
            BadArg::Decrease => canary::Bad::Decrease,
            BadArg::Either => canary::Bad::Either,
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

pub fn run(cmd: Command, _g: &Global) -> anyhow::Result<ExitCode> {
    let Command::Judge(args) = cmd;
    let name = |p: &Path| p.display().to_string();
    let (baseline, canary_samples) = match (&args.prometheus, &args.baseline, &args.canary) {
        (Some(url), _, _) => from_prometheus(url, &args)?,
        (None, Some(b), Some(c)) => (
            canary::parse_samples(&name(b), &read(b)?)?,
            canary::parse_samples(&name(c), &read(c)?)?,
        ),
        _ => anyhow::bail!("give `--baseline` and `--canary`, or `--prometheus` with both queries"),
    };
    let mut config = match &args.config {
        Some(p) => CanaryConfig::from_json(&name(p), &read(p)?)?,
        None => CanaryConfig::default(),
    };
    if let Some(bad) = args.bad {
        let default = config.default_metric.clone();
        config
            .metrics
            .entry(args.metric.clone())
            .or_insert(default)
            .bad = bad.into();
    }
    let j = canary::judge(&baseline, &canary_samples, &config);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&j)?),
        Output::Text => print_text(&j),
    }
    Ok(match j.verdict {
        Verdict::Promote => ExitCode::SUCCESS,
        Verdict::Rollback => ExitCode::from(super::EXIT_INVALID),
        Verdict::Hold => ExitCode::from(EXIT_HOLD),
    })
}

/// Both sample sets from Prometheus, under `--metric`.
fn from_prometheus(
    url: &str,
    args: &JudgeArgs,
) -> anyhow::Result<(canary::Samples, canary::Samples)> {
    if args.step.as_secs() == 0 || args.range.as_secs() == 0 {
        anyhow::bail!("`--range` and `--step` must not be zero");
    }
    let client = bearing_prometheus::Client::new(url, bearing_prometheus::client::TIMEOUT)?;
    let end = chrono::Utc::now().timestamp() as f64;
    let (range, step) = (args.range.as_secs() as f64, args.step.as_secs() as f64);
    let fetch = |q: &Option<String>| -> anyhow::Result<canary::Samples> {
        let q = q.as_deref().unwrap_or_default();
        let values = client.samples(q, end, range, step)?;
        Ok([(args.metric.clone(), values)].into())
    };
    Ok((fetch(&args.baseline_query)?, fetch(&args.canary_query)?))
}

fn print_text(j: &Judgement) {
    let score = j.score.map_or("n/a".to_string(), |s| format!("{s:.1}"));
    println!(
        "verdict: {} (score {score}; promote at {}, rollback below {})",
        j.verdict.name(),
        j.pass_score,
        j.marginal_score
    );
    for r in &j.reasons {
        println!("  - {r}");
    }
    println!(
        "{:<24} {:<7} {:>6} {:>6} {:>12} {:>12} {:>9} {:>7}",
        "metric", "status", "n_base", "n_can", "base_median", "can_median", "p", "delta"
    );
    for m in &j.metrics {
        let status = match m.status {
            MetricStatus::Pass => "pass",
            MetricStatus::Fail => "FAIL",
            MetricStatus::NoData => "no_data",
        };
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
        let crit = if m.critical { "*" } else { "" };
        println!(
            "{:<24} {:<7} {:>6} {:>6} {:>12} {:>12} {:>9} {:>7}",
            format!("{}{crit}", m.metric),
            status,
            m.baseline_n,
            m.canary_n,
            f(m.baseline_median),
            f(m.canary_median),
            m.p_value.map_or("-".to_string(), canary::fmt_p),
            m.cliffs_delta
                .map_or("-".to_string(), |d| format!("{d:+.2}")),
        );
    }
    if j.metrics.iter().any(|m| m.critical) {
        println!("(* critical metric)");
    }
}
