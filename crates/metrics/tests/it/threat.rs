//! Threat-aware security on real scanner reports and the real KEV catalogs
//! (`$BEARING_FIXTURES`), with the in-repo EPSS CSV: every open finding's KEV
//! entry and EPSS score are checked against the files read independently
//! here, its priority against the formula of docs/metrics.md worked out here,
//! and the KEV, EPSS and SLA figures against counts made here from the
//! reports' own findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bearing_events::formats::threat::{ThreatIntel, parse_feed};
use bearing_events::{Format, ParseContext, Payload};
use bearing_intent::{Duration, Scope};
use bearing_metrics::Dataset;
use bearing_metrics::threat::priorities;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("BEARING_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("BEARING_FIXTURES is not set: skipping the threat-intel tests");
            None
        }
    }
}

fn in_repo(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../bearing/tests/threat")
        .join(name)
}

fn read(p: &PathBuf) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn intent(extra: &str) -> bearing_intent::Intent {
    let text = format!(
        r#"
version: 1
teams: [{{id: t}}]
services:
  - {{id: web, team: t, tier: critical, exposure: internet}}
  - {{id: batch, team: t}}
  - {{id: legacy, team: t, tier: experimental, exposure: isolated}}
  - {{id: checkout, team: t, tier: critical, exposure: internet}}
{extra}
"#
    );
    bearing_intent::load_str(std::path::Path::new("bearing.yaml"), &text)
        .unwrap()
        .intent
}

fn report(
    format: Format,
    path: &PathBuf,
    service: &str,
    now: DateTime<Utc>,
) -> Vec<bearing_events::Event> {
    let mut ctx = ParseContext::new(now);
    ctx.service = Some(service.into());
    bearing_events::parse(format, &read(path), &ctx).unwrap()
}

/// The KEV catalog as the file says it: CVE → entry.
fn kev_json(p: &PathBuf) -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_slice(&read(p)).unwrap();
    v["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["cveID"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

/// The EPSS CSV read by hand: CVE → (score, percentile).
fn epss_csv(p: &PathBuf) -> BTreeMap<String, (f64, f64)> {
    String::from_utf8(read(p))
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                (c[1].parse().unwrap(), c[2].parse().unwrap()),
            )
        })
        .collect()
}

fn threat(kev: &PathBuf, epss: Option<&PathBuf>) -> ThreatIntel {
    let mut t = ThreatIntel::default();
    t.apply(parse_feed(&read(kev)).unwrap());
    if let Some(e) = epss {
        t.apply(parse_feed(&read(e)).unwrap());
    }
    t
}

