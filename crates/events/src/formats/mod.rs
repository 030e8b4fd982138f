//! Input formats: detection, parsing into [`Event`]s, and the errors a user sees.
//!
//! Every adapter takes the whole input as bytes plus a [`ParseContext`] and returns
//! either every event of the input or the first error, naming the record (line,
//! index or row), the field and what was expected. A batch never half-parses: the
//! store makes batches atomic, so one bad record rejects the file.
//!
//! Records that are valid but mean nothing to Bearing (a CDEvents ticket, a pull
//! request closed without merging, a suppressed SARIF result) are *skipped*, not
//! rejected: [`parse_report`] lists them with the reason. Scanner reports (SARIF,
//! Trivy, Grype) come from tools Bearing does not control, so a finding that
//! cannot be used (no rule id, no package) is skipped with its reason too, unless
//! [`ParseContext::strict`] asks for all-or-nothing. See `docs/formats.md`.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::Event;

mod bearing;
mod bearing_csv;
mod cdevents;
mod cost;
mod findings;
pub mod github;
mod gitlab;
mod infracost;
mod json;
mod sarif;
mod scanners;
pub mod threat;

pub use bearing::JsonlReader;
pub use findings::{normalize_package, normalize_target, normalize_vulnerability};
pub use infracost::{InfracostProject, InfracostSummary, infracost_summary};

/// A format Bearing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Bearing's own events: a JSON array, a single JSON object, or JSONL.
    Bearing,
    /// Bearing's CSV: one event per row.
    BearingCsv,
    /// CDEvents 0.3 to 0.6 (bare or in a CloudEvents envelope), one per document or JSONL.
    CdEvents,
    /// A GitHub webhook delivery body.
    GithubWebhook,
    /// A GitLab pipeline or job hook body.
    GitlabWebhook,
    /// SARIF 2.1.0 from any tool.
    Sarif,
    /// Trivy JSON (schema v2, the legacy list and the Kubernetes report).
    Trivy,
    /// Grype JSON.
    Grype,
    /// FOCUS cost and usage CSV (1.0 and the 0.5 column names).
    Focus,
    /// OpenCost allocation or assets API responses.
    OpenCost,
    /// Infracost breakdown/diff JSON.
    Infracost,
}

impl Format {
    pub const ALL: [Format; 11] = [
        Format::Bearing,
        Format::BearingCsv,
        Format::CdEvents,
        Format::GithubWebhook,
        Format::GitlabWebhook,
        Format::Sarif,
        Format::Trivy,
        Format::Grype,
        Format::Focus,
        Format::OpenCost,
        Format::Infracost,
    ];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bearing => "bearing",
            Format::BearingCsv => "bearing-csv",
            Format::CdEvents => "cdevents",
            Format::GithubWebhook => "github",
            Format::GitlabWebhook => "gitlab",
            Format::Sarif => "sarif",
            Format::Trivy => "trivy",
            Format::Grype => "grype",
            Format::Focus => "focus",
            Format::OpenCost => "opencost",
            Format::Infracost => "infracost",
        }
    }

    /// Other spellings [`Format::from_name`] accepts.
    pub const ALIASES: [(&'static str, Format); 14] = [
        ("json", Format::Bearing),
        ("jsonl", Format::Bearing),
        ("ndjson", Format::Bearing),
        ("bearing-json", Format::Bearing),
        ("bearing-jsonl", Format::Bearing),
        ("csv", Format::BearingCsv),
        ("github-webhook", Format::GithubWebhook),
        ("github_webhook", Format::GithubWebhook),
        ("gh", Format::GithubWebhook),
        ("gitlab-webhook", Format::GitlabWebhook),
        ("gitlab_webhook", Format::GitlabWebhook),
        ("gl", Format::GitlabWebhook),
        ("cdevent", Format::CdEvents),
        ("focus-csv", Format::Focus),
    ];

    /// The threat feeds `bearing ingest --format` also takes (they are not
    /// events: [`threat`]).
    pub const FEEDS: [&'static str; 2] = ["kev", "epss"];

    /// Every `bearing ingest --format` name: the formats, then the feeds.
    pub fn ingest_names() -> Vec<&'static str> {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .chain(Format::FEEDS)
            .collect()
    }

    /// Parses a `--format` value; a few obvious aliases are accepted.
    pub fn from_name(s: &str) -> Option<Format> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALIASES
            .into_iter()
            .find(|(a, _)| *a == s)
            .map(|(_, f)| f)
            .or_else(|| Format::ALL.into_iter().find(|f| f.name() == s))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the caller knows about the input beyond its bytes.
///
/// Build it with [`ParseContext::new`] and set the fields you know; the struct
/// may gain fields, so it cannot be built literally outside this crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParseContext {
    /// `--service`: fills events that have none; sets it for scanner and cost reports.
    pub service: Option<String>,
    /// `--env`: fills events that have none.
    pub environment: Option<String>,
    /// The input's file name, used in messages and, for some formats, in ids.
    pub source_name: Option<String>,
    /// The `X-GitHub-Event` header of a webhook delivery.
    pub github_event: Option<String>,
    /// GitHub issue labels that mark an incident (default: `incident`).
    pub incident_labels: Vec<String>,
    /// The time of ingest: the scan time of reports that carry none.
    pub now: DateTime<Utc>,
    /// All or nothing for scanner reports: a finding that cannot be used rejects
    /// the report instead of being skipped with its reason (`--strict`).
    pub strict: bool,
}

