//! `bearing pipelines insights`: where the delivery pipelines lose time and
//! money — per pipeline wall time, minutes, cost and waste, per job the
//! figures behind them, and recommendations with the records behind each,
//! the saving, and the workflow line to change when `--repo` is given.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::pipeline;
use bearing_events::Action;
use bearing_intent::Duration;
use bearing_metrics::{Insight, PipelineReport, fmt_secs, pipeline_report};
use chrono::{DateTime, Utc};

use super::common::{Global, Output};
use super::report::{load, parse_time};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Figures per pipeline and job, and what to change, largest saving first.
    Insights(Args),
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    #[arg(long, value_name = "T")]
    pub team: Option<String>,
    /// A repository (or workflows folder, or one workflow file) whose GitHub
    /// workflows give `needs`, caches and the file:line of each recommendation.
    /// A workflow file that is not YAML is left out with a warning naming
    /// its file:line.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Window the figures are computed over, e.g. `30d`, `1w`.
    #[arg(long, value_name = "W", default_value = "30d", value_parser = super::report::parse_window)]
    pub window: Duration,
    /// Compute as of this time (RFC 3339 or YYYY-MM-DD, UTC) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
    /// Record that you made this recommendation's change (its id, or its
    /// number in the list): logs an action with the figures over the window
    /// before and the expected saving; `bearing reconcile` measures the
    /// realised saving a window later, once that window holds 5 runs of the job.
    #[arg(long, value_name = "ID|N")]
    pub accept: Vec<String>,
}

pub fn run(c: Command, g: &Global) -> anyhow::Result<ExitCode> {
    let Command::Insights(args) = c;
    let layouts = match &args.repo {
        Some(dir) => {
            let (layouts, warnings) = bearing_workflow::layout::layouts(dir)
                .with_context(|| format!("cannot read the workflows of `{}`", dir.display()))?;
            for w in warnings {
                eprintln!("warning: {w}; this workflow is left out of the insights");
            }
            layouts
        }
        None => Vec::new(),
    };
    let (intent, ds) = load(g)?;
    let scope = super::common::scope(&intent, args.team, args.service, None)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let r = pipeline_report(&ds, &scope, args.window, now, &layouts);
    let chosen = args
        .accept
        .iter()
        .map(|key| pick(&r, key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rt = super::common::runtime()?;
    let (accepted, logged) = rt.block_on(async {
        let store = super::common::open_store(g).await?;
        let mut logged = store.actions().await.context("cannot read actions")?;
        let mut accepted = Vec::new();
        for i in chosen {
            // One unmeasured action per insight: accepting twice logs once.
            if logged.iter().any(|a| {
                a.outcome.is_none()
                    && a.evidence.pointer("/target/id").and_then(|v| v.as_str()) == Some(&i.id)
            }) {
                continue;
            }
            let a = pipeline::action(&ds, i, args.window, now);
            store
                .put_action(&a)
                .await
                .with_context(|| format!("cannot store action `{}`", a.id))?;
            logged.push(a.clone());
            accepted.push(a);
        }
        logged.retain(pipeline::is_pipeline);
        anyhow::Ok((accepted, logged))
    })?;
    match args.output {
        Output::Json => {
            let mut v = serde_json::to_value(&r)?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("accepted".into(), serde_json::to_value(&accepted)?);
                obj.insert("changes".into(), serde_json::to_value(&logged)?);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            print!("{}", text(&r));
            print!("{}", changes_text(&accepted, &logged));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The insight `key` names: its id, or its 1-based number in the list.
fn pick<'a>(r: &'a PipelineReport, key: &str) -> anyhow::Result<&'a Insight> {
    let by_number = key
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| r.insights.get(n));
    by_number
        .or_else(|| r.insights.iter().find(|i| i.id == key))
        .with_context(|| {
            format!(
                "--accept `{key}`: no recommendation with that id or number in the window ({} recommendations)",
                r.insights.len()
            )
        })
}

/// Accepted changes: expected against realised saving per week.
fn changes_text(accepted: &[Action], logged: &[Action]) -> String {
    let mut out = String::new();
    for a in accepted {
        let _ = writeln!(out, "\naccepted {}: {}", a.id, a.summary);
    }
    if logged.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\naccepted changes, expected vs realised per week:");
    for a in logged {
        let e = &a.evidence["expected"];
        let m = a.outcome.as_ref().map(|o| &o["pipeline"]);
        let realised = match m {
            Some(m) => format!(
                "realised {:.1} CI min ({:.2} USD), {:.1} min of waiting: {}{}",
                m["realised_minutes_per_week"].as_f64().unwrap_or(0.0),
                m["realised_money_per_week"].as_f64().unwrap_or(0.0),
                m["realised_lead_time_minutes_per_week"]
                    .as_f64()
                    .unwrap_or(0.0),
                m["verdict"].as_str().unwrap_or("?"),
                if m["worse"].as_bool() == Some(true) {
                    ", WORSE"
                } else {
                    ""
                }
            ),
            None => "not measured yet".into(),
        };
        let _ = writeln!(
            out,
            "  {} {}: expected {:.1} CI min ({:.2} USD), {:.1} min of waiting; {realised}",
            a.created_at.format("%Y-%m-%d"),
            a.evidence
                .pointer("/target/id")
                .and_then(|v| v.as_str())
                .unwrap_or(&a.id),
            e["minutes_per_week"].as_f64().unwrap_or(0.0),
            e["money_per_week"].as_f64().unwrap_or(0.0),
            e["lead_time_minutes_per_week"].as_f64().unwrap_or(0.0),
        );
    }
    out
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), fmt_secs)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{:.0}%", 100.0 * x))
}

