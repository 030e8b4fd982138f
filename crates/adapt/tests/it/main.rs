//! Integration tests of bearing-adapt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anomaly_quality;
mod gitmetrics;
mod pipeline;
mod reconcile;
mod rightsize;
mod risk;
mod scipy;
/// Finding and calling SciPy, shared with bearing-metrics' tests.
#[allow(dead_code)]
#[path = "../../../metrics/tests/it/scipy.rs"]
mod scipy_python;
mod sklearn;
/// The generated utilisation history of bearing-metrics' tests.
#[path = "../../../metrics/tests/it/usage_history.rs"]
mod usage_history;
