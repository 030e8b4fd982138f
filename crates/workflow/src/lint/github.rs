//! Rules for GitHub Actions workflows.

use bearing_intent::{Intent, Service};

use super::{
    LintOptions, RepoContext, Rule, Severity, Sink, detect, required_strategy, service_of,
};
use crate::pins::is_full_sha;
use crate::spec::{Approval, approval};
use crate::yaml::{Node, Pos, Value};

fn text_of(node: &Node) -> String {
    node.scalars()
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The event names a workflow triggers on, with the `on` key's position.
fn triggers(root: &Node) -> Option<(Pos, Vec<String>)> {
    let key = root.key("on").or_else(|| root.key("true"))?;
    let value = root.get("on").or_else(|| root.get("true"))?;
    let names = match &value.value {
        Value::Scalar { text, .. } => vec![text.clone()],
        Value::Seq(items) => items
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        Value::Map(_) => value
            .entries()
            .iter()
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect(),
    };
    Some((key.pos, names))
}

fn steps(job: &Node) -> &[Node] {
    job.get("steps").and_then(Node::as_seq).unwrap_or(&[])
}

/// The environment a job deploys to, when named literally.
fn environment_name(job: &Node) -> Option<&str> {
    let env = job.get("environment")?;
    env.as_str()
        .or_else(|| env.get("name").and_then(Node::as_str))
}

/// Why a job counts as a deploy, if it does.
fn deploy_reason(id: &str, job: &Node) -> Option<String> {
    if let Some(env) = job.get("environment") {
        let name = env
            .as_str()
            .or_else(|| env.get("name").and_then(Node::as_str))
            .unwrap_or("?");
        return Some(format!("targets environment `{name}`"));
    }
    let name = job.get("name").and_then(Node::as_str).unwrap_or("");
    if detect::test_job(id, &text_of(job)) || detect::test_job(name, "") {
        return None;
    }
    for step in steps(job) {
        if let Some(run) = step.get("run").and_then(Node::as_str)
            && let Some(cmd) = detect::deploy_command(run)
        {
            return Some(format!("runs `{cmd}`"));
        }
        if let Some(uses) = step.get("uses").and_then(Node::as_str)
            && detect::deploy_action(uses)
        {
            return Some(format!("uses `{}`", uses.split('@').next().unwrap_or(uses)));
        }
    }
    if detect::deploy_name(id) || detect::deploy_name(name) {
        return Some(format!(
            "is named `{}`",
            if name.is_empty() { id } else { name }
        ));
    }
    None
}

pub(super) fn lint(root: &Node, opts: &LintOptions<'_>, ctx: &RepoContext, sink: &mut Sink<'_>) {
    let Some(jobs) = root.get("jobs").filter(|j| j.is_map()) else {
        return;
    };
    let jobs_key = root.key("jobs").map(|k| k.pos).unwrap_or_default();
    let whole = text_of(root);
    let has_gate = detect::gate(&whole);
    let reports = detect::reports_events(&whole);
    let trig = triggers(root);
    let service: Option<&Service> = opts.intent.and_then(|i| service_of(i, sink.file, root));

    pinning(jobs, sink);
    injection(jobs, sink);
    permissions(root, jobs, jobs_key, sink);
    pr_target(root, jobs, trig.as_ref(), sink);

    let mut deploys: Vec<&str> = Vec::new();
    for (key, job) in jobs.entries() {
        let id = key.as_str().unwrap_or("");
        let Some(reason) = deploy_reason(id, job) else {
            continue;
        };
        deploys.push(id);
        if !has_gate {
            sink.push(
                Rule::NoGate,
                Severity::Error,
                key.pos,
                format!("job `{id}` deploys ({reason}) but the workflow never runs the guardrail gate (`bearing check`)"),
            );
        }
        if !ctx.scans {
            sink.push(
                Rule::NoScan,
                Severity::Warning,
                key.pos,
                format!("job `{id}` deploys ({reason}) but no pipeline in the repository scans for vulnerabilities (Trivy, Grype, …)"),
            );
        }
        if !reports {
            sink.push(
                Rule::DeployWithoutEvents,
                Severity::Warning,
                key.pos,
                format!("job `{id}` deploys ({reason}) but reports no event to Bearing (CDEvents to `/v1/events` or `bearing ingest`)"),
            );
        }
        if let (Some(intent), Some(service)) = (opts.intent, service) {
            let required = required_strategy(opts, service);
            let shown = detect::strategy(&text_of(job));
            if shown < required && !super::pre_production(service, environment_name(job)) {
                sink.push(
                    Rule::WeakStrategy,
                    Severity::Error,
                    key.pos,
                    format!(
                        "job `{id}` deploys `{}` {} but its delivery plan asks for {}",
                        service.id,
                        if shown == bearing_intent::Strategy::Direct {
                            "directly".to_string()
                        } else {
                            format!("with {}", shown.name())
                        },
                        required.name()
                    ),
                );
            }
            manual_approval(intent, service, id, job, sink);
        } else if let Some(intent) = opts.intent {
            // Service unknown: judge approval by any service the intent wants fast.
            if let Some(s) = intent
                .services
                .iter()
                .find(|s| matches!(approval(intent, s), Approval::None { .. }))
            {
                manual_approval(intent, s, id, job, sink);
            }
        }
    }
    if let Some(intent) = opts.intent {
        let fast = service.or_else(|| {
            intent
                .services
                .iter()
                .find(|s| matches!(approval(intent, s), Approval::None { .. }))
        });
        if let Some(s) = fast {
            dispatch_only(intent, s, &deploys, trig.as_ref(), sink);
        }
    }
}

fn manual_approval(intent: &Intent, service: &Service, id: &str, job: &Node, sink: &mut Sink<'_>) {
    let Approval::None { reason } = approval(intent, service) else {
        return;
    };
    for step in steps(job) {
        if let Some(uses) = step.get("uses")
            && uses.as_str().is_some_and(detect::approval_action)
        {
            sink.push(
                Rule::ManualApproval,
                Severity::Warning,
                uses.pos,
                format!("job `{id}` waits for a manual approval, but {reason}"),
            );
        }
    }
}

/// A workflow that deploys and starts only by hand: one finding at `on:`.
fn dispatch_only(
    intent: &Intent,
    service: &Service,
    deploys: &[&str],
    trig: Option<&(Pos, Vec<String>)>,
    sink: &mut Sink<'_>,
) {
    let Approval::None { reason } = approval(intent, service) else {
        return;
    };
    if let Some((pos, names)) = trig
        && !deploys.is_empty()
        && !names.is_empty()
        && names.iter().all(|n| n == "workflow_dispatch")
    {
        let jobs: Vec<String> = deploys.iter().map(|d| format!("`{d}`")).collect();
        sink.push(
            Rule::ManualApproval,
            Severity::Warning,
            *pos,
            format!(
                "the workflow deploys (job {}) only when someone starts it by hand (`workflow_dispatch`), but {reason}",
                jobs.join(", ")
            ),
        );
    }
}

fn pinning(jobs: &Node, sink: &mut Sink<'_>) {
    for (_, job) in jobs.entries() {
        let mut uses: Vec<&Node> = job.get("uses").into_iter().collect();
        uses.extend(steps(job).iter().filter_map(|s| s.get("uses")));
        for u in uses {
            let Some(text) = u.as_str() else { continue };
            let text = text.trim();
            if text.starts_with("./") || text.contains("${{") {
                continue;
            }
            if let Some(image) = text.strip_prefix("docker://") {
                if !image.contains("@sha256:") {
                    sink.push(
                        Rule::UnpinnedAction,
                        Severity::Warning,
                        u.pos,
                        format!("`{text}` is a container image not pinned by digest; use `docker://…@sha256:<digest>`"),
                    );
                }
                continue;
            }
            let (name, reference) = match text.rsplit_once('@') {
                Some((n, r)) => (n, Some(r)),
                None => (text, None),
            };
            if reference.is_some_and(is_full_sha)
                || (reference.is_some() && detect::must_use_tag(name))
            {
                continue;
            }
            let owner = name.split('/').next().unwrap_or("");
            let github_owned = matches!(owner.to_ascii_lowercase().as_str(), "actions" | "github");
            let what = match reference {
                Some(r) => format!("`{name}` is pinned to `{r}`, which can be moved"),
                None => format!("`{name}` has no version at all"),
            };
            sink.push(
                Rule::UnpinnedAction,
                if github_owned {
                    Severity::Note
                } else {
                    Severity::Warning
                },
                u.pos,
                format!("{what}; pin it to a full commit SHA (`{name}@<40-hex sha> # <version>`)"),
            );
        }
    }
}

fn permissions(root: &Node, jobs: &Node, jobs_key: Pos, sink: &mut Sink<'_>) {
    if root.get("permissions").is_some() {
        return;
    }
    let missing: Vec<&str> = jobs
        .entries()
        .iter()
        .filter(|(_, j)| j.get("permissions").is_none())
        .filter_map(|(k, _)| k.as_str())
        .collect();
    if missing.is_empty() {
        return;
    }
    sink.push(
        Rule::MissingPermissions,
        Severity::Warning,
        jobs_key,
        format!(
            "no top-level `permissions:` and job(s) {} set none, so their token gets the repository default (read-write on older repositories); add `permissions: {{ contents: read }}` and widen per job",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        ),
    );
}

fn pr_target(root: &Node, jobs: &Node, trig: Option<&(Pos, Vec<String>)>, sink: &mut Sink<'_>) {
    let _ = root;
    if !trig.is_some_and(|(_, t)| t.iter().any(|n| n == "pull_request_target")) {
        return;
    }
    for (key, job) in jobs.entries() {
        for step in steps(job) {
            let is_checkout = step
                .get("uses")
                .and_then(Node::as_str)
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("actions/checkout"));
            if !is_checkout {
                continue;
            }
            let Some(r) = step.get("with").and_then(|w| w.get("ref")) else {
                continue;
            };
            let text = r.as_str().unwrap_or("");
            if text.contains("pull_request.head")
                || text.contains("github.head_ref")
                || text.contains("refs/pull/")
            {
                sink.push(
                    Rule::PrTargetCheckout,
                    Severity::Error,
                    r.pos,
                    format!(
                        "job `{}` checks out the pull request's code (`{text}`) in a `pull_request_target` workflow, which runs with secrets and a write token",
                        key.as_str().unwrap_or("")
                    ),
                );
            }
        }
    }
}

