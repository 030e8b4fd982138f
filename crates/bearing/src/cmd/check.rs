//! `bearing check`: the CI gate. Builds the change envelope from flags and
//! files, decides locally from the intent (or asks a server), prints the
//! decision, logs it, and exits 0 allow/warn, 1 deny, 3 unknown, 2 on usage or
//! I/O errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bearing_adapt::risk;
use bearing_guard::{Context, Decision, Engine, Envelope, Verdict};
use chrono::Utc;

use super::common::Global;

/// How `bearing check` prints the decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckOutput {
    #[default]
    Text,
    Json,
    Sarif,
    Junit,
    Github,
}

/// What to do when `--server` cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnServerError {
    /// Fail closed: the decision is `unknown` (exit 3).
    #[default]
    Closed,
    /// Fail open: allow with a warning (exit 0).
    Open,
    /// Decide locally from the intent instead.
    Local,
}

#[derive(clap::Args)]
#[command(disable_version_flag = true)]
pub struct Args {
    /// Service the change belongs to (default: the intent's only service).
    #[arg(long)]
    pub service: Option<String>,
    /// Target environment (default: the service's production environment).
    #[arg(long = "env", alias = "environment")]
    pub environment: Option<String>,
    /// Version being deployed.
    #[arg(long = "version", id = "change_version")]
    pub version: Option<String>,
    /// Commit being deployed (recorded in the decision log)
    #[arg(long)]
    pub commit: Option<String>,
    /// Author of the change (policies can read it as `input.author`)
    #[arg(long)]
    pub author: Option<String>,
    /// Terraform plan JSON (`terraform show -json`); repeatable.
    #[arg(long = "plan", num_args = 1..)]
    pub plans: Vec<PathBuf>,
    /// Kubernetes manifests (multi-document YAML); repeatable.
    #[arg(long, num_args = 1..)]
    pub manifests: Vec<PathBuf>,
    /// SARIF, Trivy or Grype JSON report; repeatable.
    #[arg(long = "scan", num_args = 1..)]
    pub scans: Vec<PathBuf>,
    /// Infracost JSON.
    #[arg(long)]
    pub cost: Option<PathBuf>,
    /// Change labels such as `hotfix`; repeatable.
    #[arg(long = "label", num_args = 1..)]
    pub labels: Vec<String>,
    /// Deployment strategy of this change: direct, blue-green or canary.
    #[arg(long)]
    pub strategy: Option<String>,
    /// A pipeline check result, `NAME=STATUS` (e.g. `tests=passed`); repeatable.
    #[arg(long = "check", num_args = 1..)]
    pub checks: Vec<String>,
    /// Lines changed.
    #[arg(long)]
    pub change_size: Option<u64>,
    #[command(flatten)]
    pub sizing: Box<SizingArgs>,
    #[arg(long, value_enum, default_value_t)]
    pub output: CheckOutput,
    #[command(flatten)]
    pub remote: Box<RemoteArgs>,
    /// Live outcomes and delivery plans from `bearing outcomes export` (or
    /// `{"services": {...}}` alone) instead of the store's: how a CI runner
    /// without the store sees error budgets, freezes and spend. Without it the
    /// store's kept `outcomes` snapshot is read while no newer event is
    /// stored, else outcomes are computed from its events. Empty means unset.
    // A string, not a path: clap refuses an empty path, and an unset CI
    // variable arrives as an empty `BEARING_OUTCOMES`.
    #[arg(long, env = "BEARING_OUTCOMES", value_name = "FILE")]
    pub outcomes: Option<String>,
    /// Change-risk score 0..1 (from `bearing risk`).
    #[arg(long)]
    pub risk: Option<f64>,
    /// Do not write the decision to the decision log.
    #[arg(long)]
    pub no_log: bool,
}

/// How the change is sized and scored for the change-risk model.
#[derive(clap::Args)]
pub struct SizingArgs {
    /// Files touched (for the change-risk model).
    #[arg(long)]
    pub files: Option<u64>,
    /// The change as a unified diff (`git diff` output; `-` reads stdin):
    /// sizes it (lines and files) for `--change-size` and the risk model.
    #[arg(long, value_name = "FILE")]
    pub diff: Option<PathBuf>,
    /// The change as a commit range (`origin/main..HEAD`), sized with
    /// `git diff --numstat RANGE` in the working directory.
    #[arg(long, value_name = "RANGE")]
    pub commits: Option<String>,
    /// Change-risk model (default: next to the SQLite database); without
    /// `--risk`, a model that exists scores the change (calibrated
    /// probability, its reasons, advisory when its held-out AUC is too low).
    #[arg(long, env = "BEARING_RISK_MODEL")]
    pub risk_model: Option<PathBuf>,
}

