"""Conftest's loop through real OPA and through `bearing check`, compared.

For each case (a folder of policies, input files, combine or not, the
namespaces), runs the loop Conftest runs (policy/engine.go `check`) on OPA's
Go engine (the `opa-golib-python-bindings` package): per input document, per
namespace, per `deny`/`violation`/`warn` rule, the exception query
`data.<ns>.exception[_][_] == "<name>"` and the rule query `data.<ns>.<rule>`;
then runs `bearing check --output json` on the same files with a `rego`
guardrail, and compares the failures and warnings (kind and message) as
multisets. Exits 1 on any difference.

A boolean rule (`deny if {…}`) that is true is a pass for Conftest and a
failure named after the rule for Bearing, deliberately; the loop here expects
Bearing's failure, so which boolean rules are true is compared with OPA.

Cases: the policies of crates/guard/tests/data/conftest (ours, Conftest's
shapes), the import-alias case in all six load orders, and, with
`--conftest DIR` (a checkout of open-policy-agent/conftest), Conftest's own
examples, chosen ones and a sweep of every example with a `policy` folder and
YAML or JSON inputs (skipped where OPA alone cannot read them: a custom YAML
tag, a function Conftest's own runtime defines). Rego v0 policies are left
out: the bindings parse Rego v1 only.
A case listed in KNOWN_DIVERGENCES must still differ (so the list only
shrinks).

Usage: opa_compare.py --bearing target/debug/bearing [--conftest DIR]
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml
from opa_bindings.engine import OpaEngine, OpaUndefinedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "crates/guard/tests/data")

# Cases where Bearing is known to answer differently from OPA, with the reason
# (see docs/guardrails.md); none at present.
KNOWN_DIVERGENCES = {}

RULE = re.compile(r"^(deny|violation|warn)((?:_[A-Za-z0-9]+)*)\b", re.M)
PACKAGE = re.compile(r"^package\s+([\w.]+)", re.M)


def rego_files(path):
    if os.path.isfile(path):
        return [path]
    out = []
    for d, _, files in os.walk(path):
        out += [os.path.join(d, f) for f in files if f.endswith(".rego")]
    return sorted(out)


def documents(path):
    """The documents of one input file, as Conftest's parsers give them."""
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def is_plan(path):
    """A Terraform plan (`bearing check --plan`); anything else is read as manifests."""
    if not path.endswith(".json"):
        return False
    with open(path) as f:
        doc = json.load(f)
    return isinstance(doc, dict) and "resource_changes" in doc


def boolean_message(rule):
    """Bearing's failure for a boolean rule that is true, which Conftest counts
    as passed (a deliberate difference, docs/guardrails.md): the loop expects
    it, so what is compared with OPA is which boolean rules are true."""
    return f"`{rule}` is true (a boolean rule, which Conftest counts as passed)"


def opa_loop(policy, inputs, combine, namespaces):
    """Conftest's check loop on OPA: sorted (kind, message) pairs. Each input
    gets `data.conftest.file` of its file (`Combined` with combine), as
    Conftest's `addFileInfo` writes it."""
    sources = {}
    rules = {}  # namespace -> rule names
    for f in rego_files(policy):
        with open(f) as fh:
            text = fh.read()
        sources[f] = text
        ns = PACKAGE.search(text).group(1)
        rules.setdefault(ns, set()).update(m.group(0) for m in RULE.finditer(text))
    if namespaces == "all":
        namespaces = sorted(rules)
    if combine:
        entries = [{"path": p, "contents": d} for p in inputs for d in documents(p)]
        entries.sort(key=lambda e: e["path"])
        configs = [("Combined", entries)]
    else:
        configs = [(p, d) for p in inputs for d in documents(p)]
    engines = {}
    out = []
    for path, config in configs:
        if path not in engines:
            engines[path] = OpaEngine()
            for f, text in sources.items():
                engines[path].add_policy(f, text)
            abs_path = os.path.abspath(path)
            engines[path].add_data({"conftest": {"file": {
                "name": os.path.basename(abs_path), "dir": os.path.dirname(abs_path)}}})
        engine = engines[path]
        for ns in namespaces:
            for rule in sorted(rules.get(ns, ())):
                short = re.sub(r"^(violation_|deny_|warn_)", "", rule)
                short = "" if short == rule else short
                query = f'data.{ns}.exception[_][_] == "{short}"'
                if engine.eval_query(query, config):
                    continue
                try:
                    value = engine.eval_document(f"{ns}.{rule}", config)
                except OpaUndefinedError:
                    continue
                kind = "warn" if rule.startswith("warn") else "deny"
                if value is True:
                    out.append((kind, boolean_message(rule)))
                for item in value if isinstance(value, list) else []:
                    if isinstance(item, str):
                        out.append((kind, item))
                    elif isinstance(item, dict):
                        out.append((kind, item["msg"]))
    return sorted(out)


