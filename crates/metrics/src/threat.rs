//! Threat-aware security: findings enriched with CISA's KEV catalog and
//! FIRST's EPSS scores (the feeds Bearing keeps, else the scanner's own
//! fields), the SLA a finding's threat gives it, its priority, and the
//! metrics `security.kev_open`, `security.kev_past_due` and
//! `security.epss_weighted_exposure`. Definitions: `docs/metrics.md`.

use std::collections::BTreeMap;

use bearing_events::formats::threat::{Epss, ThreatIntel};
use bearing_events::{FindingKind, Severity};
use bearing_intent::{Exposure, Scope, Tier};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataset::{Dataset, FindingAgg, NONE, Ts, sla_index, ts};
use crate::engine::{Ctx, MetricValue, fmt_secs};
use crate::security::{finding_record, findings_in, open_age};

/// Threat fields a scanner reported for a CVE.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScannerThreat {
    pub epss: Option<Epss>,
    pub kev: Option<KevFacts>,
}

/// What a finding's KEV entry says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevFacts {
    pub date_added: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// `Known` or `Unknown`.
    pub ransomware: String,
    /// Where it comes from: `KEV 2025.08.25` (the catalog kept) or the scanner's name.
    pub source: String,
}

/// A finding's threat: KEV entry and EPSS score, each with its source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingThreat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<KevFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_percentile: Option<f64>,
    /// `EPSS <score date>` or the scanner's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_source: Option<String>,
}

impl FindingThreat {
    /// The exploitation likelihood the priority and exposure use: 1 when
    /// known exploited, else the EPSS score, else `UNSCORED`.
    pub fn likelihood(&self) -> f64 {
        if self.kev.is_some() {
            1.0
        } else {
            self.epss.unwrap_or(UNSCORED)
        }
    }
}

impl FindingThreat {
    /// `in KEV since 2025-08-25 (due 2025-09-15, ransomware Unknown; KEV 2025.08.25)`, or `not in KEV`.
    pub fn kev_text(&self) -> String {
        match &self.kev {
            Some(k) => format!(
                "in KEV since {} (due {}, ransomware {}; {})",
                k.date_added,
                k.due_date.map_or_else(|| "-".into(), |d| d.to_string()),
                k.ransomware,
                k.source
            ),
            None => "not in KEV".into(),
        }
    }

    /// `EPSS 0.5523 (percentile 0.97812; EPSS of 2025-08-25…)`, or `no EPSS score`.
    pub fn epss_text(&self) -> String {
        match self.epss {
            Some(e) => format!(
                "EPSS {e} (percentile {}; {})",
                self.epss_percentile
                    .map_or_else(|| "-".into(), |p| p.to_string()),
                self.epss_source.as_deref().unwrap_or("?")
            ),
            None => "no EPSS score".into(),
        }
    }
}

/// The likelihood of a finding with neither a KEV entry nor an EPSS score.
pub const UNSCORED: f64 = 0.001;

/// The CVE of a finding key (`rule|package|target`), when the rule is one.
pub fn cve_of(key: &str) -> Option<&str> {
    let rule = key.split('|').next()?;
    rule.starts_with("CVE-").then_some(rule)
}

impl Dataset {
    /// Sets the threat feeds findings are enriched with (replacing any).
    pub fn set_threat(&mut self, threat: ThreatIntel) {
        self.threat = threat;
    }

    /// The threat feeds in use.
    pub fn threat(&self) -> &ThreatIntel {
        &self.threat
    }

