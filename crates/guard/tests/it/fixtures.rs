//! Built-in guardrails on the shared real-world fixtures. Each expectation was
//! checked by hand against the file (resource, attribute and line).

use bearing_guard::{Envelope, Verdict, read_manifests, read_plan};

use crate::common::*;

const IAM_K8S: &str = r#"
version: 1
guardrails:
  - {id: iam, kind: iam_least_privilege}
  - {id: k8s, kind: k8s_baseline}
"#;

/// `rule@line` of each violation, sorted, and the verdict.
fn check(rel: &str) -> Option<(Verdict, Vec<String>)> {
    let root = fixtures()?;
    let path = fixture(&root, rel);
    let mut env = Envelope {
        service: "checkout".into(),
        environment: "production".into(),
        ..Envelope::default()
    };
    if rel.ends_with(".yaml") {
        env.attachments
            .manifests
            .push(read_manifests(&path).unwrap());
    } else {
        env.attachments
            .terraform_plans
            .push(read_plan(&path).unwrap());
    }
    let d = engine(IAM_K8S).decide(&env, &ctx());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let mut found: Vec<String> = d
        .violations
        .iter()
        .map(|v| {
            let loc = v.location.as_ref().expect("every finding is located");
            assert!(loc.file.ends_with(rel.rsplit('/').next().unwrap()));
            format!("{}@{}", v.rule, loc.line)
        })
        .collect();
    found.sort();
    Some((d.result, found))
}

fn expect(rel: &str, verdict: Verdict, expected: &[&str]) {
    let Some((got, found)) = check(rel) else {
        return;
    };
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "{rel}");
    assert_eq!(got, verdict, "{rel}");
}

#[test]
fn iam_policies_in_every_form() {
    // aws_iam_role_policy, aws_iam_group_policy, aws_iam_user_policy with
    // `iam:*` (jsonencode'd policy strings), an aws_iam_policy with `s3:*`
    // (named policy_pass in Checkov's test, which only checks `*`), and the
    // aws_iam_policy_document data source fail_1 with `iam:*`.
    expect(
        "terraform-plans/checkov_plan_with_iam_policies.json",
        Verdict::Deny,
        &[
            "iam_wildcard_action@166",
            "iam_wildcard_action@191",
            "iam_wildcard_action@259",
            "iam_wildcard_action@313",
            "iam_wildcard_action@339",
        ],
    );
}

#[test]
fn tf_0_12_plan_with_tags() {
    // data.aws_iam_policy_document.policy (es:*), aws_iam_role_policy.ec2policy
    // (ec2:*, s3:*, rds:*), aws_iam_user_policy.userpolicy (ec2:*, s3:*,
    // lambda:*, cloudwatch:*); five buckets without encryption, `data` with a
    // public-read ACL; web-node opens port 22 to 0.0.0.0/0.
    let mut exp = vec!["iam_wildcard_action@2535"];
    exp.extend(["iam_wildcard_action@803"; 3]);
    exp.extend(["iam_wildcard_action@894"; 4]);
    exp.extend([
        "s3_unencrypted@1456",
        "s3_public@1457",
        "s3_unencrypted@1510",
        "s3_unencrypted@1576",
        "s3_unencrypted@1630",
        "s3_unencrypted@1770",
        "sg_open_ingress@1928",
    ]);
    expect(
        "terraform-plans/checkov_plan_tags.json",
        Verdict::Deny,
        &exp,
    );
}

#[test]
fn nested_child_modules() {
    // module.s3_bucket: aws_s3_bucket_acl public-read-write and a public access
    // block with all four flags false, found two module levels down.
    expect(
        "terraform-plans/checkov_plan_nested_child_modules.json",
        Verdict::Deny,
        &[
            "s3_public@368",
            "s3_public@396",
            "s3_public@397",
            "s3_public@398",
            "s3_public@399",
        ],
    );
}

