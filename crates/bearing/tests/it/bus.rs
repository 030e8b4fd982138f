//! `bearing serve --bus` on a real NATS JetStream server and a real Postgres:
//! three replicas on one stream, one killed with SIGKILL during the load,
//! every acknowledged event stored exactly once; a poisoned message in the
//! dead letters; NATS down → 503 and nothing half-written.
//!
//! Needs `BEARING_NATS_URL` (`.ci/test` sets it to the machine's server on
//! 127.0.0.1:4222, started if it is down) and `DATABASE_URL`; each test uses
//! a stream of its own (deleted at the end) and a schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::serve::{
    PgSchema, Server, eventually, free_port, http, http_full, intent, json_of, pg_exec, samples,
    token,
};

fn nats_url() -> Option<String> {
    let url = std::env::var("BEARING_NATS_URL").ok();
    if url.is_none() {
        eprintln!("BEARING_NATS_URL unset: skipping the event bus test");
    }
    url
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A stream name no other run uses.
fn stream_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("IT_{test}_{}_{nanos}", std::process::id())
}

/// The streams of one test, deleted on drop, with the runtime that keeps
/// the test's own connection to them.
struct Streams {
    rt: tokio::runtime::Runtime,
    bus: bearing_bus::Bus,
}

impl Streams {
    fn new(url: &str, stream: &str) -> Streams {
        let config = bearing_bus::Config {
            stream: stream.to_string(),
            ..bearing_bus::Config::new(url)
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bus = rt.block_on(bearing_bus::Bus::connect(config)).unwrap();
        Streams { rt, bus }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.bus.delete_streams());
    }
}

/// POSTs `body` to `/v1/events`; `None` when the server is gone.
fn try_post(port: u16, token: &str, body: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_whitespace().nth(1)?.parse().ok()
}

fn deployment(service: &str, id: &str, hours_ago: i64) -> serde_json::Value {
    let t = (chrono::Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
    json!({
        "id": id, "source": "it", "time": t, "service": service,
        "environment": "production", "kind": "deployment",
        "data": {"deployment_id": id, "status": "success", "version": "1.0"}
    })
}

fn jsonl(events: &[serde_json::Value]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Ids of the stored events of `service`, and how many rows they fill.
fn stored(db: &str, schema: &str, service: &str) -> (BTreeSet<String>, i64) {
    runtime().block_on(async {
        let pool = sqlx::PgPool::connect(db).await.unwrap();
        let ids: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM {schema}.events WHERE service = $1"
        ))
        .bind(service)
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        let rows = ids.len() as i64;
        (ids.into_iter().map(|(id,)| id).collect(), rows)
    })
}

fn bus_args<'a>(url: &'a str, stream: &'a str, refresh: &'a str) -> [&'a str; 6] {
    ["--bus", url, "--bus-stream", stream, "--refresh", refresh]
}

