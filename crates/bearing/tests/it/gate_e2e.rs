//! The generated gate, run as the platforms run it (issue 16, item 4).
//!
//! For the starter intent (`bearing init`) and the demo intent (`bearing
//! demo`), `bearing workflow generate` writes the GitHub Actions and GitLab CI
//! pipelines; this test reads each service's gate job from them, substitutes
//! what the platform would (`${{ vars.X }}`, `${{ secrets.X }}`,
//! `${{ github.sha }}`, `${{ matrix.X }}` and the `&&`/`||` expressions;
//! GitLab's `variables:` with `$CI_*` and the project's CI/CD variables),
//! and runs every `run:`/`script:` step with `bash -eo pipefail` in a
//! checkout-like directory, the built `bearing` first on `PATH`. Steps that
//! are actions are stubbed: `actions/checkout` by the directory itself,
//! `actions/download-artifact` by putting the change's attachments where the
//! step's `path` says. The "Install Bearing" step runs as written: it finds
//! `bearing` on `PATH` and only prints its version; its download branch is
//! run by `the_install_step_downloads_and_checks_the_release_binary` below.
//!
//! Three ways to run the gate, with the same store behind them: (a) online,
//! against a `bearing serve` this test starts, with a token from `bearing
//! token create --scope decide`; (b) offline (no `BEARING_SERVER`) with an
//! outcomes file from `bearing outcomes export` in the checkout; (c) offline
//! with `BEARING_OUTCOMES` naming the server's `GET /v1/outcomes` and a
//! `read` token. The freeze comes from the real loop: for the starter, metric
//! points that spend ledger's error budget are ingested (`bearing ingest`)
//! and `bearing reconcile` stores the frozen plan; for the demo, `bearing
//! demo --no-serve` loads its history and reconciles (search is frozen).
//! An allowed change passes every environment of the
//! matrix; a change of the frozen service and a Terraform plan granting
//! `iam:*` are denied in production; the deny reasons are the same all
//! three ways.
//!
//! Neither intent has a service with Terraform, and without `build.terraform`
//! the generated gate passes no plan; the test adds `terraform: infra` to one
//! service's `build` (the line a team with Terraform writes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SHA: &str = "5d41402abc4b2a76b9719d911017c592ae4f0ba1";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bearing"))
}

/// `bearing --database DB --intent INTENT ARGS`, isolated from the caller's environment.
fn bearing(db: &Path, intent: &Path, args: &[&str], cwd: &Path) -> Output {
    let o = Command::new(bin())
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .arg("--intent")
        .arg(intent)
        .args(args)
        .current_dir(cwd)
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_SERVER")
        .env_remove("BEARING_TOKEN")
        .env_remove("BEARING_OUTCOMES")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "bearing {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

// ---------------------------------------------------------------- the server

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &Path, intent: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin())
            .arg("--database")
            .arg(format!("sqlite://{}", db.display()))
            .arg("--intent")
            .arg(intent)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--refresh", "1s", "--reconcile-every", "0s"])
            .env_remove("BEARING_DATABASE")
            .env_remove("BEARING_INTENT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { child, port };
        let start = Instant::now();
        while !(TcpStream::connect(("127.0.0.1", port)).is_ok()
            && server.get("/readyz", "").0 == 200)
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "bearing serve did not get ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET path` with a bearer token: status and body.
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------- what CI is given

/// What the repository's settings hold: variables and secrets, unset when `None`.
#[derive(Clone, Default)]
struct Settings {
    server: Option<String>,
    token: Option<String>,
    outcomes: Option<String>,
}

impl Settings {
    /// GitLab's CI/CD variables (only the set ones exist).
    fn project_variables(&self) -> Vec<(String, String)> {
        [
            ("BEARING_SERVER", &self.server),
            ("BEARING_TOKEN", &self.token),
            ("BEARING_OUTCOMES", &self.outcomes),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect()
    }
}

/// The change's attachments, as the earlier jobs leave them for the gate.
struct Change {
    service: String,
    plan: &'static str,
}

const SARIF: &str = r#"{"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [{"tool": {"driver": {"name": "Trivy", "rules": []}}, "results": []}]}"#;
const INFRACOST: &str = r#"{"version": "0.2", "currency": "USD", "projects": [], "totalMonthlyCost": "120", "pastTotalMonthlyCost": "120", "diffTotalMonthlyCost": "0"}"#;
const PLAN_CLEAN: &str = r#"{"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": [
  {"address": "aws_iam_policy.ci", "mode": "managed", "type": "aws_iam_policy", "name": "ci",
   "change": {"actions": ["create"], "after": {"name": "ci", "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":\"arn:aws:s3:::acme-assets/*\"}]}"}, "after_unknown": {"arn": true}}}
]}"#;
const PLAN_IAM_STAR: &str = r#"{"format_version": "1.2", "terraform_version": "1.9.5", "resource_changes": [
  {"address": "aws_iam_policy.ci", "mode": "managed", "type": "aws_iam_policy", "name": "ci",
   "change": {"actions": ["create"], "after": {"name": "ci", "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}]}"}, "after_unknown": {"arn": true}}}
]}"#;

