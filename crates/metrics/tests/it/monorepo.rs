//! Monorepos (issue 14, item 2): services claim directories of one
//! repository, `repos: [{repo: github.com/acme/mono, paths: [...]}]`, and each
//! commit counts for the services whose paths its files touch.
//!
//! `acme/mono`: `alpha` owns `services/alpha`, `beta` owns `services/beta`,
//! nobody claims the whole repository. Webhook-shaped deliveries (October
//! 2026, UTC), with what each service gets worked out by hand:
//!
//! | when     | delivery                                                   | alpha            | beta           |
//! |----------|------------------------------------------------------------|------------------|----------------|
//! | 10 12:00 | deploy `base` to `alpha-production` / payload service beta | D (no sample)    | D (no sample)  |
//! | 11 08:00 | push: c1 alpha/ · c2 09:00 beta/                            |                  |                |
//! | 11 10:00 | push: c3 alpha/ + beta/ · c4 11:00 docs/                    |                  |                |
//! | 11 11:30 | deploy c4 to `alpha/staging` (staging: not counted)         |                  |                |
//! | 11 12:00 | deploy c4 to `alpha-production`                             | c1 4h, c3 2h     |                |
//! | 12 09:00 | deploy c4 to `production`, payload `service: beta`          |                  | c2 24h, c3 23h |
//! | 12 10:00 | push: c5 beta/                                              |                  |                |
//! | 12 10:30 | incident, labels `incident`, `service:beta`                 |                  | fails 12 09:00 |
//! | 12 12:00 | deploy c5 to `production/alpha`                             | D, no alpha commit |              |
//! | 12 14:00 | PR #9 merged as m9, files unknown, no push                  |                  |                |
//! | 12 15:00 | deploy m9 to `production`, naming no service                | m9 1h            | m9 1h          |
//! | 13 09:00 | incident labelled `incident` only                           | (counts for no service) |         |
//!
//! Workflow runs `CI / alpha` (success) are alpha's, `beta-deploy` (failure)
//! beta's, `lint` (success) both's.
//!
//! alpha: 4 production deployments, samples [1, 2, 4] h → p50 2h, change
//! failure rate 0/4. beta: 3 production deployments, samples [1, 23, 24] h →
//! p50 23h, change failure rate 1/3.

use bearing_events::Event;
use bearing_events::formats::{Format, ParseContext, parse};
use bearing_intent::{Duration, Scope};
use bearing_metrics::*;
use serde_json::{Value, json};

use crate::fixture::t;

const H: f64 = 3600.0;

const INTENT: &str = r#"
version: 1
teams: [{ id: core }]
services:
  - id: alpha
    team: core
    repos: [{ repo: github.com/acme/mono, paths: [services/alpha] }]
    environments: [staging, production]
  - id: beta
    team: core
    repos: [{ repo: "https://github.com/acme/mono.git", paths: [services/beta/] }]
    environments: [staging, production]
"#;

fn intent(text: &str) -> bearing_intent::Intent {
    bearing_intent::load_str(std::path::Path::new("bearing.yaml"), text)
        .unwrap()
        .intent
}

fn iso(s: &str) -> String {
    t(s).to_rfc3339()
}

fn repo() -> Value {
    json!({
        "id": 7, "name": "mono", "full_name": "acme/mono", "default_branch": "main",
        "html_url": "https://github.com/acme/mono",
    })
}

fn deliver(event: &str, payload: Value) -> Vec<Event> {
    let mut ctx = ParseContext::new(t("10-20 00:00"));
    ctx.github_event = Some(event.into());
    parse(Format::GithubWebhook, payload.to_string().as_bytes(), &ctx).unwrap()
}

/// A push of `(sha, authored, files)`; each file is reported as modified,
/// except that the first commit's first file is `added` and a `docs/` file
/// `removed`, to read all three lists.
fn push(before: &str, commits: &[(&str, &str, &[&str])]) -> Vec<Event> {
    let list: Vec<Value> = commits
        .iter()
        .enumerate()
        .map(|(i, (id, at, files))| {
            let (mut added, mut removed, mut modified) = (vec![], vec![], vec![]);
            for (j, f) in files.iter().enumerate() {
                if i == 0 && j == 0 {
                    added.push(*f);
                } else if f.starts_with("docs/") {
                    removed.push(*f);
                } else {
                    modified.push(*f);
                }
            }
            json!({
                "id": id, "timestamp": iso(at), "message": id, "distinct": true,
                "added": added, "removed": removed, "modified": modified,
            })
        })
        .collect();
    let (head, head_at, _) = commits.last().copied().unwrap();
    deliver(
        "push",
        json!({
            "ref": "refs/heads/main", "before": before, "after": head, "forced": false,
            "created": false, "deleted": false, "commits": list,
            "head_commit": { "id": head, "timestamp": iso(head_at), "message": head },
            "repository": repo(), "pusher": { "name": "dev" }, "sender": { "login": "dev" },
        }),
    )
}