/// Where to ask for the decision instead of deciding locally.
#[derive(clap::Args)]
pub struct RemoteArgs {
    /// Ask a Bearing server (`POST /v1/decide`) instead of deciding locally.
    /// Empty means unset (an unset CI variable): decide locally.
    #[arg(long, env = "BEARING_SERVER")]
    pub server: Option<String>,
    /// API token for `--server`, with the `decide` scope
    /// (`bearing token create --name ci --scope decide`).
    #[arg(long, env = "BEARING_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do when the server cannot be reached.
    #[arg(long, value_enum, default_value_t)]
    pub on_server_error: OnServerError,
}

fn parse_checks(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|c| match c.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("invalid `--check {c}`: expected NAME=STATUS, e.g. `tests=passed`"),
        })
        .collect()
}

/// Builds the envelope from flags and attachment files.
pub fn envelope(args: &Args, intent: Option<&bearing_intent::Intent>) -> anyhow::Result<Envelope> {
    let service = match (&args.service, intent) {
        (Some(s), _) => s.clone(),
        (None, Some(i)) if i.services.len() == 1 => i.services[0].id.clone(),
        (None, _) => {
            bail!("`--service` is required (the intent does not have exactly one service)")
        }
    };
    let environment = match (&args.environment, intent.and_then(|i| i.service(&service))) {
        (Some(e), _) => e.clone(),
        (None, Some(s)) => s.production_env().to_string(),
        (None, None) => "production".to_string(),
    };
    // A typo must not skip every service-scoped guardrail (exit 2).
    if let Some(intent) = intent {
        intent.check_target(&service, &environment)?;
    }
    let mut env = Envelope {
        service,
        environment,
        version: args.version.clone(),
        commit: args.commit.clone(),
        author: args.author.clone(),
        labels: args.labels.clone(),
        change_size: args.change_size,
        strategy: args.strategy.clone(),
        checks: parse_checks(&args.checks)?,
        ..Envelope::default()
    };
    for p in &args.plans {
        env.attachments
            .terraform_plans
            .push(bearing_guard::read_plan(p)?);
    }
    for p in &args.manifests {
        env.attachments
            .manifests
            .push(bearing_guard::read_manifests(p)?);
    }
    for p in &args.scans {
        env.attachments.scans.push(bearing_guard::read_scan(p)?);
    }
    if let Some(p) = &args.cost {
        env.attachments.cost.push(bearing_guard::read_cost(p)?);
    }
    Ok(env)
}

/// The size of the change given as `--diff` or `--commits`, if any.
fn change_size(args: &Args) -> anyhow::Result<Option<risk::DiffSize>> {
    if let Some(p) = &args.sizing.diff {
        let text = if p.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("cannot read the diff from stdin")?
        } else {
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the diff `{}`", p.display()))?
        };
        return Ok(Some(risk::diff_size(&text, &p.display().to_string())?));
    }
    if let Some(range) = &args.sizing.commits {
        if range.starts_with('-') {
            bail!(
                "invalid `--commits {range}`: expected a commit range such as `origin/main..HEAD`"
            );
        }
        // Outside a repository `git diff` falls back to `--no-index` and
        // prints its usage: say what is wrong in one line instead.
        let in_repo = std::process::Command::new("git")
            .args(["rev-parse", "--git-dir"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("cannot run `git rev-parse`")?;
        if !in_repo.success() {
            let cwd =
                std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string());
            bail!(
                "not a git repository: {cwd} (`--commits {range}` is read with `git diff` there)"
            );
        }
        let out = std::process::Command::new("git")
            .args(["diff", "--numstat", "--no-renames", range, "--"])
            .output()
            .context("cannot run `git diff --numstat`")?;
        if !out.status.success() {
            bail!(
                "`git diff --numstat {range}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        return Ok(Some(risk::numstat_size(
            &text,
            &format!("git diff --numstat {range}"),
        )?));
    }
    Ok(None)
}

