//! GitLab pipeline and job webhooks (`object_kind: pipeline` and `build`),
//! one hook body per document, a JSON array of them, or JSONL.
//!
//! Mapping (see `docs/formats.md`): a pipeline hook is a `pipeline_run` for
//! the pipeline plus one job record per entry of `builds[]`; a job hook is
//! one job record. Job ids are `gitlab:job:<id>:<status>` from both hooks,
//! so the same job seen twice is stored once. Times come from the
//! timestamps (`2016-08-12 15:23:28 UTC` or RFC 3339), not from the
//! `duration` fields, which GitLab rounds and which do not always agree with
//! them; a job was queued at `started_at − queued_duration` when GitLab gives
//! that (a later stage's job is created with the pipeline but pending only
//! once the stages before it finish), else at `created_at`.

use serde_json::Value;

use crate::model::*;

use super::github::id_of as id;
use super::json::{Get, records, req_str};
use super::{ParseContext, ParseError, Parsed};

pub(super) fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    for (record, v) in records(bytes)? {
        let at = |e: ParseError| match record {
            Some(r) => e.with_record(r),
            None => e,
        };
        let kind = req_str(&v, "object_kind").map_err(at)?;
        let events = match kind {
            "pipeline" => pipeline(&v).map_err(at)?,
            "build" => vec![job_hook(&v).map_err(at)?],
            other => {
                parsed.skip(
                    record,
                    format!(
                        "GitLab `{}` hooks are not used by Bearing (only `pipeline` and `build`)",
                        super::truncate(other, 40)
                    ),
                );
                continue;
            }
        };
        for e in events {
            parsed.push(e, record);
        }
    }
    Ok(parsed)
}

/// Whether a JSON object looks like a GitLab pipeline or job hook.
pub(super) fn looks_like_hook(m: &serde_json::Map<String, Value>) -> bool {
    match m.get("object_kind").and_then(Value::as_str) {
        Some("pipeline") => m.contains_key("object_attributes"),
        Some("build") => m.contains_key("build_id"),
        _ => false,
    }
}

/// GitLab's `2016-08-12 15:23:28 UTC`, or RFC 3339; absent or null is `None`.
fn time(v: &Value, path: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ParseError> {
    match v.path(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            crate::timestamp::parse_lenient(t.strip_suffix(" UTC").unwrap_or(t))
                .map(Some)
                .ok_or_else(|| {
                    ParseError::new(format!(
                        "expected a time such as `2016-08-12 15:23:28 UTC`, found `{}`",
                        super::truncate(s, 40)
                    ))
                    .with_field(path)
                })
        }
        Some(other) => Err(ParseError::new(format!(
            "expected a time, found {}",
            super::json::kind_of(other)
        ))
        .with_field(path)),
    }
}

fn status(s: &str, field: &str) -> Result<Status, ParseError> {
    Ok(match s {
        "success" => Status::Success,
        "failed" => Status::Failure,
        "canceled" | "cancelled" | "skipped" => Status::Cancelled,
        "created"
        | "pending"
        | "running"
        | "manual"
        | "scheduled"
        | "preparing"
        | "waiting_for_resource"
        | "waiting_for_callback" => Status::InProgress,
        other => {
            return Err(ParseError::new(format!(
                "expected a GitLab status (`success`, `failed`, `canceled`, `running`, …), found `{}`",
                super::truncate(other, 40)
            ))
            .with_field(field));
        }
    })
}

fn service_of(v: &Value) -> Option<String> {
    v.str_at("project.name")
        .or_else(|| v.str_at("repository.name"))
        .map(str::to_owned)
}

fn pipeline(v: &Value) -> Result<Vec<Event>, ParseError> {
    let pid = id(v, "object_attributes.id")?;
    let status_text = req_str(v, "object_attributes.status")?;
    let st = status(status_text, "object_attributes.status")?;
    let created = time(v, "object_attributes.created_at")?;
    let finished = match st {
        Status::InProgress => None,
        _ => time(v, "object_attributes.finished_at")?,
    };
    // The pipeline started when it stopped queueing.
    const QUEUED: &str = "object_attributes.queued_duration";
    let started = match (created, duration_at(v, QUEUED)?) {
        (Some(c), Some(q)) => Some(
            c.checked_add_signed(q)
                .ok_or_else(|| out_of_range(QUEUED))?,
        ),
        (c, _) => c,
    };
    let at = finished.or(started).or(created).ok_or_else(|| {
        ParseError::new("missing; expected `created_at` or `finished_at`")
            .with_field("object_attributes")
    })?;
    let name = v
        .str_at("object_attributes.name")
        .or_else(|| v.str_at("project.path_with_namespace"))
        .unwrap_or("pipeline")
        .to_owned();
    let branch = v.str_at("object_attributes.ref").map(str::to_owned);
    let sha = v.str_at("object_attributes.sha").map(str::to_owned);
    let service = service_of(v);
    let mut run = Event::new(
        format!("gitlab:pipeline:{pid}:{status_text}"),
        "gitlab",
        at,
        Payload::PipelineRun(PipelineRun {
            started_at: started,
            finished_at: finished,
            commit: sha.clone(),
            url: v.str_at("object_attributes.url").map(str::to_owned),
            queued_at: created,
            branch: branch.clone(),
            ..PipelineRun::new(pid.clone(), name.clone(), st)
        }),
    );
    run.service = service.clone();
    let mut out = vec![run];
    let builds = match v.get("builds") {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Array(a)) => a.len(),
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected an array of jobs, found {}",
                super::json::kind_of(other)
            ))
            .with_field("builds"));
        }
    };
    for i in 0..builds {
        let b = v.path(&format!("builds.{i}")).unwrap_or(&Value::Null);
        let one = || -> Result<Event, ParseError> {
            let fields = JobFields {
                id: id(b, "id")?,
                name: req_str(b, "name")?.to_owned(),
                stage: b.str_at("stage").map(str::to_owned),
                status_text: req_str(b, "status")?.to_owned(),
                prefix: "",
                created: time(b, "created_at")?,
                started: time(b, "started_at")?,
                finished: time(b, "finished_at")?,
                queued_duration: duration_at(b, "queued_duration")?,
                runner: b.get("runner"),
            };
            job_event(fields, &pid, &name, sha.as_deref(), branch.as_deref())
        };
        let mut e = one().map_err(|e| e.with_field(format!("builds[{i}]")))?;
        e.service = service.clone();
        out.push(e);
    }
    Ok(out)
}

