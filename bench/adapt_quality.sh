#!/usr/bin/env bash
# Measures the adapt crate's quality figures in an optimised build:
# anomaly detection precision/recall on generated series (fixed seed) and the
# Mann-Whitney U agreement with SciPy's committed reference cases.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p bearing-adapt --test it -- --nocapture --test-threads 1 \
  precision_and_recall scipy_committed 2>&1 | grep -E 'precision|cases|test result'
