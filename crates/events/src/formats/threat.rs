//! Threat intelligence feeds: CISA's Known Exploited Vulnerabilities catalog
//! (KEV, JSON) and FIRST's Exploit Prediction Scoring System scores (EPSS,
//! CSV). They are not events: they say how urgent a finding is, so they are
//! kept beside the events as one [`ThreatIntel`] that a newer feed updates.
//!
//! KEV: `{"catalogVersion", "dateReleased", "vulnerabilities": [{"cveID",
//! "dateAdded", "dueDate", "knownRansomwareCampaignUse", "vendorProject",
//! "product", "vulnerabilityName", …}]}`. EPSS: a first line
//! `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z`, the header
//! `cve,epss,percentile`, then one row per CVE with decimals in [0, 1].
//!
//! A newer KEV catalog replaces the older one; each CVE keeps the catalog
//! version Bearing first saw it in (`since`), and the update says which CVEs
//! it added and removed. An older catalog than the one kept changes nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::{Get, kind_of, parse_value, req_str};
use super::{ParseError, RecordRef, utf8};

/// One entry of the KEV catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    /// When CISA added the CVE to the catalog.
    pub date_added: NaiveDate,
    /// When US federal agencies must have remediated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// `Known` or `Unknown`.
    pub ransomware: String,
    pub vendor_project: String,
    pub product: String,
    pub name: String,
    /// The catalog version Bearing first saw the CVE in.
    pub since: String,
}

/// The KEV catalog Bearing keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevCatalog {
    /// `catalogVersion`, e.g. `2025.08.25`.
    pub version: String,
    /// `dateReleased`, as the catalog writes it.
    pub released: String,
    pub entries: BTreeMap<String, KevEntry>,
}

/// An EPSS score: the probability of exploitation in the next 30 days and
/// its percentile among all scored CVEs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub epss: f64,
    pub percentile: f64,
}

/// A day's EPSS scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScores {
    pub model_version: String,
    /// The `score_date` of the file's first line.
    pub score_date: String,
    pub scores: BTreeMap<String, Epss>,
}

/// A feed read from a file or URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    Kev(KevCatalog),
    Epss(EpssScores),
}

impl Feed {
    /// `kev` or `epss`.
    pub fn kind(&self) -> &'static str {
        match self {
            Feed::Kev(_) => "kev",
            Feed::Epss(_) => "epss",
        }
    }
}

/// The threat feeds Bearing keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreatIntel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<KevCatalog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssScores>,
}

/// What applying a feed changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedUpdate {
    pub feed: String,
    /// The version now kept (catalog version, or EPSS score date).
    pub version: String,
    /// The version it replaced, if any.
    pub previous: Option<String>,
    /// False when the feed was not newer than the one kept (nothing changed).
    pub applied: bool,
    /// KEV: CVEs in the new catalog that the kept one did not list.
    pub added: Vec<String>,
    /// KEV: CVEs the kept catalog listed that the new one does not.
    pub removed: Vec<String>,
    /// Entries in the feed.
    pub entries: usize,
}

impl FeedUpdate {
    /// One line for people: what the feed changed.
    pub fn summary(&self) -> String {
        let what = if self.feed == "kev" {
            "KEV catalog"
        } else {
            "EPSS scores"
        };
        let (v, n) = (&self.version, self.entries);
        match (&self.previous, self.applied) {
            (_, false) => format!("not newer than the {what} kept ({v}); nothing changed"),
            (Some(p), true) if self.feed == "kev" => format!(
                "{what} {v} replaces {p}, {n} CVEs, {} added, {} removed",
                self.added.len(),
                self.removed.len()
            ),
            (Some(p), true) => format!("{what} {v} replace those of {p}, {n} CVEs"),
            (None, true) => format!("{what} {v}, {n} CVEs"),
        }
    }
}

