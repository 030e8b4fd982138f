#!/usr/bin/env bash
# Headless-Chromium test of the dashboard: starts `bearing demo` on a free
# port with a temporary SQLite database, loads every page, checks what it
# shows (objective titles, status words, SVG charts), saves screenshots to
# docs/screenshots/, then stops the server.
#
# Installs Debian's `chromium` if it is missing. BEARING_BIN may name a
# prebuilt binary; otherwise a debug build is made.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing chromium (apt)…"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

BIN=${BEARING_BIN:-}
if [ -z "$BIN" ]; then
  cargo build -q -p bearing-cli
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/bearing"
fi
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$WORK" && exec "$BIN" demo --listen 127.0.0.1:0 >"$WORK/out.txt" 2>"$WORK/err.txt") &
SERVER_PID=$!
URL=""
for _ in $(seq 1 240); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*/' "$WORK/out.txt" 2>/dev/null | head -1 || true)
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/err.txt" >&2; echo "FAIL: the demo server exited" >&2; exit 1; fi
  sleep 0.5
done
[ -n "$URL" ] || { cat "$WORK/err.txt" >&2; echo "FAIL: the demo server did not start" >&2; exit 1; }
echo "demo server at $URL"
sed 's/^/  /' "$WORK/err.txt"

chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$(mktemp -d -p "$WORK")" "$@" 2>/dev/null
}

FAILS=0
check() { # page-name path needle…
  local name=$1 path=$2; shift 2
  local dom="$WORK/$name.html"
  chrome --dump-dom "$URL${path#/}" >"$dom" || true
  for needle in "$@"; do
    if ! grep -qF -- "$needle" "$dom"; then
      echo "FAIL: $path does not show \`$needle\`" >&2; FAILS=$((FAILS + 1))
    fi
  done
  local charts; charts=$(grep -o '<svg' "$dom" | wc -l || true)
  echo "ok: $path ($(wc -c <"$dom") bytes, $charts svg)"
}

check scorecard / "Scorecard" "Ship to customers every day" "Releases that do not hurt customers" \
  "Keep cloud spend within budget" "No known critical vulnerability left past its SLA" \
  "More visitors complete their checkout" "off track" "met" "<svg" "The loop, now"
check services /services "payments-api" "search" "class=\"spark\"" "canary" "frozen"
check service /services/payments-api "Lead time for changes" "Deployments and incidents" "Change failure rate" "<svg" "INC-PAYMENTS-API"
check search /services/search "SLO error budget" "budget spent" "<svg"
check cost /cost "Cost against budget" "month-end forecast" "recommendations" "class=\"budget\"" "<svg" "Waste and savings" "Top rightsizing opportunities" "Realised vs expected savings" "/app</td>"
check pipelines /pipelines "Pipelines" "What to change" "job \`integration\` is flaky" "step \`Run npm ci\` of job \`build\`" \
  "of the critical path of \`ci\`" "p50 for a runner (\`self-hosted,linux\`)" "cancel-in-progress" "A typical run" "(critical path)" "<svg" \
  "Accepted changes: realised vs expected savings" "bearing pipelines insights --accept ID"
check security /security "Security SLAs" "Findings past SLA" "critical" "CVE-" "<svg" \
  "Security work list" "CVE-2023-44487" "CVE-2025-48384" "2025.08.25"
check decisions /decisions "Decision log" "deny" "allow" "known-exploited"
check plans /plans "Delivery plans and actions" "canary" "KEV catalog 2025.08.25 lists open findings of" "CVE-2025-48384"

mkdir -p docs/screenshots
for shot in "scorecard /" "service /services/payments-api" "search /services/search" "cost /cost" "pipelines /pipelines" "security /security" "decisions /decisions" "plans /plans" "services /services"; do
  set -- $shot
  chrome --screenshot="$ROOT/docs/screenshots/$1.png" --window-size=1400,1000 "$URL${2#/}" >/dev/null || true
  [ -s "docs/screenshots/$1.png" ] || { echo "FAIL: no screenshot of $2" >&2; FAILS=$((FAILS + 1)); }
done
echo "screenshots in docs/screenshots/"

if [ "$FAILS" -gt 0 ]; then echo "browser test: $FAILS failure(s)" >&2; exit 1; fi
echo "browser test: ok"
