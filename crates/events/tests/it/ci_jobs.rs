//! Jobs and steps of real CI payloads (issue 18): GitHub `workflow_job`
//! (octokit/webhooks examples) and GitLab pipeline and job hooks (go-gitlab's
//! test data), each figure read off the file by hand.

use std::path::PathBuf;

use bearing_events::{Event, Format, ParseContext, Payload, PipelineRun, Status, detect, parse};
use chrono::{DateTime, TimeZone, Utc};

fn root() -> Option<PathBuf> {
    let dir = std::env::var_os("BEARING_FIXTURES").map(PathBuf::from);
    if dir.is_none() {
        eprintln!("BEARING_FIXTURES is not set: skipping");
    }
    dir
}

fn read(rel: &str) -> Option<(Format, Vec<Event>)> {
    let path = root()?.join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let format = detect(path.file_name().and_then(|n| n.to_str()), &bytes).unwrap();
    let ctx = ParseContext::new(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    Some((format, parse(format, &bytes, &ctx).unwrap()))
}

fn run(e: &Event) -> &PipelineRun {
    match &e.payload {
        Payload::PipelineRun(p) => p,
        other => panic!("not a pipeline record: {other:?}"),
    }
}

fn t(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

#[test]
fn github_completed_job_has_queue_time_runner_and_steps() {
    let Some((_, events)) =
        read("github-webhooks/workflow_job/completed.success.with-organization.payload.json")
    else {
        return;
    };
    let p = run(&events[0]);
    let job = p.job.as_ref().unwrap();
    assert_eq!(job.name, "linters");
    assert_eq!(job.run, "2202229078:1");
    assert_eq!(job.runner_labels, vec!["ubuntu-latest"]);
    assert_eq!(p.queued_at, t("2021-08-05T10:33:58Z"));
    assert_eq!(p.started_at, t("2021-08-05T10:34:58Z"));
    assert_eq!(p.finished_at, t("2021-08-05T10:38:16Z"));
    assert_eq!(p.attempt, Some(1));
    assert_eq!(
        p.commit.as_deref(),
        Some("3484a3fb816e0859fd6e1cea078d76385ff50625")
    );
    assert_eq!(job.steps.len(), 8);
    let rubocop = &job.steps[3];
    assert_eq!(rubocop.name, "Run Rubocop");
    assert_eq!(rubocop.number, Some(4));
    assert_eq!(rubocop.status, Status::Success);
    assert_eq!(rubocop.started_at, t("2021-08-05T10:26:15Z"));
    assert_eq!(rubocop.finished_at, t("2021-08-05T10:26:21Z"));
}

#[test]
fn github_job_in_progress_keeps_unfinished_steps_open() {
    let Some((_, events)) = read(
        "ci-runs/github-actions-webhooks/workflow_job.in_progress.with-queued-steps.payload.json",
    ) else {
        return;
    };
    let p = run(&events[0]);
    assert_eq!(p.status, Status::InProgress);
    let steps = &p.job.as_ref().unwrap().steps;
    assert_eq!(steps.len(), 9);
    let done = steps
        .iter()
        .filter(|s| s.status != Status::InProgress)
        .count();
    assert_eq!(done, 2);
    assert!(
        steps
            .iter()
            .skip(3)
            .all(|s| s.started_at.is_none() && s.finished_at.is_none())
    );
}

#[test]
fn github_waiting_job_has_not_started() {
    let Some((_, events)) =
        read("ci-runs/github-actions-webhooks/workflow_job.waiting.payload.json")
    else {
        return;
    };
    let p = run(&events[0]);
    // `started_at` equals `created_at` though the job waits on a protection rule.
    assert_eq!(p.started_at, None);
    assert_eq!(p.queued_at, t("2023-04-19T21:12:12Z"));
    assert_eq!(
        p.job.as_ref().unwrap().runner_labels,
        vec!["self-hosted", "k8s"]
    );
}

#[test]
fn gitlab_pipeline_hook_is_a_run_and_its_jobs() {
    let Some((format, events)) = read("ci-runs/gitlab-webhooks/go-gitlab__pipeline.json") else {
        return;
    };
    assert_eq!(format, Format::GitlabWebhook);
    assert_eq!(events.len(), 6);
    let p = run(&events[0]);
    assert!(p.job.is_none());
    assert_eq!(events[0].id, "gitlab:pipeline:31:success");
    assert_eq!(p.status, Status::Success);
    assert_eq!(p.queued_at, t("2016-08-12T15:23:28Z"));
    // created + queued_duration 12 s.
    assert_eq!(p.started_at, t("2016-08-12T15:23:40Z"));
    assert_eq!(p.finished_at, t("2016-08-12T15:26:29Z"));
    assert_eq!(p.branch.as_deref(), Some("master"));
    let build = events
        .iter()
        .find(|e| e.id == "gitlab:job:376:success")
        .unwrap();
    let b = run(build);
    let job = b.job.as_ref().unwrap();
    assert_eq!(
        (job.name.as_str(), job.stage.as_deref()),
        ("build-image", Some("build"))
    );
    assert_eq!(job.run, "31");
    // Timestamps, not `duration: 17.0`: 15:24:56 → 15:25:26. The queue of
    // 196 s would start before the pipeline existed: created_at bounds it.
    assert_eq!(b.started_at, t("2016-08-12T15:24:56Z"));
    assert_eq!(b.finished_at, t("2016-08-12T15:25:26Z"));
    assert_eq!(b.queued_at, t("2016-08-12T15:23:28Z"));
    let skipped = events
        .iter()
        .find(|e| e.id == "gitlab:job:380:skipped")
        .unwrap();
    assert_eq!(run(skipped).status, Status::Cancelled);
    assert_eq!(
        run(skipped).job.as_ref().unwrap().runner_labels,
        vec!["docker", "gce"]
    );
    let created = events
        .iter()
        .find(|e| e.id == "gitlab:job:379:created")
        .unwrap();
    assert_eq!(run(created).status, Status::InProgress);
}

#[test]
fn gitlab_job_hooks_new_and_old() {
    let Some((format, events)) = read("ci-runs/gitlab-webhooks/go-gitlab__job.json") else {
        return;
    };
    assert_eq!(format, Format::GitlabWebhook);
    let p = run(&events[0]);
    let job = p.job.as_ref().unwrap();
    assert_eq!(job.name, "auto_deploy:start");
    assert_eq!(job.stage.as_deref(), Some("coordinated:tag"));
    assert_eq!(job.run, "743121198");
    assert_eq!(job.runner_labels, vec!["linux", "docker"]);
    assert_eq!(p.started_at, t("2023-01-10T13:50:05Z"));
    assert_eq!(p.finished_at, t("2023-01-10T13:50:54Z"));
    // started − build_queued_duration 0.193009 s, later than created_at.
    assert_eq!(
        p.queued_at,
        Some(
            Utc.with_ymd_and_hms(2023, 1, 10, 13, 50, 4).unwrap()
                + chrono::TimeDelta::milliseconds(807)
        )
    );
    assert_eq!(events[0].service.as_deref(), Some("release-tools-fake"));
    let Some((_, old)) = read("ci-runs/gitlab-webhooks/go-gitlab__build.json") else {
        return;
    };
    let p = run(&old[0]);
    assert_eq!(p.status, Status::InProgress);
    assert_eq!(p.started_at, None);
    assert_eq!(p.queued_at, t("2021-02-23T02:41:37.886Z"));
}

#[test]
fn gitlab_errors_name_the_field() {
    let ctx = ParseContext::new(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
    let body = br#"{"object_kind":"build","build_id":1,"build_name":"x","build_status":"exploded","pipeline_id":2,"build_created_at":"2021-02-23 02:41:37 UTC"}"#;
    let e = parse(Format::GitlabWebhook, body, &ctx).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("build_status"));
    assert!(e.to_string().contains("`exploded`"), "{e}");
    let body = br#"{"object_kind":"build","build_id":1,"build_name":"x","build_status":"success","pipeline_id":2,"build_created_at":"yesterday"}"#;
    let e = parse(Format::GitlabWebhook, body, &ctx).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("build_created_at"));
    let body = br#"{"object_kind":"pipeline","object_attributes":{"id":1,"status":"success","created_at":"2021-02-23 02:41:37 UTC"},"builds":[{"id":5,"status":"success"}]}"#;
    let e = parse(Format::GitlabWebhook, body, &ctx).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("builds[0].name"));
}
