//! Integration tests of the adapters: the real-world fixtures, and the corpus of
//! malformed inputs under `tests/malformed/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ci_jobs;
mod fixtures;
mod malformed;
mod properties;
mod shapes;
mod time_bounds;
mod usage;
