#!/usr/bin/env bash
# Times pipeline insights (`bearing pipelines insights`' engine) over
# 1,000,000 generated job records with four steps each (50 services, 90
# days, eight jobs per run, flaky re-runs): the criterion bench
# `crates/metrics/benches/pipelines.rs` in release mode.
#
#   bench/pipelines.sh                     # 1M job records
#   JOBS=200000 bench/pipelines.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export BEARING_BENCH_JOBS="${JOBS:-1000000}"
cargo bench -p bearing-metrics --bench pipelines -- --noplot
