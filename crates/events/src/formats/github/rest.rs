//! GitHub REST API objects as the webhook deliveries that carry them.
//!
//! A webhook embeds the REST representation of what it is about (a
//! `deployment_status` delivery has `deployment`, `deployment_status` and
//! `repository`, each as `GET` returns it), so `bearing sync github` wraps
//! what it reads into the delivery GitHub sent, or would have sent, and maps
//! it with [`super::map_delivery`]: a webhook and a synced record of the
//! same thing give the same event id, and the store keeps one.
//!
//! Past states a REST read cannot see (a workflow run's `requested` and
//! `in_progress` deliveries) are not made up: only the current state is.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::super::json::Get;

/// One delivery: its `X-GitHub-Event` name and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub event: &'static str,
    pub payload: Value,
}

impl Delivery {
    fn new(event: &'static str, action: &str, repo: &Value, fields: &[(&str, &Value)]) -> Self {
        let mut m = Map::new();
        m.insert("action".into(), Value::from(action));
        for (k, v) in fields {
            m.insert((*k).into(), (*v).clone());
        }
        m.insert("repository".into(), repo.clone());
        Delivery {
            event,
            payload: Value::Object(m),
        }
    }
}

/// `GET /repos/{repo}/deployments` item → the `deployment` `created` delivery.
pub fn deployment(repo: &Value, deployment: &Value) -> Delivery {
    Delivery::new("deployment", "created", repo, &[("deployment", deployment)])
}

/// A deployment and one item of `GET …/deployments/{id}/statuses` → the
/// `deployment_status` `created` delivery.
pub fn deployment_status(repo: &Value, deployment: &Value, status: &Value) -> Delivery {
    Delivery::new(
        "deployment_status",
        "created",
        repo,
        &[("deployment", deployment), ("deployment_status", status)],
    )
}

/// The webhook action announcing a run's or job's current `status`.
fn run_action(status: Option<&str>) -> &'static str {
    match status {
        Some("completed") => "completed",
        Some("in_progress") => "in_progress",
        Some("waiting") => "waiting",
        _ => "requested",
    }
}

/// `GET /repos/{repo}/actions/runs` item (or one attempt of it) and its
/// workflow from `GET …/actions/workflows` → the `workflow_run` delivery of
/// its current status.
pub fn workflow_run(repo: &Value, workflow: Option<&Value>, run: &Value) -> Delivery {
    let mut fields = vec![("workflow_run", run)];
    if let Some(w) = workflow {
        fields.push(("workflow", w));
    }
    Delivery::new(
        "workflow_run",
        run_action(run.str_at("status")),
        repo,
        &fields,
    )
}

/// `GET …/actions/runs/{id}/jobs` item → the `workflow_job` delivery of its
/// current status.
pub fn workflow_job(repo: &Value, job: &Value) -> Delivery {
    let action = match job.str_at("status") {
        Some("queued") | Some("pending") | Some("requested") => "queued",
        other => run_action(other),
    };
    Delivery::new("workflow_job", action, repo, &[("workflow_job", job)])
}

/// `GET /repos/{repo}/pulls/{number}` → the `pull_request` `closed` delivery
/// of its merge; `None` for a pull request that is not merged.
pub fn merged_pull_request(repo: &Value, pr: &Value) -> Option<Delivery> {
    pr.str_at("merged_at")?;
    let number = pr.path("number").cloned().unwrap_or(Value::Null);
    Some(Delivery::new(
        "pull_request",
        "closed",
        repo,
        &[("number", &number), ("pull_request", pr)],
    ))
}

/// One push from `GET /repos/{repo}/activity` (`activity_type` `push` or
/// `force_push`) and its commits, oldest first, from `GET
/// …/compare/{before}...{after}` → the `push` delivery.
///
/// A REST commit becomes a push commit the way GitHub writes one: `id` is
/// the sha, `timestamp` the author date, `author.username` the login, and
/// the paths added, removed and modified when the commit lists its `files`.
pub fn push(repo: &Value, activity: &Value, commits: &[Value]) -> Delivery {
    let commits: Vec<Value> = commits.iter().map(push_commit).collect();
    let after = activity.str_at("after").unwrap_or_default();
    let before = activity.str_at("before").unwrap_or_default();
    let head = commits
        .iter()
        .find(|c| c.str_at("id") == Some(after))
        .or(commits.last())
        .cloned()
        .unwrap_or(Value::Null);
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let compare = repo
        .str_at("html_url")
        .map(|u| format!("{u}/compare/{}...{}", short(before), short(after)));
    let actor = activity.path("actor").cloned().unwrap_or(Value::Null);
    let payload = json!({
        "ref": activity.str_at("ref"),
        "before": before,
        "after": after,
        "created": before.bytes().all(|c| c == b'0'),
        "deleted": after.bytes().all(|c| c == b'0'),
        "forced": activity.str_at("activity_type") == Some("force_push"),
        "compare": compare,
        "commits": commits,
        "head_commit": head,
        "pusher": { "name": actor.str_at("login") },
        "sender": actor,
        "repository": repo,
    });
    Delivery {
        event: "push",
        payload,
    }
}