fn merged_pr(number: u64, merged: &str, merge_sha: &str) -> Vec<Event> {
    deliver(
        "pull_request",
        json!({
            "action": "closed", "number": number,
            "pull_request": {
                "id": 1000 + number, "number": number, "merged": true,
                "merged_at": iso(merged), "merge_commit_sha": merge_sha,
                "base": { "ref": "main" }, "head": { "sha": format!("pr{number}head") },
            },
            "repository": repo(), "sender": { "login": "dev" },
        }),
    )
}

/// A successful deployment of `sha` to `env`, with `payload.service` if given.
fn deployed(id: u64, at: &str, sha: &str, env: &str, service: Option<&str>) -> Vec<Event> {
    let payload = match service {
        Some(s) => json!({ "service": s }),
        None => json!({}),
    };
    deliver(
        "deployment_status",
        json!({
            "action": "created",
            "deployment_status": { "id": 5000 + id, "state": "success", "created_at": iso(at), "environment": env },
            "deployment": { "id": id, "sha": sha, "ref": "main", "environment": env, "created_at": iso(at), "payload": payload },
            "repository": repo(), "sender": { "login": "deployer" },
        }),
    )
}

fn incident(number: u64, at: &str, labels: &[&str]) -> Vec<Event> {
    let labels: Vec<Value> = labels.iter().map(|l| json!({ "name": l })).collect();
    deliver(
        "issues",
        json!({
            "action": "opened",
            "issue": {
                "id": 9000 + number, "number": number, "title": "down", "labels": labels,
                "created_at": iso(at), "updated_at": iso(at),
            },
            "repository": repo(), "sender": { "login": "oncall" },
        }),
    )
}

fn workflow_run(id: u64, at: &str, name: &str, conclusion: &str) -> Vec<Event> {
    deliver(
        "workflow_run",
        json!({
            "action": "completed",
            "workflow": { "name": name },
            "workflow_run": {
                "id": id, "name": name, "status": "completed", "conclusion": conclusion,
                "run_attempt": 1, "run_started_at": iso(at), "updated_at": iso(at),
                "head_sha": "c4", "head_branch": "main", "event": "push",
            },
            "repository": repo(), "sender": { "login": "dev" },
        }),
    )
}

fn history() -> Vec<Event> {
    [
        deployed(1, "10-10 12:00", "base", "alpha-production", None),
        deployed(2, "10-10 12:00", "base", "production", Some("beta")),
        push(
            "base",
            &[
                ("c1", "10-11 08:00", &["services/alpha/a.rs"]),
                ("c2", "10-11 09:00", &["services/beta/b.rs"]),
            ],
        ),
        push(
            "c2",
            &[
                (
                    "c3",
                    "10-11 10:00",
                    &["services/alpha/x.rs", "services/beta/y.rs"],
                ),
                // `services/alphabet` is not under `services/alpha`.
                (
                    "c4",
                    "10-11 11:00",
                    &["docs/README.md", "services/alphabet/z.rs"],
                ),
            ],
        ),
        deployed(3, "10-11 11:30", "c4", "alpha/staging", None),
        deployed(4, "10-11 12:00", "c4", "alpha-production", None),
        deployed(5, "10-12 09:00", "c4", "production", Some("beta")),
        push("c4", &[("c5", "10-12 10:00", &["services/beta/z.rs"])]),
        incident(1, "10-12 10:30", &["incident", "service:beta"]),
        deployed(6, "10-12 12:00", "c5", "production/alpha", None),
        merged_pr(9, "10-12 14:00", "m9"),
        deployed(7, "10-12 15:00", "m9", "production", None),
        incident(2, "10-13 09:00", &["incident"]),
        // Pipelines by name: alpha's, beta's (`beta-deploy` is not alpha's
        // even though it is not `alpha`), and one naming neither (both's).
        workflow_run(1, "10-11 10:05", "CI / alpha", "success"),
        workflow_run(2, "10-11 10:06", "beta-deploy", "failure"),
        workflow_run(3, "10-11 10:07", "lint", "success"),
    ]
    .concat()
}