impl ParseContext {
    pub fn new(now: DateTime<Utc>) -> ParseContext {
        ParseContext {
            service: None,
            environment: None,
            source_name: None,
            github_event: None,
            incident_labels: Vec::new(),
            now,
            strict: false,
        }
    }

    /// Fills service and environment of events that lack them.
    pub(crate) fn fill_defaults(&self, event: &mut Event) {
        if event.service.is_none() {
            event.service.clone_from(&self.service);
        }
        if event.environment.is_none() {
            event.environment.clone_from(&self.environment);
        }
    }
}

/// Which record of the input an error or skip is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordRef {
    /// 1-based line of a line-oriented input (JSONL), or of a JSON syntax error.
    Line(usize),
    /// 1-based position in a JSON array (or of an entry within a report's list).
    Record(usize),
    /// 1-based CSV row as a spreadsheet shows it: the header is row 1.
    Row(usize),
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordRef::Line(n) => write!(f, "line {n}"),
            RecordRef::Record(n) => write!(f, "record {n}"),
            RecordRef::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Why an input was rejected.
///
/// Displays as `line 12, field `time`: expected an RFC 3339 timestamp, found `yesterday``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub record: Option<RecordRef>,
    /// The field, as a path into the record (`data.commits[0].authored_at`).
    pub field: Option<String>,
    pub message: String,
}

