#!/usr/bin/env bash
# Load test of `bearing serve` over loopback with wrk: POST /v1/decide with a
# realistic envelope (targets: >= 20,000 decisions/s, p99 <= 5 ms on 2 cores),
# with every decision logged and with the log capped at 1,000/s, then
# POST /v1/events with 10-event JSONL batches. Uses a release build and
# the demo organisation (loaded with `bearing demo --no-serve`) in a temp dir.
#
#   bench/load.sh [DURATION] [CONNECTIONS]     (defaults: 20s, 16)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${1:-20s}
CONNS=${2:-16}
THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
BIN=${BEARING_BIN:-}
if [ -z "$BIN" ]; then
  cargo build -q --release -p bearing-cli
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/bearing"
fi

WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
"$BIN" demo --no-serve 2>&1 | sed 's/^/  /'
DB="sqlite://$WORK/bearing-demo.db"
TOKEN=$("$BIN" --database "$DB" --intent bearing-demo.yaml token create --name load --scope decide,ingest,read 2>/dev/null)
export BEARING_TOKEN=$TOKEN
start() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" --database "$DB" --intent bearing-demo.yaml serve --listen "127.0.0.1:$PORT" --reconcile-every 0s "$@" 2>"$WORK/serve.log" &
  PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  URL="http://127.0.0.1:$PORT"
  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"service":"checkout","environment":"production","strategy":"direct"}' "$URL/v1/decide" >/dev/null
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
log_counts() {
  curl -sf "$URL/metrics" -H "Authorization: Bearer $TOKEN" |
    grep -E "^bearing_decision_log_(written|dropped|waited|rate_limited)_total" | sed 's/^/  /' || true
}
rss() { awk '/VmRSS/ {print $2/1024 " MB"}' "/proc/$PID/status"; }
# Every decision logged (the default), then the log capped at 1,000/s like
# OPA's max_decisions_per_second, which measures the decision path itself.
start
echo "== POST /v1/decide, every decision logged: $DURATION, $CONNS connections, $THREADS threads (RSS before: $(rss))"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/decide.lua" "$URL" | tee "$WORK/decide.txt"
log_counts
echo "== POST /v1/events (10 events per request): $DURATION, 16 connections (RSS before: $(rss))"
wrk -t"$THREADS" -c16 -d"$DURATION" --latency -s "$ROOT/bench/ingest.lua" "$URL" | tee "$WORK/ingest.txt"
echo "RSS after: $(rss)"
stop
start --decision-log-max-rate 1000
echo "== POST /v1/decide, decision log capped at 1,000/s: $DURATION, $CONNS connections, $THREADS threads"
wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/bench/decide.lua" "$URL" | tee "$WORK/decide-capped.txt"
log_counts
summary() {
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$1")
  p99=$(awk '$1=="99%" {print $2}' "$1")
  echo "$2: $rps req/s, p99 $p99"
}
echo "== summary"
summary "$WORK/decide.txt" "decide, every decision logged"
summary "$WORK/decide-capped.txt" "decide, log capped at 1,000/s"
summary "$WORK/ingest.txt" "ingest (x10 events)"
