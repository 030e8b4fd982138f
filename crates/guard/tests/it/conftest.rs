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

/// Writes the policies into a fresh folder, in the given load order (files
/// load in name order).
fn policies_in_order(files: &[(&str, &str)], order: &[usize]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rank, &i) in order.iter().enumerate() {
        let (name, text) = files[i];
        std::fs::write(dir.path().join(format!("{rank}_{name}")), text).unwrap();
    }
    dir
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// A rule reaching another package through an import alias is found
/// whatever the order its package's files load in (regorus gets the whole
/// package document wrong for three of six orders; rules are queried one by one).
#[test]
fn an_imported_package_is_seen_in_every_load_order() {
    let files = [
        ("one.rego", "package main\nx := 1\n"),
        (
            "two.rego",
            "package main\nimport data.kubernetes\nviolation contains \"v\" if { kubernetes.is_deployment }\n",
        ),
        (
            "three.rego",
            "package kubernetes\nis_deployment if { input.kind == \"Deployment\" }\n",
        ),
    ];
    let orders = permutations(files.len());
    assert_eq!(orders.len(), 6);
    for order in orders {
        let dir = policies_in_order(&files, &order);
        let yaml = rego_intent(&dir.path().display().to_string(), "{}");
        let e = engine(&yaml);
        let mut env = envelope("web", "production");
        env.attachments
            .manifests
            .push(bearing_guard::Attachment::new(
                "d.yaml",
                serde_json::json!([{"kind": "Deployment"}]),
            ));
        let d = e.decide(&env, &ctx());
        assert!(d.errors.is_empty(), "{order:?}: {:?}", d.errors);
        assert_eq!(
            summary(&d),
            vec!["Deny violation v"],
            "load order {order:?}"
        );
        assert_eq!(d.result, Verdict::Deny, "load order {order:?}");
    }
}

/// Conftest's kubernetes example's shape: a Deployment that passes every
/// `deny` is still failed by `violation`, in package `main` split over files
/// that each import `data.kubernetes`; the Service only warns.
#[test]
fn a_deployment_passing_every_deny_is_failed_by_violation() {
    let e = engine(&rego_intent("conftest/k8s", "{}"));
    let mut env = envelope("web", "production");
    env.attachments
        .manifests
        .push(read_manifests(&data_dir().join("conftest/k8s/compliant.yaml")).unwrap());
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        summary(&d),
        vec![
            "Deny violation Found deployment compliant but deployments are not allowed",
            "Warn warn Found service front but services are not allowed",
        ]
    );
    assert_eq!(d.result, Verdict::Deny);
}

/// `combine` gives one `{path, contents}` per document, as Conftest does: a
/// file of two users counts as two users.
#[test]
fn combine_gives_one_entry_per_document() {
    let e = engine(&rego_intent("conftest/users", "{combine: true}"));
    let mut env = envelope("web", "production");
    for f in ["team.yaml", "users.yaml"] {
        let path = data_dir().join("conftest/users").join(f);
        env.attachments
            .manifests
            .push(read_manifests(&path).unwrap());
    }
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        summary(&d),
        vec![
            r#"Deny deny Existing users ["ana@example.com", "b0@example.com"] | Configured users ["ana@example.com", "bo@example.com"] | Missing users ["bo@example.com"]"#
        ]
    );
}

/// A `:=` in a comprehension that shadows the rule's variable declares a new
/// one, as in OPA (regorus refused it: `var name used before definition`).
#[test]
fn a_variable_shadowed_in_a_comprehension_is_a_new_one() {
    let e = engine(&rego_intent("conftest/shadow", "{combine: true}"));
    let mut env = envelope("web", "production");
    for (file, doc) in [
        ("a.yaml", serde_json::json!({"metadata": {"name": "ana"}})),
        ("b.yaml", serde_json::json!({"metadata": {"name": "ana"}})),
        ("c.yaml", serde_json::json!({"metadata": {"name": "bo"}})),
    ] {
        env.attachments
            .manifests
            .push(bearing_guard::Attachment::new(
                file,
                serde_json::json!([doc]),
            ));
    }
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        summary(&d),
        vec![r#"Deny deny ana is defined in ["a.yaml", "b.yaml"]"#]
    );
}

/// A policy regorus' analysis refuses is refused when the engine loads,
/// located at its file and line, instead of `unknown` at the gate.
#[test]
fn a_policy_regorus_cannot_schedule_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("late.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.a == x\n\tx := 2\n\tmsg := \"a\"\n}\n",
    )
    .unwrap();
    let err = Engine::new(
        &intent(&rego_intent(&dir.path().display().to_string(), "{}")),
        &data_dir(),
    )
    .unwrap_err();
    match &err {
        GuardError::Policy {
            file,
            line,
            message,
            ..
        } => {
            assert!(file.ends_with("late.rego"), "{err}");
            assert_eq!(*line, 6, "{err}");
            assert!(message.contains("`x` used before definition"), "{err}");
        }
        other => panic!("{other}"),
    }
}