#[test]
fn findings_are_enriched_from_the_catalog_and_prioritised_by_the_formula() {
    let Some(root) = fixtures() else { return };
    let now = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let grype = root.join("grype/defectdojo/many_vulns_with_epss_values.json");
    let mut events = report(Format::Grype, &grype, "web", now);
    events.extend(report(
        Format::Trivy,
        &root.join("trivy/trivy-golden/spring4shell-jre8.json"),
        "batch",
        now,
    ));
    events.extend(report(
        Format::Trivy,
        &root.join("trivy/defectdojo/scheme_2_many_vulns.json"),
        "legacy",
        now,
    ));
    events.extend(report(
        Format::Trivy,
        &in_repo("trivy-checkout.json"),
        "checkout",
        now,
    ));
    let kev_path = root.join("threat-intel/kev-2025-08-25.json");
    let epss_path = in_repo("epss-2025-08-25.csv");

    // Independently: the files, and the open findings of the reports.
    let kev = kev_json(&kev_path);
    let csv = epss_csv(&epss_path);
    let raw: Value = serde_json::from_slice(&read(&grype)).unwrap();
    let grype_epss: BTreeMap<String, f64> = raw["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let v = &m["vulnerability"];
            Some((
                v["id"].as_str()?.to_string(),
                v["epss"][0]["epss"].as_f64()?,
            ))
        })
        .collect();
    let mut keys: BTreeMap<String, (String, String)> = BTreeMap::new();
    for e in &events {
        if let Payload::Finding(f) = &e.payload
            && f.kind == bearing_events::FindingKind::Vulnerability
        {
            keys.insert(
                f.dedup_key(),
                (f.rule_id.to_uppercase(), e.service.clone().unwrap()),
            );
        }
    }

    let mut ds = Dataset::new(&intent(""), events, vec![], vec![]);
    ds.set_threat(threat(&kev_path, Some(&epss_path)));
    let p = priorities(&ds, &Scope::default(), now, 3);
    assert_eq!(p.findings.len(), keys.len());
    let weight = |s: &str| match s {
        "critical" => 10.0,
        "high" => 8.0,
        "medium" => 5.0,
        "low" => 2.0,
        _ => 1.0,
    };
    let service_weight = |s: &str| match s {
        "web" | "checkout" => 2.0 * 2.0,
        "batch" => 1.0,
        "legacy" => 0.5 * 0.5,
        _ => unreachable!(),
    };
    let (mut known, mut from_grype, mut from_csv) = (0, 0, 0);
    let (mut kev_open, mut kev_past_due, mut exposure) = (0, 0, 0.0);
    for f in &p.findings {
        let (cve, service) = &keys[&f.key];
        assert_eq!(f.service.as_deref(), Some(service.as_str()));
        let entry = kev.get(cve);
        match (entry, &f.threat.kev) {
            (None, None) => {}
            (Some(e), Some(k)) => {
                known += 1;
                kev_open += 1;
                assert_eq!(
                    k.date_added.to_string(),
                    e["dateAdded"].as_str().unwrap(),
                    "{cve}"
                );
                assert_eq!(
                    k.due_date.unwrap().to_string(),
                    e["dueDate"].as_str().unwrap()
                );
                assert_eq!(
                    k.ransomware,
                    e["knownRansomwareCampaignUse"].as_str().unwrap()
                );
                if e["dueDate"].as_str().unwrap() < "2025-09-01" {
                    kev_past_due += 1;
                }
            }
            (e, k) => panic!("{cve}: catalog {e:?}, finding {k:?}"),
        }
        let expected_epss = match csv.get(cve) {
            Some((s, _)) => {
                from_csv += 1;
                Some(*s)
            }
            None => grype_epss.get(cve).copied().inspect(|_| from_grype += 1),
        };
        assert_eq!(f.threat.epss, expected_epss, "{cve}");
        let likelihood = if entry.is_some() {
            1.0
        } else {
            expected_epss.unwrap_or(0.001)
        };
        exposure += if entry.is_some() {
            1.0
        } else {
            expected_epss.unwrap_or(0.0)
        };
        let expected = weight(f.severity.name()) * likelihood * service_weight(service);
        assert!(
            (f.priority - expected).abs() < 1e-9,
            "{cve}: {} vs {expected}",
            f.priority
        );
        assert!(
            f.explain.contains(&format!("= {expected:.4}")),
            "{}",
            f.explain
        );
    }
    assert!(
        known >= 2,
        "the reports hold KEV CVEs (CVE-2022-22965, CVE-2020-15999)"
    );
    assert!(from_grype > 5 && from_csv >= 4, "{from_grype} {from_csv}");
    assert!(
        p.findings
            .windows(2)
            .all(|w| w[0].priority >= w[1].priority)
    );
    assert_eq!(p.now.kev_open, kev_open);
    assert_eq!(p.now.kev_past_due, kev_past_due);

    // The catalog metrics, with their records.
    let org = Scope::default();
    let window = Duration::from_days(30);
    let get = |m: &str| bearing_metrics::explain(&ds, m, &org, window, now);
    let k = get("security.kev_open");
    assert_eq!(k.value.value, Some(kev_open as f64));
    assert_eq!(k.value.samples, keys.len());
    assert!(
        k.records
            .iter()
            .any(|r| r.role.contains("known exploited: in KEV 2025.08.25 since"))
    );
    assert_eq!(
        get("security.kev_past_due").value.value,
        Some(kev_past_due as f64)
    );
    let x = get("security.epss_weighted_exposure").value.value.unwrap();
    assert!((x - exposure).abs() < 1e-9, "{x} vs {exposure}");
    // Fixing the top 3 removes exactly their terms.
    let top: f64 = p.findings[..3]
        .iter()
        .map(|f| {
            if f.threat.kev.is_some() {
                1.0
            } else {
                f.threat.epss.unwrap_or(0.0)
            }
        })
        .sum();
    assert!((p.after_top_n.epss_weighted_exposure - (exposure - top)).abs() < 1e-9);
}

