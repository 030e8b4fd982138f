//! The one error type of the HTTP API. Every failure becomes
//! `{"error": {"code", "message", "details"}}` with a fitting status.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An API failure: an HTTP status, a stable machine-readable code, a message
/// for people, and optional structured details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    /// 503 with `Retry-After: 1`: the server is at a limit, not broken.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<bearing_store::StoreError> for ApiError {
    fn from(e: bearing_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::unavailable(format!("the event store failed: {e}"))
    }
}

/// Longest message an error carries; longer ones are cut (an error must not
/// echo a caller's megabytes back).
pub const MAX_MESSAGE: usize = 2048;
/// Longest string kept in an error's `details`.
pub const MAX_DETAIL: usize = 256;
/// Longest part of a caller's value (an id, a name) quoted in a message.
pub const MAX_ECHO: usize = 120;

/// `s` cut to at most `max` bytes at a character boundary, with `…` and
/// the full length when cut.
pub fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len()).into()
}

/// A caller's value as an error message quotes it: at most [`MAX_ECHO`] bytes.
pub fn echo(s: &str) -> std::borrow::Cow<'_, str> {
    truncate(s, MAX_ECHO)
}

fn truncate_details(v: &mut Value) {
    match v {
        Value::String(s) if s.len() > MAX_DETAIL => *s = truncate(s, MAX_DETAIL).into_owned(),
        Value::Array(items) => items.iter_mut().for_each(truncate_details),
        Value::Object(m) => m.values_mut().for_each(truncate_details),
        _ => {}
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        truncate_details(&mut self.details);
        let message = truncate(&self.message, MAX_MESSAGE);
        let body = json!({
            "error": { "code": self.code, "message": message, "details": self.details }
        });
        let mut res = (self.status, Json(body)).into_response();
        if self.code == "busy" {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// Gives every error answer the documented JSON body: the router's 404 and
/// 405, the body limit's 413, the request timeout's 408 and any extractor
/// rejection answered as plain text. Errors already in JSON pass unchanged.
pub async fn json_errors(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(res.headers()) {
        return res;
    }
    let path = uri.path();
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let mut err = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(format!("no endpoint `{}`", echo(path))),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = parts
                .headers
                .get(axum::http::header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ApiError::new(
                status,
                "method_not_allowed",
                format!(
                    "`{method}` is not allowed on `{}`; allowed: {allow}",
                    echo(path)
                ),
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            "the request body is larger than the server's limit (`--body-limit`)",
        ),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(
            status,
            "timeout",
            "the request took longer than the server's limit (`--request-timeout`)",
        ),
        _ => ApiError::new(
            status,
            if status.is_server_error() {
                "internal"
            } else {
                "bad_request"
            },
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            },
        ),
    }
    .into_response();
    // Keep what the client needs besides the body (`Allow`, `Retry-After`, …).
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            err.headers_mut().insert(name.clone(), value.clone());
        }
    }
    err
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `Json<T>` whose rejection is an [`ApiError`] (same body shape as every other error).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = JsonBytes::from_request(req, state).await?.0;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The raw body of a request that says it is JSON, for a handler that parses
/// it later (or elsewhere, see `AppState::decide_bytes`).
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_json",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(JsonBytes)
            .map_err(|r| ApiError::new(r.status(), "invalid_json", r.body_text()))
    }
}

/// Parses a JSON body into `T`, with the messages axum's `Json` gives.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    // Parsed again by axum, for its messages: as any JSON first, so that a
    // syntax error is reported as one even after a field of the wrong
    // type, then as `T`, naming the field at fault.
    if let Err(r) = Json::<Value>::from_bytes(bytes) {
        return Err(ApiError::new(r.status(), "invalid_json", r.body_text()));
    }
    match Json::<T>::from_bytes(bytes) {
        Ok(Json(v)) => Ok(v),
        // Well-formed JSON of the wrong shape (the message says where).
        Err(JsonRejection::JsonDataError(e)) => Err(ApiError::invalid(e.body_text())),
        Err(r) => Err(ApiError::new(r.status(), "invalid_json", r.body_text())),
    }
}

/// `application/json` or `application/…+json`, as axum's `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(v) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

/// `Query<T>` whose rejection is an [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(ApiError::new(r.status(), "invalid_query", r.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn body_has_the_documented_shape() {
        let res = ApiError::not_found("no decision `d-1`")
            .with_details(json!({"id": "d-1"}))
            .into_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["error"]["message"], "no decision `d-1`");
        assert_eq!(v["error"]["details"]["id"], "d-1");
    }
}