def bearing_loop(bearing, policy, inputs, combine, namespaces):
    """`bearing check` on the same files: sorted (kind, message) pairs, or the error."""
    params = {"combine": combine}
    if namespaces == "all":
        params["all_namespaces"] = True
    else:
        params["namespaces"] = namespaces
    with tempfile.TemporaryDirectory() as tmp:
        intent = os.path.join(tmp, "bearing.yaml")
        with open(intent, "w") as f:
            guardrail = {"id": "custom", "kind": "rego", "path": policy, "params": params}
            json.dump(
                {
                    "version": 1,
                    "teams": [{"id": "ops"}],
                    "services": [{"id": "svc", "team": "ops", "environments": ["production"]}],
                    "guardrails": [guardrail],
                },
                f,
            )
        cmd = [bearing, "--intent", intent, "check", "--output", "json"]
        for p in inputs:
            cmd += ["--plan" if is_plan(p) else "--manifests", p]
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    if run.returncode not in (0, 1, 3):
        return "error: " + (run.stderr.strip() or f"exit {run.returncode}")
    if run.stderr.strip():
        # A decision is on stdout; nothing of the engine's may reach stderr.
        return "stderr: " + run.stderr.strip()
    decision = json.loads(run.stdout)
    if decision.get("errors"):
        return "error: " + "; ".join(decision["errors"])
    return sorted(
        (v["effect"], v["message"])
        for v in decision["violations"]
        if v["effect"] in ("deny", "warn")
    )


def load_order_cases(tmp):
    """The import-alias case of issue 14, one folder per load order."""
    files = [
        ("one.rego", "package main\nx := 1\n"),
        (
            "two.rego",
            "package main\nimport data.kubernetes\n"
            'violation contains "v" if { kubernetes.is_deployment }\n',
        ),
        ("three.rego", 'package kubernetes\nis_deployment if { input.kind == "Deployment" }\n'),
    ]
    deployment = os.path.join(tmp, "deployment.yaml")
    with open(deployment, "w") as f:
        f.write("kind: Deployment\nmetadata: {name: d}\n")
    cases = []
    for order in itertools.permutations(range(3)):
        d = os.path.join(tmp, "order-" + "".join(map(str, order)))
        os.makedirs(d)
        for rank, i in enumerate(order):
            with open(os.path.join(d, f"{rank}_{files[i][0]}"), "w") as f:
                f.write(files[i][1])
        cases.append((f"load order {order}", d, [deployment], False, ["main"]))
    return cases


def conftest_cases(repo, tmp):
    """Conftest's own examples, with a Deployment that passes every `deny`."""
    ex = os.path.join(repo, "examples")
    compliant = os.path.join(tmp, "compliant.yaml")
    labels = {f"app.kubernetes.io/{k}": k for k in
              ["name", "instance", "version", "component", "part-of", "managed-by"]}
    with open(compliant, "w") as f:
        yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "compliant", "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": "a", "release": "r"}},
                     "template": {"spec": {"securityContext": {"runAsNonRoot": True}}}},
        }, f)
    k8s = os.path.join(ex, "kubernetes")
    return [
        ("conftest:kubernetes", os.path.join(k8s, "policy"),
         [os.path.join(k8s, f) for f in ["deployment.yaml", "service.yaml"]] + [compliant],
         False, ["main"]),
        ("conftest:kubernetes/combine", os.path.join(k8s, "combine", "combine.rego"),
         [os.path.join(k8s, "combine", "combine.yaml")], True, ["main"]),
        ("conftest:exceptions", os.path.join(ex, "exceptions", "policy"),
         [os.path.join(ex, "exceptions", "deployments.yaml")], False, ["main"]),
        ("conftest:combine", os.path.join(ex, "combine", "policy"),
         [os.path.join(ex, "combine", f) for f in ["team.yaml", "user1.yaml", "user2.yaml", "users.yaml"]],
         True, ["main"]),
    ]