/// Scores the change with the trained risk model when `--risk` is not given
/// and a model exists (an explicit `--risk-model` must exist). The history
/// comes from the store when there is one.
fn model_risk(
    args: &Args,
    g: &Global,
    intent: &bearing_intent::Intent,
    env: &Envelope,
    store: Option<(&tokio::runtime::Runtime, &bearing_store::DynStore)>,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<Option<risk::RiskScore>> {
    if args.risk.is_some() {
        return Ok(None);
    }
    let path = match &args.sizing.risk_model {
        Some(p) => p.clone(),
        None => {
            let p = risk::default_model_path(&g.database);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let model = risk::load_model(&path)?;
    let history = match store {
        Some((rt, store)) => {
            let found = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    super::risk::samples_from_store(store, intent, now),
                )
                .await
            });
            match found {
                Ok(Ok((_, h))) => h,
                Ok(Err(e)) => {
                    eprintln!("warning: change risk without history: {e:#}");
                    risk::History::default()
                }
                Err(_) => {
                    eprintln!(
                        "warning: change risk without history: the store did not answer in 5 s"
                    );
                    risk::History::default()
                }
            }
        }
        None => risk::History::default(),
    };
    let change = risk::ChangeInput {
        service: env.service.clone(),
        lines_changed: env.change_size.map(|v| v as f64),
        files_changed: args.sizing.files.map(|v| v as f64),
        changes: None,
        authors: env.author.iter().cloned().collect(),
        labels: env.labels.clone(),
        strategy: env.strategy.clone(),
        commit: env.commit.clone(),
    };
    Ok(Some(risk::score_change(&model, &history, &change, now)))
}

/// The repository the gate runs in: the nearest folder up from the working
/// directory with a `.git` (a folder, or a file in a worktree), else the
/// working directory. SARIF findings at `file:` paths under it are located
/// relative to it, as GitHub annotations want.
fn checkout_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd.ancestors().find(|d| d.join(".git").exists());
    Some(root.unwrap_or(&cwd).to_path_buf())
}

