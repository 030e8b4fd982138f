//! Pipeline jobs and steps (issue 18): queue time, job and step durations,
//! flaky rate, billed minutes, cost, waste, the critical path and the
//! insights, on a history whose answers are worked out by hand below; and
//! on real GitHub `workflow_run`/`workflow_job` payloads.
//!
//! Pipeline `CI` of `checkout`, branch `main`, runner `ubuntu-latest`
//! (0.008 USD/min), 26 October 2026 (UTC). q/s/f = queued/started/finished.
//!
//! | run   | sha | job   | q        | s        | f        | result  | steps                         |
//! |-------|-----|-------|----------|----------|----------|---------|-------------------------------|
//! | 101:1 | a1  | lint  | 10:00    | 10:01    | 10:03    | success |                               |
//! |       |     | build | 10:00    | 10:00:30 | 10:05    | success | npm ci 180, Build 90          |
//! |       |     | e2e   | 10:05    | 10:06    | 10:16    | success | npm ci 180, cypress 420       |
//! | 102:1 | a2  | lint  | 11:00    | 11:00:20 | 11:02:20 | success |                               |
//! |       |     | build | 11:00    | 11:02    | 11:06    | success | npm ci 180, Build 60          |
//! |       |     | e2e   | 11:06    | 11:07    | 11:15    | failure | npm ci 180, cypress 300       |
//! | 102:2 | a2  | e2e   | 11:20    | 11:21    | 11:31    | success | npm ci 180, cypress 420       |
//! | 103:1 | a3  | lint  | 12:00    | 12:00:30 | 12:02:30 | success |                               |
//! |       |     | build | 12:00    | 12:01    | 12:05    | success | npm ci 180, Build 60          |
//! |       |     | e2e   | 12:05    | 12:06    | 12:16    | success | npm ci 180, cypress 420       |
//! | 104:1 | a4  | lint  | 12:10    | 12:11    | 12:13    | success |                               |
//! |       |     | build | 12:10    | 12:10:30 | 12:14:30 | success | npm ci 180, Build 60          |
//! |       |     | e2e   | 12:14:30 | 12:15    | 12:25    | success | npm ci 180, cypress 420       |
//! | 105:1 | a5  | lint  | 13:00    | 13:01    | 13:03:10 | cancelled (branch `feature`)    |
//!
//! - Queue times of `build`: 30, 120, 60, 30 → sorted 30 30 60 120: p50 (rank
//!   1.5) = 45 s, p90 (rank 2.7) = 60 + 0.7·60 = 102 s.
//! - `build` durations 270 240 240 240: p50 240, p90 (rank 2.7) = 240 + 0.7·30 = 261.
//!   `e2e` durations 480 600 600 600 600: p50 600.
//! - Step `Build`: 90 60 60 60: p50 60, p90 = 60 + 0.7·30 = 81. `Run npm ci`: nine of 180.
//! - Jobs that succeeded or failed: 13, one failure: 12/13. `e2e`: 4/5.
//! - (job, commit) pairs without the cancelled one: 4 per job, 12; flaky: e2e on
//!   a2 (failed, then passed on attempt 2): 1/12; `e2e` alone 1/4.
//! - Billed minutes (each job rounded up): lint 2+2+2+2+3 = 11, build
//!   5+4+4+4 = 17, e2e 10+8+10+10+10 = 48; 76 minutes, 0.608 USD.
//! - Waste: the flaky failure 8, the cancelled lint 3, and run 103 after run
//!   104 (a4, same branch) was queued at 12:10: e2e ran on until 12:16, 6.
//!   17 minutes.
//! - Critical paths (last finisher, back through the job that finished last
//!   before it started): 101 build→e2e (wall 960: 270 + 600), 102:1 build→e2e
//!   (900: 240 + 480), 102:2 e2e (660: 600), 103 build→e2e (960: 240 + 600),
//!   104 build→e2e (900: 240 + 600); lint never (it finished after build
//!   started). Walls 4380 s; e2e 2880 s of it = 65.75 %, build 990 s = 22.6 %.
//!   Wall p50 of 660 900 900 960 960 = 900; the typical run is 104:1 (the
//!   middle one, ties by run id).

