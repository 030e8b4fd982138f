//! Builds the `input` document the built-in policies read: the envelope's
//! fields, Terraform resources flattened across modules, Kubernetes documents,
//! scan findings and cost totals normalised, each with the JSON pointer of its
//! source so a violation can be located in the file.

use serde_json::{Map, Value, json};

use crate::envelope::{Attachment, Envelope};

/// The normalised input for the built-in modules (without `context`).
pub fn builtin_input(env: &Envelope) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("service".into(), json!(env.service));
    m.insert("environment".into(), json!(env.environment));
    m.insert("version".into(), json!(env.version));
    m.insert("commit".into(), json!(env.commit));
    m.insert("author".into(), json!(env.author));
    m.insert("labels".into(), json!(env.labels));
    m.insert("change_size".into(), json!(env.change_size));
    m.insert("strategy".into(), json!(env.strategy));
    m.insert("checks".into(), json!(env.checks));
    let a = &env.attachments;
    let plans: Vec<Value> = a.terraform_plans.iter().map(terraform).collect();
    let manifests: Vec<Value> = a
        .manifests
        .iter()
        .map(|m| json!({"file": m.file, "documents": m.content}))
        .collect();
    let scans: Vec<Value> = a.scans.iter().map(scan).collect();
    let cost: Vec<Value> = a.cost.iter().map(cost).collect();
    m.insert(
        "attachments".into(),
        json!({"terraform_plans": plans, "manifests": manifests, "scans": scans, "cost": cost}),
    );
    m
}

/// Resources a Terraform plan creates or changes, and the data sources it read.
pub(crate) fn terraform(a: &Attachment) -> Value {
    let c = &a.content;
    let mut resources = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Some(changes) = c.get("resource_changes").and_then(Value::as_array) {
        for (i, rc) in changes.iter().enumerate() {
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let changes_something = actions
                .iter()
                .any(|a| matches!(*a, "create" | "update" | "read"));
            if !changes_something {
                continue;
            }
            let address = rc.get("address").and_then(Value::as_str).unwrap_or("");
            seen.insert(address.to_string());
            resources.push(json!({
                "address": address,
                "mode": rc.get("mode").cloned().unwrap_or(json!("managed")),
                "type": rc.get("type"),
                "name": rc.get("name"),
                "module": rc.get("module_address"),
                "actions": actions,
                "values": rc.pointer("/change/after").cloned().unwrap_or(Value::Null),
                "unknown": rc.pointer("/change/after_unknown").cloned().unwrap_or(json!({})),
                "pointer": format!("/resource_changes/{i}/change/after"),
            }));
        }
    } else if let Some(root) = c.pointer("/planned_values/root_module") {
        // Very old plans without `resource_changes`.
        walk_module(root, "/planned_values/root_module", &mut |r, p| {
            if r.get("mode").and_then(Value::as_str) != Some("data") {
                resources.push(module_resource(r, p));
            }
        });
    }
    // Data sources (e.g. `aws_iam_policy_document`) read during planning.
    if let Some(root) = c.pointer("/prior_state/values/root_module") {
        walk_module(root, "/prior_state/values/root_module", &mut |r, p| {
            let addr = r.get("address").and_then(Value::as_str).unwrap_or("");
            if r.get("mode").and_then(Value::as_str) == Some("data") && !seen.contains(addr) {
                resources.push(module_resource(r, p));
            }
        });
    }
    json!({"file": a.file, "resources": resources})
}

fn module_resource(r: &Value, pointer: String) -> Value {
    json!({
        "address": r.get("address"),
        "mode": r.get("mode"),
        "type": r.get("type"),
        "name": r.get("name"),
        "actions": [],
        "values": r.get("values").cloned().unwrap_or(Value::Null),
        "unknown": {},
        "pointer": format!("{pointer}/values"),
    })
}

fn walk_module(module: &Value, pointer: &str, f: &mut dyn FnMut(&Value, String)) {
    if let Some(rs) = module.get("resources").and_then(Value::as_array) {
        for (i, r) in rs.iter().enumerate() {
            f(r, format!("{pointer}/resources/{i}"));
        }
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for (i, child) in children.iter().enumerate() {
            walk_module(child, &format!("{pointer}/child_modules/{i}"), f);
        }
    }
}

/// Which scanner wrote a report: `sarif`, `trivy` or `grype`.
pub fn scan_format(c: &Value) -> Option<&'static str> {
    if c.get("runs").is_some_and(Value::is_array) {
        Some("sarif")
    } else if c.get("matches").is_some_and(Value::is_array) {
        Some("grype")
    } else if c.get("Results").is_some()
        || c.get("SchemaVersion").is_some()
        || c.get("Resources").is_some()
    {
        Some("trivy")
    } else {
        None
    }
}

