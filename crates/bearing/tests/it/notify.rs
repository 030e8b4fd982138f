//! `bearing reconcile` notifies a key result going off track once, to the
//! team's contact, and `bearing notifications list|test` show the log and
//! what would be sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::receiver::receiver;
use std::path::Path;
use std::process::{Command, Output};

fn bearing(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .arg("--intent")
        .arg(dir.join("bearing.yaml"))
        .arg("--database")
        .arg(dir.join("bearing.db"))
        .args(args)
        .current_dir(dir)
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_DATABASE")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn point(dir: &Path, id: &str, time: &str, value: f64) {
    let p = dir.join(format!("{id}.jsonl"));
    std::fs::write(
        &p,
        format!(
            r#"{{"id":"{id}","source":"t","time":"{time}","service":"shop","environment":"production","kind":"metric_point","data":{{"name":"business.orders","value":{value}}}}}"#
        ),
    )
    .unwrap();
    bearing(dir, &["ingest", p.to_str().unwrap()]);
}

#[test]
fn a_key_result_going_off_track_posts_one_message() {
    let (url, seen) = receiver("/slack");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bearing.yaml"),
        format!(
            r#"version: 1
teams:
  - {{ id: growth, contact: growth-chat }}
services:
  - {{ id: shop, team: growth }}
objectives:
  - id: sales
    title: Keep selling
    layer: business
    owner: growth
    key_results:
      - {{ metric: business.orders, target: ">= 10", window: 7d }}
notifications:
  destinations:
    - {{ id: growth-chat, kind: slack, url: "{url}" }}
"#
        ),
    )
    .unwrap();
    point(d, "m1", "2026-03-01T00:00:00Z", 20.0);
    // The first look records the statuses; nothing to say yet.
    bearing(d, &["reconcile", "--at", "2026-03-02T00:00:00Z"]);
    assert_eq!(seen.lock().unwrap().len(), 0);

    point(d, "m2", "2026-03-11T00:00:00Z", 1.0);
    let dry = bearing(
        d,
        &["notifications", "test", "--at", "2026-03-12T00:00:00Z"],
    );
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.contains("kr_status -> growth-chat"), "{dry}");
    assert_eq!(seen.lock().unwrap().len(), 0, "a dry run sends nothing");

    bearing(d, &["reconcile", "--at", "2026-03-12T00:00:00Z"]);
    bearing(d, &["reconcile", "--at", "2026-03-12T00:05:00Z"]);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let body: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("business.orders is off track (was met)"),
        "{text}"
    );
    assert!(body["blocks"].is_array());

    let log = bearing(d, &["notifications", "list", "--output", "json"]);
    let log: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["status"], "sent");
    assert_eq!(log[0]["kind"], "kr_status");
    assert_eq!(log[0]["destination"], "growth-chat");
}
