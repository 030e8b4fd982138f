//! The in-memory side of the server: the metric dataset kept up to date from
//! the store, and a [`Snapshot`] of scorecard, outcomes and delivery plans
//! that the decision path reads without touching the database.
//!
//! [`Loop::refresh`] reads the events stored since the last refresh (by the
//! store's increasing cursor, so events written by another replica are seen
//! too), folds them into the dataset, re-reads plans, actions and findings,
//! recomputes the scorecard and the guardrails' context, and swaps the
//! snapshot atomically. `bearing serve` calls it every `--refresh` (5 s).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bearing_events::{Action, DeliveryPlan, Kind};
use bearing_intent::{Duration, Intent, Loaded, Scope};
use bearing_metrics::{Dataset, FindingRecord, Outcomes, Scorecard, ScorecardFilter};
use bearing_store::{DynStore, FindingQuery, FindingState};
use chrono::{DateTime, DurationRound, Utc};
use serde_json::Value;

use crate::api::ScopeQuery;
use crate::error::ApiError;
use crate::{ServerError, prom};

/// What the decision path and the dashboard read, replaced whole on refresh.
pub struct Snapshot {
    pub refreshed_at: DateTime<Utc>,
    pub events: u64,
    pub scorecard: Scorecard,
    pub outcomes: Outcomes,
    pub plans: Vec<DeliveryPlan>,
    pub actions: Vec<Action>,
    /// The guardrails' view of the world (intent, plans, outcomes).
    pub context: bearing_guard::Context,
    /// `context`'s part for each service of the intent, built once.
    pub services: HashMap<String, bearing_guard::ServiceContext>,
    pub policies_loaded: bool,
    pub policy_revision: String,
}