/// Files an artifact of the generated pipelines holds.
fn artifact_files(name: &str, change: &Change) -> Vec<(&'static str, &'static str)> {
    match name {
        "bearing-scan" => vec![("trivy-results.sarif", SARIF)],
        "bearing-cost" => vec![("tfplan.json", change.plan), ("infracost.json", INFRACOST)],
        other => panic!("the gate downloads an artifact this test does not know: {other}"),
    }
}

// ------------------------------------------------- GitHub Actions expressions

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Bool(bool),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Bool(b) => *b,
        }
    }
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Bool(b) => b.to_string(),
        }
    }
}

/// A GitHub Actions expression over string contexts: literals, context
/// paths, `==`, `!=`, `!`, `&&`, `||` and parentheses (what the generated
/// gate uses). Anything else panics, so a new construct fails the test.
struct Expr<'a> {
    tokens: Vec<String>,
    pos: usize,
    ctx: &'a dyn Fn(&str) -> String,
}

impl Expr<'_> {
    fn eval(src: &str, ctx: &dyn Fn(&str) -> String) -> Val {
        let mut tokens = Vec::new();
        let chars: Vec<char> = src.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c == '\'' {
                let end = (i + 1..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .unwrap_or_else(|| panic!("unterminated string in `{src}`"));
                tokens.push(chars[i..=end].iter().collect());
                i = end + 1;
            } else if c.is_alphanumeric() || c == '_' {
                let end = (i..chars.len())
                    .find(|&j| !(chars[j].is_alphanumeric() || "_.-".contains(chars[j])))
                    .unwrap_or(chars.len());
                tokens.push(chars[i..end].iter().collect());
                i = end;
            } else {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                if ["==", "!=", "&&", "||"].contains(&two.as_str()) {
                    tokens.push(two);
                    i += 2;
                } else if "!()".contains(c) {
                    tokens.push(c.to_string());
                    i += 1;
                } else {
                    panic!("unsupported expression `{src}`");
                }
            }
        }
        let mut e = Expr {
            tokens,
            pos: 0,
            ctx,
        };
        let v = e.or();
        assert_eq!(e.pos, e.tokens.len(), "unsupported expression `{src}`");
        v
    }
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }
    fn or(&mut self) -> Val {
        let mut v = self.and();
        while self.peek() == Some("||") {
            self.pos += 1;
            let r = self.and();
            v = if v.truthy() { v } else { r };
        }
        v
    }
    fn and(&mut self) -> Val {
        let mut v = self.cmp();
        while self.peek() == Some("&&") {
            self.pos += 1;
            let r = self.cmp();
            v = if v.truthy() { r } else { v };
        }
        v
    }
    fn cmp(&mut self) -> Val {
        let l = self.unary();
        match self.peek() {
            Some(op @ ("==" | "!=")) => {
                let eq = op == "==";
                self.pos += 1;
                let r = self.unary();
                Val::Bool(l.text().eq_ignore_ascii_case(&r.text()) == eq)
            }
            _ => l,
        }
    }
    fn unary(&mut self) -> Val {
        let t = self
            .peek()
            .unwrap_or_else(|| panic!("expression ends early"))
            .to_string();
        self.pos += 1;
        match t.as_str() {
            "!" => Val::Bool(!self.unary().truthy()),
            "(" => {
                let v = self.or();
                assert_eq!(self.peek(), Some(")"));
                self.pos += 1;
                v
            }
            "true" | "false" => Val::Bool(t == "true"),
            s if s.starts_with('\'') => Val::Str(s[1..s.len() - 1].to_string()),
            path => Val::Str((self.ctx)(path)),
        }
    }
}

