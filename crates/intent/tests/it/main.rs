#![allow(clippy::unwrap_used, clippy::expect_used)]

mod golden;
mod merge;
mod never_panics;
mod schema;
