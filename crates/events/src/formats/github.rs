//! GitHub webhook deliveries: signature check and mapping to events.
//!
//! Input: one delivery body (its event from `X-GitHub-Event`, i.e. the context's
//! `github_event`, or from the payload's shape), or deliveries as webhook
//! relays and archives keep them: `{"event", "delivery", "payload"}` objects,
//! one per line (JSONL) or in a JSON array. An event name GitHub does not send
//! is an error with a "did you mean", not a silent skip.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::*;

use super::json::{Get, opt_time, req_str, req_time};
use super::{ParseContext, ParseError, Parsed, RecordRef};

pub mod rest;

/// Every event name GitHub sends in `X-GitHub-Event` (the webhook events and
/// payloads reference).
pub const EVENT_NAMES: &[&str] = &[
    "branch_protection_configuration",
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "code_scanning_alert",
    "commit_comment",
    "create",
    "custom_property",
    "custom_property_values",
    "delete",
    "dependabot_alert",
    "deploy_key",
    "deployment",
    "deployment_protection_rule",
    "deployment_review",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "github_app_authorization",
    "gollum",
    "installation",
    "installation_repositories",
    "installation_target",
    "issue_comment",
    "issue_dependencies",
    "issues",
    "label",
    "marketplace_purchase",
    "member",
    "membership",
    "merge_group",
    "meta",
    "milestone",
    "org_block",
    "organization",
    "package",
    "page_build",
    "personal_access_token_request",
    "ping",
    "project",
    "project_card",
    "project_column",
    "projects_v2",
    "projects_v2_item",
    "projects_v2_status_update",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "push",
    "registry_package",
    "release",
    "repository",
    "repository_advisory",
    "repository_dispatch",
    "repository_import",
    "repository_ruleset",
    "repository_vulnerability_alert",
    "secret_scanning_alert",
    "secret_scanning_alert_location",
    "secret_scanning_scan",
    "security_advisory",
    "security_and_analysis",
    "sponsorship",
    "star",
    "status",
    "sub_issues",
    "team",
    "team_add",
    "watch",
    "workflow_dispatch",
    "workflow_job",
    "workflow_run",
];

/// The events Bearing turns into events (the others are skipped with a reason).
pub const USED_EVENTS: &[&str] = &[
    "push",
    "pull_request",
    "deployment",
    "deployment_status",
    "workflow_run",
    "workflow_job",
    "issues",
];

/// Checks an `X-GitHub-Event` name (`--github-event`): a name GitHub does not
/// send is refused, with the nearest name GitHub does send.
pub fn check_event_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if EVENT_NAMES.contains(&name) {
        return Ok(());
    }
    let lower = name.to_ascii_lowercase().replace('-', "_");
    let near = EVENT_NAMES
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, c)| *d <= (name.chars().count() / 3).max(2) || c.starts_with(&lower))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    let hint = match near {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("Bearing reads `{}`", USED_EVENTS.join("`, `")),
    };
    Err(format!(
        "unknown GitHub event `{}`: not an `X-GitHub-Event` name GitHub sends; {hint}",
        super::truncate(name, 60)
    ))
}

/// Why a delivery's `X-Hub-Signature-256` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing `X-Hub-Signature-256` header; the webhook must be configured with a secret")]
    Missing,
    #[error(
        "malformed `X-Hub-Signature-256` header `{0}`: expected `sha256=` followed by 64 hex digits"
    )]
    Malformed(String),
    #[error("`X-Hub-Signature-256` does not match the body: wrong secret, or the body was altered")]
    Mismatch,
}

/// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of body>` in constant time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let malformed = || SignatureError::Malformed(super::truncate(header, 80));
    let hex_sig = header.strip_prefix("sha256=").ok_or_else(malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| malformed())?;
    if given.len() != 32 {
        return Err(malformed());
    }
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signature header value GitHub would send for `body` (for tests and replay tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

pub(super) fn looks_like_webhook(m: &Map<String, Value>) -> bool {
    event_from_shape(m).is_some()
}

/// The `X-GitHub-Event` name implied by a payload's shape.
pub(super) fn event_from_shape(m: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| m.contains_key(k);
    if !(has("repository") || has("sender") || has("hook")) {
        return None;
    }
    Some(if has("deployment_status") {
        "deployment_status"
    } else if has("deployment") {
        "deployment"
    } else if has("workflow_job") {
        "workflow_job"
    } else if has("workflow_run") {
        "workflow_run"
    } else if has("pull_request") && !has("review") && !has("comment") {
        "pull_request"
    } else if has("issue") && !has("comment") {
        "issues"
    } else if has("check_run") {
        "check_run"
    } else if has("check_suite") {
        "check_suite"
    } else if has("release") {
        "release"
    } else if has("ref") && has("commits") && has("pusher") {
        "push"
    } else if has("hook") && has("zen") {
        "ping"
    } else {
        return None;
    })
}

/// A relay's or archive's record of one delivery: `{"event", "payload"}` (and
/// usually `delivery`, the `X-GitHub-Delivery` id).
pub(super) fn looks_like_delivery(m: &Map<String, Value>) -> bool {
    m.get("event").is_some_and(Value::is_string)
        && m.get("payload")
            .is_some_and(|p| p.is_object() || p.is_string())
}

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let records = super::json::records(bytes)?;
    let many = records.len() > 1 || records.first().is_some_and(|(r, _)| r.is_some());
    let mut parsed = Parsed::default();
    for (record, v) in records {
        let at = |e: ParseError| match record {
            Some(r) => e.with_record(r),
            None => e,
        };
        let Value::Object(m) = &v else {
            return Err(at(ParseError::new(format!(
                "expected a GitHub webhook payload (a JSON object), found {}",
                super::json::kind_of(&v)
            ))));
        };
        if looks_like_delivery(m) {
            let name = v.str_at("event").unwrap_or_default().trim();
            if let Some(flag) = ctx.github_event.as_deref().map(str::trim)
                && flag != name
            {
                return Err(at(ParseError::new(format!(
                    "the delivery is a `{}` event but `--github-event` says `{}`; drop the flag for recorded deliveries",
                    super::truncate(name, 60),
                    super::truncate(flag, 60)
                ))
                .with_field("event")));
            }
            check_event_name(name).map_err(|e| at(ParseError::new(e).with_field("event")))?;
            let payload = match &v["payload"] {
                // Some relays keep the raw body as a string.
                Value::String(body) => serde_json::from_str::<Value>(body).map_err(|e| {
                    at(ParseError::new(format!(
                        "the payload string is not JSON: {}",
                        super::json::message(&e)
                    ))
                    .with_field("payload"))
                })?,
                p => p.clone(),
            };
            if !payload.is_object() {
                return Err(at(ParseError::new(format!(
                    "expected a GitHub webhook payload (a JSON object), found {}",
                    super::json::kind_of(&payload)
                ))
                .with_field("payload")));
            }
            let delivery = v.str_at("delivery").map(str::to_owned);
            let name = name.to_owned();
            let before = parsed.events.len();
            delivery_event(&payload, &name, ctx, &mut parsed, record)
                .map_err(|e| at(e.with_field("payload")))?;
            if let (Some(id), Some(event)) = (delivery, parsed.events.get_mut(before)) {
                event
                    .attributes
                    .insert("github.delivery".into(), Value::from(id));
            }
        } else {
            let name = match ctx.github_event.as_deref() {
                Some(name) => {
                    let name = name.trim();
                    check_event_name(name).map_err(ParseError::new)?;
                    name.to_owned()
                }
                None => event_from_shape(m).map(str::to_owned).ok_or_else(|| {
                    at(ParseError::new(if many {
                        "cannot tell which GitHub event this payload is; record deliveries as `{\"event\", \"delivery\", \"payload\"}`"
                    } else {
                        "cannot tell which GitHub event this payload is; pass the `X-GitHub-Event` header value (e.g. `--github-event push`)"
                    }))
                })?,
            };
            delivery_event(&v, &name, ctx, &mut parsed, record).map_err(at)?;
        }
    }
    Ok(parsed)
}

/// Maps one delivery body of event `event_name` (the `X-GitHub-Event`
/// header) with the same code as [`crate::parse`] does for webhooks: one
/// event or one skip. `bearing sync github` feeds it the deliveries
/// [`rest`] builds from REST API objects, so both paths give one event id.
pub fn map_delivery(
    event_name: &str,
    payload: &Value,
    ctx: &ParseContext,
) -> Result<Parsed, ParseError> {
    check_event_name(event_name).map_err(ParseError::new)?;
    let mut parsed = Parsed::default();
    delivery_event(payload, event_name.trim(), ctx, &mut parsed, None)?;
    for e in &mut parsed.events {
        ctx.fill_defaults(e);
    }
    Ok(parsed)
}

