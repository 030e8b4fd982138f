#!/usr/bin/env bash
# Event bus bench: events/s through NATS JetStream into Postgres with 1, 2 and
# 3 `bearing serve --bus` replicas consuming, and the latency from publish to
# the scorecard (on the replica that took the POST and on another one).
#
# For each replica count: a fresh Postgres schema and a fresh stream; N events
# are published first with `bearing ingest --bus` (its rate is printed too),
# then the replicas are started together and the time until Postgres holds all
# N events gives events/s (process start included, about 0.1 s). Every batch a
# replica commits sends a refresh signal, so each replica also reloads its
# snapshot as the events come in, as in production.
#
#   bash bench/bus.sh [N]       # default 200000
#
# Needs DATABASE_URL and NATS with JetStream (BEARING_NATS_URL, default
# nats://127.0.0.1:4222); deletes its schemas and streams at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200000}"
NATS="${BEARING_NATS_URL:-nats://127.0.0.1:4222}"
TARGET="${CARGO_TARGET_DIR:-target}"
: "${DATABASE_URL:?set DATABASE_URL to a Postgres database}"

BEARING="${BEARING_BIN:-$TARGET/release/bearing}"
GEN="${GEN_BIN:-$TARGET/release/examples/gen_events}"
[ -n "${BEARING_BIN:-}" ] || cargo build --release -q -p bearing-cli --bin bearing
[ -n "${GEN_BIN:-}" ] || cargo build --release -q -p bearing-store --example gen_events

WORK="$(mktemp -d)"
PIDS=()
SCHEMAS=()
STREAMS=()
hostport="${NATS#nats://}"
# A JetStream API request over the plain NATS protocol (no NATS CLI needed).
js_api() {
  python3 - "$hostport" "$1" <<'EOF'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.recv(4096)
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.bench 1\r\nPUB ' + sys.argv[2].encode() + b' _INBOX.bench 0\r\n\r\nPING\r\n')
data, end = b"", time.time() + 5
while b"MSG" not in data and time.time() < end:
    data += s.recv(65536)
EOF
}
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for s in "${STREAMS[@]:-}"; do
    [ -n "$s" ] && { js_api "\$JS.API.STREAM.DELETE.$s"; js_api "\$JS.API.STREAM.DELETE.${s}_DEAD"; } || true
  done
  for s in "${SCHEMAS[@]:-}"; do [ -n "$s" ] && psql -q "$DATABASE_URL" -c "DROP SCHEMA $s CASCADE" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$GEN" "$N" 42 > "$WORK/events.jsonl"
cat > "$WORK/bearing.yaml" <<'EOF'
version: 1
teams: [{ id: ops }]
services:
  - { id: latency, team: ops, environments: [production] }
objectives:
  - id: ship
    layer: engineering
    key_results:
      - { metric: dora.deployment_frequency, scope: { service: latency }, target: ">= 1/week", window: 30d }
EOF
echo "input: $N events, $(du -h "$WORK/events.jsonl" | cut -f1) of JSONL, $(nproc) cores, NATS $NATS"

now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
count() { psql -qtA "$DATABASE_URL" -c "SELECT count(*) FROM $1.events"; }
samples() {
  curl -s "http://127.0.0.1:$1/v1/scorecard?service=latency" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["objectives"][0]["key_results"][0]["samples"])'
}

for C in 1 2 3; do
  schema="bearing_bench_bus_$$_$C"
  stream="BENCH_$$_$C"
  SCHEMAS+=("$schema")
  STREAMS+=("$stream")
  psql -q "$DATABASE_URL" -c "CREATE SCHEMA $schema"
  sep='?'; case "$DATABASE_URL" in *\?*) sep='&';; esac
  db="${DATABASE_URL}${sep}options=-csearch_path%3D${schema}"
  bus=(--bus "$NATS" --bus-stream "$stream")

  t0=$(now)
  "$BEARING" --database "$db" --intent "$WORK/bearing.yaml" ingest "${bus[@]}" --batch-size 10000 \
    --output json "$WORK/events.jsonl" > "$WORK/publish.json" 2> "$WORK/publish.err"
  t1=$(now)
  awk -v n="$N" -v s="$t0" -v e="$t1" 'BEGIN { printf "publish  %d events in %.2f s = %.0f events/s (ingest --bus, acknowledged by JetStream)\n", n, e - s, n / (e - s) }'

  ports=()
  t0=$(now)
  for _ in $(seq 1 "$C"); do
    port=$(free_port)
    ports+=("$port")
    "$BEARING" --database "$db" --intent "$WORK/bearing.yaml" serve --no-auth \
      --listen "127.0.0.1:$port" --refresh 1h --reconcile-every 0s "${bus[@]}" \
      > "$WORK/serve-$C-$port.log" 2>&1 &
    PIDS+=($!)
  done
  until [ "$(count "$schema" 2>/dev/null || echo 0)" -ge "$N" ]; do sleep 0.1; done
  t1=$(now)
  awk -v c="$C" -v n="$N" -v s="$t0" -v e="$t1" 'BEGIN { printf "consume  %d replica(s): %d events into Postgres in %.2f s = %.0f events/s\n", c, n, e - s, n / (e - s) }'

  # Publish → scorecard latency: one deployment at a time through the first
  # replica, read back on the first and on the last replica.
  for p in "${ports[@]}"; do
    until curl -sf "http://127.0.0.1:$p/readyz" >/dev/null; do sleep 0.1; done
  done
  first=${ports[0]}
  last=${ports[$((C - 1))]}
  : > "$WORK/lat-same" ; : > "$WORK/lat-other"
  for i in $(seq 1 20); do
    before=$(samples "$last")
    t=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    t0=$(now)
    curl -sf -XPOST -H 'Content-Type: application/json' "http://127.0.0.1:$first/v1/events" \
      -d "{\"id\":\"lat-$C-$i\",\"source\":\"bench\",\"time\":\"$t\",\"service\":\"latency\",\"environment\":\"production\",\"kind\":\"deployment\",\"data\":{\"deployment_id\":\"lat-$C-$i\",\"status\":\"success\"}}" >/dev/null
    same=""; other=""
    while [ -z "$same" ] || [ -z "$other" ]; do
      [ -n "$same" ] || { [ "$(samples "$first")" -gt "$before" ] && same=$(awk -v s="$t0" -v e="$(now)" 'BEGIN{print (e-s)*1000}'); } || true
      [ -n "$other" ] || { [ "$(samples "$last")" -gt "$before" ] && other=$(awk -v s="$t0" -v e="$(now)" 'BEGIN{print (e-s)*1000}'); } || true
      sleep 0.01
    done
    echo "$same" >> "$WORK/lat-same"; echo "$other" >> "$WORK/lat-other"
  done
  for f in same other; do
    sort -n "$WORK/lat-$f" | awk -v c="$C" -v f="$f" '{ v[NR] = $1 } END {
      printf "latency  %d replica(s), publish → scorecard on the %s replica: median %.0f ms, max %.0f ms (20 events, curl polling every 10 ms)\n",
        c, (f == "same" ? "receiving" : "last"), v[int((NR + 1) / 2)], v[NR] }'
  done

  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done
