//! SARIF 2.1.0 from any tool: one finding per result.
//!
//! - rule: `result.ruleId`, else `result.rule.id`, else the rule at `ruleIndex`;
//!   a result with none (some converters) gets `message:<digest of its text>`.
//! - severity: the rule's (or result's) `security-severity` CVSS score (or a
//!   severity word written there; anything else is passed over), else a
//!   `severity`/`issue_severity` property or a severity word among the rule's
//!   tags, else `level` (result, then the rule's default; SARIF's default is
//!   `warning`): error→high, warning→medium, note→low, none→info.
//! - kind: vulnerability for CVE/GHSA rules or `vulnerability`/`security` tags with
//!   a package, secret for secret scanners and `secret` tags, misconfiguration for
//!   `misconfiguration`/`config` tags and config scanners, code otherwise.
//! - target: the artifact URI of the first location (resolved through
//!   `run.artifacts[index]`, `file://` removed); without a location, the run's
//!   tool and the input file name (`dockle:report.sarif`).
//! - skipped: suppressed results, `kind` `pass`/`notApplicable`/`informational`,
//!   and `baselineState` `absent` (the result is gone).
//!
//! A result or run that cannot be used is skipped with its path and reason
//! (rejects the log in strict mode). Scan time: the first invocation's end (or
//! start) time, else the context's `now`; the scan id is a digest of the bytes.

use serde_json::Value;

use crate::model::*;

use super::findings::{event, normalize_target, scan_id, severity_score, severity_word};
use super::json::{Get, parse_value};
use super::{ParseContext, ParseError, Parsed};

pub(super) fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let log = parse_value(bytes)?;
    if !log.is_object() {
        return Err(ParseError::new(format!(
            "expected a SARIF log object, found {}",
            super::json::kind_of(&log)
        )));
    }
    match log.path("version") {
        Some(Value::String(v)) if v == "2.1.0" => {}
        Some(Value::String(v)) => {
            return Err(ParseError::new(format!(
                "unsupported SARIF version `{}`; expected `2.1.0`",
                super::truncate(v, 20)
            ))
            .with_field("version"));
        }
        _ if log.path("runs").is_some() => {}
        _ => {
            return Err(ParseError::new(
                "missing `version` and `runs`: this is not a SARIF log",
            ));
        }
    }
    let runs = match log.path("runs") {
        Some(Value::Array(r)) => r,
        Some(other) => {
            return Err(ParseError::new(format!(
                "expected an array, found {}",
                super::json::kind_of(other)
            ))
            .with_field("runs"));
        }
        None => return Err(ParseError::new("missing; a SARIF log has `runs`").with_field("runs")),
    };
    let mut parsed = Parsed::default();
    let mut n = 0;
    for (ri, run) in runs.iter().enumerate() {
        let at = |e: ParseError| e.with_field(format!("runs[{ri}]"));
        let Some(tool) = run.str_at("tool.driver.name") else {
            let e =
                ParseError::new("missing; every run names its tool").with_field("tool.driver.name");
            parsed.unusable(ctx, &format!("runs[{ri}]"), e)?;
            continue;
        };
        let scanner = scanner_name(tool);
        let time = scan_time(run).map_err(at)?.unwrap_or(ctx.now);
        let scan = scan_id(bytes, &scanner);
        let rules = run.arr_at("tool.driver.rules");
        if ctx.strict {
            for (k, rule) in rules.iter().enumerate() {
                if let Some(x) = rule.path("properties.security-severity")
                    && security_severity(x).is_none()
                {
                    return Err(at(bad_security_severity(x).with_field(format!(
                        "tool.driver.rules[{k}].properties.security-severity"
                    ))));
                }
            }
        }
        let results = match run.path("results") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(r)) => r.as_slice(),
            Some(other) => {
                let e = ParseError::new(format!(
                    "expected an array, found {}",
                    super::json::kind_of(other)
                ));
                parsed.unusable(ctx, &format!("runs[{ri}].results"), e)?;
                continue;
            }
        };
        for (i, result) in results.iter().enumerate() {
            if let Some(reason) = skip_reason(result) {
                parsed.skip(
                    None,
                    format!("`runs[{ri}].results[{i}]` ({tool}): {reason}"),
                );
                continue;
            }
            let finding = match finding(run, rules, result, &scanner, &scan, ctx) {
                Ok(f) => f,
                Err(e) => {
                    parsed.unusable(ctx, &format!("runs[{ri}].results[{i}]"), e)?;
                    continue;
                }
            };
            let attributes = vec![
                ("sarif.tool", Value::from(tool)),
                ("sarif.run", Value::from(ri)),
                ("sarif.result", Value::from(i)),
                (
                    "fingerprints",
                    result
                        .get("partialFingerprints")
                        .or(result.get("fingerprints"))
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                (
                    "tags",
                    rule_of(rules, result)
                        .and_then(|r| r.path("properties.tags"))
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
            ];
            parsed.push(event(finding, n, time, ctx, attributes), None);
            n += 1;
        }
    }
    Ok(parsed)
}