fn push_commit(c: &Value) -> Value {
    let person = |who: &str| {
        json!({
            "name": c.str_at(&format!("commit.{who}.name")),
            "email": c.str_at(&format!("commit.{who}.email")),
            "username": c.str_at(&format!("{who}.login")),
        })
    };
    let files = |status: &[&str]| -> Vec<&str> {
        c.arr_at("files")
            .iter()
            .filter(|f| f.str_at("status").is_some_and(|s| status.contains(&s)))
            .filter_map(|f| f.str_at("filename"))
            .collect()
    };
    json!({
        "id": c.str_at("sha"),
        "tree_id": c.str_at("commit.tree.sha"),
        "distinct": true,
        "message": c.str_at("commit.message"),
        "timestamp": c.str_at("commit.author.date"),
        "url": c.str_at("html_url"),
        "author": person("author"),
        "committer": person("committer"),
        "added": files(&["added", "copied"]),
        "removed": files(&["removed"]),
        "modified": files(&["modified", "renamed", "changed"]),
    })
}

/// An issue from `GET /repos/{repo}/issues` and its events from `GET
/// …/issues/{number}/events` → the `issues` deliveries that changed an
/// incident's state: `opened` (when it was opened with an incident label:
/// GitHub records the labels an issue is opened with as `labeled` events at
/// its creation time), `labeled`, `closed` and `reopened`, each with the
/// issue as it was sent then (`updated_at`, `closed_at`, `state`).
/// `incident_labels` are lower case ([`super::incident_labels`]).
pub fn issue_history(
    repo: &Value,
    issue: &Value,
    events: &[Value],
    incident_labels: &[String],
) -> Vec<Delivery> {
    let is_incident = |l: &Value| {
        l.str_at("name")
            .is_some_and(|n| incident_labels.contains(&n.to_ascii_lowercase()))
    };
    let created = issue.str_at("created_at");
    let same_time = |a: Option<&str>, b: Option<&str>| match (time(a), time(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    let mut out = Vec::new();
    let opened_labelled = events.iter().any(|e| {
        e.str_at("event") == Some("labeled")
            && e.path("label").is_some_and(is_incident)
            && same_time(e.str_at("created_at"), created)
    });
    if opened_labelled {
        out.push(issue_delivery(repo, issue, "opened", created, None));
    }
    for e in events {
        let action = match e.str_at("event") {
            Some("labeled") if e.path("label").is_some_and(is_incident) => "labeled",
            Some("closed") => "closed",
            Some("reopened") => "reopened",
            _ => continue,
        };
        out.push(issue_delivery(
            repo,
            issue,
            action,
            e.str_at("created_at"),
            e.path("label"),
        ));
    }
    out
}

fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn issue_delivery(
    repo: &Value,
    issue: &Value,
    action: &str,
    at: Option<&str>,
    label: Option<&Value>,
) -> Delivery {
    let mut issue = issue.clone();
    if let (Value::Object(m), Some(at)) = (&mut issue, at) {
        m.insert("updated_at".into(), Value::from(at));
        match action {
            "closed" => {
                m.insert("closed_at".into(), Value::from(at));
                m.insert("state".into(), Value::from("closed"));
            }
            "opened" | "reopened" => {
                m.insert("closed_at".into(), Value::Null);
                m.insert("state".into(), Value::from("open"));
            }
            _ => {}
        }
    }
    let mut fields = vec![("issue", &issue)];
    if let Some(l) = label {
        fields.push(("label", l));
    }
    Delivery::new("issues", action, repo, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ParseContext;

    fn ids(deliveries: &[Delivery]) -> Vec<String> {
        let ctx = ParseContext::new(Utc::now());
        deliveries
            .iter()
            .flat_map(|d| {
                super::super::map_delivery(d.event, &d.payload, &ctx)
                    .unwrap()
                    .events
            })
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn an_issue_history_becomes_the_deliveries_github_sent() {
        let repo = json!({"id": 1, "name": "web", "full_name": "acme/web"});
        let labelled = |name: &str, at: &str| json!({"event": "labeled", "created_at": at, "label": {"name": name}});
        let issue = json!({"id": 7, "number": 3, "labels": [{"name": "Incident"}],
            "created_at": "2026-10-12T09:30:00Z", "updated_at": "2026-10-13T00:00:00Z",
            "closed_at": "2026-10-12T12:00:00Z", "state": "closed"});
        // Opened with the label (its `labeled` event at the creation time),
        // closed, reopened and closed again.
        let events = [
            labelled("incident", "2026-10-12T09:30:00Z"),
            labelled("bug", "2026-10-12T09:30:00Z"),
            json!({"event": "closed", "created_at": "2026-10-12T11:00:00Z"}),
            json!({"event": "reopened", "created_at": "2026-10-12T11:30:00Z"}),
            json!({"event": "commented", "created_at": "2026-10-12T11:40:00Z"}),
            json!({"event": "closed", "created_at": "2026-10-12T12:00:00Z"}),
        ];
        let labels = ["incident".to_owned()];
        assert_eq!(
            ids(&issue_history(&repo, &issue, &events, &labels)),
            [
                "github:issues:7:opened:2026-10-12T09:30:00+00:00",
                "github:issues:7:labeled:2026-10-12T09:30:00+00:00",
                "github:issues:7:closed:2026-10-12T11:00:00+00:00",
                "github:issues:7:reopened:2026-10-12T11:30:00+00:00",
                "github:issues:7:closed:2026-10-12T12:00:00+00:00",
            ]
        );
        // Labelled an incident after it was opened: no `opened` incident.
        let later = [labelled("incident", "2026-10-12T10:00:00Z")];
        assert_eq!(
            ids(&issue_history(&repo, &issue, &later, &labels)),
            ["github:issues:7:labeled:2026-10-12T10:00:00+00:00"]
        );
    }
}