use std::path::Path;

use bearing_events::*;
use bearing_intent::{Duration, FilterValue, Intent, Scope};
use bearing_metrics::{Dataset, MetricValue, evaluate, pipeline_report};
use chrono::{DateTime, TimeZone, Utc};

fn at(hms: &str) -> DateTime<Utc> {
    let p: Vec<u32> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    Utc.with_ymd_and_hms(2026, 10, 26, p[0], p[1], *p.get(2).unwrap_or(&0))
        .unwrap()
}

struct J<'a> {
    run: &'a str,
    sha: &'a str,
    job: &'a str,
    q: &'a str,
    s: &'a str,
    f: &'a str,
    status: Status,
    steps: &'a [(&'a str, &'a str, &'a str)],
}

fn job(j: &J<'_>, branch: &str) -> Event {
    let (run, attempt) = j.run.split_once(':').unwrap();
    let mut e = Event::new(
        format!("test:job:{}:{}", j.run, j.job),
        "test",
        at(j.f),
        Payload::PipelineRun(PipelineRun {
            commit: Some(j.sha.into()),
            started_at: Some(at(j.s)),
            finished_at: Some(at(j.f)),
            queued_at: Some(at(j.q)),
            attempt: Some(attempt.parse().unwrap()),
            branch: Some(branch.into()),
            job: Some(Box::new(PipelineJob {
                name: j.job.into(),
                run: format!("{run}:{attempt}"),
                stage: None,
                needs: Vec::new(),
                runner_labels: vec!["ubuntu-latest".into()],
                runner_name: None,
                steps: j
                    .steps
                    .iter()
                    .map(|(name, a, b)| PipelineStep {
                        name: (*name).into(),
                        number: None,
                        status: Status::Success,
                        started_at: Some(at(a)),
                        finished_at: Some(at(b)),
                    })
                    .collect(),
            })),
            ..PipelineRun::new(format!("job:{}:{}", j.run, j.job), "CI", j.status)
        }),
    );
    e.service = Some("checkout".into());
    e
}

