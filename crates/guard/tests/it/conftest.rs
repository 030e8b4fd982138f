//! Custom `rego` guardrails behave as Conftest documents: `deny`/`violation`
//! fail, `warn` warns, `exception` exempts `deny_<rule>`/`violation_<rule>`,
//! namespace `main` by default (or configured, or all), objects carry `msg`
//! plus metadata, Rego v0 and v1 syntax, and `--combine`.

use bearing_guard::{Effect, Engine, GuardError, Verdict, read_manifests};

use crate::common::*;

fn rego_intent(path: &str, params: &str) -> String {
    format!(
        "version: 1\nguardrails:\n  - {{id: custom, kind: rego, path: {path}, params: {params}}}\n"
    )
}

fn run(path: &str, params: &str) -> bearing_guard::Decision {
    let e = engine(&rego_intent(path, params));
    let mut env = envelope("web", "production");
    env.attachments
        .manifests
        .push(read_manifests(&data_dir().join("conftest/deployments.yaml")).unwrap());
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    d
}

fn summary(d: &bearing_guard::Decision) -> Vec<String> {
    let mut v: Vec<String> = d
        .violations
        .iter()
        .map(|v| format!("{:?} {} {}", v.effect, v.rule, v.message))
        .collect();
    v.sort();
    v
}

#[test]
fn deny_violation_warn_and_exception_in_v1() {
    let d = run("conftest/v1", "{}");
    assert_eq!(
        summary(&d),
        vec![
            "Audit deny_run_as_root (exception) Containers must not run as root in Deployment can-run-as-root",
            "Deny deny_run_as_root Containers must not run as root in Deployment cannot-run-as-root",
            "Deny violation Deployment cannot-run-as-root has no app label",
            "Warn warn Service web is exposed",
        ]
    );
    assert_eq!(d.result, Verdict::Deny);
    // Object messages keep their metadata; every finding points at its document.
    let v = d.violations.iter().find(|v| v.rule == "violation").unwrap();
    assert_eq!(v.severity, "critical");
    assert_eq!(v.remediation.as_deref(), Some("add an app label"));
    let loc = v.location.as_ref().unwrap();
    assert!(loc.file.ends_with("deployments.yaml"));
    assert_eq!((loc.line, loc.column), (1, 1));
    let excepted = d
        .violations
        .iter()
        .find(|v| v.effect == Effect::Audit)
        .unwrap();
    assert_eq!(excepted.location.as_ref().unwrap().line, 15);
}

#[test]
fn rego_v0_syntax_loads_and_prefixed_rules_count() {
    let d = run("conftest/v0", "{}");
    assert_eq!(
        summary(&d),
        vec![
            "Deny deny image nginx has no tag",
            "Warn warn_replicas fewer than two replicas"
        ]
    );
    // Forcing v1 refuses the v0 file, with its location.
    let err = Engine::new(
        &intent(&rego_intent("conftest/v0", "{rego_version: v1}")),
        &data_dir(),
    )
    .unwrap_err();
    assert!(matches!(err, GuardError::Policy { .. }), "{err}");
    assert!(err.to_string().contains("base.rego:"), "{err}");
}

#[test]
fn namespaces_default_configured_and_all() {
    assert_eq!(
        summary(&run("conftest/ns", "{}")),
        vec!["Deny deny main says no"]
    );
    assert_eq!(
        summary(&run("conftest/ns", "{namespaces: [kubernetes.services]}")),
        vec!["Deny deny Service web is a LoadBalancer"]
    );
    assert_eq!(
        summary(&run("conftest/ns", "{all_namespaces: true}")),
        vec![
            "Deny deny Service web is a LoadBalancer",
            "Deny deny main says no"
        ]
    );
}

#[test]
fn combine_passes_every_file_as_one_input() {
    let e = engine(&rego_intent("conftest/combine", "{combine: true}"));
    let mut env = envelope("web", "production");
    for f in ["deployment.yaml", "service.yaml"] {
        let path = data_dir().join("conftest/inputs").join(f);
        env.attachments
            .manifests
            .push(read_manifests(&path).unwrap());
    }
    let d = e.decide(&env, &ctx());
    let s = summary(&d);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].starts_with(
            "Deny deny Service web selects app=api but no Deployment has that label ("
        ),
        "{s:?}"
    );
    assert!(s[0].ends_with("service.yaml)"), "{s:?}");
    // Without --combine the same policy sees one document at a time: nothing to compare.
    assert!(run("conftest/combine", "{}").violations.is_empty());
}

#[test]
fn a_policy_that_does_not_parse_is_refused_whole() {
    let err = Engine::new(&intent(&rego_intent("conftest/bad", "{}")), &data_dir()).unwrap_err();
    match &err {
        GuardError::Policy { file, line, .. } => {
            assert!(file.ends_with("broken.rego"));
            assert!(*line >= 7, "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("broken.rego:"), "{err}");
}

#[test]
fn unknown_params_are_refused() {
    let err = Engine::new(
        &intent(&rego_intent("conftest/v1", "{namespace: [x]}")),
        &data_dir(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`namespace`"), "{err}");
}
