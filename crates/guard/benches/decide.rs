//! In-process decision latency on a 25-guardrail bundle (every built-in kind,
//! several scopes and parameter sets), for a change without attachments and
//! one with a small Terraform plan. After Criterion's estimate, prints p50 and
//! p99 over 5,000 decisions (only under `cargo bench`).

use std::hint::black_box;
use std::time::Instant;

use bearing_guard::{Attachment, Context, Engine, Envelope};
use criterion::{Criterion, criterion_group};

const PLAN: &str = r#"{"format_version": "1.2", "resource_changes": [
 {"address": "aws_iam_policy.app", "mode": "managed", "type": "aws_iam_policy", "name": "app",
  "change": {"actions": ["create"], "after": {"policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":\"arn:aws:s3:::b/*\"}]}"}, "after_unknown": {}}},
 {"address": "aws_security_group.web", "mode": "managed", "type": "aws_security_group", "name": "web",
  "change": {"actions": ["create"], "after": {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 443, "to_port": 443, "protocol": "tcp"}]}, "after_unknown": {}}}
]}"#;

fn bundle() -> String {
    let mut g = String::from(
        "version: 1\nteams: [{id: payments}, {id: search}]\nservices:\n  - {id: checkout, team: payments, environments: [staging, production], delivery: {strategy: canary}, cost: {match: {tags: {app: checkout}}, monthly_budget: 5000 USD}}\n  - {id: search, team: search}\nguardrails:\n",
    );
    let kinds = [
        "{kind: cost_budget, params: {max_monthly_increase: 500 USD}}",
        "{kind: vulnerabilities}",
        "{kind: error_budget}",
        "{kind: iam_least_privilege}",
        "{kind: k8s_baseline}",
        "{kind: change_window, params: {windows: [{days: [mon, tue, wed, thu, fri], from: '06:00', to: '22:00'}]}}",
        "{kind: deploy_strategy}",
        "{kind: required_checks, mode: warn}",
        "{kind: change_risk}",
    ];
    for i in 0..25 {
        let k = kinds[i % kinds.len()];
        let scope = match i / kinds.len() {
            0 => "",
            1 => ", scope: {environment: production}",
            _ => ", scope: {team: payments}",
        };
        g.push_str(&format!(
            "  - {{id: g{i}, {}{scope}}}\n",
            &k[1..k.len() - 1]
        ));
    }
    g
}

fn setup() -> (Engine, Envelope, Envelope, Context) {
    let intent: bearing_intent::Intent = yaml_serde::from_str(&bundle()).unwrap_or_default();
    let engine = Engine::new(&intent, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let mut env = Envelope {
        service: "checkout".into(),
        environment: "production".into(),
        strategy: Some("canary".into()),
        labels: vec!["feature".into()],
        ..Envelope::default()
    };
    env.checks.insert("tests".into(), "passed".into());
    let mut with_plan = env.clone();
    with_plan.attachments.terraform_plans.push(
        Attachment::from_json_bytes("plan.json", PLAN.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
    );
    let ctx = Context {
        outcomes: serde_json::json!({"services": {"checkout": {"error_budget_remaining": 0.5, "findings_past_sla": {"critical": 0, "high": 0}}}}),
        risk: Some(0.2),
        now: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 10, 0, 0).unwrap(),
        ..Context::default()
    };
    (engine, env, with_plan, ctx)
}

fn bench(c: &mut Criterion) {
    let (engine, env, with_plan, ctx) = setup();
    let d = engine.decide(&env, &ctx);
    assert!(
        d.violations.iter().all(|v| v.rule == "scan_missing"),
        "{:?}",
        d.violations
    );
    c.bench_function("decide/25-guardrails/no-attachments", |b| {
        b.iter(|| black_box(engine.decide(black_box(&env), &ctx)))
    });
    c.bench_function("decide/25-guardrails/terraform-plan", |b| {
        b.iter(|| black_box(engine.decide(black_box(&with_plan), &ctx)))
    });
}

fn percentiles() {
    // Only under `cargo bench` (which passes `--bench`), not in `cargo test`'s single pass.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (engine, env, with_plan, ctx) = setup();
    for (name, e) in [("no-attachments", &env), ("terraform-plan", &with_plan)] {
        let mut samples: Vec<u128> = (0..5000)
            .map(|_| {
                let t = Instant::now();
                black_box(engine.decide(e, &ctx));
                t.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let p = |q: f64| {
            samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0
        };
        println!(
            "decide/25-guardrails/{name}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (5000 decisions)",
            p(0.5),
            p(0.99),
            p(1.0)
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
}