/// The issue labels that mark an incident (`ParseContext::incident_labels`,
/// by default `incident`), lower case.
pub fn incident_labels(ctx: &ParseContext) -> Vec<String> {
    if ctx.incident_labels.is_empty() {
        vec!["incident".to_owned()]
    } else {
        ctx.incident_labels
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect()
    }
}

/// Maps one delivery body of event `event_name` into `parsed`: one event or one skip.
fn delivery_event(
    v: &Value,
    event_name: &str,
    ctx: &ParseContext,
    parsed: &mut Parsed,
    record: Option<RecordRef>,
) -> Result<(), ParseError> {
    let event_name = event_name.to_owned();
    let repo = v.str_at("repository.full_name").map(str::to_owned);
    let mapped = match event_name.as_str() {
        "push" => push(v, repo.as_deref())?,
        "pull_request" => pull_request(v, repo.as_deref())?,
        "deployment" => deployment(v)?,
        "deployment_status" => deployment_status(v)?,
        "workflow_run" => workflow_run(v)?,
        "workflow_job" => workflow_job(v)?,
        "issues" => issue(v, repo.as_deref(), ctx)?,
        "check_run" | "check_suite" => Err(format!(
            "GitHub `{event_name}` events are not counted as pipeline runs (GitHub Actions reports the same work as `workflow_run`/`workflow_job`); subscribe the webhook to `workflow_run`"
        )),
        "release" => Err(
            "GitHub `release` events are not deployments; send `deployment_status` events (or CDEvents) for deployments".to_owned(),
        ),
        "ping" => Err("GitHub `ping` event: the webhook is reachable; nothing to store".to_owned()),
        other => Err(format!("GitHub event `{other}` is not used by Bearing")),
    };
    match mapped {
        Ok(mut event) => {
            // The repository is the default service; a deployment's
            // `payload.service` names it explicitly (a monorepo's deployments
            // usually do), and `--service` overrides both.
            event.service = ctx
                .service
                .clone()
                .or_else(|| {
                    matches!(event.payload, Payload::Deployment(_))
                        .then(|| v.str_at("deployment.payload.service"))
                        .flatten()
                        .filter(|s| !s.trim().is_empty())
                        .map(str::to_owned)
                })
                .or_else(|| v.str_at("repository.name").map(str::to_owned));
            if let Some(url) = v.str_at("repository.html_url") {
                event.links.push(Link {
                    rel: "repository".into(),
                    target: url.to_owned(),
                });
            }
            event
                .attributes
                .insert("github.event".into(), Value::from(event_name.as_str()));
            if let Some(a) = v.str_at("action") {
                event
                    .attributes
                    .insert("github.action".into(), Value::from(a));
            }
            parsed.push(event, record);
        }
        Err(reason) => parsed.skip(record, reason),
    }
    Ok(())
}

/// Either an event or the reason the delivery is skipped.
type Mapped = Result<Event, String>;

/// A numeric or string id at `path` (GitHub and GitLab ids).
pub(super) fn id_of(v: &Value, path: &str) -> Result<String, ParseError> {
    match v.path(path) {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(other) => Err(ParseError::new(format!(
            "expected a numeric id (a whole number, 0 or more), found {}",
            super::json::kind_of(other)
        ))
        .with_field(path)),
        None => Err(ParseError::new("missing; this field is required").with_field(path)),
    }
}

