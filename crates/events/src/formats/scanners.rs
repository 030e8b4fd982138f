//! Trivy and Grype JSON reports: one finding per reported vulnerability,
//! misconfiguration, secret or license.
//!
//! Trivy: schema v2 (`{"SchemaVersion":2,"ArtifactName":…,"Results":[…]}`), the
//! legacy list (`[{"Target":…,"Vulnerabilities":[…]}]`) and the Kubernetes report
//! (`{"ClusterName":…,"Vulnerabilities":[{"Namespace","Kind","Name","Results"}]}`).
//! Target: `ArtifactName`, else the result's `Target`; for Kubernetes
//! misconfigurations `<cluster>/<namespace>/<kind>/<name>`. Passing
//! misconfigurations (`Status: PASS`) are skipped. Scan time: `CreatedAt`.
//!
//! Grype: `matches[]` with `vulnerability`, `artifact` and `relatedVulnerabilities`.
//! Target: `source.target.userInput` (image) or the scanned directory. A GHSA match
//! with exactly one related CVE is reported under the CVE. Fixable: `fix.state` is
//! `fixed`. Scan time: `descriptor.timestamp`.
//!
//! Targets are normalised with [`super::normalize_target`] (image tag and digest
//! dropped) so both scanners name the same image the same way.
//!
//! A finding that cannot be used (no id, no package, a severity that is not a
//! word) is skipped with its path and reason, and the rest of the report is
//! kept; with [`ParseContext::strict`] it rejects the report. The scan id is a
//! digest of the report's bytes, so the same report ingested again is duplicates.

use serde_json::Value;

use crate::model::*;

use super::findings::{event, normalize_target, scan_id, severity_word};
use super::json::{Get, parse_value, req_str};
use super::{ParseContext, ParseError, Parsed, RecordRef};

/// A finding read from a report, with its attributes, or why it cannot be used.
type Read = Result<(Finding, Vec<(&'static str, Value)>), ParseError>;

struct Scan<'a> {
    scanner: &'static str,
    id: String,
    time: chrono::DateTime<chrono::Utc>,
    ctx: &'a ParseContext,
    parsed: Parsed,
    n: usize,
}

impl Scan<'_> {
    fn push(&mut self, finding: Finding, attributes: Vec<(&str, Value)>) {
        let e = event(finding, self.n, self.time, self.ctx, attributes);
        self.parsed.push(e, None);
        self.n += 1;
    }

    /// Stores a finding read at `at`, or skips it with the reason it cannot be
    /// used (the error, in strict mode).
    fn push_or_skip(&mut self, read: Read, at: &str) -> Result<(), ParseError> {
        match read {
            Ok((f, attrs)) => {
                self.push(f, attrs);
                Ok(())
            }
            Err(e) => self.parsed.unusable(self.ctx, at, e),
        }
    }

    fn finding(
        &self,
        kind: FindingKind,
        rule_id: String,
        severity: Severity,
        target: String,
    ) -> Finding {
        Finding {
            scanner: self.scanner.to_owned(),
            scan_id: self.id.clone(),
            kind,
            rule_id,
            severity,
            target,
            package: None,
            installed_version: None,
            fixed_version: None,
            fixable: true,
            title: None,
            location: None,
        }
    }
}

fn report_time(
    v: &Value,
    path: &str,
    ctx: &ParseContext,
) -> Result<chrono::DateTime<chrono::Utc>, ParseError> {
    match v.str_at(path) {
        None => Ok(ctx.now),
        Some(s) => crate::timestamp::parse_lenient(s).ok_or_else(|| {
            ParseError::new(crate::timestamp::expected_timestamp(s)).with_field(path)
        }),
    }
}

fn severity_of(v: &Value, path: &str) -> Result<Severity, ParseError> {
    match v.path(path) {
        None | Some(Value::Null) => Ok(Severity::Unknown),
        Some(Value::String(s)) => severity_word(s).ok_or_else(|| {
            ParseError::new(format!(
                "expected `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `UNKNOWN`, found `{}`",
                super::truncate(s, 30)
            ))
            .with_field(path)
        }),
        Some(other) => Err(ParseError::new(format!(
            "expected a severity word, found {}",
            super::json::kind_of(other)
        ))
        .with_field(path)),
    }
}

