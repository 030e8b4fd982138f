#!/usr/bin/env python3
"""Per-service DORA figures with plain SQL in DuckDB, compared with Bearing's.

Reads the CSV export of `scorecard_bench --export DIR` (deployments, commits,
rollbacks, incidents, and Bearing's own figures in rust_dora.csv), computes
for every service over the 30 days before `now.txt`:

  deployments      successful production deployments in the window
  lead_p50/p90     quantile_cont of (deployment time - commit authored), commits
                   attributed by the same rule as Bearing (docs/metrics.md):
                   deployment k ships main-line commits (max head of earlier
                   deployments that stayed, head_k]; the first ships its head
  cfr              deployments rolled back or linked by an incident (latest
                   successful production deployment at most 24 h before the
                   incident opened, ASOF JOIN) / deployments
  recovery_p50     median of (restored - deployed), restored = earliest of the
                   rollback and the linked incidents' resolution, if by now

prints both engines' times and their ratio, and checks every figure agrees.

    python bench/duckdb_dora.py DIR
"""
import csv
import json
import math
import sys
import time

import duckdb

WINDOW = 30 * 86400
INCIDENT_WINDOW = 86400

SQL = """
WITH heads AS (
  SELECT d.service, d.id, d.time, c.seq AS head_seq
  FROM deployments d LEFT JOIN commits c ON c.sha = d.head AND c.service = d.service
  WHERE d.env = 'production' AND d.ok
),
rolled AS (
  SELECT service, deployment_id AS id, min(time) AS rb_time FROM rollbacks GROUP BY ALL
),
incs AS (
  SELECT service, id,
         min(time) FILTER (WHERE status = 'opened') AS opened,
         max(time) FILTER (WHERE status = 'resolved') AS resolved
  FROM incidents GROUP BY ALL
),
linked AS (
  SELECT p.id AS dep, min(i.resolved) AS resolved
  FROM incs i ASOF JOIN heads p ON i.service = p.service AND i.opened >= p.time
  WHERE i.opened - p.time <= $incident_window
  GROUP BY ALL
),
deps AS (
  SELECT h.*, r.rb_time, r.id IS NOT NULL AS rolled_back, l.dep IS NOT NULL AS incident,
         least(r.rb_time, l.resolved) AS restored
  FROM heads h LEFT JOIN rolled r ON r.id = h.id LEFT JOIN linked l ON l.dep = h.id
),
stays AS (
  SELECT *, max(head_seq) OVER (PARTITION BY service ORDER BY time, id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max
  FROM deps WHERE NOT rolled_back
),
leads AS (
  SELECT s.service, greatest(0, s.time - c.authored) AS lead
  FROM stays s JOIN commits c ON c.service = s.service
   AND c.seq <= s.head_seq AND c.seq > coalesce(s.prev_max, s.head_seq - 1)
  WHERE s.time > $from AND s.time <= $now
),
lead_q AS (
  SELECT service, quantile_cont(lead, 0.5) AS lead_p50, quantile_cont(lead, 0.9) AS lead_p90
  FROM leads GROUP BY ALL
),
win AS (
  SELECT service, count(*) AS deployments,
         avg(CASE WHEN rolled_back OR incident THEN 1.0 ELSE 0.0 END) AS cfr,
         quantile_cont(restored - time, 0.5) FILTER (
           WHERE (rolled_back OR incident) AND restored IS NOT NULL AND restored <= $now
         ) AS recovery_p50
  FROM deps WHERE time > $from AND time <= $now GROUP BY ALL
)
SELECT w.service, w.deployments, q.lead_p50, q.lead_p90, w.cfr, w.recovery_p50
FROM win w LEFT JOIN lead_q q USING (service)
ORDER BY w.service
"""


def load(con, d):
    cols = {
        "deployments": "service VARCHAR, env VARCHAR, id VARCHAR, time BIGINT, ok BOOLEAN, head VARCHAR",
        "commits": "service VARCHAR, sha VARCHAR, authored BIGINT, seq BIGINT",
        "rollbacks": "service VARCHAR, deployment_id VARCHAR, time BIGINT",
        "incidents": "service VARCHAR, id VARCHAR, status VARCHAR, time BIGINT",
    }
    for table, schema in cols.items():
        columns = ", ".join(
            f"'{c.split()[0]}': '{c.split()[1]}'" for c in schema.split(", ")
        )
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{d}/{table}.csv', header=true, columns={{{columns}}})"
        )


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def main():
    d = sys.argv[1]
    now = int(open(f"{d}/now.txt").read())
    con = duckdb.connect()
    t0, c0 = time.perf_counter(), time.process_time()
    load(con, d)
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    params = {"now": now, "from": now - WINDOW, "incident_window": INCIDENT_WINDOW}
    t0, c0 = time.perf_counter(), time.process_time()
    rows = con.execute(SQL, params).fetchall()
    query_s, query_cpu = time.perf_counter() - t0, time.process_time() - c0
    duck = {r[0]: r[1:] for r in rows}

    rust = {}
    with open(f"{d}/rust_dora.csv") as f:
        for r in csv.DictReader(f):
            num = lambda k: float(r[k]) if r[k] != "" else None
            rust[r["service"]] = (
                int(r["deployments"]),
                num("lead_p50"),
                num("lead_p90"),
                num("cfr"),
                num("recovery_p50"),
            )
    rust = {k: v for k, v in rust.items() if v[0] > 0}
    rust_times = json.load(open(f"{d}/rust_times.json"))

    names = ["deployments", "lead_p50", "lead_p90", "cfr", "recovery_p50"]
    mismatches = []
    for svc in sorted(set(duck) | set(rust)):
        a, b = rust.get(svc), duck.get(svc)
        if a is None or b is None:
            mismatches.append((svc, "service", a, b))
            continue
        for i, n in enumerate(names):
            if not close(a[i], b[i]):
                mismatches.append((svc, n, a[i], b[i]))
    rq, rb = rust_times["dora_query_s"], rust_times["build_s"]
    rqc, rbc = rust_times["dora_query_cpu_s"], rust_times["build_cpu_s"]
    print(f"services compared:           {len(duck)}")
    print("                              wall s    CPU s (all threads)")
    print(f"DuckDB load CSV:             {load_s:8.3f}  {load_cpu:8.3f}")
    print(f"DuckDB query:                {query_s:8.3f}  {query_cpu:8.3f}")
    print(f"Bearing build dataset:       {rb:8.3f}  {rbc:8.3f}")
    print(f"Bearing per-service DORA:    {rq:8.3f}  {rqc:8.3f}")
    print(f"query ratio DuckDB/Bearing:  {query_s / max(rq, 1e-9):8.1f}x {query_cpu / max(rqc, 1e-3):8.1f}x")
    print(
        f"load+query DuckDB/Bearing:   {(load_s + query_s) / max(rb + rq, 1e-9):8.2f}x "
        f"{(load_cpu + query_cpu) / max(rbc + rqc, 1e-3):8.2f}x"
    )
    if mismatches:
        print(f"DISAGREE on {len(mismatches)} figure(s); first ones:")
        for m in mismatches[:10]:
            print("  ", m)
        sys.exit(1)
    print("all figures agree")


if __name__ == "__main__":
    main()
