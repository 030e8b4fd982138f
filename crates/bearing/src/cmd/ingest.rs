//! `bearing ingest`: reads files, folders (recursively) or stdin, detects each
//! file's format, validates it whole, then stores it in batches.
//!
//! Semantics (see `docs/storage.md`):
//! - A file is accepted whole or rejected whole: every record is parsed and
//!   checked before the first batch of that file is written, so a bad record
//!   anywhere rejects the file with nothing of it stored.
//! - A valid file is written in batches of `--batch-size` events, one
//!   transaction each. Large Bearing JSONL inputs are streamed: one pass
//!   validates, a second pass parses again and writes, so memory stays flat.
//! - A batch is *acknowledged* when its `committed …` line is printed (stderr):
//!   the transaction has committed and survives `kill -9`. After a crash, run
//!   the same command again: stored events come back as duplicates.
//! - Exit 1 when any file was rejected, 0 otherwise; 2 when the store fails.

use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use bearing_events::{Event, Format, JsonlReader, ParseContext, ParseError, RecordRef};
use bearing_store::{DynStore, StoreError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::EXIT_INVALID;
use super::common::{BusArgs, Global, Output, open_store, runtime};

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders (read recursively) to ingest, or `-` for stdin.
    #[arg(required = true, value_name = "FILE|DIR|-")]
    pub inputs: Vec<PathBuf>,
    /// Input format, detected per file when omitted: bearing, bearing-csv,
    /// cdevents, github, gitlab, sarif, trivy, grype, focus, opencost,
    /// infracost; or a threat feed: kev (CISA's KEV catalog JSON), epss
    /// (FIRST's EPSS CSV, plain or gzipped).
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Service of events that name none (and of scanner and cost reports).
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
    /// Environment of events that name none.
    #[arg(long = "env", value_name = "E")]
    pub env: Option<String>,
    /// The `X-GitHub-Event` header of a GitHub webhook body (`push`,
    /// `deployment_status`, …); recorded deliveries carry their own.
    #[arg(long, value_name = "NAME")]
    pub github_event: Option<String>,
    /// All or nothing for scanner reports (SARIF, Trivy, Grype): a finding that
    /// cannot be used rejects the file instead of being skipped and listed.
    #[arg(long)]
    pub strict: bool,
    /// Events per transaction.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
    /// With `--bus`, events are published to the bus (each batch acknowledged
    /// by JetStream) instead of written to `--database`; the consumers of
    /// `bearing serve --bus` store them.
    #[command(flatten)]
    pub bus: BusArgs,
}

/// Files at least this large are streamed when they are Bearing JSONL.
const STREAM_MIN_BYTES: u64 = 8 << 20;
/// How much of a large file is read to tell its format.
const PROBE_BYTES: usize = 1 << 20;
/// Inputs at least this large (in total) get a progress bar on a terminal.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// What happened to one input file.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    /// `ingested` or `rejected`.
    status: &'static str,
    events: u64,
    accepted: u64,
    duplicates: u64,
    batches: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<String>,
    /// Repositories of these events that no service of the intent claims.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unclaimed_repos: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<Rejection>,
    /// A threat feed: what it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    feed: Option<bearing_events::formats::threat::FeedUpdate>,
    /// Actions logged because of it (open findings now known exploited).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<String>,
}

/// Why a file was rejected: the record, the field and what was expected.
#[derive(Debug, Serialize)]
struct Rejection {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    message: String,
}

impl Rejection {
    fn message(message: impl Into<String>) -> Rejection {
        Rejection {
            record: None,
            field: None,
            message: message.into(),
        }
    }

    fn parse(err: ParseError) -> Rejection {
        Rejection {
            record: err.record.map(|r| r.to_string()),
            field: err.field,
            message: err.message,
        }
    }

