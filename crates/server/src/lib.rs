//! `bearing serve`: the HTTP API, the dashboard and Prometheus metrics.
//!
//! [`app`] builds the router from an [`AppState`] (tests drive it in process
//! with `oneshot`); [`serve`] binds a socket, runs the background loops and
//! shuts down gracefully.
//!
//! The decision path never waits on the database: policies are compiled once
//! at start, and outcomes, delivery plans and the scorecard live in an
//! in-memory [`snapshot::Snapshot`] refreshed from the store every
//! [`Config::refresh`] (5 s by default). Decisions are logged to the store by
//! a background writer. Ingest, by contrast, answers only after the store
//! committed the batch, so an acknowledged event is never lost.

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod data;
pub mod error;
pub mod listen;
pub mod openapi;
pub mod prom;
pub mod snapshot;
pub mod threat;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bearing_store::{DynStore, EncodedDecision, SharedContext};
use tokio::sync::{mpsc, oneshot};

pub use auth::{AuthMode, Scope};
pub use error::ApiError;
pub use snapshot::Snapshot;

/// Default interval between snapshot refreshes.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);
/// Default maximum request body (ingest batches, envelopes with attachments).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How `bearing serve` runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: String,
    /// The intent file or folder.
    pub intent: PathBuf,
    pub listen: SocketAddr,
    pub auth: AuthMode,
    /// Secret of the GitHub webhook (`BEARING_GITHUB_SECRET`).
    pub github_secret: Option<String>,
    /// How often the outcome snapshot is refreshed from the store.
    pub refresh: Duration,
    /// How often reconcile runs (`None`: never from the server).
    pub reconcile: Option<Duration>,
    pub body_limit: usize,
    /// Most decisions logged per second (`None`: all of them).
    pub log_max_rate: Option<u64>,
    /// Connection limits and timeouts.
    pub limits: listen::Limits,
    /// Longest a request may take once its headers arrived.
    pub request_timeout: Duration,
    /// Evaluations at once on the evaluation pool.
    pub eval_workers: usize,
    /// URLs of threat feeds (KEV catalog, EPSS CSV) fetched on a schedule;
    /// empty: none (the default).
    pub threat_feeds: Vec<String>,
    /// How often the threat feeds are fetched.
    pub threat_every: Duration,
    /// The event bus between replicas (`--bus`); `None`: ingest and the
    /// decision log write to the store directly.
    pub bus: Option<bearing_bus::Config>,
}

/// Options of an [`AppState`] beyond the store and the intent.
#[derive(Debug, Clone)]
pub struct Options {
    pub auth: AuthMode,
    pub github_secret: Option<String>,
    pub refresh: Duration,
    pub body_limit: usize,
    /// Most decisions logged per second (`None`: all of them).
    pub log_max_rate: Option<u64>,
    /// Capacity of the decision-log queue ([`LOG_QUEUE`] by default).
    pub log_queue: usize,
    /// How long an answer waits for room in a full decision-log queue
    /// before its decision is dropped from the log ([`LOG_WAIT`] by default).
    pub log_wait: Duration,
    /// Evaluations that run at once on the evaluation pool
    /// ([`default_eval_workers`]).
    pub eval_workers: usize,
    /// Evaluations that may wait for the pool; more get 503 ([`EVAL_QUEUE`]).
    pub eval_queue: usize,
    /// How often, at most, the store is asked whether tokens changed
    /// ([`auth::TOKEN_RECHECK`]; zero: at every request).
    pub token_recheck: Duration,
    /// Longest a request may take once its headers arrived, body included
    /// ([`REQUEST_TIMEOUT`]); 408 after it.
    pub request_timeout: Duration,
    /// The event bus (see [`Config::bus`]), connected.
    pub bus: Option<bearing_bus::Bus>,
}

/// Default longest time for a request once its headers arrived.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Evaluations that may wait for a free evaluation worker before the next
/// one is refused with 503: bounds the memory held by waiting envelopes to
/// this many request bodies.
pub const EVAL_QUEUE: usize = 32;

