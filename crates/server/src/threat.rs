//! Threat feeds in: applying a KEV catalog or EPSS file to the store (from
//! `bearing ingest` or a scheduled fetch by `bearing serve --threat-feed`),
//! and logging, per service, what a newer KEV catalog changed for its open
//! findings. The decisions, SLAs and metrics that follow read the feeds at
//! the next refresh (`docs/metrics.md`, "Threat-aware security").

use std::collections::BTreeMap;
use std::time::Duration;

use bearing_events::formats::threat::{Feed, FeedUpdate, parse_feed};
use bearing_events::{Action, ActionStatus};
use bearing_store::{DynStore, FindingQuery, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;

/// How long one fetch may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest feed read (FIRST's full EPSS CSV is about 10 MiB).
pub const FETCH_LIMIT: u64 = 256 << 20;

/// What applying a feed did: the update, and the actions logged.
#[derive(Debug, Clone)]
pub struct Applied {
    pub update: FeedUpdate,
    pub actions: Vec<Action>,
}

/// Applies a feed and, for a KEV catalog that added CVEs some open finding
/// has, logs one action per affected service saying which CVEs, where, and
/// since when they are known exploited.
pub async fn apply(
    store: &DynStore,
    feed: Feed,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let kev_dates: BTreeMap<String, (String, Option<String>, String)> = match &feed {
        Feed::Kev(k) => k
            .entries
            .iter()
            .map(|(c, e)| {
                (
                    c.clone(),
                    (
                        e.date_added.to_string(),
                        e.due_date.map(|d| d.to_string()),
                        e.ransomware.clone(),
                    ),
                )
            })
            .collect(),
        Feed::Epss(_) => BTreeMap::new(),
    };
    let update = bearing_store::threat::apply(store.as_ref(), feed, now).await?;
    let mut actions = Vec::new();
    if update.applied && update.feed == "kev" && !update.added.is_empty() {
        let open = store
            .findings(&FindingQuery {
                service: None,
                open_only: true,
            })
            .await?;
        let mut by_service: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for f in open {
            let cve = bearing_events::formats::normalize_vulnerability(&f.finding.rule_id);
            if !update.added.contains(&cve) {
                continue;
            }
            let Some((added, due, ransomware)) = kev_dates.get(&cve) else {
                continue;
            };
            by_service
                .entry(f.service.clone().unwrap_or_default())
                .or_default()
                .push(json!({
                    "cve": cve,
                    "package": f.finding.package,
                    "target": f.finding.target,
                    "severity": f.finding.severity.name(),
                    "date_added": added,
                    "due_date": due,
                    "ransomware": ransomware,
                    "event_ids": f.event_ids,
                }));
        }
        for (service, findings) in by_service {
            let what: Vec<String> = findings
                .iter()
                .map(|f| {
                    format!(
                        "{} (in {}, added to KEV on {})",
                        f["cve"].as_str().unwrap_or_default(),
                        f["package"].as_str().unwrap_or("?"),
                        f["date_added"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            let who = if service.is_empty() {
                "findings without a service".to_string()
            } else {
                service.clone()
            };
            let action = Action {
                id: format!("threat-kev-{}-{who}", update.version),
                created_at: now,
                service: (!service.is_empty()).then(|| service.clone()),
                origin: "threat-feed".into(),
                summary: format!(
                    "KEV catalog {} lists open findings of {who} as known exploited: {}. Guardrails with `deny: {{kev: true}}` deny its changes and the KEV SLA applies from now on.",
                    update.version,
                    what.join(", ")
                ),
                status: ActionStatus::Applied,
                metric: "security.kev_open".into(),
                baseline: None,
                evaluate_at: None,
                outcome: None,
                evidence: json!({
                    "catalog": update.version,
                    "previous": update.previous,
                    "findings": findings,
                }),
                change: None,
            };
            store.put_action(&action).await?;
            actions.push(action);
        }
    }
    Ok(Applied { update, actions })
}

/// Why a feed could not be fetched or read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch the threat feed `{url}`: {message}")]
    Unreachable { url: String, message: String },
    #[error("the threat feed `{url}` cannot be read: {message}")]
    Invalid { url: String, message: String },
}

/// Fetches a KEV catalog or an EPSS CSV (plain or gzipped) by URL.
/// Blocking: call it from a blocking thread.
pub fn fetch(url: &str, timeout: Duration) -> Result<Feed, FetchError> {
    let unreachable = |message: String| FetchError::Unreachable {
        url: url.to_string(),
        message,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(unreachable("expected an http(s) URL".into()));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| unreachable(e.to_string()))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(unreachable(format!("HTTP status {status}")));
    }
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(FETCH_LIMIT)
        .read_to_vec()
        .map_err(|e| unreachable(format!("reading the answer: {e}")))?;
    parse_feed(&bytes).map_err(|e| FetchError::Invalid {
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// Fetches every feed and applies it, logging what happened; one that
/// cannot be fetched is named with its reason and the others go on.
pub async fn fetch_all(store: &DynStore, urls: &[String]) -> Vec<Result<Applied, String>> {
    let mut out = Vec::new();
    for url in urls {
        let u = url.clone();
        let fetched = tokio::task::spawn_blocking(move || fetch(&u, FETCH_TIMEOUT)).await;
        let result = match fetched {
            Err(e) => Err(format!("cannot fetch the threat feed `{url}`: {e}")),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(feed)) => apply(store, feed, Utc::now())
                .await
                .map_err(|e| format!("cannot store the threat feed `{url}`: {e}")),
        };
        match &result {
            Ok(a) if a.update.applied => tracing::info!(
                url = %url,
                feed = %a.update.feed,
                version = %a.update.version,
                added = a.update.added.len(),
                "threat feed updated"
            ),
            Ok(a) => {
                tracing::info!(url = %url, version = %a.update.version, "threat feed unchanged")
            }
            Err(e) => tracing::warn!("{e}"),
        }
        out.push(result);
    }
    out
}
