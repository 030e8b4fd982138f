//! CLI tests for `init`, `validate`, `schema` and `metrics`, run against the
//! built binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::cli::{bearing, stderr, stdout};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme")
}

#[test]
fn init_writes_the_starter_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bearing(&["init", "org"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let path = tmp.path().join("org/bearing.yaml");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, bearing_intent::STARTER);

    std::fs::write(&path, "version: 1\n# mine\n").unwrap();
    let o = bearing(&["init", "org"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "version: 1\n# mine\n"
    );
}

#[test]
fn init_then_validate_passes() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(bearing(&["init"], tmp.path()).status.code(), Some(0));
    // `validate` without a path reads the global `--intent` (default `bearing.yaml`).
    let o = bearing(&["validate"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("bearing.yaml: valid"), "{}", stdout(&o));
    let o = bearing(&["--intent", "bearing.yaml", "validate"], tmp.path());
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn validate_a_folder() {
    let o = bearing(&["validate", examples().to_str().unwrap()], Path::new("."));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

const BROKEN: &str = "version: 1
teams:
  - id: payments
objectives:
  - id: faster
    layer: engineering
    owner: paymnts
    key_results:
      - { metric: dora.lead_tim, target: \"<= 1d\" }
";

#[test]
fn validate_reports_every_error_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("broken.yaml"), BROKEN).unwrap();
    let o = bearing(&["validate", "broken.yaml"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("broken.yaml:7:12: error: unknown team `paymnts`; did you mean `payments`?"),
        "{out}"
    );
    assert!(
        out.contains(
            "broken.yaml:9:19: error: unknown metric `dora.lead_tim`; did you mean `dora.lead_time`?"
        ),
        "{out}"
    );
    assert!(out.contains("invalid (2 errors, 0 warnings)"), "{out}");
}

#[test]
fn validate_json_output() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("broken.yaml"), BROKEN).unwrap();
    let o = bearing(&["validate", "broken.yaml", "--output", "json"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &v.as_array().unwrap()[0];
    assert_eq!(first["file"], "broken.yaml");
    assert_eq!(first["line"], 7);
    assert_eq!(first["column"], 12);
    assert_eq!(first["severity"], "error");
    assert!(first["message"].as_str().unwrap().contains("paymnts"));

    assert_eq!(bearing(&["init"], tmp.path()).status.code(), Some(0));
    let o = bearing(&["validate", "--output", "json"], tmp.path());
    assert_eq!(o.status.code(), Some(0));
    // Only warnings (the starter's waiver expires one day) on a valid intent.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|d| d["severity"] == "warning"),
        "{v}"
    );
}

#[test]
fn validate_missing_file_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bearing(&["validate", "nope.yaml"], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read `nope.yaml`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn schema_is_json_schema_for_the_intent() {
    let o = bearing(&["schema"], Path::new("."));
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["title"], "Intent");
    assert!(v["properties"]["services"].is_object());
    assert!(v["$schema"].as_str().unwrap().contains("json-schema.org"));
}

#[test]
fn metrics_lists_the_catalog() {
    let o = bearing(&["metrics"], Path::new("."));
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("dora.change_failure_rate "))
        .unwrap();
    // One name for the unit: the text catalog's column is the JSON value.
    assert_eq!(line.split_whitespace().nth(1), Some("percent"), "{line}");

    let o = bearing(&["metrics", "--output", "json"], Path::new("."));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), bearing_intent::catalog::METRICS.len() + 1);
    let lead = all
        .iter()
        .find(|m| m["name"] == "dora.lead_time.p50")
        .unwrap();
    assert_eq!(lead["unit"], "duration");
    let cfr = all
        .iter()
        .find(|m| m["name"] == "dora.change_failure_rate")
        .unwrap();
    assert_eq!(cfr["unit"], "percent");
    assert!(lead["scopes"].as_array().unwrap().contains(&"team".into()));
    assert!(lead["definition"].as_str().unwrap().contains("percentile"));
}

#[test]
fn help_documents_exit_codes() {
    let o = bearing(&["validate", "--help"], Path::new("."));
    let out = stdout(&o);
    assert!(out.contains("0 valid"), "{out}");
    assert!(out.contains("--output"), "{out}");
    let o = bearing(&["init", "--help"], Path::new("."));
    assert!(stdout(&o).contains("never overwritten"));
}

/// `validate` compiles every Rego guardrail as the gate will: a policy that
/// regorus' analysis refuses fails here with its file and line, not at the gate.
#[test]
fn validate_compiles_rego_guardrails() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("policy")).unwrap();
    std::fs::write(
        tmp.path().join("policy/late.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.a == x\n\tx := 2\n\tmsg := \"a\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("bearing.yaml"),
        "version: 1\nguardrails:\n  - {id: custom, kind: rego, path: policy}\n",
    )
    .unwrap();
    let o = bearing(&["validate"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "late.rego:6:16: error: policy does not compile: var `x` used before definition"
        ),
        "{out}"
    );
    // The same rule with its statements in order passes.
    std::fs::write(
        tmp.path().join("policy/late.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tx := 2\n\tinput.a == x\n\tmsg := \"a\"\n}\n",
    )
    .unwrap();
    let o = bearing(&["validate"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}
