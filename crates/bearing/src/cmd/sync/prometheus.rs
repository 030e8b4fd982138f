//! `bearing sync prometheus`: one sync of every SLO whose intent names a
//! Prometheus source (the same sync `bearing serve` runs on a schedule).

use std::process::ExitCode;
use std::time::Duration;

use bearing_prometheus::{Range, SyncOutcome, sync_slo, targets};
use chrono::Utc;

use crate::cmd::common::{Global, Output, open_store, runtime};
use crate::cmd::report::load_intent;

/// Read SLIs from Prometheus into the event store.
///
/// For each SLO with `source.prometheus`, asks `/api/v1/query_range` (step =
/// the SLO's resolution) for the intervals not read yet, and stores each
/// interval's good and total counts as metric points. Reading a range again
/// stores nothing new. Exit codes: 0 every SLO synced, 2 one failed (the
/// others are still synced).
#[derive(clap::Args)]
pub struct Args {
    /// Read the intervals ending after T, whatever was read before: RFC 3339,
    /// a date (`2026-03-01`), or an age (`7d`, `12h`). Default: from where
    /// the last sync stopped, or one SLO window back the first time.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Read no interval ending after T (same forms as `--since`). Default:
    /// up to the last interval that ended at least the source's `delay` ago.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Only these SLOs, as `service/slo` or `service` (repeatable).
    #[arg(long, value_name = "SERVICE[/SLO]")]
    pub slo: Vec<String>,
    /// Longest wait for one Prometheus request, in seconds.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let time = |t: &Option<String>| {
        t.as_deref()
            .map(|t| crate::cmd::events::parse_time(t, now))
            .transpose()
    };
    let range = Range {
        since: time(&args.since)?,
        until: time(&args.until)?,
    };
    let intent = load_intent(g)?;
    let all = targets(&intent);
    let chosen: Vec<_> = all
        .iter()
        .filter(|t| {
            args.slo.is_empty() || args.slo.iter().any(|s| *s == t.service || *s == t.label())
        })
        .collect();
    if let Some(s) = args
        .slo
        .iter()
        .find(|s| !all.iter().any(|t| **s == t.service || **s == t.label()))
    {
        let known: Vec<String> = all.iter().map(|t| t.label()).collect();
        anyhow::bail!(
            "`{s}` is not an SLO with a Prometheus source; expected one of: {}",
            if known.is_empty() {
                "(none in the intent)".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    if chosen.is_empty() {
        eprintln!(
            "no SLO in `{}` names a Prometheus source (`source: {{prometheus: …}}`); nothing to sync",
            g.intent.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    let results: Vec<(String, Result<SyncOutcome, String>)> = runtime()?.block_on(async {
        let store = open_store(g).await?;
        let mut out = Vec::new();
        for t in chosen {
            let r = sync_slo(&store, t, range, now, timeout)
                .await
                .map_err(|e| e.to_string());
            out.push((t.label(), r));
        }
        anyhow::Ok(out)
    })?;
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match args.output {
        Output::Json => {
            let v: Vec<serde_json::Value> = results
                .iter()
                .map(|(label, r)| match r {
                    Ok(o) => serde_json::to_value(o).unwrap_or_default(),
                    Err(e) => serde_json::json!({"slo": label, "error": e}),
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            for (label, r) in &results {
                match r {
                    Ok(o) => match (o.from, o.to) {
                        (Some(from), Some(to)) => println!(
                            "{label}: read ({}, {}]: {} intervals, {} points stored, {} already stored",
                            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            o.intervals,
                            o.stored,
                            o.duplicates
                        ),
                        _ => println!("{label}: up to date"),
                    },
                    Err(e) => eprintln!("{label}: error: {e}"),
                }
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} SLOs could not be synced", results.len());
    }
    Ok(ExitCode::SUCCESS)
}