fn push(v: &Value, repo: Option<&str>) -> Result<Mapped, ParseError> {
    let git_ref = req_str(v, "ref")?;
    if v.bool_at("deleted") == Some(true) {
        return Ok(Err(format!(
            "push deleting `{git_ref}`: no commits to count"
        )));
    }
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(Err(format!(
            "push to `{git_ref}` (not a branch): only pushes to the default branch are changes"
        )));
    };
    let default = v
        .str_at("repository.default_branch")
        .or_else(|| v.str_at("repository.master_branch"));
    if let Some(default) = default
        && branch != default
    {
        return Ok(Err(format!(
            "push to branch `{branch}`, not the default branch `{default}`: only the main line counts"
        )));
    }
    let after = req_str(v, "after")?;
    // The pushed commits are listed oldest first, each on top of the one
    // before it and the first on top of `before` (unless the push rewrote
    // history): that chain is the ancestry a deployment of `after` walks.
    // A merge commit's real parents differ, but the set of commits reachable
    // from it that were not on the branch before is the same.
    let forced = v.bool_at("forced") == Some(true);
    let mut prev = v
        .str_at("before")
        .filter(|b| !forced && !b.is_empty() && !b.bytes().all(|c| c == b'0'))
        .map(str::to_owned);
    let mut commits = Vec::new();
    for (i, c) in v.arr_at("commits").iter().enumerate() {
        let field = |e: ParseError| e.with_field(format!("commits[{i}]"));
        let sha = req_str(c, "id").map_err(field)?.to_owned();
        let parents = prev.replace(sha.clone()).into_iter().collect();
        commits.push(Commit {
            sha,
            authored_at: req_time(c, "timestamp").map_err(field)?,
            parents,
            author: c
                .str_at("author.username")
                .or_else(|| c.str_at("author.name"))
                .map(str::to_owned),
            files: commit_files(c),
        });
    }
    if commits.is_empty() {
        return Ok(Err(format!("push to `{git_ref}` with no commits")));
    }
    let listed_head = commits.iter().any(|c| c.sha == after);
    // The push happened when its head commit landed; fall back to the last commit.
    let time = opt_time(v, "head_commit.timestamp")?
        .or_else(|| commits.last().map(|c| c.authored_at))
        .unwrap_or_default();
    let repo_id = id_of(v, "repository.id")?;
    let mut e = Event::new(
        format!("github:push:{repo_id}:{after}"),
        "github",
        time,
        Payload::Change(Change {
            change_id: format!("push:{after}"),
            repo: repo.map(str::to_owned),
            title: v
                .str_at("head_commit.message")
                .map(|m| m.lines().next().unwrap_or(m).to_owned()),
            author: v.str_at("pusher.name").map(str::to_owned),
            commits,
            merged_at: Some(time),
            // The head commit is the last listed commit, a real commit with
            // its own authored time, not a squash commit standing for the
            // others; only a head the list lacks is named separately.
            merge_commit: (!listed_head).then(|| after.to_owned()),
            files_changed: None,
            additions: None,
            deletions: None,
            labels: Vec::new(),
        }),
    );
    if let Some(url) = v.str_at("compare") {
        e.links.push(Link {
            rel: "url".into(),
            target: url.to_owned(),
        });
    }
    Ok(Ok(e))
}

/// The paths a pushed commit added, removed or modified, each once.
fn commit_files(c: &Value) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for key in ["added", "removed", "modified"] {
        for f in c.arr_at(key) {
            if let Some(f) = f.as_str()
                && !files.iter().any(|x| x == f)
            {
                files.push(f.to_owned());
            }
        }
    }
    files
}

fn pull_request(v: &Value, repo: Option<&str>) -> Result<Mapped, ParseError> {
    let action = v.str_at("action").unwrap_or_default();
    let number = id_of(v, "pull_request.number").or_else(|_| id_of(v, "number"))?;
    if action != "closed" {
        return Ok(Err(format!(
            "pull request #{number} `{action}`: only merged pull requests are changes"
        )));
    }
    let Some(merged_at) = opt_time(v, "pull_request.merged_at")? else {
        return Ok(Err(format!(
            "pull request #{number} closed without merging"
        )));
    };
    let pr = v.path("pull_request").unwrap_or(&Value::Null);
    let count = |path: &str| -> Result<Option<u32>, ParseError> {
        match pr.path(path) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ParseError::new(format!(
                        "expected a count, found {}",
                        super::json::kind_of(x)
                    ))
                    .with_field(format!("pull_request.{path}"))
                }),
        }
    };
    let pr_id = id_of(v, "pull_request.id")?;
    let mut e = Event::new(
        format!("github:pull_request:{pr_id}:merged"),
        "github",
        merged_at,
        Payload::Change(Change {
            change_id: match repo {
                Some(r) => format!("{r}#{number}"),
                None => format!("#{number}"),
            },
            repo: repo.map(str::to_owned),
            title: pr.str_at("title").map(str::to_owned),
            author: pr.str_at("user.login").map(str::to_owned),
            // The payload carries the count, not the commits (see attributes).
            commits: Vec::new(),
            merged_at: Some(merged_at),
            merge_commit: pr.str_at("merge_commit_sha").map(str::to_owned),
            files_changed: count("changed_files")?,
            additions: count("additions")?,
            deletions: count("deletions")?,
            labels: pr
                .arr_at("labels")
                .iter()
                .filter_map(|l| l.str_at("name").map(str::to_owned))
                .collect(),
        }),
    );
    if let Some(n) = count("commits")? {
        e.attributes.insert("commit_count".into(), Value::from(n));
    }
    for (key, path) in [
        ("head_sha", "head.sha"),
        ("base_ref", "base.ref"),
        ("created_at", "created_at"),
    ] {
        if let Some(s) = pr.str_at(path) {
            e.attributes.insert(key.into(), Value::from(s));
        }
    }
    if let Some(url) = pr.str_at("html_url") {
        e.links.push(Link {
            rel: "url".into(),
            target: url.to_owned(),
        });
    }
    Ok(Ok(e))
}