fn list<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], ParseError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(ParseError::new(format!(
            "expected an array, found {}",
            super::json::kind_of(other)
        ))
        .with_field(key)),
    }
}

// ---------------------------------------------------------------- Trivy

pub(super) fn parse_trivy(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let report = parse_value(bytes)?;
    let time = match &report {
        Value::Object(_) => report_time(&report, "CreatedAt", ctx)?,
        _ => ctx.now,
    };
    let mut scan = Scan {
        scanner: "trivy",
        id: scan_id(bytes, "trivy"),
        time,
        ctx,
        parsed: Parsed::default(),
        n: 0,
    };
    match &report {
        // Legacy (before SchemaVersion 2): a bare list of results.
        Value::Array(results) => {
            for (i, r) in results.iter().enumerate() {
                trivy_result(&mut scan, r, &format!("[{i}]"), None, None)?;
            }
        }
        Value::Object(m) if m.contains_key("ClusterName") => {
            let cluster = report.str_at("ClusterName").unwrap_or("cluster");
            for key in ["Vulnerabilities", "Misconfigurations", "Resources"] {
                let Some(resources) = scan.list(&report, key, "")? else {
                    continue;
                };
                for (i, res) in resources.iter().enumerate() {
                    let at = format!("{key}[{i}]");
                    let resource = format!(
                        "{cluster}/{}/{}/{}",
                        res.str_at("Namespace").unwrap_or("-"),
                        res.str_at("Kind").unwrap_or("-"),
                        res.str_at("Name").unwrap_or("-")
                    );
                    let Some(results) = scan.list(res, "Results", &at)? else {
                        continue;
                    };
                    for (j, r) in results.iter().enumerate() {
                        let at = format!("{at}.Results[{j}]");
                        trivy_result(&mut scan, r, &at, None, Some(&resource))?;
                    }
                }
            }
        }
        Value::Object(m) if m.contains_key("Results") || m.contains_key("SchemaVersion") => {
            if let Some(v) = report.u64_at("SchemaVersion").filter(|v| *v != 2) {
                return Err(ParseError::new(format!(
                    "unsupported Trivy `SchemaVersion` {v}; expected 2 (or the legacy list)"
                ))
                .with_field("SchemaVersion"));
            }
            let artifact = report.str_at("ArtifactName");
            // Without its results a report says nothing: that is not a record to skip.
            for (i, r) in list(&report, "Results")?.iter().enumerate() {
                trivy_result(&mut scan, r, &format!("Results[{i}]"), artifact, None)?;
            }
        }
        _ => {
            return Err(ParseError::new(
                "not a Trivy report: expected `SchemaVersion` and `Results`, a list of results, or a Kubernetes report with `ClusterName`",
            ));
        }
    }
    Ok(scan.parsed)
}

impl Scan<'_> {
    /// `v[key]` as a list; when it is not one, the list cannot be used (see
    /// [`Parsed::unusable`]) and `None` is returned. `at` is `v`'s path.
    fn list<'v>(
        &mut self,
        v: &'v Value,
        key: &str,
        at: &str,
    ) -> Result<Option<&'v [Value]>, ParseError> {
        match list(v, key) {
            Ok(l) => Ok(Some(l)),
            Err(e) => {
                let path = if at.is_empty() {
                    key.to_owned()
                } else {
                    format!("{at}.{key}")
                };
                let e = ParseError { field: None, ..e };
                self.parsed.unusable(self.ctx, &path, e).map(|()| None)
            }
        }
    }
}

