//! The shared backend: Postgres, for several `bearing serve` replicas.
//!
//! Same schema and semantics as SQLite (times in BIGINT milliseconds, events
//! as JSON text). Ingest sends each batch as column arrays (`UNNEST`), one
//! statement per few thousand rows, and takes a transaction-scoped advisory
//! lock first so concurrent ingests from several replicas commit one after
//! the other: `seq` order is then commit order and an `events_after` cursor
//! never skips a row that commits late.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bearing_events::{Action, DecisionRecord, DecisionSummary, DeliveryPlan, Event};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::codec::{self, FINDING_COLUMNS, FINDING_UPSERT, FINDING_UPSERT_TAIL};
use crate::lifecycle::{self, Report};
use crate::{
    DecisionQuery, EncodedDecision, EventQuery, FindingQuery, FindingState, IngestOutcome, Result,
    Snapshot, Store, StoreError, SyncCursor, TokenRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Rows per `INSERT … SELECT FROM UNNEST(…)` statement.
const ROWS_PER_STATEMENT: usize = 5_000;
/// Key of the advisory lock that serialises ingest transactions.
const INGEST_LOCK: i64 = 0x0062_6561_7269_6e67;

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and migrates the schema (concurrent migrations from
    /// several replicas are serialised by sqlx's advisory lock).
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|err| StoreError::Database(format!("bad Postgres URL: {err}")))?;
        PostgresStore::open_with(options).await
    }

    /// Connects with explicit options (e.g. a `search_path` for a schema).
    pub async fn open_with(options: PgConnectOptions) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|err| StoreError::Database(format!("connecting to Postgres: {err}")))?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for queries the trait does not cover.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn update_findings(
        tx: &mut Transaction<'_, Postgres>,
        reports: &[Report<'_>],
    ) -> Result<()> {
        let targets: Vec<String> = lifecycle::targets(reports).into_iter().collect();
        let mut states = BTreeMap::new();
        let rows: Vec<codec::FindingRow> = sqlx::query_as(&format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE target = ANY($1)"
        ))
        .bind(&targets)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let state = codec::decode_finding(row)?;
            states.insert(state.key.clone(), state);
        }
        let changed = lifecycle::apply(&mut states, reports);
        let rows = changed
            .iter()
            .filter_map(|k| states.get(k))
            .map(codec::encode_finding)
            .collect::<Result<Vec<_>>>()?;
        for chunk in rows.chunks(1000) {
            let mut q = QueryBuilder::<Postgres>::new(FINDING_UPSERT);
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
impl Store for PostgresStore {
    async fn ingest(&self, events: &[Event]) -> Result<IngestOutcome> {
        if events.is_empty() {
            return Ok(IngestOutcome::default());
        }
        codec::check_all(events)?;
        let rows = codec::encode(0, events)?;
        let reports = lifecycle::reports(events);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INGEST_LOCK)
            .execute(&mut *tx)
            .await?;
        let mut accepted = 0;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let ids: Vec<&str> = chunk.iter().map(|r| r.id).collect();
            let kinds: Vec<&str> = chunk.iter().map(|r| r.kind).collect();
            let sources: Vec<&str> = chunk.iter().map(|r| r.source).collect();
            let services: Vec<Option<&str>> = chunk.iter().map(|r| r.service).collect();
            let envs: Vec<Option<&str>> = chunk.iter().map(|r| r.environment).collect();
            let times: Vec<i64> = chunk.iter().map(|r| r.time).collect();
            let payloads: Vec<&str> = chunk.iter().map(|r| r.payload.as_str()).collect();
            accepted += sqlx::query(
                "INSERT INTO events (id, kind, source, service, environment, time, payload) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::int8[], $7::text[]) ON CONFLICT (id) DO NOTHING",
            )
            .bind(ids)
            .bind(kinds)
            .bind(sources)
            .bind(services)
            .bind(envs)
            .bind(times)
            .bind(payloads)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        if !reports.is_empty() {
            Self::update_findings(&mut tx, &reports).await?;
        }
        tx.commit().await?;
        Ok(IngestOutcome {
            accepted,
            duplicates: events.len() as u64 - accepted,
        })
    }

    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let mut q = QueryBuilder::<Postgres>::new("SELECT payload FROM events WHERE 1 = 1");
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
        let payload: Option<String> =
            sqlx::query_scalar("SELECT payload FROM events WHERE id = $1")
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
            sqlx::query_as("SELECT seq, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
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
        let mut q = QueryBuilder::<Postgres>::new(format!(
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
        let contexts = codec::distinct_contexts(decisions);
        let mut tx = self.pool.begin().await?;
        // Column arrays through UNNEST, like events: one short statement
        // that stays prepared, however many rows.
        for chunk in contexts.chunks(ROWS_PER_STATEMENT) {
            let digests: Vec<&str> = chunk.iter().map(|c| &*c.digest).collect();
            let bodies: Vec<&str> = chunk.iter().map(|c| &*c.body).collect();
            sqlx::query(
                "INSERT INTO decision_contexts (digest, body) \
                 SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digests)
            .bind(bodies)
            .execute(&mut *tx)
            .await?;
        }
        for (chunk, summaries) in decisions
            .chunks(ROWS_PER_STATEMENT)
            .zip(summaries.chunks(ROWS_PER_STATEMENT))
        {
            let column = |f: fn(&EncodedDecision) -> Option<&str>| -> Vec<Option<&str>> {
                chunk.iter().map(f).collect()
            };
            sqlx::query(
                "INSERT INTO decisions (id, time, service, environment, result, record, summary, context) \
                 SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::text[]) ON CONFLICT (id) DO NOTHING",
            )
            .bind(column(|d| Some(&d.summary.id)))
            .bind(chunk.iter().map(|d| codec::ms(d.summary.time)).collect::<Vec<_>>())
            .bind(column(|d| d.summary.service.as_deref()))
            .bind(column(|d| d.summary.environment.as_deref()))
            .bind(column(|d| Some(&d.summary.result)))
            .bind(column(|d| Some(&d.record)))
            .bind(summaries)
            .bind(column(|d| d.context.as_ref().map(|c| &*c.digest)))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>> {
        let mut q = QueryBuilder::<Postgres>::new(codec::DECISION_SELECT);
        q.push(" AND d.id = ").push_bind(id);
        let row: Option<(String, String, Option<String>)> =
            q.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|(_, r, c)| codec::decode_decision(id, &r, c.as_deref()))
            .transpose()
    }

    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>> {
        let mut q = codec::decisions_query::<Postgres>(query);
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
        let mut q = codec::summaries_query::<Postgres>(from, to);
        let rows: Vec<codec::SummaryRow> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::decode_summary).collect()
    }

    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        sqlx::query(
            "INSERT INTO snapshots (name, computed_at, cursor, body) VALUES ($1, $2, $3, $4) \
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
            sqlx::query_as("SELECT computed_at, cursor, body FROM snapshots WHERE name = $1")
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
        sqlx::query(
            "INSERT INTO plans (service, updated_at, record) VALUES ($1, $2, $3) \
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
        let status = codec::to_json(&a.id, &a.status)?;
        sqlx::query(
            "INSERT INTO actions (id, created_at, service, status, record) VALUES ($1, $2, $3, $4, $5) \
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
        sqlx::query(
            "INSERT INTO tokens (id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
            "SELECT {} FROM tokens WHERE hash = $1",
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
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(codec::ms(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
            .bind(codec::ms(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_generation(&self) -> Result<String> {
        let (generation,): (String,) = sqlx::query_as(
            "SELECT COUNT(*)::TEXT || ':' || COALESCE(SUM(created_at), 0)::TEXT || ':' || COALESCE(SUM(expires_at), 0)::TEXT || ':' || COALESCE(SUM(revoked_at), 0)::TEXT FROM tokens",
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
        let mut q = codec::sync_cursor_query::<Postgres>(source, scope, resource);
        let row: Option<codec::SyncCursorRow> =
            q.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|r| codec::decode_sync_cursor(source, scope, resource, r))
            .transpose()
    }

    async fn put_sync_cursor(&self, cursor: &SyncCursor) -> Result<()> {
        codec::put_sync_cursor_query::<Postgres>(cursor)
            .build()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_notification(&self, record: &crate::NotificationRecord) -> Result<bool> {
        let done = codec::claim_notification_query::<Postgres>(record)
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
        codec::notification_status_query::<Postgres>(key, status, attempts, last_error, at)
            .build()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn notifications(&self, limit: u64) -> Result<Vec<crate::NotificationRecord>> {
        let mut q = codec::notifications_query::<Postgres>(limit);
        let rows: Vec<codec::NotificationRow> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(codec::decode_notification).collect()
    }
}