/// Huge collections are refused by the bounded builtins: the decision is
/// `unknown` and names the limit, and the process lives on.
#[test]
fn a_huge_range_is_unknown_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("range.rego"),
        "package main\nimport rego.v1\ndeny contains \"many\" if count(numbers.range(1, 2000000000)) > 1\n",
    )
    .unwrap();
    let e = engine(&rego_intent(&dir.path().display().to_string(), "{}"));
    let started = std::time::Instant::now();
    let d = e.decide(&envelope("web", "production"), &ctx());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(d.result, Verdict::Unknown);
    assert!(
        d.errors
            .iter()
            .any(|e| e.contains("over the limit of 1000000 elements per collection")),
        "{:?}",
        d.errors
    );
}

/// Conftest's `parse_combined_config_files` (one entry per document),
/// `parse_config_file` (files relative to the policy's folder) and
/// `parse_config` (YAML, JSON) in `policy test`.
#[test]
fn parse_combined_config_files_feeds_a_policy_test() {
    let report = bearing_guard::testing::run_tests(&data_dir().join("conftest/parse")).unwrap();
    assert_eq!(report.tests.len(), 3);
    assert!(report.passed(), "{:?}", report.tests);
}

/// regorus runs `some i` again for each iteration of a loop before it and
/// fails (`duplicated definition of local variable i`); Bearing moves the
/// declaration to the start of the rule, so both forms evaluate alike.
#[test]
fn a_some_after_a_loop_evaluates_as_one_before_it() {
    let rule = |some_first: bool| {
        format!(
            "package main\nimport rego.v1\ndeny contains msg if {{\n{}\tname := input[_].contents.name\n{}\tusers := {{u | some i; u := input[i].contents.user}}\n\tmsg := sprintf(\"%s %d\", [name, count(users)])\n}}\n",
            if some_first { "\tsome i\n" } else { "" },
            if some_first { "" } else { "\tsome i\n" },
        )
    };
    let decide = |text: String| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.rego"), text).unwrap();
        let e = engine(&rego_intent(
            &dir.path().display().to_string(),
            "{combine: true}",
        ));
        let mut env = envelope("web", "production");
        env.attachments
            .manifests
            .push(bearing_guard::Attachment::new(
                "u.yaml",
                serde_json::json!([{"name": "a", "user": "x"}, {"name": "b", "user": "y"}]),
            ));
        e.decide(&env, &ctx())
    };
    let after = decide(rule(false));
    assert!(after.errors.is_empty(), "{:?}", after.errors);
    let first = decide(rule(true));
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(summary(&first).len(), 2, "{:?}", summary(&first));
    assert_eq!(summary(&after), summary(&first));
}

/// A custom policy reads the decision's context under `data.bearing` (the
/// change, the plans) besides the intent, decision after decision.
#[test]
fn a_custom_policy_reads_the_decision_context() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ctx.rego"),
        "package main\nimport rego.v1\nimport data.bearing\nwarn contains msg if {\n\tmsg := sprintf(\"%s to %s, %d guardrail(s)\", [bearing.change.service, bearing.change.environment, count(bearing.intent.guardrails)])\n}\n",
    )
    .unwrap();
    let e = engine(&rego_intent(&dir.path().display().to_string(), "{}"));
    for (service, env) in [("web", "production"), ("api", "staging")] {
        let d = e.decide(&envelope(service, env), &ctx());
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(
            summary(&d),
            vec![format!("Warn warn {service} to {env}, 1 guardrail(s)")]
        );
    }
}

/// `walk` (regorus' `graph` builtins) is available to custom policies.
#[test]
fn walk_finds_a_nested_value() {
    let e = engine(&rego_intent("conftest/walk", "{}"));
    let mut env = envelope("web", "production");
    env.attachments
        .manifests
        .push(read_manifests(&data_dir().join("conftest/walk/pod.yaml")).unwrap());
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        summary(&d),
        vec![
            r#"Deny deny walker: runAsNonRoot is false at ["spec", "containers", 0, "securityContext"]"#,
        ]
    );
}

