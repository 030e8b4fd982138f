#!/usr/bin/env bash
# Runs Checkov and `bearing check` on the same Terraform plans and prints the
# time ratio and how far their findings agree on the checks both have:
# IAM wildcards/admin, public S3, unencrypted S3, security groups open to the
# internet. Checkov is installed into bench/.venv.
#
#   BEARING_FIXTURES=/path/to/fixtures bench/checkov.sh [PLAN.json ...]
#
# BEARING (default target/release/bearing, built if missing) is the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv/checkov"  # its own venv: Checkov pins packages other bench tools need newer
if [ ! -x "$venv/bin/checkov" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check checkov
fi
bearing="${BEARING:-$root/target/release/bearing}"
if [ ! -x "$bearing" ]; then
  (cd "$root" && cargo build --release -q -p bearing-cli)
fi
if [ "$#" -gt 0 ]; then
  plans=("$@")
else
  : "${BEARING_FIXTURES:?set BEARING_FIXTURES or pass plan files}"
  plans=("$BEARING_FIXTURES"/terraform-plans/*.json)
fi
exec "$venv/bin/python" "$here/checkov_compare.py" "$bearing" "$venv/bin/checkov" "${plans[@]}"
