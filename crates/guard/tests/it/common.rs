//! Helpers: building intents, engines and envelopes in tests.

use std::path::{Path, PathBuf};

use bearing_guard::{Attachment, Context, Decision, Engine, Envelope};
use bearing_intent::Intent;
use chrono::{TimeZone, Utc};

pub fn intent(yaml: &str) -> Intent {
    yaml_serde::from_str(yaml).unwrap()
}

pub fn engine(yaml: &str) -> Engine {
    Engine::new(&intent(yaml), &data_dir()).unwrap()
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn ctx() -> Context {
    Context {
        now: Utc.with_ymd_and_hms(2026, 11, 26, 10, 30, 0).unwrap(),
        ..Context::default()
    }
}

pub fn envelope(service: &str, env: &str) -> Envelope {
    Envelope {
        service: service.into(),
        environment: env.into(),
        ..Envelope::default()
    }
}

pub fn plan_json(name: &str, text: &str) -> Attachment {
    Attachment::from_json_bytes(name, text.as_bytes()).unwrap()
}

/// `(rule, effect)` of each violation, sorted.
pub fn rules(d: &Decision) -> Vec<String> {
    let mut v: Vec<String> = d
        .violations
        .iter()
        .map(|v| {
            format!(
                "{}:{}",
                v.rule,
                serde_json::to_value(v.effect).unwrap().as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

/// The fixtures folder, or `None` (with a note) when `BEARING_FIXTURES` is unset.
pub fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("BEARING_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("BEARING_FIXTURES is not set; skipping fixture test");
            None
        }
    }
}

/// A fixture file that must exist when `BEARING_FIXTURES` is set.
pub fn fixture(root: &Path, rel: &str) -> PathBuf {
    let p = root.join(rel);
    assert!(p.exists(), "missing fixture {}", p.display());
    p
}

pub const ALL_KINDS: &str = r#"
version: 1
teams: [{id: payments}]
services:
  - id: checkout
    team: payments
    environments: [staging, production]
    cost: {match: {tags: {app: checkout}}, monthly_budget: 1000 USD}
    delivery: {strategy: canary}
objectives:
  - id: secure
    layer: security
    key_results: [{metric: security.findings_past_sla, target: "<= 0"}]
guardrails:
  - {id: cost, kind: cost_budget, protects: secure, params: {max_monthly_increase: 200 USD}}
  - {id: vulns, kind: vulnerabilities}
  - {id: budget, kind: error_budget}
  - {id: iam, kind: iam_least_privilege, protects: secure}
  - {id: k8s, kind: k8s_baseline}
  - {id: window, kind: change_window, params: {windows: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]}}
  - {id: strategy, kind: deploy_strategy}
  - {id: checks, kind: required_checks, mode: warn}
  - {id: risk, kind: change_risk}
"#;
