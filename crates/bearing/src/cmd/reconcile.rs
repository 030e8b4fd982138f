//! `bearing reconcile [--dry-run] [--output text|json] [--at TIME]`:
//! evaluates the intent's adaptation rules against the stored history,
//! updates delivery plans, records actions and measures their effect.
//!
//! [`reconcile_store`] is the whole load → compute → store cycle; `bearing
//! serve` calls it on a schedule.

use std::process::ExitCode;

use anyhow::Context as _;
use bearing_adapt::recommend::{Recommendation, recommend};
use bearing_adapt::reconcile::{ReconcileOutcome, reconcile};
use bearing_intent::Intent;
use bearing_metrics::{Dataset, FindingRecord};
use bearing_store::{DynStore, EventQuery, FindingQuery};
use chrono::{DateTime, Utc};

use super::common::{Global, Output};

/// Evaluate adaptation rules and update delivery plans.
///
/// Prints plan changes and actions (new, relaxed, measured). When the intent
/// has `notifications:`, then posts what changed (key results changing
/// status, services frozen or given another strategy, production denies,
/// waivers expiring within 7 days), each once. Nothing is stored or sent
/// with `--dry-run`, which prints the notifications that would go out. Exit codes: 0 done (changes or not), 1 a rule
/// could not be evaluated, 2 the intent or store cannot be read.
#[derive(clap::Args)]
pub struct Args {
    /// Compute and print, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Evaluate as of this time (RFC 3339, e.g. `2026-11-20T12:00:00Z`, or
    /// YYYY-MM-DD, UTC; default now).
    #[arg(long, value_parser = super::report::parse_time)]
    pub at: Option<DateTime<Utc>>,
    /// Also print candidate actions for key results off target, with evidence.
    #[arg(long)]
    pub recommend: bool,
    /// Write the rightsizing proposals of `action: rightsize` rules into the
    /// Kubernetes manifests under this folder and mark them applied (with
    /// `--dry-run`, print the diff only).
    #[arg(long)]
    pub manifests: Option<std::path::PathBuf>,
}

