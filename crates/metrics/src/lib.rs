//! bearing-metrics
