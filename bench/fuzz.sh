#!/usr/bin/env bash
# Runs every cargo-fuzz target (event parsers, intent, durations and times) for a bounded time.
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

all=(parse_bearing parse_bearing_csv parse_cdevents parse_github parse_gitlab parse_sarif parse_trivy parse_grype parse_focus parse_opencost parse_infracost detect parse_durations parse_intent)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

fixture_dir() {
    case "$1" in
        parse_cdevents) echo cdevents ;;
        parse_github) echo github-webhooks ;;
        parse_gitlab) echo ci-runs/gitlab-webhooks ;;
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
    case "$t" in
        parse_intent)
            cp "$here"/crates/intent/tests/cases/*.yaml "$here"/crates/intent/templates/*.yaml "$corpus"/ ;;
        parse_durations)
            # One value per file: durations, targets, expressions and times near the bounds.
            i=0
            for v in 30d 1h30m 36500d 36501d 5214w2d 100000000d 999999999999d 18446744073709551615s \
                "<= 1d" ">= 5/week" "dora.change_failure_rate(30d) > 15%" \
                1970-01-01T00:00:00Z 1969-12-31T23:59:59Z 9999-12-31T23:59:59-00:01 \
                "2024-09-18 22:00:00" 0000-01-01 +10000-01-01T00:00:00Z; do
                printf '%s' "$v" > "$corpus/seed-$i"; i=$((i + 1))
            done ;;
        *)
            cp "$here"/crates/events/tests/malformed/* "$corpus"/ 2>/dev/null || true ;;
    esac
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
