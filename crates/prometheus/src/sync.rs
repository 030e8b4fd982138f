//! An SLO's `source.prometheus` read into the store as metric points.
//!
//! Each query is evaluated with `query_range` at step = the resolution, at
//! timestamps that are multiples of the step (so every sync, and PromQL's own
//! subqueries, see the same grid). The value at `t` is the count of events
//! in `(t - step, t]` and is stored as a `metric_point` at `t` under the SLO's
//! good/total names. Event ids are `prometheus:<service>:<slo>:<good|total>:<t>`,
//! so reading a range again stores nothing new; the sync cursor (source
//! `prometheus`, scope the service, resource the SLO) keeps the end of the
//! last interval read as its `since`, so the next sync starts after it.

use std::collections::BTreeMap;
use std::time::Duration;

use bearing_events::{Event, MetricPoint, Payload};
use bearing_intent::{Intent, PrometheusSli};
use bearing_store::{DynStore, StoreError, SyncCursor};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::client::{Client, PromError};

/// The cursors' source name.
pub const SOURCE: &str = "prometheus";

/// Most steps asked for in one request (Prometheus refuses more than 11,000).
pub const MAX_STEPS: i64 = 10_000;

/// One SLO with a Prometheus source, as the sync needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SloTarget {
    pub service: String,
    pub slo: String,
    /// The metric-point names the points are stored under.
    pub good_name: String,
    pub total_name: String,
    pub source: PrometheusSli,
    /// The SLO's window: how far back a first sync reads.
    pub window: bearing_intent::Duration,
}

impl SloTarget {
    /// `service/slo`, as messages name it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.service, self.slo)
    }
    fn step(&self) -> i64 {
        self.source.resolution().as_secs_i64().max(1)
    }
    /// A query with `{{.window}}` replaced by the resolution.
    fn expand(&self, q: &str) -> String {
        q.replace("{{.window}}", &self.source.resolution().to_string())
    }
}

/// Every SLO of the intent that names a Prometheus source, in intent order.
pub fn targets(intent: &Intent) -> Vec<SloTarget> {
    intent
        .services
        .iter()
        .flat_map(|svc| {
            svc.slos.iter().filter_map(move |slo| {
                let source = slo.source.as_ref()?.prometheus.clone();
                let (good_name, total_name) = slo.series();
                Some(SloTarget {
                    service: svc.id.clone(),
                    slo: slo.id.clone(),
                    good_name,
                    total_name,
                    source,
                    window: slo.window,
                })
            })
        })
        .collect()
}

/// Errors of one SLO's sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Prometheus(#[from] PromError),
    #[error("storing the points: {0}")]
    Store(#[from] StoreError),
}

/// What one SLO's sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncOutcome {
    pub service: String,
    pub slo: String,
    /// The intervals read: ending after `from`, up to and including `to`
    /// (`None` when nothing was due).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Steps where `total` had a value (each stores a good and a total point).
    pub intervals: u64,
    /// Points newly stored, and points already stored (a range read again).
    pub stored: u64,
    pub duplicates: u64,
    /// Requests made to Prometheus.
    pub requests: u64,
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Which intervals a sync reads (both ends optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    /// Read the intervals ending after this, whatever the cursor says.
    pub since: Option<DateTime<Utc>>,
    /// Read no interval ending after this.
    pub until: Option<DateTime<Utc>>,
}