/// The report as people read it.
pub fn text(r: &PipelineReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pipelines from {} to {}",
        r.from.format("%Y-%m-%d %H:%M"),
        r.to.format("%Y-%m-%d %H:%M UTC")
    );
    if r.pipelines.is_empty() {
        let _ = writeln!(
            out,
            "\nno pipeline jobs in the window: ingest GitHub `workflow_job`, GitLab job or pipeline hooks, or CDEvents `taskrun` events"
        );
        return out;
    }
    for p in &r.pipelines {
        let _ = writeln!(
            out,
            "\n{} / {}: {} runs, wall time p50 {}, {:.0} CI minutes, {:.2} USD, {:.0} minutes wasted",
            p.service,
            p.pipeline,
            p.runs,
            opt_secs(p.wall_p50),
            p.minutes,
            p.cost,
            p.wasted_minutes
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>5} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9} {:>8}",
            "job", "runs", "p50", "p90", "queue", "success", "flaky", "critical", "minutes"
        );
        for j in &p.jobs {
            let _ = writeln!(
                out,
                "  {:<28} {:>5} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9} {:>8.0}",
                j.job,
                j.runs,
                opt_secs(j.duration_p50),
                opt_secs(j.duration_p90),
                opt_secs(j.queue_p50),
                pct(j.success_rate),
                pct(j.flaky_rate),
                pct(Some(j.critical_share)),
                j.minutes
            );
        }
    }
    if r.insights.is_empty() {
        let _ = writeln!(out, "\nno recommendations: nothing stands out");
        return out;
    }
    let _ = writeln!(out, "\nrecommendations, largest saving first:");
    for (n, i) in r.insights.iter().enumerate() {
        let objective = match i.objective {
            bearing_metrics::Objective::LeadTime => "lead time",
            bearing_metrics::Objective::Cost => "cost",
        };
        let _ = writeln!(
            out,
            "{:>2}. [{objective}] {} / {}: {}",
            n + 1,
            i.service,
            i.pipeline,
            i.message
        );
        let _ = writeln!(out, "    id: {}", i.id);
        let mut saving = Vec::new();
        if i.minutes_per_week > 0.0 {
            saving.push(format!(
                "{:.0} CI min/week ({:.2} USD/week)",
                i.minutes_per_week, i.money_per_week
            ));
        }
        if i.run_seconds > 0.0 {
            saving.push(format!(
                "up to {} per run ({:.0} min of waiting a week)",
                fmt_secs(i.run_seconds),
                i.lead_time_minutes_per_week
            ));
        }
        if !saving.is_empty() {
            let _ = writeln!(out, "    saving: {}", saving.join(", "));
        }
        if let Some(l) = &i.location {
            let _ = writeln!(out, "    change: {l}");
        }
        let shown: Vec<&str> = i.records.iter().take(3).map(String::as_str).collect();
        let _ = writeln!(
            out,
            "    records: {}{}",
            shown.join(", "),
            if i.record_count > shown.len() {
                format!(" (+{} more)", i.record_count - shown.len())
            } else {
                String::new()
            }
        );
    }
    out
}