/// Bodies of `POST /v1/decide` up to this size are parsed on the request's
/// own async worker; larger ones on the evaluation pool.
pub const INLINE_BODY: usize = 64 * 1024;

/// One fewer than the cores (at least one): heavy evaluations leave a core to
/// the HTTP workers, so health checks, ingest and the dashboard stay
/// responsive while slow policies run.
pub fn default_eval_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auth: AuthMode::Tokens,
            github_secret: None,
            refresh: DEFAULT_REFRESH,
            body_limit: DEFAULT_BODY_LIMIT,
            log_max_rate: None,
            log_queue: LOG_QUEUE,
            log_wait: LOG_WAIT,
            eval_workers: default_eval_workers(),
            eval_queue: EVAL_QUEUE,
            token_recheck: auth::TOKEN_RECHECK,
            request_timeout: REQUEST_TIMEOUT,
            bus: None,
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Intent(String),
    #[error("cannot compile the guardrails: {0}")]
    Policy(String),
    #[error(transparent)]
    Store(#[from] bearing_store::StoreError),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Bus(#[from] bearing_bus::BusError),
}

/// A decision as `POST /v1/decide` answers it.
pub struct Decided {
    pub result: bearing_guard::Verdict,
    /// The decision's JSON.
    pub json: Vec<u8>,
}

/// Messages to the decision-log writer.
enum LogMsg {
    /// A decision and the envelope it was made on; the writer encodes the
    /// record, off the request path.
    Decision(Logged),
    Flush(oneshot::Sender<()>),
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: DynStore,
    loop_: snapshot::Loop,
    /// Held by the notification look that is running.
    notify_turn: tokio::sync::Mutex<()>,
    auth: auth::Authenticator,
    telemetry: prom::Telemetry,
    github_secret: Option<Vec<u8>>,
    log_tx: mpsc::Sender<LogMsg>,
    log_wait: Duration,
    log_rate: RateLimit,
    body_limit: usize,
    refresh: Duration,
    request_timeout: Duration,
    eval: EvalPool,
    /// The SLIs read from Prometheus (`None` when no SLO names a source).
    prometheus: Option<Arc<bearing_prometheus::Scheduler>>,
    bus: Option<bearing_bus::Bus>,
}

/// The evaluation pool: blocking threads (Tokio's), at most `permits` at once.
struct EvalPool {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: AtomicU64,
    queue: u64,
}

/// Counts a caller waiting for the pool while it exists (a dropped request
/// stops waiting too).
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// At most `max` admissions per second (every one when `max` is `None`).
struct RateLimit {
    max: Option<u64>,
    /// The current second (low 32 bits of the Unix time) in the high half,
    /// how many were admitted in it in the low half; one word so that a new
    /// second and its first admission are one atomic step.
    state: AtomicU64,
}

impl RateLimit {
    fn new(max: Option<u64>) -> Self {
        RateLimit {
            max,
            state: AtomicU64::new(0),
        }
    }

    /// An earlier `second` than the current one (a late clock) counts
    /// against the current one.
    fn admit(&self, second: i64) -> bool {
        let Some(max) = self.max else {
            return true;
        };
        let second = second as u64 & 0xffff_ffff;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let (current, admitted) = (state >> 32, state & 0xffff_ffff);
            let (current, admitted) = if second > current {
                (second, 0)
            } else {
                (current, admitted)
            };
            if admitted >= max.min(0xffff_ffff) {
                return false;
            }
            let next = current << 32 | (admitted + 1);
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }
}

/// Capacity of the decision-log queue (see [`LOG_WAIT`] for when it is
/// full). Bounds the memory held by
/// decisions waiting for the store (about 1 KB each), and covers about a
/// second of answers at full speed while the store stalls on a checkpoint.
pub const LOG_QUEUE: usize = 32_768;

