//! Integration tests of the metric engine: golden values on a hand-checked
//! history and properties over generated ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod business_release;
mod fixture;
mod github_lead;
mod golden;
mod monorepo;
mod pipelines;
mod props;
mod scipy;
mod slo_resolution;
mod threat;
mod time_bounds;
mod usage_history;
mod waste;