impl Snapshot {
    /// Scorecard values and per-service outcomes as Prometheus gauges.
    pub fn prometheus_gauges(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        out.push_str("# HELP bearing_key_result_value Current value of each key result, in base units.\n# TYPE bearing_key_result_value gauge\n");
        let mut status = String::new();
        status.push_str("# HELP bearing_key_result_met 1 when the key result meets its target, 0 when not, absent without data.\n# TYPE bearing_key_result_met gauge\n");
        for o in &self.scorecard.objectives {
            for (i, kr) in o.key_results.iter().enumerate() {
                let labels = format!(
                    "objective=\"{}\",key_result=\"{i}\",metric=\"{}\",scope=\"{}\"",
                    prom::escape(&o.id),
                    prom::escape(&kr.metric),
                    prom::escape(&scope_label(&kr.scope))
                );
                if let Some(v) = kr.value.filter(|v| v.is_finite()) {
                    let _ = writeln!(out, "bearing_key_result_value{{{labels}}} {v}");
                    let met = matches!(
                        kr.status,
                        bearing_metrics::Status::Met | bearing_metrics::Status::AtRisk
                    );
                    let _ = writeln!(
                        status,
                        "bearing_key_result_met{{{labels}}} {}",
                        u8::from(met)
                    );
                }
            }
        }
        out.push_str(&status);
        out.push_str("# HELP bearing_service_error_budget_remaining Error budget left (fraction; negative when spent).\n# TYPE bearing_service_error_budget_remaining gauge\n");
        for (s, o) in &self.outcomes.services {
            if let Some(v) = o.error_budget_remaining {
                let _ = writeln!(
                    out,
                    "bearing_service_error_budget_remaining{{service=\"{}\"}} {v}",
                    prom::escape(s)
                );
            }
        }
        out.push_str("# HELP bearing_service_change_failure_rate Change failure rate over 30 days.\n# TYPE bearing_service_change_failure_rate gauge\n");
        for (s, o) in &self.outcomes.services {
            if let Some(v) = o.change_failure_rate {
                let _ = writeln!(
                    out,
                    "bearing_service_change_failure_rate{{service=\"{}\"}} {v}",
                    prom::escape(s)
                );
            }
        }
        out.push_str("# HELP bearing_service_spend_vs_budget Month-end cost forecast / monthly budget.\n# TYPE bearing_service_spend_vs_budget gauge\n");
        for (s, o) in &self.outcomes.services {
            if let Some(v) = o.spend_vs_budget {
                let _ = writeln!(
                    out,
                    "bearing_service_spend_vs_budget{{service=\"{}\"}} {v}",
                    prom::escape(s)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP bearing_events_stored Events in the store at the last refresh.\n# TYPE bearing_events_stored gauge\nbearing_events_stored {}",
            self.events
        );
        let _ = writeln!(
            out,
            "# HELP bearing_snapshot_timestamp_seconds When the snapshot was last refreshed.\n# TYPE bearing_snapshot_timestamp_seconds gauge\nbearing_snapshot_timestamp_seconds {}",
            self.refreshed_at.timestamp()
        );
        out
    }

    /// The plan of a service, if reconcile made one.
    pub fn plan(&self, service: &str) -> Option<&DeliveryPlan> {
        self.plans.iter().find(|p| p.service == service)
    }
}

fn scope_label(s: &Scope) -> String {
    if let Some(v) = &s.service {
        format!("service:{v}")
    } else if let Some(v) = &s.team {
        format!("team:{v}")
    } else if let Some(v) = &s.environment {
        format!("environment:{v}")
    } else {
        "org".to_string()
    }
}

/// Incremental state behind the snapshot.
struct Cursor {
    events: i64,
    /// Decision counts from this second on are read again at every refresh
    /// (all of them at the first).
    decisions_from: Option<DateTime<Utc>>,
    /// Whether findings must be re-read (a finding event arrived).
    findings_dirty: bool,
    /// When the threat feeds the dataset has were stored.
    threat_stamp: Option<DateTime<Utc>>,
}

/// The live loop: intent, compiled guardrails, dataset, snapshot.
/// What a reconcile pass changed, for notifications.
#[derive(Debug, Default)]
pub struct PassChanges {
    /// The plans before the pass.
    pub before: Vec<DeliveryPlan>,
    /// The plans it changed.
    pub plans: Vec<DeliveryPlan>,
    pub checks: Vec<bearing_adapt::reconcile::RuleCheck>,
}

pub struct Loop {
    intent: Arc<Intent>,
    root: PathBuf,
    store: DynStore,
    engine: bearing_guard::Engine,
    dataset: RwLock<Dataset>,
    cursor: tokio::sync::Mutex<Cursor>,
    current: RwLock<Arc<Snapshot>>,
}

/// How late a decision may reach the store and still be counted: every
/// refresh reads the store's decision counts of the last minute again, so
/// decisions the log writes a moment after they are made (in batches, or
/// from a replica whose clock is a little off) are counted at the next
/// refresh. One stored later than that is in the log but not in this
/// server's metrics until it restarts.
pub const LATE: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Events read from the store per round trip while catching up.
const PAGE: u64 = 20_000;

impl Loop {
    pub async fn new(loaded: Loaded, store: DynStore) -> Result<Loop, ServerError> {
        let intent = Arc::new(loaded.intent);
        let engine = bearing_guard::Engine::new(&intent, &loaded.root)
            .map_err(|e| ServerError::Policy(e.to_string()))?;
        let now = Utc::now();
        let dataset = Dataset::empty(&intent);
        let first = Snapshot {
            refreshed_at: now,
            events: 0,
            scorecard: bearing_metrics::scorecard(
                &intent,
                &dataset,
                now,
                ScorecardFilter::default(),
            ),
            outcomes: bearing_metrics::outcomes(&intent, &dataset, now),
            plans: Vec::new(),
            actions: Vec::new(),
            context: bearing_guard::Context::default(),
            services: HashMap::new(),
            policies_loaded: true,
            policy_revision: engine.revision().to_string(),
        };
        let lp = Loop {
            intent,
            root: loaded.root,
            store,
            engine,
            dataset: RwLock::new(dataset),
            cursor: tokio::sync::Mutex::new(Cursor {
                events: 0,
                decisions_from: None,
                findings_dirty: true,
                threat_stamp: None,
            }),
            current: RwLock::new(Arc::new(first)),
        };
        lp.refresh()
            .await
            .map_err(|e| ServerError::Intent(e.message))?;
        Ok(lp)
    }

    pub fn intent(&self) -> &Arc<Intent> {
        &self.intent
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Runs `f` with the dataset (read lock).
    pub fn with_dataset<T>(&self, f: impl FnOnce(&Dataset) -> T) -> T {
        match self.dataset.read() {
            Ok(ds) => f(&ds),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// Folds new store contents into the dataset and swaps in a new snapshot.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let mut cur = self.cursor.lock().await;
        // New events, page by page. The cursor moves only once every read
        // below succeeded: a refresh that fails half-way (the store going
        // down) reads the same events again next time instead of losing them.
        let mut fresh = Vec::new();
        let (mut next_events, mut findings_dirty) = (cur.events, cur.findings_dirty);
        loop {
            let (events, next) = self.store.events_after(next_events, PAGE).await?;
            let n = events.len() as u64;
            if events.iter().any(|e| e.kind() == Kind::Finding) {
                findings_dirty = true;
            }
            fresh.extend(events);
            next_events = next;
            if n < PAGE {
                break;
            }
        }
        let findings = if findings_dirty {
            Some(self.store.findings(&FindingQuery::default()).await?)
        } else {
            None
        };
        // The threat feeds, read again only when they changed.
        let stamp = bearing_store::threat::stamp(self.store.as_ref()).await?;
        let threat = if stamp != cur.threat_stamp {
            Some(bearing_store::threat::load(self.store.as_ref()).await?)
        } else {
            None
        };
        // Decision counts from the start of the trailing window on (all of
        // them at the first refresh) replace the dataset's.
        let now = Utc::now();
        let decisions_from = cur.decisions_from;
        let decisions = self
            .store
            .decision_summaries(decisions_from, DateTime::<Utc>::MAX_UTC)
            .await?;
        let plans = self.store.plans().await?;
        let actions = self.store.actions().await?;
        let total = self.store.count_events().await?;
        cur.events = next_events;
        cur.findings_dirty = false;
        cur.threat_stamp = stamp;

        let intent = self.intent.clone();
        let compute_started = std::time::Instant::now();
        let (scorecard, outcomes) = {
            let mut ds = match self.dataset.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let bulk = fresh.len() > 64;
            if bulk {
                ds.ingest_bulk(fresh);
            } else {
                for e in fresh {
                    ds.push(e);
                }
            }
            if let Some(findings) = findings {
                for f in findings {
                    ds.push_finding(finding_record(f));
                }
            }
            if let Some(t) = threat {
                ds.set_threat(t);
            }
            ds.replace_decision_summaries(decisions_from, &decisions);
            // Never back over seconds already settled, should the clock step back.
            let settled = now - LATE;
            let settled = settled
                .duration_trunc(chrono::TimeDelta::seconds(1))
                .unwrap_or(settled);
            cur.decisions_from = Some(decisions_from.map_or(settled, |f| f.max(settled)));
            if bulk {
                ds.rebuild_all();
            }
            (
                bearing_metrics::scorecard(&intent, &ds, now, ScorecardFilter::default()),
                bearing_metrics::outcomes(&intent, &ds, now),
            )
        };
        tracing::debug!(elapsed = ?compute_started.elapsed(), "snapshot computed");
        // Kept for `bearing check`, which reads outcomes without loading events.
        let kept = bearing_store::Snapshot {
            name: "outcomes".into(),
            computed_at: now,
            cursor: cur.events,
            body: serde_json::to_value(&outcomes).unwrap_or(Value::Null),
        };
        if let Err(e) = self.store.put_snapshot(&kept).await {
            tracing::warn!("cannot keep the outcomes snapshot: {e}");
        }
        let context = bearing_guard::Context {
            plans: plans
                .iter()
                .map(|p| (p.service.clone(), p.clone()))
                .collect(),
            outcomes: kept.body,
            now,
            ..bearing_guard::Context::default()
        };
        let services = intent
            .services
            .iter()
            .map(|s| (s.id.clone(), context.service(&s.id)))
            .collect();
        let snap = Snapshot {
            refreshed_at: now,
            events: total,
            scorecard,
            outcomes,
            plans,
            actions,
            context,
            services,
            policies_loaded: true,
            policy_revision: self.engine.revision().to_string(),
        };
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(snap),
            Err(p) => *p.into_inner() = Arc::new(snap),
        }
        Ok(())
    }

    /// Whether a custom (`rego`) guardrail may apply to a change of
    /// `service`: such a decision runs Rego, which can be slow.
    pub fn has_custom_rego(&self, service: &str) -> bool {
        let team = self.intent.service(service).map(|s| s.team.as_str());
        self.intent.guardrails.iter().any(|g| {
            g.kind == bearing_intent::GuardrailKind::Rego
                && g.scope.service.as_deref().is_none_or(|s| s == service)
                && g.scope.team.as_deref().is_none_or(|t| Some(t) == team)
        })
    }

    /// Decides on an envelope against the current snapshot (no database access).
    pub fn decide(&self, envelope: &bearing_guard::Envelope) -> bearing_guard::Decision {
        let snap = self.snapshot();
        let now = Utc::now();
        match snap.services.get(&envelope.service) {
            Some(service) => self.engine.decide_in(envelope, &snap.context, service, now),
            None => self.engine.decide_at(envelope, &snap.context, now),
        }
    }

    /// `data.<path>` of the built-in modules for an input: `{"result": …}`,
    /// `{}` when undefined (see [`crate::data`] for the live documents).
    pub fn data(&self, path: &str, input: Value) -> Result<Value, ApiError> {
        self.engine
            .eval_data(path, input)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// Runs the adaptation rules once against fresh outcomes.
    pub async fn reconcile(&self) -> Result<(Value, PassChanges), ApiError> {
        self.reconcile_at(Utc::now()).await
    }

    /// Runs the adaptation rules as of `now` (the demo replays an earlier pass).
    pub async fn reconcile_at(&self, now: DateTime<Utc>) -> Result<(Value, PassChanges), ApiError> {
        self.refresh().await?;
        let snap = self.snapshot();
        let report = self.with_dataset(|ds| {
            bearing_adapt::reconcile::reconcile(
                &self.intent,
                ds,
                &snap.plans,
                &snap.actions,
                now,
                false,
            )
        });
        for plan in &report.plans {
            self.store.put_plan(plan).await?;
        }
        for action in &report.actions {
            self.store.put_action(action).await?;
        }
        let json = serde_json::to_value(&report)
            .map_err(|e| ApiError::internal(format!("cannot encode the reconcile report: {e}")))?;
        Ok((
            json,
            PassChanges {
                before: snap.plans.clone(),
                plans: report.plans,
                checks: report.checks,
            },
        ))
    }

    /// `bearing report --output json` with the same service, team and window.
    pub fn scorecard_json(&self, q: &ScopeQuery) -> Result<Value, ApiError> {
        self.check_scope(q)?;
        if q.filter.is_some() {
            return Err(ApiError::bad_request(
                "`filter` applies to one metric (`/v1/metrics/{name}`, `/v1/explain/{name}`); the scorecard uses each key result's own",
            ));
        }
        if q.environment.is_some() {
            return Err(ApiError::bad_request(
                "`environment` applies to one metric (`/v1/metrics/{name}`, `/v1/explain/{name}`); the scorecard uses each key result's own scope",
            ));
        }
        let window = window_arg(q)?;
        if q.service.is_none() && q.team.is_none() && window.is_none() {
            return to_json(&self.snapshot().scorecard);
        }
        let filter = ScorecardFilter {
            team: q.team.clone(),
            service: q.service.clone(),
            window,
        };
        let card = self
            .with_dataset(|ds| bearing_metrics::scorecard(&self.intent, ds, Utc::now(), filter));
        to_json(&card)
    }

    pub fn metric_json(&self, name: &str, q: &ScopeQuery) -> Result<Value, ApiError> {
        let (scope, window) = self.metric_args(name, q)?;
        let filter = filter_arg(name, q)?;
        let v = self.with_dataset(|ds| {
            bearing_metrics::evaluate(ds, name, &scope, &filter, window, Utc::now())
        });
        to_json(&v)
    }

    /// The threat-aware work list of a scope (`service`/`team` of `q`) and
    /// what fixing its `top` findings would do, as `bearing security
    /// priorities --output json` prints it.
    pub fn priorities_json(&self, q: &ScopeQuery, top: usize) -> Result<Value, ApiError> {
        self.check_scope(q)?;
        let scope = Scope {
            service: q.service.clone(),
            team: q.team.clone(),
            ..Scope::default()
        };
        let p = self
            .with_dataset(|ds| bearing_metrics::threat::priorities(ds, &scope, Utc::now(), top));
        let krs = bearing_metrics::threat::key_result_effects(&self.intent, &scope, &p);
        let mut v = to_json(&p)?;
        v["key_results"] = to_json(&krs)?;
        Ok(v)
    }

    pub fn explain_json(&self, name: &str, q: &ScopeQuery) -> Result<Value, ApiError> {
        let (scope, window) = self.metric_args(name, q)?;
        let filter = filter_arg(name, q)?;
        let v = self.with_dataset(|ds| {
            bearing_metrics::explain_with(ds, name, &scope, &filter, window, Utc::now())
        });
        to_json(&v)
    }

    /// `GET /v1/pipelines`: what `bearing pipelines insights` prints, as
    /// JSON (no workflow file lines: the server reads no repository).
    pub fn pipelines_json(&self, q: &ScopeQuery) -> Result<Value, ApiError> {
        if q.filter.is_some() {
            return Err(ApiError::bad_request(
                "`filter` applies to one metric (`/v1/metrics/{name}`); pipelines take `service`, `team`, `environment` and `window`",
            ));
        }
        self.check_scope(q)?;
        let window = window_arg(q)?.unwrap_or(bearing_metrics::DEFAULT_WINDOW);
        let scope = Scope {
            team: q.team.clone(),
            service: q.service.clone(),
            environment: q.environment.clone(),
        };
        let r = self.with_dataset(|ds| {
            bearing_metrics::pipeline_report(ds, &scope, window, Utc::now(), &[])
        });
        to_json(&r)
    }

    fn check_scope(&self, q: &ScopeQuery) -> Result<(), ApiError> {
        if let Some(s) = &q.service
            && self.intent.service(s).is_none()
        {
            return Err(ApiError::not_found(format!(
                "unknown service `{}`: expected one of the intent's services ({})",
                crate::error::echo(s),
                self.intent
                    .services
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(t) = &q.team
            && self.intent.team(t).is_none()
        {
            return Err(ApiError::not_found(format!(
                "unknown team `{}`",
                crate::error::echo(t)
            )));
        }
        Ok(())
    }

    fn metric_args(&self, name: &str, q: &ScopeQuery) -> Result<(Scope, Duration), ApiError> {
        if bearing_intent::catalog::lookup(name).is_none() {
            return Err(ApiError::not_found(format!(
                "unknown metric `{}`: see `bearing metrics` for the catalog",
                crate::error::echo(name)
            )));
        }
        self.check_scope(q)?;
        let window = window_arg(q)?.unwrap_or(bearing_metrics::DEFAULT_WINDOW);
        Ok((
            Scope {
                team: q.team.clone(),
                service: q.service.clone(),
                environment: q.environment.clone(),
            },
            window,
        ))
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn root(&self) -> &PathBuf {
        &self.root
    }

    /// Open findings with their lifecycle, for the security page.
    pub async fn open_findings(&self) -> Result<Vec<FindingState>, ApiError> {
        Ok(self
            .store
            .findings(&FindingQuery {
                service: None,
                open_only: true,
            })
            .await?)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("cannot encode: {e}")))
}

fn finding_record(f: FindingState) -> FindingRecord {
    FindingRecord {
        key: f.key,
        service: f.service,
        severity: f.finding.severity,
        scanner: f.scanners.first().cloned().unwrap_or(f.finding.scanner),
        kind: f.finding.kind,
        first_seen: f.first_seen,
        fixed_at: f.fixed_at,
        event_ids: f.event_ids,
    }
}

/// The `window` query parameter: a duration of at most `36500d`, not zero
/// (the bounds of `--window`); a 400 naming it otherwise.
fn window_arg(q: &ScopeQuery) -> Result<Option<Duration>, ApiError> {
    let Some(w) = &q.window else {
        return Ok(None);
    };
    let window = w
        .parse::<Duration>()
        .map_err(|e| ApiError::bad_request(format!("invalid `window`: {e}")))?;
    if window.as_secs() == 0 {
        return Err(ApiError::bad_request(
            "invalid `window`: it must be longer than 0s",
        ));
    }
    Ok(Some(window))
}

/// The `filter` query parameter, in `bearing explain --filter`'s syntax.
fn filter_arg(
    metric: &str,
    q: &ScopeQuery,
) -> Result<BTreeMap<String, bearing_intent::FilterValue>, ApiError> {
    bearing_metrics::parse_filters(metric, q.filter.as_deref())
        .map_err(|e| ApiError::bad_request(format!("invalid `filter`: {e}")))
}
