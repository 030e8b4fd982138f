//! The threat feeds (KEV catalog, EPSS scores) kept in the store, as two
//! named snapshots: `threat` (the feeds) and `threat.stamp` (their versions
//! and when they last changed), so a reader that polls, like the server's
//! refresh, reads the small stamp and the feeds only when they changed.
//! Updating them reads, applies and writes: two writers at once may lose one
//! update (the next fetch or ingest brings it back).

use bearing_events::formats::threat::{Feed, FeedUpdate, ThreatIntel};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{Result, Snapshot, Store, StoreError};

/// The snapshot holding the feeds.
pub const FEEDS: &str = "threat";
/// The snapshot saying when they last changed.
pub const STAMP: &str = "threat.stamp";

/// When the kept feeds last changed, if any are kept.
pub async fn stamp(store: &dyn Store) -> Result<Option<DateTime<Utc>>> {
    Ok(store.snapshot(STAMP).await?.map(|s| s.computed_at))
}

/// The kept feeds (empty when none were ingested).
pub async fn load(store: &dyn Store) -> Result<ThreatIntel> {
    match store.snapshot(FEEDS).await? {
        None => Ok(ThreatIntel::default()),
        Some(s) => serde_json::from_value(s.body).map_err(|e| StoreError::Corrupt {
            id: FEEDS.into(),
            message: e.to_string(),
        }),
    }
}

/// Applies a feed to the kept ones and stores the result when it changed
/// anything (a feed older than the one kept changes nothing).
pub async fn apply(store: &dyn Store, feed: Feed, now: DateTime<Utc>) -> Result<FeedUpdate> {
    let mut intel = load(store).await?;
    let update = intel.apply(feed);
    if update.applied {
        let body = serde_json::to_value(&intel).map_err(|e| StoreError::Corrupt {
            id: FEEDS.into(),
            message: e.to_string(),
        })?;
        store
            .put_snapshot(&Snapshot {
                name: FEEDS.into(),
                computed_at: now,
                cursor: 0,
                body,
            })
            .await?;
        store
            .put_snapshot(&Snapshot {
                name: STAMP.into(),
                computed_at: now,
                cursor: 0,
                body: json!({
                    "kev": intel.kev.as_ref().map(|k| &k.version),
                    "epss": intel.epss.as_ref().map(|e| &e.score_date),
                }),
            })
            .await?;
    }
    Ok(update)
}
