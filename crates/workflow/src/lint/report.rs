//! Rendering lint findings: text (`file:line:column: severity[rule]: message`),
//! JSON (an array of findings) and SARIF 2.1.0 (for code scanning).

use serde_json::{Value, json};

use super::{Finding, Rule};

/// One line per finding, then a summary line.
pub fn render_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}\n",
            f.file.display(),
            f.line,
            f.column,
            f.severity.name(),
            f.rule.id(),
            f.message
        ));
    }
    let count = |s: super::Severity| findings.iter().filter(|f| f.severity == s).count();
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} note(s)\n",
        count(super::Severity::Error),
        count(super::Severity::Warning),
        count(super::Severity::Note)
    ));
    out
}

/// A JSON array of findings.
pub fn render_json(findings: &[Finding]) -> String {
    let v: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule.id(),
                "severity": f.severity.name(),
                "file": f.file.display().to_string(),
                "line": f.line,
                "column": f.column,
                "message": f.message,
            })
        })
        .collect();
    serde_json::to_string_pretty(&Value::Array(v)).unwrap_or_else(|_| "[]".to_string()) + "\n"
}

/// A SARIF 2.1.0 log with one run of `bearing-workflow-lint`.
pub fn render_sarif(findings: &[Finding]) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "shortDescription": { "text": r.description() },
                "helpUri": "https://github.com/bearing-dev/bearing/blob/main/docs/workflows.md",
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": f.severity.name(),
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file.display().to_string().replace('\\', "/") },
                        "region": { "startLine": f.line, "startColumn": f.column }
                    }
                }]
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "bearing-workflow-lint",
                "informationUri": "https://github.com/bearing-dev/bearing",
                "rules": rules,
            }},
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".to_string()) + "\n"
}
