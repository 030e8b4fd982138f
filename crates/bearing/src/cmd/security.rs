//! `bearing security`: the threat-aware work list, and fetching the threat
//! feeds (KEV catalog, EPSS scores) by URL.

use std::process::ExitCode;

use bearing_intent::Scope;
use bearing_metrics::threat::{Priorities, Priority, key_result_effects, priorities};
use chrono::{DateTime, Utc};

use super::common::{Global, Output, open_store, runtime};
use super::report::{load, parse_time};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Open findings by threat-aware priority (severity × exploitation
    /// likelihood × service tier × exposure, docs/metrics.md), with the
    /// evidence of each (KEV entry, EPSS score, where it runs, SLA), and what
    /// fixing the top N would do to the security figures and key results.
    Priorities(PrioritiesArgs),
    /// Fetch KEV catalogs or EPSS CSVs by URL and keep them, as `bearing
    /// ingest` does with files (`bearing serve --threat-feed` does it on a
    /// schedule). Exit 2 when a feed cannot be fetched.
    Fetch(FetchArgs),
}

#[derive(clap::Args)]
pub struct PrioritiesArgs {
    /// Only this service's findings.
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Only this team's services' findings.
    #[arg(long, value_name = "T")]
    pub team: Option<String>,
    /// How many findings "fixing the top N" counts.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// How many findings to list (text output; JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Evaluate at this time instead of now (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// URLs of KEV catalogs (JSON) or EPSS files (CSV, plain or gzipped).
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Priorities(a) => run_priorities(a, g),
        Command::Fetch(a) => run_fetch(a, g),
    }
}

fn run_priorities(a: PrioritiesArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let (intent, ds) = load(g)?;
    if let Some(s) = &a.service
        && intent.service(s).is_none()
    {
        anyhow::bail!("unknown service `{s}`: expected a service id from the intent");
    }
    if let Some(t) = &a.team
        && intent.team(t).is_none()
    {
        anyhow::bail!("unknown team `{t}`: expected a team id from the intent");
    }
    let scope = Scope {
        service: a.service.clone(),
        team: a.team.clone(),
        ..Scope::default()
    };
    let now = a.at.unwrap_or_else(Utc::now);
    let p = priorities(&ds, &scope, now, a.top);
    let krs = key_result_effects(&intent, &scope, &p);
    match a.output {
        Output::Json => {
            let mut v = serde_json::to_value(&p)?;
            v["key_results"] = serde_json::to_value(&krs)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => print_text(&p, &krs, a.limit),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(p: &Priorities, krs: &[bearing_metrics::threat::KrEffect], limit: usize) {
    if p.feeds.is_empty() {
        println!(
            "threat feeds: none kept (`bearing ingest kev.json epss.csv`); scanner EPSS/KEV fields only"
        );
    } else {
        println!("threat feeds: {}", p.feeds.join(", "));
    }
    if p.findings.is_empty() {
        println!("no open findings");
        return;
    }
    for f in p.findings.iter().take(limit) {
        print_one(f);
    }
    if p.findings.len() > limit {
        println!(
            "… and {} more (`--limit`, or `--output json` for all)",
            p.findings.len() - limit
        );
    }
    let (a, b) = (&p.now, &p.after_top_n);
    println!(
        "\nfixing the top {}: findings past SLA {} → {}, KEV open {} → {}, KEV past due {} → {}, EPSS-weighted exposure {:.3} → {:.3}, open findings {} → {}",
        p.top_n,
        a.findings_past_sla,
        b.findings_past_sla,
        a.kev_open,
        b.kev_open,
        a.kev_past_due,
        b.kev_past_due,
        a.epss_weighted_exposure,
        b.epss_weighted_exposure,
        a.open_findings,
        b.open_findings
    );
    for k in krs {
        let status = |met: bool| if met { "met" } else { "not met" };
        println!(
            "  {} {} {}: {} ({}) → {} ({})",
            k.objective,
            k.metric,
            k.target,
            k.now,
            status(k.met_now),
            k.after,
            status(k.met_after)
        );
    }
}

fn print_one(f: &Priority) {
    let (kev, epss) = (f.threat.kev_text(), f.threat.epss_text());
    println!(
        "{:>3}. {:>9.4}  {}  {} in {} ({}){}",
        f.rank,
        f.priority,
        f.severity.name().to_uppercase(),
        f.cve.as_deref().unwrap_or(&f.key),
        f.key.split('|').nth(1).unwrap_or("?"),
        f.service.as_deref().unwrap_or("no service"),
        if f.past_sla { ", PAST SLA" } else { "" }
    );
    println!(
        "       {kev}; {epss}; {} runs in {}",
        f.target,
        if f.environments.is_empty() {
            "the service's environments".to_string()
        } else {
            f.environments.join(", ")
        }
    );
    println!(
        "       {}; SLA {}",
        f.explain,
        match (&f.sla, f.sla_seconds) {
            (Some(w), Some(s)) => format!("{} ({w})", bearing_metrics::fmt_secs(s as f64)),
            _ => "none".into(),
        }
    );
}

fn run_fetch(a: FetchArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let results = rt.block_on(async {
        let store = open_store(g).await?;
        anyhow::Ok(bearing_server::threat::fetch_all(&store, &a.urls).await)
    })?;
    let mut failed = 0;
    for (url, r) in a.urls.iter().zip(results) {
        match r {
            Ok(applied) => {
                let u = &applied.update;
                println!("fetched {url} ({}): {}", u.feed, u.summary());
                for action in &applied.actions {
                    println!("  action: {}", action.summary);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