fn job_hook(v: &Value) -> Result<Event, ParseError> {
    let fields = JobFields {
        id: id(v, "build_id")?,
        name: req_str(v, "build_name")?.to_owned(),
        stage: v.str_at("build_stage").map(str::to_owned),
        status_text: req_str(v, "build_status")?.to_owned(),
        prefix: "build_",
        created: time(v, "build_created_at")?,
        started: time(v, "build_started_at")?,
        finished: time(v, "build_finished_at")?,
        queued_duration: duration_at(v, "build_queued_duration")?,
        runner: v.path("runner"),
    };
    let pid = id(v, "pipeline_id")?;
    let name = v
        .str_at("project.path_with_namespace")
        .or_else(|| v.str_at("project_name"))
        .unwrap_or("pipeline")
        .to_owned();
    let mut e = job_event(fields, &pid, &name, v.str_at("sha"), v.str_at("ref"))?;
    e.service = service_of(v);
    Ok(e)
}

struct JobFields<'a> {
    id: String,
    name: String,
    stage: Option<String>,
    status_text: String,
    /// What the hook's job fields start with: `build_` in job hooks.
    prefix: &'static str,
    created: Option<chrono::DateTime<chrono::Utc>>,
    started: Option<chrono::DateTime<chrono::Utc>>,
    finished: Option<chrono::DateTime<chrono::Utc>>,
    queued_duration: Option<chrono::TimeDelta>,
    runner: Option<&'a Value>,
}

/// The longest queue Bearing believes: a year. Longer is a broken hook.
const MAX_QUEUED_SECS: f64 = 366.0 * 86_400.0;

/// A duration in seconds (`queued_duration`); absent or null is `None`.
fn duration_at(v: &Value, path: &str) -> Result<Option<chrono::TimeDelta>, ParseError> {
    match v.path(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(s) if (0.0..=MAX_QUEUED_SECS).contains(&s) => Ok(Some(
                chrono::TimeDelta::milliseconds((s * 1000.0).round() as i64),
            )),
            _ => Err(ParseError::new(format!(
                "expected a duration in seconds between 0 and {MAX_QUEUED_SECS} (a year), found `{n}`"
            ))
            .with_field(path)),
        },
        Some(other) => Err(ParseError::new(format!(
            "expected a duration in seconds, found {}",
            super::json::kind_of(other)
        ))
        .with_field(path)),
    }
}

fn out_of_range(path: &str) -> ParseError {
    ParseError::new("the time it gives is out of range").with_field(path)
}

fn job_event(
    j: JobFields<'_>,
    pipeline_id: &str,
    pipeline: &str,
    sha: Option<&str>,
    branch: Option<&str>,
) -> Result<Event, ParseError> {
    let st = status(&j.status_text, &format!("{}status", j.prefix))?;
    let finished = if st == Status::InProgress {
        None
    } else {
        j.finished
    };
    let queued = match (j.started, j.queued_duration) {
        (Some(s), Some(q)) => {
            let from_duration = s
                .checked_sub_signed(q)
                .ok_or_else(|| out_of_range(&format!("{}queued_duration", j.prefix)))?;
            Some(j.created.map_or(from_duration, |c| c.max(from_duration)))
        }
        _ => j.created,
    };
    let at = finished.or(j.started).or(j.created).ok_or_else(|| {
        ParseError::new("missing; a job needs a creation, start or finish time")
            .with_field(format!("{}created_at", j.prefix))
    })?;
    let labels = j
        .runner
        .and_then(|r| r.get("tags"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut e = Event::new(
        format!("gitlab:job:{}:{}", j.id, j.status_text),
        "gitlab",
        at,
        Payload::PipelineRun(PipelineRun {
            started_at: j.started,
            finished_at: finished,
            commit: sha.map(str::to_owned),
            queued_at: queued,
            branch: branch.map(str::to_owned),
            job: Some(Box::new(PipelineJob {
                name: j.name,
                run: pipeline_id.to_owned(),
                stage: j.stage,
                needs: Vec::new(),
                runner_labels: labels,
                runner_name: j
                    .runner
                    .and_then(|r| r.str_at("description"))
                    .map(str::to_owned),
                steps: Vec::new(),
            })),
            ..PipelineRun::new(format!("job:{}", j.id), pipeline, st)
        }),
    );
    e.attributes
        .insert("granularity".into(), Value::from("job"));
    e.links.push(Link {
        rel: "pipeline_run".into(),
        target: pipeline_id.to_owned(),
    });
    Ok(e)
}
