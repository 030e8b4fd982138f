//! Custom `rego` guardrails following Conftest's conventions: rules named
//! `deny`, `violation` (failures) and `warn` (warnings), optionally suffixed
//! `_name`; `exception` rules exempting `deny_<name>`/`violation_<name>`/
//! `warn_<name>`; the `main` namespace unless configured; string messages or
//! objects with `msg`; Rego v0 and v1 syntax; and `--combine` (one input: an
//! array of `{path, contents}`, one entry per document).
//!
//! As Conftest does, every rule is queried on its own (`data.<namespace>.<rule>`)
//! rather than by reading the whole package document: regorus resolves an
//! import alias of one file of a package wrongly when it evaluates the package
//! document as a whole (a rule reaching `data.kubernetes` through `import
//! data.kubernetes` came out empty for some load orders).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::{GuardError, builtins, calls, rewrite};

/// One loaded policy file.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
    pub rego_v0: bool,
    /// The package, without `data.` (`main`, `kubernetes.lib`).
    pub package: String,
    /// The Conftest rules the file declares (`deny…`, `violation…`, `warn…`)
    /// and `exception` if it declares one.
    pub rules: Vec<String>,
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

/// Parses every file into a fresh engine and analyses them together (what
/// regorus otherwise does at the first evaluation: a variable used before its
/// definition is found here, with its file and line), and refuses recursive
/// functions; any error refuses the whole set. `version` is `Some("v0")`,
/// `Some("v1")` or `None` (v1, falling back to v0 per file).
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
    if_without_contains(&engine)?;
    // Reload with the `some` declarations regorus would run once per loop
    // iteration moved to the start of their query and the variables a
    // comprehension shadows renamed (see `rewrite`); should a rewritten text
    // not parse, the policies stay as written.
    let rewritten = rewrite::rewrite(&engine);
    if rewritten.iter().any(|(_, t)| t.is_some()) {
        let mut again = regorus::Engine::new();
        let reloaded = loaded.iter().try_for_each(|pf| {
            let text = rewritten
                .iter()
                .find(|(file, _)| *file == pf.path)
                .and_then(|(_, t)| t.as_deref())
                .unwrap_or(&pf.text);
            let version = if pf.rego_v0 { "v0" } else { "v1" };
            add_policy(&mut again, &pf.path, text, Some(version)).map(|_| ())
        });
        if reloaded.is_ok() {
            engine = again;
        }
    }
    let extensions = builtins::add(&mut engine, &loaded)?;
    analyse(&mut engine, &loaded)?;
    calls::check(&engine, &extensions)?;
    Ok((engine, loaded))
}

/// Refuses a Conftest rule written `deny[msg] if {…}` (or `warn.x if`), as
/// Conftest does: in Rego v1 that is an object (or a nested value) of `true`s,
/// not the set of messages `deny contains msg if {…}` is.
fn if_without_contains(engine: &regorus::Engine) -> Result<(), GuardError> {
    let Ok(modules) = engine
        .get_ast_as_json()
        .and_then(|a| Ok(serde_json::from_str::<Value>(&a)?))
    else {
        return Ok(());
    };
    for m in modules.as_array().into_iter().flatten() {
        for rule in m["ast"]["rules"].as_array().into_iter().flatten() {
            let head = &rule["Spec"]["head"]["Compr"];
            let refr = &head["refr"];
            let root = refr
                .get("RefBrack")
                .or_else(|| refr.get("RefDot"))
                .map(|r| &r["refr"]["Var"]);
            let Some(name) = root.and_then(|v| v["value"].as_str()) else {
                continue;
            };
            if head["assign"].is_null() && (is_failure(name) || is_warning(name)) {
                let span = &rule["Spec"]["span"];
                return Err(GuardError::Policy {
                    file: m["source"]["file"].as_str().unwrap_or("").to_string(),
                    line: span["line"].as_u64().unwrap_or(1) as u32,
                    column: span["col"].as_u64().unwrap_or(1) as u32,
                    message: format!(
                        "rule `{name}` is using 'if' keyword without 'contains' keyword (in Rego v1 `{name}[msg] if` is an object, not a set of messages); write `{name} contains msg if`, as Conftest requires"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Runs regorus' analysis of every loaded module (it schedules each rule's
/// statements at the first query), so that a policy it cannot evaluate is
/// refused at load, located at its file and line.
pub fn analyse(engine: &mut regorus::Engine, files: &[PolicyFile]) -> Result<(), GuardError> {
    match engine.eval_query("true".to_string(), false) {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            let file = files
                .iter()
                .map(|f| f.path.as_str())
                .find(|p| message.contains(&format!("--> {p}:")))
                .or(files.first().map(|f| f.path.as_str()))
                .unwrap_or("");
            Err(policy_error(file, &message))
        }
    }
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
        Some("v0") => attempt(engine, true).map(|p| (true, p)),
        Some("v1") => attempt(engine, false).map(|p| (false, p)),
        _ => match attempt(engine, false) {
            Ok(p) => Ok((false, p)),
            Err(v1_err) => attempt(engine, true).map(|p| (true, p)).map_err(|_| v1_err),
        },
    };
    engine.set_rego_v0(false);
    match result {
        Ok((rego_v0, package)) => Ok(PolicyFile {
            path: name.to_string(),
            text: text.to_string(),
            rego_v0,
            package: package
                .strip_prefix("data.")
                .unwrap_or(&package)
                .to_string(),
            rules: declared_rules(engine, name, text),
        }),
        Err(e) => Err(policy_error(name, &e.to_string())),
    }
}

/// The Conftest rules (and `exception`) a loaded file declares: every name
/// in its text that has a Conftest rule's shape, kept if regorus confirms a
/// rule head of that name in the file.
fn declared_rules(engine: &regorus::Engine, name: &str, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let candidate = is_failure(word) || is_warning(word) || word == "exception";
        if candidate
            && !out.iter().any(|r| r == word)
            && engine
                .has_declared_rule_rooted_at(name, word)
                .unwrap_or(false)
        {
            out.push(word.to_string());
        }
    }
    out.sort();
    out
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
    let mut out: Vec<String> = files.iter().map(|f| f.package.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// `data.conftest.file` for an input read from `path`, as Conftest gives it:
/// the file's name and the absolute path of its folder (resolved against the
/// working directory of the process deciding). A `combine` input is the file
/// `Combined`.
pub fn file_info(path: &str) -> Value {
    let path = Path::new(path);
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let part = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned());
    serde_json::json!({
        "name": part(abs.file_name()).unwrap_or_default(),
        "dir": part(abs.parent().map(Path::as_os_str)).unwrap_or_default(),
    })
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

/// The time left to a guardrail's queries in one decision (each query gets
/// regorus' timer set to what is left, so many documents times many rules
/// cannot add up past the limit).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
    total: Duration,
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget {
            deadline: Instant::now() + total,
            total,
        }
    }

    /// Sets the engine's timer to the time left, or fails when none is.
    fn arm(&self, engine: &mut regorus::Engine) -> Result<(), String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "evaluation exceeded the time limit of {} ms for this guardrail",
                self.total.as_millis()
            ));
        }
        engine.set_execution_timer_config(crate::engine::timer(left));
        Ok(())
    }
}

