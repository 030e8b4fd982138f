//! `bearing outcomes export`: what the dynamic guardrails read of the world,
//! as one JSON file a CI runner can carry.
//!
//! A decision reads, besides the change, each service's live outcomes
//! (`bearing_metrics::Outcomes`: error budget, failure rate, spend vs budget,
//! open findings and findings past SLA) and its delivery plan (strategy,
//! freeze, extra gates). The server keeps both in memory; a `bearing check`
//! next to the store reads them from it. A CI runner has neither, so the
//! snapshot is exported where the store is (`bearing outcomes export >
//! outcomes.json`, e.g. on a schedule, published as a file or an artifact)
//! and read by `bearing check --outcomes outcomes.json`: a frozen service is
//! then denied in CI with or without a server.
//!
//! The file is the outcomes JSON the server keeps as its `outcomes` snapshot
//! (`{"generated_at", "services": {...}}`) plus `"plans": {service: plan}`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use bearing_events::DeliveryPlan;
use bearing_intent::Intent;
use bearing_store::DynStore;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::common::{Global, open_store, runtime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the live outcomes and delivery plans from the store as JSON.
    ///
    /// The snapshot `bearing check --outcomes FILE` reads where there is no
    /// store or server (a CI runner): error budgets, change failure rates,
    /// spend vs budget, open findings per service, and each service's
    /// delivery plan (strategy, freeze). Refuses a store that does not exist.
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub out: Option<std::path::PathBuf>,
}

pub fn run(cmd: Command, g: &Global) -> anyhow::Result<ExitCode> {
    let Command::Export(a) = cmd;
    if !super::check::store_exists(&g.database) {
        anyhow::bail!(
            "no event store at `{}`: pass `--database` (the store `bearing serve` or `bearing ingest` writes)",
            g.database
        );
    }
    let (intent, _) = super::check::load_engine(&g.intent)?;
    let now = Utc::now();
    let snapshot = runtime()?.block_on(async {
        let store = open_store(g).await?;
        let outcomes = live(&store, &intent, now).await?;
        let plans = store.plans().await.context("cannot read delivery plans")?;
        anyhow::Ok(snapshot_json(outcomes, plans))
    })?;
    let text = serde_json::to_string_pretty(&snapshot)? + "\n";
    match &a.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write `{}`", p.display()))?
        }
        None => {
            use std::io::Write as _;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The live outcomes of a store: the `outcomes` snapshot the server (or
/// reconcile) keeps while no event (nor threat feed) arrived after it, else computed from the
/// stored events as the server computes them.
pub async fn live(store: &DynStore, intent: &Intent, now: DateTime<Utc>) -> anyhow::Result<Value> {
    let kept = store.snapshot("outcomes").await?;
    let cursor = store.event_cursor().await?;
    // Threat feeds stored after the snapshot make it stale too.
    let threat = bearing_store::threat::stamp(store.as_ref()).await?;
    if let Some(snap) =
        kept.filter(|s| s.cursor >= cursor && threat.is_none_or(|t| t <= s.computed_at))
    {
        tracing::info!("outcomes as of {} (kept snapshot)", snap.computed_at);
        return Ok(snap.body);
    }
    let ds = super::reconcile::load_dataset(store, intent).await?;
    Ok(serde_json::to_value(bearing_metrics::outcomes(
        intent, &ds, now,
    ))?)
}

/// The exported file: the outcomes object with the plans beside its
/// services, as the server's `GET /v1/outcomes` answers it.
fn snapshot_json(outcomes: Value, plans: Vec<DeliveryPlan>) -> Value {
    bearing_server::api::outcomes_export(outcomes, plans)
}

/// What `bearing check --outcomes FILE` reads: the outcomes, and the plans
/// when the file has them (`None`: the file says nothing about plans).
pub fn read(path: &Path) -> anyhow::Result<(Value, Option<BTreeMap<String, DeliveryPlan>>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read outcomes `{}`", path.display()))?;
    let mut v: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not outcomes JSON (expected {{\"services\": {{...}}, \"plans\": {{...}}}} from `bearing outcomes export`)",
            path.display()
        )
    })?;
    if !v.is_object() {
        anyhow::bail!(
            "`{}` is not outcomes JSON: expected an object with `services` (from `bearing outcomes export`)",
            path.display()
        );
    }
    let plans = match v.as_object_mut().and_then(|m| m.remove("plans")) {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            serde_json::from_value::<BTreeMap<String, DeliveryPlan>>(p).with_context(|| {
                format!(
                    "`{}`: `plans` is not a map of service to delivery plan",
                    path.display()
                )
            })?,
        ),
    };
    Ok((v, plans))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plans_are_split_from_the_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.json");
        let plan = DeliveryPlan {
            service: "api".into(),
            strategy: "canary".into(),
            freeze: true,
            extra_gates: vec![],
            reasons: vec!["freeze-on-spent-budget".into()],
            updated_at: Utc::now(),
        };
        let snap = snapshot_json(
            serde_json::json!({"generated_at": "2026-01-01T00:00:00Z", "services": {"api": {}}}),
            vec![plan.clone()],
        );
        std::fs::write(&p, snap.to_string()).unwrap();
        let (outcomes, plans) = read(&p).unwrap();
        assert_eq!(outcomes["services"]["api"], serde_json::json!({}));
        assert!(outcomes.get("plans").is_none());
        assert_eq!(plans.unwrap()["api"], plan);

        std::fs::write(&p, r#"{"services": {}}"#).unwrap();
        assert!(read(&p).unwrap().1.is_none());
        std::fs::write(
            &p,
            r#"{"services": {}, "plans": {"api": {"freeze": "yes"}}}"#,
        )
        .unwrap();
        let err = format!("{:#}", read(&p).unwrap_err());
        assert!(err.contains("`plans` is not a map"), "{err}");
        std::fs::write(&p, "[]").unwrap();
        assert!(read(&p).is_err());
    }
}
