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
  for s in "${SCHEMAS[@]:-}"; do [ -n "$s" ] && PGOPTIONS="-c client_min_messages=warning" psql -q "$DATABASE_URL" -c "DROP SCHEMA $s CASCADE" || true; done
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

  for p in "${ports[@]}"; do
    until curl -sf "http://127.0.0.1:$p/readyz" >/dev/null; do sleep 0.1; done
  done
  # Publish → scorecard latency: one deployment at a time through the first
  # replica, read back on it and on the last replica.
  python3 - "$C" "${ports[0]}" "${ports[$((C - 1))]}" <<'EOF'
import datetime, http.client, json, statistics, sys, time
c, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in {first, last}}
def samples(port):
    conns[port].request("GET", "/v1/scorecard?service=latency")
    body = json.loads(conns[port].getresponse().read())
    return body["objectives"][0]["key_results"][0]["samples"]
lat = {first: [], last: []}
for i in range(20):
    before = samples(last)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"id": f"lat-{c}-{i}", "source": "bench", "time": now, "service": "latency",
             "environment": "production", "kind": "deployment",
             "data": {"deployment_id": f"lat-{c}-{i}", "status": "success"}}
    t0 = time.monotonic()
    conns[first].request("POST", "/v1/events", json.dumps(event), {"Content-Type": "application/json"})
    conns[first].getresponse().read()
    seen = {}
    while len(seen) < len(conns):
        for p in conns:
            if p not in seen and samples(p) > before:
                seen[p] = (time.monotonic() - t0) * 1000
        time.sleep(0.005)
    for p in lat:
        lat[p].append(seen[p])
for name, p in (("receiving", first), ("last", last)):
    v = sorted(lat[p])
    print(f"latency  {c} replica(s), publish → scorecard on the {name} replica: "
          f"median {statistics.median(v):.0f} ms, max {v[-1]:.0f} ms (20 events, polled every 5 ms)")
EOF

  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done
