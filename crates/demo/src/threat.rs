//! The demo's threat feeds, in the shapes `bearing ingest` reads: two
//! versions of CISA's KEV catalog and a day of EPSS scores.
//!
//! KEV: `kev-excerpt.json` holds real entries of CISA's catalog 2025.08.25
//! (public domain, CC0 in cisagov/kev-data), copied unchanged, for the real
//! CVEs some demo findings have. The older catalog, 2025.06.10, is the same
//! excerpt without the entries added after it (as the real 2025.06.10
//! catalog is), so ingesting the newer one adds `CVE-2025-48384` (git) to
//! KEV while `web-frontend` has it open.
//!
//! EPSS: FIRST's scores are not shipped here, so every score of the demo's
//! file is made up (`model_version:demo`): a log-uniform draw skewed low
//! from a hash of the CVE id (most below 0.02, about 3% at 0.5 or more, as
//! in the real distribution), its percentile the share of the file's scores
//! at or below it.

use std::collections::BTreeSet;

use bearing_events::{Event, Payload};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The KEV excerpt (catalog 2025.08.25).
const KEV_EXCERPT: &str = include_str!("kev-excerpt.json");

/// The real KEV CVE that joins the catalog late in the demo, and where.
pub const LATE_KEV_CVE: &str = "CVE-2025-48384";
/// The service with the late KEV CVE open.
pub const LATE_KEV_SERVICE: &str = "web-frontend";

/// Version and release time of the older catalog (CISA's real 2025.06.10).
const OLDER: (&str, &str) = ("2025.06.10", "2025-06-10T17:05:43.0382Z");

/// The demo's threat feeds, as the bytes of the files a user would ingest.
#[derive(Debug, Clone)]
pub struct Feeds {
    /// KEV catalog 2025.06.10 (excerpt).
    pub kev_older: Vec<u8>,
    /// KEV catalog 2025.08.25 (excerpt), adding [`LATE_KEV_CVE`].
    pub kev_newer: Vec<u8>,
    /// EPSS CSV scored on `now`'s day, one row per CVE of the demo's findings.
    pub epss: Vec<u8>,
}

pub fn feeds(events: &[Event], now: DateTime<Utc>) -> Feeds {
    // The embedded excerpt is valid JSON (the tests parse every feed).
    let newer: Value = serde_json::from_str(KEV_EXCERPT).unwrap_or_default();
    let mut older = newer.clone();
    let cutoff = &OLDER.1[..10];
    if let Some(list) = older["vulnerabilities"].as_array_mut() {
        list.retain(|v| v["dateAdded"].as_str().is_some_and(|d| d <= cutoff));
        older["count"] = list.len().into();
    }
    older["catalogVersion"] = OLDER.0.into();
    older["dateReleased"] = OLDER.1.into();
    older["title"] = newer["title"]
        .as_str()
        .unwrap_or_default()
        .replace("2025.08.25", OLDER.0)
        .replace("of the 1404 entries", "of the 1364 entries")
        .into();
    Feeds {
        kev_older: serde_json::to_vec_pretty(&older).unwrap_or_default(),
        kev_newer: KEV_EXCERPT.as_bytes().to_vec(),
        epss: epss_csv(events, now),
    }
}

/// Made-up EPSS scores for every CVE of the demo's findings.
fn epss_csv(events: &[Event], now: DateTime<Utc>) -> Vec<u8> {
    let cves: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Finding(f) if f.rule_id.starts_with("CVE-") => Some(f.rule_id.as_str()),
            _ => None,
        })
        .collect();
    let scores: Vec<(&str, f64)> = cves.into_iter().map(|c| (c, score(c))).collect();
    let mut sorted: Vec<f64> = scores.iter().map(|s| s.1).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len().max(1) as f64;
    let mut out = format!(
        "#model_version:demo,score_date:{}T00:00:00Z\ncve,epss,percentile\n",
        now.format("%Y-%m-%d")
    );
    for (cve, s) in scores {
        let at_or_below = sorted.partition_point(|x| *x <= s) as f64;
        out.push_str(&format!("{cve},{s:.5},{:.5}\n", at_or_below / n));
    }
    out.into_bytes()
}

/// A made-up EPSS score from the CVE id: 0.0003 × (0.97 / 0.0003)^(u³), u
/// uniform in [0, 1) from an FNV-1a hash; the demo's KEV CVEs score high.
fn score(cve: &str) -> f64 {
    match cve {
        "CVE-2023-44487" => return 0.94,
        LATE_KEV_CVE => return 0.31,
        _ => {}
    }
    let h = cve.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let s = 0.0003 * (0.97f64 / 0.0003).powf(u.powi(3));
    (s * 100_000.0).round() / 100_000.0
}
