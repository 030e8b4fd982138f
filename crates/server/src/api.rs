//! The JSON API under `/v1`, plus `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json`. `openapi.rs` documents exactly these routes.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bearing_events::{Format, ParseContext};
use bearing_store::DecisionQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiQuery, JsonBytes, echo, parse_json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(ingest))
        .route("/v1/webhooks/github", post(github_webhook))
        .route("/v1/decide", post(decide))
        .route("/v1/data", post(data_root))
        .route("/v1/data/{*path}", post(data))
        .route("/v1/scorecard", get(scorecard))
        .route("/v1/metrics/{name}", get(metric))
        .route("/v1/explain/{metric}", get(explain))
        .route("/v1/pipelines", get(pipelines))
        .route("/v1/decisions", get(decisions))
        .route("/v1/decisions/{id}", get(decision))
        .route("/v1/plans", get(plans))
        .route("/v1/outcomes", get(outcomes))
        .route("/v1/actions", get(actions))
        .route("/v1/security/priorities", get(security_priorities))
        .route("/v1/notifications", get(notifications))
        .route("/v1/reconcile", post(reconcile))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(prometheus))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestQuery {
    /// `--format` name; detected from the body when absent.
    format: Option<String>,
    service: Option<String>,
    env: Option<String>,
}

/// `POST /v1/events`: Bearing JSON/JSONL, CDEvents, and the other formats
/// `bearing ingest` reads. Answers after the store committed the batch.
async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<IngestQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the body is empty: send events (Bearing JSON/JSONL, CDEvents, …)",
        ));
    }
    let format = match q.format.as_deref() {
        Some(name) => Format::from_name(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown format `{}`: expected one of {}",
                echo(name),
                Format::ALL
                    .iter()
                    .filter(|f| **f != Format::GithubWebhook)
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => {
            let hint = match headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
            {
                Some(ct) if ct.contains("csv") => Some("body.csv"),
                Some(ct) if ct.contains("ndjson") || ct.contains("jsonl") => Some("body.jsonl"),
                _ => None,
            };
            bearing_events::detect(hint, &body).ok_or_else(|| {
                ApiError::invalid(
                    "cannot tell the format of the body: send Bearing JSON/JSONL or CDEvents, or name it with `?format=`",
                )
            })?
        }
    };
    if format == Format::GithubWebhook {
        return Err(ApiError::bad_request(
            "GitHub webhook deliveries go to `/v1/webhooks/github` (they need their signature checked)",
        ));
    }
    let mut ctx = ParseContext::new(chrono::Utc::now());
    ctx.service = q.service;
    ctx.environment = q.env;
    ingest_bytes(&state, format, &body, &ctx, None).await
}

async fn ingest_bytes(
    state: &AppState,
    format: Format,
    body: &[u8],
    ctx: &ParseContext,
    delivery: Option<String>,
) -> Result<Response, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    let t = state.telemetry();
    let parsed = match bearing_events::parse_report(format, body, ctx) {
        Ok(p) => p,
        Err(e) => {
            t.ingest_rejected.fetch_add(1, Relaxed);
            return Err(
                ApiError::invalid(format!("rejected {format} input: {e}")).with_details(json!({
                    "format": format.name(),
                    "record": e.record.map(|r| r.to_string()),
                    "field": e.field,
                    "delivery": delivery,
                })),
            );
        }
    };
    let stored = match state.bus() {
        None => state.store().ingest(&parsed.events).await,
        // Checked whole as the store would, then durable in the stream
        // before the answer; the replicas' consumers store it.
        Some(bus) => match check_events(&parsed.events) {
            Err(e) => Err(e),
            Ok(()) => match bus.publish_events(&parsed.events).await {
                Ok(p) => Ok(bearing_store::IngestOutcome {
                    accepted: p.new,
                    duplicates: p.duplicates,
                }),
                Err(e) => {
                    t.ingest_bus_refused.fetch_add(1, Relaxed);
                    return Err(ApiError::busy(format!(
                        "{e}; send the same events again: what the bus already took is dropped as a duplicate"
                    )));
                }
            },
        },
    };
    let outcome = match stored {
        Ok(o) => o,
        Err(bearing_store::StoreError::InvalidEvent {
            index,
            id,
            field,
            expected,
        }) => {
            t.ingest_rejected
                .fetch_add(parsed.events.len() as u64, Relaxed);
            // Named the way parse errors name records (`line 2`, `record 2`,
            // `row 3`, else `event 2`), as `bearing ingest` does.
            let record = parsed.record_name(index);
            return Err(ApiError::invalid(format!(
                "rejected {format} input: {record}, field `{field}`: expected {expected} (event `{}`); nothing was stored",
                echo(&id)
            ))
            .with_details(json!({
                "format": format.name(),
                "record": record,
                "field": field,
                "id": echo(&id),
                "delivery": delivery,
            })));
        }
        Err(e) => return Err(e.into()),
    };
    t.ingest_accepted.fetch_add(outcome.accepted, Relaxed);
    t.ingest_duplicates.fetch_add(outcome.duplicates, Relaxed);
    let skipped: Vec<String> = parsed.skipped.iter().map(ToString::to_string).collect();
    let mut body = json!({
        "format": format.name(),
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "skipped": skipped,
        "delivery": delivery,
    });
    if state.bus().is_some() {
        // Accepted into the stream: stored by a replica's consumer shortly.
        body["via"] = json!("bus");
    }
    let status = if outcome.accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