/// How long an answer waits for room in a full decision-log queue before the
/// decision is dropped from the log: the log slows the answers down to the
/// pace the store can keep, rather than losing decisions, but a store that
/// stopped cannot hold decisions up for longer than this.
pub const LOG_WAIT: Duration = Duration::from_millis(500);

/// Most decisions the writer stores in one transaction.
const LOG_BATCH: usize = 5_000;

/// How long the writer waits for a batch to fill before writing it.
const LOG_LINGER: Duration = Duration::from_millis(50);

impl AppState {
    /// Compiles the guardrails, loads the first snapshot and starts the
    /// decision-log writer. Must be called inside a Tokio runtime.
    pub async fn new(
        store: DynStore,
        intent: bearing_intent::Loaded,
        options: Options,
    ) -> Result<AppState, ServerError> {
        let prometheus = {
            let targets = bearing_prometheus::targets(&intent.intent);
            (!targets.is_empty()).then(|| {
                Arc::new(bearing_prometheus::Scheduler::new(
                    targets,
                    bearing_prometheus::client::TIMEOUT,
                ))
            })
        };
        let loop_ = snapshot::Loop::new(intent, store.clone()).await?;
        let (log_tx, log_rx) = mpsc::channel(options.log_queue.max(1));
        let state = AppState {
            inner: Arc::new(Shared {
                auth: auth::Authenticator::with_recheck(
                    options.auth,
                    store.clone(),
                    options.token_recheck,
                ),
                store,
                loop_,
                notify_turn: tokio::sync::Mutex::new(()),
                telemetry: prom::Telemetry::default(),
                github_secret: options.github_secret.map(String::into_bytes),
                log_tx,
                log_wait: options.log_wait,
                log_rate: RateLimit::new(options.log_max_rate),
                body_limit: options.body_limit,
                refresh: options.refresh,
                request_timeout: options.request_timeout,
                eval: EvalPool {
                    permits: Arc::new(tokio::sync::Semaphore::new(options.eval_workers.max(1))),
                    waiting: AtomicU64::new(0),
                    queue: options.eval_queue as u64,
                },
                prometheus,
                bus: options.bus,
            }),
        };
        tokio::spawn(decision_writer(state.clone(), log_rx));
        Ok(state)
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.loop_.snapshot()
    }
    pub fn telemetry(&self) -> &prom::Telemetry {
        &self.inner.telemetry
    }
    pub(crate) fn loop_(&self) -> &snapshot::Loop {
        &self.inner.loop_
    }
    pub fn refresh_interval(&self) -> Duration {
        self.inner.refresh
    }
    /// The event bus, when the server runs with one.
    pub fn bus(&self) -> Option<&bearing_bus::Bus> {
        self.inner.bus.as_ref()
    }
    /// The Prometheus sync of the SLOs that name a source, if any.
    pub fn prometheus(&self) -> Option<&Arc<bearing_prometheus::Scheduler>> {
        self.inner.prometheus.as_ref()
    }