    /// A store refusal of the event at `record`; other store errors are not rejections.
    fn store(err: StoreError, record: String) -> Result<Rejection, StoreError> {
        match err {
            StoreError::InvalidEvent {
                id,
                field,
                expected,
                ..
            } => Ok(Rejection {
                record: Some(record),
                field: Some(field.to_string()),
                message: format!("expected {expected} (event `{}`)", shorten(&id, 80)),
            }),
            other => Err(other),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.record, &self.field) {
            (Some(r), Some(field)) => write!(f, "{r}, field `{field}`: ")?,
            (Some(r), None) => write!(f, "{r}: ")?,
            (None, Some(field)) => write!(f, "field `{field}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    files: usize,
    accepted: u64,
    duplicates: u64,
    rejected: usize,
    skipped: usize,
    reports: Vec<FileReport>,
}

/// Where an input's bytes come from; streamed inputs are opened twice.
#[derive(Clone)]
enum Source {
    File(PathBuf),
    Memory(Arc<Vec<u8>>),
}

impl Source {
    fn len(&self) -> std::io::Result<u64> {
        Ok(match self {
            Source::File(p) => std::fs::metadata(p)?.len(),
            Source::Memory(b) => b.len() as u64,
        })
    }

    fn open(&self, progress: &ProgressBar) -> std::io::Result<Box<dyn BufRead + Send>> {
        self.open_range(progress, 0, self.len()?)
    }

    /// The bytes in `[start, end)`.
    fn open_range(
        &self,
        progress: &ProgressBar,
        start: u64,
        end: u64,
    ) -> std::io::Result<Box<dyn BufRead + Send>> {
        Ok(match self {
            Source::File(p) => {
                let mut f = std::fs::File::open(p)?;
                f.seek(SeekFrom::Start(start))?;
                Box::new(BufReader::with_capacity(
                    1 << 20,
                    progress.wrap_read(f.take(end.saturating_sub(start))),
                ))
            }
            Source::Memory(b) => {
                let end = usize::try_from(end).unwrap_or(usize::MAX).min(b.len());
                let start = usize::try_from(start).unwrap_or(usize::MAX).min(end);
                Box::new(BufReader::new(progress.wrap_read(std::io::Cursor::new(
                    Shared(Arc::clone(b), start..end),
                ))))
            }
        })
    }

    /// The offset just after the first newline at or after `at`, if within 1 MiB.
    fn line_start_after(&self, at: u64) -> std::io::Result<Option<u64>> {
        let mut buf = Vec::new();
        self.open_range(&ProgressBar::hidden(), at, at + (1 << 20))?
            .read_to_end(&mut buf)?;
        Ok(buf
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| at + i as u64 + 1))
    }

    /// Newlines in `[0, end)`.
    fn count_lines(&self, end: u64) -> std::io::Result<usize> {
        let mut r = self.open_range(&ProgressBar::hidden(), 0, end)?;
        let mut n = 0;
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                return Ok(n);
            }
            n += buf.iter().filter(|b| **b == b'\n').count();
            let len = buf.len();
            r.consume(len);
        }
    }
}

/// A range of shared bytes that can back a cursor.
struct Shared(Arc<Vec<u8>>, std::ops::Range<usize>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0[self.1.clone()]
    }
}