/// The store's checks of every event (what `Store::ingest` refuses).
fn check_events(events: &[bearing_events::Event]) -> Result<(), bearing_store::StoreError> {
    events
        .iter()
        .enumerate()
        .try_for_each(|(i, e)| bearing_store::check_event(i, e))
}

/// `POST /v1/webhooks/github`: checks `X-Hub-Signature-256` with the
/// configured secret, then ingests the delivery.
async fn github_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match &state.inner.github_secret {
        Some(secret) => {
            bearing_events::github::verify_signature(
                secret,
                &body,
                header("x-hub-signature-256").as_deref(),
            )
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
        }
        None if state.inner.auth.mode() == crate::AuthMode::Off => {}
        None => {
            return Err(ApiError::unavailable(
                "GitHub webhooks are disabled: start the server with `BEARING_GITHUB_SECRET` set to the webhook's secret",
            ));
        }
    }
    let event = header("x-github-event").ok_or_else(|| {
        ApiError::bad_request("missing `X-GitHub-Event` header: is this a GitHub webhook delivery?")
    })?;
    let delivery = header("x-github-delivery");
    if event == "ping" {
        return Ok(Json(json!({"pong": true, "delivery": delivery})).into_response());
    }
    // GitHub's default content type is a form with the JSON in `payload`;
    // the signature above covers the body as sent, form or not.
    let body = if is_form(&headers) {
        form_payload(&body)?
    } else {
        body
    };
    let mut ctx = ParseContext::new(chrono::Utc::now());
    ctx.github_event = Some(event);
    ingest_bytes(&state, Format::GithubWebhook, &body, &ctx, delivery).await
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The `payload` field of a form-encoded webhook delivery (GitHub's
/// `application/x-www-form-urlencoded` content type).
fn form_payload(body: &[u8]) -> Result<Bytes, ApiError> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| Bytes::from(value.into_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "form-encoded delivery without a `payload` field: GitHub sends the JSON in `payload=`",
            )
        })
}

/// `POST /v1/decide`: a change envelope in, a decision out; logged asynchronously.
async fn decide(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let json = state.decide_bytes(body).await?.json;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// `{"input": …}`; anything but a JSON object is refused.
fn data_input(body: Value) -> Result<Value, ApiError> {
    match body {
        Value::Object(mut m) => Ok(m.remove("input").unwrap_or(Value::Null)),
        _ => Err(ApiError::invalid(
            "expected a JSON object like `{\"input\": …}`",
        )),
    }
}

/// `POST /v1/data/{path}`: OPA's data API, `{"input": …}` → `{"result": …}`
/// (see [`crate::data`]). A large body is parsed on the evaluation pool.
async fn data(
    State(state): State<AppState>,
    Path(path): Path<String>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let body: Value = if body.len() <= crate::INLINE_BODY {
        parse_json(&body)?
    } else {
        state.evaluate(move || parse_json(&body)).await?
    };
    let input = data_input(body)?;
    Ok(Json(crate::data::answer(&state, &path, input).await?).into_response())
}

async fn data_root(state: State<AppState>, body: JsonBytes) -> Result<Response, ApiError> {
    data(state, Path(String::new()), body).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeQuery {
    pub service: Option<String>,
    pub team: Option<String>,
    /// e.g. `30d`.
    pub window: Option<String>,
    pub environment: Option<String>,
    /// Key-result filter as `bearing explain --filter` takes it:
    /// `severity=critical,high`, several joined by `;`.
    pub filter: Option<String>,
}

async fn scorecard(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.loop_().scorecard_json(&q)?).into_response())
}