    /// Reloads outcomes, plans and the scorecard from the store now.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let started = Instant::now();
        match self.inner.loop_.refresh().await {
            Ok(()) => {
                tracing::debug!(elapsed = ?started.elapsed(), "snapshot refreshed");
                self.inner
                    .telemetry
                    .snapshot_refreshes
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.inner
                    .telemetry
                    .snapshot_errors
                    .fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Runs reconcile once (plans and actions), then refreshes the snapshot.
    pub async fn reconcile(&self) -> Result<serde_json::Value, ApiError> {
        let (report, pass) = self.inner.loop_.reconcile().await?;
        self.refresh().await?;
        self.notify(Some(pass));
        Ok(report)
    }

    /// Notifies what changed since the last look (key-result statuses,
    /// a reconcile pass's plan changes, production denies, expiring waivers)
    /// on its own task, so neither decisions nor the refresh wait for a slow
    /// destination. A look without plan changes is skipped while another
    /// runs (the next refresh looks again); one with them waits its turn.
    /// Every notification is claimed in the store before it is sent, so
    /// replicas and restarts send each once.
    pub fn notify(&self, pass: Option<snapshot::PassChanges>) {
        let intent = self.inner.loop_.intent().clone();
        if intent.notifications.is_none() {
            return;
        }
        let state = self.clone();
        tokio::spawn(async move {
            let _turn = match &pass {
                Some(_) => state.inner.notify_turn.lock().await,
                None => match state.inner.notify_turn.try_lock() {
                    Ok(g) => g,
                    Err(_) => return,
                },
            };
            let now = chrono::Utc::now();
            let snap = state.snapshot();
            let pass = pass.unwrap_or_default();
            let anomalies = state
                .loop_()
                .with_dataset(|ds| bearing_notify::find_anomalies(&intent, ds, now));
            let input = bearing_notify::CycleInput {
                intent: &intent,
                scorecard: &snap.scorecard,
                plans_before: &pass.before,
                plans_changed: &pass.plans,
                checks: &pass.checks,
                anomalies: &anomalies,
                now,
            };
            let store = state.store().clone();
            let changes = match bearing_notify::detect_cycle(&store, &input, false).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot work out notifications");
                    return;
                }
            };
            let out = bearing_notify::prepare(&intent, &changes, &|v| std::env::var(v).ok());
            if let Err(e) = bearing_notify::Notifier::new(store, bearing_notify::Retry::default())
                .send_all(out, now)
                .await
            {
                tracing::warn!(error = %e, "cannot record notifications");
            }
        });
    }

    /// Decides on a change envelope from memory, counts it and queues it for
    /// the decision log; what `POST /v1/decide` does. A service or
    /// environment the intent does not declare is refused (422). Cheap
    /// decisions (no attachments, only built-in guardrails, which evaluate
    /// natively) run on the caller's task; the others on the evaluation pool
    /// ([`AppState::evaluate`]).
    pub async fn decide(&self, envelope: bearing_guard::Envelope) -> Result<Decided, ApiError> {
        self.check_target(&envelope)?;
        let (decision, envelope) = if self.is_cheap(&envelope) {
            (self.inner.loop_.decide(&envelope), envelope)
        } else {
            let state = self.clone();
            self.evaluate(move || Ok((state.inner.loop_.decide(&envelope), envelope)))
                .await?
        };
        self.answer(decision, envelope).await
    }

    /// [`AppState::decide`] on a JSON body: a small body is parsed here, a
    /// large one (over [`INLINE_BODY`]) on the evaluation pool with its decision.
    pub async fn decide_bytes(&self, body: axum::body::Bytes) -> Result<Decided, ApiError> {
        if body.len() <= INLINE_BODY {
            return self.decide(error::parse_json(&body)?).await;
        }
        let state = self.clone();
        let (decision, envelope) = self
            .evaluate(move || {
                let envelope: bearing_guard::Envelope = error::parse_json(&body)?;
                drop(body);
                state.check_target(&envelope)?;
                Ok((state.inner.loop_.decide(&envelope), envelope))
            })
            .await?;
        self.answer(decision, envelope).await
    }

    /// A service and environment the intent declares, or 422 with a suggestion.
    pub(crate) fn check_target(&self, envelope: &bearing_guard::Envelope) -> Result<(), ApiError> {
        let intent = self.inner.loop_.intent();
        intent
            .check_target(&envelope.service, &envelope.environment)
            .map_err(|e| {
                let field = match e {
                    bearing_intent::TargetError::UnknownService { .. } => "service",
                    bearing_intent::TargetError::UnknownEnvironment { .. } => "environment",
                };
                ApiError::invalid(e.to_string()).with_details(serde_json::json!({
                    "field": field,
                    "suggestion": e.suggestion(),
                }))
            })
    }

