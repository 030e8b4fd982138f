//! The findings lifecycle, as a pure function both backends run inside their
//! ingest transaction.
//!
//! Findings are deduplicated across scanners by [`Finding::dedup_key`]
//! (vulnerability, package, target). A report sets `first_seen` (earliest) and
//! `last_seen` (latest), adds its scanner and event id, and re-opens a finding
//! that was fixed at or before the report's time. A *scan* is the set of
//! reports sharing (scanner, target, `scan_id`); its time is its latest report.
//! A scan marks fixed (at the scan's time) every open finding of its target
//! that the same scanner reported earlier and this scan does not report.
//! Scoping "fixed" to the scanner keeps one scanner from closing what only
//! another scanner can see.

use std::collections::{BTreeMap, BTreeSet};

use bearing_events::{Event, Finding, Payload};
use chrono::{DateTime, Utc};

use crate::FindingState;

/// One finding event, as the lifecycle sees it.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub event_id: &'a str,
    pub time: DateTime<Utc>,
    pub service: Option<&'a str>,
    pub finding: &'a Finding,
}

/// The finding reports in a batch, oldest first.
pub fn reports(events: &[Event]) -> Vec<Report<'_>> {
    let mut out: Vec<Report<'_>> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Finding(f) => Some(Report {
                event_id: &e.id,
                time: e.time,
                service: e.service.as_deref(),
                finding: f,
            }),
            _ => None,
        })
        .collect();
    out.sort_by_key(|r| r.time);
    out
}

/// (scanner, normalised target, scan id): one scan.
type ScanId<'a> = (&'a str, String, &'a str);

/// The target a finding belongs to, normalised as in [`Finding::dedup_key`]
/// (so an image scanned under a new tag is the same target).
pub fn target_of(finding: &Finding) -> String {
    bearing_events::formats::normalize_target(&finding.target)
}

