//! What the gate does with the files attached to a change: where findings
//! are located, and input it does not understand (never a quiet allow).

use bearing_guard::output;
use bearing_guard::{Attachment, Location, Verdict};

use crate::common::*;

fn one(kind_yaml: &str) -> bearing_guard::Engine {
    engine(&format!(
        "version: 1\nteams: [{{id: payments}}]\nservices:\n  - {{id: checkout, team: payments, environments: [production]}}\nguardrails:\n  - {kind_yaml}\n"
    ))
}

/// A minified SARIF report (one line, as many tools write it) with results
/// in two artifacts: one by URI (percent-encoded), one by `run.artifacts`
/// index, and one without a region.
const SARIF: &str = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"CodeQL","rules":[{"id":"js/sql-injection","properties":{"security-severity":"9.1"}}]}},"artifacts":[{"location":{"uri":"src/db.js","uriBaseId":"%SRCROOT%"}}],"results":[{"ruleId":"js/sql-injection","level":"error","message":{"text":"a"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/my%20routes.js","uriBaseId":"%SRCROOT%"},"region":{"startLine":12,"startColumn":5,"endColumn":30}}}]},{"ruleId":"js/sql-injection","level":"error","message":{"text":"b"},"locations":[{"physicalLocation":{"artifactLocation":{"index":0},"region":{"startLine":40}}}]},{"ruleId":"js/sql-injection","level":"error","message":{"text":"c"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///repo/Dockerfile"}}}]}]}]}"#;