    /// Whether a decision is cheap enough for the request's own task: no
    /// attachments, and no custom Rego guardrail may apply to its service.
    fn is_cheap(&self, envelope: &bearing_guard::Envelope) -> bool {
        envelope.attachments.is_empty() && !self.inner.loop_.has_custom_rego(&envelope.service)
    }

    /// Runs `work` on a blocking thread of the evaluation pool once one of
    /// its `eval_workers` permits is free, so a slow policy or a large
    /// attachment never holds an async worker. While `eval_queue` callers
    /// already wait, the next is refused with 503 and `Retry-After`. The
    /// permit goes with the work: a caller that goes away does not free it
    /// before the evaluation ends.
    pub async fn evaluate<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = &self.inner.eval;
        let t = &self.inner.telemetry;
        let permit = match pool.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let waiting = Waiting(&pool.waiting);
                if pool.waiting.fetch_add(1, Ordering::Relaxed) >= pool.queue {
                    drop(waiting);
                    t.evaluations_rejected.fetch_add(1, Ordering::Relaxed);
                    return Err(ApiError::busy(
                        "every evaluation worker is busy and the queue is full; retry shortly",
                    ));
                }
                let permit = pool.permits.clone().acquire_owned().await;
                drop(waiting);
                permit.map_err(|_| ApiError::unavailable("the server is shutting down"))?
            }
        };
        t.evaluations_pooled.fetch_add(1, Ordering::Relaxed);
        let run = tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        });
        match run.await {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(error = %e, "an evaluation failed");
                Err(ApiError::internal("the evaluation failed unexpectedly"))
            }
        }
    }

    /// Encodes the answer, counts the decision and queues it for the log.
    async fn answer(
        &self,
        decision: bearing_guard::Decision,
        envelope: bearing_guard::Envelope,
    ) -> Result<Decided, ApiError> {
        let json = serde_json::to_vec(&decision)
            .map_err(|e| ApiError::internal(format!("cannot encode the decision: {e}")))?;
        let result = decision.result;
        self.inner.telemetry.decision(result.name());
        if self.inner.log_rate.admit(decision.time.timestamp()) {
            self.log_decision(LogMsg::Decision(Box::new((decision, envelope))))
                .await;
        } else {
            self.inner
                .telemetry
                .decision_log_rate_limited
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(Decided { result, json })
    }

    /// Runs reconcile as of an earlier time (used by `bearing demo` to show
    /// actions whose effect has already been measured).
    pub async fn reconcile_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<serde_json::Value, ApiError> {
        let (report, pass) = self.inner.loop_.reconcile_at(at).await?;
        self.refresh().await?;
        self.notify(Some(pass));
        Ok(report)
    }

    /// Queues a decision for the log. When the queue is full the caller
    /// waits for room, up to `Options::log_wait` (counted in `/metrics`); after
    /// that, or when the writer is gone, the decision is dropped from the log
    /// (never from the answer), counted, and a warning is logged at the 1st,
    /// 2nd, 4th, 8th... drop.
    async fn log_decision(&self, msg: LogMsg) {
        let t = &self.inner.telemetry;
        let sent = match self.inner.log_tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(msg)) => {
                t.decision_log_waited.fetch_add(1, Ordering::Relaxed);
                matches!(
                    tokio::time::timeout(self.inner.log_wait, self.inner.log_tx.send(msg)).await,
                    Ok(Ok(()))
                )
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        };
        if !sent {
            let dropped = t.decision_log_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    capacity = self.inner.log_tx.max_capacity(),
                    "decision log queue stayed full: decisions are answered but not logged"
                );
            }
        }
    }

    /// Waits until every decision queued so far is written.
    pub async fn flush_decisions(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.log_tx.send(LogMsg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Drains the decision-log queue into the store, one transaction per batch
/// of up to [`LOG_BATCH`] decisions. Batches are pipelined: while one is
/// being written (mostly waiting on the store's fsync), the next one is
/// collected and encoded, so the log keeps up with the answers by writing
/// larger batches rather than by making the queue wait. A flush request is
/// answered once everything queued before it is written.
async fn decision_writer(state: AppState, mut rx: mpsc::Receiver<LogMsg>) {
    // Holds only a weak interest in the state: the writer ends when every
    // sender (the state's) is gone.
    let store = state.inner.store.clone();
    let bus = state.inner.bus.clone();
    let weak = Arc::downgrade(&state.inner);
    drop(state);
    let mut writing: Option<tokio::task::JoinHandle<()>> = None;
    let mut msgs = Vec::with_capacity(LOG_BATCH);
    while rx.recv_many(&mut msgs, LOG_BATCH).await > 0 {
        // Let the batch fill for a moment: a few large transactions cost the
        // store far less than many small ones. A flush ends the wait.
        let deadline = tokio::time::Instant::now() + LOG_LINGER;
        let is_flush = |m: &LogMsg| matches!(m, LogMsg::Flush(_));
        let mut flush = msgs.iter().any(is_flush);
        while !flush && msgs.len() < LOG_BATCH {
            let (seen, room) = (msgs.len(), LOG_BATCH - msgs.len());
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut msgs, room)).await {
                Ok(n) if n > 0 => flush = msgs[seen..].iter().any(is_flush),
                _ => break,
            }
        }
        let mut pending = Vec::with_capacity(msgs.len());
        for msg in msgs.drain(..) {
            match msg {
                LogMsg::Decision(d) => pending.push(d),
                LogMsg::Flush(done) => {
                    let batch = encode(std::mem::take(&mut pending), &weak).await;
                    finish(writing.take()).await;
                    write_decisions(store.clone(), bus.clone(), weak.clone(), batch).await;
                    let _ = done.send(());
                }
            }
        }
        // Encoded while the previous batch is still being written.
        let batch = encode(pending, &weak).await;
        finish(writing.take()).await;
        if !batch.is_empty() {
            writing = Some(tokio::spawn(write_decisions(
                store.clone(),
                bus.clone(),
                weak.clone(),
                batch,
            )));
        }
    }
    finish(writing).await;
}

