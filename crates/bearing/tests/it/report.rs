//! `bearing report` and `bearing explain` end to end: events stored in a
//! fresh SQLite store, the binary run against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use bearing_events::{Deployment, Event, Payload, Status};
use chrono::{TimeZone, Utc};

const INTENT: &str = r#"
version: 1
organisation: Acme
teams: [{ id: payments }]
services:
  - id: checkout
    team: payments
    environments: [staging, production]
objectives:
  - id: faster
    title: Ship every day
    layer: engineering
    owner: payments
    key_results:
      - { metric: dora.deployment_frequency, scope: { service: checkout }, target: ">= 3/week", window: 7d }
      - { metric: dora.change_failure_rate, scope: { service: checkout }, target: "< 15%", window: 7d }
"#;

fn deploy(i: u32) -> Event {
    let mut e = Event::new(
        format!("dep-{i}"),
        "test",
        Utc.with_ymd_and_hms(2026, 10, 20 + i, 12, 0, 0).unwrap(),
        Payload::Deployment(Deployment {
            deployment_id: format!("dep-{i}"),
            version: None,
            commit: Some(format!("c{i}")),
            commits: Vec::new(),
            status: Status::Success,
            started_at: None,
            finished_at: None,
            strategy: None,
            labels: Vec::new(),
        }),
    );
    e.service = Some("checkout".into());
    e.environment = Some("production".into());
    e
}

fn setup() -> (tempfile::TempDir, String, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("bearing.yaml");
    std::fs::write(&intent, INTENT).unwrap();
    let db = format!("sqlite://{}", dir.path().join("bearing.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = bearing_store::open(&db).await.unwrap();
        let events: Vec<Event> = (0..4).map(deploy).collect();
        store.ingest(&events).await.unwrap();
    });
    (dir, db, intent)
}