fn deployment_payload(v: &Value, status: Status) -> Result<Deployment, ParseError> {
    let d = v.path("deployment").unwrap_or(&Value::Null);
    let version = d
        .str_at("payload.version")
        .map(str::to_owned)
        .or_else(|| d.str_at("ref").map(str::to_owned));
    Ok(Deployment {
        deployment_id: id_of(v, "deployment.id")?,
        version,
        commit: d.str_at("sha").map(str::to_owned),
        commits: Vec::new(),
        status,
        started_at: opt_time(v, "deployment.created_at")?,
        finished_at: None,
        strategy: d.str_at("payload.strategy").map(str::to_owned),
        labels: Vec::new(),
    })
}

fn deployment(v: &Value) -> Result<Mapped, ParseError> {
    let action = v.str_at("action").unwrap_or("created");
    if action != "created" {
        return Ok(Err(format!(
            "deployment `{action}` is not a deployment outcome"
        )));
    }
    let payload = deployment_payload(v, Status::InProgress)?;
    let time = req_time(v, "deployment.created_at")?;
    let mut e = Event::new(
        format!("github:deployment:{}", payload.deployment_id),
        "github",
        time,
        Payload::Deployment(payload),
    );
    e.environment = v.str_at("deployment.environment").map(str::to_owned);
    Ok(Ok(e))
}

fn deployment_status(v: &Value) -> Result<Mapped, ParseError> {
    let state = req_str(v, "deployment_status.state")?;
    let status = match state {
        "success" => Status::Success,
        "failure" | "error" => Status::Failure,
        "pending" | "queued" | "in_progress" => Status::InProgress,
        "inactive" => {
            return Ok(Err(
                "deployment status `inactive`: the deployment was superseded; its outcome was reported earlier".to_owned(),
            ));
        }
        other => {
            return Err(ParseError::new(format!(
                "expected `success`, `failure`, `error`, `pending`, `queued`, `in_progress` or `inactive`, found `{}`",
                super::truncate(other, 40)
            ))
            .with_field("deployment_status.state"));
        }
    };
    let mut payload = deployment_payload(v, status)?;
    let time = req_time(v, "deployment_status.created_at")?;
    if status != Status::InProgress {
        payload.finished_at = Some(time);
    }
    let status_id = id_of(v, "deployment_status.id")?;
    let mut e = Event::new(
        format!("github:deployment_status:{status_id}"),
        "github",
        time,
        Payload::Deployment(payload),
    );
    e.environment = v
        .str_at("deployment_status.environment")
        .or_else(|| v.str_at("deployment.environment"))
        .map(str::to_owned);
    for path in ["deployment_status.target_url", "deployment_status.log_url"] {
        if let Some(url) = v.str_at(path) {
            e.links.push(Link {
                rel: "url".into(),
                target: url.to_owned(),
            });
        }
    }
    Ok(Ok(e))
}

/// GitHub's `status`/`conclusion` pair as a run status.
fn run_status(status: &str, conclusion: Option<&str>, field: &str) -> Result<Status, ParseError> {
    if status != "completed" {
        return Ok(Status::InProgress);
    }
    Ok(match conclusion {
        Some("success") | Some("neutral") => Status::Success,
        Some("failure") | Some("timed_out") | Some("startup_failure") | Some("action_required") => {
            Status::Failure
        }
        Some("cancelled") | Some("skipped") | Some("stale") => Status::Cancelled,
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected a GitHub conclusion (`success`, `failure`, `cancelled`, …), found `{}`",
                super::truncate(other, 40)
            ))
            .with_field(field));
        }
        None => return Err(ParseError::new("missing for a completed run").with_field(field)),
    })
}

