//! Lint on hand-written cases and on real-world pipelines.

use std::path::Path;

use bearing_workflow::lint::{Finding, Severity};
use bearing_workflow::{LintOptions, lint_path, lint_str};

use crate::common::{TARGETS, fixtures, generate_all, intents, load};

fn ids(findings: &[Finding]) -> Vec<(usize, &'static str)> {
    findings.iter().map(|f| (f.line, f.rule.id())).collect()
}

#[test]
fn generated_pipelines_lint_clean_against_their_intent() {
    for (_, path, text) in intents() {
        let intent = load(path, &text);
        let opts = LintOptions {
            intent: Some(&intent),
            plans: None,
        };
        for (target, _) in TARGETS {
            let dir = tempfile::tempdir().unwrap();
            let generated = generate_all(&intent, path, target);
            let count = generated.len();
            for f in generated {
                let p = match target {
                    bearing_intent::WorkflowTarget::GithubActions => {
                        dir.path().join(".github/workflows").join(&f.path)
                    }
                    bearing_intent::WorkflowTarget::GitlabCi => dir.path().join(&f.path),
                };
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, &f.contents).unwrap();
                let findings = lint_str(&p, &f.contents, &opts);
                assert!(findings.is_empty(), "{}: {findings:#?}", p.display());
            }
            // The folder as a user lints it: GitLab's included files are followed.
            let files = bearing_workflow::lint::pipeline_files(dir.path()).unwrap();
            assert_eq!(files.len(), count, "{files:?}");
            assert!(lint_path(dir.path(), &opts).unwrap().is_empty());
        }
    }
}

const INTENT: &str = r#"
version: 1
teams:
  - id: core
services:
  - id: api
    team: core
    delivery: { strategy: canary }
objectives:
  - id: ship-fast
    layer: engineering
    key_results:
      - { metric: dora.deployment_frequency, target: ">= 5/week" }
guardrails:
  - { id: vulns, kind: vulnerabilities }
"#;

#[test]
fn a_bare_deploy_workflow_gets_every_finding_at_its_line() {
    let intent = load("bearing.yaml", INTENT);
    let wf = "\
name: deploy
on: workflow_dispatch
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - uses: actions/checkout@v4
      - uses: trstringer/manual-approval@v1
      - run: kubectl apply -f k8s/
";
    let findings = lint_str(
        Path::new(".github/workflows/deploy.yml"),
        wf,
        &LintOptions {
            intent: Some(&intent),
            plans: None,
        },
    );
    let got = ids(&findings);
    assert!(got.contains(&(2, "manual-approval")), "{got:?}");
    assert!(got.contains(&(3, "missing-permissions")), "{got:?}");
    assert!(got.contains(&(4, "no-gate")), "{got:?}");
    assert!(got.contains(&(4, "no-scan")), "{got:?}");
    assert!(got.contains(&(4, "deploy-without-events")), "{got:?}");
    assert!(got.contains(&(4, "weak-strategy")), "{got:?}");
    assert!(got.contains(&(8, "unpinned-action")), "{got:?}");
    assert!(got.contains(&(9, "unpinned-action")), "{got:?}");
    assert!(got.contains(&(9, "manual-approval")), "{got:?}");
    let checkout = findings.iter().find(|f| f.line == 8).unwrap();
    assert_eq!((checkout.column, checkout.severity), (15, Severity::Note));
}