fn bearing(db: &str, intent: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .arg("--intent")
        .arg(intent)
        .arg("--database")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

const AT: &str = "2026-10-25T00:00:00Z";

#[test]
fn report_prints_the_scorecard_as_json_text_and_markdown() {
    let (_dir, db, intent) = setup();
    let (json, err, code) = bearing(&db, &intent, &["report", "--output", "json", "--at", AT]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let kr = &v["objectives"][0]["key_results"][0];
    // 4 deployments in (10-18, 10-25]: 4/7 per day = 4/week.
    assert_eq!(kr["display"], "4.0/week");
    assert_eq!(kr["status"], "met");
    assert_eq!(kr["samples"], 4);
    assert_eq!(kr["records"].as_array().unwrap().len(), 4);
    assert_eq!(v["objectives"][0]["key_results"][1]["status"], "met");
    assert!(kr["trend"].is_object());

    let (text, _, code) = bearing(&db, &intent, &["report", "--at", AT]);
    assert_eq!(code, 0);
    assert!(text.contains("Acme"), "{text}");
    assert!(text.contains("✓ faster — Ship every day"), "{text}");
    assert!(text.contains("dora.deployment_frequency"), "{text}");
    assert!(text.contains("4.0/week"), "{text}");

    let (md, _, code) = bearing(
        &db,
        &intent,
        &["report", "--output", "markdown", "--at", AT],
    );
    assert_eq!(code, 0);
    assert!(md.contains("| ✅ | `dora.deployment_frequency` |"), "{md}");

    let (_, err, code) = bearing(&db, &intent, &["report", "--service", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown service `nope`"), "{err}");
}

#[test]
fn report_on_an_old_history_says_so_and_takes_a_window() {
    let (_dir, db, intent) = setup();
    // Half a year after the deployments: every 7-day window is empty.
    let late = "2027-04-25T00:00:00Z";
    let (text, err, code) = bearing(&db, &intent, &["report", "--at", late]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("note: every event is older than the key results' windows"),
        "{text}"
    );
    assert!(text.contains("--window"), "{text}");
    // Following either suggestion counts all four deployments (10-20 …
    // 10-23 12:00): `--at 2026-10-23` would cut the last day's.
    let suggested = |flag: &str| -> String {
        let i = text.find(&format!("`{flag} ")).unwrap() + flag.len() + 2;
        text[i..].split('`').next().unwrap().to_owned()
    };
    assert_eq!(suggested("--at"), "2026-10-24");
    for args in [
        vec!["--at".to_owned(), suggested("--at")],
        vec![
            "--at".to_owned(),
            late.to_owned(),
            "--window".to_owned(),
            suggested("--window"),
        ],
    ] {
        let mut all = vec!["report", "--output", "json"];
        all.extend(args.iter().map(String::as_str));
        let (json, err, code) = bearing(&db, &intent, &all);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let kr = &v["objectives"][0]["key_results"][0];
        assert_eq!(kr["samples"], 4, "{args:?}: {kr}");
    }

    let (json, err, code) = bearing(
        &db,
        &intent,
        &[
            "report", "--output", "json", "--at", late, "--window", "364d",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v.get("notes").is_none(), "{v}");
    assert_eq!(v["filter"]["window"], "52w");
    let kr = &v["objectives"][0]["key_results"][0];
    assert_eq!(kr["window_seconds"], 364 * 86_400);
    assert!(kr["samples"].as_u64().unwrap() > 0, "{kr}");

    let (_, err, code) = bearing(&db, &intent, &["report", "--window", "soon"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn explain_lists_the_records_behind_a_figure() {
    let (_dir, db, intent) = setup();
    let args = [
        "explain",
        "dora.deployment_frequency",
        "--service",
        "checkout",
        "--window",
        "7d",
        "--at",
        AT,
        "--output",
        "json",
    ];
    let (json, err, code) = bearing(&db, &intent, &args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dep-0", "dep-1", "dep-2", "dep-3"]);
    assert_eq!(v["records"][0]["role"], "deployment counted");

    let (text, _, _) = bearing(&db, &intent, &args[..8]);
    assert!(text.contains("4 record(s)"), "{text}");
    assert!(text.contains("dep-3"), "{text}");

    let (_, err, code) = bearing(&db, &intent, &["explain", "dora.lead_tim"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `dora.lead_time`"), "{err}");
}

#[test]
fn deliveries_from_a_repository_no_service_claims_are_warned_about() {
    let (dir, db, intent) = setup();
    let push = |repo: &str| {
        serde_json::json!({
            "ref": "refs/heads/main", "before": "a0", "after": "a1",
            "commits": [{ "id": "a1", "timestamp": "2026-10-20T10:00:00Z", "message": "x" }],
            "head_commit": { "id": "a1", "timestamp": "2026-10-20T10:00:00Z" },
            "repository": {
                "id": 7, "name": repo, "full_name": format!("acme/{repo}"),
                "default_branch": "main", "html_url": format!("https://github.com/acme/{repo}"),
            },
            "pusher": { "name": "dev" }, "sender": { "login": "dev" },
        })
        .to_string()
    };
    let stray = dir.path().join("stray.json");
    std::fs::write(&stray, push("stray")).unwrap();
    let (text, err, code) = bearing(
        &db,
        &intent,
        &["ingest", "--format", "github", stray.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("warning: deliveries from repositories no service claims: github.com/acme/stray (1 events)"),
        "{text}"
    );
    let (text, _, _) = bearing(&db, &intent, &["report", "--at", AT]);
    assert!(
        text.contains(
            "note: deliveries from repositories no service claims: github.com/acme/stray"
        ),
        "{text}"
    );

    // A repository named like a service is claimed by name.
    let own = dir.path().join("checkout.json");
    std::fs::write(&own, push("checkout")).unwrap();
    let (text, err, code) = bearing(
        &db,
        &intent,
        &["ingest", "--format", "github", own.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!text.contains("warning"), "{text}");
}