fn lower(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_ascii_lowercase()
}

/// A finding's publication date as policies read it: an RFC 3339 time in UTC
/// that Rego's nanosecond clock holds (from 1970 to 2262-04-11), or `null`
/// for anything else, an unknown age which `max_age` blocks. (Passed through,
/// a date such as `1500-01-01` made `time.parse_rfc3339_ns` undefined and the
/// finding look young enough to allow.)
fn published(v: Option<&Value>) -> Value {
    v.and_then(Value::as_str)
        .and_then(bearing_events::timestamp::parse_rfc3339)
        .filter(|t| t.timestamp_nanos_opt().is_some())
        .map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        })
}

pub(crate) fn scan(a: &Attachment) -> Value {
    let c = &a.content;
    let format = scan_format(c).unwrap_or("unknown");
    let mut findings = Vec::new();
    let mut ok = true;
    match format {
        "trivy" => {
            let mut results = Vec::new();
            if let Some(rs) = c.get("Results").and_then(Value::as_array) {
                results.extend(
                    rs.iter()
                        .enumerate()
                        .map(|(i, r)| (r, format!("/Results/{i}"))),
                );
            }
            if let Some(res) = c.get("Resources").and_then(Value::as_array) {
                for (j, res) in res.iter().enumerate() {
                    if let Some(rs) = res.get("Results").and_then(Value::as_array) {
                        results.extend(
                            rs.iter()
                                .enumerate()
                                .map(|(i, r)| (r, format!("/Resources/{j}/Results/{i}"))),
                        );
                    }
                }
            }
            for (r, p) in results {
                for (k, v) in r
                    .get("Vulnerabilities")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let fixed = v.get("FixedVersion").and_then(Value::as_str).unwrap_or("");
                    findings.push(json!({
                        "id": v.get("VulnerabilityID"),
                        "severity": lower(v.get("Severity")),
                        "package": v.get("PkgName"),
                        "installed": v.get("InstalledVersion"),
                        "fixed_version": fixed,
                        "fixable": !fixed.is_empty(),
                        "published": published(v.get("PublishedDate")),
                        "target": r.get("Target"),
                        "pointer": format!("{p}/Vulnerabilities/{k}"),
                    }));
                }
            }
        }
        "grype" => {
            for (i, m) in c
                .get("matches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let v = m.get("vulnerability").unwrap_or(&Value::Null);
                let fixed: Vec<&str> = v
                    .pointer("/fix/versions")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let state = v
                    .pointer("/fix/state")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                findings.push(json!({
                    "id": v.get("id"),
                    "severity": lower(v.get("severity")),
                    "package": m.pointer("/artifact/name"),
                    "installed": m.pointer("/artifact/version"),
                    "fixed_version": fixed.first().copied().unwrap_or(""),
                    "fixable": state == "fixed" || !fixed.is_empty(),
                    "published": Value::Null,
                    "target": m.pointer("/artifact/locations/0/path"),
                    "pointer": format!("/matches/{i}"),
                }));
            }
        }
        "sarif" => {
            for (r, run) in c
                .get("runs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(invs) = run.get("invocations").and_then(Value::as_array)
                    && invs.iter().any(|i| {
                        i.get("executionSuccessful").and_then(Value::as_bool) == Some(false)
                    })
                {
                    ok = false;
                }
                let rules: Vec<&Value> = run
                    .pointer("/tool/driver/rules")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                for (i, res) in run
                    .get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let rule_id = res.get("ruleId").and_then(Value::as_str).unwrap_or("");
                    let rule = res
                        .get("ruleIndex")
                        .and_then(Value::as_u64)
                        .and_then(|i| rules.get(i as usize).copied())
                        .or_else(|| {
                            rules
                                .iter()
                                .copied()
                                .find(|r| r.get("id").and_then(Value::as_str) == Some(rule_id))
                        });
                    let level = res
                        .get("level")
                        .and_then(Value::as_str)
                        .or_else(|| {
                            rule.and_then(|r| r.pointer("/defaultConfiguration/level"))
                                .and_then(Value::as_str)
                        })
                        .unwrap_or("warning");
                    let score = rule
                        .and_then(|r| r.pointer("/properties/security-severity"))
                        .and_then(|v| {
                            v.as_f64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        });
                    let severity = match (score, level) {
                        (Some(s), _) if s >= 9.0 => "critical",
                        (Some(s), _) if s >= 7.0 => "high",
                        (Some(s), _) if s >= 4.0 => "medium",
                        (Some(s), _) if s > 0.0 => "low",
                        (_, "error") => "high",
                        (_, "warning") => "medium",
                        (_, "note") => "low",
                        _ => "unknown",
                    };
                    if matches!(level, "none") {
                        continue;
                    }
                    findings.push(json!({
                        "id": rule_id,
                        "severity": severity,
                        "package": Value::Null,
                        "fixed_version": "",
                        // SARIF does not say whether a fix exists: treat as fixable (block).
                        "fixable": true,
                        "published": Value::Null,
                        "target": res.pointer("/locations/0/physicalLocation/artifactLocation/uri"),
                        "pointer": format!("/runs/{r}/results/{i}"),
                    }));
                }
            }
        }
        _ => ok = false,
    }
    json!({"file": a.file, "format": format, "ok": ok, "findings": findings})
}