impl ThreatIntel {
    /// Applies a feed: a KEV catalog or EPSS file newer than (or as new as)
    /// the one kept replaces it; an older one is not applied.
    pub fn apply(&mut self, feed: Feed) -> FeedUpdate {
        match feed {
            Feed::Kev(mut new) => {
                let mut u = FeedUpdate {
                    feed: "kev".into(),
                    version: new.version.clone(),
                    entries: new.entries.len(),
                    ..FeedUpdate::default()
                };
                if let Some(old) = &self.kev {
                    u.previous = Some(old.version.clone());
                    if version_key(&new.version) < version_key(&old.version) {
                        u.version = old.version.clone();
                        return u;
                    }
                    for (cve, e) in &mut new.entries {
                        match old.entries.get(cve) {
                            Some(o) => e.since.clone_from(&o.since),
                            None => u.added.push(cve.clone()),
                        }
                    }
                    u.removed = old
                        .entries
                        .keys()
                        .filter(|c| !new.entries.contains_key(*c))
                        .cloned()
                        .collect();
                } else {
                    u.added = new.entries.keys().cloned().collect();
                }
                u.applied = true;
                self.kev = Some(new);
                u
            }
            Feed::Epss(new) => {
                let mut u = FeedUpdate {
                    feed: "epss".into(),
                    version: new.score_date.clone(),
                    entries: new.scores.len(),
                    ..FeedUpdate::default()
                };
                if let Some(old) = &self.epss {
                    u.previous = Some(old.score_date.clone());
                    // A kept date that does not parse (kept before dates
                    // were checked) never blocks a real one.
                    if let (Ok(n), Ok(o)) =
                        (score_time(&new.score_date), score_time(&old.score_date))
                        && n < o
                    {
                        u.version = old.score_date.clone();
                        return u;
                    }
                }
                u.applied = true;
                self.epss = Some(new);
                u
            }
        }
    }

    /// The KEV entry of a CVE (ids compare upper-cased).
    pub fn kev(&self, cve: &str) -> Option<&KevEntry> {
        self.kev.as_ref()?.entries.get(cve)
    }

    /// The EPSS score of a CVE.
    pub fn epss(&self, cve: &str) -> Option<Epss> {
        self.epss.as_ref()?.scores.get(cve).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.kev.is_none() && self.epss.is_none()
    }
}

/// `2025.08.25` → comparable parts (numbers compare as numbers).
fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The most a gzipped feed may unpack to (FIRST's EPSS file is ~10 MB).
pub const MAX_UNPACKED: u64 = 256 << 20;

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The bytes, unpacked if gzipped (FIRST publishes `epss_scores-current.csv.gz`),
/// at most [`MAX_UNPACKED`] of them.
fn gunzip(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ParseError> {
    gunzip_at_most(bytes, MAX_UNPACKED)
}

fn gunzip_at_most(bytes: &[u8], limit: u64) -> Result<std::borrow::Cow<'_, [u8]>, ParseError> {
    use std::io::Read;
    if !is_gzip(bytes) {
        return Ok(bytes.into());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| ParseError::new(format!("invalid gzip data: {e}")))?;
    if out.len() as u64 > limit {
        return Err(ParseError::new(format!(
            "the gzipped input unpacks to more than {limit} bytes; refusing it (a threat feed is far smaller)"
        )));
    }
    Ok(out.into())
}

/// Whether the bytes (gzipped or not) look like a KEV catalog or an EPSS file.
pub fn detect_feed(bytes: &[u8]) -> Option<&'static str> {
    use std::io::Read;
    let unpacked;
    let head_bytes: &[u8] = if is_gzip(bytes) {
        let mut head = Vec::new();
        // A short or broken stream still shows its start.
        let _ = flate2::read::MultiGzDecoder::new(bytes)
            .take(4096)
            .read_to_end(&mut head);
        unpacked = head;
        &unpacked
    } else {
        bytes
    };
    let body = super::strip_bom(head_bytes);
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let t = head.trim_start();
    if t.starts_with("#model_version:") || t.starts_with("cve,epss,percentile") {
        return Some("epss");
    }
    if !t.starts_with('{') {
        return None;
    }
    if head.contains("\"catalogVersion\"") {
        return Some("kev");
    }
    // Keys in another order (a re-serialised catalog with `vulnerabilities`
    // first): its entries' `cveID`s fill the start, so only then is the
    // whole document read — never for the event files most inputs are.
    if !head.contains("\"cveID\"") {
        return None;
    }
    let all = gunzip(bytes).ok()?;
    let v: Value = serde_json::from_slice(super::strip_bom(&all)).ok()?;
    let list = v.get("vulnerabilities")?.as_array()?;
    (v.get("catalogVersion").is_some() && list.iter().all(|e| e.get("cveID").is_some()))
        .then_some("kev")
}

