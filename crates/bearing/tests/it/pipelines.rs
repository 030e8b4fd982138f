//! `bearing pipelines insights` end to end: job records ingested as Bearing
//! JSONL into a fresh SQLite store, a workflow file in a repository folder,
//! the binary run against both.
//!
//! Pipeline `CI`, job `test` on `ubuntu-latest`, three commits, one run
//! each, on 2026-10-26 (UTC); job queued at HH:00, started HH:01, finished
//! HH:06 (300 s: "Run npm ci" 180 s, "Run npm test" 120 s). On commit `b`
//! the first attempt fails and attempt 2 (queued 12:10, started 12:11,
//! finished 12:16) passes: flaky on 1 of 3 commits, 5 billed minutes re-run.
//! Over a 7-day window: 5 min/week, 0.04 USD/week; 4 jobs of 5 billed
//! minutes, 20 minutes, 0.16 USD. `npm ci` 3m p50 on 4
//! runs: up to 12 min/week; the step is on line 9 of the workflow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::adapt::bearing;

const INTENT: &str = "version: 1\norganisation: Acme\nteams: [{ id: payments }]\nservices:\n  - { id: checkout, team: payments }\n";

const WORKFLOW: &str = "name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
      - run: npm ci
      - run: npm test
";

fn job(run: u32, attempt: u32, sha: &str, hour: u32, minute: u32, ok: bool) -> String {
    let t = |m: u32, s: u32| format!("2026-10-26T{hour:02}:{:02}:{s:02}Z", minute + m);
    serde_json::json!({
        "id": format!("job-{run}-{attempt}"), "source": "test", "time": t(6, 0), "service": "checkout",
        "kind": "pipeline_run",
        "data": {
            "run_id": format!("job-{run}-{attempt}"), "pipeline": "CI",
            "status": if ok { "success" } else { "failure" },
            "queued_at": t(0, 0), "started_at": t(1, 0), "finished_at": t(6, 0),
            "commit": sha, "attempt": attempt, "branch": "main",
            "job": {
                "name": "test", "run": format!("{run}:{attempt}"), "runner_labels": ["ubuntu-latest"],
                "steps": [
                    {"name": "Run npm ci", "status": "success", "started_at": t(1, 0), "finished_at": t(4, 0)},
                    {"name": "Run npm test", "status": if ok { "success" } else { "failure" }, "started_at": t(4, 0), "finished_at": t(6, 0)}
                ]
            }
        }
    })
    .to_string()
}

