//! Recognising what a pipeline does from its text: deploys, scans, the
//! gate, event reporting, delivery strategies, approval steps.
//!
//! Heuristics, written down so a reader can predict them: a word list per
//! question, matched case-insensitively on `run:`/`script:` text and
//! `uses:` references.

use bearing_intent::Strategy;

use crate::yaml::Node;

/// Commands that change a running environment or publish a release.
const DEPLOY_COMMANDS: &[&str] = &[
    "kubectl apply",
    "kubectl set image",
    "kubectl rollout",
    "kubectl argo rollouts",
    "helm upgrade",
    "helm install",
    "helmfile apply",
    "helmfile sync",
    "terraform apply",
    "tofu apply",
    "terragrunt apply",
    "pulumi up",
    "cdk deploy",
    "serverless deploy",
    "sls deploy",
    "sam deploy",
    "flyctl deploy",
    "fly deploy",
    "vercel deploy",
    "vercel --prod",
    "netlify deploy",
    "gcloud run deploy",
    "gcloud app deploy",
    "gcloud functions deploy",
    "aws ecs update-service",
    "aws lambda update-function-code",
    "az webapp deploy",
    "az containerapp update",
    "heroku container:release",
    "argocd app sync",
    "flux reconcile",
    "kamal deploy",
    "cap production deploy",
    "ansible-playbook",
    "goreleaser release",
    "twine upload",
    "npm publish",
    "cargo publish",
    "gh release create",
    "docker push",
    "skaffold run",
];

/// Action references (prefix, case-insensitive) that deploy or publish.
const DEPLOY_ACTIONS: &[&str] = &[
    "azure/webapps-deploy",
    "azure/k8s-deploy",
    "azure/functions-action",
    "aws-actions/amazon-ecs-deploy-task-definition",
    "google-github-actions/deploy-",
    "pypa/gh-action-pypi-publish",
    "goreleaser/goreleaser-action",
    "softprops/action-gh-release",
    "peaceiris/actions-gh-pages",
    "actions/deploy-pages",
    "cloudflare/wrangler-action",
    "amondnet/vercel-action",
    "helm/chart-releaser-action",
];

/// Vulnerability scanners, as commands or action references.
const SCANNERS: &[&str] = &[
    "trivy",
    "grype",
    "anchore/scan-action",
    "snyk",
    "osv-scanner",
    "govulncheck",
    "npm audit",
    "yarn audit",
    "pnpm audit",
    "cargo audit",
    "cargo deny",
    "pip-audit",
    "safety check",
    "github/codeql-action/analyze",
    "actions/dependency-review-action",
    "docker scout",
    "security/sast.gitlab-ci.yml",
    "security/dependency-scanning.gitlab-ci.yml",
    "security/container-scanning.gitlab-ci.yml",
    "jobs/container-scanning.gitlab-ci.yml",
    "jobs/dependency-scanning.gitlab-ci.yml",
    "jobs/sast.gitlab-ci.yml",
];

/// Actions that pause a run until a person approves.
const APPROVAL_ACTIONS: &[&str] = &[
    "trstringer/manual-approval",
    "ekeel/approval-action",
    "kharkevich/issue-ops-approval",
    "joshjohanning/approveops",
];

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// True when the text runs a deploy or publish command.
pub fn deploy_command(text: &str) -> Option<&'static str> {
    let t = squash_spaces(&lower(text));
    DEPLOY_COMMANDS.iter().copied().find(|c| t.contains(c))
}

fn squash_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\\' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// True when `uses:` names a deploy or publish action.
pub fn deploy_action(uses: &str) -> bool {
    let u = lower(uses);
    DEPLOY_ACTIONS.iter().any(|a| u.starts_with(a))
}

/// True when `uses:` names a manual-approval action.
pub fn approval_action(uses: &str) -> bool {
    let u = lower(uses);
    APPROVAL_ACTIONS.iter().any(|a| u.starts_with(a))
}

/// True when the text runs the guardrail gate.
pub fn gate(text: &str) -> bool {
    let t = squash_spaces(&lower(text));
    t.contains("bearing check") || t.contains("/v1/decide")
}

/// True when the text reports events to Bearing.
pub fn reports_events(text: &str) -> bool {
    let t = squash_spaces(&lower(text));
    t.contains("/v1/events") || t.contains("bearing ingest") || t.contains("dev.cdevents.")
}

