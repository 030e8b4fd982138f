//! The server's notification look (run after each refresh and reconcile) and
//! `GET /v1/notifications`.

use axum::http::StatusCode;
use bearing_server::{AuthMode, Options, Scope};
use bearing_store::NotificationStatus;
use chrono::{Duration, Utc};

use crate::harness::*;
use crate::receiver::receiver;

#[tokio::test]
async fn an_expiring_waiver_is_notified_once_and_listed() {
    let (url, seen) = receiver("/hook");
    let expires = (Utc::now() + Duration::days(3)).date_naive();
    let intent = INTENT.replace(
        "  - { id: payments }",
        "  - { id: payments, contact: chat }",
    ) + &format!(
        r#"waivers:
  - {{ guardrail: freeze, scope: {{ service: checkout }}, owner: ana, reason: migration, expires: {expires} }}
notifications:
  destinations:
    - {{ id: chat, kind: slack, url: "{url}" }}
"#
    );
    let s = server_with(AuthMode::Tokens, &intent, Options::default()).await;
    // Two looks (a refresh and a reconcile, say) see the same waiver.
    s.state.notify(None);
    let mut sent = Vec::new();
    for _ in 0..200 {
        sent = s.store.notifications(10).await.unwrap();
        if sent.iter().any(|n| n.status != NotificationStatus::Pending) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    s.state.reconcile().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].status, NotificationStatus::Sent);
    assert_eq!(seen.lock().unwrap().len(), 1, "sent once");
    assert!(seen.lock().unwrap()[0].contains("waiver of `freeze`"));

    let r = send(&s.state, get("/v1/notifications", None)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    let t = token(&s.store, &[Scope::Read]).await;
    let r = send(&s.state, get("/v1/notifications?limit=5", Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["notifications"][0]["kind"], "waiver_expiring");
    assert_eq!(v["notifications"][0]["status"], "sent");
    assert_eq!(v["notifications"][0]["destination"], "chat");
}
