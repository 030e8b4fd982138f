//! `bearing demo`: generates a demo organisation, runs the whole loop on it
//! (ingest through the real parser and store, reconcile, guardrail decisions
//! on its latest deployments) and serves the dashboard.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use bearing_events::{Format, ParseContext, Payload};
use bearing_server::{AppState, AuthMode, Options};
use serde_json::{Value, json};

use super::common::{Global, runtime};

/// The database `bearing demo` uses unless `--database` names another.
const DEMO_DB: &str = "bearing-demo.db";
/// Where the demo's intent is written.
const DEMO_INTENT: &str = "bearing-demo.yaml";
/// Events per ingest batch.
const BATCH: usize = 5_000;

#[derive(clap::Args)]
pub struct Args {
    /// Seed of the generated history.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Address to serve the dashboard on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Stop after loading the demo (do not serve).
    #[arg(long)]
    pub no_serve: bool,
}

pub fn run(a: Args, g: &Global) -> anyhow::Result<ExitCode> {
    // The global default (`sqlite://bearing.db`) means "not given": use the demo's own file.
    let (database, fresh_file) = if g.database == "sqlite://bearing.db" {
        (format!("sqlite://{DEMO_DB}"), Some(PathBuf::from(DEMO_DB)))
    } else {
        (g.database.clone(), None)
    };
    if let Some(path) = &fresh_file {
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove `{}`", p.display()))?;
            }
        }
    }
    let start = Instant::now();
    let now = chrono::Utc::now();
    let org = bearing_demo::generate(a.seed, now);
    std::fs::write(DEMO_INTENT, &org.intent_yaml)
        .with_context(|| format!("cannot write `{DEMO_INTENT}`"))?;
    let loaded = bearing_intent::load_str(Path::new(DEMO_INTENT), &org.intent_yaml)
        .map_err(|e| anyhow::anyhow!(bearing_server::intent_error(Path::new(DEMO_INTENT), &e)))?;
    eprintln!(
        "demo: Acme Retail — {} teams, {} services, {} events over {} days (seed {}); intent in {DEMO_INTENT}",
        loaded.intent.teams.len(),
        loaded.intent.services.len(),
        org.events.len(),
        bearing_demo::DAYS,
        a.seed
    );
    let rt = runtime()?;
    rt.block_on(async move {
        let store = bearing_store::open(&database)
            .await
            .with_context(|| format!("cannot open the event store `{database}`"))?;
        // Ingest through the real path: Bearing JSONL bytes → parser → store, in batches.
        let ctx = ParseContext::new(now);
        let (mut accepted, mut duplicates) = (0, 0);
        for chunk in org.events.chunks(BATCH) {
            let mut jsonl = Vec::with_capacity(chunk.len() * 400);
            for e in chunk {
                serde_json::to_writer(&mut jsonl, e)?;
                jsonl.push(b'\n');
            }
            let events = bearing_events::parse(Format::Bearing, &jsonl, &ctx)
                .map_err(|e| anyhow::anyhow!("the demo's own events do not parse: {e}"))?;
            let outcome = store.ingest(&events).await?;
            accepted += outcome.accepted;
            duplicates += outcome.duplicates;
        }
        eprintln!(
            "demo: ingested {accepted} events ({duplicates} already stored) into {database} in {:.1}s",
            start.elapsed().as_secs_f64()
        );
        // Threat feeds through the real path too (bytes → feed parser → store):
        // the older KEV catalog ten days ago and today's EPSS scores; the newer
        // catalog comes after the first decisions.
        let dstore = store.clone();
        for (bytes, at) in [
            (&org.feeds.kev_older, now - chrono::Duration::days(10)),
            (&org.feeds.epss, now),
        ] {
            feed(&dstore, bytes, at).await?;
        }
        let state = AppState::new(
            store,
            loaded,
            Options {
                auth: AuthMode::AnonymousRead,
                ..Options::default()
            },
        )
        .await
        .context("cannot start the loop on the demo")?;
        // A pass ten days ago, then one now: the action log shows actions with
        // their baselines, and when their after-windows will be complete.
        state
            .reconcile_at(now - chrono::Duration::days(10))
            .await
            .context("reconcile failed on the demo")?;
        state
            .reconcile()
            .await
            .context("reconcile failed on the demo")?;
        let snap = state.snapshot();
        for p in snap.plans.iter().filter(|p| p.freeze || p.strategy != "direct") {
            eprintln!(
                "demo: reconcile → {}: {}{}",
                p.service,
                if p.freeze { "frozen".to_string() } else { format!("strategy {}", p.strategy) },
                if p.reasons.is_empty() { String::new() } else { format!(" ({})", p.reasons.join("; ")) }
            );
        }
        // Guardrails on the latest production deployment of every service, plus
        // a hotfix and a change carrying a scan report.
        let mut by_result = std::collections::BTreeMap::<String, usize>::new();
        for envelope in sample_envelopes(&org.events) {
            let envelope = serde_json::from_value(envelope).context("demo envelope")?;
            let decided = state.decide(envelope).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            *by_result.entry(decided.result.name().to_string()).or_default() += 1;
        }
        // The newer KEV catalog lists a CVE that `web-frontend` has open: its
        // next decision denies, with no change to the intent.
        // (At the time it is read: the server reloads feeds whose stamp moved.)
        // (Into a store that already had it, as on a second run, nothing changes.)
        let added = feed(&dstore, &org.feeds.kev_newer, chrono::Utc::now()).await?;
        state.refresh().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for envelope in sample_envelopes(&org.events)
            .into_iter()
            .filter(|e| added && e["service"] == bearing_demo::threat::LATE_KEV_SERVICE && e["version"] != Value::Null)
            .take(1)
        {
            let envelope = serde_json::from_value(envelope).context("demo envelope")?;
            let decided = state.decide(envelope).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "demo: after the newer KEV catalog, {}'s change is decided again: {}",
                bearing_demo::threat::LATE_KEV_SERVICE,
                decided.result.name()
            );
            *by_result.entry(decided.result.name().to_string()).or_default() += 1;
        }
        state.flush_decisions().await;
        state.refresh().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!(
            "demo: guardrails decided on {} changes: {} — loaded in {:.1}s",
            by_result.values().sum::<usize>(),
            by_result.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
            start.elapsed().as_secs_f64()
        );
        if a.no_serve {
            return anyhow::Ok(());
        }
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", a.listen))?;
        let addr = listener.local_addr()?;
        println!("Bearing demo dashboard: http://{addr}/  (Ctrl-C to stop)");
        bearing_server::run(state, listener, None, bearing_server::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Applies one of the demo's threat feeds as `bearing ingest` does (parser,
/// then the server's `threat::apply`, which logs a `threat-feed` action per
/// service whose open findings a newer KEV catalog makes known exploited).
/// True when it logged any.
async fn feed(
    store: &bearing_store::DynStore,
    bytes: &[u8],
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<bool> {
    let feed = bearing_events::formats::threat::parse_feed(bytes)
        .map_err(|e| anyhow::anyhow!("the demo's own threat feed does not parse: {e}"))?;
    let applied = bearing_server::threat::apply(store, feed, at).await?;
    eprintln!("demo: {}", applied.update.summary());
    for a in &applied.actions {
        eprintln!("demo: action: {}", a.summary);
    }
    Ok(!applied.actions.is_empty())
}

/// Change envelopes for the demo's decision log: the latest production
/// deployment of each service as if it were being deployed again directly,
/// a hotfix to the frozen service, and a release carrying a Trivy report.
fn sample_envelopes(events: &[bearing_events::Event]) -> Vec<Value> {
    let mut latest = std::collections::BTreeMap::new();
    for e in events {
        if let Payload::Deployment(d) = &e.payload
            && e.environment.as_deref() == Some("production")
            && let Some(s) = &e.service
        {
            latest.insert(s.clone(), (d.version.clone(), d.commit.clone()));
        }
    }
    let mut out = Vec::new();
    for (service, (version, commit)) in &latest {
        out.push(json!({
            "service": service,
            "environment": "production",
            "version": version.as_ref().map(|v| bump(v)),
            "commit": commit,
            "author": "ci-bot",
            "labels": [],
            "strategy": "direct",
            "change_size": 120,
            "checks": {"tests": "passed", "scan": "passed"},
        }));
    }
    out.push(json!({
        "service": bearing_demo::BURNING_SERVICE,
        "environment": "production",
        "version": "hotfix-1",
        "author": "dana",
        "labels": ["hotfix"],
        "strategy": "direct",
        "change_size": 8,
        "checks": {"tests": "passed"},
    }));
    out.push(json!({
        "service": bearing_demo::FAILING_SERVICE,
        "environment": "production",
        "version": "canary-1",
        "author": "chen",
        "labels": [],
        "strategy": "canary",
        "change_size": 40,
        "checks": {"tests": "passed", "scan": "passed"},
    }));
    out.push(json!({
        "service": "billing",
        "environment": "production",
        "version": "2.0.0",
        "author": "emeka",
        "labels": [],
        "strategy": "direct",
        "change_size": 300,
        "attachments": {"scans": [{"file": "trivy.json", "content": trivy_report()}]},
    }));
    out
}

fn bump(v: &str) -> String {
    format!("{v}.1")
}

/// A small Trivy report with one fixable critical vulnerability.
fn trivy_report() -> Value {
    json!({
        "SchemaVersion": 2,
        "ArtifactName": "registry.acme.example/billing:2.0.0",
        "ArtifactType": "container_image",
        "Results": [{
            "Target": "registry.acme.example/billing:2.0.0 (debian 12.5)",
            "Class": "os-pkgs",
            "Type": "debian",
            "Vulnerabilities": [{
                "VulnerabilityID": "CVE-2024-6387",
                "PkgName": "openssh-server",
                "InstalledVersion": "1:9.2p1-2+deb12u2",
                "FixedVersion": "1:9.2p1-2+deb12u3",
                "Severity": "CRITICAL",
                "Title": "openssh: regreSSHion, remote code execution in sshd"
            }, {
                "VulnerabilityID": "CVE-2023-45853",
                "PkgName": "zlib1g",
                "InstalledVersion": "1:1.2.13.dfsg-1",
                "Severity": "MEDIUM",
                "Title": "zlib: integer overflow in MiniZip"
            }]
        }]
    })
}