fn workflow_run(v: &Value) -> Result<Mapped, ParseError> {
    let r = v.path("workflow_run").unwrap_or(&Value::Null);
    let status_text = req_str(v, "workflow_run.status")?;
    let status = run_status(
        status_text,
        r.str_at("conclusion"),
        "workflow_run.conclusion",
    )?;
    let run_id = id_of(v, "workflow_run.id")?;
    let attempt = v.u64_at("workflow_run.run_attempt").unwrap_or(1);
    let started =
        opt_time(v, "workflow_run.run_started_at")?.or(opt_time(v, "workflow_run.created_at")?);
    let updated = opt_time(v, "workflow_run.updated_at")?;
    let finished = if status == Status::InProgress {
        None
    } else {
        updated
    };
    let time = finished.or(started).or(updated).ok_or_else(|| {
        ParseError::new("missing; expected `run_started_at`, `created_at` or `updated_at`")
            .with_field("workflow_run")
    })?;
    let pipeline = v
        .str_at("workflow.name")
        .or_else(|| r.str_at("name"))
        .or_else(|| v.str_at("workflow.path"))
        .or_else(|| r.str_at("path"))
        .unwrap_or("workflow")
        .to_owned();
    let mut e = Event::new(
        format!("github:workflow_run:{run_id}:{attempt}:{status_text}"),
        "github",
        time,
        Payload::PipelineRun(PipelineRun {
            run_id: format!("{run_id}:{attempt}"),
            pipeline,
            status,
            started_at: started,
            finished_at: finished,
            commit: r.str_at("head_sha").map(str::to_owned),
            url: r.str_at("html_url").map(str::to_owned),
            queued_at: opt_time(v, "workflow_run.created_at")?,
            attempt: u32::try_from(attempt).ok(),
            branch: r.str_at("head_branch").map(str::to_owned),
            job: None,
        }),
    );
    if let Some(b) = r.str_at("head_branch") {
        e.attributes.insert("branch".into(), Value::from(b));
    }
    if let Some(t) = r.str_at("event") {
        e.attributes.insert("trigger".into(), Value::from(t));
    }
    Ok(Ok(e))
}

fn workflow_job(v: &Value) -> Result<Mapped, ParseError> {
    let j = v.path("workflow_job").unwrap_or(&Value::Null);
    let status_text = req_str(v, "workflow_job.status")?;
    let status = run_status(
        status_text,
        j.str_at("conclusion"),
        "workflow_job.conclusion",
    )?;
    let job_id = id_of(v, "workflow_job.id")?;
    let attempt = v.u64_at("workflow_job.run_attempt").unwrap_or(1);
    // A queued job, or one `waiting` on an environment's protection rule,
    // carries `started_at` equal to `created_at` though nothing ran yet.
    let started = if matches!(status_text, "queued" | "waiting") {
        None
    } else {
        opt_time(v, "workflow_job.started_at")?
    };
    let finished = opt_time(v, "workflow_job.completed_at")?;
    let queued = opt_time(v, "workflow_job.created_at")?;
    let time = finished.or(started).or(queued).ok_or_else(|| {
        ParseError::new("missing; expected `started_at` or `created_at`").with_field("workflow_job")
    })?;
    let name = req_str(v, "workflow_job.name")?;
    let run = id_of(v, "workflow_job.run_id")?;
    let labels = match j.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.as_str().map(str::to_owned).ok_or_else(|| {
                    ParseError::new(format!(
                        "expected a string, found {}",
                        super::json::kind_of(l)
                    ))
                    .with_field(format!("workflow_job.labels.{i}"))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected an array of runner labels, found {}",
                super::json::kind_of(other)
            ))
            .with_field("workflow_job.labels"));
        }
    };
    let steps = match j.get("steps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => (0..a.len())
            .map(|i| workflow_step(v, i))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected an array of steps, found {}",
                super::json::kind_of(other)
            ))
            .with_field("workflow_job.steps"));
        }
    };
    let mut e = Event::new(
        format!("github:workflow_job:{job_id}:{attempt}:{status_text}"),
        "github",
        time,
        Payload::PipelineRun(PipelineRun {
            run_id: format!("job:{job_id}:{attempt}"),
            // Older payloads have no `workflow_name`: the job then stands alone.
            pipeline: j.str_at("workflow_name").unwrap_or(name).to_owned(),
            status,
            started_at: started,
            finished_at: finished,
            commit: j.str_at("head_sha").map(str::to_owned),
            url: j.str_at("html_url").map(str::to_owned),
            queued_at: queued,
            attempt: u32::try_from(attempt).ok(),
            branch: j.str_at("head_branch").map(str::to_owned),
            job: Some(Box::new(PipelineJob {
                name: name.to_owned(),
                run: format!("{run}:{attempt}"),
                stage: None,
                needs: Vec::new(),
                runner_labels: labels,
                runner_name: j.str_at("runner_name").map(str::to_owned),
                steps,
            })),
        }),
    );
    // Jobs are parts of a run: marked so run-level metrics leave them out
    // (also in events stored before jobs had their own fields).
    e.attributes
        .insert("granularity".into(), Value::from("job"));
    e.links.push(Link {
        rel: "pipeline_run".into(),
        target: format!("{run}:{attempt}"),
    });
    Ok(Ok(e))
}

