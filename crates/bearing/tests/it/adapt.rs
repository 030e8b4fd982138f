//! CLI tests for `reconcile`, `risk` and `canary judge` on the demo
//! organisation stored in a temporary SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const AT: &str = "2026-11-20T12:00:00Z";

/// Runs `bearing` with `dir`'s `bearing.yaml` and `bearing.db`.
pub(crate) fn bearing(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearing"))
        .arg("--intent")
        .arg(dir.join("bearing.yaml"))
        .arg("--database")
        .arg(dir.join("bearing.db"))
        .args(args)
        .current_dir(dir)
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_RISK_MODEL")
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A temp dir with the demo intent and its history in `bearing.db`.
fn demo_org() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(AT).unwrap().to_utc();
    let org = bearing_demo::generate(7, now);
    std::fs::write(dir.path().join("bearing.yaml"), &org.intent_yaml).unwrap();
    let db: PathBuf = dir.path().join("bearing.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = bearing_store::open(db.to_str().unwrap()).await.unwrap();
        store.ingest(&org.events).await.unwrap();
    });
    dir
}

#[test]
fn reconcile_applies_rules_once_and_measures_later() {
    let dir = demo_org();
    let d = dir.path();

    let dry = bearing(
        d,
        &["reconcile", "--dry-run", "--at", AT, "--output", "json"],
    );
    assert_eq!(dry.status.code(), Some(0));
    assert_eq!(json(&dry)["dry_run"], true);

    let first = bearing(d, &["reconcile", "--at", AT, "--output", "json"]);
    assert_eq!(first.status.code(), Some(0));
    let first = json(&first);
    let plans = first["plans"].as_array().unwrap();
    let plan = |s: &str| plans.iter().find(|p| p["service"] == s).unwrap().clone();
    assert_eq!(plan("payments-api")["strategy"], "canary");
    assert_eq!(plan("search")["freeze"], true);
    assert!(first["actions"].as_array().unwrap().len() >= 2);

    // stored: a second pass changes nothing
    let again = json(&bearing(d, &["reconcile", "--at", AT, "--output", "json"]));
    assert_eq!(again["plans"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["actions"].as_array().unwrap().len(), 0, "{again}");

    // eight days on, the 30-day after-window is not complete: too early
    let early = bearing(d, &["reconcile", "--at", "2026-11-28T12:00:00Z"]);
    assert_eq!(early.status.code(), Some(0));
    let text = String::from_utf8_lossy(&early.stdout);
    assert!(!text.contains("measured canary-on-failures"), "{text}");

    // after the window the actions are measured, over disjoint windows
    let later = bearing(d, &["reconcile", "--at", "2026-12-21T12:00:00Z"]);
    assert_eq!(later.status.code(), Some(0));
    let text = String::from_utf8_lossy(&later.stdout);
    assert!(
        text.contains("measured canary-on-failures:payments-api"),
        "{text}"
    );
    assert!(text.contains("intended)"), "{text}");
    assert!(
        text.contains("(before 2026-10-21–2026-11-20, after 2026-11-20–2026-12-20)"),
        "{text}"
    );

    let recs = bearing(d, &["reconcile", "--dry-run", "--recommend", "--at", AT]);
    let text = String::from_utf8_lossy(&recs.stdout);
    assert!(text.contains("recommendations:"), "{text}");
    assert!(text.contains("payments-api by canary"), "{text}");
}

#[test]
fn risk_train_evaluate_and_score() {
    let dir = demo_org();
    let d = dir.path();
    let train = bearing(d, &["risk", "train", "--at", AT]);
    assert_eq!(
        train.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    assert!(d.join("bearing.risk.json").exists());
    let text = String::from_utf8_lossy(&train.stdout);
    assert!(text.contains("ROC AUC"), "{text}");

    let ev = json(&bearing(
        d,
        &["risk", "evaluate", "--at", AT, "--output", "json"],
    ));
    assert!(ev["n_test"].as_u64().unwrap() > 0);
    assert!(ev["calibration"].as_array().is_some());
    // the records behind the figures
    assert_eq!(
        ev["predictions"].as_array().unwrap().len() as u64,
        ev["n_test"].as_u64().unwrap()
    );

    let s = json(&bearing(
        d,
        &[
            "risk",
            "score",
            "--service",
            "payments-api",
            "--change-size",
            "800",
            "--files",
            "25",
            "--at",
            AT,
            "--output",
            "json",
        ],
    ));
    let score = s["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    assert!(s["features"]["service_failure_rate_30d"].as_f64().unwrap() > 0.15);
}

#[test]
fn risk_train_refuses_an_empty_history() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bearing.yaml"),
        "version: 1\nteams: [{id: t}]\nservices: [{id: s, team: t}]\n",
    )
    .unwrap();
    let o = bearing(dir.path(), &["risk", "train"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("too little history"));
}

#[test]
fn canary_judge_exit_codes_follow_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ramp = |start: f64| -> Vec<f64> { (0..30).map(|i| start + i as f64).collect() };
    let write = |name: &str, v: &Value| std::fs::write(d.join(name), v.to_string()).unwrap();
    write(
        "base.json",
        &serde_json::json!({"latency_ms": ramp(100.0), "errors": ramp(0.0)}),
    );
    write(
        "same.json",
        &serde_json::json!({"latency_ms": ramp(100.5), "errors": ramp(0.2)}),
    );
    write(
        "bad.json",
        &serde_json::json!({"latency_ms": ramp(100.5), "errors": ramp(40.0)}),
    );
    write(
        "config.json",
        &serde_json::json!({"metrics": {"errors": {"critical": true}}}),
    );
    // CSV, one column per metric
    let mut csv = String::from("latency_ms,errors\n");
    for (l, e) in ramp(100.5).iter().zip(ramp(0.1)) {
        csv.push_str(&format!("{l},{e}\n"));
    }
    std::fs::write(d.join("same.csv"), csv).unwrap();

    let judge = |canary: &str| {
        bearing(
            d,
            &[
                "canary",
                "judge",
                "--baseline",
                "base.json",
                "--canary",
                canary,
                "--config",
                "config.json",
                "--output",
                "json",
            ],
        )
    };
    let ok = judge("same.json");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(json(&ok)["verdict"], "promote");
    assert_eq!(judge("same.csv").status.code(), Some(0));
    let bad = judge("bad.json");
    assert_eq!(bad.status.code(), Some(1));
    let bad = json(&bad);
    assert_eq!(bad["verdict"], "rollback");
    assert!(bad["reasons"][0].as_str().unwrap().contains("`errors`"));

    // too few samples on a critical metric: hold
    write(
        "tiny.json",
        &serde_json::json!({"latency_ms": ramp(100.0), "errors": [1, 2]}),
    );
    assert_eq!(judge("tiny.json").status.code(), Some(4));

    let missing = bearing(
        d,
        &[
            "canary",
            "judge",
            "--baseline",
            "nope.json",
            "--canary",
            "same.json",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn risk_score_keeps_unknown_sizes_missing() {
    let dir = demo_org();
    let d = dir.path();
    assert_eq!(
        bearing(d, &["risk", "train", "--at", AT]).status.code(),
        Some(0)
    );
    let score = |extra: &[&str]| {
        let mut args = vec![
            "risk",
            "score",
            "--service",
            "payments-api",
            "--at",
            AT,
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        json(&bearing(d, &args))
    };
    let unknown = score(&[]);
    assert!(unknown["features"]["lines_changed"].is_null(), "{unknown}");
    assert!(unknown["features"]["files_changed"].is_null(), "{unknown}");
    let missing: Vec<&str> = unknown["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(missing.contains(&"lines_changed") && missing.contains(&"files_changed"));
    let sized = score(&["--change-size", "5000", "--files", "60"]);
    assert_eq!(sized["features"]["lines_changed"], 5000.0);
    assert_eq!(sized["features"]["files_changed"], 60.0);
    assert!(sized["missing"].as_array().unwrap().len() < missing.len());
    // the demo's failures do not depend on the change: the model is advisory
    assert!(
        sized["advisory"].as_str().unwrap().contains("advisory"),
        "{sized}"
    );
}

#[test]
fn check_scores_a_diff_with_the_model_and_an_advisory_model_never_denies() {
    let dir = demo_org();
    let d = dir.path();
    let yaml = std::fs::read_to_string(d.join("bearing.yaml")).unwrap();
    let yaml = yaml.replacen(
        "guardrails:\n",
        "guardrails:\n  - { id: risk-gate, kind: change_risk, params: { deny_above: 0.01, warn_above: 0.005, unless_canary: false } }\n",
        1,
    );
    std::fs::write(d.join("bearing.yaml"), yaml).unwrap();
    assert_eq!(
        bearing(d, &["risk", "train", "--at", AT]).status.code(),
        Some(0)
    );
    std::fs::write(
        d.join("change.diff"),
        "diff --git a/a.rs b/a.rs\n--- a/a.rs\n+++ b/a.rs\n@@ -1,2 +1,3 @@\n-x\n+y\n+z\n w\n",
    )
    .unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--service",
            "payments-api",
            "--strategy",
            "canary",
            "--diff",
            "change.diff",
            "--no-log",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        bearing(d, &args)
    };
    let advisory = check(&[]);
    let v = json(&advisory);
    let stderr = String::from_utf8_lossy(&advisory.stderr);
    assert!(stderr.contains("calibrated probability"), "{stderr}");
    assert!(v["context"]["risk_advisory"].is_string(), "{v}");
    let gate = |v: &Value| -> Value {
        v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["guardrail"] == "risk-gate")
            .cloned()
            .unwrap_or_else(|| panic!("{v}"))
    };
    let risk = gate(&v);
    assert_eq!(risk["effect"], "warn", "{risk}");
    let msg = risk["message"].as_str().unwrap();
    assert!(
        msg.contains("advisory:") && msg.contains("log-odds"),
        "{msg}"
    );
    // the diff gave the size: 3 changed lines (the context line does not count)
    assert!(
        v["context"]["risk_reasons"]
            .as_str()
            .is_some_and(|r| !r.contains("unknown: lines_changed")),
        "{v}"
    );

    // a change given only as a plan has no size: scored from its delivery
    // context, the sizes listed as unknown
    std::fs::write(
        d.join("plan.json"),
        r#"{"format_version":"1.2","terraform_version":"1.6.0","resource_changes":[]}"#,
    )
    .unwrap();
    let plan = bearing(
        d,
        &[
            "check",
            "--service",
            "payments-api",
            "--strategy",
            "canary",
            "--plan",
            "plan.json",
            "--no-log",
            "--output",
            "json",
        ],
    );
    let v = json(&plan);
    assert!(v["context"]["risk"].is_number(), "{v}");
    let reasons = v["context"]["risk_reasons"].as_str().unwrap();
    assert!(
        reasons.contains("unknown: lines_changed, files_changed"),
        "{reasons}"
    );

    // a commit range, sized by `git diff --numstat` in the working directory
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(d)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@x")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@x")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(d.join("a.txt"), "1\n2\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "one"]);
    std::fs::write(d.join("a.txt"), "1\n3\n4\n").unwrap();
    std::fs::write(d.join("b.txt"), "x\n").unwrap();
    git(&["add", "a.txt", "b.txt"]);
    git(&["commit", "-q", "-m", "two"]);
    let range = bearing(
        d,
        &[
            "check",
            "--service",
            "payments-api",
            "--strategy",
            "canary",
            "--commits",
            "HEAD~1..HEAD",
            "--no-log",
            "--output",
            "json",
        ],
    );
    let v = json(&range);
    let reasons = v["context"]["risk_reasons"].as_str().unwrap();
    let unknown = reasons.split("unknown: ").nth(1).unwrap_or("");
    assert!(
        !unknown.contains("lines_changed") && !unknown.contains("files_changed"),
        "{reasons}"
    );
    let bad = bearing(
        d,
        &[
            "check",
            "--service",
            "payments-api",
            "--commits",
            "nope..HEAD",
            "--no-log",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("git diff --numstat nope..HEAD"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // the same model trusted (min_auc 0): the same risk denies
    let mut model: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bearing.risk.json")).unwrap())
            .unwrap();
    model["min_auc"] = serde_json::json!(0.0);
    std::fs::write(d.join("trusted.json"), model.to_string()).unwrap();
    let trusted = check(&["--risk-model", "trusted.json"]);
    let risk = gate(&json(&trusted));
    assert_eq!(risk["effect"], "deny", "{risk}");
    assert_eq!(trusted.status.code(), Some(1));
}
