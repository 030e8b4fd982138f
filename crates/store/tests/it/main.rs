//! Integration tests of the store: one conformance suite run on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod migrate_race;
mod upgrade;