/// Everything per run that each file needs.
struct Ingest {
    sink: Sink,
    format: Option<Format>,
    /// `--format kev|epss`.
    feed: Option<&'static str>,
    ctx: ParseContext,
    batch_size: usize,
    progress: ProgressBar,
    /// The intent, when it loads: deliveries from repositories no service
    /// claims are warned about.
    intent: Option<bearing_intent::Intent>,
    /// Bearing JSONL files at least this large are streamed ([`STREAM_MIN_BYTES`]).
    stream_min: u64,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let feed = args
        .format
        .as_deref()
        .and_then(|f| Format::FEEDS.into_iter().find(|n| *n == f.trim()));
    let format = match &args.format {
        None => None,
        Some(_) if feed.is_some() => None,
        Some(name) => Some(Format::from_name(name).with_context(|| {
            format!(
                "unknown format `{name}`: expected one of {}",
                Format::ingest_names().join(", ")
            )
        })?),
    };
    if let Some(name) = &args.github_event {
        bearing_events::github::check_event_name(name).map_err(anyhow::Error::msg)?;
    }
    let inputs = collect_inputs(&args.inputs)?;
    let total: u64 = inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = if std::io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut ctx = ParseContext::new(chrono::Utc::now());
    ctx.service.clone_from(&args.service);
    ctx.environment.clone_from(&args.env);
    ctx.github_event.clone_from(&args.github_event);
    ctx.strict = args.strict;
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let ingest = Ingest {
            sink: match args.bus.config() {
                Some(c) => Sink::Bus(bearing_bus::Bus::connect(c).await?),
                None => Sink::Store(open_store(g).await?),
            },
            format,
            feed,
            ctx,
            batch_size: usize::try_from(args.batch_size).unwrap_or(10_000),
            progress: progress.clone(),
            intent: bearing_intent::load(&g.intent).ok().map(|l| l.intent),
            stream_min: STREAM_MIN_BYTES,
        };
        let mut reports = Vec::new();
        for input in &inputs {
            reports.push(ingest.input(input).await?);
        }
        anyhow::Ok(reports)
    })?;
    progress.finish_and_clear();
    let summary = Summary {
        files: summary.len(),
        accepted: summary.iter().map(|r| r.accepted).sum(),
        duplicates: summary.iter().map(|r| r.duplicates).sum(),
        rejected: summary.iter().filter(|r| r.rejection.is_some()).count(),
        skipped: summary.iter().map(|r| r.skipped.len()).sum(),
        reports: summary,
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Text => print_text(&summary),
    }
    Ok(if summary.rejected > 0 {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(s: &Summary) {
    for r in &s.reports {
        if let (None, Some(u)) = (&r.rejection, &r.feed) {
            println!("ingested {} ({}): {}", r.file, u.feed, u.summary());
            for a in &r.actions {
                println!("  action: {a}");
            }
            continue;
        }
        match &r.rejection {
            Some(why) => println!("rejected {}: {why}", r.file),
            None => println!(
                "ingested {} ({}): {} events, {} new, {} duplicates{}",
                r.file,
                r.format.unwrap_or("?"),
                r.events,
                r.accepted,
                r.duplicates,
                if r.skipped.is_empty() {
                    String::new()
                } else {
                    let n = r.skipped.len();
                    format!(", {n} record{} skipped", if n == 1 { "" } else { "s" })
                }
            ),
        }
        for skip in r.skipped.iter().take(5) {
            println!("  skipped {skip}");
        }
        if r.skipped.len() > 5 {
            println!("  … and {} more skipped", r.skipped.len() - 5);
        }
        if !r.unclaimed_repos.is_empty() {
            println!(
                "  warning: deliveries from repositories no service claims: {}; add each to a service's `repos` in the intent (or name a service after it)",
                r.unclaimed_repos.join(", ")
            );
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    println!(
        "{} file{}: {} events accepted, {} duplicates, {} file{} rejected",
        s.files,
        plural(s.files),
        s.accepted,
        s.duplicates,
        s.rejected,
        plural(s.rejected)
    );
}

/// Expands folders (recursively, sorted, hidden entries skipped). A link to a
/// folder already read (a symlink loop, or two links to one folder) is not
/// followed again; it is named on stderr.
fn collect_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(
        dir: &Path,
        out: &mut Vec<PathBuf>,
        seen: &mut std::collections::HashSet<PathBuf>,
    ) -> anyhow::Result<()> {
        let real = std::fs::canonicalize(dir)
            .with_context(|| format!("cannot read the folder `{}`", dir.display()))?;
        if !seen.insert(real.clone()) {
            eprintln!(
                "not following `{}`: it leads to `{}`, a folder already read",
                dir.display(),
                real.display()
            );
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the folder `{}`", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out, seen)?;
            } else if p.is_file() {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.push(input.clone());
        } else if input.is_dir() {
            walk(input, &mut out, &mut seen)?;
        } else if input.exists() {
            out.push(input.clone());
        } else {
            anyhow::bail!("no such file or folder `{}`", input.display());
        }
    }
    Ok(out)
}

impl Ingest {
    async fn input(&self, path: &Path) -> anyhow::Result<FileReport> {
        let stdin = path.as_os_str() == "-";
        let name = if stdin {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let mut report = FileReport {
            file: name.clone(),
            format: None,
            status: "rejected",
            events: 0,
            accepted: 0,
            duplicates: 0,
            batches: 0,
            skipped: Vec::new(),
            unclaimed_repos: Vec::new(),
            rejection: None,
            feed: None,
            actions: Vec::new(),
        };
        self.progress.set_message(name.clone());
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string);
        let mut ctx = self.ctx.clone();
        ctx.source_name.clone_from(&file_name);

        // Stdin is read whole; a large file is probed before deciding to stream.
        let (source, size) = if stdin {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            let n = buf.len() as u64;
            (Source::Memory(Arc::new(buf)), n)
        } else {
            let size = match std::fs::metadata(path) {
                Ok(m) => m.len(),
                Err(err) => {
                    return Ok(reject(
                        report,
                        Rejection::message(format!("cannot read: {err}")),
                    ));
                }
            };
            (Source::File(path.to_path_buf()), size)
        };
        if size >= self.stream_min {
            let head = match read_head(&source, PROBE_BYTES) {
                Ok(h) => h,
                Err(err) => {
                    return Ok(reject(
                        report,
                        Rejection::message(format!("cannot read: {err}")),
                    ));
                }
            };
            // JSONL, or an object whose first line is longer than the probe: streamed,
            // so the 16 MiB line limit holds with flat memory (a JSON array is
            // one document and is read whole).
            let long_first_line = !head.contains(&b'\n')
                && strip_bom(&head).iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let mut format = self
                .format
                .or_else(|| bearing_events::detect(file_name.as_deref(), &head));
            if format.is_none() && long_first_line {
                // The probe cut the first object: tell its format from its keys,
                // read through without keeping the values.
                format = first_object_keys(&source)
                    .ok()
                    .and_then(|keys| bearing_events::detect(None, &keys));
            }
            if format == Some(Format::Bearing) && (is_jsonl(&head) || long_first_line) {
                report.format = Some(Format::Bearing.name());
                return self.stream(report, source, ctx).await;
            }
        }
        let bytes = match &source {
            Source::Memory(b) => Arc::clone(b),
            Source::File(p) => match std::fs::read(p) {
                Ok(b) => Arc::new(b),
                Err(err) => {
                    return Ok(reject(
                        report,
                        Rejection::message(format!("cannot read: {err}")),
                    ));
                }
            },
        };
        if !stdin {
            self.progress.inc(size);
        }
        if strip_bom(&bytes).iter().all(u8::is_ascii_whitespace) {
            let what = if stdin { "the input" } else { "the file" };
            return Ok(reject(
                report,
                Rejection::message(format!("{what} is empty: nothing to ingest")),
            ));
        }
        if let Some(kind) = self.feed.or_else(|| {
            self.format
                .is_none()
                .then(|| bearing_events::formats::threat::detect_feed(&bytes))
                .flatten()
        }) {
            return self.threat_feed(report, kind, &bytes).await;
        }
        let Some(format) = self
            .format
            .or_else(|| bearing_events::detect(file_name.as_deref(), &bytes))
        else {
            return Ok(reject(
                report,
                Rejection::message(format!(
                    "cannot tell the format of this input; pass `--format` (one of {})",
                    Format::ingest_names().join(", ")
                )),
            ));
        };
        report.format = Some(format.name());
        let parsed = match bearing_events::parse_report(format, &bytes, &ctx) {
            Ok(p) => p,
            Err(err) => return Ok(reject(report, Rejection::parse(err))),
        };
        report.skipped = parsed.skipped.iter().map(|s| s.to_string()).collect();
        if let Some(intent) = &self.intent {
            report.unclaimed_repos = bearing_metrics::unclaimed_repos(intent, &parsed.events)
                .into_iter()
                .map(|(r, n)| format!("{r} ({n} events)"))
                .collect();
        }
        for (i, event) in parsed.events.iter().enumerate() {
            if let Err(err) = bearing_store::check_event(i, event) {
                // Named like parse errors (`line 2`, `record 1`, `row 3`).
                return Ok(reject(
                    report,
                    Rejection::store(err, parsed.record_name(i))?,
                ));
            }
        }
        report.events = parsed.events.len() as u64;
        let chunks: Vec<&[Event]> = parsed.events.chunks(self.batch_size).collect();
        let announce = chunks.len() > 1;
        let mut first = 1;
        for chunk in chunks {
            let out = self
                .sink
                .ingest(chunk)
                .await
                .with_context(|| format!("storing `{name}`"))?;
            report.accepted += out.accepted;
            report.duplicates += out.duplicates;
            report.batches += 1;
            let last = first + chunk.len() - 1;
            if announce {
                self.committed(&name, &format!("events {first}-{last}"), out);
            }
            first = last + 1;
        }
        report.status = "ingested";
        Ok(report)
    }

    /// A KEV catalog or EPSS file: kept beside the events (a newer one
    /// replaces the older), with an action logged per service whose open
    /// findings it makes known exploited.
    async fn threat_feed(
        &self,
        mut report: FileReport,
        kind: &'static str,
        bytes: &[u8],
    ) -> anyhow::Result<FileReport> {
        use bearing_events::formats::threat;
        report.format = Some(kind);
        let parsed = match kind {
            "kev" => threat::parse_kev(bytes).map(threat::Feed::Kev),
            _ => threat::parse_epss(bytes).map(threat::Feed::Epss),
        };
        let feed = match parsed {
            Ok(f) => f,
            Err(err) => return Ok(reject(report, Rejection::parse(err))),
        };
        let Sink::Store(store) = &self.sink else {
            return Ok(reject(
                report,
                Rejection::message(
                    "threat feeds are not carried by the event bus: ingest them without `--bus` (into `--database`)",
                ),
            ));
        };
        let applied = bearing_server::threat::apply(store, feed, self.ctx.now)
            .await
            .with_context(|| format!("storing `{}`", report.file))?;
        report.events = applied.update.entries as u64;
        report.actions = applied.actions.iter().map(|a| a.summary.clone()).collect();
        report.feed = Some(applied.update);
        report.status = "ingested";
        Ok(report)
    }

    /// Validates a Bearing JSONL input in one pass, then parses it again and
    /// writes it batch by batch, parsing the next batch while one is stored.
    async fn stream(
        &self,
        mut report: FileReport,
        source: Source,
        ctx: ParseContext,
    ) -> anyhow::Result<FileReport> {
        // The bar counts the file once: the validating pass moves it, then it goes
        // back for the storing pass (its total is the size of the inputs).
        let start = self.progress.position();
        self.progress
            .set_message(format!("checking {}", report.file));
        let pb = self.progress.clone();
        let (src, c) = (source.clone(), ctx.clone());
        let checked = tokio::task::spawn_blocking(move || validate(&src, &pb, &c, SPLIT_MIN_BYTES))
            .await
            .context("validation task failed")?;
        self.progress.set_position(start);
        self.progress
            .set_message(format!("storing {}", report.file));
        match checked {
            Ok(0) => {
                return Ok(reject(
                    report,
                    Rejection::message("the file is empty: nothing to ingest (only blank lines)"),
                ));
            }
            Ok(n) => report.events = n,
            Err(why) => return Ok(reject(report, why)),
        }

        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<Result<(Vec<Event>, usize, usize), ParseError>>(2);
        let pb = self.progress.clone();
        let batch_size = self.batch_size;
        let reader = tokio::task::spawn_blocking(move || {
            let reader = match source.open(&pb) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(ParseError::new(format!("cannot read: {e}"))));
                    return;
                }
            };
            let mut lines = JsonlReader::new(reader).with_context(&ctx);
            let mut batch = Vec::with_capacity(batch_size);
            let mut first_line = 0;
            while let Some(item) = lines.next() {
                match item {
                    Ok(event) => {
                        if batch.is_empty() {
                            first_line = lines.line();
                        }
                        batch.push(event);
                        if batch.len() == batch_size {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                            if tx
                                .blocking_send(Ok((full, first_line, lines.line())))
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    Err(err) => {
                        let _ = tx.blocking_send(Err(err));
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok((batch, first_line, lines.line())));
            }
        });
        let name = report.file.clone();
        while let Some(item) = rx.recv().await {
            // The input changed between the passes: what was committed stays committed.
            let (batch, first, last) = item.map_err(|err| {
                anyhow::anyhow!("`{name}` changed while it was being ingested: {err}")
            })?;
            let out = self
                .sink
                .ingest(&batch)
                .await
                .with_context(|| format!("storing `{name}` lines {first}-{last}"))?;
            report.accepted += out.accepted;
            report.duplicates += out.duplicates;
            report.batches += 1;
            self.committed(&name, &format!("lines {first}-{last}"), out);
        }
        reader.await.context("reading task failed")?;
        report.status = "ingested";
        Ok(report)
    }

    /// Acknowledges a committed batch: once this line is printed, it is durable.
    fn committed(&self, file: &str, range: &str, out: bearing_store::IngestOutcome) {
        let line = format!(
            "committed {file} {range}: {} new, {} duplicates",
            out.accepted, out.duplicates
        );
        if self.progress.is_hidden() {
            eprintln!("{line}");
        } else {
            self.progress.println(line);
        }
    }
}

/// Where checked batches go: the store, or the bus (`--bus`).
enum Sink {
    Store(DynStore),
    Bus(bearing_bus::Bus),
}

impl Sink {
    /// `Ok` once the batch is durable: committed, or acknowledged by JetStream
    /// (then `accepted` counts what the stream took as new).
    async fn ingest(&self, events: &[Event]) -> anyhow::Result<bearing_store::IngestOutcome> {
        Ok(match self {
            Sink::Store(store) => store.ingest(events).await?,
            Sink::Bus(bus) => {
                let p = bus.publish_events(events).await?;
                bearing_store::IngestOutcome {
                    accepted: p.new,
                    duplicates: p.duplicates,
                }
            }
        })
    }
}

/// Inputs at least this large are validated by two threads, one per half.
const SPLIT_MIN_BYTES: u64 = 32 << 20;

/// Validates a whole JSONL source (parse and store checks), counting its events.
/// Inputs of `split_min` bytes or more are validated by two threads.
fn validate(
    source: &Source,
    pb: &ProgressBar,
    ctx: &ParseContext,
    split_min: u64,
) -> Result<u64, Rejection> {
    let cannot_read = |e: std::io::Error| Rejection::message(format!("cannot read: {e}"));
    let size = source.len().map_err(cannot_read)?;
    let split = if size >= split_min {
        source.line_start_after(size / 2).map_err(cannot_read)?
    } else {
        None
    };
    let at = |line: usize, mut why: Rejection| {
        if line > 0 {
            why.record = Some(RecordRef::Line(line).to_string());
        }
        why
    };
    let Some(mid) = split else {
        return validate_part(source, pb, ctx, 0, size).map_err(|(l, why)| at(l, why));
    };
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| validate_part(source, pb, ctx, 0, mid));
        let second = validate_part(source, pb, ctx, mid, size);
        (first.join(), second)
    });
    let first = first.map_err(|_| Rejection::message("validation thread failed"))?;
    match (first, second) {
        (Err((l, why)), _) => Err(at(l, why)),
        (Ok(_), Err((l, why))) => {
            let before = source.count_lines(mid).map_err(cannot_read)?;
            Err(at(if l > 0 { l + before } else { 0 }, why))
        }
        (Ok(a), Ok(b)) => Ok(a + b),
    }
}