pub fn history() -> Vec<Event> {
    use Status::*;
    const NPM: &str = "Run npm ci";
    const CY: &str = "Run npx cypress run";
    let rows = [
        J {
            run: "101:1",
            sha: "a1",
            job: "lint",
            q: "10:00",
            s: "10:01",
            f: "10:03",
            status: Success,
            steps: &[],
        },
        J {
            run: "101:1",
            sha: "a1",
            job: "build",
            q: "10:00",
            s: "10:00:30",
            f: "10:05",
            status: Success,
            steps: &[
                (NPM, "10:00:30", "10:03:30"),
                ("Build", "10:03:30", "10:05"),
            ],
        },
        J {
            run: "101:1",
            sha: "a1",
            job: "e2e",
            q: "10:05",
            s: "10:06",
            f: "10:16",
            status: Success,
            steps: &[(NPM, "10:06", "10:09"), (CY, "10:09", "10:16")],
        },
        J {
            run: "102:1",
            sha: "a2",
            job: "lint",
            q: "11:00",
            s: "11:00:20",
            f: "11:02:20",
            status: Success,
            steps: &[],
        },
        J {
            run: "102:1",
            sha: "a2",
            job: "build",
            q: "11:00",
            s: "11:02",
            f: "11:06",
            status: Success,
            steps: &[(NPM, "11:02", "11:05"), ("Build", "11:05", "11:06")],
        },
        J {
            run: "102:1",
            sha: "a2",
            job: "e2e",
            q: "11:06",
            s: "11:07",
            f: "11:15",
            status: Failure,
            steps: &[(NPM, "11:07", "11:10"), (CY, "11:10", "11:15")],
        },
        J {
            run: "102:2",
            sha: "a2",
            job: "e2e",
            q: "11:20",
            s: "11:21",
            f: "11:31",
            status: Success,
            steps: &[(NPM, "11:21", "11:24"), (CY, "11:24", "11:31")],
        },
        J {
            run: "103:1",
            sha: "a3",
            job: "lint",
            q: "12:00",
            s: "12:00:30",
            f: "12:02:30",
            status: Success,
            steps: &[],
        },
        J {
            run: "103:1",
            sha: "a3",
            job: "build",
            q: "12:00",
            s: "12:01",
            f: "12:05",
            status: Success,
            steps: &[(NPM, "12:01", "12:04"), ("Build", "12:04", "12:05")],
        },
        J {
            run: "103:1",
            sha: "a3",
            job: "e2e",
            q: "12:05",
            s: "12:06",
            f: "12:16",
            status: Success,
            steps: &[(NPM, "12:06", "12:09"), (CY, "12:09", "12:16")],
        },
        J {
            run: "104:1",
            sha: "a4",
            job: "lint",
            q: "12:10",
            s: "12:11",
            f: "12:13",
            status: Success,
            steps: &[],
        },
        J {
            run: "104:1",
            sha: "a4",
            job: "build",
            q: "12:10",
            s: "12:10:30",
            f: "12:14:30",
            status: Success,
            steps: &[
                (NPM, "12:10:30", "12:13:30"),
                ("Build", "12:13:30", "12:14:30"),
            ],
        },
        J {
            run: "104:1",
            sha: "a4",
            job: "e2e",
            q: "12:14:30",
            s: "12:15",
            f: "12:25",
            status: Success,
            steps: &[(NPM, "12:15", "12:18"), (CY, "12:18", "12:25")],
        },
    ];
    let mut v: Vec<Event> = rows.iter().map(|j| job(j, "main")).collect();
    v.push(job(
        &J {
            run: "105:1",
            sha: "a5",
            job: "lint",
            q: "13:00",
            s: "13:01",
            f: "13:03:10",
            status: Cancelled,
            steps: &[],
        },
        "feature",
    ));
    v
}

const INTENT: &str = "version: 1\norganisation: acme\nteams:\n  - id: shop\nservices:\n  - id: checkout\n    team: shop\n";

pub const WORKFLOW: &str = "name: CI
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm run lint
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm ci
      - name: Build
        run: npm run build
  e2e:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: npm ci
      - run: npx cypress run
";

fn intent() -> Intent {
    bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
        .unwrap()
        .intent
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 27, 0, 0, 0).unwrap()
}

fn checkout() -> Scope {
    Scope {
        service: Some("checkout".into()),
        ..Scope::default()
    }
}

fn value(ds: &Dataset, metric: &str, filter: &[(&str, &str)]) -> MetricValue {
    let filter = filter
        .iter()
        .map(|(k, v)| (k.to_string(), FilterValue::One(v.to_string())))
        .collect();
    evaluate(
        ds,
        metric,
        &checkout(),
        &filter,
        Duration::from_days(7),
        now(),
    )
}

