//! Checks of the function calls of the loaded policies, made at load as
//! OPA's compiler makes them, read from regorus' syntax tree:
//!
//! * a recursive function is refused: regorus detects a rule that depends on
//!   itself while evaluating, but not a function that calls itself, and
//!   `f(x) := f(x + 1)` recursed until the stack overflowed, which aborts
//!   the process (a server with it);
//! * a call to a function that is neither one of the policies' nor a builtin
//!   is refused with its line (regorus finds out only when the call is
//!   reached, and the decision is then unknown).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::GuardError;

/// A function: its full path (`main.f`), file and line.
struct Function {
    file: String,
    line: u32,
    column: u32,
    calls: BTreeSet<String>,
}

/// A call of an unknown function (the first, in file order), then every
/// function call cycle (reported at its first function in path order), is an
/// error. `extensions` are the builtins Bearing added.
pub fn check(engine: &regorus::Engine, extensions: &[String]) -> Result<(), GuardError> {
    let ast = engine
        .get_ast_as_json()
        .map_err(|e| GuardError::Eval(e.to_string()))?;
    let modules: Value = serde_json::from_str(&ast).map_err(|e| GuardError::Eval(e.to_string()))?;
    let mut functions: BTreeMap<String, Function> = BTreeMap::new();
    // Every call: (resolved path, as written, file, line, column).
    let mut all_calls: Vec<(String, String, String, u32, u32)> = Vec::new();
    for m in modules.as_array().into_iter().flatten() {
        let file = m["source"]["file"].as_str().unwrap_or("").to_string();
        let contents = m["source"]["contents"].as_str().unwrap_or("");
        let package = path(&m["ast"]["package"]["refr"]).join(".");
        // Import aliases: `import data.lib as l` → `l` = `lib`; `import data.x.y` → `y` = `x.y`.
        let mut aliases: BTreeMap<String, String> = BTreeMap::new();
        for import in m["ast"]["imports"].as_array().into_iter().flatten() {
            let full = path(&import["refr"]);
            if full.first().map(String::as_str) != Some("data") || full.len() < 2 {
                continue;
            }
            let alias = match import.get("as").filter(|a| !a.is_null()) {
                Some(span) => {
                    let at = |k: &str| span[k].as_u64().unwrap_or(0) as usize;
                    contents
                        .get(at("start")..at("end"))
                        .unwrap_or("")
                        .to_string()
                }
                None => full.last().cloned().unwrap_or_default(),
            };
            aliases.insert(alias, full[1..].join("."));
        }
        let resolve = |call: &str| {
            let parts: Vec<&str> = call.split('.').collect();
            match parts[0] {
                "data" => parts[1..].join("."),
                first => match aliases.get(first) {
                    Some(full) => std::iter::once(full.as_str())
                        .chain(parts[1..].iter().copied())
                        .collect::<Vec<_>>()
                        .join("."),
                    None => format!("{package}.{call}"),
                },
            }
        };
        for rule in m["ast"]["rules"].as_array().into_iter().flatten() {
            let mut calls = Vec::new();
            collect_calls(rule, &mut calls);
            // `test_` rules run only in `bearing policy test`, which reports
            // an unknown function per test; the gate never evaluates them.
            let head = &rule["Spec"]["head"];
            let head_name = ["Compr", "Set", "Func"]
                .iter()
                .find_map(|k| head.get(*k))
                .map(|h| path(&h["refr"]).join("."))
                .unwrap_or_default();
            if !head_name.starts_with("test_") {
                for (call, line, column) in &calls {
                    all_calls.push((resolve(call), call.clone(), file.clone(), *line, *column));
                }
            }
            let Some(head) = rule["Spec"]["head"].get("Func") else {
                continue;
            };
            let name = format!("{package}.{}", path(&head["refr"]).join("."));
            let resolved = calls.iter().map(|(call, ..)| resolve(call));
            let span = &head["span"];
            let f = functions.entry(name).or_insert_with(|| Function {
                file: file.clone(),
                line: span["line"].as_u64().unwrap_or(1) as u32,
                column: span["col"].as_u64().unwrap_or(1) as u32,
                calls: BTreeSet::new(),
            });
            f.calls.extend(resolved);
        }
    }
    let builtins = &regorus::unstable::BUILTINS;
    for (resolved, call, file, line, column) in &all_calls {
        let known = functions.contains_key(resolved)
            || builtins.contains_key(call.as_str())
            || extensions.iter().any(|e| e == call)
            || call == "print";
        if !known {
            return Err(GuardError::Policy {
                file: file.clone(),
                line: *line,
                column: *column,
                message: format!(
                    "unknown function `{call}`: not a builtin of Bearing's Rego engine (regorus) nor a function of these policies"
                ),
            });
        }
    }
    for start in functions.keys() {
        if let Some(cycle) = cycle_from(start, &functions) {
            let f = &functions[start];
            return Err(GuardError::Policy {
                file: f.file.clone(),
                line: f.line,
                column: f.column,
                message: format!(
                    "function `{}` is recursive ({}); Rego does not allow recursion",
                    start,
                    cycle.join(" calls ")
                ),
            });
        }
    }
    Ok(())
}