#[test]
fn for_each_modules() {
    // module.sg["awful_example" | "bad_example" | "terrible_example"]: ingress on all ports from 0.0.0.0/0.
    expect(
        "terraform-plans/checkov_plan_with_for_each.json",
        Verdict::Deny,
        &[
            "sg_open_ingress@296",
            "sg_open_ingress@366",
            "sg_open_ingress@436",
        ],
    );
}

#[test]
fn tf_0_13_policy_and_bucket() {
    // aws_iam_policy.policy allows "*"; test-bucket1 is public-read and has no SSE.
    expect(
        "terraform-plans/checkov_plan_with_hcl_for_enrichment.json",
        Verdict::Deny,
        &[
            "iam_wildcard_action@181",
            "s3_public@201",
            "s3_unencrypted@200",
        ],
    );
}

#[test]
fn unknown_after_apply_is_never_a_pass() {
    // The bucket policy comes from a data source read during apply:
    // after_unknown.policy = true, so public access cannot be ruled out.
    expect(
        "terraform-plans/checkov_plan_with_iam_data_block.json",
        Verdict::Unknown,
        &["s3_policy_unknown@179"],
    );
}

#[test]
fn clean_plans_pass() {
    // Security group rule updates from another group (no CIDR), a minified
    // single-line plan whose bucket's encryption is computed by the provider,
    // a plan that only replaces a secret, OIDC trust roles with read-only
    // inline policies, and Azure/EC2/Lambda plans without IAM or S3.
    for rel in [
        "terraform-plans/checkov_plan_change_keys.json",
        "terraform-plans/checkov_plan_win_utf8_minified.json",
        "terraform-plans/checkov_plan_with_deleted_resources.json",
        "terraform-plans/checkov_plan_github_oidc_trust.json",
        "terraform-plans/infracost_azure_firewall_plan.json",
        "terraform-plans/infracost_examples_terraform_plan.json",
        "terraform-plans/infracost_terraform_v0.14_plan.json",
    ] {
        expect(rel, Verdict::Allow, &[]);
    }
    // aws_s3_bucket.usage without encryption (tf 1.0.5, provider v3).
    expect(
        "terraform-plans/infracost_example_plan.json",
        Verdict::Deny,
        &["s3_unencrypted@654"],
    );
}

#[test]
fn k8s_privileged_pod() {
    // busybox:untagged, privileged, runs as root, hostNetwork, hostPID, hostPath /.
    expect(
        "k8s-manifests/checkov_privilegedPod-FAILED.yaml",
        Verdict::Deny,
        &[
            "host_namespace@28",
            "host_namespace@29",
            "host_path@27",
            "latest_tag@9",
            "privileged@19",
            "run_as_root@8",
        ],
    );
}

#[test]
fn k8s_root_containers() {
    // pod1: nothing set; pod2: runAsNonRoot overridden to false; pod3: runAsUser 0;
    // pod4: container main2 overrides 1000 with 0 (main inherits 1000: fine);
    // second pod4: runAsUser "username" is not a number, so not proven non-root.
    let mut exp = vec![
        "run_as_root@8",
        "run_as_root@21",
        "run_as_root@36",
        "run_as_root@52",
        "run_as_root@68",
        "run_as_root@71",
    ];
    for line in ["8", "21", "36", "49", "52", "68", "71"] {
        exp.push(Box::leak(
            format!("no_resource_limits@{line}").into_boxed_str(),
        ));
    }
    for line in ["9", "22", "37", "50", "53", "69", "72"] {
        exp.push(Box::leak(format!("latest_tag@{line}").into_boxed_str()));
    }
    expect(
        "k8s-manifests/checkov_rootContainersFAILED.yaml",
        Verdict::Deny,
        &exp,
    );
}