fn scanner_name(tool: &str) -> String {
    tool.trim().to_ascii_lowercase().replace(' ', "-")
}

fn scan_time(run: &Value) -> Result<Option<chrono::DateTime<chrono::Utc>>, ParseError> {
    let Some(inv) = run.arr_at("invocations").first() else {
        return Ok(None);
    };
    let lenient = |path: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ParseError> {
        match inv.str_at(path) {
            None => Ok(None),
            Some(s) => crate::timestamp::parse_lenient(s).map(Some).ok_or_else(|| {
                ParseError::new(crate::timestamp::expected_timestamp(s))
                    .with_field(format!("invocations[0].{path}"))
            }),
        }
    };
    Ok(lenient("endTimeUtc")?.or(lenient("startTimeUtc")?))
}

fn skip_reason(result: &Value) -> Option<String> {
    let suppressed = result.arr_at("suppressions").iter().any(|s| {
        !matches!(s.str_at("status"), Some("rejected") | Some("underReview"))
            && !matches!(s.str_at("state"), Some("rejected") | Some("underReview"))
    });
    if suppressed {
        return Some("suppressed in the source or by the tool".into());
    }
    if let Some(k @ ("pass" | "notApplicable" | "informational" | "open" | "review")) =
        result.str_at("kind")
    {
        return Some(format!("result kind `{k}` is not a failure"));
    }
    if result.str_at("baselineState") == Some("absent") {
        return Some("baseline state `absent`: the result is no longer present".into());
    }
    None
}

fn rule_of<'a>(rules: &'a [Value], result: &Value) -> Option<&'a Value> {
    if let Some(i) = result
        .u64_at("ruleIndex")
        .or_else(|| result.u64_at("rule.index"))
    {
        return usize::try_from(i).ok().and_then(|i| rules.get(i));
    }
    let id = result
        .str_at("ruleId")
        .or_else(|| result.str_at("rule.id"))?;
    rules.iter().find(|r| r.str_at("id") == Some(id))
}

fn finding(
    run: &Value,
    rules: &[Value],
    result: &Value,
    scanner: &str,
    scan: &str,
    ctx: &ParseContext,
) -> Result<Finding, ParseError> {
    let rule = rule_of(rules, result);
    let message = result
        .str_at("message.text")
        .or_else(|| result.str_at("message.markdown"));
    let rule_id = result
        .str_at("ruleId")
        .or_else(|| result.str_at("rule.id"))
        .or_else(|| rule.and_then(|r| r.str_at("id")))
        .map(str::to_owned)
        .or_else(|| message.map(|m| format!("message:{}", &super::digest(&[m.as_bytes()])[..12])))
        .ok_or_else(|| {
            ParseError::new("missing; a result needs `ruleId`, `rule` or a message")
                .with_field("ruleId")
        })?;
    let tags: Vec<String> = rule
        .map(|r| r.arr_at("properties.tags"))
        .unwrap_or(&[])
        .iter()
        .chain(result.arr_at("properties.tags"))
        .filter_map(|t| t.as_str().map(str::to_ascii_lowercase))
        .collect();
    let severity = severity(rule, result, &tags, ctx.strict)?;

    // Vulnerability scanners emit `CVE-…-<package>` rule ids (Grype) or name the
    // package in the message (`target: pkg@version`, Trivy).
    let (mut vuln, mut package, mut installed) = (rule_id.clone(), None, None);
    if let Some((cve, pkg)) = split_cve(&rule_id) {
        vuln = cve.to_owned();
        package = Some(pkg.to_owned());
    }
    // Trivy and Grype also write `Package: x` / `Installed Version: y` / `Fixed Version: z`
    // lines into the message (Trivy) or the rule's help (Grype).
    let help = rule.and_then(|r| r.str_at("help.text"));
    let labelled = |labels: &[&str]| {
        [message, help]
            .into_iter()
            .flatten()
            .find_map(|text| labelled_line(text, labels))
    };
    if let Some(p) = labelled(&["Package"]) {
        package = Some(p.to_owned());
    }
    if let Some(v) = labelled(&["Installed Version", "Version"]) {
        installed = Some(v.to_owned());
    }
    let fixed = labelled(&["Fixed Version", "Fix Version"]).map(str::to_owned);
    let is_vuln =
        is_vuln_id(&vuln) || (package.is_some() && tags.iter().any(|t| t == "vulnerability"));
    let kind = if is_vuln {
        FindingKind::Vulnerability
    } else if matches!(scanner, "gitleaks" | "trufflehog" | "detect-secrets")
        || tags.iter().any(|t| t.contains("secret"))
    {
        FindingKind::Secret
    } else if matches!(
        scanner,
        "dockle" | "checkov" | "tfsec" | "kics" | "kube-linter" | "hadolint"
    ) || tags
        .iter()
        .any(|t| t == "misconfiguration" || t == "config")
    {
        FindingKind::Misconfiguration
    } else {
        FindingKind::Code
    };

    let location = location(run, result)?;
    let target = match &location {
        Some(l) if kind == FindingKind::Vulnerability => normalize_target(&l.file),
        Some(l) => l.file.clone(),
        None => format!(
            "{scanner}:{}",
            ctx.source_name.as_deref().unwrap_or("sarif")
        ),
    };
    let title = rule
        .and_then(|r| {
            r.str_at("shortDescription.text")
                .or_else(|| r.str_at("name"))
        })
        .or(message)
        .map(|t| super::truncate(t, 300));
    Ok(Finding {
        scanner: scanner.to_owned(),
        scan_id: scan.to_owned(),
        kind,
        rule_id: vuln,
        severity,
        target,
        package,
        installed_version: installed,
        fixed_version: fixed.clone(),
        // A vulnerability is fixable when the tool says a fix exists; code, secrets and
        // configuration are fixed in the scanned source itself.
        fixable: kind != FindingKind::Vulnerability
            || !result.arr_at("fixes").is_empty()
            || fixed.is_some(),
        title,
        location,
    })
}

