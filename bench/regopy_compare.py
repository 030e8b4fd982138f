"""Times the same Rego on regorus (`bearing policy eval`) and rego-cpp (regopy)."""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import yaml
from regopy import Interpreter

INTENT = """version: 1
teams: [{id: platform}]
services: [{id: web, team: platform}]
guardrails:
  - {id: k8s, kind: k8s_baseline}
"""


def regopy_times(modules, input_doc, query, repeat):
    rego = Interpreter()
    for name, text in modules:
        rego.add_module(name, text)
    rego.set_input_term(json.dumps(input_doc))
    result = rego.query(query)  # warm up and check it evaluates
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        rego.query(query)
        times.append(time.perf_counter() - t)
    return str(result), times


def bearing_times(bearing, policy_dir, input_file, query, repeat):
    out = subprocess.run(
        [bearing, "policy", "eval", policy_dir, "--input", input_file, "--query", query,
         "--repeat", str(repeat)], capture_output=True, text=True, check=True)
    m = re.search(r"p50 ([\d.]+) µs, p99 ([\d.]+) µs, mean ([\d.]+) µs", out.stderr)
    return out.stdout, float(m.group(1)), float(m.group(3))


def case(name, bearing, modules, input_doc, query, repeat):
    tmp = tempfile.mkdtemp()
    pdir = os.path.join(tmp, "policy")
    os.mkdir(pdir)
    for mname, text in modules:
        with open(os.path.join(pdir, mname), "w") as f:
            f.write(text)
    input_file = os.path.join(tmp, "input.json")
    with open(input_file, "w") as f:
        json.dump(input_doc, f)
    b_out, b_p50, b_mean = bearing_times(bearing, pdir, input_file, query, repeat)
    r_out, r_times = regopy_times(modules, input_doc, query, repeat)
    r_p50 = statistics.median(r_times) * 1e6
    r_mean = statistics.mean(r_times) * 1e6
    print(f"{name}: {query} x{repeat}")
    print(f"  regorus (bearing): p50 {b_p50:8.1f} µs  mean {b_mean:8.1f} µs")
    print(f"  rego-cpp (regopy): p50 {r_p50:8.1f} µs  mean {r_mean:8.1f} µs")
    print(f"  rego-cpp / regorus (p50): {r_p50 / b_p50:.1f}x")
    print(f"  results: regorus {' '.join(b_out.split())[:100]} | rego-cpp {r_out[:100]}")


def main():
    bearing, root, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = os.path.join(root, "crates/guard/tests/data/conftest")
    # 1. A Conftest policy (deny/violation/warn/exception) on one Deployment.
    with open(os.path.join(data, "v1/deployment.rego")) as f:
        conftest_policy = f.read()
    with open(os.path.join(data, "inputs/deployment.yaml")) as f:
        deployment = yaml.safe_load(f)
    case("conftest policy", bearing, [("deployment.rego", conftest_policy)], deployment,
         "data.main", repeat)
    # 2. Bearing's rendered k8s_baseline module on a three-document manifest.
    tmp = tempfile.mkdtemp()
    intent = os.path.join(tmp, "bearing.yaml")
    with open(intent, "w") as f:
        f.write(INTENT)
    module = subprocess.run([bearing, "--intent", intent, "policy", "show", "k8s"],
                            capture_output=True, text=True, check=True).stdout
    with open(os.path.join(root, "crates/guard/policies/lib.rego")) as f:
        lib = f.read()
    with open(os.path.join(data, "deployments.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    normalized = {"service": "web", "environment": "production", "labels": [],
                  "context": {"plans": {}, "outcomes": {}},
                  "attachments": {"manifests": [{"file": "deployments.yaml", "documents": docs}],
                                  "terraform_plans": [], "scans": [], "cost": []}}
    case("k8s_baseline module", bearing, [("lib.rego", lib), ("k8s.rego", module)], normalized,
         "count(data.bearing.guardrails.g0.deny)", repeat)


if __name__ == "__main__":
    main()