/// Loads the intent and compiles its guardrails.
pub fn load_engine(intent_path: &Path) -> anyhow::Result<(bearing_intent::Intent, Engine)> {
    let loaded = bearing_intent::load(intent_path).map_err(|e| match e {
        bearing_intent::LoadError::Invalid(diags) => anyhow::anyhow!(
            "the intent `{}` is invalid:\n{}",
            intent_path.display(),
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::anyhow!(other),
    })?;
    let engine = Engine::new(&loaded.intent, &loaded.root).with_context(|| {
        format!(
            "cannot compile the guardrails of `{}`",
            intent_path.display()
        )
    })?;
    Ok((loaded.intent, engine))
}

/// Prints a decision in the chosen format (a closed pipe is not an error).
pub fn print(decision: &Decision, output: CheckOutput) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = match output {
        CheckOutput::Text => bearing_guard::output::text(decision),
        CheckOutput::Json => serde_json::to_string_pretty(decision)? + "\n",
        CheckOutput::Sarif => {
            serde_json::to_string_pretty(&bearing_guard::output::sarif(decision))? + "\n"
        }
        CheckOutput::Junit => bearing_guard::output::junit(decision),
        CheckOutput::Github => bearing_guard::output::github(decision),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Whether `--database` names something that exists (a check never creates a store).
pub fn store_exists(url: &str) -> bool {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return true;
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    path != ":memory:" && Path::new(path).exists()
}

/// Drops an empty value: an unset CI variable is often set to "".
fn non_empty(v: &mut Option<String>) {
    if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
        *v = None;
    }
}

pub fn run(mut args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    non_empty(&mut args.remote.server);
    non_empty(&mut args.remote.token);
    non_empty(&mut args.outcomes);
    // `--diff` / `--commits` give the size unless `--change-size` / `--files` do
    if let Some(size) = change_size(&args)? {
        args.change_size = args.change_size.or(Some(size.lines as u64));
        args.sizing.files = args.sizing.files.or(Some(size.files as u64));
    }
    if let Some(url) = args.remote.server.clone() {
        let intent = bearing_intent::load(&g.intent).ok().map(|l| l.intent);
        let env = envelope(&args, intent.as_ref())?;
        let decision = match bearing_guard::remote::decide(
            &url,
            args.remote.token.as_deref(),
            &env,
            Duration::from_secs(10),
        ) {
            Ok(d) => d,
            // Not an outage: failing open or deciding locally would hide the mistake.
            Err(e @ bearing_guard::GuardError::Rejected { .. }) => return Err(e.into()),
            Err(e) => match args.remote.on_server_error {
                OnServerError::Local => {
                    eprintln!(
                        "warning: {e}; deciding locally from `{}`",
                        g.intent.display()
                    );
                    return decide_locally(&args, g, env, now);
                }
                OnServerError::Open => {
                    eprintln!("warning: {e}; failing open (--on-server-error open): allowed");
                    return Ok(ExitCode::SUCCESS);
                }
                OnServerError::Closed => {
                    eprintln!("error: {e}; the decision is unknown (fail closed)");
                    return Ok(ExitCode::from(Verdict::Unknown.exit_code()));
                }
            },
        };
        print(&decision, args.output)?;
        return Ok(ExitCode::from(decision.result.exit_code()));
    }
    let loaded = bearing_intent::load(&g.intent).ok().map(|l| l.intent);
    let env = envelope(&args, loaded.as_ref())?;
    decide_locally(&args, g, env, now)
}

fn decide_locally(
    args: &Args,
    g: &Global,
    env: Envelope,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let (intent, engine) = load_engine(&g.intent)?;
    let engine = match checkout_root() {
        Some(root) => engine.with_checkout(root),
        None => engine,
    };
    let (mut outcomes, file_plans) = match &args.outcomes {
        Some(p) => super::outcomes::read(Path::new(p))?,
        None => (serde_json::Value::Null, None),
    };
    let use_store = store_exists(&g.database);
    let rt = if use_store {
        Some(super::common::runtime()?)
    } else {
        None
    };
    // The store gives the current delivery plans; a slow or broken store must not block the gate.
    let store = rt.as_ref().and_then(|rt| {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), bearing_store::open(&g.database))
                .await
                .ok()
                .and_then(Result::ok)
        })
    });
    let mut plans = BTreeMap::new();
    if let Some(p) = file_plans {
        plans = p;
    } else if let (Some(rt), Some(store)) = (&rt, &store) {
        let found = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), store.plans()).await });
        if let Ok(Ok(list)) = found {
            plans = list.into_iter().map(|p| (p.service.clone(), p)).collect();
        }
    }
    // Live outcomes: the snapshot the server or reconcile keeps, when no event
    // arrived since; else computed from the stored events, bounded in time.
    if outcomes.is_null()
        && let (Some(rt), Some(store)) = (&rt, &store)
    {
        let live = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(3),
                super::outcomes::live(store, &intent, now),
            )
            .await
        });
        match live {
            Ok(Ok(v)) => outcomes = v,
            Ok(Err(e)) => eprintln!("warning: no live outcomes: {e:#}"),
            Err(_) => eprintln!("warning: no live outcomes: the store did not answer in 3 s"),
        }
    }
    let scored = model_risk(args, g, &intent, &env, rt.as_ref().zip(store.as_ref()), now)?;
    if let Some(s) = &scored {
        eprint!("{}", super::risk::explain_score(s));
    }
    let ctx = Context {
        plans,
        outcomes,
        risk: args.risk.or(scored.as_ref().map(|s| s.score)),
        risk_reasons: scored.as_ref().map(super::risk::reasons),
        risk_advisory: scored.as_ref().and_then(|s| s.advisory.clone()),
        now,
    };
    let decision = engine.decide(&env, &ctx);
    print(&decision, args.output)?;
    if !args.no_log {
        match (&rt, &store) {
            (Some(rt), Some(store)) => {
                let record = bearing_guard::to_record(&decision, &env);
                let logged = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(2), store.put_decision(&record)).await
                });
                match logged {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("warning: decision not logged: {e}"),
                    Err(_) => {
                        eprintln!("warning: decision not logged: the store did not answer in 2 s")
                    }
                }
            }
            _ => tracing::info!("no decision log at `{}`; decision not logged", g.database),
        }
    }
    Ok(ExitCode::from(decision.result.exit_code()))
}