/// Where a SARIF result says the problem is: its first `physicalLocation`
/// (the artifact's URI, or `run.artifacts[index]`'s, and the region's start),
/// for a finding `at` a result of a SARIF report in `attachments`. `None` for
/// other findings, and for results without an artifact URI. The URI is
/// resolved as [`artifact_path`] says, relative to `checkout` when under it.
pub(crate) fn sarif_artifact_location(
    attachments: &crate::envelope::Attachments,
    at: &Value,
    checkout: Option<&std::path::Path>,
) -> Option<crate::locate::Location> {
    if at.get("kind")?.as_str()? != "scans" {
        return None;
    }
    let a = attachments.get("scans", at.get("index")?.as_u64()? as usize)?;
    let mut tokens = at.get("pointer")?.as_str()?.split('/').skip(1);
    let (Some("runs"), Some(r), Some("results"), Some(i)) =
        (tokens.next(), tokens.next(), tokens.next(), tokens.next())
    else {
        return None;
    };
    let run = a.content.get("runs")?.get(r.parse::<usize>().ok()?)?;
    let result = run.get("results")?.get(i.parse::<usize>().ok()?)?;
    let physical = result.pointer("/locations/0/physicalLocation")?;
    let artifact = physical.get("artifactLocation")?;
    let artifact = if artifact.get("uri").is_some() {
        artifact
    } else {
        let index = artifact.get("index")?.as_u64()? as usize;
        run.get("artifacts")?.get(index)?.get("location")?
    };
    let file = artifact_path(run, artifact, checkout)?;
    let number = |key: &str| {
        physical
            .get("region")
            .and_then(|r| r.get(key))
            .and_then(Value::as_u64)
            .filter(|&n| n >= 1)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let (line, column) = match number("startLine") {
        Some(line) => (line, number("startColumn").unwrap_or(1)),
        None => (0, 0),
    };
    Some(crate::locate::Location { file, line, column })
}

/// The path of a SARIF `artifactLocation` of `run` (SARIF 2.1.0 §3.4.4,
/// §3.14.14): a relative `uri` is joined to its `uriBaseId`'s URI in the
/// run's `originalUriBaseIds`, itself perhaps relative to another base (a
/// chain). A local `file:` path under `checkout` is given relative to it.
/// Otherwise a URI that was relative stays relative to its base, read as the
/// repository root: a base the run does not define (`%SRCROOT%` left to the
/// consumer, as GitHub code scanning reads it), a web address of the sources,
/// a remote host, another machine's checkout; an absolute `file:` URI is its
/// local path. `%XX` escapes are decoded last.
pub(crate) fn artifact_path(
    run: &Value,
    artifact: &Value,
    checkout: Option<&std::path::Path>,
) -> Option<String> {
    let uri = artifact.get("uri")?.as_str()?.trim();
    let mut relative = uri.to_string();
    let mut base_id = artifact.get("uriBaseId").and_then(Value::as_str);
    let mut absolute = has_scheme(uri).then(|| uri.to_string());
    // A chain longer than the bases there are is a cycle.
    let bases = run.get("originalUriBaseIds");
    let mut left = bases.and_then(Value::as_object).map_or(0, |b| b.len());
    while absolute.is_none() && left > 0 {
        let Some(base) = base_id.and_then(|id| bases?.get(id)) else {
            break;
        };
        left -= 1;
        let Some(base_uri) = base.get("uri").and_then(Value::as_str).map(str::trim) else {
            break;
        };
        if has_scheme(base_uri) {
            absolute = Some(join(base_uri, &relative));
        } else {
            relative = join(base_uri, &relative);
        }
        base_id = base.get("uriBaseId").and_then(Value::as_str);
    }
    let local = absolute
        .as_deref()
        .and_then(file_uri_path)
        .map(|p| percent_decode(&p));
    let inside = local.as_deref().and_then(|local| {
        let root = checkout?;
        let inside = std::path::Path::new(local).strip_prefix(root).ok()?;
        Some(inside.to_string_lossy().into_owned())
    });
    let path = match (inside, local) {
        (Some(inside), _) => inside,
        // An absolute artifact URI elsewhere: as it is.
        (None, Some(local)) if has_scheme(uri) => local,
        (None, None) if has_scheme(uri) => uri.to_string(),
        // Relative to a base elsewhere (another machine's checkout, a web
        // address, a remote host) or to none: from the source root.
        _ => percent_decode(relative.trim_start_matches("./")),
    };
    (!path.is_empty()).then_some(path)
}

/// Whether a URI is absolute (`scheme:` before any `/`), as opposed to a
/// relative reference; a Windows drive (`C:/x`) is not a scheme.
fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// A relative reference joined to a base URI (which SARIF requires to end
/// with `/`; one that does not is read as a folder all the same).
fn join(base: &str, relative: &str) -> String {
    if relative.starts_with('/') {
        // An absolute path: the base's scheme and host, this path.
        return match base.find("://") {
            Some(i) => {
                let host_end = base[i + 3..].find('/').map_or(base.len(), |j| i + 3 + j);
                format!("{}{relative}", &base[..host_end])
            }
            None => relative.to_string(),
        };
    }
    let relative = relative.trim_start_matches("./");
    if base.ends_with('/') || base.is_empty() {
        format!("{base}{relative}")
    } else {
        format!("{base}/{relative}")
    }
}

/// The local path of a `file:` URI (still percent-encoded): `file:///a/b` and
/// `file://localhost/a/b` → `/a/b`, `file:///C:/x` → `C:/x`; `None` for a
/// remote host (`file://build.example.com/work/`) and for other schemes.
fn file_uri_path(uri: &str) -> Option<String> {
    let rest = uri
        .get(..5)
        .filter(|s| s.eq_ignore_ascii_case("file:"))
        .map(|_| &uri[5..])?;
    let path = match rest.strip_prefix("//") {
        Some(authority) => match authority.find('/') {
            Some(0) => authority.to_string(),
            Some(i) if authority[..i].eq_ignore_ascii_case("localhost") => {
                authority[i..].to_string()
            }
            _ => return None,
        },
        None => rest.to_string(),
    };
    // `/C:/x` is a Windows drive path.
    let drive = path.as_bytes();
    if drive.len() >= 3 && drive[0] == b'/' && drive[1].is_ascii_alphabetic() && drive[2] == b':' {
        return Some(path[1..].to_string());
    }
    Some(path)
}

/// `%XX` escapes decoded (left as written where the result is not UTF-8).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| path.to_string())
}

