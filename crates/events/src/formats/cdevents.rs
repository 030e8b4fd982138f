//! CDEvents (spec 0.3 to 0.6): one event per document, an array, JSONL, or the
//! CloudEvents structured envelope (`{"specversion":"1.0","type":…,"data":{context,subject}}`).
//!
//! Mapping (see `docs/formats.md`): `change.merged` → change; `pipelinerun.*` →
//! pipeline_run; `service.deployed|upgraded` → deployment; `service.rolledback`
//! → rollback; `incident.detected|reported|resolved` → incident. Other types
//! (artifact, build, ticket, test, repository, branch, environment, custom
//! `dev.cdeventsx.*`, change created/reviewed/…) are valid CDEvents with no
//! canonical meaning in Bearing: they are skipped with the reason.
//!
//! Id: `cdevents:<context.source>:<context.id>` (CloudEvents identity).

use serde_json::Value;

use crate::model::*;

use super::json::{Get, opt_time, records, req_str, req_time};
use super::{ParseContext, ParseError, Parsed};

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    for (record, v) in records(bytes)? {
        let located = |e: ParseError| match record {
            Some(r) => e.with_record(r),
            None => e,
        };
        match one(&v, ctx).map_err(located)? {
            Outcome::Event(e) => parsed.push(*e, record),
            Outcome::Skip(reason) => parsed.skip(record, reason),
        }
    }
    Ok(parsed)
}

enum Outcome {
    Event(Box<Event>),
    Skip(String),
}

/// The type of a CDEvent: `dev.cdevents.<subject>.<predicate>.<version>`.
struct EventType<'a> {
    subject: &'a str,
    predicate: &'a str,
}

fn event_type(t: &str) -> Result<Result<EventType<'_>, String>, ParseError> {
    if t.starts_with("dev.cdeventsx.") {
        return Ok(Err(format!(
            "custom CDEvents type `{t}` has no canonical meaning in Bearing; its data is not stored"
        )));
    }
    let Some(rest) = t.strip_prefix("dev.cdevents.") else {
        return Err(ParseError::new(format!(
            "expected a CDEvents type starting with `dev.cdevents.`, found `{}`",
            super::truncate(t, 80)
        ))
        .with_field("context.type"));
    };
    let mut parts = rest.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(subject), Some(predicate), Some(_version))
            if !subject.is_empty() && !predicate.is_empty() =>
        {
            Ok(Ok(EventType { subject, predicate }))
        }
        _ => Err(ParseError::new(format!(
            "expected `dev.cdevents.<subject>.<predicate>.<version>`, found `{}`",
            super::truncate(t, 80)
        ))
        .with_field("context.type")),
    }
}

