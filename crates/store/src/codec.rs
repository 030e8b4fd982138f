//! Turning records into rows and back, shared by both backends: validation of
//! incoming events, millisecond timestamps, JSON columns.

use bearing_events::{Event, Payload};
use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;

use crate::{Result, StoreError};

/// Longest event id accepted, in bytes.
pub(crate) const MAX_ID_LEN: usize = 1024;

/// One event as stored: indexed columns plus the whole event as JSON.
pub(crate) struct EventRow<'a> {
    pub id: &'a str,
    pub kind: &'static str,
    pub source: &'a str,
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub time: i64,
    pub payload: String,
}

/// Validates one event, naming it by `index` on error.
pub(crate) fn check(index: usize, event: &Event) -> Result<()> {
    validate(event).map_err(|(field, expected)| StoreError::InvalidEvent {
        index,
        id: event.id.clone(),
        field,
        expected: expected.to_string(),
    })
}

/// Validates a whole batch; the first bad event fails it. Run before the
/// transaction starts, so a refused batch writes nothing.
pub(crate) fn check_all(events: &[Event]) -> Result<()> {
    events
        .iter()
        .enumerate()
        .try_for_each(|(index, event)| check(index, event))
}

/// Encodes a chunk of a checked batch whose first event is the batch's
/// event number `first` (for error messages).
pub(crate) fn encode(first: usize, events: &[Event]) -> Result<Vec<EventRow<'_>>> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let payload = serde_json::to_string(event).map_err(|err| StoreError::InvalidEvent {
                index: first + i,
                id: event.id.clone(),
                field: "payload",
                expected: format!("a value JSON can represent ({err})"),
            })?;
            Ok(EventRow {
                id: &event.id,
                kind: event.kind().name(),
                source: &event.source,
                service: event.service.as_deref(),
                environment: event.environment.as_deref(),
                time: ms(event.time),
                payload,
            })
        })
        .collect()
}

/// What the store requires of an event beyond its type: ids and numbers it
/// can store and read back.
fn validate(event: &Event) -> std::result::Result<(), (&'static str, &'static str)> {
    if event.id.is_empty() || event.id.len() > MAX_ID_LEN {
        return Err(("id", "a non-empty id of at most 1024 bytes"));
    }
    if event.id.contains('\0') {
        return Err(("id", "text without NUL characters"));
    }
    if event.source.is_empty() || event.source.contains('\0') {
        return Err(("source", "a non-empty source without NUL characters"));
    }
    if event.service.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(("service", "text without NUL characters"));
    }
    if event
        .environment
        .as_deref()
        .is_some_and(|s| s.contains('\0'))
    {
        return Err(("environment", "text without NUL characters"));
    }
    let finite = |field, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err((field, "a finite number"))
        }
    };
    match &event.payload {
        Payload::MetricPoint(m) => finite("data.value", m.value)?,
        Payload::Cost(c) => {
            finite("data.billed_cost", c.billed_cost)?;
            finite("data.effective_cost", c.effective_cost)?;
            if let Some(v) = c.list_cost {
                finite("data.list_cost", v)?;
            }
            if let Some(v) = c.consumed_quantity {
                finite("data.consumed_quantity", v)?;
            }
        }
        Payload::FeatureFlag(f) => {
            if let Some(v) = f.rollout {
                finite("data.rollout", v)?;
            }
        }
        Payload::Finding(f) => {
            if f.rule_id.is_empty() {
                return Err(("data.rule_id", "a non-empty rule or vulnerability id"));
            }
            if f.target.is_empty() {
                return Err(("data.target", "a non-empty scan target"));
            }
            let nul = |s: &str| s.contains('\0');
            if nul(&f.rule_id) || nul(&f.target) || f.package.as_deref().is_some_and(nul) {
                return Err(("data", "rule id, package and target without NUL characters"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(id: &str, ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt {
            id: id.to_string(),
            message: format!("timestamp {ms} is out of range"),
        })
}

/// Parses a JSON column of the record `id`.
pub(crate) fn from_json<T: DeserializeOwned>(id: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| StoreError::Corrupt {
        id: id.to_string(),
        message: err.to_string(),
    })
}

/// Serialises a record Bearing produced itself.
pub(crate) fn to_json<T: serde::Serialize>(id: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt {
        id: id.to_string(),
        message: format!("cannot be written as JSON: {err}"),
    })
}

/// Decodes a stored event.
pub(crate) fn decode_event(payload: &str) -> Result<Event> {
    serde_json::from_str(payload).map_err(|err| StoreError::Corrupt {
        id: serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string))
            .unwrap_or_else(|| "?".to_string()),
        message: err.to_string(),
    })
}