/// The targets a batch's reports touch: the states to load before [`apply`].
pub fn targets(reports: &[Report<'_>]) -> BTreeSet<String> {
    reports.iter().map(|r| target_of(r.finding)).collect()
}

/// Applies `reports` (oldest first) to `states`, which must hold every known
/// finding of the reports' targets, keyed by dedup key. Returns the keys whose
/// state changed.
pub fn apply(
    states: &mut BTreeMap<String, FindingState>,
    reports: &[Report<'_>],
) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    // (scanner, target, scan_id) -> (scan time, keys reported)
    let mut scans: BTreeMap<ScanId<'_>, (DateTime<Utc>, BTreeSet<String>)> = BTreeMap::new();
    for r in reports {
        let key = r.finding.dedup_key();
        let state = states.entry(key.clone()).or_insert_with(|| FindingState {
            key: key.clone(),
            finding: r.finding.clone(),
            service: r.service.map(str::to_string),
            scanners: Vec::new(),
            first_seen: r.time,
            last_seen: r.time,
            fixed_at: None,
            event_ids: Vec::new(),
        });
        let before = state.clone();
        state.first_seen = state.first_seen.min(r.time);
        if r.time >= state.last_seen {
            state.last_seen = r.time;
            state.finding = r.finding.clone();
            if r.service.is_some() {
                state.service = r.service.map(str::to_string);
            }
        }
        if state.fixed_at.is_some_and(|fixed| r.time >= fixed) {
            state.fixed_at = None;
        }
        if !state.scanners.contains(&r.finding.scanner) {
            state.scanners.push(r.finding.scanner.clone());
        }
        if !state.event_ids.iter().any(|id| id == r.event_id) {
            state.event_ids.push(r.event_id.to_string());
        }
        if *state != before {
            changed.insert(key.clone());
        }
        let scan = scans
            .entry((
                r.finding.scanner.as_str(),
                target_of(r.finding),
                r.finding.scan_id.as_str(),
            ))
            .or_insert_with(|| (r.time, BTreeSet::new()));
        scan.0 = scan.0.max(r.time);
        scan.1.insert(key);
    }
    let mut scans: Vec<_> = scans.into_iter().collect();
    scans.sort_by_key(|(_, (time, _))| *time);
    for ((scanner, target, _), (time, reported)) in scans {
        for state in states.values_mut() {
            if state.fixed_at.is_none()
                && target_of(&state.finding) == target
                && state.last_seen < time
                && !reported.contains(&state.key)
                && state.scanners.iter().any(|s| s == scanner)
            {
                state.fixed_at = Some(time);
                changed.insert(state.key.clone());
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use bearing_events::{FindingKind, Severity};
    use chrono::TimeZone;

    use super::*;

    fn finding(scanner: &str, scan: &str, rule: &str, target: &str) -> Finding {
        Finding {
            scanner: scanner.into(),
            scan_id: scan.into(),
            kind: FindingKind::Vulnerability,
            rule_id: rule.into(),
            severity: Severity::High,
            target: target.into(),
            package: Some("openssl".into()),
            installed_version: None,
            fixed_version: None,
            fixable: true,
            title: None,
            location: None,
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn run(states: &mut BTreeMap<String, FindingState>, reports: &[(&str, u32, &Finding)]) {
        let reports: Vec<Report<'_>> = reports
            .iter()
            .map(|(id, day, f)| Report {
                event_id: id,
                time: at(*day),
                service: None,
                finding: f,
            })
            .collect();
        apply(states, &reports);
    }

    #[test]
    fn a_later_scan_fixes_and_a_later_report_reopens() {
        let a1 = finding("trivy", "s1", "CVE-1", "img");
        let b1 = finding("trivy", "s1", "CVE-2", "img");
        let a2 = finding("trivy", "s2", "CVE-1", "img");
        let b3 = finding("trivy", "s3", "CVE-2", "img");
        let mut states = BTreeMap::new();
        run(&mut states, &[("e1", 1, &a1), ("e2", 1, &b1)]);
        run(&mut states, &[("e3", 2, &a2)]);
        let cve2 = "CVE-2|openssl|img";
        assert_eq!(states[cve2].fixed_at, Some(at(2)));
        assert_eq!(states["CVE-1|openssl|img"].fixed_at, None);
        run(&mut states, &[("e4", 3, &b3)]);
        assert_eq!(states[cve2].fixed_at, None);
        assert_eq!(states[cve2].first_seen, at(1));
        assert_eq!(states[cve2].last_seen, at(3));
        assert_eq!(states[cve2].event_ids, vec!["e2", "e4"]);
    }

    #[test]
    fn another_scanner_does_not_fix_what_it_never_reported() {
        let t = finding("trivy", "s1", "CVE-1", "img");
        let g = finding("grype", "g1", "CVE-9", "img");
        let mut states = BTreeMap::new();
        run(&mut states, &[("e1", 1, &t)]);
        run(&mut states, &[("e2", 2, &g)]);
        assert_eq!(states["CVE-1|openssl|img"].fixed_at, None);
    }

    #[test]
    fn reports_from_two_scanners_are_one_finding() {
        let t = finding("trivy", "s1", "CVE-1", "img");
        let g = finding("grype", "g1", "CVE-1", "img");
        let mut states = BTreeMap::new();
        run(&mut states, &[("e1", 1, &t), ("e2", 2, &g)]);
        assert_eq!(states.len(), 1);
        assert_eq!(states["CVE-1|openssl|img"].scanners, vec!["trivy", "grype"]);
    }

    #[test]
    fn replaying_a_batch_changes_nothing() {
        let a = finding("trivy", "s1", "CVE-1", "img");
        let mut states = BTreeMap::new();
        let reports = [Report {
            event_id: "e1",
            time: at(1),
            service: None,
            finding: &a,
        }];
        assert_eq!(apply(&mut states, &reports).len(), 1);
        assert!(apply(&mut states, &reports).is_empty());
    }
}
