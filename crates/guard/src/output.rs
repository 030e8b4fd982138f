//! Rendering a decision for people and tools: text, JSON, SARIF 2.1.0,
//! JUnit XML and GitHub Actions workflow commands.

use serde_json::{Value, json};

use crate::decision::{Decision, Effect, Violation};
use crate::locate::Location;

fn effect_name(e: Effect) -> &'static str {
    match e {
        Effect::Deny => "DENY",
        Effect::Warn => "WARN",
        Effect::Unknown => "UNKNOWN",
        Effect::Audit => "AUDIT",
    }
}

fn place(l: &Location) -> String {
    if l.line > 0 {
        format!("{}:{}:{}", l.file, l.line, l.column)
    } else {
        l.file.clone()
    }
}

fn location_text(v: &Violation) -> String {
    v.location
        .as_ref()
        .map(|l| format!("{}: ", place(l)))
        .unwrap_or_default()
}

/// A SARIF `location` object.
fn sarif_location(l: &Location) -> Value {
    let mut region = json!({});
    if l.line > 0 {
        region = json!({"startLine": l.line, "startColumn": l.column.max(1)});
    }
    json!({"physicalLocation": {
        "artifactLocation": {"uri": l.file},
        "region": region,
    }})
}

/// Human-readable text.
pub fn text(d: &Decision) -> String {
    let mut out = String::new();
    for v in &d.violations {
        let waived = v
            .waiver
            .as_ref()
            .map(|w| {
                format!(
                    " (waived by {} until {}{}: {})",
                    w.owner,
                    w.expires,
                    w.ticket
                        .as_deref()
                        .map(|t| format!(", {t}"))
                        .unwrap_or_default(),
                    w.reason
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<7} {}{} [{}/{}]{}\n",
            effect_name(v.effect),
            location_text(v),
            v.message,
            v.guardrail,
            v.rule,
            waived
        ));
        for l in &v.related_locations {
            out.push_str(&format!("        reported in: {}\n", place(l)));
        }
        if let Some(o) = &v.objective {
            out.push_str(&format!("        protects: {o}\n"));
        }
        if let Some(r) = &v.remediation
            && v.effect != Effect::Audit
        {
            out.push_str(&format!("        fix: {r}\n"));
        }
    }
    for w in &d.expired_waivers {
        out.push_str(&format!(
            "EXPIRED waiver for `{}` (owner {}{}) expired on {}; it no longer applies\n",
            w.guardrail,
            w.owner,
            w.ticket
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            w.expired
        ));
    }
    for e in &d.errors {
        out.push_str(&format!("ERROR   {e}\n"));
    }
    let count = |e: Effect| d.violations.iter().filter(|v| v.effect == e).count();
    // An evaluation error makes the verdict unknown as an unknown finding does.
    let unknown = count(Effect::Unknown) + d.errors.len();
    out.push_str(&format!(
        "{}: {} denied, {} unknown, {} warnings, {} waived/audit; {} guardrail(s) evaluated in {} µs (decision {}, policies {})\n",
        d.result.name().to_uppercase(),
        count(Effect::Deny),
        unknown,
        count(Effect::Warn),
        count(Effect::Audit),
        d.evaluated.len(),
        d.elapsed_us,
        d.id,
        d.policy_revision,
    ));
    out
}

