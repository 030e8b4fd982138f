//! What changed since the last look, as [`Change`]s.
//!
//! Key-result statuses are compared with the statuses stored the last time
//! one changed (the snapshot `notify:key_results`); the first look only
//! records them. Decisions are read from where the previous look stopped
//! (`notify:decisions`, less two minutes for late writes; the first look
//! reads the last 24 hours). Plan changes
//! come from the reconcile pass that made them; expiring waivers from the
//! intent and the date. Cost anomalies are the anomalous days that
//! `cost.anomalies` finds in each service's daily cost (and the org's, when a
//! key result measures it org-wide) among the last [`ANOMALY_DAYS`] complete
//! days, whatever the previous look saw: a first look does not announce
//! older history, and the delivery log keeps each anomaly to one notification.
//!
//! A change's id names the state it left (the version of the stored state,
//! the plan's previous `updated_at`, the decision id, the waiver's expiry,
//! the anomaly's service, metric and day), so
//! two processes that see the same change derive the same id.

use std::collections::BTreeMap;

use bearing_adapt::reconcile::RuleCheck;
use bearing_events::{Action, DecisionSummary, DeliveryPlan};
use bearing_intent::Scope;
use bearing_intent::{Intent, NotificationKind};
use bearing_metrics::{CostAnomaly, Dataset, Scorecard, Status};
use bearing_store::{DynStore, Snapshot};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::NotifyError;

/// The snapshot holding the key-result statuses last notified about.
pub const KR_STATE: &str = "notify:key_results";
/// The snapshot whose `computed_at` is where the last look at decisions stopped.
pub const DECISION_CURSOR: &str = "notify:decisions";
/// How far ahead a waiver's expiry is announced.
pub const WAIVER_NOTICE_DAYS: i64 = 7;
/// How many complete days back a cost anomaly is still announced.
pub const ANOMALY_DAYS: u64 = 2;
/// The metric whose anomalies are announced.
pub const ANOMALY_METRIC: &str = "cost.anomalies";

/// Something worth telling a team about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: NotificationKind,
    /// Derived from the change: the same change seen again has the same id.
    pub id: String,
    /// What changed: `objective/kr-1`, a service, a decision id, a waiver.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// One line for people.
    pub title: String,
    /// Label and value pairs: previous and new state, rule, evidence.
    pub details: Vec<(String, String)>,
    pub at: DateTime<Utc>,
}

/// Everything one look needs besides the store.
pub struct CycleInput<'a> {
    pub intent: &'a Intent,
    pub scorecard: &'a Scorecard,
    /// The stored plans before the reconcile pass.
    pub plans_before: &'a [DeliveryPlan],
    /// The plans the pass changed (`ReconcileOutcome::plans`).
    pub plans_changed: &'a [DeliveryPlan],
    /// The pass's rule evaluations, for evidence.
    pub checks: &'a [RuleCheck],
    /// Recent cost anomalies ([`find_anomalies`] on the dataset).
    pub anomalies: &'a [ScopedAnomaly],
    pub now: DateTime<Utc>,
}

/// An anomalous day of a service's (or, with no service, the org's) daily cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedAnomaly {
    pub service: Option<String>,
    pub anomaly: CostAnomaly,
}

/// Key-result statuses as stored in [`KR_STATE`].
#[derive(Debug, Default, Serialize, Deserialize)]
struct KrState {
    statuses: BTreeMap<String, String>,
}

