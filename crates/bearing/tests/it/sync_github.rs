//! `bearing sync github` against recorded REST API answers served by a
//! local HTTP server (these machines cannot reach GitHub).
//!
//! `tests/github-sync/` holds one repository history twice: as the webhook
//! deliveries GitHub sent (`webhooks.jsonl`, what `bearing ingest` reads)
//! and as the REST API answers a later read gets (`api.json`, path → body,
//! in the shapes of GitHub's REST reference). The server pages every
//! listing two items at a time (`Link: rel="next"`), tags each answer with
//! an ETag and answers 304 to a matching `If-None-Match`, and answers the
//! first read of the pull requests with a 403 rate limit that resets a
//! second later.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

const PAGE: usize = 2;
const AT: &str = "2026-10-20T00:00:00Z";
const PULLS: &str = "/repos/acme/shop/pulls?state=closed&sort=updated&direction=desc&per_page=100";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/github-sync")
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    if_none_match: Option<String>,
    status: u16,
}

struct Api {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Api {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Serves `api.json` until the test process ends.
fn serve() -> Api {
    serve_changed(|_| {})
}

/// Serves `api.json` as `change` leaves it.
fn serve_changed(change: impl FnOnce(&mut BTreeMap<String, Value>)) -> Api {
    let mut routes: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("api.json")).unwrap()).unwrap();
    change(&mut routes);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut rate_limited = false;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let target = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut if_none_match = None;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("if-none-match")
                {
                    if_none_match = Some(v.trim().to_owned());
                }
            }
            let (status, headers, body) = answer(
                &routes,
                port,
                &target,
                if_none_match.as_deref(),
                &mut rate_limited,
            );
            log.lock().unwrap().push(Seen {
                target,
                if_none_match,
                status,
            });
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    Api { port, seen }
}

/// The answer to `GET target`: a page of the recorded body, a 304, a 404
/// or (once, for the pull requests) a 403 rate limit.
fn answer(
    routes: &BTreeMap<String, Value>,
    port: u16,
    target: &str,
    if_none_match: Option<&str>,
    rate_limited: &mut bool,
) -> (u16, Vec<(String, String)>, String) {
    // The route is the target without its `page` parameter.
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut page = 1;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| match p.strip_prefix("page=") {
            Some(n) => {
                page = n.parse().unwrap();
                false
            }
            None => !p.is_empty(),
        })
        .collect();
    let route = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    if route == PULLS && !*rate_limited {
        *rate_limited = true;
        let reset = chrono::Utc::now().timestamp() + 1;
        return (
            403,
            vec![
                ("x-ratelimit-limit".into(), "5000".into()),
                ("x-ratelimit-remaining".into(), "0".into()),
                ("x-ratelimit-reset".into(), reset.to_string()),
            ],
            r#"{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}"#.into(),
        );
    }
    let Some(body) = routes.get(&route) else {
        return (404, Vec::new(), r#"{"message":"Not Found"}"#.into());
    };
    // A listing is an array, or an object with one array member.
    let mut body = body.clone();
    let items = match &mut body {
        Value::Array(a) => Some(a),
        Value::Object(m) => m.values_mut().find_map(|v| v.as_array_mut()),
        _ => None,
    };
    let mut headers = Vec::new();
    if let Some(items) = items {
        let all = std::mem::take(items);
        let pages = all.len().div_ceil(PAGE).max(1);
        *items = all.into_iter().skip((page - 1) * PAGE).take(PAGE).collect();
        if page < pages {
            let sep = if rest.is_empty() { "?" } else { "&" };
            headers.push((
                "link".into(),
                format!(
                    "<http://127.0.0.1:{port}{route}{sep}page={}>; rel=\"next\", <http://127.0.0.1:{port}{route}{sep}page={pages}>; rel=\"last\"",
                    page + 1
                ),
            ));
        }
    }
    let text = body.to_string();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&route, page, &text).hash(&mut h);
    let etag = format!("W/\"{:016x}\"", h.finish());
    if if_none_match == Some(etag.as_str()) {
        return (304, vec![("etag".into(), etag)], String::new());
    }
    headers.push(("etag".into(), etag));
    (200, headers, text)
}