/// Waits for the batch being written, if any.
async fn finish(writing: Option<tokio::task::JoinHandle<()>>) {
    if let Some(w) = writing
        && let Err(e) = w.await
    {
        tracing::error!(error = %e, "the decision-log write task failed");
    }
}

type Logged = Box<(bearing_guard::Decision, bearing_guard::Envelope)>;

/// Encodes decisions for the log on a blocking thread, so that a batch does
/// not hold up the requests waiting on a runtime worker.
async fn encode(decisions: Vec<Logged>, weak: &std::sync::Weak<Shared>) -> Vec<EncodedDecision> {
    if decisions.is_empty() {
        return Vec::new();
    }
    let n = decisions.len() as u64;
    let work = move || {
        decisions
            .into_iter()
            .map(|d| {
                let (mut decision, envelope) = *d;
                // The log keeps the shared context once, apart from the record.
                let context = std::mem::take(&mut decision.context);
                EncodedDecision {
                    summary: decision.summary(&envelope),
                    record: bearing_guard::record_json(&decision, &envelope),
                    context: (!context.is_null()).then(|| SharedContext {
                        digest: context.digest().clone(),
                        body: context.text().clone(),
                    }),
                }
            })
            .collect()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(batch) => batch,
        Err(e) => {
            tracing::error!(error = %e, count = n, "cannot encode decisions for the log");
            if let Some(shared) = weak.upgrade() {
                shared
                    .telemetry
                    .decision_log_dropped
                    .fetch_add(n, Ordering::Relaxed);
            }
            Vec::new()
        }
    }
}

