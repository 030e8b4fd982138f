//! `bearing decision`: list, show and replay logged guardrail decisions.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use bearing_events::DecisionRecord;
use bearing_guard::{Context, Decision, Envelope, Violation};

use super::check::{CheckOutput, load_engine, print};
use super::common::{Global, Output, open_store, runtime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List recent decisions.
    List {
        #[arg(long)]
        service: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show one logged decision.
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: CheckOutput,
    },
    /// Re-evaluate a logged decision's input with the current policies and show what differs.
    Replay {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

/// A violation's identity for comparing two decisions.
pub fn key(v: &Violation) -> String {
    format!(
        "{} {}/{}: {}",
        serde_json::to_value(v.effect)
            .ok()
            .and_then(|e| e.as_str().map(String::from))
            .unwrap_or_default(),
        v.guardrail,
        v.rule,
        v.message
    )
}

/// What changed between an old and a new decision.
#[derive(Debug, serde::Serialize)]
pub struct Diff {
    pub id: String,
    pub old_result: String,
    pub new_result: String,
    pub old_revision: String,
    pub new_revision: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Diff {
    pub fn changed(&self) -> bool {
        self.old_result != self.new_result || !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// Re-evaluates a record with an engine and compares.
pub fn replay(record: &DecisionRecord, engine: &bearing_guard::Engine) -> anyhow::Result<Diff> {
    let env: Envelope = serde_json::from_value(record.input.clone())
        .with_context(|| format!("decision `{}` has no replayable input", record.id))?;
    let old: Decision = serde_json::from_value(record.decision.clone())
        .with_context(|| format!("decision `{}` is not a stored decision", record.id))?;
    let ctx = Context::from_replay(&old.context.to_value(), old.time);
    let new = engine.decide(&env, &ctx);
    let old_keys: Vec<String> = old.violations.iter().map(key).collect();
    let new_keys: Vec<String> = new.violations.iter().map(key).collect();
    Ok(Diff {
        id: record.id.clone(),
        old_result: record.result.clone(),
        new_result: new.result.name().to_string(),
        old_revision: record.policy_revision.clone(),
        new_revision: new.policy_revision.clone(),
        added: new_keys
            .iter()
            .filter(|k| !old_keys.contains(k))
            .cloned()
            .collect(),
        removed: old_keys
            .iter()
            .filter(|k| !new_keys.contains(k))
            .cloned()
            .collect(),
    })
}

/// Prints a diff as text.
pub fn print_diff(d: &Diff) {
    let arrow = if d.old_result == d.new_result {
        "="
    } else {
        "→"
    };
    println!(
        "{}: {} {arrow} {} (policies {} → {})",
        d.id, d.old_result, d.new_result, d.old_revision, d.new_revision
    );
    for a in &d.added {
        println!("  + {a}");
    }
    for r in &d.removed {
        println!("  - {r}");
    }
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match cmd {
        Command::List {
            service,
            limit,
            output,
        } => {
            let records = rt.block_on(async {
                let store = open_store(g).await?;
                let q = bearing_store::DecisionQuery {
                    service,
                    since: None,
                    limit: Some(limit),
                };
                anyhow::Ok(store.decisions(&q).await?)
            })?;
            if output == Output::Json {
                let brief: Vec<serde_json::Value> = records
                    .iter()
                    .map(|r| serde_json::json!({"id": r.id, "time": r.time, "service": r.service, "environment": r.environment, "result": r.result, "input_digest": r.input_digest, "policy_revision": r.policy_revision}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&brief)?);
            } else {
                for r in &records {
                    println!(
                        "{}  {}  {:<7}  {}/{}  policies {}",
                        r.id,
                        r.time.format("%Y-%m-%d %H:%M:%S"),
                        r.result,
                        r.service.as_deref().unwrap_or("-"),
                        r.environment.as_deref().unwrap_or("-"),
                        r.policy_revision
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, output } => {
            let record = rt.block_on(async {
                let store = open_store(g).await?;
                anyhow::Ok(store.decision(&id).await?)
            })?;
            let Some(record) = record else {
                bail!("no decision `{id}` in the decision log `{}`", g.database);
            };
            let decision: Decision = serde_json::from_value(record.decision.clone())
                .with_context(|| format!("decision `{id}` is not a stored decision"))?;
            if output == CheckOutput::Text {
                println!(
                    "decision {} at {} for {}/{}: {} (input {}, policies {})",
                    record.id,
                    record.time,
                    record.service.as_deref().unwrap_or("-"),
                    record.environment.as_deref().unwrap_or("-"),
                    record.result,
                    record.input_digest,
                    record.policy_revision
                );
            }
            print(&decision, output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { id, output } => {
            let record = rt.block_on(async {
                let store = open_store(g).await?;
                anyhow::Ok(store.decision(&id).await?)
            })?;
            let Some(record) = record else {
                bail!("no decision `{id}` in the decision log `{}`", g.database);
            };
            let (_, engine) = load_engine(&g.intent)?;
            let diff = replay(&record, &engine)?;
            if output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&diff)?);
            } else {
                print_diff(&diff);
                if !diff.changed() {
                    println!("  no difference");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
