//! `bearing sync github`: backfill a repository's delivery history from
//! GitHub's REST API, mapped by the webhook mapping so a webhook and a
//! synced record of the same thing are one event.
//!
//! Each resource (deployments and their statuses, workflow runs and their
//! jobs, merged pull requests, pushes to the default branch, incident
//! issues) is read newest first down to where the last sync stopped (its
//! cursor in the store: a time and the first page's ETag, so an unchanged
//! listing costs one 304), or down to `--since`. A resource's events are
//! stored before its cursor moves, so an interrupted sync resumes.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bearing_events::github::{self, rest::Delivery};
use bearing_events::{Event, ParseContext};
use bearing_store::{DynStore, SyncCursor};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::github_api::{Client, Listing};
use crate::cmd::EXIT_INVALID;
use crate::cmd::common::{Global, Output, open_store, runtime};

#[derive(clap::Args)]
pub struct Args {
    /// The repository, `owner/name`.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// Read back to T instead of to where the last sync stopped (RFC 3339,
    /// a date, or an age such as `90d`); the first sync reads everything
    /// when neither is known.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// A token that can read the repository (contents, deployments,
    /// actions, issues, pull requests).
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// The API root; a GitHub Enterprise Server's is `https://HOST/api/v3`.
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    pub api_url: String,
    /// The longest wait for a rate limit to reset before giving up (the
    /// next sync resumes where this one stopped).
    #[arg(long, value_name = "D", default_value = "15m", value_parser = parse_wait)]
    pub max_wait: Duration,
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    let d = s
        .parse::<bearing_intent::Duration>()
        .map_err(|e| e.to_string())?;
    Ok(Duration::from_secs(d.as_secs()))
}

/// The cursors' `source`.
const SOURCE: &str = "github";
/// Items per page (GitHub's maximum).
const PER_PAGE: &str = "per_page=100";

