//! Synthetic event histories for benchmarks (placeholder, filled below).