#[test]
fn insights_name_the_flaky_job_and_the_uncached_step_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("bearing.yaml");
    std::fs::write(&intent, INTENT).unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(repo.join(".github/workflows/ci.yml"), WORKFLOW).unwrap();
    let events = [
        job(1, 1, "a", 10, 0, true),
        job(2, 1, "b", 11, 0, false),
        job(2, 2, "b", 12, 10, true),
        job(3, 1, "c", 13, 0, true),
    ]
    .join("\n");
    let file = dir.path().join("jobs.jsonl");
    std::fs::write(&file, events).unwrap();
    let run = |args: &[&str]| {
        let out = bearing(dir.path(), args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    run(&["ingest", file.to_str().unwrap()]);
    let out = run(&[
        "pipelines",
        "insights",
        "--repo",
        repo.to_str().unwrap(),
        "--window",
        "7d",
        "--at",
        "2026-10-27T00:00:00Z",
    ]);
    assert!(
        out.contains(
            "checkout / CI: 4 runs, wall time p50 6m, 20 CI minutes, 0.16 USD, 5 minutes wasted"
        ),
        "{out}"
    );
    assert!(
        out.contains("[cost] checkout / CI: job `test` is flaky (33% of commits: 1 of 3 failed and then passed on a re-run; 5 min/week re-run)"),
        "{out}"
    );
    assert!(
        out.contains("saving: 5 CI min/week (0.04 USD/week)"),
        "{out}"
    );
    assert!(out.contains("records: job-2-1, job-2-2"), "{out}");
    assert!(
        out.contains("step `Run npm ci` of job `test` takes 3m p50 with no cache"),
        "{out}"
    );
    // 3 minutes on each of the 4 runs of the week: 12 CI minutes, 0.096 USD,
    // and 12 minutes of waiting.
    assert!(
        out.contains(
            "saving: 12 CI min/week (0.10 USD/week), up to 3m per run (12 min of waiting a week)"
        ),
        "{out}"
    );
    assert!(out.contains("change: .github/workflows/ci.yml:9"), "{out}");
    assert!(out.contains("change: .github/workflows/ci.yml:4"), "{out}");
}

/// A run of `test` after caching: on 2026-10-`day` at 10:00, queued 10:00,
/// started 10:01, `npm ci` 1 minute, `npm test` 2 minutes (finished 10:04).
fn cached_job(day: u32, run: u32) -> String {
    let t = |m: u32| format!("2026-10-{day:02}T10:{m:02}:00Z");
    serde_json::json!({
        "id": format!("job-{run}-1"), "source": "test", "time": t(4), "service": "checkout",
        "kind": "pipeline_run",
        "data": {
            "run_id": format!("job-{run}-1"), "pipeline": "CI", "status": "success",
            "queued_at": t(0), "started_at": t(1), "finished_at": t(4),
            "commit": format!("c{run}"), "attempt": 1, "branch": "main",
            "job": {
                "name": "test", "run": format!("{run}:1"), "runner_labels": ["ubuntu-latest"],
                "steps": [
                    {"name": "Run npm ci", "status": "success", "started_at": t(1), "finished_at": t(2)},
                    {"name": "Run npm test", "status": "success", "started_at": t(2), "finished_at": t(4)}
                ]
            }
        }
    })
    .to_string()
}

/// Accepting the install insight logs it; five cached runs later, reconcile
/// measures it. Expected (above): 12 CI min/week, 0.10 USD. After, over
/// (27 Oct, 3 Nov]: 5 runs, `npm ci` 60 s p50: (180 − 60)/60 × 5 = 10 CI
/// min/week, 0.08 USD, and 10 minutes of waiting (5 runs a week).
#[test]
fn an_accepted_insight_is_logged_then_measured_by_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("bearing.yaml");
    std::fs::write(&intent, INTENT).unwrap();
    let run = |args: &[&str]| {
        let out = bearing(dir.path(), args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let ingest = |name: &str, lines: Vec<String>| {
        let file = dir.path().join(name);
        std::fs::write(&file, lines.join("\n")).unwrap();
        assert!(run(&["ingest", file.to_str().unwrap()]).0);
    };
    ingest(
        "before.jsonl",
        vec![
            job(1, 1, "a", 10, 0, true),
            job(2, 1, "b", 11, 0, false),
            job(2, 2, "b", 12, 10, true),
            job(3, 1, "c", 13, 0, true),
        ],
    );
    let id = "uncached-install:checkout:CI:test:Run npm ci";
    let accept = ["pipelines", "insights", "--window", "7d"];
    let (ok, _, err) = run(&[&accept[..], &["--at", "2026-10-27", "--accept", "99"]].concat());
    assert!(
        !ok && err.contains("--accept `99`: no recommendation"),
        "{err}"
    );
    let (ok, out, err) = run(&[&accept[..], &["--at", "2026-10-27", "--accept", id]].concat());
    assert!(ok, "{err}");
    assert!(out.contains(&format!("id: {id}")), "{out}");
    assert!(
        out.contains(&format!("accepted pipelines:{id}:20261027T000000Z")),
        "{out}"
    );
    assert!(
        out.contains(&format!("2026-10-27 {id}: expected 12.0 CI min (0.10 USD), 12.0 min of waiting; not measured yet")),
        "{out}"
    );
    ingest(
        "after.jsonl",
        (0..5).map(|k| cached_job(27 + k, 10 + k)).collect(),
    );
    let (ok, out, err) = run(&["reconcile", "--at", "2026-11-03"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("saving per week: realised 10.0 CI min (0.08 USD), 10.0 min of waiting; expected 12.0 CI min (0.10 USD), 12.0 min of waiting"),
        "{out}"
    );
    let (ok, out, err) = run(&[&accept[..], &["--at", "2026-11-03"]].concat());
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("2026-10-27 {id}: expected 12.0 CI min (0.10 USD), 12.0 min of waiting; realised 10.0 CI min (0.08 USD), 10.0 min of waiting: improved")),
        "{out}"
    );
}