fn bearing(db: &str, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_INTENT")
        .env_remove("GITHUB_TOKEN")
        .arg("--intent")
        .arg(dir().join("bearing.yaml"))
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

fn sync(db: &str, api: &Api, extra: &[&str]) -> Value {
    let url = api.url();
    let mut args = vec![
        "sync",
        "github",
        "--repo",
        "acme/shop",
        "--api-url",
        &url,
        "--token",
        "t0k3n",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let (out, err, code) = bearing(db, &args);
    assert_eq!(code, 0, "{out}\n{err}");
    serde_json::from_str(&out).unwrap()
}

/// The DORA figures `bearing report` shows: metric → (value, samples).
fn dora(db: &str) -> BTreeMap<String, (Value, Value)> {
    let (out, err, code) = bearing(db, &["report", "--output", "json", "--at", AT]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["objectives"][0]["key_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kr| {
            (
                kr["metric"].as_str().unwrap().to_owned(),
                (kr["value"].clone(), kr["samples"].clone()),
            )
        })
        .collect()
}

fn ids(db: &str) -> BTreeSet<String> {
    let (out, err, code) = bearing(db, &["events", "list", "--limit", "0", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Vec<Value> = serde_json::from_str(&out).unwrap();
    v.iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_synced_history_is_the_webhook_history() {
    let api = serve();
    let tmp = tempfile::tempdir().unwrap();
    let hooks = format!("sqlite://{}", tmp.path().join("hooks.db").display());
    let synced = format!("sqlite://{}", tmp.path().join("synced.db").display());

    let (out, err, code) = bearing(
        &hooks,
        &[
            "ingest",
            "--output",
            "json",
            dir().join("webhooks.jsonl").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let ingested: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ingested["accepted"], 30, "{out}");

    // First sync: everything, waiting out one rate limit.
    let started = Instant::now();
    let first = sync(&synced, &api, &["--since", "2026-10-01"]);
    let waited = started.elapsed();
    let seen = api.take();
    assert_eq!(first["accepted"], first["events"], "{first}");
    assert_eq!(first["duplicates"], 0, "{first}");
    let limited: Vec<&Seen> = seen.iter().filter(|s| s.status == 403).collect();
    assert_eq!(limited.len(), 1, "{seen:?}");
    assert_eq!(limited[0].target, PULLS);
    assert!(
        seen.iter().any(|s| s.target == PULLS && s.status == 200),
        "the sync did not ask again after the rate limit: {seen:?}"
    );
    assert!(
        waited.as_millis() >= 1000,
        "no wait for the reset: {waited:?}"
    );
    // Second pages were read through `Link`.
    for listing in [
        "/deployments?per_page=100&page=2",
        "/activity?ref=refs/heads/main&per_page=100&page=2",
    ] {
        assert!(
            seen.iter()
                .any(|s| s.target.ends_with(listing) && s.status == 200),
            "{listing} not read: {seen:?}"
        );
    }
    assert!(seen.iter().all(|s| s.if_none_match.is_none()), "{seen:?}");

    // The same DORA figures, from the same events.
    let (from_hooks, from_sync) = (dora(&hooks), dora(&synced));
    assert_eq!(from_hooks.len(), 4);
    assert!(
        from_hooks.values().all(|(v, _)| !v.is_null()),
        "{from_hooks:?}"
    );
    assert_eq!(from_sync, from_hooks);
    let (hook_ids, sync_ids) = (ids(&hooks), ids(&synced));
    assert_eq!(sync_ids.len() as u64, first["events"].as_u64().unwrap());
    let only_sync: Vec<&String> = sync_ids.difference(&hook_ids).collect();
    assert!(
        only_sync.is_empty(),
        "synced events no webhook gave: {only_sync:?}"
    );
    // What only webhooks saw: runs and jobs before they completed (a REST
    // read sees their current state only).
    let only_hooks: Vec<&String> = hook_ids.difference(&sync_ids).collect();
    assert_eq!(
        only_hooks,
        [
            "github:workflow_job:8001:1:queued",
            "github:workflow_run:7001:1:queued",
            "github:workflow_run:7002:1:queued",
            "github:workflow_run:7002:2:queued",
        ],
        "{only_hooks:?}"
    );

    // Second sync from the cursors: one conditional request per listing,
    // each answered 304, nothing stored.
    let second = sync(&synced, &api, &[]);
    let seen = api.take();
    assert_eq!(second["events"], 0, "{second}");
    assert_eq!(second["not_modified"], 5, "{second}");
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(
        seen.iter().filter(|s| s.if_none_match.is_some()).count(),
        5,
        "{seen:?}"
    );
    for r in second["resources"].as_array().unwrap() {
        assert_eq!(r["status"], "not modified", "{r}");
    }

    // A new deployment: the next sync reads the deployments down to its
    // cursor (the newest deployment it had seen) and no further.
    let api2 = serve_changed(|routes| {
        let list = routes
            .get_mut("/repos/acme/shop/deployments?per_page=100")
            .unwrap()
            .as_array_mut()
            .unwrap();
        let mut d = list[0].clone();
        d["id"] = 504.into();
        d["created_at"] = "2026-10-14T09:00:00Z".into();
        list.insert(0, d);
        let mut status =
            routes["/repos/acme/shop/deployments/503/statuses?per_page=100"][0].clone();
        status["id"] = 607.into();
        status["created_at"] = "2026-10-14T09:05:00Z".into();
        routes.insert(
            "/repos/acme/shop/deployments/504/statuses?per_page=100".into(),
            Value::Array(vec![status]),
        );
    });
    let third = sync(&synced, &api2, &[]);
    let seen = api2.take();
    let deployments = &third["resources"][0];
    assert_eq!(deployments["read"], 2, "{third}");
    assert_eq!(deployments["accepted"], 2, "{third}");
    assert_eq!(third["accepted"], 2, "{third}");
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|s| s.target.contains("/statuses"))
        .map(|s| s.target.as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "/repos/acme/shop/deployments/504/statuses?per_page=100",
            "/repos/acme/shop/deployments/503/statuses?per_page=100"
        ]
    );
    for r in &third["resources"].as_array().unwrap()[1..] {
        assert_eq!(r["status"], "not modified", "{r}");
    }

    // A sync after the webhooks stores nothing new.
    let after_hooks = sync(&hooks, &api, &["--since", "2026-10-01"]);
    assert_eq!(after_hooks["accepted"], 0, "{after_hooks}");
    assert_eq!(after_hooks["duplicates"], first["events"], "{after_hooks}");
    assert_eq!(ids(&hooks), hook_ids);
}

#[test]
fn a_rate_limit_longer_than_max_wait_stops_with_a_message() {
    let api = serve();
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("b.db").display());
    let url = api.url();
    let (out, err, code) = bearing(
        &db,
        &[
            "sync",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &url,
            "--max-wait",
            "0s",
        ],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("rate limit is used up until"), "{err}");
    assert!(err.contains("--max-wait"), "{err}");
    // What was read before the limit is kept, with its cursor: the next
    // sync sends the ETag of the deployments listing.
    let (out, err, code) = bearing(
        &db,
        &[
            "sync",
            "github",
            "--repo",
            "acme/shop",
            "--api-url",
            &url,
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["resources"][0]["status"], "not modified", "{v}");
    assert_eq!(v["resources"][2]["status"], "read", "{v}");
}