fn close(a: Option<f64>, b: f64) {
    let a = a.unwrap_or(f64::NAN);
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn job_metrics_match_the_hand_computed_history() {
    let ds = Dataset::new(&intent(), history(), vec![], vec![]);
    let build = [("job", "build")];
    let v = value(&ds, "pipeline.queue_time.p50", &build);
    close(v.value, 45.0);
    assert_eq!(v.samples, 4);
    close(value(&ds, "pipeline.queue_time.p90", &build).value, 102.0);
    close(value(&ds, "pipeline.job.duration.p50", &build).value, 240.0);
    close(value(&ds, "pipeline.job.duration.p90", &build).value, 261.0);
    close(
        value(&ds, "pipeline.job.duration.p50", &[("job", "e2e")]).value,
        600.0,
    );
    let step = [("step", "Build")];
    close(value(&ds, "pipeline.step.duration.p50", &step).value, 60.0);
    close(value(&ds, "pipeline.step.duration.p90", &step).value, 81.0);
    let npm = value(&ds, "pipeline.step.duration.p50", &[("step", "Run npm ci")]);
    close(npm.value, 180.0);
    assert_eq!(npm.samples, 9);
    let ok = value(&ds, "pipeline.job.success_rate", &[]);
    close(ok.value, 12.0 / 13.0);
    assert_eq!(ok.samples, 13);
    close(
        value(&ds, "pipeline.job.success_rate", &[("job", "e2e")]).value,
        0.8,
    );
    let flaky = value(&ds, "pipeline.job.flaky_rate", &[]);
    close(flaky.value, 1.0 / 12.0);
    assert_eq!(flaky.samples, 12);
    assert_eq!(
        flaky.records,
        vec!["test:job:102:1:e2e", "test:job:102:2:e2e"]
    );
    close(
        value(&ds, "pipeline.job.flaky_rate", &[("job", "e2e")]).value,
        0.25,
    );
    close(value(&ds, "pipeline.minutes", &[]).value, 76.0);
    let cost = value(&ds, "pipeline.cost", &[]);
    close(cost.value, 76.0 * 0.008);
    assert_eq!(cost.currency.as_deref(), Some("USD"));
    let waste = value(&ds, "pipeline.wasted_minutes", &[]);
    close(waste.value, 17.0);
    assert_eq!(
        waste.records,
        vec![
            "test:job:102:1:e2e",
            "test:job:103:1:e2e",
            "test:job:105:1:lint"
        ]
    );
    // Jobs are not runs: no run records, no run figures.
    assert_eq!(value(&ds, "pipeline.duration.p50", &[]).samples, 0);
}

#[test]
fn prices_come_from_the_intent() {
    let text = format!("{INTENT}settings:\n  ci_prices:\n    linux: 0.005\n");
    let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &text)
        .unwrap()
        .intent;
    let ds = Dataset::new(&intent, history(), vec![], vec![]);
    close(value(&ds, "pipeline.cost", &[]).value, 76.0 * 0.005);
}