/// One look: every change since the previous one. Unless `dry_run`, the
/// key-result statuses (when one changed) and the decision cursor are
/// stored, so the next look starts from here. Nothing is read or written
/// when the intent has no `notifications:`.
pub async fn detect_cycle(
    store: &DynStore,
    input: &CycleInput<'_>,
    dry_run: bool,
) -> Result<Vec<Change>, NotifyError> {
    let intent = input.intent;
    if intent
        .notifications
        .as_ref()
        .is_none_or(|n| n.destinations.is_empty())
    {
        return Ok(Vec::new());
    }
    let now = input.now;
    let mut out = Vec::new();

    let current = key_results(intent, input.scorecard);
    let prev = store.snapshot(KR_STATE).await?;
    let statuses: BTreeMap<String, String> = current
        .iter()
        .map(|(k, v)| (k.clone(), v.status.clone()))
        .collect();
    match &prev {
        Some(p) => {
            let old: KrState = serde_json::from_value(p.body.clone()).unwrap_or_default();
            let version = p.computed_at.timestamp_millis().to_string();
            out.extend(kr_changes(&old.statuses, &version, &current, now));
            if old.statuses != statuses && !dry_run {
                put_kr_state(store, statuses, now).await?;
            }
        }
        None if !dry_run => put_kr_state(store, statuses, now).await?,
        None => {}
    }

    out.extend(plan_changes(
        intent,
        input.plans_before,
        input.plans_changed,
        input.checks,
        now,
    ));

    // Decisions reach the log a little after they are made; reading the last
    // two minutes again catches late ones (their ids dedupe the rest).
    let since = match store.snapshot(DECISION_CURSOR).await? {
        Some(s) => s.computed_at - Duration::minutes(2),
        None => now - Duration::hours(24),
    };
    let decisions = store.decision_summaries(Some(since), now).await?;
    out.extend(production_denies(intent, &decisions));
    if !dry_run {
        store
            .put_snapshot(&Snapshot {
                name: DECISION_CURSOR.into(),
                computed_at: now,
                cursor: 0,
                body: serde_json::Value::Null,
            })
            .await?;
    }

    out.extend(expiring_waivers(intent, now.date_naive(), now));
    out.extend(anomaly_changes(intent, input.anomalies, now));
    out.extend(known_exploited(intent, &store.actions().await?, now));
    Ok(out)
}

/// How long after a threat feed's action it is still announced (a look
/// after a restart still sees it; the delivery log keeps it to one).
pub const THREAT_NOTICE_DAYS: i64 = 7;

