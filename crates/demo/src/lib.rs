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

    /// The feeds go through the real parsers; the newer KEV catalog adds
    /// exactly the late CVE; every CVE of the findings has an EPSS score.
    #[test]
    fn threat_feeds_parse_and_cover_the_findings() {
        use bearing_events::formats::threat::{Feed, ThreatIntel, parse_feed};
        let org = generate(7, now());
        let parse = |b: &[u8]| parse_feed(b).unwrap_or_else(|e| panic!("{e}"));
        let mut intel = ThreatIntel::default();
        let first = intel.apply(parse(&org.feeds.kev_older));
        assert_eq!(first.version, "2025.06.10");
        assert_eq!(first.added, ["CVE-2023-44487"]);
        let second = intel.apply(parse(&org.feeds.kev_newer));
        assert_eq!(
            (second.applied, second.version.as_str()),
            (true, "2025.08.25")
        );
        assert_eq!(second.added, [threat::LATE_KEV_CVE]);
        let Feed::Epss(epss) = parse(&org.feeds.epss) else {
            panic!("not EPSS")
        };
        assert_eq!(epss.model_version, "demo");
        let cves: BTreeSet<&str> = org
            .events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Finding(f) if f.rule_id.starts_with("CVE-") => Some(f.rule_id.as_str()),
                _ => None,
            })
            .collect();
        let scored: BTreeSet<&str> = epss.scores.keys().map(String::as_str).collect();
        assert_eq!(scored, cves);
        // Skewed low like FIRST's: most below 0.02, a few at 0.5 or more.
        let n = epss.scores.len() as f64;
        let share =
            |f: &dyn Fn(f64) -> bool| epss.scores.values().filter(|s| f(s.epss)).count() as f64 / n;
        assert!(share(&|e| e < 0.02) > 0.6, "{}", share(&|e| e < 0.02));
        let high = share(&|e| e >= 0.5);
        assert!(high > 0.0 && high < 0.1, "{high}");
        // Percentile: the share of the file's scores at or below the score.
        for s in epss.scores.values() {
            let at_or_below = share(&|e| e <= s.epss);
            assert!((s.percentile - at_or_below).abs() < 1e-5, "{s:?}");
        }
    }

    /// The late KEV CVE is open in `web-frontend` from 8 to 29 days ago (a
    /// high: within its 30-day SLA until KEV's 7 days apply), and
    /// `api-gateway`'s known-exploited CVE likewise; both are internet-facing.
    #[test]
    fn kev_findings_are_open_in_internet_facing_services() {
        let org = generate(7, now());
        let intent = bearing_intent::load_str(Path::new("bearing.yaml"), &org.intent_yaml)
            .unwrap()
            .intent;
        for (service, cve) in [
            (threat::LATE_KEV_SERVICE, threat::LATE_KEV_CVE),
            ("api-gateway", "CVE-2023-44487"),
        ] {
            let seen: Vec<DateTime<Utc>> = org
                .events
                .iter()
                .filter(|e| {
                    e.service.as_deref() == Some(service)
                        && matches!(&e.payload, Payload::Finding(f) if f.rule_id == cve)
                })
                .map(|e| e.time)
                .collect();
            let first = seen.iter().min().unwrap();
            let age = now() - *first;
            assert!(
                age > chrono::Duration::days(8) && age < chrono::Duration::days(29),
                "{service}: {age}"
            );
            // seen in the last weekly scan: still open
            assert!(now() - *seen.iter().max().unwrap() < chrono::Duration::days(7));
            let svc = intent.services.iter().find(|s| s.id == service).unwrap();
            assert_eq!(format!("{:?}", svc.exposure).to_lowercase(), "internet");
        }
        let sla = intent
            .settings
            .as_ref()
            .and_then(|s| s.security_sla.as_ref())
            .unwrap();
        assert_eq!(sla.kev.map(|d| d.as_secs()), Some(7 * 86_400));
    }

    /// The excerpt is CISA's entries unchanged, and the older catalog holds
    /// exactly those of them that the real 2025.06.10 catalog has (needs
    /// `BEARING_FIXTURES`; skipped without it).
    #[test]
    fn kev_excerpt_is_the_real_catalog() {
        let Ok(dir) = std::env::var("BEARING_FIXTURES") else {
            eprintln!("BEARING_FIXTURES unset: skipped");
            return;
        };
        let org = generate(7, now());
        let read = |name: &str| -> serde_json::Value {
            let p = Path::new(&dir).join("threat-intel").join(name);
            serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
        };
        for (ours, real) in [
            (&org.feeds.kev_newer, read("kev-2025-08-25.json")),
            (&org.feeds.kev_older, read("kev-2025-06-10.json")),
        ] {
            let ours: serde_json::Value = serde_json::from_slice(ours).unwrap();
            assert_eq!(ours["catalogVersion"], real["catalogVersion"]);
            assert_eq!(ours["dateReleased"], real["dateReleased"]);
            let real_list = real["vulnerabilities"].as_array().unwrap();
            for v in ours["vulnerabilities"].as_array().unwrap() {
                assert!(real_list.contains(v), "{v} differs from CISA's");
            }
            // the excerpt of the newer catalog, less what the older lacks
            let newer: serde_json::Value = serde_json::from_slice(&org.feeds.kev_newer).unwrap();
            let expected: Vec<&serde_json::Value> = newer["vulnerabilities"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| real_list.iter().any(|r| r["cveID"] == v["cveID"]))
                .collect();
            let got: Vec<&serde_json::Value> =
                ours["vulnerabilities"].as_array().unwrap().iter().collect();
            assert_eq!(got, expected);
        }
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
