//! Parser throughput (filled in below).
fn main() {}