/// Stores `batch` in one transaction. If the batch fails, each
/// decision is retried alone so one bad record cannot lose the others.
/// With a bus, the batch is published instead (the replicas' consumers
/// store it), and written here only when the bus does not take it.
async fn write_decisions(
    store: DynStore,
    bus: Option<bearing_bus::Bus>,
    weak: std::sync::Weak<Shared>,
    batch: Vec<EncodedDecision>,
) {
    if batch.is_empty() {
        return;
    }
    let (mut written, mut failed) = (0, 0);
    let start = Instant::now();
    if let Some(bus) = bus {
        match bus.publish_decisions(&batch).await {
            Ok(_) => {
                if let Some(shared) = weak.upgrade() {
                    let t = &shared.telemetry;
                    t.decision_log_written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, count = batch.len(), "the bus did not take the decision batch; writing it to the store");
            }
        }
    }
    match store.put_decisions(&batch).await {
        Ok(()) => {
            written = batch.len() as u64;
            tracing::debug!(count = written, elapsed = ?start.elapsed(), "decision batch written");
        }
        Err(e) => {
            tracing::warn!(error = %e, count = batch.len(), "cannot log decision batch; retrying one by one");
            for d in batch.iter() {
                match store.put_decisions(std::slice::from_ref(d)).await {
                    Ok(()) => written += 1,
                    Err(e) => {
                        failed += 1;
                        tracing::error!(error = %e, id = %d.summary.id, "cannot log decision");
                    }
                }
            }
        }
    }
    if let Some(shared) = weak.upgrade() {
        let t = &shared.telemetry;
        t.decision_log_written.fetch_add(written, Ordering::Relaxed);
        t.decision_log_dropped.fetch_add(failed, Ordering::Relaxed);
    }
}

/// Counts and times every request by its route template.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    state.telemetry().observe(
        method.as_str(),
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        res.status().as_u16(),
        start.elapsed(),
    );
    res
}

/// The whole HTTP surface: API, dashboard, metrics, health.
pub fn app(state: AppState) -> Router {
    let limit = state.inner.body_limit;
    let timeout = state.inner.request_timeout;
    // Layers run outside in, from the last added: errors shaped, the request
    // counted, the token checked, then the body limited and read.
    Router::new()
        .merge(api::routes())
        .merge(dashboard::routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests,
/// flushes the decision log and returns.
pub async fn serve(config: Config) -> Result<(), ServerError> {
    let intent = bearing_intent::load(&config.intent)
        .map_err(|e| ServerError::Intent(intent_error(&config.intent, &e)))?;
    let store = bearing_store::open(&config.database).await?;
    let bus = match config.bus.clone() {
        Some(c) => Some(bearing_bus::Bus::connect(c).await?),
        None => None,
    };
    let state = AppState::new(
        store,
        intent,
        Options {
            auth: config.auth,
            github_secret: config.github_secret.clone(),
            refresh: config.refresh,
            body_limit: config.body_limit,
            log_max_rate: config.log_max_rate,
            request_timeout: config.request_timeout,
            eval_workers: config.eval_workers,
            bus,
            ..Options::default()
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let feeds = spawn_threat_feeds(state.clone(), config.threat_feeds, config.threat_every);
    let served = run_with(
        state,
        listener,
        config.reconcile,
        config.limits.fitted(),
        shutdown_signal(),
    )
    .await;
    if let Some(f) = feeds {
        f.abort();
    }
    served
}

/// Fetches the threat feeds now and then every `every`, on their own task:
/// an unreachable feed is logged (`cannot fetch the threat feed …`) and tried
/// again at the next round; the snapshot refresh picks up what changed.
fn spawn_threat_feeds(
    state: AppState,
    urls: Vec<String>,
    every: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if urls.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            threat::fetch_all(state.store(), &urls).await;
        }
    }))
}

/// Serves on a bound listener with the default [`listen::Limits`] until
/// `shutdown` completes (used by `bearing demo` and the tests).
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    reconcile: Option<Duration>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let limits = listen::Limits::default().fitted();
    run_with(state, listener, reconcile, limits, shutdown).await
}