/// Reads a KEV catalog or an EPSS file, plain or gzipped (see [`detect_feed`]).
pub fn parse_feed(bytes: &[u8]) -> Result<Feed, ParseError> {
    match detect_feed(bytes) {
        Some("kev") => parse_kev(bytes).map(Feed::Kev),
        Some(_) => parse_epss(bytes).map(Feed::Epss),
        None => Err(ParseError::new(
            "not a threat feed: expected CISA's KEV catalog (JSON with `catalogVersion`) or FIRST's EPSS CSV (`#model_version:…` then `cve,epss,percentile`)",
        )),
    }
}

fn date_at(v: &Value, path: &str) -> Result<NaiveDate, ParseError> {
    let s = req_str(v, path)?;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ParseError::new(format!(
            "expected a date such as `2025-08-25`, found `{}`",
            super::truncate(s, 40)
        ))
        .with_field(path)
    })
}

/// Reads CISA's KEV catalog.
pub fn parse_kev(bytes: &[u8]) -> Result<KevCatalog, ParseError> {
    let v = parse_value(&gunzip(bytes)?)?;
    if !v.is_object() {
        return Err(ParseError::new(format!(
            "not a KEV catalog: expected an object, found {}",
            kind_of(&v)
        )));
    }
    let version = req_str(&v, "catalogVersion")?.trim().to_owned();
    let released = v.str_at("dateReleased").unwrap_or_default().to_owned();
    let list = match v.get("vulnerabilities") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(
                ParseError::new(format!("expected an array, found {}", kind_of(other)))
                    .with_field("vulnerabilities"),
            );
        }
        None => {
            return Err(
                ParseError::new("missing; this field is required").with_field("vulnerabilities")
            );
        }
    };
    let mut entries = BTreeMap::new();
    for (i, e) in list.iter().enumerate() {
        let at = |err: ParseError| {
            let field = match &err.field {
                Some(f) => format!("vulnerabilities[{i}].{f}"),
                None => format!("vulnerabilities[{i}]"),
            };
            ParseError {
                field: Some(field),
                ..err
            }
            .with_record(RecordRef::Record(i + 1))
        };
        let cve = crate::formats::normalize_vulnerability(req_str(e, "cveID").map_err(at)?);
        let entry = KevEntry {
            date_added: date_at(e, "dateAdded").map_err(at)?,
            due_date: match e.str_at("dueDate") {
                None => None,
                Some(_) => Some(date_at(e, "dueDate").map_err(at)?),
            },
            ransomware: e
                .str_at("knownRansomwareCampaignUse")
                .unwrap_or("Unknown")
                .to_owned(),
            vendor_project: e.str_at("vendorProject").unwrap_or_default().to_owned(),
            product: e.str_at("product").unwrap_or_default().to_owned(),
            name: e.str_at("vulnerabilityName").unwrap_or_default().to_owned(),
            since: version.clone(),
        };
        entries.insert(cve, entry);
    }
    Ok(KevCatalog {
        version,
        released,
        entries,
    })
}

/// An EPSS `score_date`: RFC 3339, or with a `+0000` offset as older files
/// write it.
fn score_time(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, chrono::ParseError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
}

