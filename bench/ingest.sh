#!/usr/bin/env bash
# Bulk-ingest bench: generates N realistic Bearing JSONL events (default
# 1,000,000) and imports them with the release `bearing ingest` into a fresh
# SQLite file, then (when DATABASE_URL is set) into a fresh Postgres schema.
# Prints events/s and peak RSS for each.
#
#   bash bench/ingest.sh [N] [BATCH_SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
BATCH="${2:-10000}"
TARGET="${CARGO_TARGET_DIR:-target}"

# BEARING_BIN / GEN_BIN skip the build (e.g. binaries built earlier).
BEARING="${BEARING_BIN:-$TARGET/release/bearing}"
GEN="${GEN_BIN:-$TARGET/release/examples/gen_events}"
[ -n "${BEARING_BIN:-}" ] || cargo build --release -q -p bearing-cli --bin bearing
[ -n "${GEN_BIN:-}" ] || cargo build --release -q -p bearing-store --example gen_events

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$GEN" "$N" 42 > "$WORK/events.jsonl"
echo "input: $N events, $(du -h "$WORK/events.jsonl" | cut -f1) of JSONL, batch size $BATCH, $(nproc) cores"

# Runs `bearing ingest` against $1 and prints elapsed time, events/s, peak RSS.
run() {
  local label="$1" db="$2"
  local start end rss
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" \
    "$BEARING" --database "$db" ingest "$WORK/events.jsonl" --batch-size "$BATCH" --output json \
    > "$WORK/out.json" 2> "$WORK/err.log"
  end=$(date +%s.%N)
  rss=$(tail -1 "$WORK/rss")
  local accepted
  accepted=$(grep -m1 '"accepted"' "$WORK/out.json" | tr -dc '0-9')
  awk -v l="$label" -v n="$accepted" -v s="$start" -v e="$end" -v r="$rss" 'BEGIN {
    t = e - s; printf "%-9s %d events in %.2f s = %.0f events/s, peak RSS %.0f MiB\n", l, n, t, n / t, r / 1024 }'
  if [ "$accepted" != "$N" ]; then echo "expected $N accepted, got $accepted" >&2; exit 1; fi
}

run sqlite "sqlite://$WORK/bench.db"
echo "sqlite file: $(du -h "$WORK/bench.db" | cut -f1)"

if [ -n "${DATABASE_URL:-}" ] && command -v psql >/dev/null; then
  SCHEMA="bearing_bench_$$"
  psql -q "$DATABASE_URL" -c "CREATE SCHEMA $SCHEMA"
  sep='?'; case "$DATABASE_URL" in *\?*) sep='&';; esac
  run postgres "${DATABASE_URL}${sep}options=-csearch_path%3D${SCHEMA}" || true
  psql -q "$DATABASE_URL" -c "DROP SCHEMA $SCHEMA CASCADE"
else
  echo "postgres: skipped (set DATABASE_URL)"
fi
