#!/usr/bin/env bash
# ApacheJIT bench: Bearing's change-risk learners trained on the past and
# measured on the future (rolling origin), per project and overall, and the
# overall figures recomputed with scikit-learn from the same predictions.
#
#   bench/jit.sh PATH/TO/apachejit/dataset/apachejit_test_small.csv [--folds K]
#
# ApacheJIT (Keshavarz & Nagappan, MSR 2022) has no licence file, so it is
# not in this repository: `git clone https://github.com/hosseinkshvrz/apachejit`
# and pass the CSV's path (any of its dataset/*.csv files has the columns).
# scikit-learn is installed into bench/.venv (gitignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:?usage: bench/jit.sh APACHEJIT.csv [--folds K]}"
shift
venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import sklearn' 2>/dev/null || "$venv/bin/pip" install --quiet 'scikit-learn>=1.3'
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cd "$root"
cargo run --quiet -p bearing-adapt --example jit_bench -- "$data" "$@" \
  --predictions "$out/predictions.csv" --figures "$out/figures.json"
echo
echo "== the same predictions measured by scikit-learn"
"$venv/bin/python" "$root/bench/jit_sklearn.py" "$out/predictions.csv" "$out/figures.json"