    /// Keeps the threat fields a scanner put in a finding event's attributes
    /// (`epss`, `epss_percentile`, `kev`; see the Grype adapter). Callers that
    /// load finding lifecycles from the store instead of finding events pass
    /// the events here.
    pub fn note_scanner_threat(&mut self, rule_id: &str, attributes: &BTreeMap<String, Value>) {
        let epss = attributes
            .get("epss")
            .and_then(Value::as_f64)
            .map(|epss| Epss {
                epss,
                percentile: attributes
                    .get("epss_percentile")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            });
        let kev = attributes.get("kev").and_then(|k| {
            let date = |f: &str| {
                k.get(f)
                    .and_then(Value::as_str)
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            };
            Some(KevFacts {
                date_added: date("date_added")?,
                due_date: date("due_date"),
                ransomware: k
                    .get("ransomware")
                    .and_then(Value::as_str)
                    .unwrap_or("Unknown")
                    .to_owned(),
                source: "scanner".into(),
            })
        });
        if epss.is_none() && kev.is_none() {
            return;
        }
        let cve = bearing_events::formats::normalize_vulnerability(rule_id);
        let t = self.scanner_threat.entry(cve).or_default();
        t.epss = epss.or(t.epss);
        t.kev = kev.or(t.kev.take());
    }

    /// A finding's threat: the kept feeds first, the scanner's fields where
    /// a feed says nothing about the CVE.
    pub(crate) fn threat_of(&self, f: &FindingAgg) -> FindingThreat {
        let Some(cve) = cve_of(&f.key) else {
            return FindingThreat::default();
        };
        let scanner = self.scanner_threat.get(cve);
        let mut t = FindingThreat::default();
        if let Some(e) = self.threat.kev(cve) {
            t.kev = Some(KevFacts {
                date_added: e.date_added,
                due_date: e.due_date,
                ransomware: e.ransomware.clone(),
                source: format!(
                    "KEV {}",
                    self.threat.kev.as_ref().map_or("", |k| k.version.as_str())
                ),
            });
        } else if let Some(k) = scanner.and_then(|s| s.kev.clone()) {
            t.kev = Some(KevFacts {
                source: f.scanner.clone(),
                ..k
            });
        }
        if let Some(e) = self.threat.epss(cve) {
            t.epss = Some(e.epss);
            t.epss_percentile = Some(e.percentile);
            t.epss_source = self
                .threat
                .epss
                .as_ref()
                .map(|s| format!("EPSS of {}", s.score_date));
        } else if let Some(e) = scanner.and_then(|s| s.epss) {
            t.epss = Some(e.epss);
            t.epss_percentile = Some(e.percentile);
            t.epss_source = Some(f.scanner.clone());
        }
        t
    }

    /// The SLA of a finding and what set it: the shortest of its severity's,
    /// the KEV SLA when known exploited, and the EPSS SLA when its score
    /// reaches the threshold (each only when the intent sets it).
    pub(crate) fn sla_of(&self, f: &FindingAgg) -> Option<(Ts, String)> {
        let mut best: Option<(Ts, String)> =
            sla_index(f.severity).map(|i| (self.sla[i], format!("{} SLA", f.severity.name())));
        if self.sla_kev.is_none() && self.sla_epss.is_none() {
            return best;
        }
        let t = self.threat_of(f);
        let mut consider = |secs: Ts, why: String| {
            if best.as_ref().is_none_or(|(b, _)| secs < *b) {
                best = Some((secs, why));
            }
        };
        if let (Some(secs), Some(k)) = (self.sla_kev, &t.kev) {
            consider(secs, format!("KEV SLA, added to KEV on {}", k.date_added));
        }
        if let (Some((at_least, secs)), Some(e)) = (self.sla_epss, t.epss)
            && e >= at_least
        {
            consider(secs, format!("EPSS SLA, EPSS {e} ≥ {at_least}"));
        }
        best
    }
}

/// Weight of a severity in the priority.
pub fn severity_weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 10.0,
        Severity::High => 8.0,
        Severity::Medium => 5.0,
        Severity::Low => 2.0,
        _ => 1.0,
    }
}

/// Weight of a service tier in the priority.
pub fn tier_weight(t: Tier) -> f64 {
    match t {
        Tier::Critical => 2.0,
        Tier::Standard => 1.0,
        Tier::Experimental => 0.5,
    }
}

/// Weight of a service's exposure in the priority.
pub fn exposure_weight(e: Exposure) -> f64 {
    match e {
        Exposure::Internet => 2.0,
        Exposure::Internal => 1.0,
        Exposure::Isolated => 0.5,
    }
}

