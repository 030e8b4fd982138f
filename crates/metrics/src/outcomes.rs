//! Outcomes: the per-service figures guardrails (`data.bearing.outcomes`)
//! and reconcile read. Field names are a contract with the guard crate.

use std::collections::BTreeMap;

use bearing_intent::{Duration, Intent, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, ts};
use crate::engine::evaluate_quiet;
use crate::security::{open_age, past_sla};
use crate::slo::{BurnAlert, burn_alerts, service_budget};

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

/// Sample counts behind a service's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeSamples {
    /// Successful production deployments in the last 30 days.
    pub deployments: u64,
    /// SLO metric points read over the SLO windows.
    pub slo_events: u64,
}

/// One service's live outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// Minimum over the service's SLOs.
    pub error_budget_remaining: Option<f64>,
    /// Over the last 30 days.
    pub change_failure_rate: Option<f64>,
    pub deployment_frequency_per_day: Option<f64>,
    pub lead_time_p50_seconds: Option<f64>,
    /// Month to date.
    pub monthly_cost: Option<f64>,
    pub monthly_budget: Option<f64>,
    pub forecast_monthly_cost: Option<f64>,
    /// Forecast / budget.
    pub spend_vs_budget: Option<f64>,
    pub currency: Option<String>,
    pub findings_past_sla: SeverityCounts,
    pub open_findings: SeverityCounts,
    pub samples: OutcomeSamples,
    /// Open findings known to be exploited (KEV) or with an EPSS score of
    /// at least [`THREAT_EPSS_FLOOR`], known exploited first, then by score:
    /// what the `vulnerabilities` guardrail's `deny` reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threats: Vec<ThreatFinding>,
    /// Multi-window burn-rate checks that are firing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub burn_alerts: Vec<BurnAlert>,
}

/// The lowest EPSS score an open finding needs to be listed in a service's
/// `threats` (guardrails cannot deny from a lower one).
pub const THREAT_EPSS_FLOOR: f64 = 0.1;

/// An open finding with a threat, as guardrails read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreatFinding {
    /// The CVE.
    pub id: String,
    pub package: String,
    pub target: String,
    pub severity: String,
    /// The KEV entry's `dateAdded` (`YYYY-MM-DD`), when known exploited.
    #[serde(default)]
    pub kev_added: Option<String>,
    #[serde(default)]
    pub kev_due: Option<String>,
    #[serde(default)]
    pub ransomware: Option<String>,
    #[serde(default)]
    pub epss: Option<f64>,
}

/// Outcomes of every service in the intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    pub generated_at: DateTime<Utc>,
    pub services: BTreeMap<String, ServiceOutcome>,
}

const WINDOW: Duration = Duration::from_days(30);

/// Computes [`Outcomes`] for every service the intent declares.
pub fn outcomes(intent: &Intent, ds: &Dataset, now: DateTime<Utc>) -> Outcomes {
    let none = BTreeMap::new();
    let to = ts(now);
    let mut services = BTreeMap::new();
    for svc in &intent.services {
        let scope = Scope {
            service: Some(svc.id.clone()),
            ..Scope::default()
        };
        let get = |m: &str| evaluate_quiet(ds, m, &scope, &none, WINDOW, now);
        let cfr = get("dora.change_failure_rate");
        let freq = get("dora.deployment_frequency");
        let lead = get("dora.lead_time.p50");
        let monthly = get("cost.monthly");
        let forecast = get("cost.forecast");
        let budget = svc.cost.as_ref().and_then(|c| c.monthly_budget.as_ref());
        let (mut open, mut past) = (SeverityCounts::default(), SeverityCounts::default());
        let mut slo_events = 0;
        let mut threats = Vec::new();
        if let Some(s) = ds.services.get(&svc.id) {
            for &i in &ds.data[s as usize].findings {
                let f = &ds.findings[i as usize];
                let Some(age) = open_age(ds, f, to) else {
                    continue;
                };
                let slot = |c: &mut SeverityCounts| {
                    match f.severity {
                        bearing_events::Severity::Critical => Some(&mut c.critical),
                        bearing_events::Severity::High => Some(&mut c.high),
                        bearing_events::Severity::Medium => Some(&mut c.medium),
                        bearing_events::Severity::Low => Some(&mut c.low),
                        _ => None,
                    }
                    .map(|x| *x += 1)
                };
                slot(&mut open);
                if past_sla(ds, f, age) {
                    slot(&mut past);
                }
                let t = ds.threat_of(f);
                if t.kev.is_some() || t.epss.is_some_and(|e| e >= THREAT_EPSS_FLOOR) {
                    let mut parts = f.key.splitn(3, '|');
                    threats.push(ThreatFinding {
                        id: parts.next().unwrap_or_default().to_owned(),
                        package: parts.next().unwrap_or_default().to_owned(),
                        target: parts.next().unwrap_or_default().to_owned(),
                        severity: f.severity.name().to_owned(),
                        kev_added: t.kev.as_ref().map(|k| k.date_added.to_string()),
                        kev_due: t
                            .kev
                            .as_ref()
                            .and_then(|k| k.due_date.map(|d| d.to_string())),
                        ransomware: t.kev.as_ref().map(|k| k.ransomware.clone()),
                        epss: t.epss,
                    });
                }
            }
            slo_events = service_budget(ds, s, to).1;
        }
        let error_budget_remaining = ds
            .services
            .get(&svc.id)
            .and_then(|s| service_budget(ds, s, to).0);
        let monthly_budget = budget.map(|m| m.amount);
        let spend_vs_budget = forecast
            .value
            .zip(monthly_budget)
            .and_then(|(f, b)| (b > 0.0).then(|| f / b));
        services.insert(
            svc.id.clone(),
            ServiceOutcome {
                error_budget_remaining,
                change_failure_rate: cfr.value,
                deployment_frequency_per_day: freq.value,
                lead_time_p50_seconds: lead.value,
                monthly_cost: monthly.value,
                monthly_budget,
                forecast_monthly_cost: forecast.value,
                spend_vs_budget,
                currency: budget
                    .map(|m| m.currency.clone())
                    .or(monthly.currency)
                    .or(forecast.currency),
                findings_past_sla: past,
                open_findings: open,
                samples: OutcomeSamples {
                    deployments: freq.samples as u64,
                    slo_events: slo_events as u64,
                },
                threats: {
                    threats.sort_by(|a: &ThreatFinding, b: &ThreatFinding| {
                        b.kev_added
                            .is_some()
                            .cmp(&a.kev_added.is_some())
                            .then(b.epss.unwrap_or(0.0).total_cmp(&a.epss.unwrap_or(0.0)))
                            .then(
                                (&a.id, &a.package, &a.target).cmp(&(&b.id, &b.package, &b.target)),
                            )
                    });
                    threats
                },
                burn_alerts: burn_alerts(ds, &svc.id, now)
                    .into_iter()
                    .filter(|a| a.firing)
                    .collect(),
            },
        );
    }
    Outcomes {
        generated_at: now,
        services,
    }
}