/// Replaces every `${{ … }}` in `text`.
fn substitute(text: &str, ctx: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("unterminated ${{") + i;
        out.push_str(&Expr::eval(&rest[i + 3..end], ctx).text());
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------- the jobs

/// One step of a job as the runner executes it.
enum Step {
    Run {
        name: String,
        script: String,
        env: Vec<(String, String)>,
    },
    /// `actions/download-artifact`: artifact name and where it goes.
    Download { name: String, path: String },
    /// `actions/checkout`: the directory already is the checkout.
    Checkout,
}

/// One instance of a gate job (one matrix entry).
struct Job {
    label: String,
    env: Vec<(String, String)>,
    steps: Vec<Step>,
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn string_map(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The gate job of a generated GitHub workflow, one [`Job`] per matrix entry.
fn github_gate(path: &Path, settings: &Settings) -> Vec<Job> {
    let wf = yaml(path);
    let gate = &wf["jobs"]["gate"];
    assert!(gate.is_object(), "{}: no `gate` job", path.display());
    assert!(gate.get("if").is_none(), "the gate job is conditional");
    let axes = gate["strategy"]["matrix"].as_object().expect("a matrix");
    assert_eq!(axes.len(), 1, "one matrix axis (environment)");
    let (axis, values) = axes.iter().next().unwrap();
    let mut jobs = Vec::new();
    for value in values.as_array().unwrap() {
        let value = value.as_str().unwrap().to_string();
        let s = settings.clone();
        let (axis, v) = (axis.clone(), value.clone());
        let ctx = move |path: &str| -> String {
            let unset = String::new;
            match path.split_once('.') {
                Some(("vars", "BEARING_SERVER")) => s.server.clone().unwrap_or_else(unset),
                Some(("vars", "BEARING_OUTCOMES")) => s.outcomes.clone().unwrap_or_else(unset),
                Some(("vars", _)) => unset(),
                Some(("secrets", "BEARING_TOKEN")) => s.token.clone().unwrap_or_else(unset),
                Some(("secrets", _)) => unset(),
                Some(("github", "sha")) => SHA.into(),
                Some(("github", "ref")) => "refs/pull/7/merge".into(),
                Some(("github", "event_name")) => "pull_request".into(),
                Some(("matrix", a)) if a == axis => v.clone(),
                _ => panic!("the gate uses a context this test does not provide: {path}"),
            }
        };
        let mut env = Vec::new();
        for (k, v) in string_map(&wf["env"])
            .into_iter()
            .chain(string_map(&gate["env"]))
        {
            env.push((k, substitute(&v, &ctx)));
        }
        let mut steps = Vec::new();
        for step in gate["steps"].as_array().unwrap() {
            let name = step["name"].as_str().unwrap_or("").to_string();
            assert!(step.get("if").is_none(), "step `{name}` is conditional");
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("actions/checkout@") {
                    steps.push(Step::Checkout);
                } else if uses.starts_with("actions/download-artifact@") {
                    steps.push(Step::Download {
                        name: step["with"]["name"].as_str().unwrap().into(),
                        path: step["with"]["path"].as_str().unwrap_or(".").into(),
                    });
                } else {
                    panic!("the gate uses an action this test cannot stand in for: {uses}");
                }
                continue;
            }
            let script = substitute(step["run"].as_str().expect("run or uses"), &ctx);
            let env = string_map(&step["env"])
                .into_iter()
                .map(|(k, v)| (k, substitute(&v, &ctx)))
                .collect();
            steps.push(Step::Run { name, script, env });
        }
        jobs.push(Job {
            label: format!("github {} ({value})", path.display()),
            env,
            steps,
        });
    }
    jobs
}

/// `$NAME` and `${NAME}` in a GitLab variable's value, from `vars`.
fn gitlab_expand(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            assert_eq!(chars.next(), Some('}'), "bad variable in `{value}`");
        }
        out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
    }
    out
}

