//! The native forms of the built-in kinds against their Rego modules: the
//! same decision (verdict, every violation with its message, location and
//! remediation, and errors) on generated changes and on every scan and cost
//! report in the fixtures.

use bearing_guard::{Attachment, Context, Decision, Engine, Envelope};
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::*;

/// Every kind with a native form, with integer and fractional parameters,
/// several scopes, windows, blackouts and budgets.
const INTENT: &str = r#"
version: 1
teams: [{id: payments}, {id: search}]
services:
  - {id: checkout, team: payments, environments: [staging, production], delivery: {strategy: canary}, cost: {match: {tags: {app: checkout}}, monthly_budget: 1000 USD}}
  - {id: search, team: search, delivery: {strategy: blue-green}}
  - {id: ledger, team: payments, cost: {match: {tags: {app: ledger}}, monthly_budget: 250.5 USD}}
guardrails:
  - {id: cost, kind: cost_budget, params: {max_monthly_increase: 200 USD, max_increase_percent: 12.5%}}
  - {id: cost-int, kind: cost_budget, params: {max_monthly_increase: 50, monthly_budget: 700}, scope: {team: payments}}
  - {id: vulns, kind: vulnerabilities}
  - {id: vulns-age, kind: vulnerabilities, params: {block: [critical, high, medium], fixable_only: false, max_age: 30d}}
  - {id: budget, kind: error_budget}
  - {id: budget-strict, kind: error_budget, params: {min_remaining: 10%, on_missing: unknown, exempt_labels: [hotfix]}, scope: {environment: production}}
  - {id: window, kind: change_window, params: {timezone: Europe/Berlin, windows: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:30"}, {days: [sat], from: "10:00"}], blackouts: [{from: "2026-12-20", to: "2026-12-31", reason: year end}, {from: "2026-11-30", to: "2026-11-30"}]}}
  - {id: window-utc, kind: change_window, params: {windows: [{from: "06:00", to: "22:00"}]}, scope: {service: search}}
  - {id: strategy, kind: deploy_strategy}
  - {id: checks, kind: required_checks, mode: warn}
  - {id: checks-more, kind: required_checks, params: {checks: [tests, lint], scans: false}}
  - {id: risk, kind: change_risk}
  - {id: risk-int, kind: change_risk, params: {deny_above: 1, warn_above: 0.25, unless_canary: false, on_missing: unknown}}
"#;

fn engines() -> &'static (Engine, Engine) {
    static ENGINES: std::sync::OnceLock<(Engine, Engine)> = std::sync::OnceLock::new();
    ENGINES.get_or_init(|| {
        let native = engine(INTENT);
        let rego = native.clone().rego_only();
        (native, rego)
    })
}

/// What must agree: everything but the id and timing.
fn comparable(d: &Decision) -> Value {
    json!({
        "result": d.result,
        "violations": d.violations,
        "expired_waivers": d.expired_waivers,
        "evaluated": d.evaluated,
        "errors": d.errors,
    })
}

fn assert_same(native: &Engine, rego: &Engine, env: &Envelope, ctx: &Context) {
    let a = comparable(&native.decide(env, ctx));
    let b = comparable(&rego.decide(env, ctx));
    let only = |x: &Value, y: &Value| -> Vec<String> {
        let ys: Vec<String> = y["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        x["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .filter(|v| !ys.contains(v))
            .collect()
    };
    assert_eq!(
        a,
        b,
        "native and Rego differ:\nonly native: {:?}\nonly Rego: {:?}\nfor {}",
        only(&a, &b),
        only(&b, &a),
        serde_json::to_string(
            &json!({"envelope": env, "outcomes": ctx.outcomes, "risk": ctx.risk, "now": ctx.now})
        )
        .unwrap()
    );
}

fn scan(findings: Vec<Value>) -> Attachment {
    Attachment::new(
        "trivy.json",
        json!({"SchemaVersion": 2, "Results": [{"Target": "app", "Vulnerabilities": findings}]}),
    )
}

fn vuln(sev: &'static str, fixed: Option<&'static str>, published: Option<&'static str>) -> Value {
    json!({"VulnerabilityID": "CVE-2026-1", "PkgName": "openssl", "InstalledVersion": "3.0.1",
           "FixedVersion": fixed, "Severity": sev, "PublishedDate": published})
}

fn cost(total: Option<f64>, past: Option<f64>, diff: Option<f64>) -> Attachment {
    Attachment::new(
        "infracost.json",
        json!({"currency": "EUR", "totalMonthlyCost": total.map(|t| t.to_string()),
               "pastTotalMonthlyCost": past.map(|t| t.to_string()),
               "diffTotalMonthlyCost": diff.map(|t| t.to_string()), "projects": []}),
    )
}

fn change() -> impl Strategy<Value = (Envelope, Context)> {
    let service = prop::sample::select(vec!["checkout", "search", "ledger", "unknown"]);
    let environment = prop::sample::select(vec!["production", "staging"]);
    let labels = prop::sample::subsequence(vec!["hotfix", "security", "feature"], 0..=2);
    let strategy = prop::sample::select(vec![
        None,
        Some("direct"),
        Some("canary"),
        Some("blue-green"),
        Some("rolling"),
    ]);
    let checks = prop::collection::btree_map(
        prop::sample::select(vec!["tests", "lint"]),
        prop::sample::select(vec!["passed", "PASSED", "failed", "pending"]),
        0..=2,
    );
    let risk = prop::sample::select(vec![
        None,
        Some(0.125),
        Some(0.3),
        Some(0.5),
        Some(0.85),
        Some(1.0),
        Some(1.5),
    ]);
    let remaining = prop::sample::select(vec![
        Value::Null,
        json!(-0.12),
        json!(0),
        json!(0.005),
        json!(0.05),
        json!(0.5),
        json!(1),
        json!("n/a"),
    ]);
    let past_sla = prop::sample::select(vec![
        Value::Null,
        json!({"critical": 0, "high": 0}),
        json!({"critical": 2, "high": 1, "medium": 4}),
    ]);
    let spend = prop::sample::select(vec![Value::Null, json!(0.9), json!(1.255), json!(2)]);
    let forecast = prop::sample::select(vec![Value::Null, json!(640), json!(1200.75)]);
    let freeze = prop::sample::select(vec![
        None,
        Some((false, vec![])),
        Some((true, vec![])),
        Some((true, vec!["budget spent", "r2"])),
    ]);
    let minutes = 0..(60 * 24 * 60i64);
    let scans = prop::collection::vec(
        prop::collection::vec(
            (
                prop::sample::select(vec!["CRITICAL", "HIGH", "MEDIUM", "LOW"]),
                prop::sample::select(vec![None, Some("3.0.7")]),
                prop::sample::select(vec![
                    None,
                    Some("2026-11-20T00:00:00Z"),
                    Some("2024-01-01T12:00:00Z"),
                ]),
            )
                .prop_map(|(s, f, p)| vuln(s, f, p)),
            0..3,
        )
        .prop_map(scan),
        0..2,
    );
    let money = prop::sample::select(vec![
        None,
        Some(0.0),
        Some(100.0),
        Some(650.5),
        Some(1200.0),
    ]);
    let costs = prop::collection::vec(
        (money.clone(), money.clone(), money).prop_map(|(t, p, d)| cost(t, p, d)),
        0..2,
    );
    (
        (service, environment, labels, strategy, checks, risk),
        (remaining, past_sla, spend, forecast, freeze, minutes),
        (scans, costs),
    )
        .prop_map(
            |(
                (service, environment, labels, strategy, checks, risk),
                (remaining, past_sla, spend, forecast, freeze, minutes),
                (scans, costs),
            )| {
                let mut env = envelope(service, environment);
                env.labels = labels.into_iter().map(String::from).collect();
                env.strategy = strategy.map(String::from);
                env.checks = checks
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                env.attachments.scans = scans;
                env.attachments.cost = costs;
                let mut outcome = serde_json::Map::new();
                for (k, v) in [
                    ("error_budget_remaining", remaining),
                    ("findings_past_sla", past_sla),
                    ("spend_vs_budget", spend),
                    ("forecast_monthly_cost", forecast),
                ] {
                    if !v.is_null() {
                        outcome.insert(k.into(), v);
                    }
                }
                let mut c = ctx();
                c.now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
                    + Duration::minutes(minutes);
                c.risk = risk;
                c.outcomes = json!({"services": {service: outcome}});
                if let Some((freeze, reasons)) = freeze {
                    c.plans.insert(
                        service.to_string(),
                        bearing_events::DeliveryPlan {
                            service: service.to_string(),
                            strategy: "canary".into(),
                            freeze,
                            extra_gates: vec![],
                            reasons: reasons.into_iter().map(String::from).collect(),
                            updated_at: c.now,
                        },
                    );
                }
                (env, c)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn native_matches_rego((env, c) in change()) {
        let (native, rego) = engines();
        assert_same(native, rego, &env, &c);
    }
}

#[test]
fn native_matches_rego_on_fixture_reports() {
    let Some(root) = fixtures() else { return };
    let (native, rego) = engines();
    let mut c = ctx();
    c.outcomes =
        json!({"services": {"checkout": {"forecast_monthly_cost": 900, "spend_vs_budget": 1.1}}});
    let mut n = 0;
    for dir in ["trivy", "grype", "sarif", "infracost"] {
        for entry in walk(&root.join(dir)) {
            let read = if dir == "infracost" {
                bearing_guard::read_cost(&entry)
            } else {
                bearing_guard::read_scan(&entry)
            };
            let Ok(attachment) = read else { continue };
            let mut env = envelope("checkout", "production");
            env.strategy = Some("canary".into());
            if dir == "infracost" {
                env.attachments.cost.push(attachment);
            } else {
                env.attachments.scans.push(attachment);
            }
            assert_same(native, rego, &env, &c);
            n += 1;
        }
    }
    assert!(n > 40, "only {n} fixture reports compared");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "json" || x == "sarif") {
            out.push(p);
        }
    }
    out.sort();
    out
}