/// The value of a `Label: value` line of a message, if present and not empty.
fn labelled_line<'a>(text: &'a str, labels: &[&str]) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (label, value) = line.split_once(':')?;
        let value = value.trim();
        (labels.contains(&label.trim()) && !value.is_empty()).then_some(value)
    })
}

fn is_vuln_id(id: &str) -> bool {
    let up = id.to_ascii_uppercase();
    up.starts_with("CVE-") || up.starts_with("GHSA-")
}

/// `CVE-2021-1234-openssl` → (`CVE-2021-1234`, `openssl`).
fn split_cve(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix("CVE-")?;
    let mut parts = rest.splitn(3, '-');
    let year = parts.next()?;
    let num = parts.next()?;
    let pkg = parts.next()?;
    (year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && !pkg.is_empty())
    .then(|| (&id[..4 + year.len() + 1 + num.len()], pkg))
}

/// A CVSS score, as a number or a numeric string, within 0..=10.
fn cvss(x: &Value) -> Option<f64> {
    let score = x
        .as_f64()
        .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))?;
    (score.is_finite() && (0.0..=10.0).contains(&score)).then_some(score)
}

/// A `security-severity`: a CVSS score, or a severity word some tools write
/// there instead (`"MEDIUM"`, `"High"`).
fn security_severity(x: &Value) -> Option<Severity> {
    cvss(x).map(severity_score).or_else(|| {
        x.as_str()
            .filter(|s| !s.trim().is_empty())
            .and_then(severity_word)
    })
}

fn bad_security_severity(x: &Value) -> ParseError {
    ParseError::new(format!(
        "expected a CVSS score between 0 and 10 or a severity word, found {}",
        super::json::kind_of(x)
    ))
}

/// The severity of a result: its own or its rule's `security-severity`, a
/// severity property, a severity tag, then `level`. A `security-severity` that
/// is neither a score nor a word is an error in strict mode and is passed over
/// otherwise (the next source decides).
fn severity(
    rule: Option<&Value>,
    result: &Value,
    tags: &[String],
    strict: bool,
) -> Result<Severity, ParseError> {
    let sources = [
        (
            result.path("properties.security-severity"),
            "properties.security-severity",
        ),
        (
            rule.and_then(|r| r.path("properties.security-severity")),
            "rule.properties.security-severity",
        ),
    ];
    for (x, field) in sources {
        let Some(x) = x else { continue };
        match security_severity(x) {
            Some(s) => return Ok(s),
            None if strict => return Err(bad_security_severity(x).with_field(field)),
            None => {}
        }
    }
    for v in [Some(result), rule].into_iter().flatten() {
        for key in ["properties.severity", "properties.issue_severity"] {
            if let Some(s) = v.str_at(key).and_then(severity_word) {
                return Ok(s);
            }
        }
    }
    for t in tags {
        if let Some(s) =
            severity_word(t).filter(|s| *s != Severity::Unknown && *s != Severity::Info)
        {
            // Only the plain words count as tags (`high`, `medium`…), not `error`/`warning`.
            if matches!(t.as_str(), "critical" | "high" | "medium" | "low") {
                return Ok(s);
            }
        }
    }
    let level = result
        .str_at("level")
        .or_else(|| rule.and_then(|r| r.str_at("defaultConfiguration.level")))
        .unwrap_or("warning");
    match level {
        "error" => Ok(Severity::High),
        "warning" => Ok(Severity::Medium),
        "note" => Ok(Severity::Low),
        "none" => Ok(Severity::Info),
        other => Err(ParseError::new(format!(
            "expected `error`, `warning`, `note` or `none`, found `{}`",
            super::truncate(other, 40)
        ))
        .with_field("level")),
    }
}

