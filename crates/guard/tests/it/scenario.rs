//! The issue's "done when": an `iam:*` plan is denied and a clean one allowed,
//! both explained in text and SARIF; a valid waiver flips the deny to allow and
//! an expired one does not; an error-budget freeze blocks a normal deploy and
//! lets a hotfix through.

use bearing_guard::{Verdict, output, read_plan};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::common::*;

const INTENT: &str = r#"
version: 1
teams: [{id: payments}]
services:
  - {id: checkout, team: payments, environments: [staging, production]}
objectives:
  - id: least-privilege
    layer: security
    key_results: [{metric: security.findings_past_sla, target: "<= 0"}]
guardrails:
  - {id: no-iam-wildcards, kind: iam_least_privilege, protects: least-privilege}
  - {id: freeze, kind: error_budget}
"#;

fn waiver(expires: &str) -> String {
    format!(
        "{INTENT}waivers:\n  - {{guardrail: no-iam-wildcards, scope: {{service: checkout}}, owner: alice, reason: break-glass role for the migration, ticket: SEC-42, expires: {expires}}}\n"
    )
}

fn plan_env(file: &str) -> bearing_guard::Envelope {
    let mut env = envelope("checkout", "production");
    env.attachments
        .terraform_plans
        .push(read_plan(&data_dir().join(file)).unwrap());
    env
}

#[test]
fn iam_star_is_denied_and_explained_clean_plan_allowed() {
    let e = engine(INTENT);
    let d = e.decide(&plan_env("iam_star.json"), &ctx());
    assert_eq!(d.result, Verdict::Deny);
    assert_eq!(d.result.exit_code(), 1);
    let v = &d.violations[0];
    assert_eq!(v.rule, "iam_wildcard_action");
    assert_eq!(v.objective.as_deref(), Some("least-privilege"));
    let loc = v.location.as_ref().unwrap();
    assert!(loc.file.ends_with("iam_star.json"));
    assert_eq!((loc.line, loc.column), (14, 21), "the `policy` attribute");
    let text = output::text(&d);
    assert!(
        text.contains("iam_star.json:14:21: aws_iam_policy.deployer allows `iam:*`"),
        "{text}"
    );
    assert!(text.contains("fix: list the exact actions"), "{text}");
    assert!(text.starts_with("DENY"), "{text}");
    let sarif = output::sarif(&d);
    let r = &sarif["runs"][0]["results"][0];
    assert_eq!(r["level"], "error");
    assert_eq!(r["ruleId"], "no-iam-wildcards/iam_wildcard_action");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        14
    );
    assert_eq!(sarif["version"], "2.1.0");

    let d = e.decide(&plan_env("iam_clean.json"), &ctx());
    assert_eq!(d.result, Verdict::Allow, "{:?}", d.violations);
    assert!(output::text(&d).starts_with("ALLOW"));
    assert!(
        output::sarif(&d)["runs"][0]["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn waiver_allows_until_it_expires() {
    let now = ctx().now; // 2026-11-26
    let valid = engine(&waiver("2026-12-31"));
    let d = valid.decide(&plan_env("iam_star.json"), &ctx());
    assert_eq!(d.result, Verdict::Allow);
    let w = d.violations[0].waiver.as_ref().unwrap();
    assert_eq!(
        (w.owner.as_str(), w.ticket.as_deref()),
        ("alice", Some("SEC-42"))
    );
    assert!(output::text(&d).contains("waived by alice until 2026-12-31, SEC-42"));
    assert_eq!(
        output::sarif(&d)["runs"][0]["results"][0]["suppressions"][0]["kind"],
        "external"
    );
    // The last day still applies; the day after it does not.
    let last_day = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
    let mut c = ctx();
    c.now = last_day;
    assert_eq!(
        valid.decide(&plan_env("iam_star.json"), &c).result,
        Verdict::Allow
    );
    c.now = last_day + Duration::hours(2);
    let d = valid.decide(&plan_env("iam_star.json"), &c);
    assert_eq!(d.result, Verdict::Deny);
    assert_eq!(d.expired_waivers.len(), 1);
    assert!(output::text(&d).contains("EXPIRED waiver for `no-iam-wildcards`"));

    let expired = engine(&waiver("2026-11-01"));
    let d = expired.decide(&plan_env("iam_star.json"), &ctx());
    assert_eq!(d.result, Verdict::Deny);
    assert_eq!(d.expired_waivers[0].owner, "alice");
    assert!(now > Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap());
}

#[test]
fn error_budget_freeze_blocks_normal_deploys_but_not_hotfixes() {
    let e = engine(INTENT);
    let mut c = ctx();
    c.outcomes = json!({"services": {"checkout": {"error_budget_remaining": -0.12, "change_failure_rate": 0.3}}});
    let d = e.decide(&envelope("checkout", "production"), &c);
    assert_eq!(d.result, Verdict::Deny);
    assert!(
        d.violations[0]
            .message
            .contains("error budget of checkout is spent (-12% remaining)"),
        "{:?}",
        d.violations
    );

    let mut hotfix = envelope("checkout", "production");
    hotfix.labels.push("hotfix".into());
    let d = e.decide(&hotfix, &c);
    assert_eq!(d.result, Verdict::Warn);
    assert_eq!(d.result.exit_code(), 0);

    // With budget left the freeze lifts; a plan that says freeze brings it back.
    c.outcomes = json!({"services": {"checkout": {"error_budget_remaining": 0.4}}});
    assert_eq!(
        e.decide(&envelope("checkout", "production"), &c).result,
        Verdict::Allow
    );
    c.plans.insert(
        "checkout".into(),
        bearing_events::DeliveryPlan {
            service: "checkout".into(),
            strategy: "canary".into(),
            freeze: true,
            extra_gates: vec![],
            reasons: vec!["cfr-high".into()],
            updated_at: c.now,
        },
    );
    let d = e.decide(&envelope("checkout", "production"), &c);
    assert_eq!(d.result, Verdict::Deny);
    assert!(
        d.violations[0]
            .message
            .contains("plan of checkout says freeze (cfr-high)")
    );
}