/// The value of one query (`data.main.deny`) as JSON; `None` when undefined.
fn query_value(
    engine: &mut regorus::Engine,
    query: String,
    budget: &Budget,
) -> Result<Option<Value>, String> {
    budget.arm(engine)?;
    let results = engine
        .eval_query(query, false)
        .map_err(|e| with_hint(e.to_string()))?;
    match results.result.first().and_then(|r| r.expressions.first()) {
        Some(e) => serde_json::to_value(&e.value)
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// An evaluation error, with the way around it when it is a known regorus
/// limitation (see docs/guardrails.md).
fn with_hint(message: String) -> String {
    if message.contains("duplicated definition of local variable") {
        format!(
            "{message} (regorus runs a `some` declaration again for every iteration of a loop before it in the same rule body; declare the variable at the start of the rule)"
        )
    } else {
        message
    }
}

/// The name an `exception` lists for a rule: `deny_run_as_root` →
/// `run_as_root`, and `""` for a plain `deny`, `violation` or `warn`.
fn exception_name(rule: &str) -> &str {
    ["violation_", "deny_", "warn_"]
        .iter()
        .find_map(|p| rule.strip_prefix(p))
        .unwrap_or("")
}

/// Evaluates one namespace on the engine's current input as Conftest does:
/// each of the namespace's rules by its own query, `exception` first.
pub fn eval_namespace(
    engine: &mut regorus::Engine,
    files: &[PolicyFile],
    namespace: &str,
    budget: &Budget,
) -> Result<Vec<Outcome>, String> {
    let mut rules: Vec<&str> = files
        .iter()
        .filter(|f| f.package == namespace)
        .flat_map(|f| f.rules.iter().map(String::as_str))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    let mut exceptions: Vec<String> = Vec::new();
    if rules.contains(&"exception") {
        let listed = query_value(engine, format!("data.{namespace}.exception"), budget)?;
        for e in listed
            .iter()
            .flat_map(|v| v.as_array().into_iter().flatten())
        {
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
    for name in rules {
        let failure = is_failure(name);
        if !failure && !is_warning(name) {
            continue;
        }
        let Some(v) = query_value(engine, format!("data.{namespace}.{name}"), budget)? else {
            continue;
        };
        let excepted = exceptions.iter().any(|e| e == exception_name(name));
        let items: Vec<Value> = match v {
            Value::Array(a) => a,
            // Conftest counts a boolean rule that is true as passed; a gate
            // does not let a `deny if {…}` that holds through (see
            // docs/guardrails.md), and names it.
            Value::Bool(true) => vec![Value::String(format!(
                "`{name}` is true (a boolean rule, which Conftest counts as passed)"
            ))],
            Value::Bool(false) | Value::Null => Vec::new(),
            other => vec![other],
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
                rule: name.to_string(),
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
