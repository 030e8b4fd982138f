#!/usr/bin/env bash
# `bearing check` as a whole process (DESIGN.md target: <= 15 ms): start,
# load the intent, read the attachments, decide, print, exit. Runs the
# release binary N times (default 200) in three situations and prints p50,
# p95 and max wall time of each:
#   offline      the demo intent only, no store, a small Terraform plan;
#   store        the demo's SQLite store beside it: plans and the kept
#                outcomes snapshot read from it, decision not logged;
#   store+log    the same, and the decision written to the decision log.
#
#   bash bench/check.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-200}
BIN=${BEARING_BIN:-}
if [ -z "$BIN" ]; then
  cargo build -q --release -p bearing-cli
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/bearing"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$BIN" demo --no-serve >/dev/null 2>&1
mkdir offline && cp bearing-demo.yaml offline/
cp "$ROOT/crates/guard/tests/data/iam_clean.json" plan.json
cp plan.json offline/
DB="sqlite://$WORK/bearing-demo.db"
ARGS=(check --service payments-api --env production --strategy canary --label feature --check tests=passed --plan plan.json)

# Runs "$@" N times; prints p50/p95/max in milliseconds.
measure() {
  local label=$1; shift
  python3 - "$N" "$label" "$@" <<'PY'
import subprocess, sys, time
n, label, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm the page cache
samples = []
for _ in range(n):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples.append((time.perf_counter() - t) * 1000)
samples.sort()
q = lambda p: samples[min(len(samples) - 1, int(len(samples) * p))]
print(f"{label:<10} exit {r.returncode}  p50 {q(0.5):6.2f} ms  p95 {q(0.95):6.2f} ms  max {samples[-1]:6.2f} ms  ({n} runs)")
PY
}
(cd offline && measure offline "$BIN" --intent bearing-demo.yaml --database sqlite://none.db "${ARGS[@]}")
measure store "$BIN" --intent bearing-demo.yaml --database "$DB" "${ARGS[@]}" --no-log
measure store+log "$BIN" --intent bearing-demo.yaml --database "$DB" "${ARGS[@]}"
