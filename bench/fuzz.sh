#!/usr/bin/env bash
# Runs every cargo-fuzz target of the event parsers for a bounded time.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, all targets)
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs
# cargo-fuzz if it is missing. Seeds each corpus with the malformed-input corpus
# and, when BEARING_FIXTURES is set, the real-world fixtures of the matching kind.
# Crashes are written to fuzz/artifacts/<target>/ and make the script exit 1.
# Not run in CI.
set -euo pipefail

secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here/fuzz"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz…" >&2
    cargo +nightly install cargo-fuzz --locked
fi

all=(parse_bearing parse_bearing_csv parse_cdevents parse_github parse_sarif parse_trivy parse_grype parse_focus parse_opencost parse_infracost detect)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

fixture_dir() {
    case "$1" in
        parse_cdevents) echo cdevents ;;
        parse_github) echo github-webhooks ;;
        parse_sarif) echo sarif ;;
        parse_trivy) echo trivy ;;
        parse_grype) echo grype ;;
        parse_focus) echo focus-cost ;;
        parse_opencost) echo opencost ;;
        parse_infracost) echo infracost ;;
        *) echo "" ;;
    esac
}

failed=()
for t in "${targets[@]}"; do
    corpus="corpus/$t"
    mkdir -p "$corpus"
    cp "$here"/crates/events/tests/malformed/* "$corpus"/ 2>/dev/null || true
    d="$(fixture_dir "$t")"
    if [ -n "$d" ] && [ -n "${BEARING_FIXTURES:-}" ] && [ -d "$BEARING_FIXTURES/$d" ]; then
        find "$BEARING_FIXTURES/$d" -type f ! -name SOURCES.md -exec cp {} "$corpus"/ \;
    fi
    echo "== $t (${secs}s)"
    if ! cargo +nightly fuzz run "$t" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 2>&1 | tail -n 5; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${secs}s each without a crash"