fn money(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Infracost totals; `unknown` lists why a figure is not known.
pub(crate) fn cost(a: &Attachment) -> Value {
    let c = &a.content;
    let mut unknown = Vec::new();
    let total = money(c.get("totalMonthlyCost"));
    let past = money(c.get("pastTotalMonthlyCost"));
    let diff = money(c.get("diffTotalMonthlyCost")).or(match (total, past) {
        (Some(t), Some(p)) => Some(t - p),
        _ => None,
    });
    if total.is_none() {
        unknown.push(
            json!({"reason": "the total monthly cost is unknown", "pointer": "/totalMonthlyCost"}),
        );
    }
    for (i, p) in c
        .get("projects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let errors = p.pointer("/metadata/errors").and_then(Value::as_array);
        if let Some(errs) = errors.filter(|e| !e.is_empty()) {
            let msg = errs[0]
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
            unknown.push(json!({
                "reason": format!("Infracost could not price project `{name}`: {msg}"),
                "pointer": format!("/projects/{i}/metadata/errors"),
            }));
        }
    }
    json!({
        "file": a.file,
        "currency": c.get("currency").and_then(Value::as_str).unwrap_or("USD"),
        "total_monthly_cost": total,
        "past_total_monthly_cost": past,
        "diff_monthly_cost": diff,
        "unknown": unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_keeps_changes_and_data_sources_skips_deletes() {
        let plan = json!({
            "format_version": "1.1",
            "resource_changes": [
                {"address": "aws_iam_policy.p", "mode": "managed", "type": "aws_iam_policy", "name": "p",
                 "change": {"actions": ["create"], "after": {"policy": "{}"}, "after_unknown": {"arn": true}}},
                {"address": "aws_s3_bucket.old", "mode": "managed", "type": "aws_s3_bucket", "name": "old",
                 "change": {"actions": ["delete"], "after": null}},
            ],
            "prior_state": {"values": {"root_module": {"child_modules": [{"resources": [
                {"address": "module.m.data.aws_iam_policy_document.d", "mode": "data", "type": "aws_iam_policy_document", "values": {"json": "{}"}}
            ]}]}}}
        });
        let v = terraform(&Attachment::new("p.json", plan));
        let rs = v["resources"].as_array().unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0]["pointer"], "/resource_changes/0/change/after");
        assert_eq!(
            rs[1]["pointer"],
            "/prior_state/values/root_module/child_modules/0/resources/0/values"
        );
    }

    /// SARIF artifact URIs resolved through `originalUriBaseIds` (SARIF
    /// 2.1.0 §3.14.14), relative to the checkout when they are under it.
    #[test]
    fn sarif_uris_resolve_through_their_bases() {
        let path = |bases: Value, artifact: Value, checkout: Option<&str>| {
            artifact_path(
                &json!({"originalUriBaseIds": bases}),
                &artifact,
                checkout.map(std::path::Path::new),
            )
            .unwrap_or_default()
        };
        let runner = json!({"%SRCROOT%": {"uri": "file:///home/runner/work/repo/repo/"}});
        let app = json!({"uri": "src/app.js", "uriBaseId": "%SRCROOT%"});
        // In the checkout, on another machine, and without one: from the root.
        for checkout in [
            Some("/home/runner/work/repo/repo"),
            Some("/elsewhere"),
            None,
        ] {
            assert_eq!(path(runner.clone(), app.clone(), checkout), "src/app.js");
        }
        // A chain of bases (the spec's appendix K), a remote host's file URI.
        let chain = json!({
            "PROJECTROOT": {"uri": "file://build.example.com/work/"},
            "SRCROOT": {"uri": "src/", "uriBaseId": "PROJECTROOT"},
        });
        let list = json!({"uri": "collections/list.h", "uriBaseId": "SRCROOT"});
        assert_eq!(path(chain, list.clone(), None), "src/collections/list.h");
        // A local chain whose root is the checkout's parent: from the checkout.
        let local = json!({
            "PROJECTROOT": {"uri": "file:///work/"},
            "SRCROOT": {"uri": "./src/", "uriBaseId": "PROJECTROOT"},
        });
        assert_eq!(
            path(local.clone(), list.clone(), Some("/work/src")),
            "collections/list.h"
        );
        assert_eq!(path(local, list, Some("/work")), "src/collections/list.h");
        // Percent-encoding, in the base and the URI, decoded once at the end.
        let spaced = json!({"ROOT": {"uri": "file:///home/u/my%20project/"}});
        let file = json!({"uri": "src/a%20b%2540.js", "uriBaseId": "ROOT"});
        assert_eq!(
            path(spaced, file, Some("/home/u/my project")),
            "src/a b%40.js"
        );
        // A web address of the sources, and a base the run leaves undefined.
        let web = json!({"SRCROOT": {"uri": "https://github.com/o/r/blob/0123abc/"}});
        let cs = json!({"uri": "src/Sample.cs", "uriBaseId": "SRCROOT"});
        assert_eq!(path(web, cs.clone(), None), "src/Sample.cs");
        assert_eq!(path(json!({}), cs.clone(), None), "src/Sample.cs");
        // Bases naming each other end.
        let cycle =
            json!({"A": {"uri": "a/", "uriBaseId": "B"}, "B": {"uri": "b/", "uriBaseId": "A"}});
        let x = json!({"uri": "x", "uriBaseId": "A"});
        assert_eq!(path(cycle, x, None), "b/a/x");
        // Absolute file URIs: under the checkout, elsewhere, Windows, localhost.
        let sh = json!({"uri": "file:///home/damien/dd/docker/setEnv.sh"});
        assert_eq!(
            path(json!({}), sh.clone(), Some("/home/damien/dd")),
            "docker/setEnv.sh"
        );
        assert_eq!(
            path(json!({}), sh, None),
            "/home/damien/dd/docker/setEnv.sh"
        );
        let c = json!({"uri": "file:///C:/code/file1.c"});
        assert_eq!(path(json!({}), c, None), "C:/code/file1.c");
        let localhost = json!({"uri": "file://localhost/src/index.js"});
        assert_eq!(path(json!({}), localhost, Some("/src")), "index.js");
    }
}
