//! Reading Prometheus over its HTTP API.
//!
//! [`client`] asks `/api/v1/query_range` and checks the answer's shape;
//! [`sync`] turns an SLO's `source.prometheus` queries into per-interval
//! good/total metric points in the event store, idempotently and from where
//! the last sync stopped; [`schedule`] runs that sync in the background of
//! `bearing serve` with back-off, and keeps the state `/readyz` shows.
//!
//! Plain blocking HTTP (`ureq`): async callers run it on the blocking pool.

pub mod client;
pub mod schedule;
pub mod sync;

pub use client::{Client, PromError, Series};
pub use schedule::{Scheduler, SloSyncState};
pub use sync::{Range, SloTarget, SyncOutcome, sync_slo, targets};