#[test]
fn three_replicas_on_one_stream_store_every_acknowledged_event_once() {
    let (Some(url), Ok(db)) = (nats_url(), std::env::var("DATABASE_URL")) else {
        eprintln!("skipping: the bus test needs BEARING_NATS_URL and DATABASE_URL");
        return;
    };
    let schema = PgSchema::new(&db, "bus");
    let dir = tempfile::tempdir().unwrap();
    let service = "busy";
    let intent = intent(dir.path(), service);
    let admin = token(&schema.url, &intent, "admin");
    let stream = stream_name("replicas");
    let streams = Streams::new(&url, &stream);
    // A refresh interval far beyond the test: the scorecards move on the
    // bus's refresh signals.
    let args = bus_args(&url, &stream, "1h");
    let mut replicas: Vec<Server> = (0..3)
        .map(|_| Server::start_with(&schema.url, &intent, &args))
        .collect();
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    assert_eq!(samples(ports[0], &admin, service), 0);

    // 150 requests of 8 events, round robin over the three replicas. In the
    // middle third the store is down (its events table renamed away): the
    // bus still acknowledges every request, and the consumers hold their
    // batches unacknowledged while they wait. Then the third replica is
    // killed (SIGKILL) with what it holds, and the store comes back.
    let (requests, per_request) = (150, 8);
    let mut acknowledged = BTreeSet::new();
    let mut sent = BTreeSet::new();
    let mut killed = false;
    let mut decision_id = String::new();
    let events_table = format!("{}.events", schema.schema);
    for r in 0..requests {
        if r == requests / 3 {
            pg_exec(
                &db,
                &format!("ALTER TABLE {events_table} RENAME TO events_away"),
            );
            pg_exec(
                &db,
                &format!(
                    "ALTER TABLE {}.decisions RENAME TO decisions_away",
                    schema.schema
                ),
            );
            // Decided from memory while the store is down; logged through
            // the bus (a direct write would fail and lose it).
            let env =
                json!({"service": service, "environment": "production", "strategy": "direct"});
            let (status, body) = http(ports[0], "POST", "/v1/decide", &admin, &env.to_string());
            assert_eq!(status, 200, "{body}");
            decision_id = json_of(&body)["id"].as_str().unwrap().to_string();
        }
        if r == requests * 2 / 3 {
            // Let every consumer take (and hold) a batch.
            std::thread::sleep(Duration::from_millis(1500));
            replicas[2].child.kill().unwrap();
            replicas[2].child.wait().unwrap();
            killed = true;
            pg_exec(
                &db,
                &format!("ALTER TABLE {}.events_away RENAME TO events", schema.schema),
            );
            pg_exec(
                &db,
                &format!(
                    "ALTER TABLE {}.decisions_away RENAME TO decisions",
                    schema.schema
                ),
            );
        }
        let events: Vec<_> = (0..per_request)
            .map(|i| {
                deployment(
                    service,
                    &format!("e{r}-{i}"),
                    1 + (r * per_request + i) as i64 % 600,
                )
            })
            .collect();
        let ids: Vec<String> = events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        let port = ports[r % 3];
        sent.extend(ids.iter().cloned());
        match try_post(port, &admin, &jsonl(&events)) {
            Some(201) | Some(200) => acknowledged.extend(ids),
            Some(other) => panic!("request {r} answered {other}"),
            None => assert!(
                killed && port == ports[2],
                "request {r} to a live replica failed"
            ),
        }
    }
    assert!(acknowledged.len() >= requests * per_request * 2 / 3);

    // A poisoned message (not JSON) and an event that can never be stored.
    let bus = streams.bus.clone();
    streams.rt.block_on(async {
        bus.publish_raw("events.deployment.busy", "poison-1", "{not json".into())
            .await
            .unwrap();
        let bad = json!({
            "specversion": "1.0", "id": "poison-2", "source": "it",
            "type": "dev.bearing.event.deployment",
            "data": {"id": "poison-2", "source": "it", "time": "2026-01-01T00:00:00Z",
                     "kind": "deployment", "data": {"status": "success"}}
        });
        bus.publish_raw("events.deployment.busy", "poison-2", bad.to_string().into())
            .await
            .unwrap();
    });

    // Every acknowledged event is stored exactly once (the killed replica's
    // unacknowledged messages are delivered again to the others).
    eventually("every acknowledged event is stored", || {
        let (ids, _) = stored(&schema.url, &schema.schema, service);
        acknowledged.is_subset(&ids)
    });
    let (ids, rows) = stored(&schema.url, &schema.schema, service);
    assert_eq!(rows, ids.len() as i64, "an event was stored twice");
    assert!(ids.is_subset(&sent), "an event nobody sent was stored");
    eventually("the work stream is drained", || {
        streams.rt.block_on(bus.pending()).unwrap() == 0
    });
    // Both live replicas' scorecards count every stored deployment without
    // a scheduled refresh.
    let n = ids.len() as u64;
    for port in &ports[..2] {
        eventually("a replica's scorecard counts every stored event", || {
            let got = samples(*port, &admin, service);
            eprintln!("port {port}: {got} of {n}");
            got == n
        });
    }

    eventually(
        "the decision made while the store was down is logged",
        || {
            let (status, body) = http(ports[1], "GET", "/v1/decisions?service=busy", &admin, "");
            status == 200 && body.contains(&decision_id)
        },
    );

    let mut dead = Vec::new();
    eventually("both poisoned messages are dead letters", || {
        dead = streams.rt.block_on(bus.dead_letters()).unwrap();
        dead.len() == 2
    });
    // Two replicas consume: either may come first.
    dead.sort_by_key(|d| d.payload.starts_with(b"{not json"));
    let subject = format!("{}.events.deployment.busy", stream.to_ascii_lowercase());
    assert!(dead.iter().all(|d| d.subject == subject), "{dead:?}");
    assert_eq!(&dead[1].payload[..], b"{not json");
    assert!(dead[1].reason.contains("not a CloudEvent"), "{:?}", dead[1]);
    assert!(
        dead[0].reason.contains("missing field `deployment_id`"),
        "{:?}",
        dead[0]
    );
    assert!(!ids.contains("poison-2"));

    for r in replicas.drain(..2) {
        assert!(r.stop().success());
    }
    drop(streams);
}