/// The columns of a `findings` row, in `SELECT` order.
pub(crate) type FindingRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

/// The column list matching [`FindingRow`].
pub(crate) const FINDING_COLUMNS: &str =
    "key, service, finding, scanners, event_ids, first_seen, last_seen, fixed_at";

pub(crate) fn decode_finding(row: FindingRow) -> Result<crate::FindingState> {
    let (key, service, finding, scanners, event_ids, first_seen, last_seen, fixed_at) = row;
    Ok(crate::FindingState {
        finding: from_json(&key, &finding)?,
        service,
        scanners: from_json(&key, &scanners)?,
        event_ids: from_json(&key, &event_ids)?,
        first_seen: from_ms(&key, first_seen)?,
        last_seen: from_ms(&key, last_seen)?,
        fixed_at: fixed_at.map(|t| from_ms(&key, t)).transpose()?,
        key,
    })
}

/// A finding state encoded for an upsert.
pub(crate) struct FindingRowOut {
    pub key: String,
    pub target: String,
    pub service: Option<String>,
    pub finding: String,
    pub scanners: String,
    pub event_ids: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub fixed_at: Option<i64>,
}

pub(crate) fn encode_finding(state: &crate::FindingState) -> Result<FindingRowOut> {
    Ok(FindingRowOut {
        key: state.key.clone(),
        target: crate::lifecycle::target_of(&state.finding),
        service: state.service.clone(),
        finding: to_json(&state.key, &state.finding)?,
        scanners: to_json(&state.key, &state.scanners)?,
        event_ids: to_json(&state.key, &state.event_ids)?,
        first_seen: ms(state.first_seen),
        last_seen: ms(state.last_seen),
        fixed_at: state.fixed_at.map(ms),
    })
}

/// The upsert of findings rows, shared by both backends (same SQL dialect here).
pub(crate) const FINDING_UPSERT: &str = "INSERT INTO findings \
     (key, target, service, finding, scanners, event_ids, first_seen, last_seen, fixed_at) ";
pub(crate) const FINDING_UPSERT_TAIL: &str = " ON CONFLICT (key) DO UPDATE SET \
     target = excluded.target, service = excluded.service, finding = excluded.finding, \
     scanners = excluded.scanners, event_ids = excluded.event_ids, \
     first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
     fixed_at = excluded.fixed_at";

/// The columns of a `tokens` row, in [`decode_token`]'s order.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at";

/// A `tokens` row: id, name, hash, scopes JSON, then times in ms.
pub(crate) type TokenRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Decodes a `tokens` row (see [`TOKEN_COLUMNS`]).
pub(crate) fn decode_token(
    (id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at): TokenRow,
) -> Result<crate::TokenRecord> {
    let time = |ms: Option<i64>| ms.map(|ms| from_ms(&id, ms)).transpose();
    Ok(crate::TokenRecord {
        scopes: from_json(&id, &scopes)?,
        created_at: from_ms(&id, created_at)?,
        expires_at: time(expires_at)?,
        last_used_at: time(last_used_at)?,
        revoked_at: time(revoked_at)?,
        name,
        hash,
        id,
    })
}

/// The `summary` column of a decision: what the metrics read of it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SummaryColumn {
    waived: bool,
    guardrails: Vec<String>,
}

pub(crate) fn summary_json(s: &bearing_events::DecisionSummary) -> Result<String> {
    to_json(
        &s.id,
        &SummaryColumn {
            waived: s.waived,
            guardrails: s.guardrails.clone(),
        },
    )
}

