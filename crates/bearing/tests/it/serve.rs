//! `bearing serve` as processes: tokens, graceful shutdown on SIGTERM, and
//! two replicas sharing one Postgres (when `DATABASE_URL` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bearing"));
    c.env_remove("BEARING_DATABASE")
        .env_remove("BEARING_INTENT")
        .env_remove("BEARING_GITHUB_SECRET");
    c
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 client: status and body.
pub(crate) fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let (status, _, body) = http_full(port, method, path, token, body);
    (status, body)
}

/// [`http`] with the response's head (status line and headers) too.
pub(crate) fn http_full(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

pub(crate) fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls until `f` holds (the servers refresh every second; generous bound for slow CI).
pub(crate) fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting until {what}");
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Server {
    fn start(db: &str, intent: &Path) -> Server {
        Server::start_with(db, intent, &["--refresh", "1s"])
    }

    /// A server with more `serve` options (`--refresh` among them).
    pub(crate) fn start_with(db: &str, intent: &Path, options: &[&str]) -> Server {
        let port = free_port();
        let child = bin()
            .args(["--database", db, "--intent"])
            .arg(intent)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--reconcile-every",
                "0s",
            ])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { child, port };
        eventually("the server is ready", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/readyz", "", "").0 == 200
        });
        s
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn token(db: &str, intent: &Path, scope: &str) -> String {
    let out = bin()
        .args(["--database", db, "--intent"])
        .arg(intent)
        .args([
            "token", "create", "--name", "it", "--scope", scope, "--output", "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&String::from_utf8_lossy(&out.stdout))["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn intent(dir: &Path, service: &str) -> std::path::PathBuf {
    let path = dir.join("bearing.yaml");
    std::fs::write(
        &path,
        format!(
            r#"version: 1
teams: [{{ id: ops }}]
services:
  - {{ id: {service}, team: ops, environments: [production] }}
objectives:
  - id: ship
    layer: engineering
    key_results:
      - {{ metric: dora.deployment_frequency, scope: {{ service: {service} }}, target: ">= 1/week", window: 30d }}
guardrails:
  - {{ id: strategy, kind: deploy_strategy }}
adaptation:
  - {{ id: busy, when: "dora.deployment_frequency(30d) >= 1/week", then: {{ strategy: canary }} }}
"#
        ),
    )
    .unwrap();
    path
}

pub(crate) fn deployments(service: &str, n: usize) -> String {
    let now = chrono::Utc::now();
    (0..n)
        .map(|i| {
            let t = (now - chrono::Duration::hours(6 + 20 * i as i64)).to_rfc3339();
            json!({
                "id": format!("{service}:deploy:{i}"), "source": "it", "time": t,
                "service": service, "environment": "production", "kind": "deployment",
                "data": {"deployment_id": format!("{service}-{i}"), "status": "success", "version": format!("1.{i}")}
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn samples(port: u16, token: &str, service: &str) -> u64 {
    let (status, body) = http(
        port,
        "GET",
        &format!("/v1/scorecard?service={service}"),
        token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    json_of(&body)["objectives"][0]["key_results"][0]["samples"]
        .as_u64()
        .unwrap_or(0)
}

pub(crate) fn decide(port: u16, token: &str, service: &str) -> String {
    let env =
        json!({"service": service, "environment": "production", "strategy": "direct"}).to_string();
    let (status, body) = http(port, "POST", "/v1/decide", token, &env);
    assert_eq!(status, 200, "{body}");
    json_of(&body)["result"].as_str().unwrap().to_string()
}

#[test]
fn serve_ingests_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let intent = intent(dir.path(), "solo");
    let admin = token(&db, &intent, "admin");
    let server = Server::start(&db, &intent);
    let (status, body) = http(
        server.port,
        "POST",
        "/v1/events",
        &admin,
        &deployments("solo", 3),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(json_of(&body)["accepted"], 3);
    let (status, _) = http(server.port, "GET", "/v1/plans", "brg_wrong", "");
    assert_eq!(status, 401);
    let port = server.port;
    let exit = server.stop();
    assert!(exit.success(), "SIGTERM should stop cleanly: {exit:?}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // What was acknowledged is in the store.
    let out = bin()
        .args(["--database", &db, "--intent"])
        .arg(&intent)
        .args(["events", "list", "--output", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("solo:deploy:").count(), 3, "{text}");
}

/// `GET /v1/scorecard?window=` is `bearing report --window … --output json`:
/// the same figures for the same window, a different one changes them, and
/// a window out of bounds is a 400 naming it.
#[test]
fn the_scorecard_window_gives_the_figures_of_report_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let intent = intent(dir.path(), "solo");
    let admin = token(&db, &intent, "admin");
    let server = Server::start(&db, &intent);
    // Ten deployments, 6 h to 186 h old, 20 h apart: three in the last 2 days.
    let (status, body) = http(
        server.port,
        "POST",
        "/v1/events",
        &admin,
        &deployments("solo", 10),
    );
    assert_eq!(status, 201, "{body}");
    eventually("the snapshot holds the deployments", || {
        samples(server.port, &admin, "solo") == 10
    });
    let figures = |mut v: Value| {
        v.as_object_mut().unwrap().remove("generated_at");
        v
    };
    for query in ["window=2d", "window=2d&service=solo", "window=1w&team=ops"] {
        let (status, body) = http(
            server.port,
            "GET",
            &format!("/v1/scorecard?{query}"),
            &admin,
            "",
        );
        assert_eq!(status, 200, "{query}: {body}");
        let api = figures(json_of(&body));
        let mut args = vec!["report".to_string(), "--output".into(), "json".into()];
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            args.push(format!("--{k}={v}"));
        }
        let out = bin()
            .args(["--database", &db, "--intent"])
            .arg(&intent)
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        let cli = figures(json_of(&String::from_utf8_lossy(&out.stdout)));
        assert_eq!(api, cli, "{query}");
    }
    let kr = |query: &str| {
        let (status, body) = http(
            server.port,
            "GET",
            &format!("/v1/scorecard?{query}"),
            &admin,
            "",
        );
        assert_eq!(status, 200, "{query}: {body}");
        json_of(&body)["objectives"][0]["key_results"][0].clone()
    };
    assert_eq!(kr("window=2d")["samples"], 3);
    assert_eq!(kr("window=2d")["window_seconds"], 2 * 86_400);
    assert_eq!(kr("")["samples"], 10);
    for (window, want) in [
        ("0s", "invalid `window`: it must be longer than 0s"),
        (
            "36501d",
            "invalid `window`: duration `36501d` is too long; expected at most `36500d` (100 years)",
        ),
        ("soon", "invalid `window`: invalid duration `soon`"),
    ] {
        let (status, body) = http(
            server.port,
            "GET",
            &format!("/v1/scorecard?window={window}"),
            &admin,
            "",
        );
        assert_eq!(status, 400, "{window}: {body}");
        let v = json_of(&body);
        assert_eq!(v["error"]["code"], "bad_request", "{body}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(want),
            "{window}: {body}"
        );
        // The CLI refuses the same value.
        let out = bin()
            .args(["--database", &db, "--intent"])
            .arg(&intent)
            .args(["report", "--window", window])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{window}: {out:?}");
    }
}

/// A fresh schema of the `DATABASE_URL` database for one test, as a URL
/// whose connections use it (`options[search_path]`), dropped on drop: the
/// test's replicas migrate and share it, and neither another test nor a
/// newer build's migrations of the shared `public` schema get in the way.
pub(crate) struct PgSchema {
    admin: String,
    pub(crate) schema: String,
    pub(crate) url: String,
}

impl PgSchema {
    pub(crate) fn new(db: &str, test: &str) -> PgSchema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema = format!("bearing_it_{test}_{}_{nanos}", std::process::id());
        pg_exec(db, &format!("CREATE SCHEMA {schema}"));
        let sep = if db.contains('?') { '&' } else { '?' };
        PgSchema {
            admin: db.to_string(),
            url: format!("{db}{sep}options[search_path]={schema}"),
            schema,
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        pg_exec(&self.admin, &format!("DROP SCHEMA {} CASCADE", self.schema));
    }
}

pub(crate) fn pg_exec(db: &str, sql: &str) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = sqlx::PgPool::connect(db).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        });
}

#[test]
fn two_replicas_share_one_postgres() {
    let Ok(db) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL unset: skipping the multi-replica test");
        return;
    };
    let schema = PgSchema::new(&db, "replicas");
    let db = schema.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let service = format!("replica-{}-{nanos}", std::process::id());
    let intent = intent(dir.path(), &service);
    let admin = token(&db, &intent, "admin");
    let a = Server::start(&db, &intent);
    let b = Server::start(&db, &intent);

    assert_eq!(samples(b.port, &admin, &service), 0);
    assert_eq!(decide(b.port, &admin, &service), "allow");

    // Events ingested through A appear in B's scorecard.
    let (status, body) = http(
        a.port,
        "POST",
        "/v1/events",
        &admin,
        &deployments(&service, 6),
    );
    assert_eq!(status, 201, "{body}");
    eventually("replica B sees the events ingested through A", || {
        samples(b.port, &admin, &service) == 6
    });

    // A reconciles (plan → canary); B's decisions follow within its refresh interval.
    let (status, body) = http(a.port, "POST", "/v1/reconcile", &admin, "");
    assert_eq!(status, 200, "{body}");
    eventually(
        "replica B denies a direct deploy under the new plan",
        || decide(b.port, &admin, &service) == "deny",
    );
    assert!(a.stop().success());
    assert!(b.stop().success());
}

/// A policy asking for a collection of two billion elements (which aborted
/// the process inside regorus' `numbers.range`) or fifty million (3 s and
/// 1.2 GB, past the time limit) gets an `unknown` decision naming the limit,
/// quickly, and the server keeps serving.
#[test]
fn a_runaway_policy_is_unknown_and_the_server_survives() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    std::fs::write(
        dir.path().join("policy/range.rego"),
        "package main\n\nimport rego.v1\n\ndeny contains \"huge\" if count(numbers.range(1, 2000000000)) > 0\n\nwarn contains \"large\" if count(numbers.range(1, 50000000)) > 0\n",
    )
    .unwrap();
    let intent = dir.path().join("bearing.yaml");
    std::fs::write(
        &intent,
        "version: 1\nteams: [{id: ops}]\nservices:\n  - {id: solo, team: ops, environments: [production]}\nguardrails:\n  - {id: runaway, kind: rego, path: policy}\n",
    )
    .unwrap();
    let check = token(&db, &intent, "decide");
    let mut server = Server::start(&db, &intent);
    for _ in 0..3 {
        let started = Instant::now();
        let env = json!({"service": "solo", "environment": "production"}).to_string();
        let (status, body) = http(server.port, "POST", "/v1/decide", &check, &env);
        assert_eq!(status, 200, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let d = json_of(&body);
        assert_eq!(d["result"], "unknown", "{body}");
        assert!(
            body.contains("over the limit of 1000000 elements per collection"),
            "{body}"
        );
    }
    assert_eq!(http(server.port, "GET", "/healthz", "", "").0, 200);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    // Memory stayed bounded (the fifty-million range alone took 1.2 GB).
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())) {
        let peak_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        assert!(peak_kb < 300 * 1024, "peak RSS {peak_kb} kB");
    }
}

/// `bearing token …` on `db` with `intent`: exit code, stdout, stderr.
fn token_cmd(db: &str, intent: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .args(["--database", db, "--intent"])
        .arg(intent)
        .arg("token")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates, lists, uses, expires and revokes tokens with the CLI while two
/// replicas serve one store: a revoked or expired token is refused by both.
fn token_lifecycle_on_two_replicas(db: &str, dir: &Path) {
    let intent = intent(dir, "gate");
    let create = |expires: &str| {
        let (code, out, err) = token_cmd(
            db,
            &intent,
            &[
                "create",
                "--name",
                "ci-gate",
                "--scope",
                "decide",
                "--expires",
                expires,
                "--output",
                "json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        let v = json_of(&out);
        (
            v["id"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    };
    let (id, secret) = create("90d");
    let (short_id, short) = create("4s");
    let created = Instant::now();
    let a = Server::start(db, &intent);
    let b = Server::start(db, &intent);
    let status = |port: u16, token: &str| {
        let env = json!({"service": "gate", "environment": "production"}).to_string();
        http(port, "POST", "/v1/decide", token, &env)
    };
    for s in [&a, &b] {
        assert_eq!(status(s.port, &secret).0, 200);
        assert_eq!(status(s.port, &short).0, 200);
    }

    // Listed with their use and expiry, never with the secret.
    eventually("the use is recorded", || {
        let (code, out, _) = token_cmd(db, &intent, &["list", "--output", "json"]);
        assert_eq!(code, 0);
        assert!(
            !out.contains(&secret) && !out.contains(&secret[4..]),
            "{out}"
        );
        let list = json_of(&out);
        let t = list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id.as_str())
            .cloned()
            .unwrap();
        assert_eq!(t["scopes"], json!(["decide"]));
        assert_eq!(t["state"], "active");
        assert!(t["expires_at"].is_string() && t["created_at"].is_string());
        t["last_used_at"].is_string()
    });
    let (_, text, _) = token_cmd(db, &intent, &["list"]);
    assert!(
        text.starts_with("ID") && text.contains(&id) && text.contains("LAST USED"),
        "{text}"
    );
    assert!(!text.contains(&secret));

    // Revoked through the store: both replicas refuse it within the recheck interval.
    let (code, _, err) = token_cmd(db, &intent, &["revoke", &id]);
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(Duration::from_millis(150));
    for s in [&a, &b] {
        let (code, body) = status(s.port, &secret);
        assert_eq!(code, 401, "{body}");
        assert!(body.contains("revoked"), "{body}");
    }
    let (code, out, _) = token_cmd(db, &intent, &["list", "--output", "json"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"revoked\""), "{out}");
    let (code, _, err) = token_cmd(db, &intent, &["revoke", "tok_nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no token `tok_nope`"), "{err}");

    // Expired: refused from its expiry on, cached or not.
    std::thread::sleep(
        Duration::from_secs(4).saturating_sub(created.elapsed()) + Duration::from_millis(200),
    );
    for s in [&a, &b] {
        let (code, body) = status(s.port, &short);
        assert_eq!(code, 401, "{body}");
        assert!(
            body.contains("expired") && body.contains(&short_id),
            "{body}"
        );
    }

    // The gate asking a server about a service the server does not know: a
    // usage error (exit 2) even when told to fail open, with the suggestion.
    let (_, gate) = create("1d");
    let out = bin()
        .args(["--intent", "no-such-intent.yaml", "check", "--server"])
        .arg(format!("http://127.0.0.1:{}", a.port))
        .args([
            "--token",
            &gate,
            "--service",
            "gat",
            "--on-server-error",
            "open",
            "--no-log",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown service `gat`; did you mean `gate`?"),
        "{err}"
    );
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn revoked_and_expired_tokens_fail_on_every_replica_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    token_lifecycle_on_two_replicas(&db, dir.path());
}

#[test]
fn revoked_and_expired_tokens_fail_on_every_replica_postgres() {
    let Ok(db) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL unset: skipping the Postgres token test");
        return;
    };
    let schema = PgSchema::new(&db, "tokens");
    let dir = tempfile::tempdir().unwrap();
    token_lifecycle_on_two_replicas(&schema.url, dir.path());
}