/// A call path from `start` back to itself, if there is one.
fn cycle_from(start: &str, functions: &BTreeMap<String, Function>) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, trail)) = stack.pop() {
        for next in functions.get(&at).into_iter().flat_map(|f| &f.calls) {
            if next == start {
                let mut cycle = trail.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if functions.contains_key(next) && seen.insert(next.clone()) {
                let mut t = trail.clone();
                t.push(next.clone());
                stack.push((next.clone(), t));
            }
        }
    }
    None
}

/// The names of a reference (`data.lib.f` → `[data, lib, f]`); empty for
/// anything else (an indexed reference, a call).
fn path(expr: &Value) -> Vec<String> {
    if let Some(v) = expr.get("Var") {
        return vec![v["value"].as_str().unwrap_or("").to_string()];
    }
    if let Some(d) = expr.get("RefDot") {
        let mut p = path(&d["refr"]);
        if p.is_empty() {
            return p;
        }
        p.push(d["field"][1].as_str().unwrap_or("").to_string());
        return p;
    }
    Vec::new()
}

/// The called names (`f`, `lib.f`, `data.main.f`) anywhere in a subtree,
/// with the line and column of each call.
fn collect_calls(v: &Value, out: &mut Vec<(String, u32, u32)>) {
    match v {
        Value::Object(m) => {
            if let Some(call) = m.get("Call") {
                let p = path(&call["fcn"]);
                if !p.is_empty() {
                    // The position of the name's first segment.
                    let mut root = &call["fcn"];
                    while let Some(d) = root.get("RefDot") {
                        root = &d["refr"];
                    }
                    let span = &root["Var"]["span"];
                    let at = |k: &str| span[k].as_u64().unwrap_or(1) as u32;
                    out.push((p.join("."), at("line"), at("col")));
                }
            }
            for x in m.values() {
                collect_calls(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_calls(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(policies: &[(&str, &str)]) -> Result<(), GuardError> {
        let mut e = regorus::Engine::new();
        for (name, text) in policies {
            e.add_policy(name.to_string(), text.to_string())
                .map_err(|err| GuardError::Eval(err.to_string()))?;
        }
        check(&e, &[])
    }

    #[test]
    fn recursion_is_refused_directly_through_data_and_through_an_alias() {
        let err = load(&[("a.rego", "package main\n\nf(x) := y if { y := f(x + 1) }\n")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.rego:3:1:"), "{err}");
        assert!(
            err.contains("`main.f` is recursive (main.f calls main.f)"),
            "{err}"
        );
        let err = load(&[
            (
                "a.rego",
                "package main\nimport data.lib as l\nf(x) := l.g(x)\n",
            ),
            ("b.rego", "package lib\ng(x) := data.main.f(x)\n"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("lib.g calls main.f calls lib.g"), "{err}");
    }

    #[test]
    fn an_unknown_function_is_refused_at_its_call() {
        let err = load(&[(
            "a.rego",
            "package main\nimport rego.v1\ndeny contains msg if {\n\tmsg := sprintf(\"%v\", [http.send({})])\n}\n",
        )])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("a.rego:4:"), "{err}");
        assert!(
            err.contains("unknown function `http.send`: not a builtin"),
            "{err}"
        );
        // A test rule is checked when `policy test` runs it, not at load.
        load(&[(
            "t_test.rego",
            "package main\nimport rego.v1\ntest_x if { net.lookup_ip_addr(\"example.com\") }\n",
        )])
        .unwrap_or_else(|e| panic!("{e}"));
        let err = load(&[(
            "t.rego",
            "package main\nimport rego.v1\nips := net.lookup_ip_addr(\"example.com\")\n",
        )])
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("t.rego:3:8:") && err.contains("`net.lookup_ip_addr`"),
            "{err}"
        );
    }

    #[test]
    fn calls_without_a_cycle_pass() {
        load(&[
            (
                "a.rego",
                "package main\nimport data.lib\nf(x) := lib.g(x) + h(x)\nh(x) := x\ng(x) := 1\n",
            ),
            ("b.rego", "package lib\ng(x) := count(x)\n"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