#[test]
fn report_names_the_critical_job_the_flaky_job_and_the_uncached_steps() {
    let ds = Dataset::new(&intent(), history(), vec![], vec![]);
    let layout =
        bearing_workflow::layout::layout_str(".github/workflows/ci.yml", WORKFLOW).unwrap();
    let r = pipeline_report(&ds, &checkout(), Duration::from_days(7), now(), &[layout]);
    assert_eq!(r.pipelines.len(), 1);
    let p = &r.pipelines[0];
    assert_eq!((p.pipeline.as_str(), p.runs), ("CI", 5));
    close(p.wall_p50, 900.0);
    close(Some(p.minutes), 76.0);
    close(Some(p.wasted_minutes), 17.0);
    let e2e = p.jobs.iter().find(|j| j.job == "e2e").unwrap();
    close(Some(e2e.critical_share), 2880.0 / 4380.0);
    close(e2e.flaky_rate, 0.25);
    let build = p.jobs.iter().find(|j| j.job == "build").unwrap();
    close(Some(build.critical_share), 990.0 / 4380.0);
    let lint = p.jobs.iter().find(|j| j.job == "lint").unwrap();
    close(Some(lint.critical_share), 0.0);
    let bars: Vec<(&str, f64, f64, f64, bool)> = p
        .typical_run
        .iter()
        .map(|b| (b.job.as_str(), b.queued, b.started, b.finished, b.critical))
        .collect();
    assert_eq!(
        bars,
        vec![
            ("build", 0.0, 30.0, 270.0, true),
            ("lint", 0.0, 60.0, 180.0, false),
            ("e2e", 270.0, 300.0, 900.0, true),
        ]
    );
    let find = |kind: &str, job: Option<&str>| {
        r.insights
            .iter()
            .find(|i| i.kind == kind && i.job.as_deref() == job)
            .unwrap_or_else(|| panic!("no {kind} insight for {job:?}: {:#?}", r.insights))
    };
    let cp = find("critical-path", Some("e2e"));
    assert_eq!(
        cp.message,
        "job `e2e` is 66% of the critical path of `CI`; its slowest step `Run npx cypress run` takes 7m p50: split it or run its parts in parallel"
    );
    assert_eq!(cp.location.as_deref(), Some(".github/workflows/ci.yml:16"));
    // Half of e2e's p50 (600 s) on each of the 5 runs of the week: 25 minutes.
    close(Some(cp.run_seconds), 300.0);
    close(Some(cp.lead_time_minutes_per_week), 25.0);
    let flaky = find("flaky-job", Some("e2e"));
    assert!(
        flaky.message.contains(
            "(25% of commits: 1 of 4 failed and then passed on a re-run; 8 min/week re-run)"
        ),
        "{}",
        flaky.message
    );
    close(Some(flaky.minutes_per_week), 8.0);
    close(Some(flaky.money_per_week), 8.0 * 0.008);
    assert_eq!(
        flaky.records,
        vec!["test:job:102:1:e2e", "test:job:102:2:e2e"]
    );
    let npm_build = find("uncached-install", Some("build"));
    assert_eq!(npm_build.step.as_deref(), Some("Run npm ci"));
    assert_eq!(
        npm_build.location.as_deref(),
        Some(".github/workflows/ci.yml:13")
    );
    close(Some(npm_build.minutes_per_week), 12.0);
    let npm_e2e = find("uncached-install", Some("e2e"));
    assert_eq!(
        npm_e2e.location.as_deref(),
        Some(".github/workflows/ci.yml:20")
    );
    close(Some(npm_e2e.minutes_per_week), 15.0);
    let sup = find("superseded-runs", None);
    close(Some(sup.minutes_per_week), 6.0);
    assert_eq!(sup.location.as_deref(), Some(".github/workflows/ci.yml:2"));
    assert_eq!(sup.records, vec!["test:job:103:1:e2e"]);
    // Nothing else: lint is never on the critical path, no job waits 2 minutes.
    assert_eq!(r.insights.len(), 5, "{:#?}", r.insights);
}

#[test]
fn cached_installs_and_cancel_in_progress_silence_their_insights() {
    let ds = Dataset::new(&intent(), history(), vec![], vec![]);
    let fixed = WORKFLOW
        .replace("on: push\n", "on: push\nconcurrency:\n  group: ci-${{ github.ref }}\n  cancel-in-progress: true\n")
        .replace("      - run: npm ci\n      - name: Build", "      - uses: actions/setup-node@v4\n        with:\n          cache: npm\n      - run: npm ci\n      - name: Build");
    let layout = bearing_workflow::layout::layout_str(".github/workflows/ci.yml", &fixed).unwrap();
    let r = pipeline_report(&ds, &checkout(), Duration::from_days(7), now(), &[layout]);
    let kinds: Vec<(&str, Option<&str>)> = r
        .insights
        .iter()
        .map(|i| (i.kind, i.job.as_deref()))
        .collect();
    assert!(!kinds.contains(&("superseded-runs", None)), "{kinds:?}");
    assert!(
        !kinds.contains(&("uncached-install", Some("build"))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("uncached-install", Some("e2e"))),
        "{kinds:?}"
    );
}

#[test]
fn a_check_job_that_others_need_is_reported_as_serial() {
    let ds = Dataset::new(&intent(), history(), vec![], vec![]);
    let serial = WORKFLOW.replace(
        "  build:\n    runs-on",
        "  build:\n    needs: lint\n    runs-on",
    );
    let layout = bearing_workflow::layout::layout_str(".github/workflows/ci.yml", &serial).unwrap();
    let r = pipeline_report(&ds, &checkout(), Duration::from_days(7), now(), &[layout]);
    let i = r
        .insights
        .iter()
        .find(|i| i.kind == "serial-jobs")
        .expect("a serial-jobs insight");
    assert_eq!(
        i.message,
        "run `lint` and `build` in parallel: `build` waits for `lint` through `needs` (2m p50) though a check job has nothing to hand on"
    );
    assert_eq!(i.location.as_deref(), Some(".github/workflows/ci.yml:9"));
}