async fn metric(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.loop_().metric_json(&name, &q)?).into_response())
}

async fn explain(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.loop_().explain_json(&name, &q)?).into_response())
}

async fn pipelines(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.loop_().pipelines_json(&q)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsQuery {
    service: Option<String>,
    limit: Option<u64>,
}

async fn decisions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DecisionsQuery>,
) -> Result<Response, ApiError> {
    let list = state
        .store()
        .decisions(&DecisionQuery {
            service: q.service,
            since: None,
            limit: Some(q.limit.unwrap_or(100).min(1000)),
        })
        .await?;
    Ok(Json(json!({ "decisions": list })).into_response())
}

async fn decision(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.store().decision(&id).await? {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError::not_found(format!("no decision `{}`", echo(&id)))),
    }
}

async fn plans(State(state): State<AppState>) -> Result<Response, ApiError> {
    let plans = state.store().plans().await?;
    Ok(Json(json!({ "plans": plans })).into_response())
}

/// `GET /v1/outcomes`: what `bearing outcomes export` writes, from the
/// in-memory snapshot: the live outcomes per service and the delivery plans,
/// for `bearing check --outcomes` on a runner without the server.
async fn outcomes(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snap = state.snapshot();
    let body = outcomes_export(snap.context.outcomes.clone(), snap.plans.iter().cloned());
    let text = serde_json::to_string_pretty(&body)
        .map_err(|e| ApiError::internal(format!("cannot write the outcomes: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text + "\n").into_response())
}

/// The outcomes snapshot file: the outcomes object (`{"generated_at",
/// "services"}`) with `"plans": {service: plan}` beside its services.
pub fn outcomes_export(
    outcomes: Value,
    plans: impl IntoIterator<Item = bearing_events::DeliveryPlan>,
) -> Value {
    let mut v = match outcomes {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let plans: std::collections::BTreeMap<String, bearing_events::DeliveryPlan> =
        plans.into_iter().map(|p| (p.service.clone(), p)).collect();
    v.insert(
        "plans".into(),
        serde_json::to_value(plans).unwrap_or_default(),
    );
    Value::Object(v)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrioritiesQuery {
    service: Option<String>,
    team: Option<String>,
    /// How many findings "fixing the top N" counts (default 5).
    top: Option<usize>,
}

/// `GET /v1/security/priorities` (read): `bearing security priorities --output json`.
async fn security_priorities(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PrioritiesQuery>,
) -> Result<Response, ApiError> {
    let scope = ScopeQuery {
        service: q.service,
        team: q.team,
        ..ScopeQuery::default()
    };
    let v = state.loop_().priorities_json(&scope, q.top.unwrap_or(5))?;
    Ok(Json(v).into_response())
}

async fn actions(State(state): State<AppState>) -> Result<Response, ApiError> {
    let actions = state.store().actions().await?;
    Ok(Json(json!({ "actions": actions })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsQuery {
    /// Most records (default 100, at most 1000).
    limit: Option<u64>,
}

/// `GET /v1/notifications` (read): the delivery log, newest first.
async fn notifications(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let log = state.store().notifications(limit).await?;
    Ok(Json(json!({ "notifications": log })).into_response())
}

/// `POST /v1/reconcile` (admin): runs the adaptation rules now.
async fn reconcile(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(state.reconcile().await?).into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let gauges = state.snapshot().prometheus_gauges();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.telemetry().render(&gauges),
    )
        .into_response())
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the store answers and the policies are loaded.
async fn readyz(State(state): State<AppState>) -> Response {
    let store_ok = state.store().count_events().await;
    let snap = state.snapshot();
    let policies = snap.policies_loaded;
    let age = (chrono::Utc::now() - snap.refreshed_at).num_milliseconds() as f64 / 1000.0;
    let ok = store_ok.is_ok() && policies;
    let mut body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "store": match &store_ok { Ok(_) => "ok".to_string(), Err(e) => e.to_string() },
        "policies_loaded": policies,
        "policy_revision": snap.policy_revision,
        "snapshot_age_seconds": age,
    });
    // Detail only: decisions never wait on Prometheus, so its state does not
    // make the server unready.
    if let Some(p) = state.prometheus() {
        body["prometheus"] = json!({"state": p.summary(), "slos": p.states()});
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