/// Reads the intervals of one SLO that are due at `now` and stores them.
///
/// Without `since`, it starts after the sync cursor, or one SLO window back
/// on the first sync; `since` reads the intervals ending after it whatever
/// the cursor says (stored points stay as they are, gaps are filled). It
/// stops at the last interval that ended at least `delay` before `now` (or
/// at `until`, when that is earlier). The
/// cursor moves on after each request's points are stored, so a sync cut
/// short resumes after the last range it stored.
pub async fn sync_slo(
    store: &DynStore,
    target: &SloTarget,
    range: Range,
    now: DateTime<Utc>,
    timeout: Duration,
) -> Result<SyncOutcome, SyncError> {
    let step = target.step();
    let cursor = store
        .sync_cursor(SOURCE, &target.service, &target.slo)
        .await?
        .and_then(|c| c.since);
    // The last interval end already read (exclusive start of this read).
    let after = match (range.since, cursor) {
        (Some(s), _) => secs(s).div_euclid(step) * step,
        (None, Some(c)) => secs(c),
        (None, None) => (secs(now) - target.window.as_secs_i64()).div_euclid(step) * step,
    };
    let readable = secs(now) - target.source.delay().as_secs_i64();
    let end = range
        .until
        .map_or(readable, |u| secs(u).min(readable))
        .div_euclid(step)
        * step;
    let mut out = SyncOutcome {
        service: target.service.clone(),
        slo: target.slo.clone(),
        from: None,
        to: None,
        intervals: 0,
        stored: 0,
        duplicates: 0,
        requests: 0,
    };
    if after + step > end {
        return Ok(out);
    }
    out.from = Some(time(after));
    out.to = Some(time(end));
    let client = Client::new(&target.source.url, timeout)?;
    let mut first = after + step;
    while first <= end {
        let last = (first + (MAX_STEPS - 1) * step).min(end);
        let total = query(
            &client,
            &target.expand(&target.source.total),
            first,
            last,
            step,
        )
        .await?;
        let (part, is_bad) = match (&target.source.good, &target.source.bad) {
            (Some(g), _) => (g, false),
            (None, Some(b)) => (b, true),
            // validate refuses this; read it as "every event good".
            (None, None) => (&target.source.total, false),
        };
        let part = query(&client, &target.expand(part), first, last, step).await?;
        out.requests += 2;
        let events = points(target, &total, &part, is_bad);
        out.intervals += (events.len() / 2) as u64;
        let r = store.ingest(&events).await?;
        out.stored += r.accepted;
        out.duplicates += r.duplicates;
        let position = cursor.map_or(last, |c| secs(c).max(last));
        store
            .put_sync_cursor(&cursor_at(target, time(position)))
            .await?;
        first = last + step;
    }
    Ok(out)
}

/// The cursor of `target` saying every interval up to `since` was read.
fn cursor_at(target: &SloTarget, since: DateTime<Utc>) -> SyncCursor {
    SyncCursor {
        source: SOURCE.to_string(),
        scope: target.service.clone(),
        resource: target.slo.clone(),
        etag: None,
        since: Some(since),
        updated_at: Utc::now(),
    }
}

/// One query over `[first, last]`: its single series as `unix second → value`
/// (empty when it returned none); non-finite values are left out.
async fn query(
    client: &Client,
    q: &str,
    first: i64,
    last: i64,
    step: i64,
) -> Result<BTreeMap<i64, f64>, SyncError> {
    let c = client.clone();
    let text = q.to_string();
    let series = tokio::task::spawn_blocking(move || {
        c.query_range(&text, first as f64, last as f64, step as f64)
    })
    .await
    .map_err(|e| PromError::Unreachable {
        url: client.url().to_string(),
        message: format!("the request task failed: {e}"),
    })??;
    if series.len() > 1 {
        let mut labels: Vec<String> = series.iter().take(3).map(|s| s.labels_text()).collect();
        if series.len() > 3 {
            labels.push("…".into());
        }
        return Err(PromError::SeveralSeries {
            query: q.to_string(),
            count: series.len(),
            labels: labels.join(", "),
        }
        .into());
    }
    Ok(series
        .into_iter()
        .flat_map(|s| s.values)
        .filter(|(_, v)| v.is_finite())
        .map(|(t, v)| (t.round() as i64, v))
        .collect())
}

