//! Delivery against a local HTTP receiver: once per change and destination,
//! retried after a 5xx, never twice across runs or notifier instances, signed
//! bodies that verify, Slack bodies with `text` and `blocks`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bearing_intent::Intent;
use bearing_notify::detect::{KrNow, expiring_waivers, kr_changes};
use bearing_notify::{Change, Notifier, Retry, prepare};
use bearing_store::{DynStore, NotificationStatus};
use chrono::{DateTime, TimeZone, Utc};
use hmac::Mac;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Request {
    headers: HashMap<String, String>,
    body: String,
}

/// A receiver answering with `script`'s statuses in turn, then 200.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

fn receiver(script: &[u16]) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.to_vec()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            loop {
                line.clear();
                r.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(Request {
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let status = {
                let mut s = script.lock().unwrap();
                if s.is_empty() { 200 } else { s.remove(0) }
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    Receiver { url, seen }
}

impl Receiver {
    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn intent(url: &str) -> Intent {
    static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run = format!("{}-{nanos}-{n}", std::process::id());
    let yaml = format!(
        r#"
version: 1
teams:
  - {{ id: payments, contact: "payments-chat-{run}" }}
services:
  - {{ id: checkout, team: payments }}
guardrails:
  - {{ id: vulns, kind: vulnerabilities }}
waivers:
  - {{ guardrail: vulns, scope: {{ service: checkout }}, owner: ana, reason: vendor fix pending, expires: 2026-03-05 }}
notifications:
  destinations:
    - {{ id: "payments-chat-{run}", kind: slack, url: "{url}" }}
    - {{ id: "audit-{run}", kind: webhook, url: "{url}", secret_env: AUDIT_SECRET }}
  routes:
    - {{ to: "audit-{run}", events: [production_deny, kr_status] }}
"#
    );
    bearing_intent::load_str(Path::new("bearing.yaml"), &yaml)
        .unwrap()
        .intent
}

fn env(var: &str) -> Option<String> {
    (var == "AUDIT_SECRET").then(|| "s3cret".to_string())
}

fn t() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn fast() -> Retry {
    Retry {
        attempts: 4,
        base: Duration::from_millis(20),
        max: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
    }
}

async fn stores() -> Vec<(String, DynStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("n.db").display());
    let mut out = vec![(
        "sqlite".into(),
        bearing_store::open(&url).await.unwrap(),
        dir,
    )];
    if let Ok(pg) = std::env::var("DATABASE_URL") {
        // The Postgres log outlives the test: `intent` gives each run its
        // own destination ids, so its keys are new.
        out.push((
            "postgres".into(),
            bearing_store::open(&pg).await.unwrap(),
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

fn waiver_change(intent: &Intent) -> Vec<Change> {
    // 2026-03-05 is four days after `t()`.
    expiring_waivers(intent, t().date_naive(), t())
}

#[tokio::test]
async fn every_notification_is_delivered_once_and_slack_gets_text_and_blocks() {
    for (name, store, _dir) in stores().await {
        let rx = receiver(&[]);
        let intent = intent(&rx.url);
        let changes = waiver_change(&intent);
        assert_eq!(changes.len(), 1, "{name}");
        // The waiver's service belongs to payments, whose contact is the Slack
        // destination; the audit route does not take waiver events.
        let out = prepare(&intent, &changes, &env);
        assert_eq!(out.len(), 1);
        let n = Notifier::new(store.clone(), fast());
        let d = n.send_all(out, t()).await.unwrap();
        assert_eq!(d[0].status, Some(NotificationStatus::Sent), "{name}: {d:?}");
        assert_eq!(d[0].attempts, 1);
        let got = rx.requests();
        assert_eq!(got.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert!(
            body["text"].as_str().unwrap().contains("waiver of `vulns`"),
            "{body}"
        );
        assert!(body["blocks"].as_array().is_some_and(|b| !b.is_empty()));
        assert!(!got[0].headers.contains_key("x-bearing-signature-256"));

        // A restart: a new notifier over the same store and the same change.
        let again = Notifier::new(store.clone(), fast());
        let d = again
            .send_all(prepare(&intent, &changes, &env), t())
            .await
            .unwrap();
        assert_eq!(d[0].status, None, "already claimed");
        assert_eq!(rx.requests().len(), 1, "{name}: nothing sent twice");
        let log = store.notifications(1000).await.unwrap();
        let mine: Vec<_> = log.iter().filter(|r| r.key == d[0].key).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].status, NotificationStatus::Sent);
        assert_eq!(mine[0].kind, "waiver_expiring");
    }
}

#[tokio::test]
async fn a_500_is_retried_and_succeeds_once() {
    for (name, store, _dir) in stores().await {
        let rx = receiver(&[500]);
        let intent = intent(&rx.url);
        let n = Notifier::new(store.clone(), fast());
        let d = n
            .send_all(prepare(&intent, &waiver_change(&intent), &env), t())
            .await
            .unwrap();
        assert_eq!(d[0].status, Some(NotificationStatus::Sent), "{name}");
        assert_eq!(d[0].attempts, 2);
        let got = rx.requests();
        assert_eq!(got.len(), 2, "one failure, one success");
        assert_eq!(
            got[0].headers["idempotency-key"], got[1].headers["idempotency-key"],
            "the retry carries the same key"
        );
        let log = store.notifications(1000).await.unwrap();
        let mine = log.iter().find(|r| r.key == d[0].key).unwrap();
        assert_eq!((mine.status, mine.attempts), (NotificationStatus::Sent, 2));
    }
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_given_up_on_and_logged() {
    for (_name, store, _dir) in stores().await {
        let rx = receiver(&[503, 503, 503, 503, 503]);
        let intent = intent(&rx.url);
        let n = Notifier::new(store.clone(), fast());
        let d = n
            .send_all(prepare(&intent, &waiver_change(&intent), &env), t())
            .await
            .unwrap();
        assert_eq!(d[0].status, Some(NotificationStatus::Failed));
        assert_eq!(rx.requests().len(), 4, "bounded by `attempts`");
        let log = store.notifications(1000).await.unwrap();
        let mine = log.iter().find(|r| r.key == d[0].key).unwrap();
        assert_eq!(mine.attempts, 4);
        assert!(mine.last_error.as_deref().unwrap().contains("HTTP 503"));
    }
}

fn kr_change() -> Vec<Change> {
    let old = BTreeMap::from([("growth/kr-1".to_string(), "met".to_string())]);
    let now = BTreeMap::from([(
        "growth/kr-1".to_string(),
        KrNow {
            status: "off_track".into(),
            objective: "Grow".into(),
            metric: "dora.lead_time.p50".into(),
            display: "3d".into(),
            target: "<= 1d".into(),
            team: Some("payments".into()),
            service: None,
        },
    )]);
    kr_changes(&old, "1", &now, t())
}

#[tokio::test]
async fn two_notifiers_on_one_store_send_a_change_once() {
    for (name, store, _dir) in stores().await {
        let rx = receiver(&[]);
        let intent = intent(&rx.url);
        let changes = kr_change();
        // Team contact (Slack) and the audit route both take it.
        assert_eq!(prepare(&intent, &changes, &env).len(), 2);
        let a = Notifier::new(store.clone(), fast());
        let b = Notifier::new(store.clone(), fast());
        let (ra, rb) = tokio::join!(
            a.send_all(prepare(&intent, &changes, &env), t()),
            b.send_all(prepare(&intent, &changes, &env), t()),
        );
        let sent = ra
            .unwrap()
            .into_iter()
            .chain(rb.unwrap())
            .filter(|d| d.status == Some(NotificationStatus::Sent))
            .count();
        assert_eq!(sent, 2, "{name}: one per destination");
        assert_eq!(rx.requests().len(), 2, "{name}");
    }
}

#[tokio::test]
async fn the_webhook_signature_verifies_with_the_secret() {
    for (_name, store, _dir) in stores().await {
        let rx = receiver(&[]);
        let intent = intent(&rx.url);
        Notifier::new(store, fast())
            .send_all(prepare(&intent, &kr_change(), &env), t())
            .await
            .unwrap();
        let got = rx.requests();
        let signed: Vec<_> = got
            .iter()
            .filter(|r| r.headers.contains_key("x-bearing-signature-256"))
            .collect();
        assert_eq!(signed.len(), 1);
        let r = signed[0];
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(r.body.as_bytes());
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.headers["x-bearing-signature-256"], want);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["kind"], "kr_status");
        assert_eq!(body["key"], r.headers["idempotency-key"].as_str());
        assert_eq!(body["details"]["status"], "met → off_track");
    }
}

#[tokio::test]
async fn a_missing_secret_fails_without_sending() {
    for (_name, store, _dir) in stores().await {
        let rx = receiver(&[]);
        let intent = intent(&rx.url);
        let none = |_: &str| None;
        let d = Notifier::new(store, fast())
            .send_all(prepare(&intent, &kr_change(), &none), t())
            .await
            .unwrap();
        let failed: Vec<_> = d
            .iter()
            .filter(|d| d.status == Some(NotificationStatus::Failed))
            .collect();
        assert_eq!(failed.len(), 1);
        assert!(failed[0].error.as_deref().unwrap().contains("AUDIT_SECRET"));
        assert_eq!(rx.requests().len(), 1, "only the Slack message went out");
    }
}

/// 2026-03-01 … 03-09 at 100 EUR a day for `checkout`, with a 300 EUR spike
/// on `spike` and an older one on 03-02 (outside the look-back).
fn cost_events(spike: u32) -> Vec<bearing_events::Event> {
    use bearing_events::{CostRow, Event, Payload};
    let mut out = Vec::new();
    for (i, day) in (1..=28)
        .map(|d| (2, d))
        .chain((1..=9).map(|d| (3, d)))
        .enumerate()
    {
        let start = Utc.with_ymd_and_hms(2026, day.0, day.1, 10, 0, 0).unwrap();
        let amount = if day == (3, spike) || day == (3, 2) {
            300.0
        } else {
            100.0
        };
        let tags = BTreeMap::from([("service".to_string(), "checkout".to_string())]);
        out.push(Event::new(
            format!("cost{i}"),
            "focus",
            start,
            Payload::Cost(CostRow {
                billed_cost: amount,
                effective_cost: amount,
                currency: "EUR".into(),
                charge_period_start: start,
                charge_period_end: start + chrono::Duration::hours(1),
                provider: Some("aws".into()),
                tags,
                ..Default::default()
            }),
        ));
    }
    out
}

#[tokio::test]
async fn a_cost_spike_is_notified_once_ever() {
    use bearing_notify::{CycleInput, detect_cycle, find_anomalies};
    for (name, store, _dir) in stores().await {
        let rx = receiver(&[]);
        let run = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let yaml = format!(
            r#"
version: 1
teams:
  - {{ id: payments, contact: "chat-{run}" }}
services:
  - {{ id: checkout, team: payments, cost: {{ match: {{ tags: {{ service: checkout }} }} }} }}
notifications:
  destinations:
    - {{ id: "chat-{run}", kind: slack, url: "{}" }}
    - {{ id: "audit-{run}", kind: webhook, url: "{}", secret_env: AUDIT_SECRET }}
  routes:
    - {{ to: "audit-{run}", events: [anomaly] }}
"#,
            rx.url, rx.url
        );
        let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &yaml)
            .unwrap()
            .intent;
        let ds = bearing_metrics::Dataset::new(&intent, cost_events(9), Vec::new(), Vec::new());
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let card = bearing_metrics::scorecard(&intent, &ds, now, Default::default());
        let look = |at: DateTime<Utc>| {
            let anomalies = find_anomalies(&intent, &ds, at);
            let store = store.clone();
            let intent = intent.clone();
            let card = card.clone();
            async move {
                let input = CycleInput {
                    intent: &intent,
                    scorecard: &card,
                    plans_before: &[],
                    plans_changed: &[],
                    checks: &[],
                    anomalies: &anomalies,
                    now: at,
                };
                let changes = detect_cycle(&store, &input, false).await.unwrap();
                let out = prepare(&intent, &changes, &env);
                Notifier::new(store.clone(), fast())
                    .send_all(out, at)
                    .await
                    .unwrap()
            }
        };

        let first = look(now).await;
        // One anomaly (03-09; 03-02 is history), to the team's chat and the
        // route taking `anomaly`.
        assert_eq!(first.len(), 2, "{name}: {first:?}");
        assert!(
            first
                .iter()
                .all(|d| d.status == Some(NotificationStatus::Sent)
                    && d.key
                        .starts_with("anomaly:checkout:cost.anomalies:2026-03-09@")),
            "{name}: {first:?}"
        );
        let got = rx.requests();
        assert_eq!(got.len(), 2, "{name}");
        let slack: serde_json::Value = got
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .find(|b| b.get("blocks").is_some())
            .unwrap();
        let text = slack.to_string();
        for want in ["checkout", "2026-03-09", "300.00 EUR", "100.00 EUR"] {
            assert!(text.contains(want), "{want} in {text}");
        }
        let hook: serde_json::Value = got
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .find(|b| b.get("kind").is_some())
            .unwrap();
        assert_eq!(hook["kind"], "anomaly");
        assert_eq!(hook["service"], "checkout");
        assert_eq!(hook["details"]["date"], "2026-03-09");
        assert_eq!(hook["details"]["observed"], "300.00 EUR");
        assert_eq!(hook["details"]["expected"], "100.00 EUR");

        // The next look (and a restart, a replica) sees the same anomaly: nothing goes out.
        let second = look(now + chrono::Duration::hours(1)).await;
        assert!(
            second.iter().all(|d| d.status.is_none()),
            "{name}: {second:?}"
        );
        assert_eq!(rx.requests().len(), 2, "{name}: nothing sent twice");
    }
}
