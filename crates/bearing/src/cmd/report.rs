//! `bearing report`: the scorecard of objectives and key results, computed
//! from the intent and the events in the store.
//!
//! Also home of [`load`], which `bearing explain` shares: intent from
//! `--intent`, events, finding lifecycles and decisions from `--database`,
//! folded into a [`Dataset`] page by page (memory stays bounded by the
//! dataset, not by the number of stored events).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_events::Kind;
use bearing_intent::{Duration, Intent, Scope};
use bearing_metrics::{Dataset, FindingRecord, KeyResultCard, Scorecard, ScorecardFilter};
use bearing_store::{DecisionQuery, FindingQuery};
use chrono::{DateTime, NaiveDate, Utc};

use super::common::{Global, open_store, runtime};

/// Output formats of `bearing report`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportOutput {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(clap::Args)]
pub struct Args {
    /// Only key results about this team (org-wide ones are narrowed to it).
    #[arg(long, value_name = "T")]
    pub team: Option<String>,
    /// Only key results about this service (org- and team-wide ones are narrowed to it).
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub output: ReportOutput,
    /// Compute as of this time (RFC 3339 or YYYY-MM-DD, UTC) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
    /// One window for every key result instead of each one's own, e.g. `90d`.
    #[arg(long, value_name = "W", value_parser = parse_window)]
    pub window: Option<Duration>,
}

/// Parses `--window`: a duration of at most `36500d` and longer than zero,
/// the bounds of `?window=` on the HTTP API.
pub fn parse_window(s: &str) -> Result<Duration, String> {
    let w = s.parse::<Duration>().map_err(|e| e.to_string())?;
    if w.as_secs() == 0 {
        return Err("it must be longer than 0s".into());
    }
    Ok(w)
}

/// Parses `--at`: RFC 3339, or a date meaning its start (UTC), from
/// 1970-01-01 to 9999-12-31 like every time Bearing reads.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| {
                format!("invalid time `{s}`: expected RFC 3339 (`2026-10-28T12:00:00Z`) or a date (`2026-10-28`)")
            })?,
    };
    if bearing_events::timestamp::in_range(t) {
        Ok(t)
    } else {
        Err(bearing_events::timestamp::out_of_range(s))
    }
}

/// Loads the intent (every diagnostic printed on failure).
pub fn load_intent(g: &Global) -> anyhow::Result<Intent> {
    match bearing_intent::load(&g.intent) {
        Ok(l) => Ok(l.intent),
        Err(bearing_intent::LoadError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            anyhow::bail!(
                "the intent `{}` is invalid: run `bearing validate`",
                g.intent.display()
            )
        }
        Err(e) => Err(e).context("cannot load the intent"),
    }
}

/// Events per page read from the store.
const PAGE: u64 = 50_000;

