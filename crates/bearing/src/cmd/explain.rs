//! `bearing explain METRIC`: a figure and every record behind it, with the
//! role each played (deployment counted, commit lead time, incident linked
//! by explicit link or by window with a confidence, …).

use std::fmt::Write as _;
use std::process::ExitCode;

use bearing_intent::{Duration, catalog};
use bearing_metrics::{Explanation, format_value};
use chrono::{DateTime, Utc};

use super::common::{Global, Output};
use super::report::{load, parse_time};

#[derive(clap::Args)]
pub struct Args {
    /// A metric from `bearing metrics`, e.g. `dora.lead_time.p50`.
    pub metric: String,
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    #[arg(long, value_name = "T")]
    pub team: Option<String>,
    #[arg(long = "env", value_name = "E")]
    pub env: Option<String>,
    /// Window the metric is computed over, e.g. `30d`, `1w`, `6h`.
    #[arg(long, value_name = "W", default_value = "30d", value_parser = super::report::parse_window)]
    pub window: Duration,
    /// Key-result filter, e.g. `--filter severity=critical,high` (repeatable).
    #[arg(long = "filter", value_name = "KEY=VALUES")]
    pub filter: Vec<String>,
    /// Compute as of this time (RFC 3339 or YYYY-MM-DD, UTC) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    if catalog::lookup(&args.metric).is_none() {
        let near = catalog::names()
            .min_by_key(|n| edit_distance(n, &args.metric))
            .unwrap_or("dora.lead_time");
        anyhow::bail!(
            "unknown metric `{}`: expected a name from `bearing metrics` (did you mean `{near}`?)",
            args.metric
        );
    }
    let filter =
        bearing_metrics::parse_filters(&args.metric, args.filter.iter().map(String::as_str))
            .map_err(anyhow::Error::msg)?;
    let (intent, ds) = load(g)?;
    let scope = super::common::scope(&intent, args.team, args.service, args.env)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let x = bearing_metrics::explain_with(&ds, &args.metric, &scope, &filter, args.window, now);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&x)?),
        Output::Text => print!("{}", text(&x, args.window)),
    }
    Ok(ExitCode::SUCCESS)
}

fn text(x: &Explanation, window: Duration) -> String {
    let mut out = String::new();
    let scope = [
        x.scope.team.as_ref().map(|t| format!("team {t}")),
        x.scope.service.as_ref().map(|s| format!("service {s}")),
        x.scope.environment.as_ref().map(|e| format!("env {e}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let _ = writeln!(
        out,
        "{} for {} over {window} ({} → {})",
        x.metric,
        if scope.is_empty() {
            "the organisation".into()
        } else {
            scope
        },
        x.from.format("%Y-%m-%d %H:%M"),
        x.to.format("%Y-%m-%d %H:%M UTC"),
    );
    let v = &x.value;
    let shown = v.value.map_or_else(
        || "no data".to_string(),
        |n| format_value(v.unit, n, None, v.currency.as_deref()),
    );
    let _ = writeln!(
        out,
        "value: {shown}   samples: {}{}{}",
        v.samples,
        if v.too_few_samples {
            " (too few to rely on)"
        } else {
            ""
        },
        v.level
            .map(|l| format!("   DORA level: {}", l.name()))
            .unwrap_or_default()
    );
    if let Some(n) = &v.note {
        let _ = writeln!(out, "note: {n}");
    }
    if x.records.is_empty() {
        let _ = writeln!(out, "\nno records behind this figure");
        return out;
    }
    let _ = writeln!(out, "\n{} record(s):", x.records.len());
    let rows: Vec<[String; 5]> = x
        .records
        .iter()
        .map(|r| {
            [
                r.time.format("%Y-%m-%d %H:%M").to_string(),
                r.kind.clone(),
                r.service.clone().unwrap_or_default(),
                r.event_id.clone(),
                r.role.clone(),
            ]
        })
        .collect();
    let header = ["TIME (UTC)", "KIND", "SERVICE", "RECORD", "ROLE"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut l = String::from("  ");
        for (i, c) in r.iter().enumerate() {
            l.push_str(c);
            if i + 1 < r.len() {
                l.push_str(&" ".repeat(widths[i].saturating_sub(c.chars().count()) + 2));
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    }
    out
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