#[test]
fn a_newer_catalog_moves_the_sla_clock_the_metrics_and_the_outcomes() {
    let Some(root) = fixtures() else { return };
    // Scanned 2025-07-01; 20 days later the high finding is inside its 30d SLA.
    let scanned = Utc.with_ymd_and_hms(2025, 7, 1, 9, 0, 0).unwrap();
    let now = scanned + chrono::Duration::days(20);
    let intent = intent("settings: {security_sla: {kev: 7d}}");
    let events = report(
        Format::Trivy,
        &in_repo("trivy-checkout.json"),
        "checkout",
        scanned,
    );
    let older = root.join("threat-intel/kev-2025-06-10.json");
    let newer = root.join("threat-intel/kev-2025-08-25.json");
    assert!(!kev_json(&older).contains_key("CVE-2025-48384"));
    assert_eq!(
        kev_json(&newer)["CVE-2025-48384"]["dateAdded"],
        "2025-08-25"
    );

    let scope = Scope {
        service: Some("checkout".into()),
        ..Scope::default()
    };
    let window = Duration::from_days(30);
    let figure = |ds: &Dataset, m: &str| {
        bearing_metrics::evaluate(ds, m, &scope, &BTreeMap::new(), window, now)
            .value
            .unwrap()
    };
    let mut ds = Dataset::new(&intent, events, vec![], vec![]);
    ds.set_threat(threat(&older, None));
    assert_eq!(figure(&ds, "security.findings_past_sla"), 0.0);
    assert_eq!(figure(&ds, "security.kev_open"), 0.0);
    let o = bearing_metrics::outcomes(&intent, &ds, now);
    assert!(o.services["checkout"].threats.is_empty());
    assert_eq!(o.services["checkout"].findings_past_sla.high, 0);

    let mut t = threat(&older, None);
    let update = t.apply(parse_feed(&read(&newer)).unwrap());
    assert_eq!(update.added.len(), 40);
    ds.set_threat(t);
    assert_eq!(figure(&ds, "security.findings_past_sla"), 1.0);
    assert_eq!(figure(&ds, "security.kev_open"), 1.0);
    let e = bearing_metrics::explain(&ds, "security.findings_past_sla", &scope, window, now);
    assert!(
        e.records.iter().any(|r| r
            .role
            .contains("past its 7d KEV SLA, added to KEV on 2025-08-25")),
        "{:?}",
        e.records
    );
    let o = bearing_metrics::outcomes(&intent, &ds, now);
    let s = &o.services["checkout"];
    assert_eq!(s.findings_past_sla.high, 1);
    let ids: BTreeSet<&str> = s.threats.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["CVE-2025-48384"]));
    assert_eq!(s.threats[0].kev_added.as_deref(), Some("2025-08-25"));
    assert_eq!(s.threats[0].package, "git");
}

#[test]
fn an_epss_sla_applies_from_its_threshold() {
    // No catalog: the in-repo EPSS file alone (CVE-2025-48384 scores 0.5523).
    let scanned = Utc.with_ymd_and_hms(2025, 7, 1, 9, 0, 0).unwrap();
    let now = scanned + chrono::Duration::days(20);
    let events = report(
        Format::Trivy,
        &in_repo("trivy-checkout.json"),
        "checkout",
        scanned,
    );
    let scope = Scope {
        service: Some("checkout".into()),
        ..Scope::default()
    };
    let past = |at_least: &str| {
        let intent = intent(&format!(
            "settings: {{security_sla: {{epss: {{at_least: {at_least}, within: 15d}}}}}}"
        ));
        let mut ds = Dataset::new(&intent, events.clone(), vec![], vec![]);
        let mut t = ThreatIntel::default();
        t.apply(parse_feed(&read(&in_repo("epss-2025-08-25.csv"))).unwrap());
        ds.set_threat(t);
        bearing_metrics::evaluate(
            &ds,
            "security.findings_past_sla",
            &scope,
            &BTreeMap::new(),
            Duration::from_days(30),
            now,
        )
        .value
        .unwrap()
    };
    assert_eq!(past("0.5"), 1.0);
    assert_eq!(past("0.6"), 0.0);
}

