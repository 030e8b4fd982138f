//! The embedded backend: one SQLite file in WAL mode.
//!
//! Durability: `synchronous=FULL`, so a commit is fsynced to the WAL before
//! [`Store::ingest`] returns; what was acknowledged survives `kill -9` and
//! power loss. Events are clustered by an increasing integer key (appends to
//! the b-tree) with a unique index on the source id, and inserted with
//! multi-row statements: every statement is a round trip to sqlx's SQLite
//! worker thread, so rows per statement is what sets the ingest rate.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bearing_events::{Action, DecisionRecord, DecisionSummary, DeliveryPlan, Event};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::codec::{self, FINDING_COLUMNS, FINDING_UPSERT, FINDING_UPSERT_TAIL};
use crate::lifecycle::{self, Report};
use crate::{
    DecisionQuery, EncodedDecision, EventQuery, FindingQuery, FindingState, IngestOutcome, Result,
    Snapshot, Store, StoreError, SyncCursor, TokenRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Rows per multi-row `INSERT` (7 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 500;
/// Whether a multi-row statement has [`ROWS_PER_STATEMENT`] rows: only those
/// are kept prepared (their SQL is always the same, so parsing it once saves
/// a few percent of a bulk ingest); shorter ones would fill the statement
/// cache with one-off statements.
fn full<T>(rows: &[T]) -> bool {
    rows.len() == ROWS_PER_STATEMENT
}

/// Page cache per connection, in KiB (SQLite's default is 2 MiB). 16 MiB
/// ingests and loads as fast as 64 MiB did (measured in docs/storage.md)
/// with less memory per connection.
const CACHE_KIB: i64 = 16 * 1024;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Taken by every write: SQLite has one writer at a time, and a second
    /// connection that tries to write waits in SQLite's busy handler, which
    /// sleeps in steps of up to 100 ms. Queued here, writers take turns as
    /// soon as the lock is free (requests ingesting at once: p99 in the
    /// hundreds of ms without it).
    write: Arc<tokio::sync::Mutex<()>>,
    /// Small ingest batches waiting for the write lock: whoever takes the
    /// lock stores all of them in one transaction (group commit).
    pending: Arc<std::sync::Mutex<Vec<Job>>>,
}

/// A caller's ingest batch, stored by whichever caller takes the write lock.
#[derive(Debug)]
struct Job {
    events: Vec<Event>,
    done: tokio::sync::oneshot::Sender<Result<IngestOutcome>>,
}

fn lock(pending: &std::sync::Mutex<Vec<Job>>) -> std::sync::MutexGuard<'_, Vec<Job>> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn outcome(events: &[Event], accepted: u64) -> IngestOutcome {
    IngestOutcome {
        accepted,
        duplicates: events.len() as u64 - accepted,
    }
}

/// How often opening a file retries a lock another process holds.
const RETRIES: u32 = 8;

/// 50, 100, 150 … ms: 1.8 s over all retries, on top of the busy timeout.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50 * u64::from(attempt))
}

/// SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED`, as sqlx words them.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("(code: 5)")
        || message.contains("(code: 6)")
        || message.contains("busy")
}