/// A NATS server of this test's own (so it can be stopped), on a free port,
/// keeping its streams in `dir`.
struct OwnNats {
    child: Child,
}

impl OwnNats {
    fn start(dir: &Path, port: u16) -> OwnNats {
        let bin = std::env::var("BEARING_NATS_SERVER_BIN")
            .unwrap_or_else(|_| "/usr/sbin/nats-server".to_string());
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (BEARING_NATS_SERVER_BIN)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnNats { child }
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ids of every stored event (`bearing events list`), sorted.
fn listed_ids(db: &str, intent: &Path) -> Vec<String> {
    let out = super::serve::bin()
        .args(["--database", db, "--intent"])
        .arg(intent)
        .args(["events", "list", "--output", "json"])
        .output()
        .unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let mut ids: Vec<String> = listed
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[test]
fn nats_down_answers_503_with_retry_after_and_stores_nothing_of_the_request() {
    if nats_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let service = "edge";
    let intent = intent(dir.path(), service);
    let admin = token(&db, &intent, "admin");
    let js_dir = dir.path().join("js");
    let nats_port = free_port();
    let nats = OwnNats::start(&js_dir, nats_port);
    let url = format!("nats://127.0.0.1:{nats_port}");
    let server = Server::start_with(&db, &intent, &bus_args(&url, "EDGE", "1h"));

    let first = jsonl(&[deployment(service, "up-1", 2)]);
    assert_eq!(try_post(server.port, &admin, &first), Some(201));
    eventually("the first event is stored and counted", || {
        samples(server.port, &admin, service) == 1
    });

    drop(nats);
    let second = jsonl(&[
        deployment(service, "down-1", 3),
        deployment(service, "down-2", 4),
    ]);
    let (status, head, body) = http_full(server.port, "POST", "/v1/events", &admin, &second);
    assert_eq!(status, 503, "{body}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(json_of(&body)["error"]["code"], "busy", "{body}");
    assert_eq!(listed_ids(&db, &intent), ["up-1"]);

    // NATS back (same storage): the client reconnects; sending the batch
    // again stores it, once.
    let nats = OwnNats::start(&js_dir, nats_port);
    eventually("ingest works again once NATS is back", || {
        matches!(try_post(server.port, &admin, &second), Some(200 | 201))
    });
    eventually("the batch sent again is stored", || {
        samples(server.port, &admin, service) == 3
    });
    assert_eq!(listed_ids(&db, &intent), ["down-1", "down-2", "up-1"]);
    assert!(server.stop().success());
    drop(nats);
}

/// `bearing ingest --bus` publishes and returns once JetStream holds the
/// events; a replica started later stores them (and a second run of the
/// same file is dropped by NATS as duplicates).
#[test]
fn ingest_through_the_bus_is_stored_by_a_replica_started_later() {
    let Some(url) = nats_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let service = "later";
    let intent = intent(dir.path(), service);
    let stream = stream_name("ingest");
    let streams = Streams::new(&url, &stream);
    let file = dir.path().join("events.jsonl");
    let events: Vec<_> = (0..25)
        .map(|i| deployment(service, &format!("l{i}"), 1 + i))
        .collect();
    std::fs::write(&file, jsonl(&events)).unwrap();
    let ingest = || {
        let out = super::serve::bin()
            .args(["--database", &db, "--intent"])
            .arg(&intent)
            .args([
                "ingest",
                "--bus",
                &url,
                "--bus-stream",
                &stream,
                "--output",
                "json",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&String::from_utf8_lossy(&out.stdout))
    };
    let first = ingest();
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(25), Some(0))
    );
    let again = ingest();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(25))
    );
    assert_eq!(streams.rt.block_on(streams.bus.pending()).unwrap(), 25);
    // Nothing was written to the database by `ingest --bus`.
    assert!(listed_ids(&db, &intent).is_empty());

    let server = Server::start_with(&db, &intent, &bus_args(&url, &stream, "1h"));
    let admin = token(&db, &intent, "admin");
    eventually("the replica stores what waited on the bus", || {
        listed_ids(&db, &intent).len() == 25
    });
    eventually("and its scorecard counts it", || {
        samples(server.port, &admin, service) == 25
    });
    assert!(server.stop().success());
}
