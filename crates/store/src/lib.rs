//! The event store: one [`Store`] trait, two backends (SQLite embedded by
//! default, Postgres when shared), chosen by the database URL.
//!
//! Ingest is idempotent (an event id stored twice is one event) and
//! transactional (a batch is stored whole or not at all).

use std::sync::Arc;

mod codec;
pub mod lifecycle;
pub mod postgres;
pub mod sqlite;
pub mod threat;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use bearing_events::{Action, DecisionRecord, DecisionSummary, DeliveryPlan, Event, Finding, Kind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Errors from the store, with what the user can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL `{0}`: expected `sqlite://PATH`, a file path, or `postgres://…`"
    )]
    BadUrl(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored record `{id}` is corrupt: {message}")]
    Corrupt { id: String, message: String },
    /// An event the store refuses; nothing of its batch was written.
    /// Named `event N`, counted from 1 like every record Bearing names.
    #[error("event {} (`{id}`): field `{field}`: expected {expected}", index + 1)]
    InvalidEvent {
        /// Position of the event in the batch, from 0 (the message counts from 1).
        index: usize,
        id: String,
        field: &'static str,
        expected: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migrating the schema: {err}"))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a batch ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestOutcome {
    /// Events newly stored.
    pub accepted: u64,
    /// Events whose id was already stored (idempotent replays).
    pub duplicates: u64,
}

/// Which events to read. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub kinds: Vec<Kind>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Newest first when set; oldest first (by time) otherwise.
    pub limit: Option<u64>,
}

/// A finding's lifecycle across scans, deduplicated by (vulnerability, package, target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingState {
    pub key: String,
    /// The latest report of the finding.
    pub finding: Finding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Every scanner that reported it.
    pub scanners: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When a later scan of the same target no longer reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_at: Option<DateTime<Utc>>,
    /// Ids of the events that reported it.
    pub event_ids: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub service: Option<String>,
    pub open_only: bool,
}

/// A decision for [`Store::put_decisions`]: its summary and its
/// [`DecisionRecord`] already written as JSON, by [`EncodedDecision::new`] or
/// by a caller that writes the record's JSON itself (the server, from the
/// decision it answered with).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedDecision {
    pub summary: DecisionSummary,
    /// The record's JSON; it must describe the same decision as `summary`.
    /// With `context` set, its `decision` leaves the context out.
    pub record: String,
    /// The decision's context, stored once however many decisions share it
    /// and put back into the decision when the record is read.
    pub context: Option<SharedContext>,
}

/// A decision context shared by many decisions: its JSON and a digest of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContext {
    pub digest: Arc<str>,
    pub body: Arc<str>,
}

impl EncodedDecision {
    pub fn new(record: &DecisionRecord) -> Result<EncodedDecision> {
        Ok(EncodedDecision {
            summary: record.summary(),
            record: codec::to_json(&record.id, record)?,
            context: None,
        })
    }
}

/// Figures computed from the whole store, kept under a name for readers that
/// must be fast (`bearing check` reads the `outcomes` snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub name: String,
    pub computed_at: DateTime<Utc>,
    /// The event cursor (see [`Store::events_after`]) the figures include.
    pub cursor: i64,
    pub body: serde_json::Value,
}

/// Where `bearing sync` stopped reading one resource of an outside source,
/// so the next sync reads only what is new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    /// The source read: `github`, …
    pub source: String,
    /// Which part of the source: a repository's `owner/name`, …
    pub scope: String,
    /// The resource read: `deployments`, `pulls`, …
    pub resource: String,
    /// The ETag of the listing's first page, sent back as `If-None-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The time from which the next sync reads again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Where a notification stands in the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Claimed by a process that is sending it (or stopped while sending).
    Pending,
    Sent,
    /// Every attempt failed; `last_error` says why.
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
        }
    }
}

/// One notification to one destination, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Derived from the change and the destination: the same change seen
    /// twice (a restart, another replica) has the same key.
    pub key: String,
    /// `kr_status`, `service_frozen`, `strategy_changed`, `production_deny`,
    /// `waiver_expiring`, `anomaly`.
    pub kind: String,
    /// What changed: a key result, a service, a decision, a waiver.
    pub subject: String,
    /// The destination id in the intent's `notifications:`.
    pub destination: String,
    /// The message's text.
    pub summary: String,
    pub status: NotificationStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct DecisionQuery {
    pub service: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
}

