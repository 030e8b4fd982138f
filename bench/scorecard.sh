#!/usr/bin/env bash
# Measures the metric engine on a synthetic organisation (500 services, 90
# days): dataset build, full scorecard + outcomes, incremental update after one
# new event, peak RSS — at 1,000,000 and 10,000,000 events — then computes the
# same per-service DORA figures with plain SQL in DuckDB and checks they agree.
#
#   bench/scorecard.sh                      # 1M and 10M, DuckDB at 1M
#   SIZES="1000000" DUCKDB_SIZES="1000000 10000000" bench/scorecard.sh
#
# DuckDB (Python) is installed into bench/.venv (gitignored); the CSV export
# goes to a temporary folder that is removed at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
sizes="${SIZES:-1000000 10000000}"
duck_sizes="${DUCKDB_SIZES:-1000000}"

cargo build --release --quiet -p bearing-metrics --example scorecard_bench
bin="$CARGO_TARGET_DIR/release/examples/scorecard_bench"

echo "== Bearing metric engine (times in seconds; RSS from the kernel's high-water mark)"
for n in $sizes; do
  /usr/bin/time -f "  process: %e s wall, %M KB max RSS" "$bin" --events "$n"
done

venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import duckdb' 2>/dev/null || "$venv/bin/pip" install --quiet 'duckdb>=1.1'
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for n in $duck_sizes; do
  echo "== DuckDB comparison at $n events"
  "$bin" --events "$n" --export "$tmp/$n" > /dev/null
  /usr/bin/time -f "  duckdb process: %e s wall, %M KB max RSS" \
    "$venv/bin/python" "$root/bench/duckdb_dora.py" "$tmp/$n"
done
