"""Generate Mann-Whitney U reference cases with SciPy.

Writes a JSON list of cases: {"x": [...], "y": [...], "u": U1, "p": p} where
U1 and p come from scipy.stats.mannwhitneyu(x, y, alternative='two-sided',
method='asymptotic', use_continuity=True). Samples vary in size (3..60), in
location shift, and about half of them carry ties (values rounded).

Usage: canary_scipy.py --seed 20261126 --cases 60 --out FILE

With --stdin it computes given cases instead: reads {"cases": [{"x", "y",
"method", "alternative", "use_continuity"}]} (method, alternative and
use_continuity default to 'asymptotic', 'two-sided' and true) and writes
{"scipy": version, "results": [{"u", "p"}]} to standard output. Tests use it
to check Bearing's Mann-Whitney U on their own samples against SciPy live.
"""
import argparse
import json
import sys

import numpy as np
import scipy
from scipy.stats import mannwhitneyu


def given_cases():
    doc = json.load(sys.stdin)
    results = []
    for case in doc["cases"]:
        res = mannwhitneyu(
            case["x"],
            case["y"],
            alternative=case.get("alternative", "two-sided"),
            method=case.get("method", "asymptotic"),
            use_continuity=case.get("use_continuity", True),
        )
        results.append({"u": float(res.statistic), "p": float(res.pvalue)})
    json.dump({"scipy": scipy.__version__, "results": results}, sys.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--out")
    ap.add_argument("--stdin", action="store_true", help="compute the cases given on stdin")
    args = ap.parse_args()
    if args.stdin:
        given_cases()
        return
    if not args.out:
        ap.error("--out is required (or --stdin)")
    rng = np.random.default_rng(args.seed)
    cases = []
    while len(cases) < args.cases:
        n1 = int(rng.integers(3, 61))
        n2 = int(rng.integers(3, 61))
        shift = float(rng.choice([0.0, 0.2, 0.5, 1.0, 2.0]))
        kind = len(cases) % 4
        if kind == 0:  # continuous normal
            x = rng.normal(0.0, 1.0, n1)
            y = rng.normal(shift, 1.0, n2)
        elif kind == 1:  # skewed latencies
            x = rng.lognormal(3.0, 0.5, n1)
            y = rng.lognormal(3.0 + shift / 4, 0.5, n2)
        elif kind == 2:  # rounded: many ties
            x = np.round(rng.normal(0.0, 1.0, n1), 1)
            y = np.round(rng.normal(shift, 1.0, n2), 1)
        else:  # small counts: heavy ties
            x = rng.poisson(3.0, n1).astype(float)
            y = rng.poisson(3.0 + shift, n2).astype(float)
        if len(set(np.concatenate([x, y]).tolist())) < 2:
            continue  # all tied: SciPy's p is NaN
        res = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
        cases.append({
            "x": [float(v) for v in x],
            "y": [float(v) for v in y],
            "u": float(res.statistic),
            "p": float(res.pvalue),
        })
    doc = {
        "generator": "bench/canary_scipy.py",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "seed": args.seed,
        "call": "mannwhitneyu(x, y, alternative='two-sided', method='asymptotic', use_continuity=True)",
        "cases": cases,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {args.out} (scipy {scipy.__version__})")


if __name__ == "__main__":
    main()
