//! Rules for GitLab CI pipelines.

use bearing_intent::Service;

use super::{
    LintOptions, RepoContext, Rule, Severity, Sink, detect, required_strategy, service_of,
};
use crate::spec::{Approval, approval};
use crate::yaml::Node;

/// Top-level keys that are not jobs.
const RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
    "types",
];

fn text_of(node: &Node) -> String {
    node.scalars()
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A job's text including the templates it `extends` (same file, a few levels).
fn job_text(root: &Node, job: &Node) -> String {
    let mut text = text_of(job);
    let mut queue: Vec<String> = extends(job);
    let mut seen = Vec::new();
    while let Some(name) = queue.pop() {
        if seen.contains(&name) || seen.len() > 16 {
            continue;
        }
        if let Some(t) = root.get(&name) {
            text.push('\n');
            text.push_str(&text_of(t));
            queue.extend(extends(t));
        }
        seen.push(name);
    }
    text
}

fn extends(job: &Node) -> Vec<String> {
    match job.get("extends") {
        Some(e) => match e.as_seq() {
            Some(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            None => e.as_str().map(str::to_string).into_iter().collect(),
        },
        None => Vec::new(),
    }
}

fn deploy_reason(root: &Node, id: &str, job: &Node) -> Option<String> {
    if let Some(env) = job.get("environment") {
        let action = env.get("action").and_then(Node::as_str).unwrap_or("start");
        if matches!(action, "start" | "") {
            let name = env
                .as_str()
                .or_else(|| env.get("name").and_then(Node::as_str))
                .unwrap_or("?");
            return Some(format!("targets environment `{name}`"));
        }
    }
    let mut script_text = String::new();
    for key in ["script", "before_script", "after_script"] {
        if let Some(s) = job.get(key) {
            script_text.push_str(&text_of(s));
            script_text.push('\n');
        }
    }
    for t in extends(job) {
        if let Some(tpl) = root.get(&t)
            && let Some(s) = tpl.get("script")
        {
            script_text.push_str(&text_of(s));
        }
    }
    if detect::test_job(id, &script_text) {
        return None;
    }
    if let Some(cmd) = detect::deploy_command(&script_text) {
        return Some(format!("runs `{cmd}`"));
    }
    if detect::deploy_name(id) {
        return Some(format!("is named `{id}`"));
    }
    None
}

pub(super) fn lint(root: &Node, opts: &LintOptions<'_>, ctx: &RepoContext, sink: &mut Sink<'_>) {
    let whole = text_of(root);
    let has_gate = detect::gate(&whole);
    let reports = detect::reports_events(&whole);
    let service: Option<&Service> = opts.intent.and_then(|i| service_of(i, sink.file, root));
    let fast_service = opts.intent.and_then(|intent| match service {
        Some(s) => matches!(approval(intent, s), Approval::None { .. }).then_some(s),
        None => intent
            .services
            .iter()
            .find(|s| matches!(approval(intent, s), Approval::None { .. })),
    });

    for (key, job) in root.entries() {
        let Some(id) = key.as_str() else { continue };
        if id.starts_with('.') || RESERVED.contains(&id) || !job.is_map() {
            continue;
        }
        let Some(reason) = deploy_reason(root, id, job) else {
            continue;
        };
        if !has_gate {
            sink.push(
                Rule::NoGate,
                Severity::Error,
                key.pos,
                format!("job `{id}` deploys ({reason}) but the pipeline never runs the guardrail gate (`bearing check`)"),
            );
        }
        if !ctx.scans {
            sink.push(
                Rule::NoScan,
                Severity::Warning,
                key.pos,
                format!("job `{id}` deploys ({reason}) but no pipeline in the repository scans for vulnerabilities (Trivy, Grype, GitLab security templates, …)"),
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
        if let Some(service) = service {
            let required = required_strategy(opts, service);
            let shown = detect::strategy(&job_text(root, job));
            let env = job
                .get("environment")
                .and_then(|e| e.as_str().or_else(|| e.get("name").and_then(Node::as_str)));
            if shown < required && !super::pre_production(service, env) {
                sink.push(
                    Rule::WeakStrategy,
                    Severity::Error,
                    key.pos,
                    format!(
                        "job `{id}` deploys `{}` with {} but its delivery plan asks for {}",
                        service.id,
                        shown.name(),
                        required.name()
                    ),
                );
            }
        }
        if let (Some(intent), Some(fast)) = (opts.intent, fast_service) {
            let Approval::None { reason: why } = approval(intent, fast) else {
                continue;
            };
            let mut manual: Vec<&Node> = job
                .get("when")
                .filter(|w| w.as_str() == Some("manual"))
                .into_iter()
                .collect();
            if let Some(rules) = job.get("rules").and_then(Node::as_seq) {
                manual.extend(
                    rules
                        .iter()
                        .filter_map(|r| r.get("when"))
                        .filter(|w| w.as_str() == Some("manual")),
                );
            }
            for w in manual {
                sink.push(
                    Rule::ManualApproval,
                    Severity::Warning,
                    w.pos,
                    format!("job `{id}` deploys ({reason}) only when started by hand (`when: manual`), but {why}"),
                );
            }
        }
    }
}