/// The good and total points of the steps where `total` has a value: good
/// is the `good` query's value, or total − `bad` (at least 0); a step where
/// the other query has none counts as 0.
fn points(
    target: &SloTarget,
    total: &BTreeMap<i64, f64>,
    part: &BTreeMap<i64, f64>,
    is_bad: bool,
) -> Vec<Event> {
    let mut out = Vec::with_capacity(total.len() * 2);
    for (&t, &all) in total {
        let p = part.get(&t).copied().unwrap_or(0.0);
        let good = if is_bad { (all - p).max(0.0) } else { p };
        for (which, name, value) in [
            ("good", &target.good_name, good),
            ("total", &target.total_name, all),
        ] {
            let mut e = Event::new(
                format!("prometheus:{}:{}:{which}:{t}", target.service, target.slo),
                "prometheus",
                time(t),
                Payload::MetricPoint(MetricPoint {
                    name: name.clone(),
                    value,
                    dimensions: BTreeMap::new(),
                }),
            );
            e.service = Some(target.service.clone());
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(bad: bool) -> SloTarget {
        SloTarget {
            service: "shop".into(),
            slo: "avail".into(),
            good_name: "slo:avail:good".into(),
            total_name: "slo:avail:total".into(),
            source: PrometheusSli {
                url: "http://127.0.0.1:9".into(),
                good: (!bad).then(|| "g".into()),
                bad: bad.then(|| "b".into()),
                total: "sum(increase(x[{{.window}}]))".into(),
                resolution: None,
                delay: None,
            },
            window: bearing_intent::Duration::from_days(1),
        }
    }

    fn values(events: &[Event]) -> Vec<(String, f64)> {
        events
            .iter()
            .map(|e| match &e.payload {
                Payload::MetricPoint(m) => (e.id.clone(), m.value),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn points_pair_good_and_total_per_step() {
        let total = BTreeMap::from([(60, 10.0), (120, 4.0)]);
        let good = BTreeMap::from([(60, 9.0), (180, 1.0)]);
        let ev = points(&target(false), &total, &good, false);
        assert_eq!(
            values(&ev),
            [
                ("prometheus:shop:avail:good:60".to_string(), 9.0),
                ("prometheus:shop:avail:total:60".to_string(), 10.0),
                // no good value at 120: none were good; 180 has no total.
                ("prometheus:shop:avail:good:120".to_string(), 0.0),
                ("prometheus:shop:avail:total:120".to_string(), 4.0),
            ]
        );
        assert_eq!(ev[0].time.timestamp(), 60);
        assert_eq!(ev[0].service.as_deref(), Some("shop"));
    }

    #[test]
    fn bad_events_are_subtracted_from_total() {
        let total = BTreeMap::from([(60, 10.0), (120, 4.0), (180, 2.0)]);
        let bad = BTreeMap::from([(60, 1.0), (180, 3.0)]);
        let v: Vec<f64> = values(&points(&target(true), &total, &bad, true))
            .into_iter()
            .map(|x| x.1)
            .collect();
        assert_eq!(v, [9.0, 10.0, 4.0, 4.0, 0.0, 2.0]);
    }

    #[test]
    fn the_window_placeholder_becomes_the_resolution() {
        let mut t = target(false);
        t.source.resolution = Some(bearing_intent::Duration::from_secs(300));
        assert_eq!(t.expand(&t.source.total.clone()), "sum(increase(x[5m]))");
    }

    #[tokio::test]
    async fn nothing_due_asks_nothing_and_an_unreachable_server_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = bearing_store::open(&dir.path().join("s.db").display().to_string())
            .await
            .unwrap();
        let t = target(false);
        let now = Utc::now();
        // Everything up to now was read: nothing is due, no request is made
        // (the URL points at the discard port, which would fail).
        store.put_sync_cursor(&cursor_at(&t, now)).await.unwrap();
        let o = sync_slo(&store, &t, Range::default(), now, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!((o.requests, o.from), (0, None));
        // Asked to read the last hour again, it reaches for the server.
        let since = now - chrono::TimeDelta::hours(1);
        let range = Range {
            since: Some(since),
            until: None,
        };
        let e = sync_slo(&store, &t, range, now, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("`http://127.0.0.1:9` is unreachable"),
            "{e}"
        );
    }
}