/// Brings the schema up to date, once however many processes open the file
/// at the same time.
///
/// sqlx's migrator takes no lock on SQLite, so two processes opening a new
/// file would both see no migration applied and both run `0001` (`table
/// events already exists`). Here the whole run is one `BEGIN EXCLUSIVE`
/// transaction (each migration a savepoint inside it): the second opener
/// waits for the first (busy timeout) and then finds everything applied. A
/// lock that cannot be had is retried a few times.
async fn migrate(pool: &SqlitePool) -> std::result::Result<(), String> {
    let mut attempt = 0;
    loop {
        let run = async {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN EXCLUSIVE")
                .await
                .map_err(|e| e.to_string())?;
            // `run_direct` is `run` without the `Acquire` bound that makes the
            // future not `Send` (sqlx's own workaround for that).
            MIGRATOR
                .run_direct(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())
        };
        match run.await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < RETRIES && is_busy(&e) => {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

impl SqliteStore {
    /// Opens (creating and migrating) the database file at `path`; `:memory:`
    /// gives a private in-memory database.
    pub async fn open(path: &str) -> Result<SqliteStore> {
        let memory = path == ":memory:";
        let options = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new().filename(path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", (-CACHE_KIB).to_string())
            .pragma("temp_store", "memory")
            // Checkpoint the WAL every ~40 MB instead of every ~4 MB: a page
            // written by many transactions (an index's last leaf) is copied
            // to the database once per checkpoint; bulk ingest +5-9%.
            .pragma("wal_autocheckpoint", "10000");
        let pool_options = || {
            SqlitePoolOptions::new()
                .max_connections(if memory { 1 } else { 4 })
                .min_connections(if memory { 1 } else { 0 })
                .idle_timeout(if memory {
                    None
                } else {
                    Some(Duration::from_secs(600))
                })
                .max_lifetime(if memory {
                    None
                } else {
                    Some(Duration::from_secs(3600))
                })
        };
        // A new file is switched to WAL by its first connection; another
        // process doing the same at that moment gets `database is locked`
        // without SQLite's busy handler being asked, so that is retried.
        let mut attempt = 0;
        let pool = loop {
            match pool_options().connect_with(options.clone()).await {
                Ok(pool) => break pool,
                Err(err) if attempt < RETRIES && is_busy(&err.to_string()) => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => {
                    return Err(StoreError::Database(format!("opening `{path}`: {err}")));
                }
            }
        };
        migrate(&pool)
            .await
            .map_err(|err| StoreError::Database(format!("migrating `{path}`: {err}")))?;
        Ok(SqliteStore {
            pool,
            write: Arc::default(),
            pending: Arc::default(),
        })
    }

    /// The connection pool, for queries the trait does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs `PRAGMA integrity_check`; an error lists what SQLite found wrong.
    pub async fn check_integrity(&self) -> Result<()> {
        let report: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        if report.len() == 1 && report[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Database(format!(
                "integrity check failed: {}",
                report.join("; ")
            )))
        }
    }

    /// Inserts checked `events` in `tx`, folding their findings in; returns
    /// how many were new.
    async fn insert_events(tx: &mut Transaction<'_, Sqlite>, events: &[Event]) -> Result<u64> {
        let reports = lifecycle::reports(events);
        let mut chunks = events.chunks(ROWS_PER_STATEMENT);
        let mut rows = codec::encode(0, chunks.next().unwrap_or_default())?;
        let mut next_first = rows.len();
        let mut accepted = 0;
        loop {
            // Encode the next chunk on this thread while sqlx's worker thread
            // inserts this one (`join` polls the insert first, which hands
            // the statement to the worker, then runs the encoding).
            let next = chunks.next();
            let (done, encoded) = {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO events (id, kind, source, service, environment, time, payload) ",
                );
                q.push_values(&rows, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(r.kind)
                        .push_bind(r.source)
                        .push_bind(r.service)
                        .push_bind(r.environment)
                        .push_bind(r.time)
                        .push_bind(&r.payload);
                });
                q.push(" ON CONFLICT (id) DO NOTHING");
                let insert = q.build().persistent(full(&rows)).execute(&mut **tx);
                let encode = async { next.map(|c| codec::encode(next_first, c)).transpose() };
                futures::future::join(insert, encode).await
            };
            accepted += done?.rows_affected();
            match encoded? {
                Some(more) => {
                    next_first += more.len();
                    rows = more;
                }
                None => break,
            }
        }
        if !reports.is_empty() {
            Self::update_findings(tx, &reports).await?;
        }
        Ok(accepted)
    }

    /// One batch in a transaction of its own.
    async fn ingest_alone(pool: &SqlitePool, events: &[Event]) -> Result<IngestOutcome> {
        let mut tx = pool.begin().await?;
        let accepted = Self::insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(outcome(events, accepted))
    }

    /// Several callers' batches in one transaction, so one commit (and one
    /// fsync) stores them all, in the order they came; each caller gets its
    /// own outcome. If the transaction fails, each batch is stored alone, so
    /// a batch the database refuses fails only its own caller.
    async fn ingest_group(pool: &SqlitePool, jobs: Vec<Job>) {
        if let [_] = jobs.as_slice() {
            for job in jobs {
                let _ = job.done.send(Self::ingest_alone(pool, &job.events).await);
            }
            return;
        }
        let together = async {
            let mut tx = pool.begin().await?;
            let mut accepted = Vec::with_capacity(jobs.len());
            for job in &jobs {
                accepted.push(Self::insert_events(&mut tx, &job.events).await?);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(accepted)
        };
        match together.await {
            Ok(accepted) => {
                for (job, n) in jobs.into_iter().zip(accepted) {
                    let _ = job.done.send(Ok(outcome(&job.events, n)));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, batches = jobs.len(), "group ingest failed; storing each batch alone");
                for job in jobs {
                    let _ = job.done.send(Self::ingest_alone(pool, &job.events).await);
                }
            }
        }
    }

    async fn update_findings(
        tx: &mut Transaction<'_, Sqlite>,
        reports: &[Report<'_>],
    ) -> Result<()> {
        let targets: Vec<String> = lifecycle::targets(reports).into_iter().collect();
        let mut states = BTreeMap::new();
        for chunk in targets.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {FINDING_COLUMNS} FROM findings WHERE target IN ("
            ));
            let mut sep = q.separated(", ");
            for t in chunk {
                sep.push_bind(t.as_str());
            }
            q.push(")");
            let rows: Vec<codec::FindingRow> = q.build_query_as().fetch_all(&mut **tx).await?;
            for row in rows {
                let state = codec::decode_finding(row)?;
                states.insert(state.key.clone(), state);
            }
        }
        let changed = lifecycle::apply(&mut states, reports);
        let rows = changed
            .iter()
            .filter_map(|k| states.get(k))
            .map(codec::encode_finding)
            .collect::<Result<Vec<_>>>()?;
        for chunk in rows.chunks(100) {
            let mut q = QueryBuilder::<Sqlite>::new(FINDING_UPSERT);
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.key)
                    .push_bind(&r.target)
                    .push_bind(&r.service)
                    .push_bind(&r.finding)
                    .push_bind(&r.scanners)
                    .push_bind(&r.event_ids)
                    .push_bind(r.first_seen)
                    .push_bind(r.last_seen)
                    .push_bind(r.fixed_at);
            });
            q.push(FINDING_UPSERT_TAIL);
            q.build().persistent(false).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, events: &[Event]) -> Result<IngestOutcome> {
        if events.is_empty() {
            return Ok(IngestOutcome::default());
        }
        codec::check_all(events)?;
        if events.len() >= ROWS_PER_STATEMENT {
            // A bulk batch is a transaction of its own, and is not copied.
            let _write = self.write.lock().await;
            return Self::ingest_alone(&self.pool, events).await;
        }
        let (done, mut result) = tokio::sync::oneshot::channel();
        lock(&self.pending).push(Job {
            events: events.to_vec(),
            done,
        });
        let write = self.write.clone().lock_owned().await;
        // A writer before us may have stored our batch with its own: it
        // answers every batch it took before it lets go of the lock.
        if let Ok(r) = result.try_recv() {
            return r;
        }
        let jobs = std::mem::take(&mut *lock(&self.pending));
        let pool = self.pool.clone();
        // Spawned, so that a caller that goes away (its connection closed)
        // cannot cancel the other callers' batches halfway.
        tokio::spawn(async move {
            Self::ingest_group(&pool, jobs).await;
            drop(write);
        });
        result
            .await
            .unwrap_or_else(|_| Err(StoreError::Database("the ingest was interrupted".into())))
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT payload FROM events WHERE 1 = 1");
        if !query.kinds.is_empty() {
            q.push(" AND kind IN (");
            let mut sep = q.separated(", ");
            for k in &query.kinds {
                sep.push_bind(k.name());
            }
            q.push(")");
        }
        if let Some(s) = &query.service {
            q.push(" AND service = ").push_bind(s);
        }
        if let Some(e) = &query.environment {
            q.push(" AND environment = ").push_bind(e);
        }
        if let Some(t) = query.since {
            q.push(" AND time >= ").push_bind(codec::ms(t));
        }
        if let Some(t) = query.until {
            q.push(" AND time < ").push_bind(codec::ms(t));
        }
        match query.limit {
            Some(n) => {
                q.push(" ORDER BY time DESC, seq DESC LIMIT ")
                    .push_bind(i64::try_from(n).unwrap_or(i64::MAX));
            }
            None => {
                q.push(" ORDER BY time, seq");
            }
        }
        let mut out = Vec::new();
        let mut rows = q.build_query_scalar::<String>().fetch(&self.pool);
        while let Some(payload) = rows.try_next().await? {
            out.push(codec::decode_event(&payload)?);
        }
        Ok(out)
    }

    async fn event(&self, id: &str) -> Result<Option<Event>> {
        let payload: Option<String> = sqlx::query_scalar("SELECT payload FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        payload.map(|p| codec::decode_event(&p)).transpose()
    }

    async fn count_events(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn events_after(&self, cursor: i64, limit: u64) -> Result<(Vec<Event>, i64)> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(cursor)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
        let next = rows.last().map_or(cursor, |(seq, _)| *seq);
        let events = rows
            .iter()
            .map(|(_, p)| codec::decode_event(p))
            .collect::<Result<Vec<_>>>()?;
        Ok((events, next))
    }

    async fn findings(&self, query: &FindingQuery) -> Result<Vec<FindingState>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE 1 = 1"
        ));
        if let Some(s) = &query.service {
            q.push(" AND service = ").push_bind(s);
        }
        if query.open_only {
            q.push(" AND fixed_at IS NULL");
        }
        q.push(" ORDER BY first_seen, key");
        let rows: Vec<codec::FindingRow> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::decode_finding).collect()
    }

    async fn put_decision(&self, d: &DecisionRecord) -> Result<()> {
        self.put_decisions(&[EncodedDecision::new(d)?]).await
    }

    async fn put_decisions(&self, decisions: &[EncodedDecision]) -> Result<()> {
        if decisions.is_empty() {
            return Ok(());
        }
        let summaries = decisions
            .iter()
            .map(|d| codec::summary_json(&d.summary))
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<_> = decisions.iter().zip(&summaries).collect();
        let contexts = codec::distinct_contexts(decisions);
        let _write = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for chunk in contexts.chunks(ROWS_PER_STATEMENT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO decision_contexts (digest, body) ");
            q.push_values(chunk, |mut b, c| {
                b.push_bind(&*c.digest).push_bind(&*c.body);
            });
            q.push(" ON CONFLICT (digest) DO NOTHING");
            q.build().persistent(false).execute(&mut *tx).await?;
        }
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO decisions (id, time, service, environment, result, record, summary, context) ",
            );
            q.push_values(chunk, |mut b, (d, summary)| {
                let s = &d.summary;
                b.push_bind(&s.id)
                    .push_bind(codec::ms(s.time))
                    .push_bind(&s.service)
                    .push_bind(&s.environment)
                    .push_bind(&s.result)
                    .push_bind(&d.record)
                    .push_bind(*summary)
                    .push_bind(d.context.as_ref().map(|c| &*c.digest));
            });
            q.push(" ON CONFLICT (id) DO NOTHING");
            q.build().persistent(full(chunk)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>> {
        let mut q = QueryBuilder::<Sqlite>::new(codec::DECISION_SELECT);
        q.push(" AND d.id = ").push_bind(id);
        let row: Option<(String, String, Option<String>)> =
            q.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|(_, r, c)| codec::decode_decision(id, &r, c.as_deref()))
            .transpose()
    }

    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>> {
        let mut q = codec::decisions_query::<Sqlite>(query);
        let rows: Vec<(String, String, Option<String>)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|(id, r, c)| codec::decode_decision(id, r, c.as_deref()))
            .collect()
    }

    async fn decision_summaries(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DecisionSummary, u64)>> {
        let mut q = codec::summaries_query::<Sqlite>(from, to);
        let rows: Vec<codec::SummaryRow> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::decode_summary).collect()
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let _write = self.write.lock().await;
        sqlx::query(
            "INSERT INTO snapshots (name, computed_at, cursor, body) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET computed_at = excluded.computed_at, \
             cursor = excluded.cursor, body = excluded.body",
        )
        .bind(&snapshot.name)
        .bind(codec::ms(snapshot.computed_at))
        .bind(snapshot.cursor)
        .bind(codec::to_json(&snapshot.name, &snapshot.body)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn snapshot(&self, name: &str) -> Result<Option<Snapshot>> {
        let row: Option<(i64, i64, String)> =
            sqlx::query_as("SELECT computed_at, cursor, body FROM snapshots WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(at, cursor, body)| {
            Ok(Snapshot {
                name: name.to_string(),
                computed_at: codec::from_ms(name, at)?,
                cursor,
                body: codec::from_json(name, &body)?,
            })
        })
        .transpose()
    }

    async fn event_cursor(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn plans(&self) -> Result<Vec<DeliveryPlan>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT service, record FROM plans ORDER BY service")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(id, r)| codec::from_json(id, r)).collect()
    }

    async fn put_plan(&self, plan: &DeliveryPlan) -> Result<()> {
        let _write = self.write.lock().await;
        sqlx::query(
            "INSERT INTO plans (service, updated_at, record) VALUES (?, ?, ?) \
             ON CONFLICT (service) DO UPDATE SET updated_at = excluded.updated_at, record = excluded.record",
        )
        .bind(&plan.service)
        .bind(codec::ms(plan.updated_at))
        .bind(codec::to_json(&plan.service, plan)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn put_action(&self, a: &Action) -> Result<()> {
        let _write = self.write.lock().await;
        let status = codec::to_json(&a.id, &a.status)?;
        sqlx::query(
            "INSERT INTO actions (id, created_at, service, status, record) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, \
             service = excluded.service, status = excluded.status, record = excluded.record",
        )
        .bind(&a.id)
        .bind(codec::ms(a.created_at))
        .bind(&a.service)
        .bind(status.trim_matches('"'))
        .bind(codec::to_json(&a.id, a)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn actions(&self) -> Result<Vec<Action>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, record FROM actions ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(id, r)| codec::from_json(id, r)).collect()
    }

    async fn put_token(&self, t: &TokenRecord) -> Result<()> {
        let _write = self.write.lock().await;
        sqlx::query(
            "INSERT INTO tokens (id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash, \
             scopes = excluded.scopes, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, last_used_at = excluded.last_used_at, \
             revoked_at = excluded.revoked_at",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(codec::to_json(&t.id, &t.scopes)?)
        .bind(codec::ms(t.created_at))
        .bind(t.expires_at.map(codec::ms))
        .bind(t.last_used_at.map(codec::ms))
        .bind(t.revoked_at.map(codec::ms))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let row: Option<codec::TokenRow> = sqlx::query_as(&format!(
            "SELECT {} FROM tokens WHERE hash = ?",
            codec::TOKEN_COLUMNS
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(codec::decode_token).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows: Vec<codec::TokenRow> = sqlx::query_as(&format!(
            "SELECT {} FROM tokens ORDER BY created_at, id",
            codec::TOKEN_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(codec::decode_token).collect()
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let _write = self.write.lock().await;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
                .bind(codec::ms(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let _write = self.write.lock().await;
        sqlx::query("UPDATE tokens SET last_used_at = ? WHERE id = ?")
            .bind(codec::ms(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_generation(&self) -> Result<String> {
        let (generation,): (String,) = sqlx::query_as(
            "SELECT COUNT(*) || ':' || COALESCE(SUM(created_at), 0) || ':' || COALESCE(SUM(expires_at), 0) || ':' || COALESCE(SUM(revoked_at), 0) FROM tokens",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(generation)
    }

    async fn sync_cursor(
        &self,
        source: &str,
        scope: &str,
        resource: &str,
    ) -> Result<Option<SyncCursor>> {
        let mut q = codec::sync_cursor_query::<Sqlite>(source, scope, resource);
        let row: Option<codec::SyncCursorRow> =
            q.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|r| codec::decode_sync_cursor(source, scope, resource, r))
            .transpose()
    }

    async fn put_sync_cursor(&self, cursor: &SyncCursor) -> Result<()> {
        let _write = self.write.lock().await;
        codec::put_sync_cursor_query::<Sqlite>(cursor)
            .build()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_notification(&self, record: &crate::NotificationRecord) -> Result<bool> {
        let _write = self.write.lock().await;
        let done = codec::claim_notification_query::<Sqlite>(record)
            .build()
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_notification_status(
        &self,
        key: &str,
        status: crate::NotificationStatus,
        attempts: u32,
        last_error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let _write = self.write.lock().await;
        codec::notification_status_query::<Sqlite>(key, status, attempts, last_error, at)
            .build()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn notifications(&self, limit: u64) -> Result<Vec<crate::NotificationRecord>> {
        let mut q = codec::notifications_query::<Sqlite>(limit);
        let rows: Vec<codec::NotificationRow> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::decode_notification).collect()
    }
}
