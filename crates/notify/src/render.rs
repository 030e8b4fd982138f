//! The bodies posted: a Slack-compatible `{text, blocks}` message, or a JSON
//! document signed with HMAC-SHA256 like GitHub signs its webhooks.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Change;

/// The header carrying `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Bearing-Signature-256";
/// The header carrying the notification's key, the same on every retry, so
/// a receiver can drop a duplicate.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// A Slack incoming-webhook message: `text` (the fallback shown in
/// notifications) and `blocks` (a section with the title and one with the
/// details).
pub fn slack_body(c: &Change) -> Value {
    let lines: Vec<String> = c
        .details
        .iter()
        .map(|(k, v)| format!("*{}*: {}", escape(k), escape(v)))
        .collect();
    json!({
        "text": format!("[bearing] {}", c.title),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", escape(&c.title))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{} · {}", c.kind.name(), c.at.to_rfc3339())}]}
        ]
    })
}

/// The generic webhook's document: the change with its key.
pub fn webhook_body(c: &Change, key: &str) -> Value {
    let details: serde_json::Map<String, Value> = c
        .details
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "key": key,
        "kind": c.kind.name(),
        "subject": c.subject,
        "team": c.team,
        "service": c.service,
        "title": c.title,
        "details": details,
        "at": c.at.to_rfc3339(),
    })
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Slack's mrkdwn control characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