def sweep_cases(repo):
    """Every Conftest example with a `policy` folder and YAML or JSON inputs,
    all namespaces, each input file on its own."""
    ex = os.path.join(repo, "examples")
    cases = []
    for d in sorted(os.listdir(ex)):
        policy = os.path.join(ex, d, "policy")
        inputs = sorted(
            os.path.join(ex, d, f)
            for f in os.listdir(os.path.join(ex, d))
            if f.endswith((".yaml", ".yml", ".json"))
        ) if os.path.isdir(policy) else []
        if inputs:
            cases.append((f"conftest sweep:{d}", policy, inputs, False, "all"))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bearing", required=True)
    ap.add_argument("--conftest", help="a checkout of open-policy-agent/conftest")
    args = ap.parse_args()
    args.bearing = os.path.abspath(args.bearing)
    if args.conftest:
        args.conftest = os.path.abspath(args.conftest)
    c = os.path.join(DATA, "conftest")
    cases = [
        ("k8s", os.path.join(c, "k8s"),
         [os.path.join(c, "k8s/compliant.yaml"), os.path.join(c, "deployments.yaml")], False, ["main"]),
        ("v1 exceptions", os.path.join(c, "v1"), [os.path.join(c, "deployments.yaml")], False, ["main"]),
        ("namespaces", os.path.join(c, "ns"), [os.path.join(c, "deployments.yaml")], False, "all"),
        ("combine selectors", os.path.join(c, "combine"),
         [os.path.join(c, "inputs", f) for f in ["deployment.yaml", "service.yaml"]], True, ["main"]),
        ("combine users", os.path.join(c, "users"),
         [os.path.join(c, "users", f) for f in ["team.yaml", "users.yaml"]], True, ["main"]),
        ("some after a loop", os.path.join(c, "teams"),
         [os.path.join(c, "users", f) for f in ["team.yaml", "users.yaml"]], True, ["main"]),
        ("some bound only in comprehensions", os.path.join(c, "order"),
         [os.path.join(c, "users", f) for f in ["team.yaml", "users.yaml"]], True, ["main"]),
        ("shadowing in a comprehension", os.path.join(c, "shadow"),
         [os.path.join(c, "users", "users.yaml"), os.path.join(c, "shadow", "again.yaml")], True, ["main"]),
        ("data.conftest.file and boolean rules", os.path.join(c, "file"),
         [os.path.join(c, "file", f) for f in ["pods.yml", "deployment.yaml"]], False, ["main"]),
        ("walk", os.path.join(c, "walk"),
         [os.path.join(c, "deployments.yaml"), os.path.join(c, "walk", "pod.yaml")], False, ["main"]),
        ("terraform", os.path.join(c, "terraform"),
         [os.path.join(DATA, f) for f in ["iam_star.json", "iam_clean.json"]], False, ["main"]),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        cases += load_order_cases(tmp)
        if args.conftest:
            cases += conftest_cases(args.conftest, tmp)
        if args.conftest:
            cases += sweep_cases(args.conftest)
        for name, policy, inputs, combine, namespaces in cases:
            try:
                opa = opa_loop(policy, inputs, combine, namespaces)
            except Exception as e:  # inputs or policies OPA alone cannot read
                if not name.startswith("conftest sweep:"):
                    raise
                print(f"{name}: skipped (OPA: {str(e).splitlines()[0][:120]})")
                continue
            ours = bearing_loop(args.bearing, policy, inputs, combine, namespaces)
            same = opa == ours
            if name in KNOWN_DIVERGENCES:
                status = "known divergence" if not same else "FIXED (remove from KNOWN_DIVERGENCES)"
                failed += same
            else:
                status = "same" if same else "DIFFERENT"
                failed += not same
            print(f"{name}: {status} ({len(opa)} findings from OPA)")
            if status != "same":
                print(f"  opa:     {json.dumps(opa)}\n  bearing: {json.dumps(ours)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
