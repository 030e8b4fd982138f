//! Each built-in kind on small hand-written inputs.

use bearing_guard::{Attachment, Verdict};
use serde_json::json;

use crate::common::*;

#[test]
fn all_kinds_compile_and_a_clean_change_passes() {
    let e = engine(ALL_KINDS);
    let mut env = envelope("checkout", "production");
    env.strategy = Some("canary".into());
    env.checks.insert("tests".into(), "passed".into());
    env.attachments.scans.push(Attachment::new(
        "trivy.json",
        json!({"SchemaVersion": 2, "Results": []}),
    ));
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Allow, "{:#?}", d);
    assert_eq!(d.evaluated.len(), 9);
}

fn one(kind_yaml: &str) -> bearing_guard::Engine {
    engine(&format!(
        "version: 1\nteams: [{{id: payments}}]\nservices:\n  - {{id: checkout, team: payments, environments: [production], cost: {{match: {{tags: {{app: checkout}}}}, monthly_budget: 1000 USD}}, delivery: {{strategy: canary}}}}\n  - {{id: search, team: payments}}\nguardrails:\n  - {kind_yaml}\n"
    ))
}

fn infracost(total: Option<&str>, past: Option<&str>, diff: Option<&str>) -> Attachment {
    Attachment::new(
        "infracost.json",
        json!({"currency": "USD", "totalMonthlyCost": total, "pastTotalMonthlyCost": past, "diffTotalMonthlyCost": diff, "projects": []}),
    )
}

#[test]
fn cost_budget_increase_budget_and_unknown() {
    let e = one(
        "{id: cost, kind: cost_budget, params: {max_monthly_increase: 200 USD, max_increase_percent: 50%}}",
    );
    let mut env = envelope("checkout", "production");
    env.attachments
        .cost
        .push(infracost(Some("700"), Some("600"), Some("100")));
    assert_eq!(e.decide(&env, &ctx()).result, Verdict::Allow);
    env.attachments.cost[0] = infracost(Some("900"), Some("600"), Some("300"));
    let d = e.decide(&env, &ctx());
    assert_eq!(rules(&d), vec!["cost_increase:deny"]);
    // Projected against the service's 1000 USD budget from the live forecast.
    let mut c = ctx();
    c.outcomes = json!({"services": {"checkout": {"forecast_monthly_cost": 950}}});
    env.attachments.cost[0] = infracost(Some("700"), Some("600"), Some("100"));
    assert_eq!(rules(&e.decide(&env, &c)), vec!["over_budget:deny"]);
    // An unpriced total is unknown, never a pass.
    env.attachments.cost[0] = infracost(None, Some("600"), None);
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Unknown);
    assert_eq!(d.result.exit_code(), 3);
}

#[test]
fn vulnerabilities_by_severity_fixability_and_sla() {
    let e = one("{id: vulns, kind: vulnerabilities}");
    let mut env = envelope("checkout", "production");
    env.attachments.scans.push(Attachment::new(
        "trivy.json",
        json!({"SchemaVersion": 2, "Results": [{"Target": "app", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-1", "PkgName": "openssl", "InstalledVersion": "1.0", "FixedVersion": "1.1", "Severity": "CRITICAL"},
            {"VulnerabilityID": "CVE-2", "PkgName": "zlib", "InstalledVersion": "1.0", "FixedVersion": "", "Severity": "HIGH"},
            {"VulnerabilityID": "CVE-3", "PkgName": "curl", "InstalledVersion": "1.0", "FixedVersion": "2.0", "Severity": "MEDIUM"}
        ]}]}),
    ));
    let d = e.decide(&env, &ctx());
    assert_eq!(rules(&d), vec!["vulnerability:deny"]);
    assert_eq!(
        d.violations[0].remediation.as_deref(),
        Some("upgrade openssl to 1.1")
    );
    let mut c = ctx();
    c.outcomes =
        json!({"services": {"checkout": {"findings_past_sla": {"critical": 0, "high": 2}}}});
    assert_eq!(
        rules(&e.decide(&env, &c)),
        vec!["past_sla:deny", "vulnerability:deny"]
    );
}