/// One open finding on the work list, with the evidence of its priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priority {
    /// Rank from 1, by priority (ties: older first, then key).
    pub rank: usize,
    /// `severity × likelihood × tier × exposure` (docs/metrics.md).
    pub priority: f64,
    pub key: String,
    pub cve: Option<String>,
    pub service: Option<String>,
    /// The scanned artifact (image or path) the finding is in: what runs.
    pub target: String,
    /// The service's environments (the intent's), production last: where it runs.
    pub environments: Vec<String>,
    pub severity: Severity,
    pub scanner: String,
    pub first_seen: DateTime<Utc>,
    pub age_seconds: i64,
    #[serde(flatten)]
    pub threat: FindingThreat,
    pub likelihood: f64,
    pub tier: Option<Tier>,
    pub exposure: Option<Exposure>,
    /// The SLA that applies and its source.
    pub sla: Option<String>,
    pub sla_seconds: Option<i64>,
    pub past_sla: bool,
    pub event_ids: Vec<String>,
    /// The product, spelled out.
    pub explain: String,
}

/// What fixing the top findings would do to the security figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityFigures {
    pub open_findings: usize,
    pub findings_past_sla: usize,
    pub kev_open: usize,
    pub kev_past_due: usize,
    pub epss_weighted_exposure: f64,
}

/// The work list and what fixing its top `n` would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priorities {
    pub generated_at: DateTime<Utc>,
    pub findings: Vec<Priority>,
    pub now: SecurityFigures,
    pub top_n: usize,
    /// The figures once the top `n` are fixed.
    pub after_top_n: SecurityFigures,
    /// The feeds in use (`KEV 2025.08.25`, `EPSS 2025-08-25…`).
    pub feeds: Vec<String>,
}

fn kev_past_due(t: &FindingThreat, at: Ts) -> bool {
    t.kev
        .as_ref()
        .and_then(|k| k.due_date)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .is_some_and(|end| end.and_utc().timestamp() < at)
}

fn is_vulnerability(f: &FindingAgg) -> bool {
    f.kind == FindingKind::Vulnerability
}

/// Open findings of a scope at `now`, by threat-aware priority, and what
/// fixing the first `top_n` would do to the security figures.
pub fn priorities(ds: &Dataset, scope: &Scope, now: DateTime<Utc>, top_n: usize) -> Priorities {
    let at = ts(now);
    let mut list = Vec::new();
    for s in ds.services_in(scope) {
        for &i in &ds.data[s as usize].findings {
            let f = &ds.findings[i as usize];
            let Some(age) = open_age(ds, f, at) else {
                continue;
            };
            list.push(priority_of(ds, f, age));
        }
    }
    list.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.key.cmp(&b.key))
    });
    for (i, p) in list.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    let figures = |skip: usize| SecurityFigures::of(list.iter().skip(skip), at);
    let top_n = top_n.min(list.len());
    let mut feeds = Vec::new();
    if let Some(k) = &ds.threat.kev {
        feeds.push(format!("KEV {} ({} CVEs)", k.version, k.entries.len()));
    }
    if let Some(e) = &ds.threat.epss {
        feeds.push(format!("EPSS {} ({} CVEs)", e.score_date, e.scores.len()));
    }
    Priorities {
        generated_at: now,
        now: figures(0),
        after_top_n: figures(top_n),
        top_n,
        findings: list,
        feeds,
    }
}

/// A finding's term in `security.epss_weighted_exposure`: 1 when known
/// exploited, else its EPSS score, else 0 (no score, no term).
fn exposure_term(t: &FindingThreat) -> f64 {
    if t.kev.is_some() {
        1.0
    } else {
        t.epss.unwrap_or(0.0)
    }
}

