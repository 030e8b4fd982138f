//! `bearing workflow lint`: where existing pipelines diverge from the intent.
//!
//! Reads GitHub workflows (`.github/workflows/*.yml`) and GitLab pipelines
//! (`.gitlab-ci.yml`), builds a positioned tree ([`crate::yaml`]) and runs
//! the rules in [`Rule`]. Every finding carries file, line and column. Rules
//! about the intent (manual approval where the objective is speed, a deploy
//! strategy weaker than the delivery plan) run only when an intent is given;
//! the others need nothing but the pipeline.

mod detect;
mod github;
mod gitlab;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bearing_events::DeliveryPlan;
use bearing_intent::{Intent, Strategy};
use serde::Serialize;

pub use report::{render_json, render_sarif, render_text};

use crate::Error;
use crate::yaml::{self, Node, Pos};

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The file is not valid YAML.
    Syntax,
    /// A pipeline deploys without the guardrail gate.
    NoGate,
    /// A pipeline deploys and nothing in the repository scans for vulnerabilities.
    NoScan,
    /// A deploy that reports no event to Bearing.
    DeployWithoutEvents,
    /// A manual approval where the objective is speed.
    ManualApproval,
    /// A deploy strategy weaker than the delivery plan.
    WeakStrategy,
    /// A third-party action not pinned to a full commit SHA.
    UnpinnedAction,
    /// `pull_request_target` checking out the pull request's code.
    PrTargetCheckout,
    /// No `permissions:` so the token gets the repository default (often write-all).
    MissingPermissions,
    /// Attacker-controlled event text spliced into a `run:` script.
    ScriptInjection,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::Syntax,
        Rule::NoGate,
        Rule::NoScan,
        Rule::DeployWithoutEvents,
        Rule::ManualApproval,
        Rule::WeakStrategy,
        Rule::UnpinnedAction,
        Rule::PrTargetCheckout,
        Rule::MissingPermissions,
        Rule::ScriptInjection,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::NoGate => "no-gate",
            Rule::NoScan => "no-scan",
            Rule::DeployWithoutEvents => "deploy-without-events",
            Rule::ManualApproval => "manual-approval",
            Rule::WeakStrategy => "weak-strategy",
            Rule::UnpinnedAction => "unpinned-action",
            Rule::PrTargetCheckout => "pr-target-checkout",
            Rule::MissingPermissions => "missing-permissions",
            Rule::ScriptInjection => "script-injection",
        }
    }

    /// One sentence for SARIF rule metadata and docs.
    pub fn description(self) -> &'static str {
        match self {
            Rule::Syntax => "The pipeline file is not valid YAML.",
            Rule::NoGate => {
                "A pipeline that deploys must run the guardrail gate (`bearing check`) before it ships."
            }
            Rule::NoScan => {
                "A pipeline that deploys must have a vulnerability scan somewhere in the repository's pipelines."
            }
            Rule::DeployWithoutEvents => {
                "A deploy must report what it did to Bearing (CDEvents), or delivery metrics go blind."
            }
            Rule::ManualApproval => {
                "No manual approval step where the objective is speed and guardrails cover the risk."
            }
            Rule::WeakStrategy => {
                "The deploy strategy must be at least as strong as the service's delivery plan."
            }
            Rule::UnpinnedAction => {
                "Third-party actions must be pinned to a full 40-character commit SHA."
            }
            Rule::PrTargetCheckout => {
                "`pull_request_target` runs with secrets; checking out the pull request's head runs untrusted code with them."
            }
            Rule::MissingPermissions => {
                "Without `permissions:` the job token gets the repository default, often read-write on everything."
            }
            Rule::ScriptInjection => {
                "Text an outsider controls (titles, bodies, branch names, commit messages) must reach a script through `env:`, never `${{ }}` inside `run:`."
            }
        }
    }
}