fn location(run: &Value, result: &Value) -> Result<Option<Location>, ParseError> {
    let Some(loc) = result.arr_at("locations").first() else {
        return Ok(None);
    };
    let art = loc.path("physicalLocation.artifactLocation");
    let uri = art
        .and_then(|a| a.str_at("uri"))
        .map(str::to_owned)
        .or_else(|| {
            let i = art?.u64_at("index")?;
            run.arr_at("artifacts")
                .get(usize::try_from(i).ok()?)?
                .str_at("location.uri")
                .map(str::to_owned)
        });
    let Some(uri) = uri else {
        return Ok(None);
    };
    let num = |path: &str| -> Result<Option<u32>, ParseError> {
        match loc.path(path) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ParseError::new(format!(
                        "expected a line or column number, found {}",
                        super::json::kind_of(x)
                    ))
                    .with_field(format!("locations[0].{path}"))
                }),
        }
    };
    Ok(Some(Location {
        file: clean_uri(&uri),
        line: num("physicalLocation.region.startLine")?,
        column: num("physicalLocation.region.startColumn")?,
    }))
}

/// `file:///C:/code/a.c` → `C:/code/a.c`; `file:///src/a.js` → `/src/a.js`.
fn clean_uri(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("file://") else {
        return uri.to_owned();
    };
    let path = rest.trim_start_matches('/');
    let windows = path.len() > 1 && path.as_bytes()[1] == b':';
    if windows {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_uris() {
        assert_eq!(
            split_cve("CVE-1999-0001-package-1"),
            Some(("CVE-1999-0001", "package-1"))
        );
        assert_eq!(split_cve("CVE-2019-1549"), None);
        assert_eq!(clean_uri("file:///C:/code/file1.c"), "C:/code/file1.c");
        assert_eq!(clean_uri("file:////src/x.js"), "/src/x.js");
        assert_eq!(clean_uri("src/a.py"), "src/a.py");
    }

    #[test]
    fn minimal_log() {
        let log = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Semgrep","rules":[{"id":"r1","properties":{"security-severity":"9.1","tags":["security"]}}]}},
            "invocations":[{"endTimeUtc":"2024-05-01T12:00:00Z"}],
            "results":[{"ruleId":"r1","ruleIndex":0,"message":{"text":"bad"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/a.py"},"region":{"startLine":3}}}]},
                       {"ruleId":"r1","suppressions":[{"kind":"inSource"}],"message":{"text":"ok"}}]}]}"#;
        let ctx = ParseContext::new(chrono::Utc::now());
        let p = parse(log.as_bytes(), &ctx).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.skipped.len(), 1);
        let Payload::Finding(f) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(
            (f.severity, f.kind, f.target.as_str()),
            (Severity::Critical, FindingKind::Code, "src/a.py")
        );
        assert_eq!(f.location.as_ref().unwrap().line, Some(3));
        assert_eq!(p.events[0].time.to_rfc3339(), "2024-05-01T12:00:00+00:00");

        // A word where the score goes is read as the word.
        let word = log.replace("\"9.1\"", "\"MEDIUM\"");
        let p = parse(word.as_bytes(), &ctx).unwrap();
        let Payload::Finding(f) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(f.severity, Severity::Medium);

        // Neither a score nor a word: the level decides (SARIF's default `warning`),
        // unless strict.
        let bad = log.replace("\"9.1\"", "\"severe\"");
        let p = parse(bad.as_bytes(), &ctx).unwrap();
        let Payload::Finding(f) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(f.severity, Severity::Medium);
        let mut strict = ctx.clone();
        strict.strict = true;
        let e = parse(bad.as_bytes(), &strict).unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("runs[0].tool.driver.rules[0].properties.security-severity"),
            "{e}"
        );

        // A result that cannot be used is skipped; the others are kept.
        let two = log.replace(
            r#"{"ruleId":"r1","suppressions""#,
            r#"{"level":"error"},{"ruleId":"r1","suppressions""#,
        );
        let p = parse(two.as_bytes(), &ctx).unwrap();
        assert_eq!(p.events.len(), 1);
        assert_eq!(
            p.skipped[0].to_string(),
            "`runs[0].results[1]` cannot be used: field `ruleId`: missing; a result needs `ruleId`, `rule` or a message"
        );
        let e = parse(two.as_bytes(), &strict).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("runs[0].results[1].ruleId"), "{e}");
    }
}