/// Validates the lines in `[start, end)`; an error carries its line counted
/// from `start` (0 when no line is concerned).
fn validate_part(
    source: &Source,
    pb: &ProgressBar,
    ctx: &ParseContext,
    start: u64,
    end: u64,
) -> Result<u64, (usize, Rejection)> {
    let reader = source
        .open_range(pb, start, end)
        .map_err(|e| (0, Rejection::message(format!("cannot read: {e}"))))?;
    let mut lines = JsonlReader::new(reader).with_context(ctx);
    let mut n = 0u64;
    while let Some(item) = lines.next() {
        let line = lines.line();
        let event = item.map_err(|err| (line, Rejection::parse(err)))?;
        bearing_store::check_event(0, &event).map_err(|err| {
            let why = Rejection::store(err, String::new())
                .unwrap_or_else(|e| Rejection::message(e.to_string()));
            (line, why)
        })?;
        n += 1;
    }
    Ok(n)
}

fn reject(mut report: FileReport, why: Rejection) -> FileReport {
    report.status = "rejected";
    report.rejection = Some(why);
    report
}

/// The first `limit` bytes of a source, cut after the last complete line.
fn read_head(source: &Source, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    match source {
        Source::File(p) => {
            std::fs::File::open(p)?
                .take(limit as u64)
                .read_to_end(&mut head)?;
        }
        Source::Memory(b) => head.extend_from_slice(&b[..b.len().min(limit)]),
    }
    if head.len() == limit
        && let Some(end) = head.iter().rposition(|b| *b == b'\n')
    {
        head.truncate(end + 1);
    }
    Ok(head)
}

