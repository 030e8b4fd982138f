//! Properties over generated histories: another service's events never
//! change a service's metrics; lead time is never negative; metrics do not
//! depend on arrival order.

use std::collections::BTreeMap;
use std::path::Path;

use bearing_events::{Deployment, Event, IncidentStatus, Link, Payload, Rollback, Status};
use bearing_intent::{Duration, Intent, Scope};
use bearing_metrics::{Dataset, MetricValue, evaluate, explain};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use crate::fixture::{change, commit, cost, ev, incident, point};

const INTENT: &str = r#"
version: 1
teams: [{ id: a }, { id: b }]
services:
  - id: alpha
    team: a
    environments: [staging, production]
    cost: { match: { tags: { service: alpha } }, monthly_budget: 100 EUR }
    slos: [{ id: avail, target: 99%, window: 7d, sli: { good: ok, total: all } }]
  - id: beta
    team: b
    environments: [staging, production]
    cost: { match: { tags: { service: beta } } }
    slos: [{ id: avail, target: 99%, window: 7d, sli: { good: ok, total: all } }]
settings: { timezone: America/New_York }
"#;

fn intent() -> Intent {
    bearing_intent::load_str(Path::new("bearing.yaml"), INTENT)
        .unwrap()
        .intent
}

/// splitmix64: a tiny deterministic generator driven by the proptest seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn at(minutes: u64) -> String {
    // Minutes after 10-01 00:00, as the fixture's "MM-DD HH:MM".
    let t = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(minutes as i64);
    t.format("%m-%d %H:%M").to_string()
}

fn time(minutes: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes as i64)
}

const SPAN: u64 = 30 * 24 * 60;

/// A random but well-formed history of one service.
fn history(seed: u64, svc: &str) -> Vec<Event> {
    let mut r = Rng(seed);
    let mut out = Vec::new();
    let mut shas: Vec<String> = Vec::new();
    for i in 0..(3 + r.below(8)) {
        let n = 1 + r.below(3);
        let mut commits = Vec::new();
        let merged = r.below(SPAN);
        for j in 0..n {
            let sha = format!("{svc}-c{i}-{j}");
            // Sometimes authored after the deployment that ships it (clock skew).
            let authored = merged.saturating_sub(r.below(3000)) + r.below(2) * r.below(600);
            let parents: Vec<&str> = if r.below(3) == 0 {
                Vec::new()
            } else {
                shas.last().map(String::as_str).into_iter().collect()
            };
            commits.push(commit(&sha, &at(authored), &parents));
            shas.push(sha);
        }
        let squash = (r.below(2) == 0).then(|| format!("{svc}-sq{i}"));
        let labels: &[&str] = if r.below(5) == 0 { &["hotfix"] } else { &[] };
        out.push(change(
            &format!("{svc}:chg{i}"),
            &at(merged),
            svc,
            commits,
            squash.as_deref(),
            labels,
        ));
        if let Some(s) = squash {
            shas.push(s);
        }
    }
    for i in 0..(2 + r.below(10)) {
        let env = if r.below(3) == 0 {
            "staging"
        } else {
            "production"
        };
        let head = shas[r.below(shas.len() as u64) as usize].clone();
        let listed: Vec<String> = (0..r.below(3))
            .map(|_| shas[r.below(shas.len() as u64) as usize].clone())
            .collect();
        let mut e = ev(
            &format!("{svc}:dep{i}"),
            &at(r.below(SPAN)),
            svc,
            Some(env),
            Payload::Deployment(Deployment {
                deployment_id: format!("{svc}-d{i}"),
                version: None,
                commit: Some(head),
                commits: listed,
                status: if r.below(6) == 0 {
                    Status::Failure
                } else {
                    Status::Success
                },
                started_at: None,
                finished_at: None,
                strategy: None,
                labels: if r.below(5) == 0 {
                    vec!["hotfix".into()]
                } else {
                    Vec::new()
                },
            }),
        );
        if r.below(6) == 0 {
            e.links.push(Link {
                rel: "incident".into(),
                target: format!("{svc}-inc0"),
            });
        }
        out.push(e);
    }
    for i in 0..r.below(3) {
        out.push(ev(
            &format!("{svc}:rb{i}"),
            &at(r.below(SPAN)),
            svc,
            Some("production"),
            Payload::Rollback(Rollback {
                rollback_id: format!("{i}"),
                deployment_id: (r.below(2) == 0).then(|| format!("{svc}-d{}", r.below(4))),
                from_version: None,
                to_version: None,
            }),
        ));
    }
    for i in 0..r.below(4) {
        let id = format!("{svc}-inc{i}");
        let open = r.below(SPAN);
        out.push(incident(
            &id,
            "open",
            &at(open),
            svc,
            IncidentStatus::Opened,
        ));
        if r.below(2) == 0 {
            out.push(incident(
                &id,
                "ack",
                &at(open + r.below(120)),
                svc,
                IncidentStatus::Acknowledged,
            ));
        }
        if r.below(2) == 0 {
            out.push(incident(
                &id,
                "res",
                &at(open + r.below(900)),
                svc,
                IncidentStatus::Resolved,
            ));
        }
    }
    for d in 0..30 {
        if r.below(4) != 0 {
            let amount = (r.below(10_000) as f64) / 100.0;
            out.push(cost(
                &format!("{svc}:cost{d}"),
                time(d * 1440 + r.below(1440)),
                amount,
                &[("service", svc)],
                None,
            ));
        }
        let total = 100.0 + r.below(100) as f64;
        let good = total - r.below(3) as f64;
        out.push(point(
            &format!("{svc}:ok{d}"),
            &at(d * 1440 + 700),
            svc,
            "ok",
            good,
        ));
        out.push(point(
            &format!("{svc}:all{d}"),
            &at(d * 1440 + 700),
            svc,
            "all",
            total,
        ));
    }
    out
}

