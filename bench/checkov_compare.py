"""Compares Checkov and `bearing check` on Terraform plans (see checkov.sh)."""

import json
import os
import subprocess
import sys
import tempfile
import time

CATEGORIES = {
    "iam": {
        "checkov": ["CKV_AWS_1", "CKV_AWS_49", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_274",
                    "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288", "CKV_AWS_289",
                    "CKV_AWS_290", "CKV_AWS_355"],
        "bearing": ["iam_wildcard_action", "iam_wildcard_resource", "iam_admin_policy"],
    },
    "s3_public": {
        "checkov": ["CKV_AWS_20", "CKV_AWS_57", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55",
                    "CKV_AWS_56", "CKV_AWS_70"],
        "bearing": ["s3_public"],
    },
    "s3_unencrypted": {
        "checkov": ["CKV_AWS_19", "CKV_AWS_145"],
        "bearing": ["s3_unencrypted"],
    },
    "sg_open": {
        "checkov": ["CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"],
        "bearing": ["sg_open_ingress"],
    },
}

INTENT = """version: 1
services: [{id: infra, team: platform}]
teams: [{id: platform}]
guardrails:
  - {id: iam, kind: iam_least_privilege}
"""


def norm(address):
    return address[5:] if address.startswith("data.") else address


def checkov_findings(checkov, plan):
    ids = ",".join(i for c in CATEGORIES.values() for i in c["checkov"])
    out = subprocess.run(
        [checkov, "-f", plan, "--framework", "terraform_plan", "-o", "json", "--compact",
         "--quiet", "--check", ids, "--skip-download"],
        capture_output=True, text=True)
    found = set()
    try:
        data = json.loads(out.stdout) if out.stdout.strip() else {}
    except json.JSONDecodeError:
        return found, "checkov output is not JSON"
    reports = data if isinstance(data, list) else [data]
    for r in reports:
        for f in (r.get("results") or {}).get("failed_checks", []):
            for cat, c in CATEGORIES.items():
                if f["check_id"] in c["checkov"]:
                    found.add((cat, norm(f["resource"])))
    return found, None


def bearing_findings(bearing, intent, plan):
    out = subprocess.run(
        [bearing, "--intent", intent, "check", "--plan", plan, "--output", "json", "--no-log"],
        capture_output=True, text=True)
    if out.returncode == 2:
        return set(), set(), out.stderr.strip()
    d = json.loads(out.stdout)
    found, unknown = set(), set()
    for v in d["violations"]:
        address = norm(v["message"].split(" ")[0])
        if v["effect"] == "unknown":
            unknown.add(address)
            continue
        for cat, c in CATEGORIES.items():
            if v["rule"] in c["bearing"]:
                found.add((cat, address))
    return found, unknown, None


def main():
    bearing, checkov, plans = sys.argv[1], sys.argv[2], sys.argv[3:]
    tmp = tempfile.mkdtemp()
    intent = os.path.join(tmp, "bearing.yaml")
    with open(intent, "w") as f:
        f.write(INTENT)
    t_checkov = t_bearing = 0.0
    both = {c: [0, 0, 0] for c in CATEGORIES}  # agree, only checkov, only bearing
    print(f"{'plan':<45} {'checkov s':>10} {'bearing s':>10}  findings (checkov/bearing/agree)")
    for plan in plans:
        t0 = time.perf_counter()
        ck, err = checkov_findings(checkov, plan)
        t1 = time.perf_counter()
        br, unknown, berr = bearing_findings(bearing, intent, plan)
        t2 = time.perf_counter()
        t_checkov += t1 - t0
        t_bearing += t2 - t1
        agree = ck & br
        print(f"{os.path.basename(plan):<45} {t1 - t0:>10.3f} {t2 - t1:>10.4f}  "
              f"{len(ck)}/{len(br)}/{len(agree)}" + (f"  unknown: {len(unknown)}" if unknown else "")
              + (f"  ({err or berr})" if err or berr else ""))
        for cat in CATEGORIES:
            a = {r for c, r in ck if c == cat}
            b = {r for c, r in br if c == cat}
            both[cat][0] += len(a & b)
            both[cat][1] += len(a - b)
            both[cat][2] += len(b - a)
            for r in sorted(a - b):
                print(f"    only checkov  {cat:<15} {r}")
            for r in sorted(b - a):
                print(f"    only bearing  {cat:<15} {r}")
    print()
    total = [0, 0, 0]
    for cat, (a, oc, ob) in both.items():
        union = a + oc + ob
        pct = 100.0 * a / union if union else 100.0
        print(f"{cat:<15} agree {a:>3}  only checkov {oc:>3}  only bearing {ob:>3}  agreement {pct:5.1f}%")
        total = [x + y for x, y in zip(total, (a, oc, ob))]
    union = sum(total)
    print(f"{'all':<15} agree {total[0]:>3}  only checkov {total[1]:>3}  only bearing {total[2]:>3}  "
          f"agreement {100.0 * total[0] / union if union else 100.0:5.1f}% (resources flagged by both / by either)")
    print(f"time: checkov {t_checkov:.2f} s, bearing {t_bearing:.3f} s over {len(plans)} plans; "
          f"bearing is {t_checkov / t_bearing:.0f}x faster" if t_bearing else "")


if __name__ == "__main__":
    main()