/// The time limit bounds all of a guardrail's queries in one decision, not
/// each one: many rules over many documents, each query well under the
/// limit, end `unknown` at the limit instead of adding up.
#[test]
fn the_time_limit_bounds_a_guardrails_queries_together() {
    let dir = tempfile::tempdir().unwrap();
    let rules: String = (0..10)
        .map(|i| format!("deny_r{i} contains \"x\" if count([x | some x in numbers.range(1, 20000); x > 0]) > 0\n"))
        .collect();
    std::fs::write(
        dir.path().join("slow.rego"),
        format!("package main\nimport rego.v1\n{rules}"),
    )
    .unwrap();
    let limits = bearing_guard::Limits {
        eval_time: std::time::Duration::from_millis(100),
        ..bearing_guard::Limits::default()
    };
    let e = Engine::with_limits(
        &intent(&rego_intent(&dir.path().display().to_string(), "{}")),
        &data_dir(),
        limits,
    )
    .unwrap();
    let mut env = envelope("web", "production");
    let docs: Vec<serde_json::Value> = (0..20).map(|i| serde_json::json!({"n": i})).collect();
    env.attachments
        .manifests
        .push(bearing_guard::Attachment::new(
            "many.yaml",
            serde_json::Value::Array(docs),
        ));
    let started = std::time::Instant::now();
    let d = e.decide(&env, &ctx());
    let elapsed = started.elapsed();
    assert_eq!(d.result, Verdict::Unknown, "{:?}", summary(&d).len());
    assert!(
        d.errors.iter().any(|e| e.contains("time limit")),
        "{:?}",
        d.errors
    );
    assert!(
        elapsed < std::time::Duration::from_millis(600),
        "{elapsed:?}"
    );
}

/// A boolean rule (`deny_privileged if …`) that is true fails (or warns)
/// with a message naming it, where Conftest counts it as passed; one that
/// is false or undefined says nothing. `data.conftest.file` is the name and
/// absolute folder of the file each input came from, as Conftest gives it.
#[test]
fn boolean_rules_are_named_and_policies_read_their_file() {
    let e = engine(&rego_intent("conftest/file", "{}"));
    let mut env = envelope("web", "production");
    for f in ["pods.yml", "deployment.yaml"] {
        let path = data_dir().join("conftest/file").join(f);
        let mut m = read_manifests(&path).unwrap();
        m.file = path.display().to_string();
        env.attachments.manifests.push(m);
    }
    let d = e.decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        summary(&d),
        vec![
            "Deny deny pods.yml: name manifests *.yaml",
            "Deny deny pods.yml: name manifests *.yaml",
            "Deny deny_privileged `deny_privileged` is true (a boolean rule, which Conftest counts as passed)",
            "Warn warn deployment.yaml (a Deployment) in file",
            "Warn warn pods.yml (a Pod) in file",
            "Warn warn pods.yml (a Service) in file",
            "Warn warn_no_owner `warn_no_owner` is true (a boolean rule, which Conftest counts as passed)",
        ]
    );
    let privileged = d
        .violations
        .iter()
        .find(|v| v.rule == "deny_privileged")
        .unwrap();
    let at = privileged.location.as_ref().unwrap();
    assert!(at.file.ends_with("pods.yml") && at.line == 1, "{at:?}");
}

/// `data.conftest.file.dir` is absolute even for a file named relatively.
#[test]
fn the_file_of_an_input_is_given_with_an_absolute_folder() {
    let info = bearing_guard::conftest::file_info("manifests/app.yaml");
    assert_eq!(info["name"], "app.yaml");
    let dir = info["dir"].as_str().unwrap();
    assert!(std::path::Path::new(dir).is_absolute(), "{dir}");
    assert!(dir.ends_with("manifests"), "{dir}");
}

/// `deny[msg] if {…}` is an object of `true`s in Rego v1, not a set of
/// messages: refused at load with its line, as Conftest refuses it.
#[test]
fn a_rule_with_if_but_without_contains_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("invalid.rego"),
        "package main\nimport rego.v1\n\n\ndeny[msg] if {\n    msg := \"foo\"\n}\n",
    )
    .unwrap();
    let err = Engine::new(
        &intent(&rego_intent(&dir.path().display().to_string(), "{}")),
        &data_dir(),
    )
    .unwrap_err();
    match &err {
        GuardError::Policy { file, line, .. } => {
            assert!(file.ends_with("invalid.rego"), "{err}");
            assert_eq!(*line, 5, "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains("'if' keyword without 'contains' keyword"),
        "{err}"
    );
    // The same rule written as Conftest wants it, and a bare `deny if`, load.
    std::fs::write(
        dir.path().join("invalid.rego"),
        "package main\nimport rego.v1\ndeny contains msg if { msg := \"foo\" }\ndeny if { true }\n",
    )
    .unwrap();
    engine(&rego_intent(&dir.path().display().to_string(), "{}"));
}
