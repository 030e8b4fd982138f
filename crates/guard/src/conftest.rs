//! Custom `rego` guardrails following Conftest's conventions: rules named
//! `deny`, `violation` (failures) and `warn` (warnings), optionally suffixed
//! `_name`; `exception` rules exempting `deny_<name>`/`violation_<name>`; the
//! `main` namespace unless configured; string messages or objects with `msg`;
//! Rego v0 and v1 syntax; and `--combine` (one input: an array of
//! `{path, contents}`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::GuardError;

/// One loaded policy file.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
    pub rego_v0: bool,
}

/// `.rego` files under a path (a file, or a folder searched recursively), sorted.
pub fn rego_files(path: &Path) -> Result<Vec<PathBuf>, GuardError> {
    let io = |source| GuardError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| GuardError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rego") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Parses every file into a fresh engine; any error refuses the whole set.
/// `version` is `Some("v0")`, `Some("v1")` or `None` (v1, falling back to v0
/// per file).
pub fn load_engine(
    files: &[PathBuf],
    version: Option<&str>,
) -> Result<(regorus::Engine, Vec<PolicyFile>), GuardError> {
    let mut engine = regorus::Engine::new();
    let mut loaded = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|source| GuardError::Io {
            path: f.display().to_string(),
            source,
        })?;
        let name = f.display().to_string();
        let pf = add_policy(&mut engine, &name, &text, version)?;
        loaded.push(pf);
    }
    Ok((engine, loaded))
}

/// Adds one policy text, trying Rego v1 then v0 unless the version is fixed.
pub fn add_policy(
    engine: &mut regorus::Engine,
    name: &str,
    text: &str,
    version: Option<&str>,
) -> Result<PolicyFile, GuardError> {
    let attempt = |engine: &mut regorus::Engine, v0: bool| {
        engine.set_rego_v0(v0);
        engine.add_policy(name.to_string(), text.to_string())
    };
    let result = match version {
        Some("v0") => attempt(engine, true).map(|_| true),
        Some("v1") => attempt(engine, false).map(|_| false),
        _ => match attempt(engine, false) {
            Ok(_) => Ok(false),
            Err(v1_err) => attempt(engine, true).map(|_| true).map_err(|_| v1_err),
        },
    };
    engine.set_rego_v0(false);
    match result {
        Ok(rego_v0) => Ok(PolicyFile {
            path: name.to_string(),
            text: text.to_string(),
            rego_v0,
        }),
        Err(e) => Err(policy_error(name, &e.to_string())),
    }
}

/// A parse error with `file:line:column` pulled out of regorus' message.
pub fn policy_error(file: &str, message: &str) -> GuardError {
    let (mut line, mut column) = (1, 1);
    if let Some(i) = message.find("--> ") {
        let loc = message[i + 4..].lines().next().unwrap_or("");
        let mut parts = loc.rsplitn(3, ':');
        let c = parts.next().and_then(|s| s.trim().parse().ok());
        let l = parts.next().and_then(|s| s.trim().parse().ok());
        if let (Some(l), Some(c)) = (l, c) {
            line = l;
            column = c;
        }
    }
    let summary = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(message.trim())
        .to_string();
    GuardError::Policy {
        file: file.to_string(),
        line,
        column,
        message: summary,
    }
}

/// Packages declared by the loaded files (for the all-namespaces option).
pub fn packages(files: &[PolicyFile]) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .filter_map(|f| {
            f.text.lines().find_map(|l| {
                let l = l.trim();
                l.strip_prefix("package ")
                    .map(|p| p.split('#').next().unwrap_or("").trim().to_string())
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What one namespace said about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub rule: String,
    pub failure: bool,
    pub message: String,
    pub metadata: Map<String, Value>,
    /// Exempted by an `exception` rule.
    pub excepted: bool,
}

fn is_rule(name: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        name == *p
            || name.strip_prefix(p).is_some_and(|rest| {
                rest.starts_with('_')
                    && rest[1..].split('_').all(|seg| {
                        !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric())
                    })
            })
    })
}

pub fn is_failure(name: &str) -> bool {
    is_rule(name, &["deny", "violation"])
}

pub fn is_warning(name: &str) -> bool {
    is_rule(name, &["warn"])
}

/// Evaluates one namespace on the engine's current input.
pub fn eval_namespace(
    engine: &mut regorus::Engine,
    namespace: &str,
) -> Result<Vec<Outcome>, String> {
    let results = engine
        .eval_query(format!("data.{namespace}"), false)
        .map_err(|e| e.to_string())?;
    let Some(value) = results
        .result
        .first()
        .and_then(|r| r.expressions.first())
        .map(|e| e.value.clone())
    else {
        return Ok(Vec::new());
    };
    let json = serde_json::to_value(&value).map_err(|e| e.to_string())?;
    let Value::Object(rules) = json else {
        return Ok(Vec::new());
    };
    let mut exceptions: Vec<String> = Vec::new();
    if let Some(Value::Array(exc)) = rules.get("exception") {
        for e in exc {
            match e {
                Value::Array(names) => {
                    exceptions.extend(names.iter().filter_map(|n| n.as_str().map(String::from)))
                }
                Value::String(s) => exceptions.push(s.clone()),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (name, v) in &rules {
        let failure = is_failure(name);
        if !failure && !is_warning(name) {
            continue;
        }
        let short = name
            .strip_prefix("deny")
            .or_else(|| name.strip_prefix("violation"))
            .map(|r| r.trim_start_matches('_'));
        let excepted = failure && short.is_some_and(|s| exceptions.iter().any(|e| e == s));
        let items: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            Value::Bool(true) => vec![Value::String(String::new())],
            Value::Bool(false) | Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        for item in items {
            let (message, metadata) = match item {
                Value::String(s) => (s, Map::new()),
                Value::Object(mut m) => match m.remove("msg") {
                    Some(Value::String(s)) => (s, m),
                    _ => {
                        return Err(format!(
                            "rule `{name}` in `{namespace}` returned an object without a string `msg`"
                        ));
                    }
                },
                other => (other.to_string(), Map::new()),
            };
            out.push(Outcome {
                rule: name.clone(),
                failure,
                message,
                metadata,
                excepted,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_follow_conftest() {
        assert!(is_failure("deny"));
        assert!(is_failure("deny_run_as_root"));
        assert!(is_failure("violation_x1"));
        assert!(!is_failure("denylist"));
        assert!(!is_failure("deny_"));
        assert!(is_warning("warn_latest"));
        assert!(!is_warning("warning"));
    }

    #[test]
    fn parse_errors_carry_file_line_column() {
        let mut e = regorus::Engine::new();
        let err = add_policy(
            &mut e,
            "p/bad.rego",
            "package main\n\ndeny contains msg if {\n  msg :=\n}\n",
            None,
        )
        .unwrap_err();
        match err {
            GuardError::Policy { file, line, .. } => {
                assert_eq!(file, "p/bad.rego");
                assert!(line >= 4, "line {line}");
            }
            other => panic!("{other}"),
        }
    }
}
