//! The server under hostile and careless input: the token checked before the
//! body, every error in the documented JSON shape and short, unknown services
//! and environments refused, one answer from `/v1/decide` and the OPA data
//! API, and slow evaluations kept off the async workers.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use bearing_events::DeliveryPlan;
use bearing_server::{AuthMode, Options, Scope};
use chrono::Utc;
use serde_json::{Value, json};

use crate::harness::*;

/// A body that never arrives: a handler that reads it hangs.
fn endless_body() -> Body {
    Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>())
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let s = server(AuthMode::Tokens).await;
    let read = token(&s.store, &[Scope::Read]).await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(read.as_str()), StatusCode::FORBIDDEN),
    ] {
        // Malformed, of the wrong type, or never ending: the answer is about
        // the token only, and comes without reading the body.
        for (content_type, body) in [
            ("application/json", Body::from("{\"service\": ")),
            ("text/plain", Body::from("not json")),
            ("application/json", endless_body()),
        ] {
            let req = post("/v1/decide", token, content_type, body);
            let r = tokio::time::timeout(Duration::from_secs(5), send(&s.state, req))
                .await
                .expect("the body was read before the token was checked");
            let code = if token.is_some() {
                "forbidden"
            } else {
                "unauthorized"
            };
            assert_error(&r, status, code);
            assert!(
                !r.text.contains("EOF") && !r.text.contains("line 1"),
                "{}",
                r.text
            );
        }
    }
    // A 12 MB envelope is refused as fast as a small one, with the same words.
    let big = json!({"service": "checkout", "environment": "production", "labels": vec!["x".repeat(1000); 12_000]}).to_string();
    assert!(big.len() > 12_000_000);
    let r = send(&s.state, post("/v1/decide", None, "application/json", big)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    // Ingest and the data API too.
    for path in ["/v1/events", "/v1/data/bearing/decision"] {
        let r = send(
            &s.state,
            post(path, None, "application/json", endless_body()),
        )
        .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn every_error_has_the_json_body_and_echoes_little() {
    let s = server_with(
        AuthMode::Tokens,
        INTENT,
        Options {
            body_limit: 1024,
            ..Options::default()
        },
    )
    .await;
    let admin = token(&s.store, &[Scope::Admin]).await;
    let r = send(&s.state, get("/no/such/page", Some(&admin))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = send(&s.state, get("/v1/nope", None)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let req = Request::delete("/v1/decide")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let r = send(&s.state, req).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(r.headers["allow"], "POST");
    let r = send(
        &s.state,
        post(
            "/v1/events",
            Some(&admin),
            "application/x-ndjson",
            "x".repeat(4096),
        ),
    )
    .await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // A long id (as long as a URI may be) is quoted, not echoed whole.
    let id = "d".repeat(60_000);
    let r = send(&s.state, get(&format!("/v1/decisions/{id}"), Some(&admin))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(r.text.len() < 1024, "{} bytes", r.text.len());
    let r = send(&s.state, get(&format!("/v1/{id}"), Some(&admin))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(r.text.len() < 1024, "{} bytes", r.text.len());
    let r = send(&s.state, get(&format!("/v1/metrics/{id}"), Some(&admin))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(r.text.len() < 1024, "{} bytes", r.text.len());
}

#[tokio::test]
async fn long_values_in_an_invalid_event_are_not_echoed_whole() {
    let s = server(AuthMode::Off).await;
    let id = "e".repeat(5 << 20);
    let event = json!({"id": id, "source": "t", "time": "2026-01-01T00:00:00Z", "type": "deployment", "data": {"deployment_id": 1}});
    let r = send(
        &s.state,
        post(
            "/v1/events",
            None,
            "application/x-ndjson",
            event.to_string(),
        ),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(r.json()["error"]["code"].is_string());
    assert!(r.text.len() < 8192, "{} bytes", r.text.len());
}

/// Issue 15 item 14: a bad record in a body is named the way `bearing ingest`
/// names it, counted from 1 (`line 2`, `record 2`, `row 3`), whether the
/// parser or the store's checks refuse it; nothing of the body is stored.
#[tokio::test]
async fn a_bad_record_is_named_like_the_cli_names_it_and_nothing_is_stored() {
    let s = server(AuthMode::Off).await;
    let event = |i: u32, id: &str, time: &str| {
        json!({"id": id, "source": "t", "time": time, "kind": "metric_point", "service": "checkout",
               "data": {"name": "business.orders", "value": i}})
        .to_string()
    };
    let ok = |i: u32| event(i, &format!("ok-{i}"), "2026-01-01T00:00:00Z");
    let long_id = event(2, &"k".repeat(2000), "2026-01-01T00:00:00Z");
    let bad_time = event(2, "bad-time", "yesterday");
    let csv_long_id = format!(
        "id,time,kind,service,data.name,data.value\nok-1,2026-01-01T00:00:00Z,metric_point,checkout,m,1\n{},2026-01-01T00:00:00Z,metric_point,checkout,m,2\n",
        "k".repeat(2000)
    );
    for (what, content_type, body, record, field) in [
        (
            "array, store refusal",
            "application/json",
            format!("[{},{long_id},{}]", ok(1), ok(3)),
            "record 2",
            "id",
        ),
        (
            "array, parse error",
            "application/json",
            format!("[{},{bad_time},{}]", ok(1), ok(3)),
            "record 2",
            "time",
        ),
        (
            "JSONL, store refusal",
            "application/x-ndjson",
            format!("{}\n{long_id}\n{}\n", ok(1), ok(3)),
            "line 2",
            "id",
        ),
        (
            "JSONL, parse error",
            "application/x-ndjson",
            format!("{}\n{bad_time}\n{}\n", ok(1), ok(3)),
            "line 2",
            "time",
        ),
        ("CSV, store refusal", "text/csv", csv_long_id, "row 3", "id"),
    ] {
        let r = send(&s.state, post("/v1/events", None, content_type, body)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        let v = r.json();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{record}, field `{field}`")),
            "{what}: {message}"
        );
        assert_eq!(v["error"]["details"]["record"], record, "{what}: {v}");
        assert_eq!(v["error"]["details"]["field"], field, "{what}: {v}");
        assert!(!message.contains("#"), "{what}: {message}");
        assert!(r.text.len() < 4096, "{what}: {} bytes", r.text.len());
        assert_eq!(
            s.store.count_events().await.unwrap(),
            0,
            "{what}: nothing stored"
        );
    }
}

#[tokio::test]
async fn unknown_services_and_environments_are_refused_with_a_suggestion() {
    let s = server(AuthMode::Off).await;
    let decide = |service: &str, env: &str| {
        post(
            "/v1/decide",
            None,
            "application/json",
            json!({"service": service, "environment": env}).to_string(),
        )
    };
    let r = send(&s.state, decide("chekout", "production")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let e = r.json();
    assert_eq!(e["error"]["details"]["field"], "service");
    assert_eq!(e["error"]["details"]["suggestion"], "checkout");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `checkout`")
    );
    let r = send(&s.state, decide("nope", "production")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = send(&s.state, decide("checkout", "prod")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(r.json()["error"]["details"]["field"], "environment");
    assert_eq!(r.json()["error"]["details"]["suggestion"], "production");
    // Through the data API as well; nothing was decided or logged.
    let r = send(
        &s.state,
        post(
            "/v1/data/bearing/decision",
            None,
            "application/json",
            json!({"input": {"service": "nope", "environment": "production"}}).to_string(),
        ),
    )
    .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let r = send(&s.state, decide("checkout", "staging")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(&s.state, get("/metrics", None)).await;
    assert!(
        r.text
            .contains("bearing_decisions_total{result=\"allow\"} 1"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn the_data_api_and_decide_agree_on_a_frozen_service() {
    let s = server(AuthMode::Off).await;
    s.store
        .put_plan(&DeliveryPlan {
            service: "checkout".into(),
            strategy: "direct".into(),
            freeze: true,
            extra_gates: vec![],
            reasons: vec!["error budget spent".into()],
            updated_at: Utc::now(),
        })
        .await
        .unwrap();
    s.state.refresh().await.unwrap();
    let change = json!({"service": "checkout", "environment": "production", "strategy": "direct"});
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", change.to_string()),
    )
    .await;
    let decided = r.json();
    assert_eq!(decided["result"], "deny", "{decided}");
    let data = |path: &str, input: &Value| {
        post(
            path,
            None,
            "application/json",
            json!({"input": input}).to_string(),
        )
    };
    let r = send(&s.state, data("/v1/data/bearing/decision", &change)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let via_data = r.json();
    assert_eq!(via_data["result"]["result"], "deny", "{via_data}");
    let reasons = |d: &Value| -> Vec<String> {
        d["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{}: {}", v["guardrail"], v["message"]))
            .collect()
    };
    assert_eq!(reasons(&via_data["result"]), reasons(&decided));
    let r = send(&s.state, data("/v1/data/bearing/decision/result", &change)).await;
    assert_eq!(r.json(), json!({"result": "deny"}));
    let r = send(
        &s.state,
        data("/v1/data/bearing/plans/checkout/freeze", &json!({})),
    )
    .await;
    assert_eq!(r.json(), json!({"result": true}));
    let r = send(
        &s.state,
        data("/v1/data/bearing/plans/search/strategy", &json!({})),
    )
    .await;
    assert_eq!(
        r.json(),
        json!({"result": "direct"}),
        "the intent's default plan"
    );
    let r = send(&s.state, data("/v1/data/bearing/outcomes", &json!({}))).await;
    assert!(r.json()["result"]["services"].is_object(), "{}", r.text);
    let r = send(&s.state, data("/v1/data/bearing", &change)).await;
    let whole = r.json();
    assert_eq!(whole["result"]["decision"]["result"], "deny", "{whole}");
    assert_eq!(whole["result"]["plans"]["checkout"]["freeze"], true);
    let r = send(
        &s.state,
        data("/v1/data/bearing/decision", &json!({"service": 1})),
    )
    .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Both decisions are in the log.
    s.state.flush_decisions().await;
    let r = send(&s.state, get("/v1/decisions?service=checkout", None)).await;
    assert_eq!(
        r.json()["decisions"].as_array().unwrap().len(),
        4,
        "{}",
        r.text
    );
}

/// An intent whose `checkout` has a custom policy that runs until the
/// evaluation time limit (500 ms) stops it.
const SLOW_INTENT: &str = r#"
version: 1
teams: [{ id: payments }]
services:
  - { id: checkout, team: payments, environments: [production] }
  - { id: search, team: payments, environments: [production] }
guardrails:
  - { id: slow, kind: rego, path: policies, scope: { service: checkout } }
  - { id: strategy, kind: deploy_strategy }
"#;

const SLOW_POLICY: &str = r#"package main

import rego.v1

deny contains "never" if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
}
"#;

async fn slow_server(options: Options) -> (bearing_server::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/slow.rego"), SLOW_POLICY).unwrap();
    std::fs::write(dir.path().join("bearing.yaml"), SLOW_INTENT).unwrap();
    let store = bearing_store::open(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .unwrap();
    let loaded = bearing_intent::load(&dir.path().join("bearing.yaml")).unwrap();
    let options = Options {
        auth: AuthMode::Off,
        ..options
    };
    let state = bearing_server::AppState::new(store, loaded, options)
        .await
        .unwrap();
    (state, dir)
}

const SLOW_CHANGE: &str =
    r#"{"service":"checkout","environment":"production","strategy":"direct"}"#;

/// One HTTP/1.1 request on a new connection; the status and the time taken.
async fn http(addr: std::net::SocketAddr, request: &str) -> (u16, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_stays_fast_while_slow_decisions_run() {
    let (state, _dir) = slow_server(Options::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bearing_server::run(state, listener, None, async {
        let _ = stop_rx.await;
    }));
    let decide = format!(
        "POST /v1/decide HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{SLOW_CHANGE}",
        SLOW_CHANGE.len()
    );
    // The policy is as slow as the limit lets it be.
    let (status, took) = http(addr, &decide).await;
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_millis(300),
        "the policy is not slow: {took:?}"
    );

    let until = Instant::now() + Duration::from_secs(4);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let decide = decide.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < until {
                    let (status, _) = http(addr, &decide).await;
                    assert!(status == 200 || status == 503, "{status}");
                    n += 1;
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut times = Vec::new();
    while Instant::now() + Duration::from_millis(300) < until {
        let (status, took) = http(
            addr,
            "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status, 200);
        times.push(took);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut decided = 0;
    for c in clients {
        decided += c.await.unwrap();
    }
    times.sort();
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let p50 = times[times.len() / 2];
    assert!(decided >= 4, "slow decisions ran: {decided}");
    assert!(times.len() >= 50, "{} health checks", times.len());
    assert!(
        p99 < Duration::from_millis(50),
        "/healthz p50 {p50:?}, p99 {p99:?}"
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn heavy_evaluations_beyond_the_queue_are_refused_with_503() {
    let (state, _dir) = slow_server(Options {
        eval_workers: 1,
        eval_queue: 1,
        ..Options::default()
    })
    .await;
    let reqs: Vec<_> = (0..4)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                send(
                    &state,
                    post("/v1/decide", None, "application/json", SLOW_CHANGE),
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in reqs {
        let r = r.await.unwrap();
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "busy");
            assert_eq!(r.headers["retry-after"], "1");
        }
        statuses.push(r.status.as_u16());
    }
    statuses.sort();
    // One runs, one waits, the others are refused.
    assert_eq!(statuses, [200, 200, 503, 503], "{statuses:?}");
    // A cheap decision (another service, built-ins only) does not queue.
    let start = Instant::now();
    let r = send(
        &state,
        post(
            "/v1/decide",
            None,
            "application/json",
            r#"{"service":"search","environment":"production"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(start.elapsed() < Duration::from_millis(200));
    let r = send(&state, get("/metrics", None)).await;
    assert!(
        r.text.contains("bearing_evaluations_rejected_total 2"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_deleted_token_fails_on_every_replica_at_the_next_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    let replica = |recheck: Duration| {
        let url = url.clone();
        async move {
            let store = bearing_store::open(&url).await.unwrap();
            let loaded =
                bearing_intent::load_str(std::path::Path::new("bearing.yaml"), INTENT).unwrap();
            let options = Options {
                auth: AuthMode::Tokens,
                token_recheck: recheck,
                ..Options::default()
            };
            bearing_server::AppState::new(store, loaded, options)
                .await
                .unwrap()
        }
    };
    // One replica asks the store at every request, one at the default interval.
    let a = replica(Duration::ZERO).await;
    let b = replica(bearing_server::auth::TOKEN_RECHECK).await;
    let secret = token(a.store(), &[Scope::Read]).await;
    for s in [&a, &b] {
        assert_eq!(
            send(s, get("/v1/plans", Some(&secret))).await.status,
            StatusCode::OK
        );
    }
    // Deleted behind the servers' backs, as an operator would with SQL.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM tokens")
        .execute(&pool)
        .await
        .unwrap();
    let r = send(&a, get("/v1/plans", Some(&secret))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    tokio::time::sleep(bearing_server::auth::TOKEN_RECHECK + Duration::from_millis(20)).await;
    let r = send(&b, get("/v1/plans", Some(&secret))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}
