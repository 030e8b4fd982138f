#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of bearing-guard against its own small inputs and the
//! shared fixtures (`BEARING_FIXTURES`).

mod attachments;
#[allow(dead_code)]
mod common;
mod conftest;
mod fixtures;
mod kinds;
mod native;
mod scenario;