fn one(doc: &Value, ctx: &ParseContext) -> Result<Outcome, ParseError> {
    if !doc.is_object() {
        return Err(ParseError::new(format!(
            "expected a CDEvent object, found {}",
            super::json::kind_of(doc)
        )));
    }
    // CloudEvents structured mode: the CDEvent is in `data`.
    let (ev, prefix) = match doc.get("specversion").zip(doc.get("data")) {
        Some((_, data)) if doc.get("context").is_none() => (data, "data."),
        _ => (doc, ""),
    };
    let f = |p: &str| format!("{prefix}{p}");
    let with_prefix = |e: ParseError| {
        if prefix.is_empty() {
            e
        } else {
            match e.field.clone() {
                Some(field) => ParseError {
                    field: Some(format!("{prefix}{field}")),
                    ..e
                },
                None => e,
            }
        }
    };
    if ev.get("context").is_none() {
        return Err(
            ParseError::new("missing `context`: this is not a CDEvent").with_field(f("context"))
        );
    }
    let cid = req_str(ev, "context.id").map_err(with_prefix)?;
    let csource = req_str(ev, "context.source").map_err(with_prefix)?;
    let ctype = req_str(ev, "context.type").map_err(with_prefix)?;
    let time = req_time(ev, "context.timestamp").map_err(with_prefix)?;
    let et = match event_type(ctype).map_err(with_prefix)? {
        Ok(t) => t,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    let subject_id = req_str(ev, "subject.id").map_err(with_prefix)?;
    let content = ev.path("subject.content").cloned().unwrap_or(Value::Null);
    let env_id = content.str_at("environment.id").map(str::to_owned);

    let payload = match (et.subject, et.predicate) {
        ("change", "merged") => Payload::Change(Change {
            change_id: subject_id.to_owned(),
            repo: content.str_at("repository.id").map(str::to_owned),
            title: content.str_at("description").map(str::to_owned),
            author: None,
            commits: Vec::new(),
            merged_at: Some(time),
            merge_commit: None,
            files_changed: None,
            additions: None,
            deletions: None,
            labels: Vec::new(),
        }),
        ("pipelinerun", pred @ ("queued" | "started" | "finished")) => {
            let status = if pred == "finished" {
                outcome_status(content.str_at("outcome"))
                    .map_err(|e| with_prefix(e.with_field("subject.content.outcome")))?
            } else {
                Status::InProgress
            };
            Payload::PipelineRun(PipelineRun {
                run_id: subject_id.to_owned(),
                pipeline: content
                    .str_at("pipelineName")
                    .unwrap_or(subject_id)
                    .to_owned(),
                status,
                started_at: (pred == "started").then_some(time),
                finished_at: (pred == "finished").then_some(time),
                commit: None,
                url: content
                    .str_at("url")
                    .or_else(|| content.str_at("uri"))
                    .map(str::to_owned),
                queued_at: (pred == "queued").then_some(time),
                attempt: None,
                branch: None,
                job: None,
            })
        }
        ("taskrun", pred @ ("started" | "finished")) => {
            let status = if pred == "finished" {
                outcome_status(content.str_at("outcome"))
                    .map_err(|e| with_prefix(e.with_field("subject.content.outcome")))?
            } else {
                Status::InProgress
            };
            // The task's pipeline is named by its run's `pipelinerun` events;
            // until one is seen, the run id stands for it.
            let run = content.str_at("pipelineRun.id").unwrap_or(subject_id);
            Payload::PipelineRun(PipelineRun {
                started_at: (pred == "started").then_some(time),
                finished_at: (pred == "finished").then_some(time),
                url: content
                    .str_at("url")
                    .or_else(|| content.str_at("uri"))
                    .map(str::to_owned),
                job: Some(Box::new(PipelineJob {
                    name: content.str_at("taskName").unwrap_or(subject_id).to_owned(),
                    run: run.to_owned(),
                    stage: None,
                    needs: Vec::new(),
                    runner_labels: Vec::new(),
                    runner_name: None,
                    steps: Vec::new(),
                })),
                ..PipelineRun::new(subject_id, run, status)
            })
        }
        ("service", pred @ ("deployed" | "upgraded")) => Payload::Deployment(Deployment {
            deployment_id: cid.to_owned(),
            version: content.str_at("artifactId").map(artifact_version),
            commit: None,
            commits: Vec::new(),
            status: Status::Success,
            started_at: None,
            finished_at: Some(time),
            strategy: None,
            labels: if pred == "upgraded" {
                vec!["upgrade".to_owned()]
            } else {
                Vec::new()
            },
        }),
        ("service", "rolledback") => Payload::Rollback(Rollback {
            rollback_id: cid.to_owned(),
            deployment_id: None,
            from_version: None,
            to_version: content.str_at("artifactId").map(artifact_version),
        }),
        ("incident", pred @ ("detected" | "reported" | "resolved")) => {
            let resolved = pred == "resolved";
            Payload::Incident(Incident {
                incident_id: subject_id.to_owned(),
                status: if resolved {
                    IncidentStatus::Resolved
                } else {
                    IncidentStatus::Opened
                },
                severity: content.str_at("severity").map(str::to_owned),
                title: content.str_at("description").map(str::to_owned),
                opened_at: (!resolved).then_some(time),
                acknowledged_at: None,
                resolved_at: resolved.then_some(time),
                url: content
                    .str_at("ticketURI")
                    .or_else(|| content.str_at("uri"))
                    .map(str::to_owned),
            })
        }
        (subject, predicate) => return Ok(Outcome::Skip(skip_reason(subject, predicate, ctype))),
    };

    let mut event = Event::new(
        format!("cdevents:{csource}:{cid}"),
        format!("cdevents:{csource}"),
        time,
        payload,
    );
    // Service: the subject of service events; `content.service.id` otherwise.
    event.service = match et.subject {
        "service" => Some(subject_id.to_owned()),
        _ => content.str_at("service.id").map(str::to_owned),
    };
    if event.service.is_none() {
        event.service.clone_from(&ctx.service);
    }
    event.environment = env_id;
    links_and_attributes(ev, &content, &mut event).map_err(with_prefix)?;
    // Timestamps elsewhere in the document must still be well-formed.
    opt_time(ev, "subject.content.timestamp").map_err(with_prefix)?;
    Ok(Outcome::Event(Box::new(event)))
}

fn skip_reason(subject: &str, predicate: &str, ctype: &str) -> String {
    let why = match subject {
        "change" => "only merged changes count as changes in Bearing",
        "artifact" | "build" => {
            "Bearing measures deliveries from deployments and pipeline runs, not artifacts or builds"
        }
        "ticket" => "tickets are not incidents; send incident events",
        "testcaserun" | "testsuiterun" | "testcase" | "testsuite" | "testoutput" => {
            "test events are not used by Bearing"
        }
        "service" if predicate == "removed" => "a service removal is not a deployment",
        "service" => "this service event is not a deployment",
        _ => "Bearing has no canonical kind for it",
    };
    format!("CDEvents type `{ctype}` skipped: {why}")
}

fn outcome_status(outcome: Option<&str>) -> Result<Status, ParseError> {
    Ok(match outcome.map(str::to_ascii_lowercase).as_deref() {
        Some("success") | Some("succeeded") | Some("pass") => Status::Success,
        Some("failure") | Some("failed") | Some("error") | Some("fail") => Status::Failure,
        Some("cancel") | Some("cancelled") | Some("canceled") | Some("aborted") => {
            Status::Cancelled
        }
        None => {
            return Err(ParseError::new(
                "missing; a finished pipeline run needs an outcome",
            ));
        }
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected `success`, `failure`, `error` or `cancel`, found `{}`",
                super::truncate(other, 40)
            )));
        }
    })
}