/// SARIF 2.1.0: one result per violation, rules named `guardrail/rule`.
pub fn sarif(d: &Decision) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for v in &d.violations {
        let id = format!("{}/{}", v.guardrail, v.rule);
        let index = match rule_ids.iter().position(|r| *r == id) {
            Some(i) => i,
            None => {
                rule_ids.push(id.clone());
                rules.push(json!({
                    "id": id,
                    "name": v.rule,
                    "shortDescription": {"text": format!("{} ({})", v.rule, v.kind)},
                    "help": {"text": v.remediation.clone().unwrap_or_default()},
                    "properties": {"guardrail": v.guardrail, "kind": v.kind, "objective": v.objective},
                }));
                rule_ids.len() - 1
            }
        };
        let level = match v.effect {
            Effect::Deny | Effect::Unknown => "error",
            Effect::Warn => "warning",
            Effect::Audit => "note",
        };
        let mut r = json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level,
            "message": {"text": v.message},
            "properties": {"effect": v.effect, "severity": v.severity, "mode": v.mode},
        });
        if let Some(l) = &v.location {
            r["locations"] = json!([sarif_location(l)]);
        }
        if !v.related_locations.is_empty() {
            let related: Vec<Value> = v
                .related_locations
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let mut loc = sarif_location(l);
                    loc["id"] = json!(i);
                    loc["message"] = json!({"text": "reported here"});
                    loc
                })
                .collect();
            r["relatedLocations"] = json!(related);
        }
        if let Some(w) = &v.waiver {
            r["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("{} ({}), expires {}", w.reason, w.owner, w.expires),
            }]);
        }
        results.push(r);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bearing",
                "informationUri": "https://github.com/bearing-dev/bearing",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {"decision": d.id, "result": d.result, "policyRevision": d.policy_revision},
        }],
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per evaluated guardrail, failing on deny/unknown.
pub fn junit(d: &Decision) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for g in &d.evaluated {
        let vs: Vec<&Violation> = d.violations.iter().filter(|v| v.guardrail == *g).collect();
        let failing: Vec<&&Violation> = vs
            .iter()
            .filter(|v| matches!(v.effect, Effect::Deny | Effect::Unknown))
            .collect();
        cases.push_str(&format!(
            "    <testcase classname=\"bearing.guardrails\" name=\"{}\"",
            xml(g)
        ));
        if failing.is_empty() {
            let notes: Vec<String> = vs
                .iter()
                .map(|v| {
                    format!(
                        "{} {}{}",
                        effect_name(v.effect),
                        location_text(v),
                        v.message
                    )
                })
                .collect();
            if notes.is_empty() {
                cases.push_str("/>\n");
            } else {
                cases.push_str(&format!(
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    xml(&notes.join("\n"))
                ));
            }
        } else {
            failures += 1;
            let body: Vec<String> = failing
                .iter()
                .map(|v| format!("{}{}", location_text(v), v.message))
                .collect();
            cases.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml(&failing[0].message),
                effect_name(failing[0].effect),
                xml(&body.join("\n"))
            ));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"bearing check\">\n  <testsuite name=\"guardrails\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" time=\"{:.6}\">\n{cases}  </testsuite>\n</testsuites>\n",
        d.evaluated.len(),
        d.errors.len(),
        d.elapsed_us as f64 / 1e6,
    )
}

fn gh_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_escape(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands (`::error file=…,line=…::message`).
pub fn github(d: &Decision) -> String {
    let mut out = String::new();
    for v in &d.violations {
        let cmd = match v.effect {
            Effect::Deny | Effect::Unknown => "error",
            Effect::Warn => "warning",
            Effect::Audit => "notice",
        };
        let mut props = vec![format!(
            "title={}",
            gh_prop(&format!("{}/{}", v.guardrail, v.rule))
        )];
        if let Some(l) = &v.location {
            props.push(format!("file={}", gh_prop(&l.file)));
            if l.line > 0 {
                props.push(format!("line={}", l.line));
                props.push(format!("col={}", l.column));
            }
        }
        let mut msg = v.message.clone();
        for l in &v.related_locations {
            msg.push_str(&format!("\nreported in: {}", place(l)));
        }
        if let Some(r) = &v.remediation {
            msg.push_str(&format!("\nfix: {r}"));
        }
        out.push_str(&format!(
            "::{cmd} {}::{}\n",
            props.join(","),
            gh_escape(&msg)
        ));
    }
    out.push_str(&format!(
        "::notice title=bearing check::{} ({} violation(s), decision {})\n",
        d.result.name(),
        d.violations.len(),
        d.id
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{ReplayContext, Verdict};

    #[test]
    fn an_unknown_result_from_an_evaluation_error_counts_it_as_unknown() {
        let d = Decision {
            id: "dec_1".into(),
            time: chrono::Utc::now(),
            result: Verdict::Unknown,
            violations: Vec::new(),
            expired_waivers: Vec::new(),
            evaluated: vec!["custom".into()],
            errors: vec!["guardrail `custom`: evaluation exceeded the time limit".into()],
            input_digest: "sha256:x".into(),
            policy_revision: "rev".into(),
            elapsed_us: 1,
            context: ReplayContext::default(),
        };
        let text = text(&d);
        assert!(
            text.ends_with("UNKNOWN: 0 denied, 1 unknown, 0 warnings, 0 waived/audit; 1 guardrail(s) evaluated in 1 µs (decision dec_1, policies rev)\n"),
            "{text}"
        );
    }
}
