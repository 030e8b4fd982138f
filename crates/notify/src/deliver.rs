//! Posting notifications once: each (change, destination) has a key; the
//! store's insert-if-absent claims it before anything is sent, so a restart
//! or a second replica that sees the same change finds it claimed and sends
//! nothing. The claimer posts with bounded retries (exponential backoff with
//! jitter) and records `sent` or `failed` with the attempts and last error.
//!
//! A process that stops between the claim and the post leaves the record
//! `pending`: that notification is not sent (at most once, never twice).

use std::time::Duration;

use bearing_intent::{DestinationKind, Intent};
use bearing_store::{DynStore, NotificationRecord, NotificationStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::render::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign, slack_body, webhook_body};
use crate::{Change, NotifyError, route};

/// How often and how patiently a post is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Most attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; doubled each time.
    pub base: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `n` (1-based): `base · 2^(n-1)`, capped at
    /// `max`, then a random share of it between a half and all of it, so
    /// replicas retrying together spread out.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.max);
        exp.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

/// One notification ready to post.
#[derive(Debug, Clone, Serialize)]
pub struct Outbound {
    pub key: String,
    pub destination: String,
    pub kind: DestinationKind,
    pub change: Change,
    /// The URL, or why there is none (an unset environment variable).
    #[serde(skip)]
    pub url: Result<String, String>,
    /// The body as sent.
    pub body: serde_json::Value,
    /// The webhook secret, or why there is none.
    #[serde(skip)]
    pub secret: Option<Result<String, String>>,
}

/// One outbound per change and destination. `env` reads environment
/// variables (`std::env::var` outside tests).
pub fn prepare(
    intent: &Intent,
    changes: &[Change],
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Outbound> {
    let mut out = Vec::new();
    for c in changes {
        for d in route(intent, c) {
            let key = format!("{}@{}", c.id, d.id);
            let url = match (&d.url, &d.url_env) {
                (Some(u), _) => Ok(u.clone()),
                (None, Some(var)) => env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    format!(
                        "environment variable `{var}` (the URL of `{}`) is not set",
                        d.id
                    )
                }),
                (None, None) => Err(format!("destination `{}` has no URL", d.id)),
            };
            let (body, secret) = match d.kind {
                DestinationKind::Slack => (slack_body(c), None),
                DestinationKind::Webhook => {
                    let secret = match &d.secret_env {
                        Some(var) => env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                            format!(
                                "environment variable `{var}` (the secret of `{}`) is not set",
                                d.id
                            )
                        }),
                        None => Err(format!("destination `{}` has no `secret_env`", d.id)),
                    };
                    (webhook_body(c, &key), Some(secret))
                }
            };
            out.push(Outbound {
                key,
                destination: d.id.clone(),
                kind: d.kind,
                change: c.clone(),
                url,
                body,
                secret,
            });
        }
    }
    out
}

/// What happened to one outbound notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub key: String,
    pub destination: String,
    /// `None`: already claimed (sent before, or by another process).
    pub status: Option<NotificationStatus>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Posts notifications and keeps the delivery log.
pub struct Notifier {
    store: DynStore,
    agent: ureq::Agent,
    retry: Retry,
}

impl Notifier {
    pub fn new(store: DynStore, retry: Retry) -> Notifier {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(retry.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Notifier {
            store,
            agent,
            retry,
        }
    }

    /// Claims and posts each outbound in turn; one that another process (or
    /// an earlier run) claimed is skipped.
    pub async fn send_all(
        &self,
        outbound: Vec<Outbound>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, NotifyError> {
        let mut out = Vec::new();
        for o in outbound {
            let record = NotificationRecord {
                key: o.key.clone(),
                kind: o.change.kind.name().to_string(),
                subject: o.change.subject.clone(),
                destination: o.destination.clone(),
                summary: o.change.title.clone(),
                status: NotificationStatus::Pending,
                attempts: 0,
                last_error: None,
                created_at: now,
                updated_at: now,
            };
            if !self.store.claim_notification(&record).await? {
                out.push(Delivery {
                    key: o.key,
                    destination: o.destination,
                    status: None,
                    attempts: 0,
                    error: None,
                });
                continue;
            }
            let agent = self.agent.clone();
            let retry = self.retry;
            let job = o.clone();
            let (attempts, result) = tokio::task::spawn_blocking(move || post(&agent, retry, &job))
                .await
                .unwrap_or_else(|e| (0, Err(format!("the sending task failed: {e}"))));
            let (status, error) = match result {
                Ok(()) => (NotificationStatus::Sent, None),
                Err(e) => {
                    tracing::warn!(key = %o.key, error = %e, "notification not delivered");
                    (NotificationStatus::Failed, Some(e))
                }
            };
            self.store
                .put_notification_status(&o.key, status, attempts, error.as_deref(), Utc::now())
                .await?;
            out.push(Delivery {
                key: o.key,
                destination: o.destination,
                status: Some(status),
                attempts,
                error,
            });
        }
        Ok(out)
    }
}

/// Posts `o` until it is accepted (2xx), refused for good (a 4xx other than
/// 408 and 429) or out of attempts; returns the attempts made.
fn post(agent: &ureq::Agent, retry: Retry, o: &Outbound) -> (u32, Result<(), String>) {
    let url = match &o.url {
        Ok(u) => u,
        Err(e) => return (0, Err(e.clone())),
    };
    let body = o.body.to_string();
    let signature = match &o.secret {
        None => None,
        Some(Ok(s)) => Some(sign(s.as_bytes(), body.as_bytes())),
        Some(Err(e)) => return (0, Err(e.clone())),
    };
    let mut last = String::new();
    for n in 1..=retry.attempts.max(1) {
        let mut req = agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "bearing-notify")
            .header(IDEMPOTENCY_HEADER, &o.key);
        if let Some(sig) = &signature {
            req = req.header(SIGNATURE_HEADER, sig);
        }
        match req.send(body.as_bytes()) {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    return (n, Ok(()));
                }
                last = format!("HTTP {status} from `{}`", o.destination);
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    return (n, Err(last));
                }
            }
            Err(e) => last = format!("cannot reach `{}`: {e}", o.destination),
        }
        if n < retry.attempts {
            std::thread::sleep(retry.backoff(n));
        }
    }
    (retry.attempts.max(1), Err(last))
}