/// True when a scalar mentions a vulnerability scanner.
pub fn scanner(text: &str) -> bool {
    let t = squash_spaces(&lower(text));
    SCANNERS.iter().any(|s| t.contains(s))
}

/// True when anything in the document scans for vulnerabilities.
pub fn scans(root: &Node) -> bool {
    root.scalars()
        .iter()
        .any(|n| n.as_str().is_some_and(scanner))
}

/// The strongest delivery strategy the text shows.
pub fn strategy(text: &str) -> Strategy {
    let t = lower(text);
    if t.contains("canary")
        || t.contains("argo rollouts")
        || t.contains("flagger")
        || t.contains("setweight")
        || t.contains("traffic_percent")
    {
        Strategy::Canary
    } else if t.contains("blue-green")
        || t.contains("bluegreen")
        || t.contains("blue/green")
        || t.contains("blue_green")
        || t.contains("slot swap")
        || t.contains("swap-slot")
    {
        Strategy::BlueGreen
    } else {
        Strategy::Direct
    }
}

/// True for a name that says it deploys or releases: a word `deploy` or
/// `deployment` anywhere, or a name that starts with `release` or `publish`
/// (`release-tag`, "Publish release artefacts"), but not `build_release`,
/// "List active LTS releases" or release tooling (`release-please`).
pub fn deploy_name(name: &str) -> bool {
    let n = lower(name);
    let words: Vec<&str> = n
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words
        .iter()
        .any(|w| matches!(*w, "deploy" | "deployment" | "deploys"))
    {
        return true;
    }
    let tooling = [
        "please",
        "drafter",
        "notes",
        "label",
        "labels",
        "backport",
        "check",
        "changelog",
    ];
    matches!(words.first(), Some(&"release") | Some(&"publish"))
        && !words.iter().any(|w| tooling.contains(w))
}

/// True when a job's text shows it runs against a throwaway test cluster
/// (kind, k3d, minikube) or is a test job: its `kubectl apply` is not a deploy.
pub fn test_job(name: &str, text: &str) -> bool {
    let n = lower(name);
    let words: Vec<&str> = n
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| {
        matches!(
            *w,
            "test" | "tests" | "e2e" | "conformance" | "conform" | "integration" | "smoke"
        )
    }) {
        return true;
    }
    let t = lower(text);
    [
        "kind create cluster",
        "helm/kind-action",
        "k3d cluster create",
        "minikube start",
        "setup-kind",
        "--snapshot",
    ]
    .iter()
    .any(|k| t.contains(k))
}

/// Actions whose documentation requires a tag, not a SHA: the SLSA
/// generators verify their own ref and refuse to run from a SHA.
pub fn must_use_tag(uses: &str) -> bool {
    lower(uses).starts_with("slsa-framework/slsa-github-generator/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_match_what_they_should() {
        assert_eq!(
            deploy_command("helm  upgrade --install x"),
            Some("helm upgrade")
        );
        assert_eq!(
            deploy_command("terraform \\\n  apply -auto-approve"),
            Some("terraform apply")
        );
        assert_eq!(deploy_command("terraform plan"), None);
        assert!(gate("bearing  check --service a"));
        assert!(!gate("bearing report"));
        assert!(scanner("aquasecurity/trivy-action@abc"));
        assert!(!scanner("cargo test"));
        assert_eq!(strategy("kubectl argo rollouts promote"), Strategy::Canary);
        assert_eq!(
            strategy("az webapp deployment slot swap"),
            Strategy::BlueGreen
        );
        assert!(deploy_name("Deploy to prod"));
        assert!(deploy_name("release"));
        assert!(deploy_name("Publish release artefacts"));
        assert!(deploy_name("review-docs-deploy"));
        assert!(!deploy_name("release-please"));
        assert!(!deploy_name("List active LTS releases"));
        assert!(!deploy_name("build_meson_prerelease"));
        assert!(test_job("e2e-amd64-kubernetes", ""));
        assert!(test_job("conform", "kind create cluster"));
        assert!(!test_job("deploy", "kubectl apply -f k8s"));
        assert!(approval_action("trstringer/manual-approval@v1"));
    }
}