fn at(ds: &Dataset, metric: &str, service: &str) -> MetricValue {
    evaluate(
        ds,
        metric,
        &Scope {
            service: Some(service.into()),
            ..Scope::default()
        },
        &Default::default(),
        Duration::from_days(30),
        t("10-20 00:00"),
    )
}

#[test]
fn commits_count_for_the_services_whose_paths_they_touch() {
    let intent = intent(INTENT);
    let mut events = history();
    for order in 0..2 {
        if order == 1 {
            // The same figures whatever order the deliveries arrive in.
            events.reverse();
        }
        let ds = Dataset::new(&intent, events.clone(), vec![], vec![]);

        assert_eq!(at(&ds, "dora.deployment_frequency", "alpha").samples, 4);
        assert_eq!(at(&ds, "dora.deployment_frequency", "beta").samples, 3);

        let lead = at(&ds, "dora.lead_time.p50", "alpha");
        assert_eq!((lead.samples, lead.value), (3, Some(2.0 * H)), "alpha");
        let lead = at(&ds, "dora.lead_time.p50", "beta");
        assert_eq!((lead.samples, lead.value), (3, Some(23.0 * H)), "beta");

        let cfr = at(&ds, "dora.change_failure_rate", "alpha");
        assert_eq!((cfr.samples, cfr.value), (4, Some(0.0)));
        let cfr = at(&ds, "dora.change_failure_rate", "beta");
        assert_eq!((cfr.samples, cfr.value), (3, Some(1.0 / 3.0)));

        let runs = at(&ds, "pipeline.success_rate", "alpha");
        assert_eq!((runs.samples, runs.value), (2, Some(1.0)), "alpha runs");
        let runs = at(&ds, "pipeline.success_rate", "beta");
        assert_eq!((runs.samples, runs.value), (2, Some(0.5)), "beta runs");

        // Both repository spellings are the same claim: nothing unclaimed;
        // the incident that names no service is reported, not guessed.
        assert!(
            ds.unclaimed_repos().is_empty(),
            "{:?}",
            ds.unclaimed_repos()
        );
        assert_eq!(ds.unplaced_deliveries(), [("github.com/acme/mono", 1)]);
        assert!(unclaimed_repos(&intent, &events).is_empty());
    }
}

#[test]
fn explain_says_why_a_deployment_brought_no_lead_time() {
    let ds = Dataset::new(&intent(INTENT), history(), vec![], vec![]);
    let x = explain_with(
        &ds,
        "dora.lead_time",
        &Scope {
            service: Some("alpha".into()),
            ..Scope::default()
        },
        &Default::default(),
        Duration::from_days(30),
        t("10-20 00:00"),
    );
    let text = format!("{:?}", x.records);
    assert!(
        text.contains("no new commits under the service's paths"),
        "{text}"
    );
}

#[test]
fn a_service_claiming_the_whole_repository_takes_what_names_no_service() {
    // `platform` claims all of `acme/mono`: the PR whose files are unknown
    // and the deployment naming no service are its, not alpha's or beta's;
    // every commit counts for it too.
    let text = format!(
        "{INTENT}  - id: platform\n    team: core\n    repos: [github.com/acme/mono]\n    environments: [staging, production]\n"
    );
    let intent = intent(&text);
    let ds = Dataset::new(&intent, history(), vec![], vec![]);
    // alpha: base, c4 and c5 deployments; samples c1 4h, c3 2h.
    let lead = at(&ds, "dora.lead_time.p50", "alpha");
    assert_eq!(at(&ds, "dora.deployment_frequency", "alpha").samples, 3);
    assert_eq!((lead.samples, lead.value), (2, Some(3.0 * H)));
    // beta: base and c4; samples c2 24h, c3 23h.
    let lead = at(&ds, "dora.lead_time.p50", "beta");
    assert_eq!((lead.samples, lead.value), (2, Some(23.5 * H)));
    // platform: only the m9 deployment (12 15:00), which walks nothing
    // (m9's parents are unknown): m9 1h.
    assert_eq!(at(&ds, "dora.deployment_frequency", "platform").samples, 1);
    let lead = at(&ds, "dora.lead_time.p50", "platform");
    assert_eq!((lead.samples, lead.value), (1, Some(H)));
    // The incident naming no service is platform's.
    assert!(ds.unplaced_deliveries().is_empty());
    assert_eq!(
        at(&ds, "dora.change_failure_rate", "platform").value,
        Some(1.0)
    );
}
