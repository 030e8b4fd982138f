//! The native forms of the built-in kinds against their Rego modules: the
//! same decision (verdict, every violation with its message, location and
//! remediation, and errors) on generated changes and on every scan and cost
//! report, Terraform plan and Kubernetes manifest in the fixtures.

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
  - {id: vulns-threat, kind: vulnerabilities, params: {block: [critical], sla: false, deny: {kev: true, epss_at_least: 0.5}}, scope: {team: payments}}
  - {id: vulns-epss, kind: vulnerabilities, params: {block: [], deny: {epss_at_least: 0.2}}}
  - {id: budget, kind: error_budget}
  - {id: budget-strict, kind: error_budget, params: {min_remaining: 10%, on_missing: unknown, exempt_labels: [hotfix]}, scope: {environment: production}}
  - {id: window, kind: change_window, params: {timezone: Europe/Berlin, windows: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:30"}, {days: [sat], from: "10:00"}], blackouts: [{from: "2026-12-20", to: "2026-12-31", reason: year end}, {from: "2026-11-30", to: "2026-11-30"}]}}
  - {id: window-utc, kind: change_window, params: {windows: [{from: "06:00", to: "22:00"}]}, scope: {service: search}}
  - {id: strategy, kind: deploy_strategy}
  - {id: checks, kind: required_checks, mode: warn}
  - {id: checks-more, kind: required_checks, params: {checks: [tests, lint], scans: false}}
  - {id: risk, kind: change_risk}
  - {id: risk-int, kind: change_risk, params: {deny_above: 1, warn_above: 0.25, unless_canary: false, on_missing: unknown}}
  - {id: iam, kind: iam_least_privilege}
  - {id: iam-loose, kind: iam_least_privilege, params: {wildcard_actions: false, allowed_actions: ["s3:*", "iam:PassRole", "*"], admin_policies: [PowerUserAccess], public_ports: [22, 443], unencrypted_s3: false}, scope: {team: payments}}
  - {id: iam-narrow, kind: iam_least_privilege, params: {wildcard_resources: false, public_s3: false, public_ports: []}, mode: warn}
  - {id: k8s, kind: k8s_baseline}
  - {id: k8s-some, kind: k8s_baseline, params: {run_as_root: false, resource_limits: false}, scope: {environment: production}}
  - {id: k8s-other, kind: k8s_baseline, params: {privileged: false, latest_tag: false, host_path: false, host_namespaces: false}}
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
    let risk_note = prop::sample::select(vec![
        (None, None),
        (Some("lines_changed 2000 +1.78"), None),
        (None, Some("held-out ROC AUC 0.431 is below 0.65")),
        (Some("files_changed 40 +0.30"), Some("no held-out ROC AUC")),
    ]);
    let scans = prop::collection::vec(
        prop::collection::vec(
            (
                prop::sample::select(vec!["CRITICAL", "HIGH", "MEDIUM", "LOW"]),
                prop::sample::select(vec![None, Some("3.0.7")]),
                prop::sample::select(vec![
                    None,
                    Some("2026-11-20T00:00:00Z"),
                    Some("2024-01-01T12:00:00Z"),
                    Some("2026-11-20T01:00:00+01:00"),
                    Some("1500-01-01T00:00:00Z"),
                    Some("2300-01-01T00:00:00Z"),
                    Some("yesterday"),
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
    let threats = prop::collection::vec(
        (
            prop::sample::select(vec!["CVE-2025-48384", "CVE-2022-28391"]),
            prop::sample::select(vec![None, Some("2025-08-25")]),
            prop::sample::select(vec![
                None,
                Some(json!(0.1)),
                Some(json!(0.55)),
                Some(json!(1)),
            ]),
        )
            .prop_map(|(id, added, epss)| {
                json!({"id": id, "package": "git", "target": "acme/checkout", "severity": "high",
                       "kev_added": added, "kev_due": null, "ransomware": null, "epss": epss})
            }),
        0..3,
    );
    let costs = prop::collection::vec(
        (money.clone(), money.clone(), money).prop_map(|(t, p, d)| cost(t, p, d)),
        0..2,
    );
    (
        (service, environment, labels, strategy, checks, risk),
        (remaining, past_sla, spend, forecast, freeze, minutes),
        (scans, costs, risk_note, threats),
    )
        .prop_map(
            |(
                (service, environment, labels, strategy, checks, risk),
                (remaining, past_sla, spend, forecast, freeze, minutes),
                (scans, costs, (reasons, advisory), threats),
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
                if !threats.is_empty() {
                    outcome.insert("threats".into(), Value::Array(threats));
                }
                let mut c = ctx();
                c.now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
                    + Duration::minutes(minutes);
                c.risk = risk;
                c.risk_reasons = reasons.map(String::from);
                c.risk_advisory = advisory.map(String::from);
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

/// A publication date that is not a time Rego can hold is an unknown age,
/// which `max_age` blocks like a missing one, natively and in Rego (a finding
/// published `1500-01-01` used to pass as young enough).
#[test]
fn unreadable_publication_dates_block_like_missing_ones() {
    let (native, rego) = engines();
    let blocked_by_age = |engine: &Engine, published: Option<&'static str>| {
        let mut env = envelope("checkout", "production");
        env.attachments
            .scans
            .push(scan(vec![vuln("MEDIUM", None, published)]));
        engine
            .decide(&env, &ctx())
            .violations
            .iter()
            .any(|v| v.guardrail == "vulns-age")
    };
    for published in [
        None,
        Some("1500-01-01T00:00:00Z"),
        Some("1969-12-31T23:59:59Z"),
        Some("2262-04-12T00:00:00Z"),
        Some("9999-12-31T23:59:59Z"),
        Some("+10000-01-01T00:00:00Z"),
        Some("yesterday"),
        Some("2020-01-01T00:00:00Z"),
        Some("2026-10-01T00:00:00+02:00"),
    ] {
        for engine in [native, rego] {
            assert!(blocked_by_age(engine, published), "{published:?}");
        }
    }
    // Six days before `now` (2026-11-26T10:30Z) is younger than `max_age: 30d`.
    for published in ["2026-11-20T00:00:00Z", "2026-11-20T01:00:00+01:00"] {
        for engine in [native, rego] {
            assert!(!blocked_by_age(engine, Some(published)), "{published}");
        }
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
    walk_ext(dir, &["json", "sarif"])
}

fn walk_ext(dir: &std::path::Path, exts: &[&str]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_ext(&p, exts));
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn native_matches_rego_on_fixture_plans_and_manifests() {
    let Some(root) = fixtures() else { return };
    let (native, rego) = engines();
    let c = ctx();
    let mut plans = 0;
    for entry in walk_ext(&root.join("terraform-plans"), &["json"]) {
        let Ok(attachment) = bearing_guard::read_plan(&entry) else {
            continue;
        };
        for (service, environment) in [("checkout", "production"), ("search", "staging")] {
            let mut env = envelope(service, environment);
            env.attachments.terraform_plans.push(attachment.clone());
            assert_same(native, rego, &env, &c);
        }
        plans += 1;
    }
    let mut manifests = 0;
    for entry in walk_ext(&root.join("k8s-manifests"), &["yaml", "yml", "json"]) {
        let Ok(attachment) = bearing_guard::read_manifests(&entry) else {
            continue;
        };
        for (service, environment) in [("checkout", "production"), ("search", "staging")] {
            let mut env = envelope(service, environment);
            env.attachments.manifests.push(attachment.clone());
            assert_same(native, rego, &env, &c);
        }
        manifests += 1;
    }
    assert!(plans >= 10, "only {plans} fixture plans compared");
    assert!(
        manifests >= 10,
        "only {manifests} fixture manifests compared"
    );
}

/// Inserts the fields whose value is not `None` (`None` leaves a field out).
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

fn pick<T: Clone + std::fmt::Debug + 'static>(v: Vec<T>) -> prop::sample::Select<T> {
    prop::sample::select(v)
}

/// An IAM policy statement (as JSON) with the shapes the guardrail tells apart.
fn statement() -> impl Strategy<Value = Value> {
    (
        pick(vec![
            None,
            Some(json!("Allow")),
            Some(json!("Deny")),
            Some(Value::Null),
        ]),
        pick(vec![
            Some(json!("*")),
            Some(json!("s3:*")),
            Some(json!("s3:GetObject")),
            Some(json!(["s3:GetObject", "s3:PutObject"])),
            Some(json!([
                "iam:PassRole",
                "ec2:Describe*",
                "dynamodb:BatchGetItem"
            ])),
            Some(json!("iam:PassRole")),
            Some(json!(["*", "sts:AssumeRole"])),
            Some(json!([])),
            Some(Value::Null),
            None,
        ]),
        pick(vec![
            Some(json!("*")),
            Some(json!(["*"])),
            Some(json!("arn:aws:s3:::b/*")),
            Some(json!(["arn:aws:s3:::b", "*"])),
            Some(Value::Null),
            None,
        ]),
        pick(vec![
            None,
            Some(json!("*")),
            Some(json!({"AWS": "*"})),
            Some(json!({"AWS": ["arn:aws:iam::1:root", "*"]})),
            Some(json!({"AWS": "arn:aws:iam::1:root"})),
            Some(json!({"Service": "*"})),
        ]),
        pick(vec![
            None,
            Some(json!({"Bool": {"aws:SecureTransport": "false"}})),
            Some(json!(false)),
            Some(json!({})),
            Some(Value::Null),
        ]),
    )
        .prop_map(|(effect, action, resource, principal, condition)| {
            object(vec![
                ("Effect", effect),
                ("Action", action),
                ("Resource", resource),
                ("Principal", principal),
                ("Condition", condition),
            ])
        })
}

/// A policy document as a string: `Statement` as an array or an object, and
/// sometimes not JSON at all.
fn policy() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(statement(), 1..3),
        // Mostly JSON: a string that is not is left to Rego (checked all the same).
        pick(vec![
            "array", "array", "array", "object", "object", "broken", "empty",
        ]),
    )
        .prop_map(|(statements, shape)| match shape {
            "array" => json!(json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
            "object" => json!(json!({"Statement": statements[0]}).to_string()),
            "broken" => json!("{not json"),
            _ => json!(""),
        })
}

/// A security group rule with the fields of the three rule resources.
fn sg_rule() -> impl Strategy<Value = Value> {
    (
        pick(vec![
            None,
            Some(json!(["0.0.0.0/0"])),
            Some(json!(["10.0.0.0/8"])),
            Some(json!("0.0.0.0/0")),
            Some(Value::Null),
        ]),
        pick(vec![None, Some(json!(["::/0"])), Some(json!([]))]),
        pick(vec![
            (None, None),
            (Some(json!("0.0.0.0/0")), None),
            (None, Some(json!("::/0"))),
            (Some(json!("10.0.0.0/8")), None),
        ]),
        pick(vec![
            (Some(json!(443)), Some(json!(443))),
            (Some(json!(22)), Some(json!(22))),
            (Some(json!(80)), Some(json!(80.0))),
            (Some(json!(0)), Some(json!(65535))),
            (Some(json!(8000)), Some(json!(8080))),
            (Some(Value::Null), Some(Value::Null)),
            (None, None),
            (Some(json!(-1)), Some(json!(-1))),
        ]),
        pick(vec![
            (Some(json!("tcp")), None),
            (Some(json!("-1")), None),
            (Some(json!("all")), None),
            (None, Some(json!("-1"))),
            (None, Some(json!("tcp"))),
            (None, None),
        ]),
    )
        .prop_map(
            |(cidrs, ipv6, (v4, v6), (from, to), (protocol, ip_protocol))| {
                object(vec![
                    ("cidr_blocks", cidrs),
                    ("ipv6_cidr_blocks", ipv6),
                    ("cidr_ipv4", v4),
                    ("cidr_ipv6", v6),
                    ("from_port", from),
                    ("to_port", to),
                    ("protocol", protocol),
                    ("ip_protocol", ip_protocol),
                ])
            },
        )
}

/// A `resource_changes` entry of a kind the guardrail reads:
/// `(mode, type, after, after_unknown)`.
fn resource() -> impl Strategy<Value = (&'static str, &'static str, Value, Value)> {
    let flag = || pick(vec![None, Some(json!(true)), Some(json!(false))]);
    let admin_arn = pick(vec![
        json!("arn:aws:iam::aws:policy/AdministratorAccess"),
        json!("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        json!("arn:aws:iam::aws:policy/PowerUserAccess"),
        json!("arn:aws:iam::aws:policy/job-function/IAMFullAccess"),
        Value::Null,
    ]);
    prop_oneof![
        (
            pick(vec![
                "aws_iam_policy",
                "aws_iam_role_policy",
                "aws_iam_user_policy"
            ]),
            prop::option::of(policy()),
            flag()
        )
            .prop_map(|(t, p, u)| (
                "managed",
                t,
                object(vec![("policy", p)]),
                object(vec![("policy", u)])
            )),
        (
            prop::collection::vec(
                (
                    prop::option::of(policy()),
                    pick(vec![None, Some(json!("inline"))])
                )
                    .prop_map(|(p, n)| object(vec![("name", n), ("policy", p)])),
                0..3
            ),
            prop::collection::vec(admin_arn.clone(), 0..3),
            pick(vec!["array", "absent", "null"]),
        )
            .prop_map(|(inline, arns, shape)| {
                let arns = match shape {
                    "array" => Some(json!(arns)),
                    "null" => Some(Value::Null),
                    _ => None,
                };
                (
                    "managed",
                    "aws_iam_role",
                    object(vec![
                        ("inline_policy", Some(json!(inline))),
                        ("managed_policy_arns", arns),
                    ]),
                    json!({}),
                )
            }),
        (
            pick(vec![
                "aws_iam_role_policy_attachment",
                "aws_iam_policy_attachment",
                "aws_iam_user_policy_attachment"
            ]),
            prop::option::of(admin_arn),
            flag()
        )
            .prop_map(|(t, arn, u)| (
                "managed",
                t,
                object(vec![("policy_arn", arn)]),
                object(vec![("policy_arn", u)])
            )),
        (
            prop::option::of(policy()),
            prop::collection::vec(
                (
                    pick(vec![None, Some(json!("Allow")), Some(json!("Deny"))]),
                    pick(vec![
                        None,
                        Some(json!(["s3:GetObject"])),
                        Some(json!(["s3:PutObject", "s3:*"])),
                        Some(json!(["*"])),
                        Some(json!("s3:GetObject"))
                    ]),
                    pick(vec![
                        None,
                        Some(json!(["*"])),
                        Some(json!(["arn:aws:s3:::b"])),
                        Some(json!([]))
                    ]),
                    pick(vec![
                        None,
                        Some(json!({"resources": [true]})),
                        Some(json!({"resources": [false, true]})),
                        Some(json!({"resources": true})),
                        Some(json!({}))
                    ]),
                ),
                0..3
            ),
            flag(),
            pick(vec!["data", "managed"]),
        )
            .prop_map(|(j, statements, u, mode)| {
                let (blocks, unknown): (Vec<Value>, Vec<Value>) = statements
                    .into_iter()
                    .map(|(e, a, r, su)| {
                        (
                            object(vec![("effect", e), ("actions", a), ("resources", r)]),
                            su.unwrap_or(json!({})),
                        )
                    })
                    .unzip();
                (
                    mode,
                    "aws_iam_policy_document",
                    object(vec![("json", j), ("statement", Some(json!(blocks)))]),
                    object(vec![("policy", u), ("statement", Some(json!(unknown)))]),
                )
            }),
        (
            pick(vec!["aws_s3_bucket", "aws_s3_bucket_acl"]),
            pick(vec![
                None,
                Some(json!("private")),
                Some(json!("public-read")),
                Some(json!("authenticated-read")),
                Some(Value::Null)
            ]),
            pick(vec![
                None,
                Some(json!([])),
                Some(json!([{"rule": []}])),
                Some(Value::Null)
            ]),
            pick(vec![None, Some(json!("b1")), Some(json!("b2"))]),
            flag(),
            pick(vec!["managed", "data"]),
        )
            .prop_map(|(t, acl, sse, bucket, u, mode)| {
                (
                    mode,
                    t,
                    object(vec![
                        ("acl", acl),
                        ("server_side_encryption_configuration", sse),
                        ("bucket", bucket),
                    ]),
                    object(vec![("server_side_encryption_configuration", u)]),
                )
            }),
        (
            pick(vec![None, Some(json!("b1")), Some(json!("(unknown)"))]),
            flag()
        )
            .prop_map(|(bucket, u)| (
                "managed",
                "aws_s3_bucket_server_side_encryption_configuration",
                object(vec![("bucket", bucket)]),
                object(vec![("bucket", u)])
            )),
        (
            pick(vec![
                "aws_s3_bucket_public_access_block",
                "aws_s3_account_public_access_block"
            ]),
            flag(),
            flag(),
            flag(),
            flag()
        )
            .prop_map(|(t, a, b, c, d)| (
                "managed",
                t,
                object(vec![
                    ("block_public_acls", a),
                    ("block_public_policy", b),
                    ("ignore_public_acls", c),
                    ("restrict_public_buckets", d)
                ]),
                json!({})
            )),
        (prop::option::of(policy()), flag()).prop_map(|(p, u)| (
            "managed",
            "aws_s3_bucket_policy",
            object(vec![("bucket", Some(json!("b1"))), ("policy", p)]),
            object(vec![("policy", u)])
        )),
        prop::collection::vec(sg_rule(), 0..3).prop_map(|rules| (
            "managed",
            "aws_security_group",
            json!({"ingress": rules}),
            json!({})
        )),
        (sg_rule(), pick(vec!["ingress", "egress"])).prop_map(|(mut rule, t)| {
            rule["type"] = json!(t);
            ("managed", "aws_security_group_rule", rule, json!({}))
        }),
        sg_rule().prop_map(|rule| (
            "managed",
            "aws_vpc_security_group_ingress_rule",
            rule,
            json!({})
        )),
    ]
}

fn terraform_plan() -> impl Strategy<Value = Attachment> {
    prop::collection::vec(
        (
            resource(),
            pick(vec![
                vec!["create"],
                vec!["update"],
                vec!["delete"],
                vec!["no-op"],
                vec!["read"],
                vec!["delete", "create"],
            ]),
        ),
        0..6,
    )
    .prop_map(|rs| {
        let changes: Vec<Value> = rs
            .into_iter()
            .enumerate()
            .map(|(i, ((mode, t, after, unknown), actions))| {
                let address = if mode == "data" {
                    format!("data.{t}.r{i}")
                } else {
                    format!("{t}.r{i}")
                };
                json!({"address": address, "mode": mode, "type": t, "name": format!("r{i}"),
                       "change": {"actions": actions, "after": after, "after_unknown": unknown}})
            })
            .collect();
        Attachment::new(
            "plan.json",
            json!({"format_version": "1.2", "resource_changes": changes}),
        )
    })
}

fn container() -> impl Strategy<Value = Value> {
    (
        pick(vec![
            Some(json!("app")),
            Some(json!("side")),
            None,
            Some(json!(5)),
        ]),
        pick(vec![
            Some(json!("nginx")),
            Some(json!("nginx:latest")),
            Some(json!("nginx:1.25")),
            Some(json!("localhost:5000/app")),
            Some(json!("localhost:5000/app:v1")),
            Some(json!("registry.io:5000/team/app@sha256:abc")),
            Some(json!("repo/app:latest")),
            Some(json!(7)),
            None,
        ]),
        pick(vec![
            None,
            Some(json!({})),
            Some(json!({"privileged": true})),
            Some(json!({"privileged": false, "runAsUser": 0})),
            Some(json!({"runAsUser": 1000})),
            Some(json!({"runAsNonRoot": true})),
            Some(json!({"runAsNonRoot": false, "runAsUser": 1000})),
            Some(json!({"runAsUser": "1000"})),
            Some(Value::Null),
        ]),
        pick(vec![
            None,
            Some(json!({"limits": {"cpu": "1"}})),
            Some(json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
            Some(json!({"requests": {"cpu": "1"}})),
            Some(json!({"limits": {"memory": false, "cpu": 0}})),
        ]),
    )
        .prop_map(|(name, image, sc, resources)| {
            object(vec![
                ("name", name),
                ("image", image),
                ("securityContext", sc),
                ("resources", resources),
            ])
        })
}

fn k8s_document() -> impl Strategy<Value = Value> {
    let flag = || pick(vec![None, Some(json!(true)), Some(json!(false))]);
    (
        (
            prop::collection::vec(container(), 0..3),
            prop::option::of(prop::collection::vec(container(), 0..2)),
            pick(vec![
                None,
                Some(json!({"runAsNonRoot": true})),
                Some(json!({"runAsUser": 0})),
                Some(json!({"runAsUser": 1000})),
                Some(Value::Null),
            ]),
            pick(vec![
                None,
                Some(json!([{"name": "data", "hostPath": {"path": "/var/lib"}}])),
                Some(json!([{"name": "e", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/"}}])),
                Some(json!([{"name": "h", "hostPath": {}}])),
            ]),
        ),
        (flag(), flag(), flag()),
        pick(vec!["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "ReplicationController", "DeploymentConfig", "ConfigMap"]),
        pick(vec![None, Some(json!({"name": "web"})), Some(json!({})), Some(Value::Null)]),
        // How the pod spec is written: as it should be, as a list, or left out.
        pick(vec!["mapping", "mapping", "mapping", "list", "missing"]),
    )
        .prop_map(|((containers, init, sc, volumes), (net, pid, ipc), kind, metadata, shape)| {
            let spec = object(vec![
                ("containers", Some(json!(containers))),
                ("initContainers", init.map(|i| json!(i))),
                ("securityContext", sc),
                ("volumes", volumes),
                ("hostNetwork", net),
                ("hostPID", pid),
                ("hostIPC", ipc),
            ]);
            let spec = match shape {
                "list" => json!([spec]),
                "missing" => Value::Null,
                _ => spec,
            };
            let spec = match kind {
                "Pod" | "Service" | "ConfigMap" => spec,
                "CronJob" => json!({"jobTemplate": {"spec": {"template": {"spec": spec}}}}),
                _ => json!({"replicas": 2, "template": {"spec": spec}}),
            };
            object(vec![
                ("apiVersion", Some(json!("v1"))),
                ("kind", Some(json!(kind))),
                ("metadata", metadata),
                ("spec", Some(spec)),
            ])
        })
}

fn manifest() -> impl Strategy<Value = Attachment> {
    prop::collection::vec(k8s_document(), 0..3)
        .prop_map(|docs| Attachment::new("deploy.yaml", Value::Array(docs)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn native_matches_rego_on_plans_and_manifests(
        plans in prop::collection::vec(terraform_plan(), 0..3),
        manifests in prop::collection::vec(manifest(), 0..3),
        service in pick(vec!["checkout", "search"]),
        environment in pick(vec!["production", "staging"]),
    ) {
        let (native, rego) = engines();
        let mut env = envelope(service, environment);
        env.attachments.terraform_plans = plans;
        env.attachments.manifests = manifests;
        assert_same(native, rego, &env, &ctx());
    }
}

/// `deny: {kev, epss_at_least}` reads the live outcomes' `threats`: a known
/// exploited finding denies with its KEV date, a likely one with its EPSS
/// score, natively and in Rego; a guardrail without `deny` says nothing.
#[test]
fn known_and_likely_exploited_findings_deny() {
    let (native, rego) = engines();
    let mut c = ctx();
    c.outcomes = json!({"services": {"checkout": {"threats": [
        {"id": "CVE-2025-48384", "package": "git", "target": "acme/checkout", "severity": "high",
         "kev_added": "2025-08-25", "kev_due": "2025-09-15", "ransomware": "Unknown", "epss": 0.55},
        {"id": "CVE-2022-28391", "package": "busybox", "target": "acme/checkout", "severity": "high",
         "kev_added": null, "epss": 0.3}
    ]}}});
    let env = envelope("checkout", "production");
    for engine in [native, rego] {
        let d = engine.decide(&env, &c);
        let mut got: Vec<(String, String)> = d
            .violations
            .iter()
            .filter(|v| v.guardrail.starts_with("vulns"))
            .map(|v| (v.guardrail.clone(), v.message.clone()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("vulns-epss".to_string(), "CVE-2022-28391 in busybox (acme/checkout) is likely to be exploited: EPSS 0.30 (at least 0.20)".to_string()),
                ("vulns-epss".to_string(), "CVE-2025-48384 in git (acme/checkout) is likely to be exploited: EPSS 0.55 (at least 0.20)".to_string()),
                ("vulns-threat".to_string(), "CVE-2025-48384 in git (acme/checkout) is known exploited: added to KEV on 2025-08-25".to_string()),
                ("vulns-threat".to_string(), "CVE-2025-48384 in git (acme/checkout) is likely to be exploited: EPSS 0.55 (at least 0.50)".to_string()),
            ]
        );
    }
}