/// Loads the intent and builds the dataset from the store.
pub fn load(g: &Global) -> anyhow::Result<(Intent, Dataset)> {
    let intent = load_intent(g)?;
    let rt = runtime()?;
    let ds = rt.block_on(async {
        let store = open_store(g).await?;
        let mut ds = Dataset::empty(&intent);
        let mut cursor = 0;
        loop {
            let (events, next) = store
                .events_after(cursor, PAGE)
                .await
                .context("cannot read events")?;
            if events.is_empty() {
                break;
            }
            // Finding lifecycles come from the store, which sees every scan;
            // their events still carry the scanners' threat fields.
            for e in &events {
                if let bearing_events::Payload::Finding(f) = &e.payload {
                    ds.note_scanner_threat(&f.rule_id, &e.attributes);
                }
            }
            ds.ingest_bulk(events.into_iter().filter(|e| e.kind() != Kind::Finding));
            cursor = next;
        }
        ds.rebuild_all();
        ds.set_threat(
            bearing_store::threat::load(store.as_ref())
                .await
                .context("cannot read the threat feeds")?,
        );
        for f in store
            .findings(&FindingQuery::default())
            .await
            .context("cannot read findings")?
        {
            ds.push_finding(FindingRecord {
                key: f.key,
                service: f.service,
                severity: f.finding.severity,
                scanner: f
                    .scanners
                    .first()
                    .cloned()
                    .unwrap_or_else(|| f.finding.scanner.clone()),
                kind: f.finding.kind,
                first_seen: f.first_seen,
                fixed_at: f.fixed_at,
                event_ids: f.event_ids,
            });
        }
        for d in store
            .decisions(&DecisionQuery::default())
            .await
            .context("cannot read decisions")?
        {
            ds.push_decision(&d);
        }
        anyhow::Ok(ds)
    })?;
    Ok((intent, ds))
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    if let Some(s) = &args.service {
        let intent = load_intent(g)?;
        if intent.service(s).is_none() {
            anyhow::bail!("unknown service `{s}`: expected a service id from the intent");
        }
    }
    let (intent, ds) = load(g)?;
    if let Some(t) = &args.team
        && intent.team(t).is_none()
        && !intent.services.iter().any(|s| &s.team == t)
    {
        anyhow::bail!("unknown team `{t}`: expected a team id from the intent");
    }
    let now = args.at.unwrap_or_else(Utc::now);
    let card = bearing_metrics::scorecard(
        &intent,
        &ds,
        now,
        ScorecardFilter {
            team: args.team,
            service: args.service,
            window: args.window,
        },
    );
    let out = match args.output {
        ReportOutput::Json => serde_json::to_string_pretty(&card)? + "\n",
        ReportOutput::Text => text(&card),
        ReportOutput::Markdown => markdown(&card),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn scope_text(s: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &s.team {
        parts.push(format!("team {t}"));
    }
    if let Some(x) = &s.service {
        parts.push(format!("service {x}"));
    }
    if let Some(e) = &s.environment {
        parts.push(format!("env {e}"));
    }
    if parts.is_empty() {
        "org".into()
    } else {
        parts.join(", ")
    }
}

fn trend_text(k: &KeyResultCard) -> String {
    match k.trend.direction.as_str() {
        "improving" => "▲ improving".into(),
        "worsening" => "▼ worsening".into(),
        "flat" => "= flat".into(),
        _ => "· new".into(),
    }
}

fn samples_text(k: &KeyResultCard) -> String {
    if k.too_few_samples {
        format!("{} (few)", k.samples)
    } else {
        k.samples.to_string()
    }
}

fn metric_text(k: &KeyResultCard) -> String {
    let mut m = k.metric.clone();
    for (key, v) in &k.filter {
        let _ = write!(m, " {key}={}", v.values().join(","));
    }
    m
}

/// The scorecard as an aligned table per objective, with status symbols.
pub fn text(card: &Scorecard) -> String {
    let mut out = String::new();
    let org = card.organisation.as_deref().unwrap_or("Scorecard");
    let s = &card.summary;
    let _ = writeln!(
        out,
        "{org} — {}   ✓ {} met   ! {} at risk   ✗ {} off track   ? {} no data",
        card.generated_at.format("%Y-%m-%d %H:%M UTC"),
        s.met,
        s.at_risk,
        s.off_track,
        s.no_data
    );
    if let Some(w) = card.filter.window {
        let _ = writeln!(out, "every key result over the last {w} (`--window`)");
    }
    for n in &card.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let header = [
        "",
        "KEY RESULT",
        "SCOPE",
        "VALUE",
        "TARGET",
        "TREND",
        "SAMPLES",
        "LEVEL",
    ];
    for o in &card.objectives {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {}{}  [{}{}]",
            o.status.symbol(),
            o.id,
            o.title
                .as_deref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default(),
            serde_json::to_value(o.layer)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            o.owner
                .as_deref()
                .map(|x| format!(", owner {x}"))
                .unwrap_or_default()
        );
        let rows: Vec<[String; 8]> = o
            .key_results
            .iter()
            .map(|k| {
                [
                    k.status.symbol().to_string(),
                    metric_text(k),
                    scope_text(&k.scope),
                    k.display.clone(),
                    k.target.clone(),
                    trend_text(k),
                    samples_text(k),
                    k.level.map(|l| l.name().to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut l = String::from("  ");
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                l.push_str(c);
                if i + 1 < cells.len() {
                    l.push_str(&" ".repeat(pad + 2));
                }
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&header.map(String::from)));
        for (r, k) in rows.iter().zip(&o.key_results) {
            let _ = writeln!(out, "{}", line(r));
            if let Some(n) = &k.note {
                let _ = writeln!(out, "      note: {n}");
            }
            if let Some(c) = &k.release_impact {
                let day = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
                let _ = writeln!(
                    out,
                    "      around {} ({}): {} over {} – {} ({} points) → {} over {} – {} ({} points) ({}{}{})",
                    c.release_name.as_deref().unwrap_or("?"),
                    c.release.as_deref().unwrap_or("?"),
                    c.before_mean.map_or("-".into(), |v| format!("{v:.4}")),
                    day(&c.before_window[0]),
                    day(&c.before_window[1]),
                    c.before_samples,
                    c.after_mean.map_or("-".into(), |v| format!("{v:.4}")),
                    day(&c.after_window[0]),
                    day(&c.after_window[1]),
                    c.after_samples,
                    c.relative_change
                        .map_or(String::new(), |r| format!("{:+.1}%", r * 100.0)),
                    c.mann_whitney.map_or(String::new(), |m| format!(
                        ", Mann-Whitney p = {:.3}",
                        m.p_value
                    )),
                    if c.significant {
                        ", stands out from the noise"
                    } else {
                        ", within the noise"
                    }
                );
            }
        }
    }
    if card.objectives.is_empty() {
        let _ = writeln!(out, "\nno key results match");
    }
    let _ = writeln!(
        out,
        "\n✓ met  ! at risk (within 10% of the target or trending to miss it)  ✗ off track  ? no data; (few) = too few samples"
    );
    out
}

/// The scorecard as Markdown (for pull requests and wikis).
pub fn markdown(card: &Scorecard) -> String {
    let mut out = String::new();
    let s = &card.summary;
    let _ = writeln!(
        out,
        "# {} scorecard\n\n{} · ✅ {} met · ⚠️ {} at risk · ❌ {} off track · ❔ {} no data\n",
        card.organisation.as_deref().unwrap_or("Bearing"),
        card.generated_at.format("%Y-%m-%d %H:%M UTC"),
        s.met,
        s.at_risk,
        s.off_track,
        s.no_data
    );
    if let Some(w) = card.filter.window {
        let _ = writeln!(out, "Every key result over the last {w} (`--window`).\n");
    }
    for n in &card.notes {
        let _ = writeln!(out, "> **Note:** {n}\n");
    }
    let icon = |st: bearing_metrics::Status| match st {
        bearing_metrics::Status::Met => "✅",
        bearing_metrics::Status::AtRisk => "⚠️",
        bearing_metrics::Status::OffTrack => "❌",
        bearing_metrics::Status::NoData => "❔",
    };
    for o in &card.objectives {
        let _ = writeln!(
            out,
            "## {} {}{}\n",
            icon(o.status),
            o.id,
            o.title
                .as_deref()
                .map(|t| format!(" — {t}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "| | key result | scope | value | target | trend | samples | level |\n|---|---|---|---|---|---|---|---|"
        );
        for k in &o.key_results {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | `{}` | {} | {} | {} |",
                icon(k.status),
                metric_text(k),
                scope_text(&k.scope),
                k.display,
                k.target,
                trend_text(k),
                samples_text(k),
                k.level.map(|l| l.name()).unwrap_or("")
            );
        }
        let _ = writeln!(out);
    }
    out
}