/// What one resource's sync did.
#[derive(Debug, Default, Serialize)]
struct ResourceReport {
    resource: String,
    /// `read`, or `not modified` when the first page answered 304.
    status: &'static str,
    /// Objects read from the listing (not counting their statuses, jobs, …).
    read: usize,
    events: u64,
    accepted: u64,
    duplicates: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<String>,
    /// Objects the webhook mapping refused, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Summary {
    repo: String,
    api_url: String,
    requests: u64,
    not_modified: u64,
    events: u64,
    accepted: u64,
    duplicates: u64,
    resources: Vec<ResourceReport>,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let repo = args.repo.trim().trim_matches('/');
    let valid = repo.split('/').count() == 2
        && repo.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !valid {
        anyhow::bail!("invalid `--repo` `{}`: expected `owner/name`", args.repo);
    }
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| super::super::events::parse_time(s, now))
        .transpose()?;
    let rt = runtime()?;
    let store = rt.block_on(open_store(g))?;
    let mut sync = Sync {
        api: Client::new(&args.api_url, args.token.clone(), args.max_wait),
        store,
        rt: &rt,
        repo: repo.to_owned(),
        repository: Value::Null,
        ctx: ParseContext::new(now),
        since,
        now,
    };
    sync.repository = sync
        .api
        .object(&format!("/repos/{repo}"))
        .with_context(|| format!("cannot read the repository `{repo}`"))?;
    let resources = vec![
        sync.deployments()?,
        sync.workflow_runs()?,
        sync.pulls()?,
        sync.pushes()?,
        sync.issues()?,
    ];
    let summary = Summary {
        repo: repo.to_owned(),
        api_url: args.api_url.clone(),
        requests: sync.api.requests,
        not_modified: sync.api.not_modified,
        events: resources.iter().map(|r| r.events).sum(),
        accepted: resources.iter().map(|r| r.accepted).sum(),
        duplicates: resources.iter().map(|r| r.duplicates).sum(),
        resources,
    };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Output::Text => print_text(&summary),
    }
    let rejected = summary.resources.iter().any(|r| !r.rejected.is_empty());
    Ok(if rejected {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(s: &Summary) {
    println!(
        "synced {} from {}: {} events, {} new, {} duplicates ({} requests, {} not modified)",
        s.repo, s.api_url, s.events, s.accepted, s.duplicates, s.requests, s.not_modified
    );
    for r in &s.resources {
        if r.status == "read" {
            println!(
                "  {}: {} read, {} events, {} new, {} duplicates, {} skipped",
                r.resource,
                r.read,
                r.events,
                r.accepted,
                r.duplicates,
                r.skipped.len()
            );
        } else {
            println!("  {}: {}", r.resource, r.status);
        }
        for why in &r.rejected {
            println!("    rejected: {why}");
        }
    }
}

struct Sync<'a> {
    api: Client,
    store: DynStore,
    rt: &'a tokio::runtime::Runtime,
    repo: String,
    /// `GET /repos/{repo}`: the `repository` of every delivery.
    repository: Value,
    ctx: ParseContext,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

/// The time at `field` of a REST object.
fn time_at(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.get(field)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The earlier of two times, either of which may be unknown.
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An object's id (numbers and strings alike) for a URL path.
fn id(v: &Value, field: &str) -> Option<String> {
    match v.get(field)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

impl Sync<'_> {
    fn cursor(&self, resource: &str) -> anyhow::Result<Option<SyncCursor>> {
        self.rt
            .block_on(self.store.sync_cursor(SOURCE, &self.repo, resource))
            .context("cannot read the sync cursor")
    }

    /// Where reading stops (`--since`, else the cursor) and the ETag to send
    /// (none with `--since`: a re-read is asked for).
    fn start(&self, cursor: Option<&SyncCursor>) -> (Option<DateTime<Utc>>, Option<String>) {
        match self.since {
            Some(t) => (Some(t), None),
            None => (
                cursor.and_then(|c| c.since),
                cursor.and_then(|c| c.etag.clone()),
            ),
        }
    }

    /// Maps the deliveries, stores their events, then moves the cursor.
    fn finish(
        &self,
        resource: &str,
        read: usize,
        deliveries: Vec<Delivery>,
        etag: Option<String>,
        since: Option<DateTime<Utc>>,
    ) -> anyhow::Result<ResourceReport> {
        let mut report = ResourceReport {
            resource: resource.to_owned(),
            status: "read",
            read,
            ..ResourceReport::default()
        };
        let mut events: Vec<Event> = Vec::new();
        let mut seen = HashSet::new();
        for d in deliveries {
            match github::map_delivery(d.event, &d.payload, &self.ctx) {
                Ok(parsed) => {
                    report
                        .skipped
                        .extend(parsed.skipped.into_iter().map(|s| s.reason));
                    for e in parsed.events {
                        if seen.insert(e.id.clone()) {
                            events.push(e);
                        }
                    }
                }
                Err(e) => {
                    report
                        .rejected
                        .push(format!("{} {}: {e}", d.event, describe(&d.payload)))
                }
            }
        }
        let outcome = self
            .rt
            .block_on(self.store.ingest(&events))
            .with_context(|| format!("cannot store the synced {resource}"))?;
        report.events = events.len() as u64;
        report.accepted = outcome.accepted;
        report.duplicates = outcome.duplicates;
        let cursor = SyncCursor {
            source: SOURCE.to_owned(),
            scope: self.repo.clone(),
            resource: resource.to_owned(),
            etag,
            since,
            updated_at: self.now,
        };
        self.rt
            .block_on(self.store.put_sync_cursor(&cursor))
            .context("cannot store the sync cursor")?;
        Ok(report)
    }

    fn not_modified(resource: &str) -> ResourceReport {
        ResourceReport {
            resource: resource.to_owned(),
            status: "not modified",
            ..ResourceReport::default()
        }
    }

    /// Deployments, newest first, and every status of each. The next sync
    /// starts at the oldest deployment still without an outcome (its
    /// statuses may grow), else at the newest.
    fn deployments(&mut self) -> anyhow::Result<ResourceReport> {
        const RESOURCE: &str = "deployments";
        let cursor = self.cursor(RESOURCE)?;
        let (from, etag) = self.start(cursor.as_ref());
        let path = format!("/repos/{}/deployments?{PER_PAGE}", self.repo);
        let older =
            |d: &Value| from.is_some_and(|f| time_at(d, "created_at").is_some_and(|t| t < f));
        let (items, etag) = match self.api.list(&path, None, etag.as_deref(), older)? {
            Listing::NotModified => return Ok(Self::not_modified(RESOURCE)),
            Listing::Items { items, etag } => (items, etag),
        };
        let mut deliveries = Vec::new();
        let mut pending: Option<DateTime<Utc>> = None;
        let mut newest = from;
        for d in &items {
            let Some(dep_id) = id(d, "id") else { continue };
            deliveries.push(github::rest::deployment(&self.repository, d));
            let statuses = self.api.list_all(
                &format!(
                    "/repos/{}/deployments/{dep_id}/statuses?{PER_PAGE}",
                    self.repo
                ),
                None,
            )?;
            let decided = statuses.iter().any(|s| {
                matches!(
                    s.get("state").and_then(Value::as_str),
                    Some("success" | "failure" | "error" | "inactive")
                )
            });
            let created = time_at(d, "created_at");
            if !decided {
                pending = earliest(pending, created);
            }
            newest = newest.max(created);
            // Oldest first, the order GitHub sent them in.
            for s in statuses.iter().rev() {
                deliveries.push(github::rest::deployment_status(&self.repository, d, s));
            }
        }
        self.finish(RESOURCE, items.len(), deliveries, etag, pending.or(newest))
    }

    /// Workflow runs, newest first (each earlier attempt too), with every
    /// job of each. The next sync starts at the oldest run not completed,
    /// else at the newest.
    fn workflow_runs(&mut self) -> anyhow::Result<ResourceReport> {
        const RESOURCE: &str = "workflow_runs";
        let cursor = self.cursor(RESOURCE)?;
        let (from, etag) = self.start(cursor.as_ref());
        let repo = self.repo.clone();
        let older =
            |r: &Value| from.is_some_and(|f| time_at(r, "created_at").is_some_and(|t| t < f));
        let listing = self.api.list(
            &format!("/repos/{repo}/actions/runs?{PER_PAGE}"),
            Some("workflow_runs"),
            etag.as_deref(),
            older,
        )?;
        let (runs, etag) = match listing {
            Listing::NotModified => return Ok(Self::not_modified(RESOURCE)),
            Listing::Items { items, etag } => (items, etag),
        };
        let workflows: BTreeMap<String, Value> = if runs.is_empty() {
            BTreeMap::new()
        } else {
            self.api
                .list_all(
                    &format!("/repos/{repo}/actions/workflows?{PER_PAGE}"),
                    Some("workflows"),
                )?
                .into_iter()
                .filter_map(|w| Some((id(&w, "id")?, w)))
                .collect()
        };
        let mut deliveries = Vec::new();
        let mut running: Option<DateTime<Utc>> = None;
        let mut newest = from;
        for run in &runs {
            let Some(run_id) = id(run, "id") else {
                continue;
            };
            let workflow = id(run, "workflow_id").and_then(|w| workflows.get(&w));
            let attempts = run.get("run_attempt").and_then(Value::as_u64).unwrap_or(1);
            for n in 1..attempts {
                let earlier = self
                    .api
                    .object(&format!("/repos/{repo}/actions/runs/{run_id}/attempts/{n}"))?;
                deliveries.push(github::rest::workflow_run(
                    &self.repository,
                    workflow,
                    &earlier,
                ));
            }
            deliveries.push(github::rest::workflow_run(&self.repository, workflow, run));
            let jobs = self.api.list_all(
                &format!("/repos/{repo}/actions/runs/{run_id}/jobs?filter=all&{PER_PAGE}"),
                Some("jobs"),
            )?;
            for job in &jobs {
                deliveries.push(github::rest::workflow_job(&self.repository, job));
            }
            let created = time_at(run, "created_at");
            if run.get("status").and_then(Value::as_str) != Some("completed") {
                running = earliest(running, created);
            }
            newest = newest.max(created);
        }
        self.finish(RESOURCE, runs.len(), deliveries, etag, running.or(newest))
    }

    /// Closed pull requests, most recently updated first; each merged one
    /// read whole (the listing lacks the counts the webhook carries).
    fn pulls(&mut self) -> anyhow::Result<ResourceReport> {
        const RESOURCE: &str = "pulls";
        let cursor = self.cursor(RESOURCE)?;
        let (from, etag) = self.start(cursor.as_ref());
        let repo = self.repo.clone();
        let older =
            |p: &Value| from.is_some_and(|f| time_at(p, "updated_at").is_some_and(|t| t < f));
        let listing = self.api.list(
            &format!("/repos/{repo}/pulls?state=closed&sort=updated&direction=desc&{PER_PAGE}"),
            None,
            etag.as_deref(),
            older,
        )?;
        let (pulls, etag) = match listing {
            Listing::NotModified => return Ok(Self::not_modified(RESOURCE)),
            Listing::Items { items, etag } => (items, etag),
        };
        let mut deliveries = Vec::new();
        let mut newest = from;
        for pr in &pulls {
            newest = newest.max(time_at(pr, "updated_at"));
            if pr.get("merged_at").is_none_or(Value::is_null) {
                continue;
            }
            let Some(number) = id(pr, "number") else {
                continue;
            };
            let full = self.api.object(&format!("/repos/{repo}/pulls/{number}"))?;
            deliveries.extend(github::rest::merged_pull_request(&self.repository, &full));
        }
        self.finish(RESOURCE, pulls.len(), deliveries, etag, newest)
    }

    /// Pushes to the default branch from the repository's activity, newest
    /// first, each with its commits from the compare between `before` and
    /// `after`.
    fn pushes(&mut self) -> anyhow::Result<ResourceReport> {
        const RESOURCE: &str = "pushes";
        let cursor = self.cursor(RESOURCE)?;
        let (from, etag) = self.start(cursor.as_ref());
        let repo = self.repo.clone();
        let branch = self
            .repository
            .get("default_branch")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_owned();
        let older =
            |a: &Value| from.is_some_and(|f| time_at(a, "timestamp").is_some_and(|t| t < f));
        let listing = self.api.list(
            &format!(
                "/repos/{repo}/activity?ref={}&{PER_PAGE}",
                query_value(&format!("refs/heads/{branch}"))
            ),
            None,
            etag.as_deref(),
            older,
        )?;
        let (activity, etag) = match listing {
            Listing::NotModified => return Ok(Self::not_modified(RESOURCE)),
            Listing::Items { items, etag } => (items, etag),
        };
        let mut deliveries = Vec::new();
        let mut newest = from;
        let zero = |s: &str| s.bytes().all(|c| c == b'0');
        for a in &activity {
            newest = newest.max(time_at(a, "timestamp"));
            // A merge from the web (`pr_merge`, `merge_queue_merge`) is a
            // push to the branch like any other; creating or deleting the
            // branch is not a change.
            let kind = a.get("activity_type").and_then(Value::as_str);
            if !matches!(
                kind,
                Some("push" | "force_push" | "pr_merge" | "merge_queue_merge")
            ) {
                continue;
            }
            let (Some(before), Some(after)) = (id(a, "before"), id(a, "after")) else {
                continue;
            };
            let commits = if zero(&before) {
                vec![self.api.object(&format!("/repos/{repo}/commits/{after}"))?]
            } else {
                self.api.list_all(
                    &format!("/repos/{repo}/compare/{before}...{after}?{PER_PAGE}"),
                    Some("commits"),
                )?
            };
            deliveries.push(github::rest::push(&self.repository, a, &commits));
        }
        // Oldest push first, as they were delivered.
        deliveries.reverse();
        self.finish(RESOURCE, activity.len(), deliveries, etag, newest)
    }

    /// Issues with an incident label, most recently updated first, each
    /// with its events (labelled, closed, reopened).
    fn issues(&mut self) -> anyhow::Result<ResourceReport> {
        let labels = github::incident_labels(&self.ctx);
        let mut merged = ResourceReport {
            resource: "issues".to_owned(),
            status: "not modified",
            ..ResourceReport::default()
        };
        for label in &labels {
            let resource = if labels.len() == 1 {
                "issues".to_owned()
            } else {
                format!("issues:{label}")
            };
            let r = self.issues_labelled(&resource, label, &labels)?;
            if r.status == "read" {
                merged.status = "read";
            }
            merged.read += r.read;
            merged.events += r.events;
            merged.accepted += r.accepted;
            merged.duplicates += r.duplicates;
            merged.skipped.extend(r.skipped);
            merged.rejected.extend(r.rejected);
        }
        Ok(merged)
    }

    fn issues_labelled(
        &mut self,
        resource: &str,
        label: &str,
        labels: &[String],
    ) -> anyhow::Result<ResourceReport> {
        let cursor = self.cursor(resource)?;
        let (from, etag) = self.start(cursor.as_ref());
        let repo = self.repo.clone();
        let older =
            |i: &Value| from.is_some_and(|f| time_at(i, "updated_at").is_some_and(|t| t < f));
        let listing = self.api.list(
            &format!(
                "/repos/{repo}/issues?labels={}&state=all&sort=updated&direction=desc&{PER_PAGE}",
                query_value(label)
            ),
            None,
            etag.as_deref(),
            older,
        )?;
        let (issues, etag) = match listing {
            Listing::NotModified => return Ok(Self::not_modified(resource)),
            Listing::Items { items, etag } => (items, etag),
        };
        let mut deliveries = Vec::new();
        let mut newest = from;
        for issue in &issues {
            newest = newest.max(time_at(issue, "updated_at"));
            // The issues listing includes pull requests.
            if issue.get("pull_request").is_some() {
                continue;
            }
            let Some(number) = id(issue, "number") else {
                continue;
            };
            let events = self.api.list_all(
                &format!("/repos/{repo}/issues/{number}/events?{PER_PAGE}"),
                None,
            )?;
            deliveries.extend(github::rest::issue_history(
                &self.repository,
                issue,
                &events,
                labels,
            ));
        }
        self.finish(resource, issues.len(), deliveries, etag, newest)
    }
}

/// Percent-encodes a query parameter value.
fn query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a delivery is about, for a message: `deployment 42`, `issue #3`, ….
fn describe(payload: &Value) -> String {
    for (key, field, prefix) in [
        ("deployment_status", "id", "status "),
        ("deployment", "id", "deployment "),
        ("workflow_job", "id", "job "),
        ("workflow_run", "id", "run "),
        ("pull_request", "number", "#"),
        ("issue", "number", "#"),
    ] {
        if let Some(v) = payload.get(key).and_then(|o| id(o, field)) {
            return format!("{prefix}{v}");
        }
    }
    payload
        .get("after")
        .and_then(Value::as_str)
        .map_or_else(String::new, |a| format!("push {a}"))
}