/// `workflow_job.steps[i]`.
fn workflow_step(v: &Value, i: usize) -> Result<PipelineStep, ParseError> {
    let step = v
        .path(&format!("workflow_job.steps.{i}"))
        .unwrap_or(&Value::Null);
    let one = || -> Result<PipelineStep, ParseError> {
        Ok(PipelineStep {
            name: req_str(step, "name")?.to_owned(),
            number: step.u64_at("number").and_then(|n| u32::try_from(n).ok()),
            status: run_status(
                req_str(step, "status")?,
                step.str_at("conclusion"),
                "conclusion",
            )?,
            started_at: opt_time(step, "started_at")?,
            finished_at: opt_time(step, "completed_at")?,
        })
    };
    one().map_err(|e| e.with_field(format!("workflow_job.steps[{i}]")))
}

fn issue(v: &Value, repo: Option<&str>, ctx: &ParseContext) -> Result<Mapped, ParseError> {
    let action = req_str(v, "action")?;
    let number = id_of(v, "issue.number")?;
    let labels: Vec<String> = v
        .arr_at("issue.labels")
        .iter()
        .filter_map(|l| l.str_at("name").map(str::to_owned))
        .collect();
    let wanted = incident_labels(ctx);
    let is_incident = labels
        .iter()
        .any(|l| wanted.contains(&l.to_ascii_lowercase()));
    if !is_incident {
        return Ok(Err(format!(
            "issue #{number} has no incident label ({}): not an incident",
            wanted
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let (status, time) = match action {
        "opened" | "reopened" => (
            IncidentStatus::Opened,
            req_time(v, "issue.updated_at").or_else(|_| req_time(v, "issue.created_at"))?,
        ),
        "labeled" => {
            // Only the incident label itself opens the incident.
            let added = v
                .str_at("label.name")
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !wanted.contains(&added) {
                return Ok(Err(format!(
                    "issue #{number} labelled `{added}`: not the incident label"
                )));
            }
            (IncidentStatus::Opened, req_time(v, "issue.updated_at")?)
        }
        "closed" => (
            IncidentStatus::Resolved,
            opt_time(v, "issue.closed_at")?.map_or_else(|| req_time(v, "issue.updated_at"), Ok)?,
        ),
        other => {
            return Ok(Err(format!(
                "issue #{number} `{other}`: does not change the incident's state"
            )));
        }
    };
    let issue_id = id_of(v, "issue.id")?;
    let severity = labels.iter().find_map(|l| severity_label(l));
    let opened_at = opt_time(v, "issue.created_at")?;
    let mut e = Event::new(
        format!("github:issues:{issue_id}:{action}:{}", time.to_rfc3339()),
        "github",
        time,
        Payload::Incident(Incident {
            incident_id: match repo {
                Some(r) => format!("github:{r}#{number}"),
                None => format!("github:#{number}"),
            },
            status,
            severity,
            title: v.str_at("issue.title").map(str::to_owned),
            opened_at: if status == IncidentStatus::Opened {
                Some(time)
            } else {
                opened_at
            },
            acknowledged_at: None,
            resolved_at: (status == IncidentStatus::Resolved).then_some(time),
            url: v.str_at("issue.html_url").map(str::to_owned),
        }),
    );
    e.attributes.insert("labels".into(), Value::from(labels));
    Ok(Ok(e))
}

/// `sev1`, `SEV-2`, `severity:high`, `severity/critical`, `P1` → the severity text.
fn severity_label(label: &str) -> Option<String> {
    let l = label.trim().to_ascii_lowercase();
    for prefix in ["severity:", "severity/", "severity-", "severity "] {
        if let Some(rest) = l.strip_prefix(prefix) {
            return Some(rest.trim().to_owned());
        }
    }
    let compact: String = l.chars().filter(|c| *c != '-' && *c != ' ').collect();
    let level = compact
        .strip_prefix("sev")
        .or_else(|| compact.strip_prefix('p'))?;
    (!level.is_empty() && level.chars().all(|c| c.is_ascii_digit())).then(|| compact.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_failures() {
        let body = br#"{"zen":"hi"}"#;
        let sig = sign(b"s3cret", body);
        assert_eq!(verify_signature(b"s3cret", body, Some(&sig)), Ok(()));
        assert_eq!(
            verify_signature(b"other", body, Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"s3cret", b"{}", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"s3cret", body, None),
            Err(SignatureError::Missing)
        );
        assert!(matches!(
            verify_signature(b"s3cret", body, Some("sha1=abc")),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify_signature(b"s3cret", body, Some("sha256=zz")),
            Err(SignatureError::Malformed(_))
        ));
        // GitHub's documented example.
        let doc = sign(b"It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            doc,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    fn ctx() -> ParseContext {
        ParseContext::new(chrono::Utc::now())
    }

    #[test]
    fn merged_pull_request_is_a_change() {
        let body = r#"{"action":"closed","number":7,"repository":{"id":1,"name":"web","full_name":"acme/web"},
            "pull_request":{"id":99,"number":7,"merged_at":"2024-05-01T12:00:00Z","merge_commit_sha":"abc",
            "commits":3,"additions":10,"deletions":2,"changed_files":4,"labels":[{"name":"hotfix"}],"title":"Fix"}}"#;
        let p = parse(body.as_bytes(), &ctx()).unwrap();
        let e = &p.events[0];
        assert_eq!(e.id, "github:pull_request:99:merged");
        assert_eq!(e.service.as_deref(), Some("web"));
        let Payload::Change(c) = &e.payload else {
            panic!()
        };
        assert_eq!(
            (c.change_id.as_str(), c.additions, c.files_changed),
            ("acme/web#7", Some(10), Some(4))
        );
        assert_eq!(c.labels, ["hotfix"]);
        assert_eq!(e.attributes["commit_count"], 3);

        let huge = body.replace("\"additions\":10", "\"additions\":99999999999999999999");
        let err = parse(huge.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("pull_request.additions"),
            "{err}"
        );
    }

    #[test]
    fn incident_issue_lifecycle() {
        let body = |action: &str, labels: &str| {
            format!(
                r#"{{"action":"{action}","repository":{{"id":1,"name":"web","full_name":"acme/web"}},"label":{{"name":"incident"}},
            "issue":{{"id":5,"number":3,"title":"Down","labels":[{labels}],"created_at":"2024-05-01T12:00:00Z",
            "updated_at":"2024-05-01T12:00:00Z","closed_at":"2024-05-01T13:00:00Z"}}}}"#
            )
        };
        let p = parse(
            body("opened", r#"{"name":"incident"},{"name":"SEV-1"}"#).as_bytes(),
            &ctx(),
        )
        .unwrap();
        let Payload::Incident(i) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(
            (i.status, i.severity.as_deref()),
            (IncidentStatus::Opened, Some("sev1"))
        );
        let p = parse(body("closed", r#"{"name":"incident"}"#).as_bytes(), &ctx()).unwrap();
        let Payload::Incident(i) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(i.status, IncidentStatus::Resolved);
        assert_eq!(i.incident_id, "github:acme/web#3");
        let p = parse(body("opened", r#"{"name":"bug"}"#).as_bytes(), &ctx()).unwrap();
        assert!(p.events.is_empty());
        assert!(
            p.skipped[0].reason.contains("no incident label"),
            "{:?}",
            p.skipped
        );
    }

    #[test]
    fn needs_event_name_when_shape_is_unknown() {
        let err = parse(br#"{"zen":"x"}"#, &ctx()).unwrap_err();
        assert!(err.message.contains("X-GitHub-Event"), "{err}");
    }
}
