//! `bearing events`: inspect stored events.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_events::{Event, Kind};
use bearing_store::EventQuery;
use chrono::{DateTime, Utc};

use super::common::{Global, Output, open_store, runtime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List stored events, newest first (oldest first with `--limit 0`).
    List(ListArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only events of this kind (repeatable): change, pipeline_run, deployment,
    /// rollback, incident, cost, finding, metric_point, feature_flag.
    #[arg(long, value_name = "K")]
    pub kind: Vec<String>,
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    #[arg(long = "env", value_name = "E")]
    pub env: Option<String>,
    /// Events at or after T: RFC 3339, a date (`2026-03-01`), or an age (`7d`, `12h`, `30m`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Events before T (same forms as `--since`).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// At most N events, newest first; 0 lists all, oldest first.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::List(args) => list(args, g),
    }
}

fn list(args: ListArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let kinds = args
        .kind
        .iter()
        .map(|k| {
            Kind::from_name(k).with_context(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown kind `{k}`: expected one of {}", names.join(", "))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let query = EventQuery {
        kinds,
        service: args.service,
        environment: args.env,
        since: args
            .since
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_time(t, now))
            .transpose()?,
        limit: (args.limit > 0).then_some(args.limit),
    };
    let events = runtime()?.block_on(async {
        let store = open_store(g).await?;
        anyhow::Ok(store.events(&query).await?)
    })?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, &events)?;
            writeln!(out)?;
        }
        Output::Text => {
            for e in &events {
                writeln!(out, "{}", line(e))?;
            }
            if events.is_empty() {
                writeln!(out, "no events match")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn line(e: &Event) -> String {
    format!(
        "{}  {:<12}  {:<16}  {:<10}  {}",
        e.time.format("%Y-%m-%dT%H:%M:%SZ"),
        e.kind().name(),
        e.service.as_deref().unwrap_or("-"),
        e.environment.as_deref().unwrap_or("-"),
        e.id
    )
}

/// RFC 3339 or a date (midnight UTC), from 1970-01-01 to 9999-12-31 like
/// `--at`; or an age before `now`, a duration of at most `36500d` (`7d`,
/// `12h`, `1h30m`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let s = s.trim();
    let looks_like_a_date = s.len() >= 10 && s.contains('-');
    if looks_like_a_date || s.starts_with(['+', '-']) {
        return super::report::parse_time(s).map_err(anyhow::Error::msg);
    }
    let bad = || {
        anyhow::anyhow!(
            "invalid time `{s}`: expected RFC 3339 (`2026-03-01T12:00:00Z`), a date (`2026-03-01`) or an age (`7d`, `12h`, `30m`)"
        )
    };
    let age: bearing_intent::Duration = match s.parse() {
        Ok(d) => d,
        // Well-formed but longer than any duration Bearing accepts.
        Err(e) if e.message.contains("too long") => {
            anyhow::bail!("invalid age `{s}`: {}", e.message)
        }
        Err(_) => return Err(bad()),
    };
    // At most 100 years before an accepted `now`: always representable.
    age.before(now).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        assert_eq!(
            parse_time("2026-03-01T00:00:00Z", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("2026-03-01", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("7d", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 3, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("1w1h", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 3, 11, 0, 0).unwrap()
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5y", now).is_err());
    }

    #[test]
    fn times_and_ages_are_bounded() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        assert_eq!(
            parse_time("36500d", now).unwrap(),
            Utc.with_ymd_and_hms(1926, 4, 4, 12, 0, 0).unwrap()
        );
        for (s, want) in [
            (
                "36501d",
                "invalid age `36501d`: duration `36501d` is too long; expected at most `36500d` (100 years)",
            ),
            (
                "99999999999999999999999d",
                "invalid age `99999999999999999999999d`: duration `99999999999999999999999d` is too long; expected at most `36500d` (100 years)",
            ),
            (
                "1969-12-31",
                "timestamp `1969-12-31` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            ),
            (
                "+10000-01-01",
                "timestamp `+10000-01-01` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            ),
            (
                "0000-01-01T00:00:00Z",
                "timestamp `0000-01-01T00:00:00Z` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            ),
        ] {
            assert_eq!(parse_time(s, now).unwrap_err().to_string(), want, "{s}");
        }
    }
}
