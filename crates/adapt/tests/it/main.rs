//! Integration tests of bearing-adapt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anomaly_quality;
mod gitmetrics;
mod reconcile;
mod risk;
mod scipy;
/// Finding and calling SciPy, shared with bearing-metrics' tests.
#[allow(dead_code)]
#[path = "../../../metrics/tests/it/scipy.rs"]
mod scipy_python;
mod sklearn;