/// Grype's own KEV and EPSS fields count when no feed is kept, and a kept
/// feed wins over them for the CVEs it lists.
#[test]
fn scanner_threat_fields_are_used_where_the_feeds_say_nothing() {
    let grype = br#"{"descriptor":{"name":"grype","timestamp":"2025-08-01T00:00:00Z"},
        "source":{"type":"image","target":{"userInput":"acme/web:1"}},
        "matches":[
          {"vulnerability":{"id":"CVE-2024-1","severity":"Medium","epss":[{"cve":"CVE-2024-1","epss":0.3,"percentile":0.95}],
             "knownExploited":[{"cve":"CVE-2024-1","dateAdded":"2025-01-02","dueDate":"2025-01-23","knownRansomwareCampaignUse":"Known"}]},
           "artifact":{"name":"p","version":"1"}},
          {"vulnerability":{"id":"CVE-2024-2","severity":"High","epss":[{"cve":"CVE-2024-2","epss":0.25,"percentile":0.9}]},
           "artifact":{"name":"q","version":"1"}}]}"#;
    let now = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let mut ctx = ParseContext::new(now);
    ctx.service = Some("web".into());
    let events = bearing_events::parse(Format::Grype, grype, &ctx).unwrap();
    let mut ds = Dataset::new(&intent(""), events, vec![], vec![]);
    let org = Scope::default();
    let get = |ds: &Dataset, m: &str| {
        bearing_metrics::evaluate(ds, m, &org, &BTreeMap::new(), Duration::from_days(30), now)
            .value
            .unwrap()
    };
    assert_eq!(get(&ds, "security.kev_open"), 1.0);
    assert_eq!(get(&ds, "security.kev_past_due"), 1.0);
    // 1 (known exploited) + 0.25
    assert!((get(&ds, "security.epss_weighted_exposure") - 1.25).abs() < 1e-12);
    let p = priorities(&ds, &org, now, 1);
    let k = p.findings[0].threat.kev.as_ref().unwrap();
    assert_eq!(
        (k.source.as_str(), k.date_added.to_string()),
        ("grype", "2025-01-02".into())
    );
    assert_eq!(p.findings[1].threat.epss_source.as_deref(), Some("grype"));

    // A kept EPSS file that scores CVE-2024-2 wins over Grype's score.
    let mut t = ThreatIntel::default();
    t.apply(
        parse_feed(b"#model_version:v1,score_date:2025-08-25T00:00:00Z\ncve,epss,percentile\nCVE-2024-2,0.5,0.97\n")
            .unwrap(),
    );
    ds.set_threat(t);
    assert!((get(&ds, "security.epss_weighted_exposure") - 1.5).abs() < 1e-12);
}

/// A key result with a `severity` filter counts only those findings, now and
/// after the top of the list is fixed (the starter intent's only security key
/// result is one).
#[test]
fn a_filtered_key_result_gets_its_effect_from_its_own_findings() {
    let grype = br#"{"descriptor":{"name":"grype","timestamp":"2025-08-01T00:00:00Z"},
        "source":{"type":"image","target":{"userInput":"acme/web:1"}},
        "matches":[
          {"vulnerability":{"id":"CVE-2024-1","severity":"Critical"},"artifact":{"name":"p","version":"1"}},
          {"vulnerability":{"id":"CVE-2024-2","severity":"High"},"artifact":{"name":"q","version":"1"}},
          {"vulnerability":{"id":"CVE-2024-3","severity":"Low"},"artifact":{"name":"r","version":"1"}},
          {"vulnerability":{"id":"CVE-2024-4","severity":"Low"},"artifact":{"name":"s","version":"1"}}]}"#;
    let now = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
    let mut ctx = ParseContext::new(now);
    ctx.service = Some("web".into());
    let events = bearing_events::parse(Format::Grype, grype, &ctx).unwrap();
    let intent = intent(
        r#"objectives:
  - id: posture
    layer: security
    key_results:
      - { metric: security.open_findings, filter: { severity: [critical, high] }, target: "<= 1" }
      - { metric: security.open_findings, target: "<= 1" }
      - { metric: security.open_findings, filter: { kind: [secret] }, target: "<= 1" }"#,
    );
    let ds = Dataset::new(&intent, events, vec![], vec![]);
    let org = Scope::default();
    let p = priorities(&ds, &org, now, 1);
    assert_eq!(p.findings[0].cve.as_deref(), Some("CVE-2024-1"));
    let effects = bearing_metrics::threat::key_result_effects(&intent, &org, &p);
    let got: Vec<(f64, f64, bool, bool)> = effects
        .iter()
        .map(|e| (e.now, e.after, e.met_now, e.met_after))
        .collect();
    // Filtered: critical + high = 2 open, 1 once the critical (rank 1) is
    // fixed; unfiltered: 4 and 3; the `kind` filter is not comparable.
    assert_eq!(got, [(2.0, 1.0, false, true), (4.0, 3.0, false, false)]);
    // The filtered figure is the metric's own.
    let filter =
        bearing_metrics::parse_filters("security.open_findings", ["severity=critical,high"])
            .unwrap();
    let metric = bearing_metrics::evaluate(
        &ds,
        "security.open_findings",
        &org,
        &filter,
        Duration::from_days(30),
        now,
    );
    assert_eq!(metric.value, Some(2.0));
}
