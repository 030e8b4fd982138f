//! `bearing policy`: show rendered guardrail modules, run Rego unit tests with
//! coverage, and shadow-evaluate past decisions with new policies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use bearing_guard::Engine;
use bearing_intent::{Guardrail, GuardrailKind, Intent, Mode, Scope};

use super::check::load_engine;
use super::common::{Global, Output, open_store, runtime};
use super::decision::{print_diff, replay};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the Rego module of a guardrail (rendered with its params), or of all.
    Show {
        /// Guardrail id (default: every guardrail).
        guardrail: Option<String>,
    },
    /// Run Rego unit tests (`test_` rules) in a folder, with coverage.
    Test {
        /// Folder of .rego files (default: `policy`).
        #[arg(default_value = "policy")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Evaluate a query over a folder of policies with an input (like `opa eval`), optionally timed.
    Eval {
        /// Folder (or file) of .rego policies.
        dir: PathBuf,
        /// Input JSON or YAML file (the first document).
        #[arg(long)]
        input: PathBuf,
        /// Query, e.g. `data.main.deny`.
        #[arg(long, default_value = "data.main")]
        query: String,
        /// Evaluate this many times and print latency percentiles to stderr.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
    /// Re-evaluate logged decisions with new policies and list what would change.
    Shadow {
        /// A folder (or file) with a new intent, or a folder of .rego policies
        /// that replaces the policies of the intent's `rego` guardrails.
        #[arg(long)]
        policies: PathBuf,
        /// How many recent decisions to re-evaluate.
        #[arg(long, default_value_t = 200)]
        limit: u64,
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

/// The engine for a shadow evaluation.
fn shadow_engine(g: &Global, policies: &Path) -> anyhow::Result<Engine> {
    let has_yaml = |p: &Path| {
        std::fs::read_dir(p).is_ok_and(|rd| {
            rd.flatten().any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "yaml" || x == "yml")
            })
        })
    };
    let is_intent = policies
        .extension()
        .is_some_and(|x| x == "yaml" || x == "yml")
        || (policies.is_dir() && has_yaml(policies));
    if is_intent {
        return Ok(load_engine(policies)?.1);
    }
    let loaded = bearing_intent::load(&g.intent)
        .map_err(|e| anyhow::anyhow!("cannot load the intent `{}`: {e}", g.intent.display()))?;
    let mut intent: Intent = loaded.intent;
    let abs = std::fs::canonicalize(policies)
        .with_context(|| format!("cannot read policies `{}`", policies.display()))?;
    let mut replaced = false;
    for gr in intent
        .guardrails
        .iter_mut()
        .filter(|g| g.kind == GuardrailKind::Rego)
    {
        gr.path = Some(abs.display().to_string());
        replaced = true;
    }
    if !replaced {
        intent.guardrails.push(Guardrail {
            id: "shadow".into(),
            kind: GuardrailKind::Rego,
            protects: None,
            mode: Mode::Enforce,
            params: serde_json::Map::new(),
            path: Some(abs.display().to_string()),
            scope: Scope::default(),
        });
    }
    Ok(Engine::new(&intent, &loaded.root)?)
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Show { guardrail } => {
            let (_, engine) = load_engine(&g.intent)?;
            let modules = engine.modules();
            let mut shown = 0;
            for (id, text) in &modules {
                if guardrail.as_ref().is_none_or(|g| g == id) {
                    if shown > 0 {
                        println!();
                    }
                    print!("{text}");
                    shown += 1;
                }
            }
            if let Some(id) = guardrail
                && shown == 0
            {
                let known: Vec<&str> = modules.iter().map(|(i, _)| i.as_str()).collect();
                bail!(
                    "no guardrail `{id}` (expected one of: {})",
                    known.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            dir,
            input,
            query,
            repeat,
        } => {
            let bytes = std::fs::read(&input)
                .with_context(|| format!("cannot read input `{}`", input.display()))?;
            let doc = bearing_guard::Attachment::from_manifest_bytes(
                &input.display().to_string(),
                &bytes,
            )?;
            let value = match doc.content {
                serde_json::Value::Array(mut docs) if docs.len() == 1 => docs.remove(0),
                other => other,
            };
            let (result, mut times) =
                bearing_guard::testing::eval_repeated(&dir, value, &query, repeat)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            if repeat > 1 {
                times.sort_unstable();
                let p = |q: f64| {
                    times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64()
                        * 1e6
                };
                eprintln!(
                    "{} evaluations: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs",
                    times.len(),
                    p(0.5),
                    p(0.99),
                    times.iter().map(|t| t.as_secs_f64()).sum::<f64>() * 1e6 / times.len() as f64
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { dir, output } => {
            let report = bearing_guard::testing::run_tests(&dir)?;
            if output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for t in &report.tests {
                    let status = if t.passed { "PASS" } else { "FAIL" };
                    println!("{status}  data.{}.{}", t.package, t.name);
                    if let Some(e) = &t.error {
                        println!("      {e}");
                    }
                }
                for c in &report.coverage {
                    println!(
                        "coverage {:>5.1}%  {}{}",
                        c.percent,
                        c.path,
                        if c.not_covered.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (not covered: lines {})",
                                c.not_covered
                                    .iter()
                                    .map(u32::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    );
                }
                let passed = report.tests.iter().filter(|t| t.passed).count();
                println!(
                    "{passed} passed, {} failed; coverage {:.1}%",
                    report.tests.len() - passed,
                    report.total_coverage
                );
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Shadow {
            policies,
            limit,
            service,
            output,
        } => {
            let engine = shadow_engine(g, &policies)?;
            let rt = runtime()?;
            let records = rt.block_on(async {
                let store = open_store(g).await?;
                let q = bearing_store::DecisionQuery {
                    service,
                    since: None,
                    limit: Some(limit),
                };
                anyhow::Ok(store.decisions(&q).await?)
            })?;
            let mut diffs = Vec::new();
            for r in &records {
                match replay(r, &engine) {
                    Ok(d) => diffs.push(d),
                    Err(e) => eprintln!("warning: {e:#}"),
                }
            }
            let changed: Vec<_> = diffs.iter().filter(|d| d.changed()).collect();
            if output == Output::Json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "revision": engine.revision(),
                        "evaluated": diffs.len(),
                        "changed": changed,
                    }))?
                );
            } else {
                for d in &changed {
                    print_diff(d);
                }
                println!(
                    "{} of {} decision(s) would change under policies {}",
                    changed.len(),
                    diffs.len(),
                    engine.revision()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
