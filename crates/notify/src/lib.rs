//! Notifications: telling people when something they care about changed.
//!
//! [`detect`] turns states into [`Change`]s (a key result changing status, a
//! service frozen or given another strategy, a production deny, a waiver
//! about to expire, a cost anomaly), each with an id derived from the change itself, so the
//! same change seen twice — after a restart, or by two replicas — has the same
//! id. [`route`] picks the destinations of the intent's `notifications:`;
//! [`render`] builds the Slack or signed JSON body; [`deliver`] claims each
//! notification in the store (insert if absent) before posting it, with
//! bounded retries, and records the outcome in the delivery log.

pub mod deliver;
pub mod detect;
pub mod render;
pub mod route;

pub use deliver::{Delivery, Notifier, Outbound, Retry, prepare};
pub use detect::{Change, CycleInput, ScopedAnomaly, detect_cycle, find_anomalies};
pub use render::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign, slack_body, webhook_body};
pub use route::route;

/// Why notifications could not be worked out or recorded.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot read or write notification state")]
    Store(#[from] bearing_store::StoreError),
}
