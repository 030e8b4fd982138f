//! Integration tests of the HTTP API and the dashboard, driven in process
//! with `oneshot` (no port needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod connections;
mod dashboard;
mod hardening;
mod harness;
mod notifications;
mod receiver;
mod time_bounds;