/// The `S:gate` job of a generated GitLab pipeline, one [`Job`] per `parallel:matrix` entry.
fn gitlab_gate(root: &Path, service: &str, settings: &Settings) -> Vec<Job> {
    let top = yaml(&root.join(".gitlab-ci.yml"));
    let file = root.join(format!("ci/bearing-{service}.yml"));
    assert!(
        top["include"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["local"] == format!("ci/bearing-{service}.yml")),
        ".gitlab-ci.yml does not include {}",
        file.display()
    );
    let ci = yaml(&file);
    let gate = &ci[format!("{service}:gate")];
    assert!(
        gate.is_object(),
        "{}: no `{service}:gate` job",
        file.display()
    );
    assert!(
        gate.get("extends").is_none() && gate.get("rules").is_none(),
        "extends/rules are not followed by this test"
    );
    let predefined: BTreeMap<String, String> = [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", SHA),
        ("CI_COMMIT_REF_NAME", "feature"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PIPELINE_ID", "1001"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_PROJECT_URL", "https://gitlab.example/acme/app"),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example/acme/app/-/pipelines/1001",
        ),
        ("CI_JOB_ID", "5001"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let entries: Vec<Vec<(String, String)>> = match gate["parallel"]["matrix"].as_array() {
        Some(list) => list.iter().map(string_map).collect(),
        None => vec![Vec::new()],
    };
    let mut jobs = Vec::new();
    for entry in entries {
        // Precedence, lowest first: predefined, global `variables`, job
        // `variables` and its matrix entry, then the project's CI/CD variables.
        let mut vars = predefined.clone();
        for (k, v) in string_map(&top["variables"])
            .into_iter()
            .chain(string_map(&ci["variables"]))
            .chain(string_map(&gate["variables"]))
            .chain(entry.clone())
        {
            let v = gitlab_expand(&v, &vars);
            vars.insert(k, v);
        }
        vars.extend(settings.project_variables());
        let lines = |key: &str| -> Vec<String> {
            gate[key]
                .as_array()
                .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let mut script = lines("before_script");
        script.extend(lines("script"));
        assert!(!script.is_empty(), "{service}:gate has no script");
        // The artifacts of the jobs it `needs` are restored into the checkout.
        let mut steps = vec![Step::Checkout];
        for need in gate["needs"].as_array().into_iter().flatten() {
            let need = need
                .as_str()
                .unwrap_or_else(|| need["job"].as_str().unwrap());
            let name = match need.rsplit(':').next().unwrap() {
                "scan" => "bearing-scan",
                "cost" => "bearing-cost",
                other => panic!("the gate needs a job this test does not know: {other}"),
            };
            steps.push(Step::Download {
                name: name.into(),
                path: ".".into(),
            });
        }
        steps.push(Step::Run {
            name: format!("{service}:gate script"),
            script: script.join("\n"),
            env: Vec::new(),
        });
        let label = entry
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        jobs.push(Job {
            label: format!("gitlab {} ({label})", file.display()),
            env: vars.into_iter().collect(),
            steps,
        });
    }
    jobs
}

/// How a job ended: the exit code of its failing step (0 when all passed)
/// and everything its steps printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The deny reasons the gate printed (text and GitHub annotations).
    fn reasons(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("DENY ") || l.starts_with("::error "))
            .map(str::to_string)
            .collect()
    }
}

/// What a gate job decided: its matrix entry, exit code and deny reasons.
type Outcome = (String, i32, Vec<String>);

