#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bounds;
mod golden;
mod merge;
mod never_panics;
mod schema;
