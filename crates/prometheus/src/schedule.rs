//! The background sync of `bearing serve`: each SLO with a Prometheus source
//! is read when its next interval becomes readable (one resolution after the
//! last, plus the delay), and after a failure not before its back-off ends
//! (5 s, doubling, at most 5 min). The state of each is kept for `/readyz`
//! and the dashboard; nothing here is on the decision path.

use std::sync::Mutex;
use std::time::Duration;

use bearing_store::DynStore;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::sync::{Range, SloTarget, sync_slo};

/// First wait after a failure; doubles with each failure in a row.
pub const BACKOFF_MIN: Duration = Duration::from_secs(5);
/// Longest wait after failures.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The sync state of one SLO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloSyncState {
    pub service: String,
    pub slo: String,
    pub url: String,
    /// `pending` (not tried yet), `ok`, or `backing_off`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub failures: u32,
    /// While backing off: no attempt before this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// The end of the last interval read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_to: Option<DateTime<Utc>>,
    /// Points stored by this process.
    pub points_stored: u64,
    #[serde(skip)]
    next_due: Option<DateTime<Utc>>,
}

/// The SLOs to sync and their states.
pub struct Scheduler {
    targets: Vec<SloTarget>,
    states: Mutex<Vec<SloSyncState>>,
    timeout: Duration,
}

impl Scheduler {
    pub fn new(targets: Vec<SloTarget>, timeout: Duration) -> Scheduler {
        let states = targets
            .iter()
            .map(|t| SloSyncState {
                service: t.service.clone(),
                slo: t.slo.clone(),
                url: t.source.url.clone(),
                state: "pending",
                last_success: None,
                last_error: None,
                last_error_at: None,
                failures: 0,
                retry_at: None,
                synced_to: None,
                points_stored: 0,
                next_due: None,
            })
            .collect();
        Scheduler {
            targets,
            states: Mutex::new(states),
            timeout,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// How often to look for due work: half the finest resolution, from 1 s
    /// to 30 s.
    pub fn tick(&self) -> Duration {
        let finest = self
            .targets
            .iter()
            .map(|t| t.source.resolution().as_secs())
            .min()
            .unwrap_or(60);
        Duration::from_millis((finest * 500).clamp(1_000, 30_000))
    }

    /// A copy of every SLO's state, in intent order.
    pub fn states(&self) -> Vec<SloSyncState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `ok` when every SLO's last attempt succeeded, `backing_off` when one
    /// is failing, `pending` before the first attempts.
    pub fn summary(&self) -> &'static str {
        let states = self.states();
        if states.iter().any(|s| s.state == "backing_off") {
            "backing_off"
        } else if states.iter().any(|s| s.state == "pending") {
            "pending"
        } else {
            "ok"
        }
    }

    fn update(&self, i: usize, f: impl FnOnce(&mut SloSyncState)) {
        if let Ok(mut s) = self.states.lock()
            && let Some(st) = s.get_mut(i)
        {
            f(st);
        }
    }

    /// Syncs every SLO that is due at `now`, one after the other; returns
    /// how many were tried.
    pub async fn run_due(&self, store: &DynStore, now: DateTime<Utc>) -> usize {
        let due: Vec<usize> = self
            .states()
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.retry_at.is_none_or(|r| now >= r) && s.next_due.is_none_or(|d| now >= d)
            })
            .map(|(i, _)| i)
            .collect();
        for &i in &due {
            let t = &self.targets[i];
            match sync_slo(store, t, Range::default(), now, self.timeout).await {
                Ok(o) => {
                    let step = t.source.resolution().as_secs_i64().max(1);
                    let delay = t.source.delay().as_secs_i64();
                    let readable = (now.timestamp() - delay).div_euclid(step) * step;
                    let next = DateTime::from_timestamp(readable + step + delay, 0);
                    self.update(i, |s| {
                        s.state = "ok";
                        s.last_success = Some(now);
                        s.failures = 0;
                        s.retry_at = None;
                        s.next_due = next;
                        s.synced_to = o.to.or(s.synced_to);
                        s.points_stored += o.stored;
                    });
                    if o.stored > 0 {
                        tracing::debug!(slo = %t.label(), stored = o.stored, "prometheus sync");
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    tracing::warn!(slo = %t.label(), error = %message, "prometheus sync failed");
                    self.update(i, |s| {
                        s.state = "backing_off";
                        s.failures += 1;
                        s.last_error = Some(message);
                        s.last_error_at = Some(now);
                        let wait = backoff(s.failures);
                        s.retry_at = TimeDelta::from_std(wait).ok().map(|w| now + w);
                    });
                }
            }
        }
        due.len()
    }
}

/// The wait after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    let doubled = BACKOFF_MIN.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
