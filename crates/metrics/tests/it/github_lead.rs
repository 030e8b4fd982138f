//! Lead time over GitHub webhook deliveries (issue 14, item 1): a push's head
//! commit is a real commit with its own authored time and its own sample.
//!
//! Production deployments of `acme/checkout` (October 2026, UTC), and the
//! samples worked out by hand (deployment time − commit timestamp):
//!
//! | dep | time  | sha | what reached it                                   | samples        |
//! |-----|-------|-----|---------------------------------------------------|----------------|
//! | D0  | 10 12:00 | base | first deployment, no change event for `base`   | none           |
//! | D1  | 11 12:00 | p1b  | push of 2: p1a 09:00, p1b 10:00                | 3h, 2h         |
//! | D2  | 12 09:00 | s1   | squash merge: PR #5 + push of 1, s1 08:00      | 1h             |
//! | D3  | 12 16:00 | m6   | merge commit: PR #6 + push f1 11:00, f2 12:00, m6 14:00 | 5h, 4h, 2h |
//! | D4  | 13 12:00 | g2   | two pushes of 1: g1 09:00, g2 10:00            | 3h, 2h         |
//! | D5  | 14 11:00 | q7   | PR #7 merged 10:00, no push event              | 1h             |
//! | D6  | 15 12:00 | h2   | force push (`forced: true`): h1 07:00, h2 08:00 | 5h, 4h        |
//!
//! Samples sorted: [1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5] h → 11 samples, p50 = 3h,
//! p90 at rank 0.9·10 = 9 → 5h. Before the fix the heads p1b, s1, m6, g2, h2
//! had no sample (and g1 none either): 5 samples.

use bearing_events::Event;
use bearing_events::formats::{Format, ParseContext, parse};
use bearing_intent::{Duration, Scope};
use bearing_metrics::*;
use serde_json::{Value, json};

use crate::fixture::t;

const H: f64 = 3600.0;

fn iso(s: &str) -> String {
    t(s).to_rfc3339()
}

fn repo() -> Value {
    repo_named("checkout")
}

fn repo_named(name: &str) -> Value {
    json!({
        "id": 42, "name": name, "full_name": format!("acme/{name}"), "default_branch": "main",
        "html_url": format!("https://github.com/acme/{name}"),
    })
}

fn in_repo(name: &str, events: Vec<Event>) -> Vec<Event> {
    // Re-deliver the same payload shapes from another repository.
    events
        .into_iter()
        .map(|mut e| {
            e.service = Some(name.to_string());
            e.id = format!("{name}:{}", e.id);
            e.links.retain(|l| l.rel != "repository");
            e.links.push(bearing_events::Link {
                rel: "repository".into(),
                target: format!("https://github.com/acme/{name}"),
            });
            if let bearing_events::Payload::Change(c) = &mut e.payload {
                c.repo = Some(format!("acme/{name}"));
            }
            e
        })
        .collect()
}

fn deliver(event: &str, payload: Value) -> Vec<Event> {
    let mut ctx = ParseContext::new(t("10-20 00:00"));
    ctx.github_event = Some(event.into());
    parse(Format::GithubWebhook, payload.to_string().as_bytes(), &ctx).unwrap()
}

