//! A realistic demo organisation and its delivery history, for `bearing demo`.
//!
//! [`generate`] builds, from a seed and a clock, an intent (`bearing.yaml`
//! text) and 90 days of events for four teams and thirteen services. The
//! history is made to tell the story of Bearing's loop:
//!
//! - lead times with a long tail (log-normal), more deployments on weekdays;
//! - incidents caused by deployments (linked with `caused_by`), some rolled
//!   back, some fixed by a `hotfix` deployment;
//! - `payments-api` fails more than 15% of its production deployments in the
//!   last 30 days, so reconcile switches it to canary;
//! - `search` spends its error budget (good/total request counts), so
//!   reconcile freezes it;
//! - FOCUS-like cost rows tagged `service`/`team` with weekly seasonality and
//!   one anomaly (`recommendations`, a runaway batch job);
//! - findings from Trivy, Grype and a SARIF code scanner, fixed over
//!   successive weekly scans, a few left open past their SLA;
//! - threat feeds ([`threat`]): two versions of CISA's KEV catalog (a real
//!   excerpt) and made-up EPSS scores; `api-gateway` has a known-exploited
//!   CVE open from the start, and the newer catalog makes `web-frontend`'s
//!   open git CVE known exploited, so its next production decision denies;
//! - `business.checkout_conversion` rising after the `one-click-checkout`
//!   feature flag is released.
//!
//! Everything is deterministic for a given `(seed, now)`; event ids depend on
//! the seed only through the history itself, so a re-run with the same seed
//! and clock is an idempotent replay.

mod history;
mod intent;
pub mod threat;

use bearing_events::Event;
use chrono::{DateTime, Utc};

pub use intent::{SERVICES, ServiceSpec, TEAMS};

/// The demo organisation: its intent and its history.
#[derive(Debug, Clone)]
pub struct DemoOrg {
    /// A valid `bearing.yaml`.
    pub intent_yaml: String,
    /// 90 days of events, ordered by time.
    pub events: Vec<Event>,
    /// The threat feeds to ingest (KEV catalogs, EPSS scores).
    pub feeds: threat::Feeds,
}

/// Days of history generated.
pub const DAYS: i64 = 90;

/// The service whose change failure rate is over 15% (reconcile → canary).
pub const FAILING_SERVICE: &str = "payments-api";
/// The service whose error budget is spent (reconcile → freeze).
pub const BURNING_SERVICE: &str = "search";
/// The service with a cost anomaly.
pub const COSTLY_SERVICE: &str = "recommendations";
/// The feature flag whose release moves the business KPI.
pub const FEATURE_FLAG: &str = "one-click-checkout";

