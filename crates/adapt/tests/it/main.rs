//! Integration tests of bearing-adapt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anomaly_quality;
mod reconcile;
mod risk;
mod scipy;