/// How serious a finding is. Errors and warnings fail `bearing workflow lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One located divergence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// What the linter compares pipelines against.
#[derive(Debug, Clone, Default)]
pub struct LintOptions<'a> {
    pub intent: Option<&'a Intent>,
    pub plans: Option<&'a BTreeMap<String, DeliveryPlan>>,
}

/// Which platform a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Github,
    Gitlab,
}

/// Facts about the whole repository that single-file rules need.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepoContext {
    /// Some pipeline in the repository scans for vulnerabilities.
    pub scans: bool,
}

/// Findings collected for one file.
pub(crate) struct Sink<'a> {
    pub file: &'a Path,
    pub findings: Vec<Finding>,
}

impl Sink<'_> {
    pub fn push(&mut self, rule: Rule, severity: Severity, pos: Pos, message: String) {
        self.findings.push(Finding {
            rule,
            severity,
            file: self.file.to_path_buf(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            message,
        });
    }
}

/// The platform of a file, from its name or, failing that, its content.
pub fn detect_platform(file: &Path, root: &Node) -> Option<Platform> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_workflows = file
        .parent()
        .is_some_and(|p| p.ends_with(".github/workflows"));
    if in_workflows {
        return Some(Platform::Github);
    }
    if name == ".gitlab-ci.yml" || name.ends_with("gitlab-ci.yml") {
        return Some(Platform::Gitlab);
    }
    if root.get("jobs").is_some_and(Node::is_map)
        && (root.get("on").is_some() || root.get("true").is_some())
    {
        return Some(Platform::Github);
    }
    if root.get("stages").is_some()
        || root
            .entries()
            .iter()
            .any(|(_, v)| v.get("script").is_some())
    {
        return Some(Platform::Gitlab);
    }
    None
}

/// The service a pipeline belongs to: named by `bearing check --service`,
/// `BEARING_SERVICE`, or the file name; or the intent's only service.
pub(crate) fn service_of<'i>(
    intent: &'i Intent,
    file: &Path,
    root: &Node,
) -> Option<&'i bearing_intent::Service> {
    for n in root.scalars() {
        let t = n.as_str().unwrap_or("");
        if let Some(rest) = t.split("--service").nth(1) {
            let id = rest
                .trim_start_matches(['=', ' '])
                .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .next()
                .unwrap_or("");
            if let Some(s) = intent.service(id) {
                return Some(s);
            }
        }
    }
    if let Some(v) = find_key(root, "BEARING_SERVICE")
        && let Some(s) = v.as_str().and_then(|id| intent.service(id))
    {
        return Some(s);
    }
    let stem = file.file_stem().and_then(|n| n.to_str()).unwrap_or("");
    let stem = stem.strip_prefix("bearing-").unwrap_or(stem);
    if let Some(s) = intent.service(stem) {
        return Some(s);
    }
    if intent.services.len() == 1 {
        return intent.services.first();
    }
    None
}

fn find_key<'a>(root: &'a Node, key: &str) -> Option<&'a Node> {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match &n.value {
            yaml::Value::Map(pairs) => {
                for (k, v) in pairs {
                    if k.as_str() == Some(key) {
                        return Some(v);
                    }
                    stack.push(v);
                }
            }
            yaml::Value::Seq(items) => stack.extend(items.iter()),
            yaml::Value::Scalar { .. } => {}
        }
    }
    None
}

/// True when `env` is one of the service's environments before production:
/// the delivery strategy applies to production only.
pub(crate) fn pre_production(service: &bearing_intent::Service, env: Option<&str>) -> bool {
    env.is_some_and(|e| {
        e != service.production_env() && service.environments.iter().any(|s| s == e)
    })
}

/// The strategy a service must deploy with: the delivery plan's, else the intent's.
pub(crate) fn required_strategy(
    opts: &LintOptions<'_>,
    service: &bearing_intent::Service,
) -> Strategy {
    if let Some(plan) = opts.plans.and_then(|p| p.get(&service.id))
        && let Some(s) = crate::spec::parse_strategy(&plan.strategy)
    {
        return s;
    }
    service
        .delivery
        .as_ref()
        .map(|d| d.strategy)
        .unwrap_or_default()
}