#[test]
fn k8s_limits_and_tags() {
    // Job with centos:latest; Pod with two containers, only `wp` has limits;
    // StatefulSet pinned by digest but without limits.
    expect(
        "k8s-manifests/checkov_job-ImageTagLatest-FAILED.yaml",
        Verdict::Deny,
        &["latest_tag@12", "no_resource_limits@11", "run_as_root@11"],
    );
    expect(
        "k8s-manifests/checkov_pod-requests-limits-1FAILED1PASSED.yaml",
        Verdict::Deny,
        &[
            "latest_tag@13",
            "latest_tag@8",
            "no_resource_limits@7",
            "run_as_root@12",
            "run_as_root@7",
        ],
    );
    expect(
        "k8s-manifests/checkov_kafka-PASSED.yaml",
        Verdict::Deny,
        &["no_resource_limits@64"],
    );
}

#[test]
fn k8s_multi_document_files() {
    // Deployment + Service: only the Deployment has a pod spec.
    expect(
        "k8s-manifests/conftest_deployment+service.yaml",
        Verdict::Deny,
        &["no_resource_limits@16", "run_as_root@16"],
    );
    // Two Deployments in one file, both root, untagged nginx, no limits.
    expect(
        "k8s-manifests/conftest_exceptions_deployments.yaml",
        Verdict::Deny,
        &[
            "latest_tag@10",
            "latest_tag@24",
            "no_resource_limits@23",
            "no_resource_limits@9",
            "run_as_root@23",
            "run_as_root@9",
        ],
    );
    expect("k8s-manifests/conftest_service.yaml", Verdict::Allow, &[]);
}

/// SARIF findings of real reports are located in their artifact, relative
/// URIs resolved through the run's `originalUriBaseIds` (a chain of bases in
/// the spec's appendix K, a web address in sarif-sdk's sample, `%SRCROOT%`
/// left undefined by CodeQL's), absolute `file:` URIs made relative to the
/// checkout they are in.
#[test]
fn sarif_findings_are_located_in_their_artifacts() {
    let Some(root) = fixtures() else { return };
    let located = |rel: &str, checkout: Option<&str>| {
        let mut env = envelope("checkout", "production");
        env.attachments
            .scans
            .push(bearing_guard::read_scan(&fixture(&root, rel)).unwrap());
        let mut e = engine(
            "version: 1\nguardrails:\n  - {id: v, kind: vulnerabilities, params: {block: [critical, high, medium, low]}}\n",
        );
        if let Some(c) = checkout {
            e = e.with_checkout(c.into());
        }
        let d = e.decide(&env, &ctx());
        let mut files: Vec<String> = d
            .violations
            .iter()
            .filter_map(|v| v.location.as_ref())
            .map(|l| format!("{}:{}", l.file, l.line))
            .collect();
        files.sort();
        files.dedup();
        files
    };
    assert_eq!(
        located("sarif/defectdojo/appendix_k.sarif", None),
        ["src/collections/list.h:15"]
    );
    let ghas = located("sarif/sarif-sdk/CweGhasSample.sarif", None);
    assert!(
        !ghas.is_empty() && ghas.iter().all(|f| f.starts_with("src/Sarif/Taxonomies/")),
        "{ghas:?}"
    );
    let codeql = located("sarif/defectdojo/codeQL-output.sarif", None);
    assert!(
        codeql.contains(&"good/db_init.py:39".to_string()),
        "{codeql:?}"
    );
    let bash = located(
        "sarif/defectdojo/bash-report.sarif",
        Some("/home/damien/dd"),
    );
    assert!(
        bash.iter().any(|f| f.starts_with("docker/setEnv.sh:")),
        "{bash:?}"
    );
    assert!(bash.iter().all(|f| !f.starts_with('/')), "{bash:?}");
    let elsewhere = located("sarif/defectdojo/bash-report.sarif", Some("/srv/other"));
    assert!(
        elsewhere.iter().all(|f| f.starts_with("/home/damien/dd/")),
        "{elsewhere:?}"
    );
}
