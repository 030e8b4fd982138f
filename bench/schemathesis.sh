#!/usr/bin/env bash
# Checks the API against its OpenAPI document with schemathesis: starts the
# demo organisation's server (temp SQLite), an admin token, and a GitHub
# webhook secret, then runs every check on every operation except
# `positive_data_acceptance`: an ingest body that matches the Event schema can
# still be refused (422) by the per-kind rules of docs/formats.md, which the
# schema does not spell out.
#
#   bench/schemathesis.sh [MAX_EXAMPLES]   (default 50)
# schemathesis is pip-installed into bench/.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MAX=${1:-50}
VENV="$ROOT/bench/.venv"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q schemathesis
fi
BIN=${BEARING_BIN:-}
if [ -z "$BIN" ]; then
  cargo build -q -p bearing-cli
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/bearing"
fi
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
"$BIN" demo --no-serve 2>&1 | sed 's/^/  /'
DB="sqlite://$WORK/bearing-demo.db"
TOKEN=$("$BIN" --database "$DB" --intent bearing-demo.yaml token create --name st --scope admin 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BEARING_GITHUB_SECRET=schemathesis "$BIN" --database "$DB" --intent bearing-demo.yaml \
  serve --listen "127.0.0.1:$PORT" --reconcile-every 0s 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
VERSION=$("$VENV/bin/schemathesis" --version | grep -o '[0-9][0-9.]*' | head -1)
echo "schemathesis $VERSION against http://127.0.0.1:$PORT"
if [ "${VERSION%%.*}" -ge 4 ]; then
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --header "Authorization: Bearer $TOKEN" --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$MAX" --workers 2
else
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    -H "Authorization: Bearer $TOKEN" --checks all --hypothesis-max-examples "$MAX" --workers 2
fi
