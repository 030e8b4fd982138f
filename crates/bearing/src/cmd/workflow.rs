//! `bearing workflow {generate,lint,diff}`: pipelines from the intent, and
//! existing pipelines checked against it.
//!
//! Exit codes: `generate` 0; `lint` 0 when there is no error or warning
//! (notes are fine), 1 otherwise; `diff` 0 when what is committed is what
//! would be generated, 1 when it differs; 2 for I/O and usage errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bearing_events::DeliveryPlan;
use bearing_intent::{Intent, WorkflowTarget};
use bearing_workflow::diff::Drift;
use bearing_workflow::lint::{fails, render_json, render_sarif, render_text};
use bearing_workflow::{GenerateOptions, LintOptions};

use super::EXIT_INVALID;
use super::common::Global;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write one pipeline per service from the intent.
    ///
    /// GitHub Actions: `bearing-<service>.yml` in `--out` (default
    /// `.github/workflows`). GitLab CI: `.gitlab-ci.yml` including
    /// `ci/bearing-<service>.yml`, in `--out` (default `.`). Delivery plans
    /// stored by `bearing reconcile` (in `--database`, when it exists)
    /// override the intent's strategy.
    Generate(GenerateArgs),
    /// Report where existing pipelines diverge from the intent.
    ///
    /// PATH is a workflow file, a `.gitlab-ci.yml`, a folder of workflows or a
    /// repository root (default `.`). Exit 1 when there is an error or warning.
    Lint(LintArgs),
    /// Show what `generate` would change in the committed pipelines.
    ///
    /// Prints a unified diff; exit 0 when nothing would change, 1 when the
    /// committed pipelines drifted (or are missing), so CI can enforce it.
    Diff(GenerateArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Target platform (default: `workflows.target` in the intent).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Output folder (default `.github/workflows` or `.`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Ignore stored delivery plans; use the intent's strategies only.
    #[arg(long)]
    pub no_plans: bool,
}

#[derive(clap::Args)]
pub struct LintArgs {
    /// File or folder to lint.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    #[arg(long, value_enum, default_value_t = LintOutput::Text)]
    pub output: LintOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    GithubActions,
    GitlabCi,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LintOutput {
    #[default]
    Text,
    Json,
    Sarif,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Generate(a) => generate(a, g),
        Command::Lint(a) => lint(a, g),
        Command::Diff(a) => diff(a, g),
    }
}

fn load_intent(path: &Path) -> anyhow::Result<Intent> {
    match bearing_intent::load(path) {
        Ok(l) => Ok(l.intent),
        Err(bearing_intent::LoadError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            anyhow::bail!(
                "`{}` is not a valid intent; run `bearing validate`",
                path.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Delivery plans from the store, when the store exists; none otherwise.
fn plans(g: &Global, skip: bool) -> anyhow::Result<BTreeMap<String, DeliveryPlan>> {
    if skip {
        return Ok(BTreeMap::new());
    }
    let url = g.database.as_str();
    let is_postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_postgres {
        let file = url.strip_prefix("sqlite://").unwrap_or(url);
        if !Path::new(file).exists() {
            return Ok(BTreeMap::new());
        }
    }
    let rt = super::common::runtime()?;
    let list = rt
        .block_on(async {
            let store = bearing_store::open(url).await?;
            store.plans().await
        })
        .with_context(|| format!("reading delivery plans from `{url}`"))?;
    Ok(list.into_iter().map(|p| (p.service.clone(), p)).collect())
}

fn resolve(a: &GenerateArgs, intent: &Intent) -> (WorkflowTarget, PathBuf) {
    let target = match a.target {
        Some(Target::GithubActions) => WorkflowTarget::GithubActions,
        Some(Target::GitlabCi) => WorkflowTarget::GitlabCi,
        None => intent
            .workflows
            .as_ref()
            .map(|w| w.target)
            .unwrap_or_default(),
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(bearing_workflow::default_out_dir(target)));
    (target, out)
}

fn generated(
    a: &GenerateArgs,
    g: &Global,
) -> anyhow::Result<(Vec<bearing_workflow::GeneratedFile>, PathBuf)> {
    let intent = load_intent(&g.intent)?;
    let plans = plans(g, a.no_plans)?;
    let (target, out) = resolve(a, &intent);
    let intent_path = g.intent.display().to_string();
    let files = bearing_workflow::generate(
        &intent,
        &GenerateOptions {
            target,
            service: a.service.as_deref(),
            plans: &plans,
            intent_path: &intent_path,
        },
    )?;
    Ok((files, out))
}

fn generate(a: GenerateArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let (files, out) = generated(&a, g)?;
    for f in files {
        let path = out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(a: GenerateArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let (files, out) = generated(&a, g)?;
    let drift = bearing_workflow::diff::drift(&out, &files)?;
    for d in &drift {
        match &d.drift {
            Drift::Changed(text) | Drift::Missing(text) => print!("{text}"),
            Drift::Stale => println!(
                "{}: generated by Bearing but no longer generated (service removed?)",
                d.path.display()
            ),
        }
    }
    if drift.is_empty() {
        eprintln!("no drift: {} file(s) match the intent", files.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} file(s) drifted from the intent; run `bearing workflow generate`",
            drift.len()
        );
        Ok(ExitCode::from(EXIT_INVALID))
    }
}

fn lint(a: LintArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let intent = if g.intent.exists() {
        Some(load_intent(&g.intent)?)
    } else {
        eprintln!(
            "note: no intent at `{}`; intent rules (manual approval, strategy) are skipped",
            g.intent.display()
        );
        None
    };
    let plans = match &intent {
        Some(_) => plans(g, false).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let findings = bearing_workflow::lint_path(
        &a.path,
        &LintOptions {
            intent: intent.as_ref(),
            plans: Some(&plans),
        },
    )?;
    let text = match a.output {
        LintOutput::Text => render_text(&findings),
        LintOutput::Json => render_json(&findings),
        LintOutput::Sarif => render_sarif(&findings),
    };
    print!("{text}");
    Ok(if fails(&findings) {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}
