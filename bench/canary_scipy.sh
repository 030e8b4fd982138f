#!/usr/bin/env bash
# Generates SciPy reference results for the canary judge's Mann-Whitney U test
# and checks Bearing against them.
#
#   bench/canary_scipy.sh            # regenerate crates/adapt/tests/scipy_mannwhitneyu.json, run the test
#   bench/canary_scipy.sh --live     # also run the test live against SciPy with a fresh seed
#
# SciPy is installed into bench/.venv (gitignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import scipy' 2>/dev/null || "$venv/bin/pip" install --quiet 'scipy>=1.11' numpy
"$venv/bin/python" "$root/bench/canary_scipy.py" --seed 20261126 --cases 60 \
  --out "$root/crates/adapt/tests/scipy_mannwhitneyu.json"
cd "$root"
if [ "${1:-}" = "--live" ]; then
  BEARING_SCIPY=1 BEARING_SCIPY_PYTHON="$venv/bin/python" cargo test -p bearing-adapt --test it scipy -- --nocapture
else
  cargo test -p bearing-adapt --test it scipy -- --nocapture
fi