/// The actions a newer KEV catalog logged (origin `threat-feed`): open
/// findings of a service now known exploited, with the CVEs, packages,
/// targets and KEV dates as details.
pub fn known_exploited(intent: &Intent, actions: &[Action], now: DateTime<Utc>) -> Vec<Change> {
    let mut out = Vec::new();
    for a in actions {
        if a.origin != "threat-feed" || now - a.created_at > Duration::days(THREAT_NOTICE_DAYS) {
            continue;
        }
        let mut details = vec![(
            "KEV catalog".to_string(),
            a.evidence["catalog"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )];
        for f in a.evidence["findings"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let text = |k: &str| f[k].as_str().unwrap_or("–").to_string();
            details.push((
                text("cve"),
                format!(
                    "{} {} in {}: added to KEV on {}, due {}, ransomware {}",
                    text("severity"),
                    text("package"),
                    text("target"),
                    text("date_added"),
                    text("due_date"),
                    text("ransomware")
                ),
            ));
        }
        let who = a
            .service
            .clone()
            .unwrap_or_else(|| "findings without a service".into());
        out.push(Change {
            kind: NotificationKind::KnownExploited,
            id: format!("known_exploited:{}", a.id),
            subject: who.clone(),
            team: a.service.as_deref().and_then(|s| team_of(intent, s)),
            service: a.service.clone(),
            title: format!(
                "{who}: {} open finding(s) now known exploited; its next decisions deny where `deny: {{kev: true}}` is set",
                details.len() - 1
            ),
            details,
            at: a.created_at,
        });
    }
    out
}

/// The anomalies `cost.anomalies` finds among the last [`ANOMALY_DAYS`]
/// complete days, for every service of the intent and, when a key result
/// measures `cost.anomalies` org-wide (no team or service), for the org.
pub fn find_anomalies(intent: &Intent, ds: &Dataset, now: DateTime<Utc>) -> Vec<ScopedAnomaly> {
    let window = bearing_intent::Duration::from_days(ANOMALY_DAYS);
    let none = BTreeMap::new();
    let org_level = intent.objectives.iter().any(|o| {
        o.key_results.iter().any(|k| {
            k.metric == ANOMALY_METRIC && k.scope.service.is_none() && k.scope.team.is_none()
        })
    });
    let mut scopes: Vec<Option<String>> =
        intent.services.iter().map(|s| Some(s.id.clone())).collect();
    if org_level {
        scopes.push(None);
    }
    let mut out = Vec::new();
    for service in scopes {
        let scope = Scope {
            service: service.clone(),
            ..Scope::default()
        };
        for anomaly in bearing_metrics::cost_anomalies(ds, &scope, &none, window, now) {
            out.push(ScopedAnomaly {
                service: service.clone(),
                anomaly,
            });
        }
    }
    out
}

/// One change per anomaly; its id names the service, the metric and the
/// day, so the same anomaly is announced once however often it is seen.
pub fn anomaly_changes(intent: &Intent, found: &[ScopedAnomaly], at: DateTime<Utc>) -> Vec<Change> {
    let money = |x: f64, cur: &Option<String>| match cur {
        Some(c) => format!("{x:.2} {c}"),
        None => format!("{x:.2}"),
    };
    found
        .iter()
        .map(|f| {
            let a = &f.anomaly;
            let who = f.service.as_deref().unwrap_or("org");
            let cur = &a.currency;
            let direction = if a.observed > a.expected {
                "above"
            } else {
                "below"
            };
            let mut details = Vec::new();
            if let Some(s) = &f.service {
                details.push(("service".to_string(), s.clone()));
            }
            details.extend([
                ("metric".to_string(), ANOMALY_METRIC.to_string()),
                ("date".into(), a.date.to_string()),
                ("observed".into(), money(a.observed, cur)),
                ("expected".into(), money(a.expected, cur)),
                (
                    "expected range".into(),
                    format!("{} .. {}", money(a.low, cur), money(a.high, cur)),
                ),
            ]);
            Change {
                kind: NotificationKind::Anomaly,
                id: format!("anomaly:{who}:{ANOMALY_METRIC}:{}", a.date),
                subject: format!("{who}/{ANOMALY_METRIC}/{}", a.date),
                team: f.service.as_deref().and_then(|s| team_of(intent, s)),
                service: f.service.clone(),
                title: format!(
                    "{who}: cost on {} was {}, {direction} the expected {}",
                    a.date,
                    money(a.observed, cur),
                    money(a.expected, cur)
                ),
                details,
                at,
            }
        })
        .collect()
}

async fn put_kr_state(
    store: &DynStore,
    statuses: BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(), NotifyError> {
    store
        .put_snapshot(&Snapshot {
            name: KR_STATE.into(),
            computed_at: now,
            cursor: 0,
            body: serde_json::to_value(KrState { statuses }).unwrap_or_default(),
        })
        .await?;
    Ok(())
}

/// A key result as the scorecard shows it now.
#[derive(Debug, Clone, PartialEq)]
pub struct KrNow {
    pub status: String,
    pub objective: String,
    pub metric: String,
    pub display: String,
    pub target: String,
    pub team: Option<String>,
    pub service: Option<String>,
}

/// Every key result of the scorecard by subject (`objective/kr-<n>`, n from
/// 1 in the intent's order).
pub fn key_results(intent: &Intent, card: &Scorecard) -> BTreeMap<String, KrNow> {
    let mut out = BTreeMap::new();
    for oc in &card.objectives {
        let Some(o) = intent.objectives.iter().find(|o| o.id == oc.id) else {
            continue;
        };
        for (i, kc) in oc.key_results.iter().enumerate() {
            let kr = o.key_results.get(i);
            let scope = kr.map(|k| &k.scope);
            let service = scope.and_then(|s| s.service.clone());
            let team = scope
                .and_then(|s| s.team.clone())
                .or_else(|| service.as_deref().and_then(|s| team_of(intent, s)))
                .or_else(|| o.owner.clone());
            out.insert(
                format!("{}/kr-{}", o.id, i + 1),
                KrNow {
                    status: kc.status.name().to_string(),
                    objective: o.title.clone().unwrap_or_else(|| o.id.clone()),
                    metric: kc.metric.clone(),
                    display: kc.display.clone(),
                    target: kc.target.clone(),
                    team,
                    service,
                },
            );
        }
    }
    out
}

/// Key results whose status moved between two known states (`no_data` on
/// either side is not a change anyone can act on).
pub fn kr_changes(
    old: &BTreeMap<String, String>,
    version: &str,
    now: &BTreeMap<String, KrNow>,
    at: DateTime<Utc>,
) -> Vec<Change> {
    let no_data = Status::NoData.name();
    let mut out = Vec::new();
    for (subject, kr) in now {
        let Some(was) = old.get(subject) else {
            continue;
        };
        if *was == kr.status || was == no_data || kr.status == no_data {
            continue;
        }
        out.push(Change {
            kind: NotificationKind::KrStatus,
            id: format!("kr_status:{subject}:{was}->{}:{version}", kr.status),
            subject: subject.clone(),
            team: kr.team.clone(),
            service: kr.service.clone(),
            title: format!(
                "{} — {} is {} (was {})",
                kr.objective,
                kr.metric,
                kr.status.replace('_', " "),
                was.replace('_', " ")
            ),
            details: vec![
                ("key result".into(), subject.clone()),
                ("value".into(), kr.display.clone()),
                ("target".into(), kr.target.clone()),
                ("status".into(), format!("{was} → {}", kr.status)),
            ],
            at,
        });
    }
    out
}

/// Services the reconcile pass froze or moved to another strategy, with the
/// rules that did it and their evidence.
pub fn plan_changes(
    intent: &Intent,
    before: &[DeliveryPlan],
    changed: &[DeliveryPlan],
    checks: &[RuleCheck],
    at: DateTime<Utc>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for p in changed {
        let old = before.iter().find(|b| b.service == p.service);
        let default_strategy = intent
            .services
            .iter()
            .find(|s| s.id == p.service)
            .and_then(|s| s.delivery.as_ref())
            .map_or("direct", |d| d.strategy.name());
        let (was_frozen, was_strategy, version) = match old {
            Some(b) => (
                b.freeze,
                b.strategy.as_str(),
                b.updated_at.timestamp_millis().to_string(),
            ),
            None => (false, default_strategy, "intent".to_string()),
        };
        let mut details = vec![("service".to_string(), p.service.clone())];
        if !p.reasons.is_empty() {
            details.push(("because".into(), p.reasons.join("; ")));
        }
        for c in checks.iter().filter(|c| c.service == p.service && c.holds) {
            let vals: Vec<String> = c.values.iter().map(|v| v.display.clone()).collect();
            details.push((
                format!("rule {}", c.rule),
                format!("{} ({})", c.when, vals.join("; ")),
            ));
        }
        let team = team_of(intent, &p.service);
        if p.freeze && !was_frozen {
            out.push(Change {
                kind: NotificationKind::ServiceFrozen,
                id: format!("service_frozen:{}:{version}", p.service),
                subject: p.service.clone(),
                team: team.clone(),
                service: Some(p.service.clone()),
                title: format!(
                    "{} is frozen: deployments stop until it recovers",
                    p.service
                ),
                details: details.clone(),
                at,
            });
        }
        if p.strategy != was_strategy {
            let mut d = details;
            d.push((
                "strategy".into(),
                format!("{was_strategy} → {}", p.strategy),
            ));
            out.push(Change {
                kind: NotificationKind::StrategyChanged,
                id: format!(
                    "strategy_changed:{}:{was_strategy}->{}:{version}",
                    p.service, p.strategy
                ),
                subject: p.service.clone(),
                team,
                service: Some(p.service.clone()),
                title: format!(
                    "{} now deploys with {} (was {was_strategy})",
                    p.service, p.strategy
                ),
                details: d,
                at,
            });
        }
    }
    out
}

/// Denied decisions for a service's production environment (or an
/// environment named `production` when the service is not in the intent).
pub fn production_denies(intent: &Intent, decisions: &[(DecisionSummary, u64)]) -> Vec<Change> {
    let mut out = Vec::new();
    for (d, count) in decisions {
        if d.result != "deny" {
            continue;
        }
        let Some(env) = d.environment.as_deref() else {
            continue;
        };
        let svc = d
            .service
            .as_deref()
            .and_then(|s| intent.services.iter().find(|x| x.id == s));
        let production = svc.map_or("production", |s| s.production_env());
        if env != production {
            continue;
        }
        let name = d.service.clone().unwrap_or_else(|| "a change".into());
        let mut details = vec![
            ("decision".to_string(), d.id.clone()),
            ("environment".into(), env.to_string()),
        ];
        if !d.guardrails.is_empty() {
            details.push(("guardrails".into(), d.guardrails.join(", ")));
        }
        if *count > 1 {
            details.push(("denials that second".into(), count.to_string()));
        }
        out.push(Change {
            kind: NotificationKind::ProductionDeny,
            id: format!("production_deny:{}", d.id),
            subject: d.id.clone(),
            team: d.service.as_deref().and_then(|s| team_of(intent, s)),
            service: d.service.clone(),
            title: format!("{name}: deploy to {env} denied"),
            details,
            at: d.time,
        });
    }
    out
}

/// Waivers whose last day is within [`WAIVER_NOTICE_DAYS`] of `today`.
pub fn expiring_waivers(intent: &Intent, today: NaiveDate, at: DateTime<Utc>) -> Vec<Change> {
    let mut out = Vec::new();
    for w in &intent.waivers {
        let left = (w.expires - today).num_days();
        if !(0..=WAIVER_NOTICE_DAYS).contains(&left) {
            continue;
        }
        let scope = [
            w.scope.team.as_deref(),
            w.scope.service.as_deref(),
            w.scope.environment.as_deref(),
        ]
        .map(|x| x.unwrap_or("*"))
        .join("/");
        let team = w
            .scope
            .team
            .clone()
            .or_else(|| w.scope.service.as_deref().and_then(|s| team_of(intent, s)));
        let mut details = vec![
            ("guardrail".to_string(), w.guardrail.clone()),
            ("scope".into(), scope.clone()),
            ("owner".into(), w.owner.clone()),
            ("reason".into(), w.reason.clone()),
        ];
        if let Some(t) = &w.ticket {
            details.push(("ticket".into(), t.clone()));
        }
        out.push(Change {
            kind: NotificationKind::WaiverExpiring,
            id: format!("waiver_expiring:{}:{scope}:{}", w.guardrail, w.expires),
            subject: format!("{}@{scope}", w.guardrail),
            team,
            service: w.scope.service.clone(),
            title: format!(
                "waiver of `{}` ({scope}) expires on {} ({left} day(s) left)",
                w.guardrail, w.expires
            ),
            details,
            at,
        });
    }
    out
}

pub(crate) fn team_of(intent: &Intent, service: &str) -> Option<String> {
    intent
        .services
        .iter()
        .find(|s| s.id == service)
        .map(|s| s.team.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use bearing_adapt::reconcile::{ComparisonValue, RuleCheck};
    use bearing_events::{DecisionSummary, DeliveryPlan};
    use chrono::TimeZone;

    use super::*;

    const INTENT: &str = r#"
version: 1
teams:
  - { id: payments, contact: chat }
  - { id: search-team }
services:
  - { id: checkout, team: payments, environments: [staging, prod], delivery: { strategy: direct } }
  - { id: search, team: search-team }
notifications:
  destinations:
    - { id: chat, kind: slack, url_env: CHAT_URL }
    - { id: audit, kind: webhook, url: "https://audit.example.com/h", secret_env: S }
  routes:
    - { to: audit, events: [production_deny], services: [checkout] }
"#;

    fn intent() -> Intent {
        bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
            .unwrap()
            .intent
    }

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn plan(freeze: bool, strategy: &str, at: i64) -> DeliveryPlan {
        DeliveryPlan {
            service: "checkout".into(),
            strategy: strategy.into(),
            freeze,
            extra_gates: vec![],
            reasons: vec!["cfr-high".into()],
            updated_at: t(at),
        }
    }

    fn check() -> RuleCheck {
        RuleCheck {
            rule: "cfr-high".into(),
            service: "checkout".into(),
            when: "dora.change_failure_rate(30d) > 15%".into(),
            holds: true,
            values: vec![ComparisonValue {
                metric: "dora.change_failure_rate".into(),
                window_seconds: 30 * 86_400,
                cmp: ">".into(),
                threshold: 0.15,
                value: Some(0.4),
                samples: 20,
                too_few_samples: false,
                holds: true,
                records: vec![],
                records_total: 0,
                display: "dora.change_failure_rate(30d) = 40% > 15%".into(),
            }],
        }
    }

    #[test]
    fn a_kev_update_is_announced_for_the_service_with_its_evidence_once_a_week() {
        let action = |origin: &str, at: i64| Action {
            id: "threat-kev-2025.08.25-checkout".into(),
            created_at: t(at),
            service: Some("checkout".into()),
            origin: origin.into(),
            summary: String::new(),
            status: bearing_events::ActionStatus::Applied,
            metric: "security.kev_open".into(),
            baseline: None,
            evaluate_at: None,
            outcome: None,
            evidence: serde_json::json!({"catalog": "2025.08.25", "findings": [
                {"cve": "CVE-2025-48384", "package": "git", "target": "acme/checkout", "severity": "high",
                 "date_added": "2025-08-25", "due_date": "2025-09-15", "ransomware": "Unknown"}]}),
            change: None,
        };
        let c = known_exploited(
            &intent(),
            &[action("threat-feed", 0), action("rule", 0)],
            t(60),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind, NotificationKind::KnownExploited);
        assert_eq!(c[0].id, "known_exploited:threat-kev-2025.08.25-checkout");
        assert_eq!(c[0].team.as_deref(), Some("payments"));
        assert_eq!(
            c[0].details[1],
            (
                "CVE-2025-48384".to_string(),
                "high git in acme/checkout: added to KEV on 2025-08-25, due 2025-09-15, ransomware Unknown".to_string()
            )
        );
        assert!(known_exploited(&intent(), &[action("threat-feed", 0)], t(8 * 24 * 60)).is_empty());
    }

    #[test]
    fn a_freeze_and_a_strategy_change_carry_the_rule_and_its_evidence() {
        let i = intent();
        let before = [plan(false, "direct", 0)];
        let after = [plan(true, "canary", 5)];
        let c = plan_changes(&i, &before, &after, &[check()], t(5));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].kind, NotificationKind::ServiceFrozen);
        assert_eq!(c[1].kind, NotificationKind::StrategyChanged);
        // The id names the plan the change left, not when it was seen.
        let version = t(0).timestamp_millis();
        assert_eq!(c[0].id, format!("service_frozen:checkout:{version}"));
        assert_eq!(
            c[1].id,
            format!("strategy_changed:checkout:direct->canary:{version}")
        );
        let evidence: Vec<_> = c[0].details.iter().map(|(_, v)| v.as_str()).collect();
        assert!(
            evidence.iter().any(|v| v.contains("40% > 15%")),
            "{evidence:?}"
        );
        assert_eq!(c[0].team.as_deref(), Some("payments"));
        // Unchanged plans say nothing; a first plan compares with the intent.
        assert!(plan_changes(&i, &after, &after, &[], t(6)).is_empty());
        let first = plan_changes(&i, &[], &[plan(false, "canary", 5)], &[], t(5));
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].id,
            "strategy_changed:checkout:direct->canary:intent"
        );
    }

    fn summary(id: &str, service: &str, env: &str, result: &str) -> (DecisionSummary, u64) {
        (
            DecisionSummary {
                id: id.into(),
                time: t(1),
                service: Some(service.into()),
                environment: Some(env.into()),
                result: result.into(),
                waived: false,
                guardrails: vec!["freeze".into()],
            },
            1,
        )
    }

    #[test]
    fn only_denies_in_the_services_production_are_notified_and_routed() {
        let i = intent();
        let d = [
            summary("d1", "checkout", "prod", "deny"),
            summary("d2", "checkout", "staging", "deny"),
            summary("d3", "checkout", "prod", "allow"),
            summary("d4", "search", "production", "deny"),
        ];
        let c = production_denies(&i, &d);
        let ids: Vec<_> = c.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["production_deny:d1", "production_deny:d4"]);
        // checkout: its team's contact and the audit route; search: neither.
        let to = |c: &Change| -> Vec<String> {
            crate::route(&i, c).iter().map(|d| d.id.clone()).collect()
        };
        assert_eq!(to(&c[0]), ["chat", "audit"]);
        assert!(to(&c[1]).is_empty());
    }

    #[test]
    fn key_result_changes_skip_no_data_and_unknown_ones() {
        let kr = |status: &str| KrNow {
            status: status.into(),
            objective: "o".into(),
            metric: "m".into(),
            display: "1".into(),
            target: ">= 2".into(),
            team: None,
            service: None,
        };
        let old = BTreeMap::from([
            ("o/kr-1".to_string(), "met".to_string()),
            ("o/kr-2".to_string(), "no_data".to_string()),
            ("o/kr-3".to_string(), "at_risk".to_string()),
        ]);
        let now = BTreeMap::from([
            ("o/kr-1".to_string(), kr("off_track")),
            ("o/kr-2".to_string(), kr("off_track")),
            ("o/kr-3".to_string(), kr("at_risk")),
            ("o/kr-4".to_string(), kr("off_track")),
        ]);
        let c = kr_changes(&old, "7", &now, t(0));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].id, "kr_status:o/kr-1:met->off_track:7");
    }
}