/// Runs a job in a fresh checkout of `repo` with the change's attachments.
fn run_job(job: &Job, repo: &Path, change: &Change, outcomes: Option<&Path>) -> Run {
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("checkout");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    copy_dir(repo, &checkout);
    if let Some(o) = outcomes {
        std::fs::copy(o, checkout.join("outcomes.json")).unwrap();
    }
    let github_path = work.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let mut path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        bin().parent().unwrap().display()
    );
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for step in &job.steps {
        match step {
            Step::Checkout => {}
            Step::Download { name, path: dest } => {
                let dir = checkout.join(dest);
                std::fs::create_dir_all(&dir).unwrap();
                for (file, text) in artifact_files(name, change) {
                    std::fs::write(dir.join(file), text).unwrap();
                }
            }
            Step::Run { name, script, env } => {
                let file = work.path().join("step.sh");
                std::fs::write(&file, script).unwrap();
                let o = Command::new("bash")
                    .args(["--noprofile", "--norc", "-eo", "pipefail"])
                    .arg(&file)
                    .current_dir(&checkout)
                    .env_clear()
                    .env("HOME", &home)
                    .env("GITHUB_PATH", &github_path)
                    .env("GITHUB_RUN_ID", "4242")
                    .env("GITHUB_RUN_ATTEMPT", "1")
                    .env("GITHUB_SERVER_URL", "https://github.com")
                    .env("GITHUB_REPOSITORY", "acme/app")
                    .env("GITHUB_SHA", SHA)
                    .envs(job.env.iter().map(|(k, v)| (k, v)))
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .env("PATH", &path)
                    .output()
                    .unwrap();
                stdout.push_str(&String::from_utf8_lossy(&o.stdout));
                stderr.push_str(&format!("[{name}] {}", String::from_utf8_lossy(&o.stderr)));
                let code = o.status.code().expect("a step was killed");
                if code != 0 {
                    return Run {
                        code,
                        stdout,
                        stderr,
                    };
                }
                // `echo DIR >> $GITHUB_PATH` puts DIR first on later steps' PATH.
                for dir in std::fs::read_to_string(&github_path).unwrap().lines() {
                    if !path.split(':').any(|p| p == dir) {
                        path = format!("{dir}:{path}");
                    }
                }
            }
        }
    }
    Run {
        code: 0,
        stdout,
        stderr,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ------------------------------------------------------------- the test

/// Adds `terraform: infra` to `service`'s `build` in the intent's YAML.
fn with_terraform(intent: &str, service: &str) -> String {
    let mut doc: Value = yaml_serde::from_str(intent).unwrap();
    let svc = doc["services"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == service)
        .unwrap_or_else(|| panic!("no service {service}"));
    let build = svc
        .as_object_mut()
        .unwrap()
        .entry("build")
        .or_insert_with(|| serde_json::json!({}));
    build["terraform"] = "infra".into();
    yaml_serde::to_string(&doc).unwrap()
}

/// Metric points that spend `service`'s error budget (10% errors against a
/// 99.9% or stricter SLO), an hour ago.
fn burn(good: &str, total: &str, service: &str) -> String {
    let at = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    [(total, 1000), (good, 900)]
        .iter()
        .map(|(name, value)| {
            serde_json::json!({
                "id": format!("e2e-{name}"), "source": "e2e", "time": at,
                "service": service, "environment": "production", "kind": "metric_point",
                "data": {"name": name, "value": value}
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// One intent through the whole path: generate, the loop's freeze (by
/// `prepare`, given the store and the intent), serve, export, and the gate
/// jobs of both platforms run three ways.
fn gate_end_to_end(intent: &str, frozen: &str, tf: &str, prepare: impl FnOnce(&Path, &Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let intent_path = repo.join("bearing.yaml");
    std::fs::write(&intent_path, with_terraform(intent, tf)).unwrap();
    let db = tmp.path().join("bearing.db");

    // The pipelines, as a new user generates them in the repository.
    for target in ["github-actions", "gitlab-ci"] {
        let o = Command::new(bin())
            .args(["workflow", "generate", "--target", target])
            .current_dir(&repo)
            .env_remove("BEARING_INTENT")
            .env_remove("BEARING_DATABASE")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    prepare(&db, &intent_path);
    let token = |scope: &str| -> String {
        let o = bearing(
            &db,
            &intent_path,
            &[
                "token", "create", "--name", "ci", "--scope", scope, "--output", "json",
            ],
            tmp.path(),
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["secret"].as_str().unwrap().to_string()
    };
    let (decide_token, read_token) = (token("decide"), token("read"));

    let server = Server::start(&db, &intent_path);
    let outcomes = tmp.path().join("outcomes.json");
    bearing(
        &db,
        &intent_path,
        &["outcomes", "export", "--out", outcomes.to_str().unwrap()],
        tmp.path(),
    );
    // The server publishes the same snapshot (only the time it was computed differs).
    let (status, body) = server.get("/v1/outcomes", &read_token);
    assert_eq!(status, 200, "{body}");
    let published: Value = serde_json::from_str(&body).unwrap();
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&outcomes).unwrap()).unwrap();
    let without_time = |v: &Value| {
        let mut v = v.clone();
        assert!(v["generated_at"].is_string(), "{v}");
        v.as_object_mut().unwrap().remove("generated_at");
        v
    };
    assert_eq!(without_time(&published), without_time(&exported));
    assert_eq!(published["plans"][frozen]["freeze"], true);
    assert_eq!(server.get("/v1/outcomes", &decide_token).0, 403);

    let modes = [
        (
            "online",
            Settings {
                server: Some(server.url()),
                token: Some(decide_token.clone()),
                outcomes: None,
            },
            None,
        ),
        (
            "offline, outcomes file",
            Settings {
                outcomes: Some("outcomes.json".into()),
                ..Settings::default()
            },
            Some(outcomes.as_path()),
        ),
        (
            "offline, outcomes URL",
            Settings {
                token: Some(read_token.clone()),
                outcomes: Some(format!("{}/v1/outcomes", server.url())),
                ..Settings::default()
            },
            None,
        ),
    ];
    let changes = [
        (
            "allowed",
            Change {
                service: tf.into(),
                plan: PLAN_CLEAN,
            },
        ),
        (
            "frozen",
            Change {
                service: frozen.into(),
                plan: PLAN_CLEAN,
            },
        ),
        (
            "iam:*",
            Change {
                service: tf.into(),
                plan: PLAN_IAM_STAR,
            },
        ),
    ];
    for platform in ["github", "gitlab"] {
        for (case, change) in &changes {
            // (job label, exit code, reasons) of every matrix entry, per mode.
            let mut seen: Vec<(&str, Vec<Outcome>)> = Vec::new();
            for (mode, settings, file) in &modes {
                let jobs = match platform {
                    "github" => github_gate(
                        &repo.join(format!(".github/workflows/bearing-{}.yml", change.service)),
                        settings,
                    ),
                    _ => gitlab_gate(&repo, &change.service, settings),
                };
                assert!(jobs.len() >= 2, "a gate per environment");
                let mut results = Vec::new();
                for job in &jobs {
                    let run = run_job(job, &repo, change, *file);
                    let what = format!(
                        "{platform}, {case}, {mode}: {}\n--- stdout\n{}--- stderr\n{}",
                        job.label, run.stdout, run.stderr
                    );
                    assert!(
                        run.stdout
                            .contains(&format!("bearing {}", env!("CARGO_PKG_VERSION"))),
                        "the install step did not find the built bearing: {what}"
                    );
                    let production = job.label.contains("production)")
                        || job.label.contains("ENVIRONMENT=production");
                    match *case {
                        "allowed" => assert_eq!(run.code, 0, "{what}"),
                        "frozen" if production => {
                            assert_eq!(run.code, 1, "{what}");
                            assert!(
                                run.reasons().iter().any(|r| r.contains(&format!(
                                    "the delivery plan of {frozen} says freeze"
                                ))),
                                "{what}"
                            );
                        }
                        "iam:*" if production => {
                            assert_eq!(run.code, 1, "{what}");
                            assert!(
                                run.reasons().iter().any(|r| r.contains("allows `iam:*`")),
                                "{what}"
                            );
                        }
                        _ => assert!(matches!(run.code, 0 | 1), "{what}"),
                    }
                    let label = job.label.rsplit('(').next().unwrap().to_string();
                    results.push((label, run.code, run.reasons()));
                }
                seen.push((mode, results));
            }
            let (first_mode, first) = &seen[0];
            for (mode, results) in &seen[1..] {
                assert_eq!(
                    results, first,
                    "{platform}, {case}: `{mode}` decided otherwise than `{first_mode}`"
                );
            }
        }
    }
    drop(server);
}

#[test]
fn the_generated_gate_of_the_starter_intent_allows_and_denies_online_and_offline() {
    // Ledger's availability SLO (99.95%) spent by 10% failed writes; reconcile freezes it.
    gate_end_to_end(
        bearing_intent::STARTER,
        "ledger",
        "checkout",
        |db, intent| {
            let dir = db.parent().unwrap();
            let events = dir.join("burn.jsonl");
            std::fs::write(
                &events,
                burn("ledger_writes_ok", "ledger_writes_total", "ledger"),
            )
            .unwrap();
            bearing(db, intent, &["ingest", events.to_str().unwrap()], dir);
            let o = bearing(db, intent, &["reconcile", "--output", "json"], dir);
            let report: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert!(
                report["plans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["service"] == "ledger" && p["freeze"] == true),
                "reconcile did not freeze ledger: {report}"
            );
        },
    );
}

#[test]
fn the_generated_gate_of_the_demo_intent_allows_and_denies_online_and_offline() {
    // `bearing demo` loads its 90-day history and reconciles: `search` has
    // spent its error budget and is frozen.
    let intent = bearing_demo::generate(7, chrono::Utc::now()).intent_yaml;
    let frozen = bearing_demo::BURNING_SERVICE;
    gate_end_to_end(&intent, frozen, "checkout", |db, _| {
        let dir = db.parent().unwrap().join("demo");
        std::fs::create_dir_all(&dir).unwrap();
        let o = Command::new(bin())
            .arg("--database")
            .arg(format!("sqlite://{}", db.display()))
            .args(["demo", "--no-serve"])
            .current_dir(&dir)
            .env_remove("BEARING_INTENT")
            .env_remove("BEARING_DATABASE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains(&format!("{frozen}: frozen")), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("bearing-demo.yaml")).unwrap(),
            intent,
            "the demo's intent is bearing_demo's"
        );
        demo_threat_story(db);
    });
}

/// What the demo's threat feeds do to its logs: the older KEV catalog makes
/// `api-gateway`'s open CVE-2023-44487 known exploited (its production
/// change is denied by `known-exploited`), and the newer one adds
/// CVE-2025-48384, which `web-frontend` has open: its change, allowed
/// first, is denied when decided again, and each catalog logs a
/// `threat-feed` action for the service it touched.
fn demo_threat_story(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = bearing_store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let decided = |service: &str| {
            let store = store.clone();
            let service = service.to_string();
            async move {
                let mut d = store
                    .decisions(&bearing_store::DecisionQuery {
                        service: Some(service),
                        since: None,
                        limit: None,
                    })
                    .await
                    .unwrap();
                d.reverse(); // oldest first
                // (result, its violations as text)
                d.into_iter()
                    .map(|r| {
                        let v = serde_json::to_value(&r).unwrap();
                        (r.result, v["decision"]["violations"].to_string())
                    })
                    .collect::<Vec<_>>()
            }
        };
        let front = decided(bearing_demo::threat::LATE_KEV_SERVICE).await;
        let results: Vec<&str> = front.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(results, ["allow", "deny"], "{front:?}");
        assert_eq!(front[0].1, "[]");
        assert!(
            front[1].1.contains("CVE-2025-48384 in git")
                && front[1].1.contains("added to KEV on 2025-08-25"),
            "{}",
            front[1].1
        );
        let gateway = decided("api-gateway").await;
        assert_eq!(gateway.len(), 1, "{gateway:?}");
        assert_eq!(gateway[0].0, "deny");
        assert!(gateway[0].1.contains("CVE-2023-44487"), "{}", gateway[0].1);
        let threat_actions: Vec<(Option<String>, String)> = store
            .actions()
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.origin == "threat-feed")
            .map(|a| (a.service, a.id))
            .collect();
        assert_eq!(
            threat_actions.len(),
            2,
            "one action per catalog and service: {threat_actions:?}"
        );
        for (service, version) in [
            ("api-gateway", "2025.06.10"),
            ("web-frontend", "2025.08.25"),
        ] {
            assert!(
                threat_actions
                    .iter()
                    .any(|(s, id)| s.as_deref() == Some(service) && id.contains(version)),
                "{threat_actions:?}"
            );
        }
    });
}

/// The "Install Bearing" step's download branch, with a `curl` on `PATH`
/// that serves a local release directory instead of GitHub: it picks the
/// runner's target, checks the archive against its `.sha256`, unpacks
/// `bearing` into `~/.bearing/bin` and adds that to `$GITHUB_PATH`; a
/// checksum that does not match fails the step. (Building from source,
/// `cargo install bearing-cli`, is not run here: it needs crates.io.)
#[test]
fn the_install_step_downloads_and_checks_the_release_binary() {
    let target = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        other => {
            eprintln!("skipped: no release binary for {other:?}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let release = tmp.path().join("release");
    let tools = tmp.path().join("tools");
    let home = tmp.path().join("home");
    for d in [&release, &tools, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The archive holds a `bearing` that runs the built binary (84 MB in a
    // debug build is slow to pack for what this checks).
    let stage = tmp.path().join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(
        stage.join("bearing"),
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", bin().display()),
    )
    .unwrap();
    let archive = release.join(format!("bearing-{target}.tar.gz"));
    let ok = Command::new("sh")
        .arg("-c")
        .arg("chmod +x \"$1/bearing\" && tar -czf \"$2\" -C \"$1\" bearing")
        .arg("sh")
        .arg(&stage)
        .arg(&archive)
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // `curl -fsSL --retry 3 -o FILE URL`: copies the URL's file name from the release dir.
    std::fs::write(
        tools.join("curl"),
        format!(
            "#!/bin/sh\nwhile [ $# -gt 1 ]; do if [ \"$1\" = -o ]; then out=$2; fi; shift; done\necho \"$1\" >> {log}\ncp \"{release}/${{1##*/}}\" \"$out\"\n",
            log = tmp.path().join("curl.log").display(),
            release = release.display()
        ),
    )
    .unwrap();
    let chmod = Command::new("chmod")
        .arg("+x")
        .arg(tools.join("curl"))
        .status()
        .unwrap();
    assert!(chmod.success());
    let script = bearing_workflow::script::install_bearing();
    let run = |checksum: &str| -> (Output, String) {
        std::fs::write(
            release.join(format!("bearing-{target}.tar.gz.sha256")),
            format!("{checksum}  bearing-{target}.tar.gz\n"),
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(home.join(".bearing"));
        let github_path = tmp.path().join("github_path");
        std::fs::write(&github_path, "").unwrap();
        let o = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(tmp.path())
            .env_clear()
            .env("HOME", &home)
            .env("GITHUB_PATH", &github_path)
            .env("BEARING_VERSION", bearing_workflow::script::BEARING_VERSION)
            .env("PATH", format!("{}:/usr/bin:/bin", tools.display()))
            .output()
            .unwrap();
        (o, std::fs::read_to_string(&github_path).unwrap())
    };

    let (o, github_path) = run(&sum);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains(&format!("bearing {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let installed = home.join(".bearing/bin/bearing");
    assert!(
        installed.is_file(),
        "bearing not unpacked into ~/.bearing/bin"
    );
    assert_eq!(
        github_path.trim(),
        home.join(".bearing/bin").display().to_string()
    );
    let log = std::fs::read_to_string(tmp.path().join("curl.log")).unwrap();
    assert!(
        log.contains(&format!(
            "https://github.com/bearing-dev/bearing/releases/download/v{}/bearing-{target}.tar.gz",
            bearing_workflow::script::BEARING_VERSION
        )),
        "{log}"
    );

    let (o, _) = run(&"0".repeat(64));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not match the published"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !installed.exists(),
        "a binary failing its checksum was installed"
    );
}