fn shuffle(mut v: Vec<Event>, seed: u64) -> Vec<Event> {
    let mut r = Rng(seed ^ 0xDEAD_BEEF);
    for i in (1..v.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

fn all_metrics(ds: &Dataset, scope: &Scope) -> Vec<MetricValue> {
    let now = time(SPAN);
    bearing_intent::catalog::names()
        .chain(["business.ok"])
        .map(|m| evaluate(ds, m, scope, &BTreeMap::new(), Duration::from_days(20), now))
        .collect()
}

fn alpha() -> Scope {
    Scope {
        service: Some("alpha".into()),
        ..Scope::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Selection gives the same quantile as sorting (the pipeline report uses it).
    #[test]
    fn select_quantile_matches_quantile(
        values in proptest::collection::vec(-1e6f64..1e6, 1..200),
        q in 0.0f64..=1.0,
    ) {
        let mut a = values.clone();
        let mut b = values;
        prop_assert_eq!(
            bearing_metrics::stats::quantile(&mut a, q),
            bearing_metrics::stats::select_quantile(&mut b, q)
        );
    }

    #[test]
    fn other_services_never_change_a_services_metrics(a in any::<u64>(), b in any::<u64>()) {
        let intent = intent();
        let alone = Dataset::new(&intent, history(a, "alpha"), Vec::new(), Vec::new());
        let mut both_events = history(a, "alpha");
        both_events.extend(history(b, "beta"));
        let both = Dataset::new(&intent, shuffle(both_events, b), Vec::new(), Vec::new());
        prop_assert_eq!(all_metrics(&alone, &alpha()), all_metrics(&both, &alpha()));
    }

    #[test]
    fn lead_time_is_never_negative(a in any::<u64>()) {
        let ds = Dataset::new(&intent(), history(a, "alpha"), Vec::new(), Vec::new());
        for env in ["production", "staging"] {
            let scope = Scope { environment: Some(env.into()), ..alpha() };
            let x = explain(&ds, "dora.lead_time.p50", &scope, Duration::from_days(40), time(SPAN));
            for r in &x.records {
                prop_assert!(r.value.is_none_or(|v| v >= 0.0), "{:?}", r);
            }
            prop_assert!(x.value.value.is_none_or(|v| v >= 0.0));
        }
    }

    #[test]
    fn metrics_do_not_depend_on_arrival_order(a in any::<u64>(), b in any::<u64>(), s in any::<u64>()) {
        let intent = intent();
        let mut events = history(a, "alpha");
        events.extend(history(b, "beta"));
        let bulk = Dataset::new(&intent, events.clone(), Vec::new(), Vec::new());
        let mut incremental = Dataset::new(&intent, Vec::new(), Vec::new(), Vec::new());
        for e in shuffle(events, s) {
            incremental.push(e);
        }
        for scope in [alpha(), Scope::default(), Scope { team: Some("b".into()), ..Scope::default() }] {
            prop_assert_eq!(all_metrics(&bulk, &scope), all_metrics(&incremental, &scope));
        }
    }
}