impl ParseError {
    pub fn new(message: impl Into<String>) -> ParseError {
        ParseError {
            record: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn at(record: RecordRef, message: impl Into<String>) -> ParseError {
        ParseError {
            record: Some(record),
            field: None,
            message: message.into(),
        }
    }

    pub fn with_record(mut self, record: RecordRef) -> ParseError {
        if self.record.is_none() {
            self.record = Some(record);
        }
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ParseError {
        let field = field.into();
        self.field = Some(match self.field.take() {
            Some(inner) if inner.starts_with('[') => format!("{field}{inner}"),
            Some(inner) => format!("{field}.{inner}"),
            None => field,
        });
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.record, &self.field) {
            (Some(r), Some(field)) => write!(f, "{r}, field `{field}`: ")?,
            (Some(r), None) => write!(f, "{r}: ")?,
            (None, Some(field)) => write!(f, "field `{field}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// A record that was read but is not an event Bearing uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub record: Option<RecordRef>,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.record {
            Some(r) => write!(f, "{r}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The outcome of parsing one input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub events: Vec<Event>,
    pub skipped: Vec<Skipped>,
    /// The record each event came from, when the format has numbered records
    /// (`records[i]` is about `events[i]`; shorter when unknown), so a later
    /// refusal of an event names it the way parse errors do (`line 2`).
    pub records: Vec<Option<RecordRef>>,
}

impl Parsed {
    /// Adds an event read from `record`.
    pub(crate) fn push(&mut self, event: Event, record: Option<RecordRef>) {
        self.records.resize(self.events.len(), None);
        self.events.push(event);
        self.records.push(record);
    }

    /// The record `events[i]` came from, if known.
    pub fn record_of(&self, i: usize) -> Option<RecordRef> {
        self.records.get(i).copied().flatten()
    }

    /// How messages name `events[i]`: its record (`line 2`, `record 2`,
    /// `row 3`), or `event N` counted from 1 for formats without numbered
    /// records. Every surface (CLI, HTTP API) names events this way.
    pub fn record_name(&self, i: usize) -> String {
        self.record_of(i)
            .map_or_else(|| format!("event {}", i + 1), |r| r.to_string())
    }

    /// A finding that could not be used: skipped with `error` as the reason, or,
    /// in strict mode, the error that rejects the whole input. `at` names the
    /// record inside the report (`Results[0].Vulnerabilities[3]`).
    pub(crate) fn unusable(
        &mut self,
        ctx: &ParseContext,
        at: &str,
        error: ParseError,
    ) -> Result<(), ParseError> {
        if ctx.strict {
            return Err(error.with_field(at));
        }
        self.skip(
            error.record,
            format!(
                "`{at}` cannot be used: {}",
                ParseError {
                    record: None,
                    ..error
                }
            ),
        );
        Ok(())
    }

    pub(crate) fn skip(&mut self, record: Option<RecordRef>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            record,
            reason: reason.into(),
        });
    }
}

/// Parses an input into events; the first bad record fails the whole input.
pub fn parse(format: Format, bytes: &[u8], ctx: &ParseContext) -> Result<Vec<Event>, ParseError> {
    parse_report(format, bytes, ctx).map(|p| p.events)
}

/// Like [`parse`], and also lists the records that were skipped and why.
pub fn parse_report(
    format: Format,
    bytes: &[u8],
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    let mut parsed = match format {
        Format::Bearing => bearing::parse(bytes, ctx)?,
        Format::BearingCsv => bearing_csv::parse(bytes, ctx)?,
        Format::CdEvents => cdevents::parse(bytes, ctx)?,
        Format::GithubWebhook => github::parse(bytes, ctx)?,
        Format::GitlabWebhook => gitlab::parse(bytes, ctx)?,
        Format::Sarif => sarif::parse(bytes, ctx)?,
        Format::Trivy => scanners::parse_trivy(bytes, ctx)?,
        Format::Grype => scanners::parse_grype(bytes, ctx)?,
        Format::Focus => cost::parse_focus(bytes, ctx)?,
        Format::OpenCost => cost::parse_opencost(bytes, ctx)?,
        Format::Infracost => infracost::parse(bytes, ctx)?,
    };
    for e in &mut parsed.events {
        ctx.fill_defaults(e);
    }
    Ok(parsed)
}

/// Detects the format from the file name and the content; `None` when unknown or ambiguous.
pub fn detect(file_name: Option<&str>, bytes: &[u8]) -> Option<Format> {
    let ext = file_name
        .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
        .unwrap_or_default();
    let bytes = strip_bom(bytes);
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') | Some(b'[') => json::detect(bytes, &ext),
        Some(_) => csv_detect(bytes),
        None => None,
    }
}

fn csv_detect(bytes: &[u8]) -> Option<Format> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::StringRecord::new();
    if !rdr.read_record(&mut rec).ok()? {
        return None;
    }
    let cols: Vec<&str> = rec.iter().map(str::trim).collect();
    let bearing = ["id", "time", "kind"].iter().all(|c| cols.contains(c));
    let focus = cols.iter().any(|c| cost::is_focus_column(c));
    match (bearing, focus) {
        (true, false) => Some(Format::BearingCsv),
        (false, true) => Some(Format::Focus),
        _ => None,
    }
}

pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Checks the whole input is UTF-8, naming the line of the first bad byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, ParseError> {
    let bytes = strip_bom(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        ParseError::at(
            RecordRef::Line(line),
            format!(
                "invalid UTF-8 at byte {} of the line: the input must be UTF-8 text",
                at - line_start
            ),
        )
    })
}

/// Shortens user input quoted in a message.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Hex SHA-256 of the parts, separated so that ("ab","c") differs from ("a","bc").
pub(crate) fn digest(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("JSONL"), Some(Format::Bearing));
        assert_eq!(Format::from_name("nope"), None);
    }

    #[test]
    fn error_display_names_record_and_field() {
        let e = ParseError::at(
            RecordRef::Line(12),
            "expected an RFC 3339 timestamp, found `yesterday`",
        )
        .with_field("time");
        assert_eq!(
            e.to_string(),
            "line 12, field `time`: expected an RFC 3339 timestamp, found `yesterday`"
        );
        let e = ParseError::new("bad")
            .with_field("[3].x")
            .with_field("runs");
        assert_eq!(e.to_string(), "field `runs[3].x`: bad");
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = utf8(b"{}\n{\"a\": \"\xff\"}\n").unwrap_err();
        assert_eq!(e.record, Some(RecordRef::Line(2)));
    }
}