/// One Trivy result (`at` is its path in the report): its findings are read one
/// by one, and one that cannot be used is skipped with its reason (or rejects the
/// report in strict mode).
fn trivy_result(
    scan: &mut Scan<'_>,
    r: &Value,
    at: &str,
    artifact: Option<&str>,
    resource: Option<&str>,
) -> Result<(), ParseError> {
    if !r.is_object() {
        let e = ParseError::new(format!(
            "expected a result object, found {}",
            super::json::kind_of(r)
        ));
        return scan.parsed.unusable(scan.ctx, at, e);
    }
    let result_target = r.str_at("Target").unwrap_or_default();
    let image_target = normalize_target(artifact.unwrap_or(result_target));
    // A file inside the artifact (`app/libs/x.jar`), when it is not the artifact itself.
    let inner_file = (artifact.is_some()
        && !result_target.is_empty()
        && normalize_target(result_target) != image_target)
        .then(|| result_target.to_owned());

    let vulnerabilities = scan.list(r, "Vulnerabilities", at)?.unwrap_or_default();
    for (i, v) in vulnerabilities.iter().enumerate() {
        let read = || -> Read {
            let id = req_str(v, "VulnerabilityID")?;
            let mut f = scan.finding(
                FindingKind::Vulnerability,
                id.to_owned(),
                severity_of(v, "Severity")?,
                image_target.clone(),
            );
            f.package = Some(req_str(v, "PkgName")?.to_owned());
            f.installed_version = v.str_at("InstalledVersion").map(str::to_owned);
            f.fixed_version = v.str_at("FixedVersion").map(str::to_owned);
            f.fixable = f.fixed_version.is_some();
            f.title = v.str_at("Title").map(|t| super::truncate(t, 300));
            f.location = inner_file
                .clone()
                .or_else(|| v.str_at("PkgPath").map(str::to_owned))
                .map(|file| Location {
                    file,
                    line: None,
                    column: None,
                });
            let attrs = vec![
                ("url", v.get("PrimaryURL").cloned().unwrap_or(Value::Null)),
                (
                    "purl",
                    v.path("PkgIdentifier.PURL").cloned().unwrap_or(Value::Null),
                ),
                ("status", v.get("Status").cloned().unwrap_or(Value::Null)),
                ("trivy.target", Value::from(result_target)),
            ];
            Ok((f, attrs))
        };
        scan.push_or_skip(read(), &format!("{at}.Vulnerabilities[{i}]"))?;
    }
    let misconfigurations = scan.list(r, "Misconfigurations", at)?.unwrap_or_default();
    for (i, m) in misconfigurations.iter().enumerate() {
        if matches!(m.str_at("Status"), Some("PASS") | Some("EXCEPTION")) {
            let id = m.str_at("ID").unwrap_or("?");
            scan.parsed.skip(
                Some(RecordRef::Record(i + 1)),
                format!("misconfiguration `{id}` in `{result_target}` passed"),
            );
            continue;
        }
        let read = || -> Read {
            let id = m
                .str_at("AVDID")
                .filter(|_| m.str_at("ID").is_none())
                .or_else(|| m.str_at("ID"));
            let id = id.ok_or_else(|| {
                ParseError::new("missing; a misconfiguration has an `ID`").with_field("ID")
            })?;
            let target = match resource {
                Some(res) => res.to_owned(),
                None => match artifact {
                    Some(a) if !result_target.is_empty() => {
                        format!("{}:{result_target}", normalize_target(a))
                    }
                    _ => result_target.to_owned(),
                },
            };
            let mut f = scan.finding(
                FindingKind::Misconfiguration,
                id.to_owned(),
                severity_of(m, "Severity")?,
                target,
            );
            f.title = m
                .str_at("Title")
                .or_else(|| m.str_at("Message"))
                .map(|t| super::truncate(t, 300));
            let line = m
                .u64_at("CauseMetadata.StartLine")
                .and_then(|l| u32::try_from(l).ok());
            f.location = (!result_target.is_empty()).then(|| Location {
                file: result_target.to_owned(),
                line,
                column: None,
            });
            let attrs = vec![
                ("message", m.get("Message").cloned().unwrap_or(Value::Null)),
                (
                    "resolution",
                    m.get("Resolution").cloned().unwrap_or(Value::Null),
                ),
                ("url", m.get("PrimaryURL").cloned().unwrap_or(Value::Null)),
            ];
            Ok((f, attrs))
        };
        scan.push_or_skip(read(), &format!("{at}.Misconfigurations[{i}]"))?;
    }
    let secrets = scan.list(r, "Secrets", at)?.unwrap_or_default();
    for (i, s) in secrets.iter().enumerate() {
        let read = || -> Read {
            let id = req_str(s, "RuleID")?;
            let target = match artifact {
                Some(a) => format!("{}:{result_target}", normalize_target(a)),
                None => result_target.to_owned(),
            };
            let mut f = scan.finding(
                FindingKind::Secret,
                id.to_owned(),
                severity_of(s, "Severity")?,
                target,
            );
            f.title = s.str_at("Title").map(str::to_owned);
            let line = s.u64_at("StartLine").and_then(|l| u32::try_from(l).ok());
            f.location = Some(Location {
                file: result_target.to_owned(),
                line,
                column: None,
            });
            // The match is redacted by Trivy; it is still not copied into Bearing.
            let attrs = vec![(
                "category",
                s.get("Category").cloned().unwrap_or(Value::Null),
            )];
            Ok((f, attrs))
        };
        scan.push_or_skip(read(), &format!("{at}.Secrets[{i}]"))?;
    }
    let licenses = scan.list(r, "Licenses", at)?.unwrap_or_default();
    for (i, l) in licenses.iter().enumerate() {
        let read = || -> Read {
            let name = req_str(l, "Name")?;
            let mut f = scan.finding(
                FindingKind::License,
                name.to_owned(),
                severity_of(l, "Severity")?,
                image_target.clone(),
            );
            f.package = l.str_at("PkgName").map(str::to_owned);
            f.title = Some(format!(
                "license {name} ({})",
                l.str_at("Category").unwrap_or("unknown category")
            ));
            f.location = l.str_at("FilePath").map(|file| Location {
                file: file.to_owned(),
                line: None,
                column: None,
            });
            let attrs = vec![(
                "category",
                l.get("Category").cloned().unwrap_or(Value::Null),
            )];
            Ok((f, attrs))
        };
        scan.push_or_skip(read(), &format!("{at}.Licenses[{i}]"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- Grype

pub(super) fn parse_grype(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let report = parse_value(bytes)?;
    if !report.is_object() || report.get("matches").is_none() {
        return Err(ParseError::new(
            "not a Grype report: expected an object with `matches`",
        ));
    }
    let time = match report.str_at("descriptor.timestamp") {
        Some(_) => report_time(&report, "descriptor.timestamp", ctx)?,
        None => ctx.now,
    };
    let target = grype_target(&report, ctx);
    let mut scan = Scan {
        scanner: "grype",
        id: scan_id(bytes, "grype"),
        time,
        ctx,
        parsed: Parsed::default(),
        n: 0,
    };
    for (i, m) in list(&report, "matches")?.iter().enumerate() {
        let read = || -> Read {
            let id = req_str(m, "vulnerability.id")?;
            let related_cves: Vec<&str> = m
                .arr_at("relatedVulnerabilities")
                .iter()
                .filter_map(|r| r.str_at("id"))
                .filter(|r| r.to_ascii_uppercase().starts_with("CVE-"))
                .collect();
            let (rule_id, advisory) = match related_cves.as_slice() {
                [cve] if !id.to_ascii_uppercase().starts_with("CVE-") => {
                    (cve.to_string(), Some(id))
                }
                _ => (id.to_owned(), None),
            };
            let severity = match m.str_at("vulnerability.severity") {
                None => Severity::Unknown,
                Some(s) => severity_word(s).ok_or_else(|| {
                    ParseError::new(format!(
                        "expected `Critical`, `High`, `Medium`, `Low`, `Negligible` or `Unknown`, found `{}`",
                        super::truncate(s, 30)
                    ))
                    .with_field("vulnerability.severity")
                })?,
            };
            let mut f = scan.finding(
                FindingKind::Vulnerability,
                rule_id,
                severity,
                target.clone(),
            );
            f.package = Some(req_str(m, "artifact.name")?.to_owned());
            f.installed_version = m.str_at("artifact.version").map(str::to_owned);
            let fix_versions: Vec<&str> = m
                .arr_at("vulnerability.fix.versions")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            f.fixable =
                m.str_at("vulnerability.fix.state") == Some("fixed") && !fix_versions.is_empty();
            f.fixed_version = (!fix_versions.is_empty()).then(|| fix_versions.join(", "));
            f.title = m
                .str_at("vulnerability.description")
                .map(|t| super::truncate(t, 300));
            f.location = m.str_at("artifact.locations.0.path").map(|file| Location {
                file: file.to_owned(),
                line: None,
                column: None,
            });
            let attrs = vec![
                ("advisory", advisory.map(Value::from).unwrap_or(Value::Null)),
                (
                    "url",
                    m.get("vulnerability")
                        .and_then(|v| v.get("dataSource"))
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                (
                    "purl",
                    m.path("artifact.purl").cloned().unwrap_or(Value::Null),
                ),
                (
                    "fix_state",
                    m.path("vulnerability.fix.state")
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                (
                    "grype.target",
                    report.path("source.target").cloned().unwrap_or(Value::Null),
                ),
            ];
            let mut attrs = attrs;
            attrs.extend(grype_threat(m, &f.rule_id));
            Ok((f, attrs))
        };
        scan.push_or_skip(read(), &format!("matches[{i}]"))?;
    }
    Ok(scan.parsed)
}

/// Grype's own threat fields of a match (recent versions): the EPSS score
/// (`vulnerability.epss[]`, the entry of the finding's CVE, else the first)
/// as `epss` and `epss_percentile`, and the KEV entry
/// (`vulnerability.knownExploited[]`) as `kev` with `date_added`, `due_date`
/// and `ransomware`. Absent fields add nothing.
fn grype_threat(m: &Value, cve: &str) -> Vec<(&'static str, Value)> {
    let pick = |key: &str| {
        let list = m.arr_at(key);
        list.iter()
            .find(|e| e.str_at("cve").is_some_and(|c| c.eq_ignore_ascii_case(cve)))
            .or_else(|| list.first())
            .cloned()
    };
    let mut out = Vec::new();
    if let Some(e) = pick("vulnerability.epss")
        && let (Some(score), Some(pct)) = (
            e.get("epss").and_then(Value::as_f64),
            e.get("percentile").and_then(Value::as_f64),
        )
    {
        out.push(("epss", Value::from(score)));
        out.push(("epss_percentile", Value::from(pct)));
    }
    if let Some(k) = pick("vulnerability.knownExploited")
        && let Some(added) = k.str_at("dateAdded")
    {
        out.push((
            "kev",
            serde_json::json!({
                "date_added": added,
                "due_date": k.str_at("dueDate"),
                "ransomware": k.str_at("knownRansomwareCampaignUse").unwrap_or("Unknown"),
            }),
        ));
    }
    out
}

fn grype_target(report: &Value, ctx: &ParseContext) -> String {
    let t = report.path("source.target");
    let raw = match t {
        Some(Value::String(s)) => Some(s.clone()),
        Some(obj) => obj
            .str_at("userInput")
            .or_else(|| obj.str_at("path"))
            .or_else(|| obj.str_at("name"))
            .map(str::to_owned),
        None => None,
    };
    match raw {
        Some(r) => normalize_target(&r),
        None => format!("grype:{}", ctx.source_name.as_deref().unwrap_or("report")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new(chrono::Utc::now())
    }

    #[test]
    fn trivy_and_grype_agree_on_the_dedup_key() {
        let trivy = r#"{"SchemaVersion":2,"ArtifactName":"docker.io/library/web:1.2","CreatedAt":"2024-05-01T12:00:00Z","Results":[
            {"Target":"web:1.2 (alpine 3.19)","Class":"os-pkgs","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-1","PkgName":"libcrypto3","InstalledVersion":"3.1","FixedVersion":"3.2","Severity":"HIGH"}]}]}"#;
        let grype = r#"{"matches":[{"vulnerability":{"id":"GHSA-xxxx","severity":"High","fix":{"state":"fixed","versions":["3.2"]}},
            "relatedVulnerabilities":[{"id":"CVE-2024-1"}],"artifact":{"name":"libcrypto3","version":"3.1"}}],
            "source":{"type":"image","target":{"userInput":"web:1.3@sha256:abcd"}},"descriptor":{"name":"grype"}}"#;
        let t = parse_trivy(trivy.as_bytes(), &ctx()).unwrap();
        let g = parse_grype(grype.as_bytes(), &ctx()).unwrap();
        let (Payload::Finding(a), Payload::Finding(b)) =
            (&t.events[0].payload, &g.events[0].payload)
        else {
            panic!()
        };
        assert_eq!(a.dedup_key(), b.dedup_key());
        assert_eq!(a.dedup_key(), "CVE-2024-1|libcrypto3|web");
        assert!(a.fixable && b.fixable);
        assert_eq!(g.events[0].attributes["advisory"], "GHSA-xxxx");
    }

    #[test]
    fn grype_threat_fields_become_attributes_of_the_finding_s_cve() {
        let grype = br#"{"matches":[{"vulnerability":{"id":"GHSA-x","severity":"High",
            "epss":[{"cve":"CVE-2024-2","epss":0.2,"percentile":0.9},{"cve":"CVE-2024-1","epss":0.7,"percentile":0.99}],
            "knownExploited":[{"cve":"CVE-2024-1","dateAdded":"2025-01-02","dueDate":"2025-01-23","knownRansomwareCampaignUse":"Known"}]},
            "relatedVulnerabilities":[{"id":"CVE-2024-1"}],"artifact":{"name":"p","version":"1"}},
            {"vulnerability":{"id":"CVE-2024-3"},"artifact":{"name":"q"}}]}"#;
        let p = parse_grype(grype, &ctx()).unwrap();
        let a = &p.events[0].attributes;
        assert_eq!(a["epss"], 0.7);
        assert_eq!(a["epss_percentile"], 0.99);
        assert_eq!(
            a["kev"],
            serde_json::json!({"date_added": "2025-01-02", "due_date": "2025-01-23", "ransomware": "Known"})
        );
        let b = &p.events[1].attributes;
        assert!(!b.contains_key("epss") && !b.contains_key("kev"));
    }

    #[test]
    fn unusable_findings_are_skipped_or_in_strict_mode_reject() {
        let bad = r#"{"SchemaVersion":2,"ArtifactName":"x","Results":[{"Target":"x","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","Severity":7},{"VulnerabilityID":"CVE-2","PkgName":"p","Severity":"LOW"}]}]}"#;
        let p = parse_trivy(bad.as_bytes(), &ctx()).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(
            p.skipped[0].to_string(),
            "`Results[0].Vulnerabilities[0]` cannot be used: field `Severity`: expected a severity word, found the number `7`"
        );
        let mut strict = ctx();
        strict.strict = true;
        let e = parse_trivy(bad.as_bytes(), &strict).unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("Results[0].Vulnerabilities[0].Severity"),
            "{e}"
        );
        let grype = br#"{"matches":[{"vulnerability":{}},{"vulnerability":{"id":"CVE-3"},"artifact":{"name":"q"}}]}"#;
        let p = parse_grype(grype, &ctx()).unwrap();
        assert_eq!(p.events.len(), 1);
        assert!(
            p.skipped[0]
                .reason
                .contains("`matches[0]` cannot be used: field `vulnerability.id`: missing"),
            "{:?}",
            p.skipped
        );
        let e = parse_grype(grype, &strict).unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("matches[0].vulnerability.id"),
            "{e}"
        );
    }

    #[test]
    fn legacy_list_and_a_result_that_is_not_an_object() {
        let legacy = r#"[{"Target":"app/package-lock.json","Type":"npm","Vulnerabilities":[{"PkgName":"elliptic"},{"VulnerabilityID":"CVE-2018-16487","PkgName":"lodash","Severity":"HIGH"}]},
            "junk",
            {"Target":"web (alpine 3.7.1)","Type":"alpine","Vulnerabilities":null}]"#;
        let p = parse_trivy(legacy.as_bytes(), &ctx()).unwrap();
        assert_eq!(p.events.len(), 1);
        let reasons: Vec<String> = p.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "`[0].Vulnerabilities[0]` cannot be used: field `VulnerabilityID`: missing; this field is required",
                "`[1]` cannot be used: expected a result object, found the string `junk`",
            ]
        );
    }
}