/// Loads the intent from `--intent`, failing with every diagnostic.
pub fn load_intent(g: &Global) -> anyhow::Result<Intent> {
    match bearing_intent::load(&g.intent) {
        Ok(l) => Ok(l.intent),
        Err(bearing_intent::LoadError::Invalid(diags)) => {
            let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
            anyhow::bail!(
                "the intent `{}` is invalid:\n{}",
                g.intent.display(),
                lines.join("\n")
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads everything the metric engine needs from the store.
pub async fn load_dataset(store: &DynStore, intent: &Intent) -> anyhow::Result<Dataset> {
    let events = store
        .events(&EventQuery::default())
        .await
        .context("cannot read events")?;
    let findings = store
        .findings(&FindingQuery::default())
        .await
        .context("cannot read findings")?
        .into_iter()
        .map(|f| FindingRecord {
            key: f.key,
            service: f.service,
            severity: f.finding.severity,
            scanner: f.finding.scanner.clone(),
            kind: f.finding.kind,
            first_seen: f.first_seen,
            fixed_at: f.fixed_at,
            event_ids: f.event_ids,
        })
        .collect();
    let decisions = store
        .decision_summaries(None, DateTime::<Utc>::MAX_UTC)
        .await
        .context("cannot read decisions")?;
    let threat = bearing_store::threat::load(store.as_ref())
        .await
        .context("cannot read the threat feeds")?;
    let mut ds = Dataset::new(intent, events, findings, Vec::new());
    ds.set_threat(threat);
    ds.replace_decision_summaries(None, &decisions);
    Ok(ds)
}

/// One reconcile cycle over a store: load events, plans and actions, compute,
/// and (unless `dry_run`) store the changed plans and new or updated actions.
pub async fn reconcile_store(
    store: &DynStore,
    intent: &Intent,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<ReconcileOutcome> {
    let cursor = store.event_cursor().await.context("cannot read events")?;
    let ds = load_dataset(store, intent).await?;
    let plans = store.plans().await.context("cannot read delivery plans")?;
    let actions = store.actions().await.context("cannot read actions")?;
    let outcome = reconcile(intent, &ds, &plans, &actions, now, dry_run);
    if !dry_run {
        // Kept for `bearing check`, which reads outcomes without loading events.
        let outcomes = bearing_metrics::outcomes(intent, &ds, now);
        store
            .put_snapshot(&bearing_store::Snapshot {
                name: "outcomes".into(),
                computed_at: now,
                cursor,
                body: serde_json::to_value(&outcomes).unwrap_or_default(),
            })
            .await
            .context("cannot store the outcomes snapshot")?;
        for p in &outcome.plans {
            store
                .put_plan(p)
                .await
                .with_context(|| format!("cannot store the plan of `{}`", p.service))?;
        }
        for a in &outcome.actions {
            store
                .put_action(a)
                .await
                .with_context(|| format!("cannot store action `{}`", a.id))?;
        }
    }
    Ok(outcome)
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let intent = load_intent(g)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let rt = super::common::runtime()?;
    let (outcome, before, recs, notified, patched) = rt.block_on(async {
        let store = super::common::open_store(g).await?;
        let before = store.plans().await.context("cannot read delivery plans")?;
        let mut outcome = reconcile_store(&store, &intent, now, args.dry_run).await?;
        let patched = match &args.manifests {
            Some(dir) => Some(
                super::rightsize::apply_proposals(
                    &store,
                    &intent,
                    &mut outcome.actions,
                    dir,
                    now,
                    args.dry_run,
                )
                .await?,
            ),
            None => None,
        };
        let notified = if args.dry_run {
            Notified::WouldSend(
                super::notifications::changes(&store, &intent, &before, &outcome, now, true)
                    .await?,
            )
        } else {
            Notified::Sent(
                super::notifications::notify_after_reconcile(
                    &store, &intent, &before, &outcome, now,
                )
                .await?,
            )
        };
        let recs = if args.recommend {
            let events = store
                .events(&EventQuery::default())
                .await
                .context("cannot read events")?;
            let ds = load_dataset(&store, &intent).await?;
            Some(recommend(&intent, &ds, &events, now))
        } else {
            None
        };
        anyhow::Ok((outcome, before, recs, notified, patched))
    })?;
    match args.output {
        Output::Json => {
            let mut v = serde_json::to_value(&outcome)?;
            if let (Some(r), Some(obj)) = (&recs, v.as_object_mut()) {
                obj.insert("recommendations".into(), serde_json::to_value(r)?);
            }
            if let Some(obj) = v.as_object_mut() {
                let n = match &notified {
                    Notified::WouldSend(o) => serde_json::to_value(o)?,
                    Notified::Sent(d) => serde_json::to_value(d)?,
                };
                obj.insert("notifications".into(), n);
                if let Some(p) = &patched {
                    obj.insert("manifests".into(), super::rightsize::plan_json(p));
                }
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            print_text(&outcome, &before);
            if let Some(p) = &patched {
                super::rightsize::print_plan(p);
            }
            if let Some(r) = &recs {
                print_recommendations(r);
            }
            match &notified {
                Notified::WouldSend(o) if intent.notifications.is_some() => {
                    super::notifications::print_outbound(o);
                }
                Notified::WouldSend(_) => {}
                Notified::Sent(d) => super::notifications::print_deliveries(d),
            }
        }
    }
    Ok(if outcome.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_INVALID)
    })
}

/// Notifications of a reconcile run: sent, or (dry run) what would be.
enum Notified {
    WouldSend(Vec<bearing_notify::Outbound>),
    Sent(Vec<bearing_notify::Delivery>),
}

fn fmt_value(metric: &str, v: Option<f64>) -> String {
    let unit =
        bearing_intent::catalog::lookup(metric).map_or(bearing_intent::Unit::Count, |d| d.unit);
    v.map_or("no value".into(), |x| {
        bearing_metrics::format_value(unit, x, None, None)
    })
}

fn print_text(o: &ReconcileOutcome, before: &[bearing_events::DeliveryPlan]) {
    let dry = if o.dry_run {
        " (dry run: nothing stored)"
    } else {
        ""
    };
    println!("reconcile at {}{dry}", o.at.to_rfc3339());
    for e in &o.errors {
        println!("error: {e}");
    }
    if o.plans.is_empty() {
        println!("plans: no change");
    } else {
        println!("plans:");
        for p in &o.plans {
            let old = before.iter().find(|b| b.service == p.service);
            let was = old.map_or("(none)".to_string(), |b| {
                format!("{}{}", b.strategy, if b.freeze { ", frozen" } else { "" })
            });
            let gates = if p.extra_gates.is_empty() {
                String::new()
            } else {
                format!(", gates {}", p.extra_gates.join(", "))
            };
            println!(
                "  {:<20} {was} -> {}{}{gates}   [{}]",
                p.service,
                p.strategy,
                if p.freeze { ", frozen" } else { "" },
                p.reasons.join("; ")
            );
        }
    }
    if o.actions.is_empty() {
        println!("actions: none");
    } else {
        println!("actions:");
        for a in &o.actions {
            if let Some(out) = &a.outcome {
                let metric = out["metric"].as_str().unwrap_or(&a.metric);
                let span = |k: &str| {
                    let w = &out[k];
                    let day = |x: &serde_json::Value| {
                        x.as_str()
                            .map_or("?", |s| s.get(..10).unwrap_or(s))
                            .to_string()
                    };
                    format!("{}–{}", day(&w[0]), day(&w[1]))
                };
                println!(
                    "  measured {}: {} {} -> {} ({} intended): {} (before {}, after {})",
                    a.id,
                    metric,
                    fmt_value(metric, a.baseline),
                    fmt_value(metric, out["value"].as_f64()),
                    out["intended"].as_str().unwrap_or("?"),
                    out["verdict"].as_str().unwrap_or("?"),
                    span("before_window"),
                    span("after_window"),
                );
                let m = &out["pipeline"];
                if m.is_object() {
                    let f = |k: &str| m[k].as_f64().unwrap_or(0.0);
                    println!(
                        "    saving per week: realised {:.1} CI min ({:.2} USD), {:.1} min of waiting; expected {:.1} CI min ({:.2} USD), {:.1} min of waiting{}",
                        f("realised_minutes_per_week"),
                        f("realised_money_per_week"),
                        f("realised_lead_time_minutes_per_week"),
                        f("expected_minutes_per_week"),
                        f("expected_money_per_week"),
                        f("expected_lead_time_minutes_per_week"),
                        if m["worse"].as_bool() == Some(true) {
                            format!(
                                "; WORSE: {}",
                                m["worse_because"].as_array().map_or(String::new(), |w| w
                                    .iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; "))
                            )
                        } else {
                            String::new()
                        }
                    );
                }
            } else {
                let status = format!("{:?}", a.status).to_lowercase();
                let when = bearing_adapt::reconcile::measure_at(a)
                    .filter(|t| *t > o.at)
                    .map(|t| format!(" (too early to measure until {})", t.format("%Y-%m-%d")))
                    .unwrap_or_default();
                println!("  {status:<8} {}: {}{when}", a.id, a.summary);
            }
        }
    }
    let holding: Vec<_> = o.checks.iter().filter(|c| c.holds).collect();
    println!(
        "rules: {} check(s), {} holding",
        o.checks.len(),
        holding.len()
    );
    for c in holding {
        let vals: Vec<String> = c
            .values
            .iter()
            .map(|v| format!("{} ({} samples)", v.display, v.samples))
            .collect();
        println!("  {} / {}: {}", c.rule, c.service, vals.join("; "));
    }
}

fn print_recommendations(recs: &[Recommendation]) {
    if recs.is_empty() {
        println!("recommendations: none (no key result off target)");
        return;
    }
    println!("recommendations:");
    for r in recs {
        println!(
            "  [{}] {} ({}): {} -> should {} {}",
            r.objective,
            r.key_result,
            r.status.name(),
            r.title,
            r.direction,
            r.moves
        );
    }
}
