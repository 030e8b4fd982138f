#!/usr/bin/env bash
# Compares policy evaluation time of Bearing (regorus) with rego-cpp (the
# `regopy` Python package, installed into bench/.venv) on the same Rego and
# inputs: a Conftest-style policy on a Kubernetes Deployment, and Bearing's
# built-in k8s_baseline module (rendered) on a multi-document manifest.
#
#   bench/regopy.sh [REPEAT]
#
# BEARING (default target/release/bearing, built if missing) is the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv"
if ! "$venv/bin/python" -c "import regopy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check regopy pyyaml
fi
"$venv/bin/python" -c "import yaml" 2>/dev/null || "$venv/bin/pip" install -q pyyaml
bearing="${BEARING:-$root/target/release/bearing}"
if [ ! -x "$bearing" ]; then
  (cd "$root" && cargo build --release -q -p bearing-cli)
fi
exec "$venv/bin/python" "$here/regopy_compare.py" "$bearing" "$root" "${1:-2000}"