/// The decision log's reading statements, the same on both backends (binds
/// are pushed by `QueryBuilder`, so placeholders do not differ). Decision
/// records with their shared context, if any; ends in a `WHERE`
/// clause to extend with ` AND …`.
pub(crate) const DECISION_SELECT: &str = "SELECT d.id, d.record, c.body FROM decisions d \
     LEFT JOIN decision_contexts c ON c.digest = d.context WHERE 1 = 1";

/// The contexts a batch of decisions refers to, each once.
pub(crate) fn distinct_contexts(
    decisions: &[crate::EncodedDecision],
) -> Vec<&crate::SharedContext> {
    let mut seen = std::collections::HashSet::new();
    decisions
        .iter()
        .filter_map(|d| d.context.as_ref())
        .filter(|c| seen.insert(&*c.digest))
        .collect()
}

/// A stored decision record, with its context put back when the log keeps
/// that apart (`decision_contexts`).
pub(crate) fn decode_decision(
    id: &str,
    record: &str,
    context: Option<&str>,
) -> Result<bearing_events::DecisionRecord> {
    let mut r: bearing_events::DecisionRecord = from_json(id, record)?;
    if let Some(body) = context
        && let Some(decision) = r.decision.as_object_mut()
    {
        decision.insert("context".into(), from_json(id, body)?);
    }
    Ok(r)
}

/// `Store::decisions`' query, the same on both backends.
pub(crate) fn decisions_query<'a, DB: sqlx::Database>(
    query: &crate::DecisionQuery,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(DECISION_SELECT);
    if let Some(s) = &query.service {
        q.push(" AND d.service = ").push_bind(s.clone());
    }
    if let Some(t) = query.since {
        q.push(" AND d.time >= ").push_bind(ms(t));
    }
    q.push(" ORDER BY d.time DESC, d.id DESC");
    if let Some(n) = query.limit {
        q.push(" LIMIT ")
            .push_bind(i64::try_from(n).unwrap_or(i64::MAX));
    }
    q
}

/// `Store::decision_summaries`' query, the same on both backends: the
/// counts the `decisions_counted` trigger keeps, as [`SummaryRow`]s.
pub(crate) fn summaries_query<'a, DB: sqlx::Database>(
    from: Option<DateTime<Utc>>,
    to: DateTime<Utc>,
) -> sqlx::QueryBuilder<'a, DB>
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(
        "SELECT first_id, epoch_second, service, environment, result, summary, count \
         FROM decision_counts WHERE epoch_second < ",
    );
    q.push_bind(to.timestamp());
    if let Some(t) = from {
        q.push(" AND epoch_second >= ").push_bind(t.timestamp());
    }
    q.push(" ORDER BY epoch_second, first_id");
    q
}

/// A row of `decision_summaries`: `(smallest id, second, service,
/// environment, result, summary, count)`; service and environment are ''
/// for none.
pub(crate) type SummaryRow = (String, i64, String, String, String, String, i64);

pub(crate) fn decode_summary(row: SummaryRow) -> Result<(bearing_events::DecisionSummary, u64)> {
    let (id, secs, service, environment, result, summary, count) = row;
    let time = from_ms(&id, secs.saturating_mul(1000))?;
    let column: SummaryColumn = from_json(&id, &summary)?;
    let named = |s: String| (!s.is_empty()).then_some(s);
    Ok((
        bearing_events::DecisionSummary {
            time,
            id,
            service: named(service),
            environment: named(environment),
            result,
            waived: column.waived,
            guardrails: column.guardrails,
        },
        u64::try_from(count).unwrap_or(0),
    ))
}

/// `Store::sync_cursor`'s query, the same on both backends, as a [`SyncCursorRow`].
pub(crate) fn sync_cursor_query<'a, DB: sqlx::Database>(
    source: &str,
    scope: &str,
    resource: &str,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q =
        sqlx::QueryBuilder::new("SELECT etag, since, updated_at FROM sync_cursors WHERE source = ");
    q.push_bind(source.to_owned())
        .push(" AND scope = ")
        .push_bind(scope.to_owned())
        .push(" AND resource = ")
        .push_bind(resource.to_owned());
    q
}

/// A row of `sync_cursors`: `(etag, since, updated_at)`.
pub(crate) type SyncCursorRow = (Option<String>, Option<i64>, i64);