#[test]
fn change_window_and_blackouts() {
    let e = one(
        "{id: window, kind: change_window, params: {timezone: Europe/Berlin, windows: [{days: [mon, tue, wed, thu], from: '09:00', to: '17:00'}], blackouts: [{from: '2026-12-20', to: '2027-01-02', reason: holidays}]}}",
    );
    // Thursday 10:30 UTC = 11:30 in Berlin.
    assert_eq!(
        e.decide(&envelope("checkout", "production"), &ctx()).result,
        Verdict::Allow
    );
    let mut c = ctx();
    c.now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 27, 10, 0, 0).unwrap(); // Friday
    let d = e.decide(&envelope("checkout", "production"), &c);
    assert_eq!(d.result, Verdict::Deny);
    assert!(
        d.violations[0].message.contains("fri 11:00 Europe/Berlin"),
        "{:?}",
        d.violations
    );
    let mut hotfix = envelope("checkout", "production");
    hotfix.labels.push("hotfix".into());
    assert_eq!(e.decide(&hotfix, &c).result, Verdict::Warn);
    c.now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 22, 10, 0, 0).unwrap(); // Tuesday, blackout
    assert!(
        e.decide(&envelope("checkout", "production"), &c).violations[0]
            .message
            .contains("(holidays)")
    );
}

#[test]
fn deploy_strategy_follows_the_plan() {
    let e = one("{id: strategy, kind: deploy_strategy}");
    let mut env = envelope("checkout", "production");
    // The intent says canary; no strategy declared means direct.
    assert_eq!(e.decide(&env, &ctx()).result, Verdict::Deny);
    env.strategy = Some("canary".into());
    assert_eq!(e.decide(&env, &ctx()).result, Verdict::Allow);
    env.strategy = Some("direct".into());
    let d = e.decide(&env, &ctx());
    assert!(
        d.violations[0]
            .message
            .contains("requires `canary`; this change deploys `direct`")
    );
    // search has no delivery section: direct is fine.
    assert_eq!(
        e.decide(&envelope("search", "production"), &ctx()).result,
        Verdict::Allow
    );
}

#[test]
fn required_checks_modes_scope_and_extra_gates() {
    let e = one(
        "{id: checks, kind: required_checks, mode: warn, scope: {service: checkout}, params: {checks: [tests, lint]}}",
    );
    let mut env = envelope("checkout", "production");
    env.checks.insert("tests".into(), "failed".into());
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Warn);
    assert_eq!(
        rules(&d),
        vec![
            "check_failed:warn",
            "check_missing:warn",
            "scan_missing:warn"
        ]
    );
    // Out of scope: not evaluated.
    let d = e.decide(&envelope("search", "production"), &ctx());
    assert!(d.evaluated.is_empty());
    // A plan's extra gate enforces it.
    let mut c = ctx();
    c.plans.insert(
        "checkout".into(),
        bearing_events::DeliveryPlan {
            service: "checkout".into(),
            strategy: "canary".into(),
            freeze: false,
            extra_gates: vec!["required_checks".into()],
            reasons: vec![],
            updated_at: c.now,
        },
    );
    assert_eq!(e.decide(&env, &c).result, Verdict::Deny);
    let audit = one("{id: checks, kind: required_checks, mode: audit}");
    let d = audit.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Allow);
    assert!(
        d.violations
            .iter()
            .all(|v| v.effect == bearing_guard::Effect::Audit)
    );
}

#[test]
fn change_risk_thresholds_and_canary() {
    let e = one("{id: risk, kind: change_risk}");
    let mut env = envelope("checkout", "production");
    let mut c = ctx();
    c.risk = Some(0.9);
    assert_eq!(e.decide(&env, &c).result, Verdict::Deny);
    env.strategy = Some("canary".into());
    assert_eq!(e.decide(&env, &c).result, Verdict::Warn);
    c.risk = Some(0.2);
    assert_eq!(e.decide(&env, &c).result, Verdict::Allow);
}

#[test]
fn an_advisory_risk_warns_with_its_reasons_and_never_denies() {
    let e = one("{id: risk, kind: change_risk}");
    let env = envelope("checkout", "production");
    let mut c = ctx();
    c.risk = Some(0.9);
    c.risk_reasons = Some("lines_changed 2000 +1.78".into());
    let d = e.decide(&env, &c);
    assert_eq!(d.result, Verdict::Deny);
    assert!(
        d.violations[0]
            .message
            .contains("(lines_changed 2000 +1.78)"),
        "{:?}",
        d.violations
    );
    c.risk_advisory = Some("held-out ROC AUC 0.431 is below 0.65".into());
    let d = e.decide(&env, &c);
    assert_eq!(d.result, Verdict::Warn, "{:?}", d.violations);
    assert!(
        d.violations[0]
            .message
            .contains("advisory: held-out ROC AUC 0.431"),
        "{:?}",
        d.violations
    );
}

#[test]
fn eval_data_answers_like_opa() {
    let e = one("{id: risk, kind: change_risk}");
    let v = e.eval_data("bearing/intent/services", json!({})).unwrap();
    assert_eq!(v["result"][0]["id"], "checkout");
    assert_eq!(
        e.eval_data("bearing/nothing", json!({})).unwrap(),
        json!({})
    );
    assert!(e.eval_data("bad path!", json!({})).is_err());
}