/// The top-level keys of the source's first JSON object, as a small JSON
/// object of those keys (values `null`) that format detection can classify.
/// The values are skipped as they are read, so memory does not grow with them.
fn first_object_keys(source: &Source) -> anyhow::Result<Vec<u8>> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = serde_json::Map<String, serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut keys = serde_json::Map::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                keys.insert(key, serde_json::Value::Null);
            }
            Ok(keys)
        }
    }
    let mut reader = source.open(&ProgressBar::hidden())?;
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let keys = serde::Deserializer::deserialize_map(&mut de, Keys)?;
    Ok(serde_json::to_vec(&keys)?)
}

/// At most `max` characters of user input quoted in a message.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Whether an input is JSON lines: its first non-blank line is a whole JSON value.
fn is_jsonl(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .is_some_and(|l| serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> String {
        format!(
            r#"{{"id":"e{i}","source":"t","time":"2026-01-01T00:00:00Z","kind":"metric_point","data":{{"name":"m","value":{i}}}}}"#
        )
    }

    #[test]
    fn split_validation_counts_and_names_the_bad_line() {
        let ctx = ParseContext::new(chrono::Utc::now());
        let pb = ProgressBar::hidden();
        let mut lines: Vec<String> = (1..=1000).map(line).collect();
        let good = Source::Memory(Arc::new((lines.join("\n") + "\n").into_bytes()));
        for split_min in [0, u64::MAX] {
            assert_eq!(validate(&good, &pb, &ctx, split_min).unwrap(), 1000);
        }
        // Bad lines in the first and in the second half are named by their line in the file.
        for bad in [17, 901] {
            let saved = std::mem::replace(
                &mut lines[bad - 1],
                line(bad).replace(r#""id":"#, r#""idx":"#),
            );
            let input = Source::Memory(Arc::new((lines.join("\n") + "\n").into_bytes()));
            for split_min in [0, u64::MAX] {
                let why = validate(&input, &pb, &ctx, split_min).unwrap_err();
                assert_eq!(why.record, Some(format!("line {bad}")), "{why}");
            }
            lines[bad - 1] = saved;
        }
        // A NUL in the source is refused (by the parser or the store's checks).
        lines[599] = line(600).replace(r#""source":"t""#, r#""source":"a\u0000b""#);
        let input = Source::Memory(Arc::new((lines.join("\n") + "\n").into_bytes()));
        let why = validate(&input, &pb, &ctx, 0).unwrap_err();
        assert_eq!(why.record.as_deref(), Some("line 600"), "{why}");
    }

    /// Issue 15 item 11: a first object longer than the probe is classified by
    /// its keys, read through without keeping its values.
    #[test]
    fn a_long_first_object_is_told_by_its_keys() {
        let big = format!(
            r#"{{"id":"e1","source":"t","attributes":{{"pad":"{}","n":[1,{{"x":"y"}}]}},"time":"2026-01-01T00:00:00Z","kind":"metric_point","data":{{"name":"m","value":1}}}}"#,
            "x".repeat(3 << 20)
        );
        let source = Source::Memory(Arc::new(
            format!("\u{feff}{big}\n{}\n", line(2)).into_bytes(),
        ));
        let keys = first_object_keys(&source).unwrap();
        assert_eq!(
            String::from_utf8(keys.clone()).unwrap(),
            r#"{"id":null,"source":null,"attributes":null,"time":null,"kind":null,"data":null}"#
        );
        assert_eq!(bearing_events::detect(None, &keys), Some(Format::Bearing));
        let pretty = Source::Memory(Arc::new(b"[1,2]".to_vec()));
        assert!(first_object_keys(&pretty).is_err());
    }

    /// Issue 14 item 15: the bar's total is the file's size, and a streamed file
    /// (read twice: checked, then stored) never runs it past its total.
    #[test]
    fn the_progress_bar_counts_a_streamed_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let lines: Vec<String> = (1..=2000).map(line).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let rt = runtime().unwrap();
        let report = rt.block_on(async {
            let progress =
                ProgressBar::with_draw_target(Some(size), indicatif::ProgressDrawTarget::hidden());
            let ingest = Ingest {
                sink: Sink::Store(bearing_store::open("sqlite://:memory:").await.unwrap()),
                format: None,
                feed: None,
                ctx: ParseContext::new(chrono::Utc::now()),
                batch_size: 500,
                progress: progress.clone(),
                stream_min: 0,
                intent: None,
            };
            let report = ingest.input(&path).await.unwrap();
            assert_eq!(progress.length(), Some(size));
            assert_eq!(progress.position(), size);
            report
        });
        assert_eq!((report.accepted, report.batches), (2000, 4));
    }

    #[test]
    fn jsonl_is_told_from_a_pretty_object() {
        assert!(is_jsonl(b"{\"a\":1}\n{\"a\":2}\n"));
        assert!(is_jsonl(b"\n\n{\"a\":1}\r\n"));
        assert!(!is_jsonl(b"{\n  \"a\": 1\n}\n"));
        assert!(!is_jsonl(b"[{\"a\":1},\n{\"a\":2}]"));
    }
}