pub(crate) fn decode_sync_cursor(
    source: &str,
    scope: &str,
    resource: &str,
    (etag, since, updated_at): SyncCursorRow,
) -> Result<crate::SyncCursor> {
    let id = format!("{source}:{scope}:{resource}");
    Ok(crate::SyncCursor {
        source: source.to_owned(),
        scope: scope.to_owned(),
        resource: resource.to_owned(),
        etag,
        since: since.map(|ms| from_ms(&id, ms)).transpose()?,
        updated_at: from_ms(&id, updated_at)?,
    })
}

/// `Store::put_sync_cursor`'s upsert, the same on both backends.
pub(crate) fn put_sync_cursor_query<'a, DB: sqlx::Database>(
    c: &crate::SyncCursor,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO sync_cursors (source, scope, resource, etag, since, updated_at) VALUES (",
    );
    let mut row = q.separated(", ");
    row.push_bind(c.source.clone())
        .push_bind(c.scope.clone())
        .push_bind(c.resource.clone())
        .push_bind(c.etag.clone())
        .push_bind(c.since.map(ms))
        .push_bind(ms(c.updated_at));
    q.push(
        ") ON CONFLICT (source, scope, resource) DO UPDATE SET etag = excluded.etag, \
         since = excluded.since, updated_at = excluded.updated_at",
    );
    q
}

/// `Store::claim_notification`'s insert-if-absent, the same on both backends.
pub(crate) fn claim_notification_query<'a, DB: sqlx::Database>(
    n: &crate::NotificationRecord,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO notifications (key, kind, subject, destination, summary, status, \
         attempts, last_error, created_at, updated_at) VALUES (",
    );
    let mut row = q.separated(", ");
    row.push_bind(n.key.clone())
        .push_bind(n.kind.clone())
        .push_bind(n.subject.clone())
        .push_bind(n.destination.clone())
        .push_bind(n.summary.clone())
        .push_bind(n.status.as_str().to_owned())
        .push_bind(i64::from(n.attempts))
        .push_bind(n.last_error.clone())
        .push_bind(ms(n.created_at))
        .push_bind(ms(n.updated_at));
    q.push(") ON CONFLICT (key) DO NOTHING");
    q
}

/// `Store::put_notification_status`'s update, the same on both backends.
pub(crate) fn notification_status_query<'a, DB: sqlx::Database>(
    key: &str,
    status: crate::NotificationStatus,
    attempts: u32,
    last_error: Option<&str>,
    at: DateTime<Utc>,
) -> sqlx::QueryBuilder<'a, DB>
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new("UPDATE notifications SET status = ");
    q.push_bind(status.as_str().to_owned())
        .push(", attempts = ")
        .push_bind(i64::from(attempts))
        .push(", last_error = ")
        .push_bind(last_error.map(str::to_owned))
        .push(", updated_at = ")
        .push_bind(ms(at))
        .push(" WHERE key = ")
        .push_bind(key.to_owned());
    q
}

/// `Store::notifications`' query, newest first, as [`NotificationRow`]s.
pub(crate) fn notifications_query<'a, DB: sqlx::Database>(limit: u64) -> sqlx::QueryBuilder<'a, DB>
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::QueryBuilder::new(
        "SELECT key, kind, subject, destination, summary, status, attempts, last_error, \
         created_at, updated_at FROM notifications ORDER BY created_at DESC, key LIMIT ",
    );
    q.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    q
}

/// A row of `notifications`, in [`notifications_query`]'s column order.
pub(crate) type NotificationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    i64,
);

pub(crate) fn decode_notification(row: NotificationRow) -> Result<crate::NotificationRecord> {
    let (key, kind, subject, destination, summary, status, attempts, last_error, created, updated) =
        row;
    let status = match status.as_str() {
        "pending" => crate::NotificationStatus::Pending,
        "sent" => crate::NotificationStatus::Sent,
        "failed" => crate::NotificationStatus::Failed,
        other => {
            return Err(StoreError::Corrupt {
                id: key,
                message: format!("unknown notification status `{other}`"),
            });
        }
    };
    Ok(crate::NotificationRecord {
        created_at: from_ms(&key, created)?,
        updated_at: from_ms(&key, updated)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        key,
        kind,
        subject,
        destination,
        summary,
        status,
        last_error,
    })
}
