//! `bearing notifications list|test`: the delivery log, and a dry run of
//! what the next look would send. [`notify_after_reconcile`] is the look
//! `bearing reconcile` takes after storing its plans.

use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::reconcile::ReconcileOutcome;
use bearing_events::DeliveryPlan;
use bearing_intent::Intent;
use bearing_notify::{CycleInput, Delivery, Notifier, Outbound, Retry, detect_cycle, prepare};
use bearing_store::DynStore;
use chrono::{DateTime, Utc};

use super::common::{Global, Output};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the delivery log, newest first: key, status, attempts, last error.
    List(ListArgs),
    /// Print what would be sent now, without sending or storing anything.
    ///
    /// Runs reconcile as a dry run, compares key-result statuses with the
    /// last notified ones, reads decisions since the last look and the
    /// waivers, and prints each notification with its destination, key and
    /// body. Unset URL or secret variables are reported.
    Test(TestArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Most records printed.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(clap::Args)]
pub struct TestArgs {
    /// As of this time (RFC 3339 or YYYY-MM-DD, UTC; default now).
    #[arg(long, value_parser = super::report::parse_time)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(c: Command, g: &Global) -> anyhow::Result<ExitCode> {
    match c {
        Command::List(a) => list(a, g),
        Command::Test(a) => test(a, g),
    }
}

fn list(a: ListArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let rt = super::common::runtime()?;
    let log = rt.block_on(async {
        let store = super::common::open_store(g).await?;
        store
            .notifications(a.limit)
            .await
            .context("cannot read the notification log")
    })?;
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&log)?),
        Output::Text => {
            if log.is_empty() {
                println!("no notifications");
            }
            for n in &log {
                let err = n
                    .last_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                println!(
                    "{}  {:<7} {} attempt(s)  {} -> {}: {}{err}",
                    n.created_at.to_rfc3339(),
                    n.status.as_str(),
                    n.attempts,
                    n.kind,
                    n.destination,
                    n.summary
                );
                println!("    key {}", n.key);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn test(a: TestArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let intent = super::reconcile::load_intent(g)?;
    let now = a.at.unwrap_or_else(Utc::now);
    let rt = super::common::runtime()?;
    let outbound = rt.block_on(async {
        let store = super::common::open_store(g).await?;
        let before = store.plans().await.context("cannot read delivery plans")?;
        let outcome = super::reconcile::reconcile_store(&store, &intent, now, true).await?;
        changes(&store, &intent, &before, &outcome, now, true).await
    })?;
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&outbound)?),
        Output::Text => print_outbound(&outbound),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what would be (or was) posted, one block per notification.
pub fn print_outbound(outbound: &[Outbound]) {
    if outbound.is_empty() {
        println!("notifications: nothing to send");
        return;
    }
    println!("notifications (dry run: nothing sent):");
    for o in outbound {
        println!(
            "  {} -> {}: {}",
            o.change.kind.name(),
            o.destination,
            o.change.title
        );
        println!("    key {}", o.key);
        if let Err(e) = &o.url {
            println!("    would fail: {e}");
        }
        if let Some(Err(e)) = &o.secret {
            println!("    would fail: {e}");
        }
        println!("    body {}", o.body);
    }
}

/// One look: detect changes since the last one (storing the new state
/// unless `dry_run`) and route them.
pub async fn changes(
    store: &DynStore,
    intent: &Intent,
    before: &[DeliveryPlan],
    outcome: &ReconcileOutcome,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Vec<Outbound>> {
    if intent.notifications.is_none() {
        return Ok(Vec::new());
    }
    let ds = super::reconcile::load_dataset(store, intent).await?;
    let card = bearing_metrics::scorecard(intent, &ds, now, Default::default());
    let anomalies = bearing_notify::find_anomalies(intent, &ds, now);
    let input = CycleInput {
        intent,
        scorecard: &card,
        plans_before: before,
        plans_changed: &outcome.plans,
        checks: &outcome.checks,
        anomalies: &anomalies,
        now,
    };
    let changes = detect_cycle(store, &input, dry_run)
        .await
        .context("cannot work out what to notify")?;
    Ok(prepare(intent, &changes, &|v| std::env::var(v).ok()))
}

/// After a reconcile pass: notify what changed (each notification claimed
/// in the store first, so nothing goes out twice).
pub async fn notify_after_reconcile(
    store: &DynStore,
    intent: &Intent,
    before: &[DeliveryPlan],
    outcome: &ReconcileOutcome,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Delivery>> {
    let outbound = changes(store, intent, before, outcome, now, false).await?;
    Notifier::new(store.clone(), Retry::default())
        .send_all(outbound, now)
        .await
        .context("cannot record notifications")
}

/// Prints deliveries after `bearing reconcile`.
pub fn print_deliveries(ds: &[Delivery]) {
    let sent: Vec<_> = ds.iter().filter(|d| d.status.is_some()).collect();
    if sent.is_empty() {
        return;
    }
    println!("notifications:");
    for d in sent {
        let status = d.status.map_or("claimed", |s| s.as_str());
        let err = d
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        println!("  {status:<7} {} -> {}{err}", d.key, d.destination);
    }
}