/// An API token as stored: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub hash: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// After this the token is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When a server last accepted it (kept to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When `bearing token revoke` revoked it; refused from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether a request at `now` may use the token (not revoked, not expired).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// The storage interface every backend implements; the conformance suite in
/// `tests/` runs against each.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a batch whole or not at all; events whose id is already stored count as duplicates.
    async fn ingest(&self, events: &[Event]) -> Result<IngestOutcome>;
    async fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
    async fn event(&self, id: &str) -> Result<Option<Event>>;
    async fn count_events(&self) -> Result<u64>;
    /// Events stored after `cursor` (an opaque, increasing sequence), and the new cursor.
    async fn events_after(&self, cursor: i64, limit: u64) -> Result<(Vec<Event>, i64)>;

    /// Findings ordered by first seen, then key.
    async fn findings(&self, query: &FindingQuery) -> Result<Vec<FindingState>>;

    async fn put_decision(&self, decision: &DecisionRecord) -> Result<()>;
    /// Stores a batch of decisions in one transaction, whole or not at all,
    /// with the same rule as [`Store::put_decision`]: the first write of an id
    /// wins, including between two records of the same batch.
    async fn put_decisions(&self, decisions: &[EncodedDecision]) -> Result<()>;
    async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>>;
    /// Decisions newest first. The log is append-only: putting an id again keeps the first.
    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>>;
    /// What the metrics need of the decisions made in the whole seconds from
    /// `from` up to, not including, `to`'s (no lower bound when `from` is
    /// `None`), without reading the full records: decisions alike (same
    /// second, service, environment, result and summary) are counted
    /// together, as the store counts them while it stores them. Each summary
    /// has the smallest id of its decisions and its second as time; oldest
    /// first.
    async fn decision_summaries(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DecisionSummary, u64)>>;

    /// Inserts or replaces the snapshot of `snapshot.name`.
    async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<()>;
    async fn snapshot(&self, name: &str) -> Result<Option<Snapshot>>;
    /// The cursor of the newest stored event (0 when there is none).
    async fn event_cursor(&self) -> Result<i64>;

    /// Plans ordered by service.
    async fn plans(&self) -> Result<Vec<DeliveryPlan>>;
    /// Inserts or replaces the plan of `plan.service`.
    async fn put_plan(&self, plan: &DeliveryPlan) -> Result<()>;

    /// Inserts or replaces an action by id.
    async fn put_action(&self, action: &Action) -> Result<()>;
    /// Actions ordered by creation time, then id.
    async fn actions(&self) -> Result<Vec<Action>>;

    /// Inserts or replaces a token by id.
    async fn put_token(&self, token: &TokenRecord) -> Result<()>;
    /// The token with this secret hash, revoked and expired ones included.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// Every token, oldest first, revoked and expired ones included.
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;
    /// Marks a token revoked at `at`; false when no token has this id.
    /// Revoking a revoked token keeps its first revocation time.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Records that a token was accepted at `at`.
    async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()>;
    /// A value that changes whenever a token is created, revoked, deleted or
    /// given another expiry (by any process): servers compare it to know
    /// when their cache of verified tokens is stale.
    async fn token_generation(&self) -> Result<String>;

    /// The cursor a sync stored for one resource, if any.
    async fn sync_cursor(
        &self,
        source: &str,
        scope: &str,
        resource: &str,
    ) -> Result<Option<SyncCursor>>;
    /// Inserts or replaces the cursor of `(source, scope, resource)`.
    async fn put_sync_cursor(&self, cursor: &SyncCursor) -> Result<()>;

    /// Inserts the notification unless its key is already there; `true`
    /// when this call inserted it (the caller then owns sending it).
    async fn claim_notification(&self, record: &NotificationRecord) -> Result<bool>;
    /// Records the outcome of sending the notification `key`.
    async fn put_notification_status(
        &self,
        key: &str,
        status: NotificationStatus,
        attempts: u32,
        last_error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The delivery log, newest first, at most `limit` records.
    async fn notifications(&self, limit: u64) -> Result<Vec<NotificationRecord>>;
}

pub type DynStore = Arc<dyn Store>;

/// Checks one event as [`Store::ingest`] would (ids, text, finite numbers),
/// so a caller can validate a whole input before writing any of it. `index`
/// is the position reported in the error.
pub fn check_event(index: usize, event: &Event) -> Result<()> {
    codec::check(index, event)
}

/// Opens (creating and migrating as needed) the store a URL names:
/// `sqlite://PATH`, a plain file path, or `postgres://…`.
pub async fn open(url: &str) -> Result<DynStore> {
    match parse_url(url)? {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
        Location::Postgres(url) => Ok(Arc::new(PostgresStore::open(&url).await?)),
    }
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (created if missing), or `:memory:`.
    Sqlite(String),
    /// A Postgres connection URL, passed through unchanged.
    Postgres(String),
}

/// Classifies a database URL: `postgres://…`/`postgresql://…`, `sqlite://PATH`,
/// `sqlite:PATH`, or a plain file path.
pub fn parse_url(url: &str) -> Result<Location> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_string()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(StoreError::BadUrl(url.to_string()));
    } else {
        url
    };
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    Ok(Location::Sqlite(path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_classified() {
        assert_eq!(
            parse_url("sqlite://bearing.db").unwrap(),
            Location::Sqlite("bearing.db".into())
        );
        assert_eq!(
            parse_url("sqlite:///tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            parse_url("data/b.db").unwrap(),
            Location::Sqlite("data/b.db".into())
        );
        assert_eq!(
            parse_url("postgres://u@h/db").unwrap(),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert!(matches!(parse_url("mysql://x"), Err(StoreError::BadUrl(_))));
        assert!(matches!(parse_url("sqlite://"), Err(StoreError::BadUrl(_))));
    }
}
