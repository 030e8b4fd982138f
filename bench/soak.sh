#!/usr/bin/env bash
# Bounded soak of `bearing serve`: drives POST /v1/decide with wrk for
# SOAK_SECONDS (default 300) at a moderate rate while sampling the server's
# RSS every 10 s, then reports first/last/max RSS to show memory stays flat
# (decisions are logged to the store throughout).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_TOTAL=${SOAK_SECONDS:-300}
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
PID=""; WRK=""
cleanup() { [ -n "$WRK" ] && kill "$WRK" 2>/dev/null; [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
"$BIN" demo --no-serve >/dev/null 2>&1
DB="sqlite://$WORK/bearing-demo.db"
export BEARING_TOKEN=$("$BIN" --database "$DB" --intent bearing-demo.yaml token create --name soak --scope decide,read 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" --database "$DB" --intent bearing-demo.yaml serve --listen "127.0.0.1:$PORT" --reconcile-every 60s 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
wrk -t1 -c8 -d"${SECONDS_TOTAL}s" -s "$ROOT/bench/decide.lua" "http://127.0.0.1:$PORT" >"$WORK/wrk.txt" &
WRK=$!
echo "t_seconds rss_mb"
for t in $(seq 0 10 "$SECONDS_TOTAL"); do
  awk -v t="$t" '/VmRSS/ {printf "%d %.1f\n", t, $2/1024}' "/proc/$PID/status" | tee -a "$WORK/rss.txt"
  sleep 10
done
wait "$WRK" || true; WRK=""
grep -E "Requests/sec|requests in" "$WORK/wrk.txt"
awk 'NR==1 {first=$2} {last=$2; if ($2>max) max=$2} END {printf "RSS first %.1f MB, last %.1f MB, max %.1f MB\n", first, last, max}' "$WORK/rss.txt"
curl -sf "http://127.0.0.1:$PORT/metrics" -H "Authorization: Bearer $BEARING_TOKEN" | grep -E "^bearing_decision_log_(written|dropped|waited)_total" || true