/// Generates the demo organisation as of `now`.
pub fn generate(seed: u64, now: DateTime<Utc>) -> DemoOrg {
    let events = history::generate(seed, now);
    DemoOrg {
        intent_yaml: intent::yaml(),
        feeds: threat::feeds(&events, now),
        events,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use bearing_events::{Kind, Payload, Status};
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    #[test]
    fn intent_is_valid_and_covers_all_layers() {
        let org = generate(7, now());
        let loaded = bearing_intent::load_str(Path::new("bearing.yaml"), &org.intent_yaml)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", org.intent_yaml));
        let intent = loaded.intent;
        assert!(intent.teams.len() >= 4);
        assert!(intent.services.len() >= 12);
        let layers: BTreeSet<String> = intent
            .objectives
            .iter()
            .map(|o| format!("{:?}", o.layer))
            .collect();
        assert_eq!(layers.len(), 4, "{layers:?}");
        assert_eq!(intent.adaptation.len(), 2);
        for kr in intent.objectives.iter().flat_map(|o| &o.key_results) {
            assert!(
                bearing_intent::catalog::lookup(&kr.metric).is_some(),
                "unknown metric {}",
                kr.metric
            );
        }
    }

    #[test]
    fn deterministic_and_within_the_window() {
        let a = generate(7, now());
        let b = generate(7, now());
        assert_eq!(a.events, b.events);
        let c = generate(8, now());
        assert_ne!(a.events, c.events);
        let start = now() - chrono::Duration::days(DAYS + 1);
        let mut ids = BTreeSet::new();
        for e in &a.events {
            assert!(e.time <= now() && e.time >= start, "{} at {}", e.id, e.time);
            assert!(ids.insert(e.id.clone()), "duplicate id {}", e.id);
        }
        assert!(a.events.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn every_kind_and_scanner_is_present() {
        let org = generate(1, now());
        let kinds: BTreeSet<Kind> = org.events.iter().map(Event::kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "{kinds:?}");
        let scanners: BTreeSet<&str> = org
            .events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Finding(f) => Some(f.scanner.as_str()),
                _ => None,
            })
            .collect();
        assert!(scanners.len() >= 3, "{scanners:?}");
    }

    /// The failure rate of production deployments of `service` in the last 30
    /// days, counting deployments an incident links to or a rollback names.
    fn failure_rate_30d(org: &DemoOrg, service: &str) -> f64 {
        let since = now() - chrono::Duration::days(30);
        let mut failed = BTreeSet::new();
        for e in &org.events {
            match &e.payload {
                Payload::Incident(_) => {
                    for l in &e.links {
                        if l.rel == "caused_by" {
                            failed.insert(l.target.clone());
                        }
                    }
                }
                Payload::Rollback(r) => {
                    if let Some(d) = &r.deployment_id {
                        failed.insert(d.clone());
                    }
                }
                _ => {}
            }
        }
        let deploys: Vec<&Event> = org
            .events
            .iter()
            .filter(|e| {
                e.service.as_deref() == Some(service)
                    && e.environment.as_deref() == Some("production")
                    && e.time >= since
                    && matches!(&e.payload, Payload::Deployment(d) if d.status == Status::Success)
            })
            .collect();
        let n = deploys.len() as f64;
        let f = deploys.iter().filter(|e| failed.contains(&e.id)).count() as f64;
        f / n
    }

    #[test]
    fn the_story_holds() {
        for seed in [1, 2, 3, 42] {
            let org = generate(seed, now());
            let bad = failure_rate_30d(&org, FAILING_SERVICE);
            assert!(bad > 0.15, "seed {seed}: {FAILING_SERVICE} cfr {bad}");
            for s in SERVICES.iter().filter(|s| s.id != FAILING_SERVICE) {
                let r = failure_rate_30d(&org, s.id);
                assert!(r < 0.15, "seed {seed}: {} cfr {r}", s.id);
            }
            // Error budget of `search` over 28 days is spent, others are not.
            let since = now() - chrono::Duration::days(28);
            let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
            for e in org.events.iter().filter(|e| e.time > since) {
                if let Payload::MetricPoint(m) = &e.payload {
                    *sums
                        .entry((e.service.clone().unwrap_or_default(), m.name.clone()))
                        .or_default() += m.value;
                }
            }
            for s in SERVICES.iter().filter(|s| s.slo.is_some()) {
                let good = sums[&(s.id.to_string(), format!("{}.requests.good", s.id))];
                let total = sums[&(s.id.to_string(), format!("{}.requests.total", s.id))];
                let target = s.slo.unwrap_or_default();
                let remaining = 1.0 - (total - good) / (total * (1.0 - target));
                if s.id == BURNING_SERVICE {
                    assert!(remaining < 0.0, "seed {seed}: {} {remaining}", s.id);
                } else {
                    assert!(remaining > 0.2, "seed {seed}: {} {remaining}", s.id);
                }
            }
        }
    }

    #[test]
    fn incidents_link_to_deployments_that_exist() {
        let org = generate(5, now());
        let ids: BTreeSet<&str> = org.events.iter().map(|e| e.id.as_str()).collect();
        let mut linked = 0;
        for e in &org.events {
            if let Payload::Incident(_) = &e.payload {
                for l in e.links.iter().filter(|l| l.rel == "caused_by") {
                    assert!(ids.contains(l.target.as_str()), "{}", l.target);
                    linked += 1;
                }
            }
        }
        assert!(linked > 20, "{linked}");
    }

    #[test]
    fn conversion_rises_after_the_flag() {
        let org = generate(9, now());
        let flag_time = org
            .events
            .iter()
            .find(|e| matches!(&e.payload, Payload::FeatureFlag(f) if f.flag == FEATURE_FLAG && f.enabled))
            .map(|e| e.time)
            .unwrap();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for e in &org.events {
            if let Payload::MetricPoint(m) = &e.payload
                && m.name == "business.checkout_conversion"
            {
                if e.time < flag_time {
                    before.push(m.value);
                } else {
                    after.push(m.value);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&after) > mean(&before) + 0.003);
        assert!(mean(&before) < 0.032 && mean(&after) > 0.032);
    }
}
