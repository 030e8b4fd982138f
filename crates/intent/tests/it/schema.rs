//! The generated JSON Schema, checked with an independent validator
//! (`jsonschema`): it accepts the starter and example intents and rejects
//! structurally broken ones.

use std::path::Path;

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&bearing_intent::schema()).unwrap()
}

fn json(yaml: &str) -> serde_json::Value {
    yaml_serde::from_str(yaml).unwrap()
}

#[test]
fn accepts_starter_and_example() {
    let v = validator();
    let starter = json(bearing_intent::STARTER);
    let errors: Vec<String> = v.iter_errors(&starter).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let doc = json(&std::fs::read_to_string(&p).unwrap());
            let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", p.display());
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn rejects_structurally_broken_intents() {
    let v = validator();
    for broken in [
        // unknown top-level field
        "version: 1\nteamz: []\n",
        // wrong type or value
        "version: one\n",
        "version: 2\n",
        "version: 1\nteams: {id: a}\n",
        // missing required field
        "version: 1\nservices:\n  - id: a\n",
        // unknown field in an item
        "version: 1\nteams:\n  - id: a\n    nmae: A\n",
        // bad enum value
        "version: 1\nobjectives:\n  - {id: o, layer: marketing, key_results: []}\n",
        "version: 1\nguardrails:\n  - {id: g, kind: cost_budgte}\n",
        // unit values with the wrong shape
        "version: 1\nservices:\n  - {id: a, team: t, slos: [{id: s, target: 99.9, window: 28d, sli: {good: g, total: t}}]}\n",
        "version: 1\nservices:\n  - {id: a, team: t, slos: [{id: s, target: 99.9%, window: 4 weeks, sli: {good: g, total: t}}]}\n",
        "version: 1\nobjectives:\n  - {id: o, layer: business, key_results: [{metric: m, target: 5}]}\n",
        "version: 1\nservices:\n  - {id: a, team: t, cost: {match: {}, monthly_budget: 12000}}\n",
        // a monorepo claim with a misspelt or empty `paths`
        "version: 1\nservices:\n  - {id: a, team: t, repos: [{repo: github.com/acme/mono, path: services/a}]}\n",
        "version: 1\nservices:\n  - {id: a, team: t, repos: [{repo: github.com/acme/mono, paths: []}]}\n",
        "version: 1\nservices:\n  - {id: a, team: t, repos: [{paths: [services/a]}]}\n",
        // a Prometheus source without its total query, or with a misspelt key
        "version: 1\nservices:\n  - {id: a, team: t, slos: [{id: s, target: 99.9%, window: 28d, source: {prometheus: {url: 'http://p:9090', good: up}}}]}\n",
        "version: 1\nservices:\n  - {id: a, team: t, slos: [{id: s, target: 99.9%, window: 28d, source: {prometheus: {url: 'http://p:9090', good: up, total: up, step: 1m}}}]}\n",
        // a canary Prometheus metric without its canary query, or with a misspelt key
        "version: 1\nservices:\n  - {id: a, team: t, delivery: {canary_prometheus: {url: 'http://p:9090', metrics: [{name: e, baseline: up}]}}}\n",
        "version: 1\nservices:\n  - {id: a, team: t, delivery: {canary_prometheus: {url: 'http://p:9090', metrics: [{name: e, baseline: up, canary: up, query: up}]}}}\n",
        "version: 1\nservices:\n  - {id: a, team: t, delivery: {canary_prometheus: {url: 'http://p:9090', metrics: [{name: e, baseline: up, canary: up, bad: sideways}]}}}\n",
    ] {
        let doc = json(broken);
        assert!(!v.is_valid(&doc), "schema accepted:\n{broken}");
    }
}

#[test]
fn accepts_whole_and_monorepo_claims_as_validate_does() {
    let v = validator();
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/warn_repo_paths.yaml"),
    )
    .unwrap();
    let errors: Vec<String> = v.iter_errors(&json(&yaml)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn accepts_prometheus_sources_as_validate_does() {
    let v = validator();
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/slo_prometheus.yaml"),
    )
    .unwrap();
    // Every SLO of the case is well-formed; only `validate` finds their faults.
    let errors: Vec<String> = v.iter_errors(&json(&yaml)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let text = bearing_intent::schema().to_string();
    assert!(text.contains("query_range"), "PrometheusSli is described");
}

#[test]
fn accepts_canary_prometheus_as_validate_does() {
    let v = validator();
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/canary_prometheus.yaml"),
    )
    .unwrap();
    // Every service of the case is well-formed; only `validate` finds their faults.
    let errors: Vec<String> = v.iter_errors(&json(&yaml)).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn schema_describes_fields() {
    let s = bearing_intent::schema();
    let text = s.to_string();
    assert!(text.contains("Rules that change a service's delivery plan"));
    assert!(text.contains("\"Target\""));
}
