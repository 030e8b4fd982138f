//! The JSON API: auth and scopes, ingest, webhooks, decisions, the OPA data
//! API, errors, limits, metrics and health.

use axum::http::StatusCode;
use bearing_events::{DeliveryPlan, Deployment, Event, Payload, Status};
use bearing_server::{AuthMode, Options, Scope};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::harness::*;

fn deployment(id: &str, service: &str, days_ago: i64) -> Event {
    let t = Utc::now() - Duration::days(days_ago);
    let mut e = Event::new(
        id,
        "test",
        t,
        Payload::Deployment(Deployment {
            deployment_id: id.to_string(),
            version: Some("1.0.0".into()),
            commit: None,
            commits: vec![],
            status: Status::Success,
            started_at: Some(t),
            finished_at: Some(t),
            strategy: None,
            labels: vec![],
        }),
    );
    e.service = Some(service.to_string());
    e.environment = Some("production".to_string());
    e
}

fn jsonl(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn tokens_and_scopes_are_enforced() {
    let s = server(AuthMode::Tokens).await;
    let read = token(&s.store, &[Scope::Read]).await;
    let admin = token(&s.store, &[Scope::Admin]).await;

    let r = send(&s.state, get("/v1/plans", None)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = send(&s.state, get("/v1/plans", Some("brg_wrong"))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    let r = send(&s.state, get("/v1/plans", Some(&read))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"plans": []}));

    // A read token cannot ingest or decide; admin can do everything.
    let body = json!({"service": "checkout", "environment": "production"}).to_string();
    let r = send(
        &s.state,
        post("/v1/decide", Some(&read), "application/json", body.clone()),
    )
    .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`decide`")
    );
    let r = send(
        &s.state,
        post("/v1/decide", Some(&admin), "application/json", body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The dashboard needs a token too in this mode; health does not.
    let r = send(&s.state, get("/", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&s.state, get("/healthz", None)).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn anonymous_read_opens_only_reads() {
    let s = server(AuthMode::AnonymousRead).await;
    let r = send(&s.state, get("/v1/scorecard", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(&s.state, get("/", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &s.state,
        post(
            "/v1/events",
            None,
            "application/x-ndjson",
            jsonl(&[deployment("d1", "checkout", 1)]),
        ),
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn ingest_is_idempotent_and_feeds_the_metrics() {
    let s = server(AuthMode::Tokens).await;
    let ingest = token(&s.store, &[Scope::Ingest, Scope::Read]).await;
    let events = vec![
        deployment("d1", "checkout", 1),
        deployment("d2", "checkout", 2),
        deployment("d3", "checkout", 3),
    ];
    let r = send(
        &s.state,
        post(
            "/v1/events",
            Some(&ingest),
            "application/x-ndjson",
            jsonl(&events),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["format"].as_str(),
            v["accepted"].as_u64(),
            v["duplicates"].as_u64()
        ),
        (Some("bearing"), Some(3), Some(0))
    );
    assert_eq!(s.store.count_events().await.unwrap(), 3);

    // Replayed: nothing new.
    let r = send(
        &s.state,
        post(
            "/v1/events",
            Some(&ingest),
            "application/json",
            jsonl(&events),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["duplicates"], 3);

    // After a refresh, the metric counts them.
    s.state.refresh().await.unwrap();
    let r = send(
        &s.state,
        get(
            "/v1/metrics/dora.deployment_frequency?service=checkout&window=7d",
            Some(&ingest),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["samples"], 3, "{v}");
    let r = send(
        &s.state,
        get(
            "/v1/explain/dora.deployment_frequency?service=checkout&window=7d",
            Some(&ingest),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<&str> = r.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["event_id"].as_str())
        .map(|_| "x")
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn bad_input_is_rejected_whole_with_a_clear_error() {
    let s = server(AuthMode::Off).await;
    let good = serde_json::to_string(&deployment("ok-1", "checkout", 1)).unwrap();
    let body = format!("{good}\n{{\"id\": \"broken\", \"kind\": \"deployment\"\n");
    let r = send(
        &s.state,
        post("/v1/events", None, "application/x-ndjson", body),
    )
    .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{}",
        r.text
    );
    assert_eq!(s.store.count_events().await.unwrap(), 0, "no partial write");

    let r = send(&s.state, post("/v1/events", None, "text/plain", "hello")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // A GitLab job hook whose queue time overflows the clock: an answer
    // naming the field, not a handler panic.
    let hook = r#"{"object_kind":"build","build_id":1,"build_name":"a","build_status":"success","build_started_at":"2023-01-10 13:50:05 UTC","build_queued_duration":1e13,"pipeline_id":2}"#;
    let r = send(&s.state, post("/v1/events", None, "application/json", hook)).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(r.text.contains("build_queued_duration"), "{}", r.text);
    let r = send(
        &s.state,
        post("/v1/events?format=nope", None, "application/json", "{}"),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // The formats it names are the ones this route takes (GitHub's
    // deliveries go to the webhook route).
    assert!(r.text.contains("gitlab"), "{}", r.text);
    assert!(!r.text.contains("github"), "{}", r.text);
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", "{not json"),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    // Broken JSON is a syntax error even after a field of the wrong type;
    // well-formed JSON of the wrong shape names the field.
    let r = send(
        &s.state,
        post(
            "/v1/decide",
            None,
            "application/json",
            r#"{"change_size": "x","#,
        ),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", r#"{"labels": 3}"#),
    )
    .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(r.text.contains("labels"), "{}", r.text);
    let r = send(&s.state, get("/v1/metrics/dora.nope", None)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = send(
        &s.state,
        get("/v1/metrics/dora.lead_time?window=soon", None),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = send(&s.state, get("/v1/scorecard?service=nope", None)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = send(&s.state, get("/v1/decisions/nope", None)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let s = server_with(
        AuthMode::Off,
        INTENT,
        Options {
            body_limit: 1024,
            ..Options::default()
        },
    )
    .await;
    let big = "x".repeat(4096);
    let r = send(
        &s.state,
        post("/v1/events", None, "application/x-ndjson", big),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
}

#[tokio::test]
async fn github_webhooks_need_a_valid_signature() {
    let secret = "s3cret";
    let s = server_with(
        AuthMode::Tokens,
        INTENT,
        Options {
            github_secret: Some(secret.to_string()),
            ..Options::default()
        },
    )
    .await;
    let body = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let req = |sig: &str, event: &str| {
        axum::http::Request::post("/v1/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header("x-hub-signature-256", sig)
            .body(axum::body::Body::from(body.clone()))
            .unwrap()
    };
    let good = bearing_events::github::sign(secret.as_bytes(), body.as_bytes());
    let r = send(&s.state, req(&good, "ping")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["delivery"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    let bad = bearing_events::github::sign(b"other", body.as_bytes());
    let r = send(&s.state, req(&bad, "ping")).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    // A real delivery from the fixtures, when present.
    let Ok(dir) = std::env::var("BEARING_FIXTURES") else {
        eprintln!("BEARING_FIXTURES unset: skipping the real webhook delivery");
        return;
    };
    let path = std::path::Path::new(&dir).join("github-webhooks/deployment_status/payload.json");
    let payload = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sig = bearing_events::github::sign(secret.as_bytes(), &payload);
    let req = axum::http::Request::post("/v1/webhooks/github")
        .header("x-github-event", "deployment_status")
        .header("x-hub-signature-256", sig)
        .body(axum::body::Body::from(payload.clone()))
        .unwrap();
    let r = send(&s.state, req).await;
    assert!(r.status.is_success(), "{}", r.text);
    assert!(s.store.count_events().await.unwrap() >= 1);
}

/// GitHub's default content type: `payload=<url-encoded JSON>`, signed as
/// sent (the form, not the JSON inside it).
#[tokio::test]
async fn github_webhooks_are_read_form_encoded() {
    let secret = "s3cret";
    let s = server_with(
        AuthMode::Tokens,
        INTENT,
        Options {
            github_secret: Some(secret.to_string()),
            ..Options::default()
        },
    )
    .await;
    let payload = json!({
        "ref": "refs/heads/main",
        "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "repository": {"id": 1, "name": "checkout", "full_name": "acme/checkout", "default_branch": "main"},
        "head_commit": {"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "timestamp": "2026-11-30T10:00:00Z",
                        "message": "Fix & retry: 100% = done", "author": {"name": "A", "email": "a@example.com"}},
        "commits": [{"id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "timestamp": "2026-11-30T10:00:00Z",
                     "message": "Fix & retry: 100% = done", "author": {"name": "A", "email": "a@example.com"}}]
    })
    .to_string();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    assert!(form.contains("%26"), "the form escapes `&`: {form}");
    let req = |body: String, sig: String| {
        axum::http::Request::post("/v1/webhooks/github")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-github-event", "push")
            .header("x-github-delivery", "d6a1f0e0-0000-4000-8000-000000000001")
            .header("x-hub-signature-256", sig)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    // Signed over the JSON rather than the form as sent: refused.
    let wrong = bearing_events::github::sign(secret.as_bytes(), payload.as_bytes());
    let r = send(&s.state, req(form.clone(), wrong)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(s.store.count_events().await.unwrap(), 0);

    let sig = bearing_events::github::sign(secret.as_bytes(), form.as_bytes());
    let r = send(&s.state, req(form.clone(), sig)).await;
    assert!(r.status.is_success(), "{}", r.text);
    let stored = s.store.count_events().await.unwrap();
    assert!(stored >= 1, "the push is stored");
    // The same delivery as JSON is the same event: nothing new.
    let sig = bearing_events::github::sign(secret.as_bytes(), payload.as_bytes());
    let r = send(
        &s.state,
        axum::http::Request::post("/v1/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", "d6a1f0e0-0000-4000-8000-000000000001")
            .header("x-hub-signature-256", sig)
            .body(axum::body::Body::from(payload.clone()))
            .unwrap(),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(s.store.count_events().await.unwrap(), stored);

    // A form without `payload` says what is missing.
    let body = "zen=hello".to_string();
    let sig = bearing_events::github::sign(secret.as_bytes(), body.as_bytes());
    let r = send(&s.state, req(body, sig)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(r.text.contains("payload"), "{}", r.text);
}

#[tokio::test]
async fn webhooks_are_off_without_a_secret() {
    let s = server(AuthMode::Tokens).await;
    let req = axum::http::Request::post("/v1/webhooks/github")
        .header("x-github-event", "ping")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let r = send(&s.state, req).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn decisions_follow_the_plan_and_are_logged() {
    let s = server(AuthMode::Off).await;
    let envelope = |labels: Value| {
        json!({"service": "checkout", "environment": "production", "strategy": "direct", "labels": labels}).to_string()
    };
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", envelope(json!([]))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "allow", "{}", r.text);

    // Reconcile's plan (written by any replica) reaches decisions at the next refresh.
    s.store
        .put_plan(&DeliveryPlan {
            service: "checkout".into(),
            strategy: "canary".into(),
            freeze: true,
            extra_gates: vec![],
            reasons: vec!["test".into()],
            updated_at: Utc::now(),
        })
        .await
        .unwrap();
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", envelope(json!([]))),
    )
    .await;
    assert_eq!(
        r.json()["result"],
        "allow",
        "served from the snapshot until it refreshes"
    );
    s.state.refresh().await.unwrap();
    let r = send(
        &s.state,
        post("/v1/decide", None, "application/json", envelope(json!([]))),
    )
    .await;
    let d = r.json();
    assert_eq!(d["result"], "deny", "{d}");
    let guardrails: Vec<&str> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["guardrail"].as_str())
        .collect();
    assert!(
        guardrails.contains(&"strategy") && guardrails.contains(&"freeze"),
        "{guardrails:?}"
    );
    let id = d["id"].as_str().unwrap().to_string();

    s.state.flush_decisions().await;
    let r = send(&s.state, get("/v1/decisions?service=checkout", None)).await;
    let list = r.json();
    assert_eq!(list["decisions"].as_array().unwrap().len(), 3, "{list}");
    let r = send(&s.state, get(&format!("/v1/decisions/{id}"), None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "deny");
    let r = send(&s.state, get(&format!("/decisions/{id}"), None)).await;
    assert!(
        r.text.contains("the delivery plan of checkout"),
        "{}",
        r.text
    );

    let r = send(&s.state, get("/metrics", None)).await;
    assert!(
        r.text
            .contains("bearing_decisions_total{result=\"deny\"} 1"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("bearing_decisions_total{result=\"allow\"} 2")
    );
    assert!(r.text.contains("route=\"/v1/decide\",status=\"2xx\"} 3"));
    assert!(r.text.contains("bearing_decision_log_written_total 3"));
}

#[tokio::test]
async fn opa_data_api_answers_like_opa() {
    let s = server(AuthMode::Off).await;
    let r = send(
        &s.state,
        post(
            "/v1/data/no/such/doc",
            None,
            "application/json",
            json!({"input": {}}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({}),
        "undefined documents answer an empty object"
    );
    let r = send(
        &s.state,
        post(
            "/v1/data/bad-path!",
            None,
            "application/json",
            json!({"input": {}}).to_string(),
        ),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = send(
        &s.state,
        post(
            "/v1/data",
            None,
            "application/json",
            json!({"input": {}}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json().get("result").is_some(), "{}", r.text);
}

#[tokio::test]
async fn health_readiness_openapi_and_metrics() {
    let s = server(AuthMode::Off).await;
    let r = send(&s.state, get("/readyz", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["policies_loaded"], true);
    let r = send(&s.state, get("/openapi.json", None)).await;
    assert_eq!(r.json()["openapi"], "3.0.3");
    let r = send(&s.state, get("/metrics", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for needle in [
        "# TYPE bearing_http_request_duration_seconds histogram",
        "route=\"/readyz\"",
        "# TYPE bearing_key_result_value gauge",
        "bearing_ingested_events_total{outcome=\"accepted\"} 0",
    ] {
        assert!(r.text.contains(needle), "{needle} missing:\n{}", r.text);
    }
}

/// A direct production deployment of checkout.
fn checkout_change() -> bearing_guard::Envelope {
    bearing_guard::Envelope {
        service: "checkout".into(),
        environment: "production".into(),
        strategy: Some("direct".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn decisions_are_logged_in_batches_and_flushed_whole() {
    let s = server(AuthMode::Off).await;
    // More decisions than one batch holds; the flush waits for all of them.
    let n = 6_000;
    for _ in 0..n {
        s.state.decide(checkout_change()).await.unwrap();
    }
    s.state.flush_decisions().await;
    let logged = s
        .store
        .decisions(&bearing_store::DecisionQuery::default())
        .await
        .unwrap();
    assert_eq!(logged.len(), n);
    // The log keeps the shared context once; each record reads back whole.
    assert!(
        logged
            .iter()
            .all(|d| d.decision["context"].get("plans").is_some())
    );
    let r = send(&s.state, get("/metrics", None)).await;
    assert!(
        r.text
            .contains(&format!("bearing_decision_log_written_total {n}")),
        "{}",
        r.text
    );
    assert!(r.text.contains("bearing_decision_log_dropped_total 0"));
}

#[tokio::test]
async fn the_log_rate_limit_answers_but_does_not_log() {
    let s = server_with(
        AuthMode::Off,
        INTENT,
        Options {
            log_max_rate: Some(0),
            ..Options::default()
        },
    )
    .await;
    let body = r#"{"service": "checkout", "environment": "production", "strategy": "direct"}"#;
    for _ in 0..5 {
        let r = send(&s.state, post("/v1/decide", None, "application/json", body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    s.state.flush_decisions().await;
    let logged = s
        .store
        .decisions(&bearing_store::DecisionQuery::default())
        .await
        .unwrap();
    assert!(logged.is_empty());
    let r = send(&s.state, get("/metrics", None)).await;
    assert!(r.text.contains("bearing_decision_log_rate_limited_total 5"));
    assert!(r.text.contains("bearing_decision_log_dropped_total 0"));
}

/// `security.compliance_rate`'s sample count for checkout today, as served.
async fn compliance_samples(state: &bearing_server::AppState) -> u64 {
    let r = send(
        state,
        get(
            "/v1/metrics/security.compliance_rate?service=checkout&window=1d",
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["samples"].as_u64().unwrap()
}

#[tokio::test]
async fn decisions_stored_late_are_counted_within_a_minute() {
    let s = server(AuthMode::Off).await;
    let body = r#"{"service": "checkout", "environment": "production", "strategy": "direct"}"#;
    let r = send(&s.state, post("/v1/decide", None, "application/json", body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    s.state.flush_decisions().await;
    s.state.refresh().await.unwrap();
    assert_eq!(compliance_samples(&s.state).await, 1);
    // Another replica's decisions, stored after this server counted their
    // second: 30 s late is counted at the next refresh; 5 minutes late is
    // not, until a restart (snapshot::LATE).
    let late = |id: &str, ago: Duration| bearing_events::DecisionRecord {
        id: id.into(),
        time: Utc::now() - ago,
        service: Some("checkout".into()),
        environment: Some("production".into()),
        result: "allow".into(),
        input_digest: "sha256:aa".into(),
        policy_revision: "r".into(),
        input: serde_json::json!({"service": "checkout"}),
        decision: serde_json::json!({"violations": []}),
    };
    s.store
        .put_decision(&late("dec_late", Duration::seconds(30)))
        .await
        .unwrap();
    s.store
        .put_decision(&late("dec_too_late", Duration::minutes(5)))
        .await
        .unwrap();
    s.state.refresh().await.unwrap();
    assert_eq!(compliance_samples(&s.state).await, 2);
    let loaded = bearing_intent::load_str(std::path::Path::new("bearing.yaml"), INTENT).unwrap();
    let restarted = bearing_server::AppState::new(
        s.store.clone(),
        loaded,
        Options {
            auth: AuthMode::Off,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(compliance_samples(&restarted).await, 3);
}

/// Decides on a checkout change in a task of its own.
fn spawn_decide(state: &bearing_server::AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        state.decide(checkout_change()).await.unwrap();
    })
}

#[tokio::test]
async fn a_full_log_queue_makes_the_answer_wait_for_room_then_drop() {
    use sqlx::Connection;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;
    for (wait, kept) in [
        (Duration::from_secs(60), true),
        (Duration::from_millis(50), false),
    ] {
        let s = server_with(
            AuthMode::Off,
            INTENT,
            Options {
                auth: AuthMode::Off,
                log_queue: 1,
                log_wait: wait,
                ..Options::default()
            },
        )
        .await;
        let t = s.state.telemetry();
        // Another connection holds SQLite's write lock, as a long
        // checkpoint or another process would: the log writer gets stuck,
        // and the queue (one place) fills.
        let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", s.db.display()))
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .unwrap();
        let mut n = 0;
        if kept {
            // Decide until an answer stays waiting for room; it goes out
            // once the store moves again, and nothing is lost.
            let mut waiting = loop {
                n += 1;
                assert!(n < 100_000, "no answer waited");
                let mut answer = spawn_decide(&s.state);
                if tokio::time::timeout(Duration::from_millis(300), &mut answer)
                    .await
                    .is_err()
                {
                    break answer;
                }
            };
            assert!(t.decision_log_waited.load(Relaxed) >= 1);
            sqlx::query("COMMIT").execute(&mut other).await.unwrap();
            (&mut waiting).await.unwrap();
            s.state.flush_decisions().await;
            assert_eq!(t.decision_log_dropped.load(Relaxed), 0);
            assert_eq!(t.decision_log_written.load(Relaxed), n);
        } else {
            // Decide until a decision is dropped after its wait: it was
            // answered all the same.
            while t.decision_log_dropped.load(Relaxed) == 0 {
                n += 1;
                assert!(n < 100_000, "nothing was dropped");
                spawn_decide(&s.state).await.unwrap();
            }
            assert!(t.decision_log_waited.load(Relaxed) >= 1);
            sqlx::query("COMMIT").execute(&mut other).await.unwrap();
            s.state.flush_decisions().await;
            let dropped = t.decision_log_dropped.load(Relaxed);
            assert_eq!(t.decision_log_written.load(Relaxed) + dropped, n);
        }
        let logged = s
            .store
            .decisions(&bearing_store::DecisionQuery::default())
            .await
            .unwrap();
        assert_eq!(logged.len() as u64, t.decision_log_written.load(Relaxed));
    }
}