/// Issue 18's bug: the median of a 0 s run and a 3m18s job was 1m39s.
#[test]
fn real_workflow_run_and_job_are_counted_apart() {
    let Some(dir) = std::env::var_os("BEARING_FIXTURES") else {
        eprintln!("BEARING_FIXTURES is not set: skipping");
        return;
    };
    let dir = Path::new(&dir).join("github-webhooks");
    // Both ingested for one service, as `bearing ingest --service checkout` does.
    let mut ctx = formats::ParseContext::new(Utc.with_ymd_and_hms(2021, 8, 6, 0, 0, 0).unwrap());
    ctx.service = Some("checkout".into());
    let mut events = Vec::new();
    for f in [
        "workflow_run/completed.payload.json",
        "workflow_job/completed.success.with-organization.payload.json",
    ] {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        events.extend(formats::parse(formats::Format::GithubWebhook, &bytes, &ctx).unwrap());
    }
    let ds = Dataset::new(&intent(), events, vec![], vec![]);
    let scope = checkout();
    let now = Utc.with_ymd_and_hms(2021, 8, 6, 0, 0, 0).unwrap();
    let window = Duration::from_days(400);
    let none = Default::default();
    let run = evaluate(&ds, "pipeline.duration.p50", &scope, &none, window, now);
    assert_eq!((run.value, run.samples), (Some(0.0), 1), "{run:?}");
    let job = evaluate(&ds, "pipeline.job.duration.p50", &scope, &none, window, now);
    // started 10:34:58, completed 10:38:16.
    assert_eq!((job.value, job.samples), (Some(198.0), 1), "{job:?}");
    // created 10:33:58.
    let queue = evaluate(&ds, "pipeline.queue_time.p50", &scope, &none, window, now);
    assert_eq!(queue.value, Some(60.0));
    // Eight steps; `Run Rubocop` 10:26:15 → 10:26:21.
    let rubocop: std::collections::BTreeMap<_, _> =
        [("step".to_string(), FilterValue::One("Run Rubocop".into()))].into();
    let step = evaluate(
        &ds,
        "pipeline.step.duration.p50",
        &scope,
        &rubocop,
        window,
        now,
    );
    assert_eq!((step.value, step.samples), (Some(6.0), 1));
    // One minute billed rounds 3m18s up to 4.
    let minutes = evaluate(&ds, "pipeline.minutes", &scope, &none, window, now);
    assert_eq!(minutes.value, Some(4.0));
}

/// CDEvents send each state of a task run apart: the start comes from the
/// `started` event, the pipeline's name from the run's `pipelinerun` events.
#[test]
fn cdevents_task_runs_are_jobs_of_their_pipeline() {
    let doc = |id: &str, ty: &str, time: &str, subject: &str, content: serde_json::Value| {
        serde_json::json!({
            "context": {"version": "0.4.1", "id": id, "source": "/tekton", "type": ty, "timestamp": time},
            "subject": {"id": subject, "source": "/tekton", "content": content}
        })
    };
    let run = serde_json::json!({"pipelineRun": {"id": "run-7"}, "taskName": "unit-tests"});
    let docs = [
        doc(
            "1",
            "dev.cdevents.pipelinerun.queued.0.1.1",
            "2026-10-26T10:00:00Z",
            "run-7",
            serde_json::json!({"pipelineName": "release"}),
        ),
        doc(
            "2",
            "dev.cdevents.pipelinerun.started.0.1.1",
            "2026-10-26T10:00:30Z",
            "run-7",
            serde_json::json!({"pipelineName": "release"}),
        ),
        doc(
            "3",
            "dev.cdevents.taskrun.started.0.1.1",
            "2026-10-26T10:01:00Z",
            "task-1",
            run.clone(),
        ),
        {
            let mut c = run.clone();
            c["outcome"] = "failure".into();
            doc(
                "4",
                "dev.cdevents.taskrun.finished.0.1.1",
                "2026-10-26T10:04:20Z",
                "task-1",
                c,
            )
        },
        doc(
            "5",
            "dev.cdevents.pipelinerun.finished.0.1.1",
            "2026-10-26T10:05:00Z",
            "run-7",
            serde_json::json!({"pipelineName": "release", "outcome": "failure"}),
        ),
    ];
    let text: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let mut ctx = formats::ParseContext::new(now());
    ctx.service = Some("checkout".into());
    let events = formats::parse(formats::Format::CdEvents, text.as_bytes(), &ctx).unwrap();
    let ds = Dataset::new(&intent(), events, vec![], vec![]);
    let release = [("pipeline", "release"), ("job", "unit-tests")];
    let d = value(&ds, "pipeline.job.duration.p50", &release);
    // 10:01:00 → 10:04:20.
    assert_eq!((d.value, d.samples), (Some(200.0), 1));
    close(value(&ds, "pipeline.job.success_rate", &release).value, 0.0);
    // The run itself: 10:00:30 → 10:05:00 is not known from one event;
    // run figures count finished runs with both times only.
    assert_eq!(value(&ds, "pipeline.duration.p50", &[]).samples, 0);
}