#[test]
fn sarif_findings_are_located_in_their_artifact_and_in_the_report() {
    let e = one("{id: vulns, kind: vulnerabilities}");
    let mut env = envelope("checkout", "production");
    env.attachments
        .scans
        .push(Attachment::from_json_bytes("codeql.sarif", SARIF.as_bytes()).unwrap());
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Deny);
    let at = |file: &str, line: u32, column: u32| Location {
        file: file.into(),
        line,
        column,
    };
    let mut located: Vec<(Location, Vec<Location>)> = d
        .violations
        .iter()
        .map(|v| (v.location.clone().unwrap(), v.related_locations.clone()))
        .collect();
    located.sort_by(|a, b| a.0.file.cmp(&b.0.file));
    let report_column = |needle: &str| SARIF.find(needle).unwrap() as u32 + 1;
    assert_eq!(
        located,
        vec![
            (
                at("/repo/Dockerfile", 0, 0),
                vec![at(
                    "codeql.sarif",
                    1,
                    report_column(
                        r#"{"ruleId":"js/sql-injection","level":"error","message":{"text":"c"}"#
                    )
                )]
            ),
            (
                at("src/db.js", 40, 1),
                vec![at(
                    "codeql.sarif",
                    1,
                    report_column(
                        r#"{"ruleId":"js/sql-injection","level":"error","message":{"text":"b"}"#
                    )
                )]
            ),
            (
                at("src/my routes.js", 12, 5),
                vec![at(
                    "codeql.sarif",
                    1,
                    report_column(
                        r#"{"ruleId":"js/sql-injection","level":"error","message":{"text":"a"}"#
                    )
                )]
            ),
        ]
    );

    // GitHub annotations land in the artifact, at the region's line.
    let gh = output::github(&d);
    assert!(gh.contains("file=src/my routes.js,line=12,col=5::"), "{gh}");
    assert!(gh.contains("file=src/db.js,line=40,col=1::"), "{gh}");
    assert!(gh.contains("reported in: codeql.sarif:1:"), "{gh}");

    // SARIF output: the artifact is the location, the report a related one.
    let sarif = output::sarif(&d);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/db.js")
        .unwrap();
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 40, "startColumn": 1})
    );
    assert_eq!(
        r["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "codeql.sarif"
    );
    assert_eq!(
        r["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );

    // Text: the artifact first, the report below.
    let text = output::text(&d);
    assert!(text.contains("DENY    src/db.js:40:1: "), "{text}");
    assert!(
        text.contains("        reported in: codeql.sarif:1:"),
        "{text}"
    );
}

#[test]
fn trivy_findings_stay_located_in_the_report() {
    let e = one("{id: vulns, kind: vulnerabilities}");
    let mut env = envelope("checkout", "production");
    let trivy = r#"{"SchemaVersion":2,"Results":[{"Target":"app","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"openssl","InstalledVersion":"1.0","FixedVersion":"1.1","Severity":"CRITICAL"}]}]}"#;
    env.attachments
        .scans
        .push(Attachment::from_json_bytes("trivy.json", trivy.as_bytes()).unwrap());
    let d = e.decide(&env, &ctx());
    assert_eq!(d.violations.len(), 1);
    let v = &d.violations[0];
    assert_eq!(v.location.as_ref().unwrap().file, "trivy.json");
    assert!(v.related_locations.is_empty());
}

#[test]
fn workloads_the_baseline_cannot_read_are_unknown_not_allowed() {
    let e = one("{id: k8s, kind: k8s_baseline}");
    let decide = |yaml: &str| {
        let mut env = envelope("checkout", "production");
        env.attachments
            .manifests
            .push(Attachment::from_manifest_bytes("deploy.yaml", yaml.as_bytes()).unwrap());
        e.decide(&env, &ctx())
    };
    // A Pod whose `spec` is a list: nothing in it can be checked.
    let d = decide(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  - containers:\n      - {name: app, image: nginx, securityContext: {privileged: true}}\n",
    );
    assert_eq!(d.result, Verdict::Unknown, "{d:#?}");
    assert_eq!(rules(&d), vec!["pod_spec_unreadable:unknown"]);
    assert_eq!(
        d.violations[0].message,
        "Pod/web: no pod spec (a mapping) at `spec`, so its containers cannot be checked"
    );
    let l = d.violations[0].location.clone().unwrap();
    assert_eq!((l.file.as_str(), l.line), ("deploy.yaml", 5));
    assert!(output::text(&d).contains("UNKNOWN: 0 denied, 1 unknown,"));

    // OpenShift's DeploymentConfig: a privileged container the baseline
    // does not look at is reported, located at the kind.
    let d = decide(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\napiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: app, image: 'api:1', securityContext: {privileged: true}}\n",
    );
    assert_eq!(d.result, Verdict::Unknown, "{d:#?}");
    assert_eq!(rules(&d), vec!["unknown_kind:unknown"]);
    assert!(
        d.violations[0].message.starts_with(
            "DeploymentConfig/api: kind `DeploymentConfig` is not one k8s_baseline knows"
        ),
        "{}",
        d.violations[0].message
    );
    assert_eq!(d.violations[0].location.as_ref().unwrap().line, 7);

    // Kinds without pods pass as before.
    let d =
        decide("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n");
    assert_eq!(d.result, Verdict::Allow, "{d:#?}");
}

#[test]
fn files_that_are_not_what_they_were_given_as_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let err = |r: Result<Attachment, bearing_guard::GuardError>| r.unwrap_err().to_string();

    // State (`terraform show -json` without a plan file) is not a plan.
    let state = write(
        "state.json",
        r#"{"format_version":"1.0","terraform_version":"1.9.5","values":{"root_module":{"resources":[{"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","values":{"policy":"{}"}}]}}}"#,
    );
    let e = err(bearing_guard::read_plan(&state));
    assert!(
        e.starts_with(&format!(
            "`{}`: this is Terraform state, not a plan",
            state.display()
        )),
        "{e}"
    );

    let bare = write("bare.json", r#"{"format_version":"1.2"}"#);
    let e = err(bearing_guard::read_plan(&bare));
    assert!(
        e.ends_with(
            "it has no `resource_changes` or `planned_values`, so there is nothing to check"
        ),
        "{e}"
    );

    let errored = write(
        "errored.json",
        r#"{"format_version":"1.2","planned_values":{"root_module":{}},"errored":true}"#,
    );
    assert!(err(bearing_guard::read_plan(&errored)).contains("the plan errored"));

    // A plan with nothing to change has `planned_values` and no `resource_changes`.
    let empty = write(
        "empty.json",
        r#"{"format_version":"1.2","terraform_version":"1.7.5","planned_values":{"root_module":{}},"configuration":{"root_module":{}},"errored":false}"#,
    );
    assert!(bearing_guard::read_plan(&empty).is_ok());

    // A minified plan given as manifests is JSON, hence YAML, but no Kubernetes object.
    let plan = write(
        "plan.json",
        r#"{"format_version":"1.2","resource_changes":[{"address":"aws_iam_policy.p","type":"aws_iam_policy","change":{"actions":["create"],"after":{"policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}}}]}"#,
    );
    let e = err(bearing_guard::read_manifests(&plan));
    assert_eq!(
        e,
        format!(
            "`{}`: document 1 is not a Kubernetes manifest: this is a Terraform plan (pass it with `--plan`)",
            plan.display()
        )
    );
    let sarif = write("scan.sarif", r#"{"version":"2.1.0","runs":[]}"#);
    assert!(err(bearing_guard::read_manifests(&sarif)).ends_with(
        "document 1 is not a Kubernetes manifest: this is a scan report (pass it with `--scan`)"
    ));
    // Other YAML is read: custom Conftest-style policies check any configuration.
    let compose = write(
        "compose.yaml",
        "services:\n  web: {image: 'nginx:latest'}\n",
    );
    assert!(bearing_guard::read_manifests(&compose).is_ok());
    let cloudformation = write(
        "stack.yaml",
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket: {Type: 'AWS::S3::Bucket'}\nmatches: [1]\nruns: [a]\n",
    );
    assert!(bearing_guard::read_manifests(&cloudformation).is_ok());
    // Empty documents between separators are fine.
    let ok = write(
        "ok.yaml",
        "---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
    );
    assert!(bearing_guard::read_manifests(&ok).is_ok());
}

#[test]
fn a_decision_on_attachments_it_cannot_read_is_unknown() {
    // The same shapes sent to the server (`POST /v1/decide`) are not read from files.
    let e = one("{id: iam, kind: iam_least_privilege}");
    let mut env = envelope("checkout", "production");
    env.attachments.terraform_plans.push(Attachment::new(
        "state.json",
        serde_json::json!({"format_version": "1.0", "values": {"root_module": {}}}),
    ));
    env.attachments.manifests.push(Attachment::new(
        "plan.json",
        serde_json::json!([{"format_version": "1.2", "resource_changes": []}]),
    ));
    let d = e.decide(&env, &ctx());
    assert_eq!(d.result, Verdict::Unknown);
    assert_eq!(d.errors.len(), 2, "{:?}", d.errors);
    assert!(d.errors[0].starts_with("`state.json`: this is Terraform state"));
    assert!(d.errors[1].starts_with(
        "`plan.json`: document 1 is not a Kubernetes manifest: this is a Terraform plan"
    ));
    assert!(output::text(&d).contains("UNKNOWN: 0 denied, 2 unknown,"));
}

#[test]
fn compact_locations_travel_to_the_server_as_pointers() {
    // `bearing check --server` sends the envelope: its attachments' locations
    // are written out by pointer, and the server locates findings with them.
    let text = r#"{"format_version":"1.2","resource_changes":[{"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","name":"p","change":{"actions":["create"],"after":{"policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}}}]}"#;
    let read = Attachment::from_json_bytes("tfplan.json", text.as_bytes()).unwrap();
    assert!(read.locations.is_empty() && read.compact.is_some());
    let sent: Attachment = serde_json::from_str(&serde_json::to_string(&read).unwrap()).unwrap();
    let (_, expected) = bearing_guard::locate::parse_json_located(text).unwrap();
    assert_eq!(sent.locations, expected);
    let e = one("{id: iam, kind: iam_least_privilege}");
    let decide = |a: Attachment| {
        let mut env = envelope("checkout", "production");
        env.attachments.terraform_plans.push(a);
        e.decide(&env, &ctx())
    };
    let (here, there) = (decide(read), decide(sent));
    assert_eq!(here.violations, there.violations);
    let l = here.violations[0].location.clone().unwrap();
    assert_eq!(
        (l.line, l.column),
        (1, text.find(r#""policy""#).unwrap() as u32 + 10)
    );
}