/// `pkg:oci/myapp@sha256%3A0b31…` → `sha256:0b31…`; `pkg:npm/x@1.2.3` → `1.2.3`; otherwise the id.
fn artifact_version(artifact: &str) -> String {
    let no_qualifiers = artifact.split(['?', '#']).next().unwrap_or(artifact);
    match no_qualifiers.rsplit_once('@') {
        Some((_, v)) if !v.is_empty() => v.replace("%3A", ":").replace("%3a", ":"),
        _ => artifact.to_owned(),
    }
}

fn links_and_attributes(ev: &Value, content: &Value, event: &mut Event) -> Result<(), ParseError> {
    if let Some(a) = content.str_at("artifactId") {
        event.links.push(Link {
            rel: "artifact".into(),
            target: a.to_owned(),
        });
    }
    if let Some(c) = ev.str_at("context.chainId") {
        event.links.push(Link {
            rel: "chain".into(),
            target: c.to_owned(),
        });
    }
    for (i, l) in ev.arr_at("context.links").iter().enumerate() {
        let field = || format!("context.links[{i}]");
        let link_type = l
            .str_at("linkType")
            .unwrap_or("RELATION")
            .to_ascii_lowercase();
        let (end, target) = if let Some(t) = l.str_at("target.contextId") {
            ("target", t)
        } else if let Some(t) = l.str_at("from.contextId") {
            ("from", t)
        } else {
            return Err(
                ParseError::new("expected `target.contextId` or `from.contextId`")
                    .with_field(field()),
            );
        };
        let rel = match l.str_at("linkKind") {
            Some(kind) => format!("{link_type}:{}", kind.to_ascii_lowercase()),
            None => format!("{link_type}:{end}"),
        };
        event.links.push(Link {
            rel,
            target: target.to_owned(),
        });
    }
    let ctype = ev.str_at("context.type").unwrap_or_default();
    event
        .attributes
        .insert("cdevents.type".into(), Value::from(ctype));
    if let Some(v) = ev
        .str_at("context.specversion")
        .or_else(|| ev.str_at("context.version"))
    {
        event
            .attributes
            .insert("cdevents.specversion".into(), Value::from(v));
    }
    if let Some(v) = ev.path("customData").filter(|v| !v.is_null()) {
        event.attributes.insert("customData".into(), v.clone());
    }
    if let Some(v) = ev.str_at("customDataContentType") {
        event
            .attributes
            .insert("customDataContentType".into(), Value::from(v));
    }
    if let Some(v) = ev.path("context.links").filter(|v| v.is_array()) {
        event.attributes.insert("cdevents.links".into(), v.clone());
    }
    if let Some(e) = content.str_at("errors") {
        event.attributes.insert("errors".into(), Value::from(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new(chrono::Utc::now())
    }

    const DEPLOYED: &str = r#"{"context":{"specversion":"0.4.1","id":"e-1","source":"/argo","type":"dev.cdevents.service.deployed.0.2.0","timestamp":"2024-05-01T12:00:00Z"},
        "subject":{"id":"checkout","source":"/argo","content":{"environment":{"id":"prod"},"artifactId":"pkg:oci/checkout@sha256%3Aabc"}},
        "customData":{"team":"payments"}}"#;

    #[test]
    fn deployment_with_custom_data() {
        let p = parse(DEPLOYED.as_bytes(), &ctx()).unwrap();
        let e = &p.events[0];
        assert_eq!(e.id, "cdevents:/argo:e-1");
        assert_eq!(e.service.as_deref(), Some("checkout"));
        assert_eq!(e.environment.as_deref(), Some("prod"));
        let Payload::Deployment(d) = &e.payload else {
            panic!()
        };
        assert_eq!(d.version.as_deref(), Some("sha256:abc"));
        assert_eq!(e.attributes["customData"]["team"], "payments");
    }

    #[test]
    fn cloudevents_envelope_and_errors() {
        let ce = format!(
            r#"{{"specversion":"1.0","id":"x","source":"/argo","type":"dev.cdevents.service.deployed.0.2.0","data":{DEPLOYED}}}"#
        );
        assert_eq!(parse(ce.as_bytes(), &ctx()).unwrap().events.len(), 1);
        let bad = DEPLOYED.replace("2024-05-01T12:00:00Z", "soon");
        let e = parse(bad.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("context.timestamp"));
        let bad = DEPLOYED.replace("dev.cdevents.service", "com.example.service");
        let e = parse(bad.as_bytes(), &ctx()).unwrap_err();
        assert!(e.message.contains("dev.cdevents."), "{e}");
        let two = format!("[{DEPLOYED}, {}]", DEPLOYED.replace("\"e-1\"", "1"));
        let e = parse(two.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record 2, field `context.id`: expected a string, found the number `1`"
        );
    }
}