/// Jobs `a` and `b` on self-hosted runners wait 150/200/300 s and
/// 100/130/400 s: p50s 200 and 130 s, both over 2 minutes; one
/// recommendation for the pool, whose six waits sorted are 100 130 150 200
/// 300 400: p50 (rank 2.5) = 175 s = 2m55s.
#[test]
fn runners_that_keep_jobs_waiting_are_one_recommendation() {
    use Status::Success;
    let mut events = Vec::new();
    for (run, (qa, qb)) in [(150, 100), (200, 130), (300, 400)].into_iter().enumerate() {
        let hour = 10 + run as u32;
        for (name, wait) in [("a", qa), ("b", qb)] {
            let q = format!("{hour}:00");
            let s = format!("{hour}:{:02}:{:02}", wait / 60, wait % 60);
            let f = format!("{hour}:20");
            let mut e = job(
                &J {
                    run: &format!("{}:1", 200 + run),
                    sha: &format!("s{run}"),
                    job: name,
                    q: &q,
                    s: &s,
                    f: &f,
                    status: Success,
                    steps: &[],
                },
                "main",
            );
            if let Payload::PipelineRun(p) = &mut e.payload {
                p.job.as_mut().unwrap().runner_labels = vec!["self-hosted".into(), "linux".into()];
            }
            events.push(e);
        }
    }
    let ds = Dataset::new(&intent(), events, vec![], vec![]);
    let r = pipeline_report(&ds, &checkout(), Duration::from_days(7), now(), &[]);
    let q: Vec<&str> = r
        .insights
        .iter()
        .filter(|i| i.kind == "queueing")
        .map(|i| i.message.as_str())
        .collect();
    assert_eq!(
        q,
        vec![
            "jobs `a`, `b` wait 2m55s p50 for a runner (`self-hosted,linux`): add runners to that pool or move the jobs to a larger one"
        ]
    );
    // Self-hosted minutes cost nothing by default.
    close(Some(r.pipelines[0].cost), 0.0);
}

/// The same history from GitLab: the change is GitLab's, not a GitHub key.
#[test]
fn superseded_gitlab_pipelines_get_gitlabs_remedy() {
    let events = history()
        .into_iter()
        .map(|mut e| {
            e.id = format!("gitlab:{}", e.id);
            e
        })
        .collect();
    let ds = Dataset::new(&intent(), events, vec![], vec![]);
    let r = pipeline_report(&ds, &checkout(), Duration::from_days(7), now(), &[]);
    let sup = r
        .insights
        .iter()
        .find(|i| i.kind == "superseded-runs")
        .unwrap();
    assert_eq!(
        sup.message,
        "mark the jobs of `CI` `interruptible: true` and turn on auto-cancel redundant pipelines (superseded runs wasted 6 min/week)"
    );
}