/// Reads FIRST's EPSS CSV, plain or gzipped.
pub fn parse_epss(bytes: &[u8]) -> Result<EpssScores, ParseError> {
    let bytes = gunzip(bytes)?;
    let text = utf8(super::strip_bom(&bytes))?;
    let mut lines = text.lines().enumerate().peekable();
    let (mut model_version, mut score_date) = (String::new(), String::new());
    if let Some((_, first)) = lines.peek()
        && let Some(meta) = first.trim().strip_prefix('#')
    {
        for part in meta.split(',') {
            match part.split_once(':') {
                Some(("model_version", v)) => model_version = v.trim().to_owned(),
                Some(("score_date", v)) => score_date = v.trim().to_owned(),
                _ => {}
            }
        }
        lines.next();
    }
    if score_date.is_empty() {
        return Err(ParseError::at(
            RecordRef::Line(1),
            "expected a first line `#model_version:…,score_date:…` (FIRST's EPSS CSV); the score date says how new the scores are",
        ));
    }
    if score_time(&score_date).is_err() {
        return Err(ParseError::at(
            RecordRef::Line(1),
            format!(
                "expected an RFC 3339 timestamp such as `2025-08-25T12:55:00Z`, found `{}`",
                super::truncate(&score_date, 40)
            ),
        )
        .with_field("score_date"));
    }
    match lines.next() {
        Some((_, h)) if h.trim().eq_ignore_ascii_case("cve,epss,percentile") => {}
        Some((n, h)) => {
            return Err(ParseError::at(
                RecordRef::Line(n + 1),
                format!(
                    "expected the header `cve,epss,percentile`, found `{}`",
                    super::truncate(h, 60)
                ),
            ));
        }
        None => {
            return Err(ParseError::at(
                RecordRef::Line(2),
                "expected the header `cve,epss,percentile`; the file ends",
            ));
        }
    }
    let mut scores = BTreeMap::new();
    for (n, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row = RecordRef::Line(n + 1);
        let mut parts = line.split(',');
        let (Some(cve), Some(e), Some(p), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::at(
                row,
                format!(
                    "expected 3 columns `cve,epss,percentile`, found `{}`",
                    super::truncate(line, 60)
                ),
            ));
        };
        let num = |s: &str, field: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| {
                    ParseError::at(
                        row,
                        format!(
                            "expected a decimal between 0 and 1, found `{}`",
                            super::truncate(s, 30)
                        ),
                    )
                    .with_field(field)
                })
        };
        let cve = cve.trim();
        if cve.is_empty() {
            return Err(ParseError::at(row, "missing; a row names its CVE").with_field("cve"));
        }
        scores.insert(
            crate::formats::normalize_vulnerability(cve),
            Epss {
                epss: num(e, "epss")?,
                percentile: num(p, "percentile")?,
            },
        );
    }
    Ok(EpssScores {
        model_version,
        score_date,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPSS: &str = "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2025-48384,0.03,0.86\ncve-2021-44228,0.94,0.99\n";

    #[test]
    fn epss_reads_the_documented_shape() {
        let s = parse_epss(EPSS.as_bytes()).unwrap();
        assert_eq!(s.model_version, "v2025.03.14");
        assert_eq!(s.score_date, "2025-08-25T12:55:00Z");
        assert_eq!(s.scores["CVE-2021-44228"].epss, 0.94);
        assert_eq!(s.scores["CVE-2025-48384"].percentile, 0.86);
        assert_eq!(detect_feed(EPSS.as_bytes()), Some("epss"));
    }

    #[test]
    fn epss_errors_name_line_and_field() {
        let bad = EPSS.replace("0.94", "1.4");
        let e = parse_epss(bad.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4, field `epss`: expected a decimal between 0 and 1, found `1.4`"
        );
        let e = parse_epss(b"cve,epss,percentile\nCVE-1,0.1,0.2\n").unwrap_err();
        assert!(
            e.to_string().starts_with("line 1: expected a first line"),
            "{e}"
        );
        let e = parse_epss(b"#model_version:v1,score_date:2025-01-01T00:00:00Z\ncve,epss\n")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("line 2: expected the header"),
            "{e}"
        );
        let e = parse_epss(b"#score_date:2025-01-01T00:00:00Z\ncve,epss,percentile\nCVE-1,0.1\n")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("line 3: expected 3 columns"),
            "{e}"
        );
    }

    fn kev(version: &str, cves: &[(&str, &str)]) -> Feed {
        let list: Vec<Value> = cves
            .iter()
            .map(|(c, d)| serde_json::json!({"cveID": c, "dateAdded": d, "dueDate": d, "knownRansomwareCampaignUse": "Known"}))
            .collect();
        let doc = serde_json::json!({"catalogVersion": version, "vulnerabilities": list});
        parse_feed(doc.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_newer_catalog_replaces_and_keeps_since_an_older_one_is_ignored() {
        let mut t = ThreatIntel::default();
        let u = t.apply(kev("2025.06.10", &[("CVE-1", "2025-06-01")]));
        assert!(u.applied);
        assert_eq!(u.added, ["CVE-1"]);
        let u = t.apply(kev(
            "2025.08.25",
            &[("CVE-1", "2025-06-01"), ("CVE-2", "2025-08-20")],
        ));
        assert_eq!(
            (u.applied, u.added.clone()),
            (true, vec!["CVE-2".to_owned()])
        );
        assert_eq!(u.previous.as_deref(), Some("2025.06.10"));
        assert_eq!(t.kev("CVE-1").unwrap().since, "2025.06.10");
        assert_eq!(t.kev("CVE-2").unwrap().since, "2025.08.25");
        let u = t.apply(kev("2025.06.10", &[("CVE-1", "2025-06-01")]));
        assert!(!u.applied);
        assert!(t.kev("CVE-2").is_some());
        let u = t.apply(kev("2025.09.01", &[("CVE-2", "2025-08-20")]));
        assert_eq!(u.removed, ["CVE-1"]);
    }

    #[test]
    fn detection_reads_short_and_bom_prefixed_inputs() {
        assert_eq!(
            detect_feed(b"\xEF\xBB\xBFcve,epss,percentile"),
            Some("epss")
        );
        assert_eq!(detect_feed(b"\xEF\xBB\xBF"), None);
        assert_eq!(detect_feed(b"{\"catalogVersion\":\"1\"}"), Some("kev"));
        assert_eq!(detect_feed(b"id,time,kind\n"), None);
    }

    #[test]
    fn kev_errors_name_the_entry_and_field() {
        let doc = r#"{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-1","dateAdded":"2025-01-01"},{"cveID":"CVE-2","dateAdded":"yesterday"}]}"#;
        let e = parse_feed(doc.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record 2, field `vulnerabilities[1].dateAdded`: expected a date such as `2025-08-25`, found `yesterday`"
        );
        assert!(parse_feed(b"{\"matches\":[]}").is_err());
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(bytes).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_gzipped_epss_file_is_read_and_a_bomb_refused() {
        let packed = gz(EPSS.as_bytes());
        assert_eq!(detect_feed(&packed), Some("epss"));
        let Feed::Epss(s) = parse_feed(&packed).unwrap() else {
            panic!("not EPSS")
        };
        assert_eq!(s, parse_epss(EPSS.as_bytes()).unwrap());
        let bomb = gz(&vec![b'0'; 4096]);
        let e = gunzip_at_most(&bomb, 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the gzipped input unpacks to more than 1000 bytes; refusing it (a threat feed is far smaller)"
        );
        assert_eq!(gunzip_at_most(&bomb, 4096).unwrap().len(), 4096);
        let mut broken = packed.clone();
        broken.truncate(packed.len() / 2);
        assert!(
            parse_epss(&broken)
                .unwrap_err()
                .to_string()
                .starts_with("invalid gzip data")
        );
    }

    #[test]
    fn epss_score_dates_are_checked_and_compared_as_times() {
        let e = parse_epss(EPSS.replace("2025-08-25T12:55:00Z", "garbage").as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, field `score_date`: expected an RFC 3339 timestamp such as `2025-08-25T12:55:00Z`, found `garbage`"
        );
        let at = |date: &str| {
            Feed::Epss(parse_epss(EPSS.replace("2025-08-25T12:55:00Z", date).as_bytes()).unwrap())
        };
        let mut t = ThreatIntel::default();
        assert!(t.apply(at("2025-08-25T12:55:00+0000")).applied);
        // 13:00+02:00 is 11:00Z: earlier, though it sorts later as text.
        assert!(!t.apply(at("2025-08-25T13:00:00+02:00")).applied);
        assert!(t.apply(at("2025-08-25T13:00:00Z")).applied);
        // A date kept before dates were checked does not block a real one.
        let mut kept = parse_epss(EPSS.as_bytes()).unwrap();
        kept.score_date = "garbage".into();
        let mut t = ThreatIntel {
            epss: Some(kept),
            ..ThreatIntel::default()
        };
        assert!(t.apply(at("2025-08-26T12:55:00Z")).applied);
    }

    #[test]
    fn a_kev_catalog_is_detected_whatever_its_key_order() {
        // Re-serialised with `vulnerabilities` before `catalogVersion`, the
        // version far beyond the first 4 KiB.
        let list: Vec<Value> = (0..100)
            .map(|i| serde_json::json!({"cveID": format!("CVE-2025-{i}"), "dateAdded": "2025-06-01", "vendorProject": "Acme"}))
            .collect();
        let doc = format!(
            "{{\"vulnerabilities\":{},\"catalogVersion\":\"2025.08.25\"}}",
            Value::Array(list)
        );
        assert!(doc.find("catalogVersion").unwrap() > 4096);
        assert_eq!(detect_feed(doc.as_bytes()), Some("kev"));
        let Feed::Kev(k) = parse_feed(doc.as_bytes()).unwrap() else {
            panic!("not KEV")
        };
        assert_eq!((k.version.as_str(), k.entries.len()), ("2025.08.25", 100));
        // Other JSON that mentions the names is not taken for a catalog.
        let other = doc.replace("\"vulnerabilities\"", "\"matches\"");
        assert_eq!(detect_feed(other.as_bytes()), None);
    }
}