/// Event fields an outsider can set (GitHub's list of untrusted inputs).
const UNTRUSTED: &[&str] = &[
    "github.event.issue.title",
    "github.event.issue.body",
    "github.event.pull_request.title",
    "github.event.pull_request.body",
    "github.event.comment.body",
    "github.event.review.body",
    "github.event.review_comment.body",
    "github.event.discussion.title",
    "github.event.discussion.body",
    "github.event.pages",
    "github.event.head_commit.message",
    "github.event.head_commit.author.email",
    "github.event.head_commit.author.name",
    "github.event.commits",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.head.label",
    "github.event.pull_request.head.repo.default_branch",
    "github.event.workflow_run.head_branch",
    "github.event.workflow_run.head_commit.message",
    "github.head_ref",
];

/// The untrusted field used inside a `${{ }}` of the text, if any.
fn untrusted_expression(text: &str) -> Option<&'static str> {
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after.find("}}").unwrap_or(after.len());
        let expr = after[..end].replace(' ', "");
        if let Some(u) = UNTRUSTED.iter().find(|u| expr.contains(*u)) {
            return Some(u);
        }
        rest = &after[end..];
    }
    None
}

fn injection(jobs: &Node, sink: &mut Sink<'_>) {
    for (key, job) in jobs.entries() {
        for step in steps(job) {
            let Some(run) = step.get("run") else { continue };
            let Some(field) = run.as_str().and_then(untrusted_expression) else {
                continue;
            };
            sink.push(
                Rule::ScriptInjection,
                Severity::Error,
                run.pos,
                format!(
                    "job `{}` splices `{field}` into a shell script; anyone who can set it can run commands with the job's token: pass it through `env:` and quote the variable",
                    key.as_str().unwrap_or("")
                ),
            );
        }
    }
}