/// [`run`] with the given connection limits.
pub async fn run_with(
    state: AppState,
    listener: tokio::net::TcpListener,
    reconcile: Option<Duration>,
    limits: listen::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let bg = spawn_background(state.clone(), reconcile, stop_rx.clone());
    let sync = spawn_prometheus_sync(state.clone(), stop_rx.clone());
    let bus = match state.bus() {
        Some(bus) => Some((
            bus.run_consumers(state.store().clone(), stop_rx.clone()),
            spawn_refresh_on_signal(state.clone(), bus.clone(), stop_rx).await?,
        )),
        None => None,
    };
    tracing::info!(addr = %listener.local_addr()?, "listening");
    listen::serve(state.clone(), listener, limits, shutdown).await?;
    let _ = stop_tx.send(true);
    let _ = bg.await;
    if let Some((consumers, refresh)) = bus {
        let _ = consumers.await;
        let _ = refresh.await;
    }
    if let Some(sync) = sync {
        let _ = sync.await;
    }
    state.flush_decisions().await;
    tracing::info!("stopped");
    Ok(())
}

fn spawn_background(
    state: AppState,
    reconcile: Option<Duration>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut refresh = tokio::time::interval(state.refresh_interval());
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        refresh.tick().await;
        let mut reconcile_tick = reconcile.map(|d| {
            let mut i = tokio::time::interval(d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        loop {
            let next_reconcile = async {
                match reconcile_tick.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => break,
                _ = refresh.tick() => {
                    match state.refresh().await {
                        Ok(()) => state.notify(None),
                        Err(e) => tracing::warn!(error = %e, "snapshot refresh failed"),
                    }
                }
                () = next_reconcile => {
                    if let Err(e) = state.reconcile().await {
                        tracing::warn!(error = %e, "scheduled reconcile failed");
                    }
                }
            }
        }
    })
}

/// Reloads the snapshot when any replica signals on the bus that it stored
/// something; signals that arrive during a reload make one more reload.
async fn spawn_refresh_on_signal(
    state: AppState,
    bus: bearing_bus::Bus,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    use futures::{FutureExt as _, StreamExt as _};
    let mut signals = bus.refresh_signals().await?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                signal = signals.next() => {
                    if signal.is_none() {
                        break;
                    }
                    while let Some(Some(_)) = signals.next().now_or_never() {}
                    if let Err(e) = state.refresh().await {
                        tracing::warn!(error = %e, "snapshot refresh on a bus signal failed");
                    }
                }
            }
        }
    }))
}

/// The Prometheus sync on its own task, so a slow or unreachable Prometheus
/// delays neither the snapshot refresh nor any request: it reads each SLO's
/// new intervals as they become readable and backs off after failures
/// ([`bearing_prometheus::schedule`]).
fn spawn_prometheus_sync(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let scheduler = state.prometheus()?.clone();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(scheduler.tick());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {
                    let store = state.store().clone();
                    scheduler.run_due(&store, chrono::Utc::now()).await;
                }
            }
        }
    }))
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// The intent's errors, one per line.
pub fn intent_error(path: &std::path::Path, e: &bearing_intent::LoadError) -> String {
    match e {
        bearing_intent::LoadError::Invalid(diags) => {
            let mut s = format!("`{}` is not a valid intent:", path.display());
            for d in diags {
                s.push_str("\n  ");
                s.push_str(&d.to_string());
            }
            s
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn rate_limit_admits_at_most_max_per_second() {
        let limit = RateLimit::new(Some(2));
        let admitted: Vec<bool> = [5, 5, 5, 6, 6, 6, 4].map(|s| limit.admit(s)).to_vec();
        // An earlier second (a late clock) counts against the current one.
        assert_eq!(admitted, [true, true, false, true, true, false, false]);
        let all = RateLimit::new(None);
        assert!((0..100).all(|_| all.admit(1)));
    }
}