/// Lints one file's text. `ctx` says what the rest of the repository has.
fn lint_text(file: &Path, text: &str, opts: &LintOptions<'_>, ctx: &RepoContext) -> Vec<Finding> {
    let mut sink = Sink {
        file,
        findings: Vec::new(),
    };
    let docs = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            sink.push(
                Rule::Syntax,
                Severity::Error,
                e.pos,
                format!("not valid YAML: {}", e.message),
            );
            return sink.findings;
        }
    };
    for root in docs.iter().filter(|d| d.is_map()) {
        match detect_platform(file, root) {
            Some(Platform::Github) => github::lint(root, opts, ctx, &mut sink),
            Some(Platform::Gitlab) => gitlab::lint(root, opts, ctx, &mut sink),
            None => {}
        }
    }
    sink.findings.sort_by_key(|f| (f.line, f.column, f.rule));
    sink.findings.dedup();
    sink.findings
}

/// Lints one file's text on its own (no other files for repository context).
pub fn lint_str(file: &Path, text: &str, opts: &LintOptions<'_>) -> Vec<Finding> {
    let ctx = RepoContext {
        scans: yaml::parse(text).is_ok_and(|docs| docs.iter().any(detect::scans)),
    };
    lint_text(file, text, opts, &ctx)
}

/// The pipeline files under `path`: the file itself, or a repository's
/// `.github/workflows/*.{yml,yaml}` and `.gitlab-ci.yml`, or a folder of them.
pub fn pipeline_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let gl = path.join(".gitlab-ci.yml");
    if gl.is_file() {
        let includes = local_includes(&gl);
        files.push(gl);
        for inc in includes {
            let p = path.join(inc.trim_start_matches('/'));
            if p.is_file() && !files.contains(&p) {
                files.push(p);
            }
        }
    }
    let gh = path.join(".github").join("workflows");
    let dir = if gh.is_dir() { gh } else { path.to_path_buf() };
    let read = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let mut found: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yml" || e == "yaml")
        })
        .collect();
    found.sort();
    for f in found {
        if !files.contains(&f) {
            files.push(f);
        }
    }
    if files.is_empty() {
        return Err(Error::NothingToLint {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// The `include: local:` files of a GitLab pipeline (plain paths, no globs).
fn local_includes(file: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(docs) = yaml::parse(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doc in &docs {
        let Some(inc) = doc.get("include") else {
            continue;
        };
        let items: Vec<&Node> = match inc.as_seq() {
            Some(items) => items.iter().collect(),
            None => vec![inc],
        };
        for item in items {
            let local = match item.as_str() {
                Some(s) if !s.contains("://") => Some(s),
                Some(_) => None,
                None => item.get("local").and_then(Node::as_str),
            };
            if let Some(l) = local.filter(|l| !l.contains('*')) {
                out.push(l.to_string());
            }
        }
    }
    out
}

/// Lints a file or folder; files are read once, repository facts (a scan
/// anywhere) are shared between them.
pub fn lint_path(path: &Path, opts: &LintOptions<'_>) -> Result<Vec<Finding>, Error> {
    let files = pipeline_files(path)?;
    let mut texts = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|source| Error::Io {
            path: f.clone(),
            source,
        })?;
        texts.push((f, String::from_utf8_lossy(&bytes).into_owned()));
    }
    let ctx = RepoContext {
        scans: texts
            .iter()
            .any(|(_, t)| yaml::parse(t).is_ok_and(|docs| docs.iter().any(detect::scans))),
    };
    let mut out = Vec::new();
    for (f, t) in &texts {
        out.extend(lint_text(f, t, opts, &ctx));
    }
    Ok(out)
}

/// True when any finding should fail the command (errors and warnings).
pub fn fails(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity != Severity::Note)
}
