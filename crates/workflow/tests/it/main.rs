//! Integration tests of bearing-workflow: golden pipelines, schema validity,
//! lint on real-world pipelines, and parser robustness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod golden;
mod lint;
mod packaging;
mod robust;
mod schema;