fn push(before: &str, forced: bool, commits: &[(&str, &str)]) -> Vec<Event> {
    let list: Vec<Value> = commits
        .iter()
        .map(|(id, at)| json!({ "id": id, "timestamp": iso(at), "message": id, "distinct": true }))
        .collect();
    let (head, head_at) = commits.last().copied().unwrap();
    deliver(
        "push",
        json!({
            "ref": "refs/heads/main", "before": before, "after": head, "forced": forced,
            "created": false, "deleted": false,
            "commits": list,
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

fn deployed(id: u64, at: &str, sha: &str) -> Vec<Event> {
    deliver(
        "deployment_status",
        json!({
            "action": "created",
            "deployment_status": { "id": 5000 + id, "state": "success", "created_at": iso(at), "environment": "production" },
            "deployment": { "id": id, "sha": sha, "ref": "main", "environment": "production", "created_at": iso(at) },
            "repository": repo(), "sender": { "login": "deployer" },
        }),
    )
}

fn history() -> Vec<Event> {
    let zeros = "0000000000000000000000000000000000000000";
    [
        deployed(1, "10-10 12:00", "base"),
        push(
            "base",
            false,
            &[("p1a", "10-11 09:00"), ("p1b", "10-11 10:00")],
        ),
        deployed(2, "10-11 12:00", "p1b"),
        merged_pr(5, "10-12 08:00", "s1"),
        push("p1b", false, &[("s1", "10-12 08:00")]),
        deployed(3, "10-12 09:00", "s1"),
        merged_pr(6, "10-12 14:00", "m6"),
        push(
            "s1",
            false,
            &[
                ("f1", "10-12 11:00"),
                ("f2", "10-12 12:00"),
                ("m6", "10-12 14:00"),
            ],
        ),
        deployed(4, "10-12 16:00", "m6"),
        push("m6", false, &[("g1", "10-13 09:00")]),
        push("g1", false, &[("g2", "10-13 10:00")]),
        deployed(5, "10-13 12:00", "g2"),
        merged_pr(7, "10-14 10:00", "q7"),
        deployed(6, "10-14 11:00", "q7"),
        push(zeros, true, &[("h1", "10-15 07:00"), ("h2", "10-15 08:00")]),
        deployed(7, "10-15 12:00", "h2"),
    ]
    .concat()
}

fn checkout() -> Scope {
    Scope {
        service: Some("checkout".into()),
        ..Scope::default()
    }
}

fn value(ds: &Dataset, metric: &str) -> MetricValue {
    evaluate(
        ds,
        metric,
        &checkout(),
        &Default::default(),
        Duration::from_days(30),
        t("10-20 00:00"),
    )
}

#[test]
fn every_pushed_commit_including_the_head_gets_its_own_lead_time() {
    let ds = Dataset::new(&crate::golden::intent(), history(), vec![], vec![]);
    let p50 = value(&ds, "dora.lead_time.p50");
    assert_eq!(p50.samples, 11, "{p50:?}");
    assert_eq!(p50.value, Some(3.0 * H));
    assert_eq!(value(&ds, "dora.lead_time.p90").value, Some(5.0 * H));
    assert_eq!(value(&ds, "dora.deployment_frequency").samples, 7);

    let x = explain(
        &ds,
        "dora.lead_time.p50",
        &checkout(),
        Duration::from_days(30),
        t("10-20 00:00"),
    );
    let mut roles: Vec<&str> = x
        .records
        .iter()
        .map(|r| r.role.as_str())
        .filter(|r| r.starts_with("commit "))
        .collect();
    roles.sort_unstable();
    assert_eq!(
        roles,
        [
            "commit f1 lead time 5h",
            "commit f2 lead time 4h",
            "commit g1 lead time 3h",
            "commit g2 lead time 2h",
            "commit h1 lead time 5h",
            "commit h2 lead time 4h",
            "commit m6 lead time 2h",
            "commit p1a lead time 3h",
            "commit p1b lead time 2h",
            "commit q7 lead time 1h",
            "commit s1 lead time 1h",
        ]
    );
    // Only the first deployment, whose commit no change event names, lacks a sample.
    let none: Vec<&str> = x
        .records
        .iter()
        .map(|r| r.role.as_str())
        .filter(|r| r.contains("no lead-time sample"))
        .collect();
    assert_eq!(none.len(), 1, "{none:?}");
}

#[test]
fn a_single_commit_push_deployed_first_still_counts_its_head() {
    // The first deployment is bounded by nothing before it: it brings the
    // push that landed its head, head included.
    let events = [
        push(
            "base",
            false,
            &[("a1", "10-11 06:00"), ("a2", "10-11 07:00")],
        ),
        deployed(1, "10-11 12:00", "a2"),
    ]
    .concat();
    let ds = Dataset::new(&crate::golden::intent(), events, vec![], vec![]);
    let p50 = value(&ds, "dora.lead_time.p50");
    assert_eq!(p50.samples, 2);
    assert_eq!(p50.value, Some(5.5 * H));
}

const REPOS_INTENT: &str = r#"
version: 1
teams: [{ id: core }]
services:
  - id: alpha
    team: core
    repos: [github.com/acme/svc-a, "https://github.com/acme/svc-a-web.git"]
    environments: [production]
  - id: beta
    team: core
    environments: [production]
objectives:
  - id: speed
    layer: engineering
    owner: core
    key_results:
      - { metric: dora.deployment_frequency, scope: { service: alpha }, target: ">= 1/week", window: 30d }
"#;

#[test]
fn repos_in_the_intent_map_deliveries_to_services_and_strays_are_reported() {
    let intent = bearing_intent::load_str(std::path::Path::new("bearing.yaml"), REPOS_INTENT)
        .unwrap()
        .intent;
    let events = [
        // alpha's two repositories
        in_repo(
            "svc-a",
            [
                push(
                    "base",
                    false,
                    &[("a1", "10-11 09:00"), ("a2", "10-11 10:00")],
                ),
                deployed(1, "10-11 12:00", "a2"),
            ]
            .concat(),
        ),
        in_repo(
            "svc-a-web",
            [
                push("base", false, &[("w1", "10-12 08:00")]),
                deployed(2, "10-12 09:00", "w1"),
            ]
            .concat(),
        ),
        // beta by its name, with no `repos`
        in_repo("beta", deployed(3, "10-12 10:00", "b1")),
        // nobody's
        in_repo(
            "stray",
            [
                push("base", false, &[("s1", "10-12 08:00")]),
                deployed(4, "10-12 11:00", "s1"),
            ]
            .concat(),
        ),
    ]
    .concat();
    let ds = Dataset::new(&intent, events, vec![], vec![]);
    let scope = |s: &str| Scope {
        service: Some(s.into()),
        ..Scope::default()
    };
    let at = |metric: &str, s: &str| {
        evaluate(
            &ds,
            metric,
            &scope(s),
            &Default::default(),
            Duration::from_days(30),
            t("10-20 00:00"),
        )
    };
    // Hand-worked: alpha deploys twice (one per repository); leads a1 3h,
    // a2 2h, w1 1h → p50 2h.
    assert_eq!(at("dora.deployment_frequency", "alpha").samples, 2);
    let lead = at("dora.lead_time.p50", "alpha");
    assert_eq!((lead.samples, lead.value), (3, Some(2.0 * H)));
    assert_eq!(at("dora.deployment_frequency", "beta").samples, 1);
    assert_eq!(ds.unclaimed_repos(), [("github.com/acme/stray", 2)]);

    let card = scorecard(&intent, &ds, t("10-20 00:00"), ScorecardFilter::default());
    let kr = &card.objectives[0].key_results[0];
    assert_eq!(kr.samples, 2, "alpha has data: {kr:?}");
    assert!(
        card.notes
            .iter()
            .any(|n| n.contains("github.com/acme/stray") && n.contains("repos")),
        "{:?}",
        card.notes
    );
}