#[test]
fn gitlab_manual_deploy_is_flagged_only_when_speed_is_the_objective() {
    let ci = "\
stages: [deploy]
deploy-prod:
  stage: deploy
  environment: production
  script:
    - bearing check --service api --env production
    - helm upgrade api charts/api --set canary=true
    - curl -X POST $BEARING_SERVER/v1/events -d @event.json
  when: manual
scan:
  script: trivy fs .
";
    let fast = load("bearing.yaml", INTENT);
    let f = lint_str(
        Path::new(".gitlab-ci.yml"),
        ci,
        &LintOptions {
            intent: Some(&fast),
            plans: None,
        },
    );
    assert_eq!(ids(&f), vec![(9, "manual-approval")]);
    assert_eq!(f[0].column, 9);
    let slow = load(
        "bearing.yaml",
        &INTENT
            .replace("dora.deployment_frequency", "dora.change_failure_rate")
            .replace(">= 5/week", "< 15%"),
    );
    let f = lint_str(
        Path::new(".gitlab-ci.yml"),
        ci,
        &LintOptions {
            intent: Some(&slow),
            plans: None,
        },
    );
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn pull_request_target_with_head_checkout_is_an_error() {
    let wf = "\
on: pull_request_target
permissions: {}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1
        with:
          ref: ${{ github.event.pull_request.head.sha }}
";
    let f = lint_str(
        Path::new(".github/workflows/t.yml"),
        wf,
        &LintOptions::default(),
    );
    assert_eq!(ids(&f), vec![(9, "pr-target-checkout")]);
    assert_eq!(f[0].severity, Severity::Error);
}

fn fixture_findings(dir: &Path, file: &str) -> Vec<Finding> {
    let path = dir.join(file);
    assert!(path.is_file(), "missing fixture {}", path.display());
    let text = std::fs::read_to_string(&path).unwrap();
    lint_str(&path, &text, &LintOptions::default())
}

/// Every real-world pipeline in the fixtures lints without a panic and
/// without a syntax finding (they all run in their projects).
#[test]
fn lint_handles_every_real_world_pipeline() {
    let Some(root) = fixtures() else { return };
    let mut n = 0;
    for sub in ["github-workflows", "gitlab-ci"] {
        let dir = root.join(sub);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        {
            let text = std::fs::read_to_string(&p).unwrap();
            let f = lint_str(&p, &text, &LintOptions::default());
            assert!(
                !f.iter().any(|f| f.rule.id() == "syntax"),
                "{}: {f:#?}",
                p.display()
            );
            n += 1;
        }
        // The folder as a whole too (repository context).
        let _ = lint_path(&dir, &LintOptions::default()).unwrap();
    }
    assert!(n >= 30, "only {n} pipelines linted");
}

fn has(findings: &[Finding], line: usize, rule: &str) -> bool {
    findings
        .iter()
        .any(|f| f.line == line && f.rule.id() == rule)
}

/// Findings on real workflows, each checked by hand against the file.
#[test]
fn real_world_findings_a_maintainer_would_agree_with() {
    let Some(root) = fixtures() else { return };
    let gh = root.join("github-workflows");

    // cli/cli deployment.yml: job `linux` (line 31) has `environment:
    // ${{ inputs.environment }}` and builds, signs and publishes a release
    // with GoReleaser: a deploy with no guardrail gate and no event reporting.
    // Line 43 `goreleaser/goreleaser-action@v6` is a third-party action on a
    // movable tag (warning); line 37 `actions/checkout@v4` is GitHub's own
    // (note). The file itself has no scanner (its CodeQL is another file).
    let f = fixture_findings(&gh, "cli__cli__deployment.yml");
    for rule in ["no-gate", "no-scan", "deploy-without-events"] {
        assert!(has(&f, 31, rule), "{rule}: {f:#?}");
    }
    let goreleaser = f.iter().find(|x| x.line == 43).unwrap();
    assert_eq!(
        (goreleaser.rule.id(), goreleaser.column, goreleaser.severity),
        ("unpinned-action", 15, Severity::Warning)
    );
    let checkout = f.iter().find(|x| x.line == 37).unwrap();
    assert_eq!(
        (checkout.rule.id(), checkout.severity),
        ("unpinned-action", Severity::Note)
    );

    // fluxcd/flux2 release.yml: `release-flux-cli` (line 11) publishes with
    // GoReleaser: a release without the gate. Lines 176/188/202 reference the
    // SLSA generator by tag, which its docs require (it refuses a SHA): no
    // unpinned finding there.
    let f = fixture_findings(&gh, "fluxcd__flux2__release.yml");
    assert!(has(&f, 11, "no-gate"), "{f:#?}");
    for line in [176, 188, 202] {
        assert!(!has(&f, line, "unpinned-action"), "line {line}: {f:#?}");
    }

    // fluxcd/flux2 e2e.yml runs `kubectl apply` against a kind cluster it
    // creates: a test, not a deploy, so no deploy rule fires.
    let f = fixture_findings(&gh, "fluxcd__flux2__e2e.yml");
    assert!(
        !f.iter()
            .any(|x| matches!(x.rule.id(), "no-gate" | "no-scan" | "deploy-without-events")),
        "{f:#?}"
    );

    // prometheus ci.yml: `list_lts_releases` ("List active LTS releases",
    // line 69) only lists branches, not a release; `publish_release` (line
    // 381, "Publish release artefacts") publishes one.
    let f = fixture_findings(&gh, "prometheus__prometheus__ci.yml");
    assert!(!f.iter().any(|x| x.line == 69), "{f:#?}");
    assert!(has(&f, 381, "no-gate"), "{f:#?}");

    // trivy backport.yml: no `permissions:` at the top or in either job
    // (`jobs:` is line 7), so the token gets the repository default.
    let f = fixture_findings(&gh, "aquasecurity__trivy__backport.yml");
    assert!(has(&f, 7, "missing-permissions"), "{f:#?}");

    // flask tests.yml: `permissions: {}` at the top, every action pinned to a
    // SHA, nothing deployed: clean.
    let f = fixture_findings(&gh, "pallets__flask__tests.yml");
    assert!(f.is_empty(), "{f:#?}");

    // gitlab-runner: `stable S3` (line 620) targets environment `stable/s3`
    // and uploads release artefacts: a deploy without gate or events.
    let f = fixture_findings(
        &root.join("gitlab-ci"),
        "gitlabhq__gitlab-runner__gitlab-ci.yml",
    );
    assert!(has(&f, 620, "no-gate"), "{f:#?}");
    assert!(has(&f, 620, "deploy-without-events"), "{f:#?}");
}

#[test]
fn the_delivery_plan_decides_the_required_strategy() {
    use std::collections::BTreeMap;

    let intent = load(
        "bearing.yaml",
        &INTENT.replace("strategy: canary", "strategy: direct"),
    );
    let wf = "\
permissions: {}
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: bearing check --service api --env production
      - run: ./deploy.sh blue-green && curl -X POST \"$BEARING_SERVER/v1/events\"
      - run: trivy fs .
";
    let path = Path::new(".github/workflows/api.yml");
    // The intent asks for direct: blue-green is stronger, nothing to say.
    let f = lint_str(
        path,
        wf,
        &LintOptions {
            intent: Some(&intent),
            plans: None,
        },
    );
    assert!(f.is_empty(), "{f:#?}");
    // Reconcile moved the service to canary: blue-green is now too weak.
    let plan: bearing_events::DeliveryPlan = serde_json::from_value(serde_json::json!({
        "service": "api", "strategy": "canary", "freeze": false,
        "updated_at": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    let plans = BTreeMap::from([("api".to_string(), plan)]);
    let f = lint_str(
        path,
        wf,
        &LintOptions {
            intent: Some(&intent),
            plans: Some(&plans),
        },
    );
    assert_eq!(ids(&f), vec![(4, "weak-strategy")]);
    assert!(
        f[0].message.contains("with blue-green") && f[0].message.contains("asks for canary"),
        "{}",
        f[0].message
    );
}

#[test]
fn untrusted_text_in_run_is_script_injection() {
    let wf = "\
on: issues
permissions: {}
jobs:
  triage:
    runs-on: ubuntu-latest
    steps:
      - run: echo \"${{ github.event.issue.title }}\"
      - run: echo \"$TITLE\"
        env:
          TITLE: ${{ github.event.issue.title }}
";
    let f = lint_str(
        Path::new(".github/workflows/t.yml"),
        wf,
        &LintOptions::default(),
    );
    assert_eq!(ids(&f), vec![(7, "script-injection")]);
    assert_eq!(f[0].column, 14);
}