fn priority_of(ds: &Dataset, f: &FindingAgg, age: Ts) -> Priority {
    let threat = ds.threat_of(f);
    let info = (f.svc != NONE).then(|| ds.info(f.svc)).flatten();
    let (tier, exposure) = (info.map(|i| i.tier), info.map(|i| i.exposure));
    let sw = severity_weight(f.severity);
    let l = threat.likelihood();
    let tw = tier.map_or(1.0, tier_weight);
    let xw = exposure.map_or(1.0, exposure_weight);
    let priority = sw * l * tw * xw;
    let sla = ds.sla_of(f);
    let past = sla.as_ref().is_some_and(|(s, _)| age > *s);
    let why_l = match (&threat.kev, threat.epss) {
        (Some(k), _) => format!("1 (in {} since {})", k.source, k.date_added),
        (None, Some(e)) => format!(
            "{e} (EPSS, {})",
            threat.epss_source.as_deref().unwrap_or("?")
        ),
        (None, None) => format!("{UNSCORED} (no KEV entry, no EPSS score)"),
    };
    let explain = format!(
        "{} severity {sw} × likelihood {why_l} × tier {} {tw} × exposure {} {xw} = {priority:.4}",
        f.severity.name(),
        tier.map_or("unknown", tier_name),
        exposure.map_or("unknown", exposure_name),
    );
    Priority {
        rank: 0,
        priority,
        key: f.key.clone(),
        cve: cve_of(&f.key).map(str::to_owned),
        service: (f.svc != NONE).then(|| ds.svc_name(f.svc).to_owned()),
        target: ds.names.name(f.target).to_owned(),
        environments: info.map(|i| i.envs.clone()).unwrap_or_default(),
        severity: f.severity,
        scanner: f.scanner.clone(),
        first_seen: crate::dataset::to_time(f.first_seen),
        age_seconds: age,
        threat,
        likelihood: l,
        tier,
        exposure,
        sla: sla.as_ref().map(|(_, w)| w.clone()),
        sla_seconds: sla.as_ref().map(|(s, _)| *s),
        past_sla: past,
        event_ids: f.evs.iter().map(|&e| ds.id(e).to_owned()).collect(),
        explain: format!("{explain}; age {}", fmt_secs(age as f64)),
    }
}

fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Critical => "critical",
        Tier::Standard => "standard",
        Tier::Experimental => "experimental",
    }
}

fn exposure_name(e: Exposure) -> &'static str {
    match e {
        Exposure::Internet => "internet",
        Exposure::Internal => "internal",
        Exposure::Isolated => "isolated",
    }
}

/// Which of the three threat metrics.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreatMetric {
    KevOpen,
    KevPastDue,
    EpssExposure,
}

/// `security.kev_open`, `security.kev_past_due`, `security.epss_weighted_exposure`
/// at the end of the window; samples: the open findings looked at.
pub(crate) fn threat_metric(ctx: &mut Ctx<'_>, which: ThreatMetric) -> MetricValue {
    let ds = ctx.ds;
    let (mut open, mut value) = (0usize, 0.0f64);
    for f in findings_in(ctx) {
        if open_age(ds, f, ctx.to).is_none() {
            continue;
        }
        open += 1;
        let t = ds.threat_of(f);
        let (counts, term, role) = match which {
            ThreatMetric::KevOpen => match &t.kev {
                Some(k) => (
                    true,
                    1.0,
                    format!(
                        "open {} finding {} known exploited: in {} since {}",
                        f.severity.name(),
                        f.key,
                        k.source,
                        k.date_added
                    ),
                ),
                None => (false, 0.0, String::new()),
            },
            ThreatMetric::KevPastDue => match &t.kev {
                Some(k) if kev_past_due(&t, ctx.to) => (
                    true,
                    1.0,
                    format!(
                        "open {} finding {} known exploited (in {} since {}), past its KEV due date {}",
                        f.severity.name(),
                        f.key,
                        k.source,
                        k.date_added,
                        k.due_date.map_or_else(String::new, |d| d.to_string())
                    ),
                ),
                _ => (false, 0.0, String::new()),
            },
            ThreatMetric::EpssExposure => {
                let term = exposure_term(&t);
                if !is_vulnerability(f) || term == 0.0 {
                    (false, 0.0, String::new())
                } else {
                    let why = match (&t.kev, t.epss) {
                        (Some(k), _) => format!("1 (in {} since {})", k.source, k.date_added),
                        (None, e) => format!(
                            "EPSS {} ({})",
                            e.unwrap_or(0.0),
                            t.epss_source.as_deref().unwrap_or("?")
                        ),
                    };
                    (
                        true,
                        term,
                        format!("open {} finding {}: {why}", f.severity.name(), f.key),
                    )
                }
            }
        };
        if !counts {
            continue;
        }
        value += term;
        for &e in &f.evs {
            ctx.tr.add_id(ds, e);
        }
        ctx.tr.add_other(|| finding_record(ds, f, role, Some(term)));
    }
    let mut v = ctx.value(Some(value), open);
    if ds.findings.is_empty() {
        v.value = None;
        v.note = Some("no findings recorded".into());
    } else if ds.threat.kev.is_none()
        && which != ThreatMetric::EpssExposure
        && ds.scanner_threat.values().all(|s| s.kev.is_none())
    {
        v.note = Some("no KEV catalog ingested (`bearing ingest kev.json`)".into());
    } else if which == ThreatMetric::EpssExposure
        && ds.threat.epss.is_none()
        && ds.scanner_threat.values().all(|s| s.epss.is_none())
        && ds.threat.kev.is_none()
    {
        v.note = Some("no EPSS scores ingested (`bearing ingest epss.csv`)".into());
    }
    v
}

