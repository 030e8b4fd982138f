//! Asking a Bearing server for a decision (`POST /v1/decide`) instead of
//! evaluating locally.

use std::time::Duration;

use crate::GuardError;
use crate::decision::Decision;
use crate::envelope::Envelope;

/// Posts the envelope to `{url}/v1/decide` and returns the server's decision.
/// `token` is sent as a bearer token when given.
pub fn decide(
    url: &str,
    token: Option<&str>,
    envelope: &Envelope,
    timeout: Duration,
) -> Result<Decision, GuardError> {
    let endpoint = format!("{}/v1/decide", url.trim_end_matches('/'));
    let err = |message: String| GuardError::Remote {
        url: url.to_string(),
        message,
    };
    let body = serde_json::to_vec(envelope).map_err(|e| err(e.to_string()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent
        .post(&endpoint)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(&body[..]).map_err(|e| err(e.to_string()))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| err(e.to_string()))?;
    if status == 422 {
        // `{"error": {"message": …}}`, the server's error body.
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| text.trim().to_string());
        return Err(GuardError::Rejected {
            url: url.to_string(),
            message,
        });
    }
    if !(200..300).contains(&status) {
        return Err(err(format!("HTTP {status}: {}", text.trim())));
    }
    // The server may answer the decision itself or wrap it as `{"decision": …}`.
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON answer: {e}")))?;
    let value = value.get("decision").cloned().unwrap_or(value);
    serde_json::from_value(value).map_err(|e| err(format!("unexpected answer: {e}")))
}