/// A key result on a security figure, now and once the top findings are fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KrEffect {
    pub objective: String,
    pub metric: String,
    pub target: String,
    pub now: f64,
    pub after: f64,
    pub met_now: bool,
    pub met_after: bool,
}

impl SecurityFigures {
    /// The figures of these open findings at `at`.
    fn of<'a>(list: impl Iterator<Item = &'a Priority>, at: Ts) -> Self {
        let mut f = SecurityFigures::default();
        for p in list {
            f.open_findings += 1;
            f.findings_past_sla += usize::from(p.past_sla);
            if p.threat.kev.is_some() {
                f.kev_open += 1;
                f.kev_past_due += usize::from(kev_past_due(&p.threat, at));
            }
            if p.cve.is_some() {
                f.epss_weighted_exposure += exposure_term(&p.threat);
            }
        }
        f
    }

    /// The figure a metric names, if it is one of these.
    pub fn get(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "security.open_findings" => self.open_findings as f64,
            "security.findings_past_sla" => self.findings_past_sla as f64,
            "security.kev_open" => self.kev_open as f64,
            "security.kev_past_due" => self.kev_past_due as f64,
            "security.epss_weighted_exposure" => self.epss_weighted_exposure,
            _ => return None,
        })
    }
}

/// The intent's key results on these figures whose scope is the list's, now
/// and after fixing the top findings. A key result's `severity` and `scanner`
/// filters pick the findings it counts; one with another filter (`kind`) is
/// not comparable with the list and left out.
pub fn key_result_effects(
    intent: &bearing_intent::Intent,
    scope: &Scope,
    p: &Priorities,
) -> Vec<KrEffect> {
    let at = ts(p.generated_at);
    let mut out = Vec::new();
    for o in &intent.objectives {
        for kr in &o.key_results {
            if kr.scope != *scope || kr.filter.keys().any(|k| k != "severity" && k != "scanner") {
                continue;
            }
            let counts = |f: &&Priority| {
                kr.filter.iter().all(|(k, v)| {
                    let have = if k == "severity" {
                        f.severity.name()
                    } else {
                        f.scanner.as_str()
                    };
                    v.values().contains(&have)
                })
            };
            let now_f = SecurityFigures::of(p.findings.iter().filter(counts), at);
            let after_f = SecurityFigures::of(p.findings.iter().skip(p.top_n).filter(counts), at);
            let (Some(now), Some(after)) = (now_f.get(&kr.metric), after_f.get(&kr.metric)) else {
                continue;
            };
            out.push(KrEffect {
                objective: o.id.clone(),
                metric: kr.metric.clone(),
                target: kr.target.to_string(),
                now,
                after,
                met_now: kr.target.is_met(now),
                met_after: kr.target.is_met(after),
            });
        }
    }
    out
}
