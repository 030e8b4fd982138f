//! `bearing policy test`: runs Rego unit tests (rules named `test_…`) in a
//! folder of policies, as `opa test` does, and reports line coverage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::GuardError;
use crate::conftest;

/// The result of one `test_` rule.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub package: String,
    pub name: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Line coverage of one policy file.
#[derive(Debug, Clone, Serialize)]
pub struct FileCoverage {
    pub path: String,
    pub covered: usize,
    pub not_covered: Vec<u32>,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub tests: Vec<TestResult>,
    pub coverage: Vec<FileCoverage>,
    /// Covered lines over all lines that can be covered, in percent.
    pub total_coverage: f64,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        self.tests.iter().all(|t| t.passed)
    }
}

/// `(package, test rule)` pairs declared in a policy text.
fn tests_in(text: &str) -> Vec<(String, String)> {
    let mut package = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(p) = l.strip_prefix("package ") {
            package = p.split('#').next().unwrap_or("").trim().to_string();
        } else if l.starts_with("test_") && line.starts_with("test_") {
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !out.iter().any(|(p, n)| *p == package && *n == name) {
                out.push((package.clone(), name));
            }
        }
    }
    out
}

/// Loads every `.rego` file under `dir` (v1, or v0 per file) and runs its tests.
pub fn run_tests(dir: &Path) -> Result<TestReport, GuardError> {
    let files = conftest::rego_files(dir)?;
    let (mut engine, loaded) = conftest::load_engine(&files, None)?;
    // Before any test runs: to learn which lines of a file no test reached.
    let untouched = engine.clone();
    engine.set_enable_coverage(true);
    let mut tests = Vec::new();
    for f in &loaded {
        for (package, name) in tests_in(&f.text) {
            let rule = format!("data.{package}.{name}");
            let result = engine.eval_rule(rule);
            let (passed, error) = match result {
                Ok(v) => (v == regorus::Value::from(true), None),
                Err(e) => (false, Some(e.to_string())),
            };
            tests.push(TestResult {
                package,
                name,
                passed,
                error,
            });
        }
    }
    let report = engine
        .get_coverage_report()
        .map_err(|e| GuardError::Eval(e.to_string()))?;
    let mut lines: BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)> = report
        .files
        .into_iter()
        .map(|f| (f.path, (f.covered, f.not_covered)))
        .collect();
    // regorus leaves out a file none of whose expressions was evaluated (say,
    // when every test failed early); `opa test --coverage` lists it with all
    // its lines not covered, and so does this.
    let missing: Vec<&conftest::PolicyFile> = loaded
        .iter()
        .filter(|f| !f.path.ends_with("_test.rego") && !lines.contains_key(&f.path))
        .collect();
    if !missing.is_empty() {
        let coverable = coverable_lines(untouched, &missing);
        for f in missing {
            let all = coverable.get(&f.path).cloned().unwrap_or_default();
            lines.insert(f.path.clone(), (BTreeSet::new(), all));
        }
    }
    let mut coverage = Vec::new();
    let (mut all_cov, mut all) = (0usize, 0usize);
    for (path, (covered, not_covered)) in lines {
        if path.ends_with("_test.rego") {
            continue;
        }
        let total = covered.len() + not_covered.len();
        all_cov += covered.len();
        all += total;
        coverage.push(FileCoverage {
            path,
            covered: covered.len(),
            not_covered: not_covered.into_iter().collect(),
            percent: percent(covered.len(), total),
        });
    }
    Ok(TestReport {
        tests,
        coverage,
        total_coverage: percent(all_cov, all),
    })
}

/// Covered over coverable, in percent; 0 when nothing is coverable, as
/// `opa test --coverage` reports it.
fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * covered as f64 / total as f64
    }
}

/// The lines regorus counts for coverage in `files` (covered or not), found
/// by evaluating each file's package once on a copy of the engine. A file it
/// still cannot report (its evaluation failed before reaching it) counts its
/// lines with code, but for `package` and `import`.
fn coverable_lines(
    mut engine: regorus::Engine,
    files: &[&conftest::PolicyFile],
) -> BTreeMap<String, BTreeSet<u32>> {
    engine.set_enable_coverage(true);
    let packages: BTreeSet<String> = files
        .iter()
        .filter_map(|f| tests_package(&f.text))
        .collect();
    for p in packages {
        let _ = engine.eval_query(format!("data.{p}"), false);
    }
    let mut out: BTreeMap<String, BTreeSet<u32>> = engine
        .get_coverage_report()
        .map(|r| {
            r.files
                .into_iter()
                .map(|f| (f.path, f.covered.union(&f.not_covered).copied().collect()))
                .collect()
        })
        .unwrap_or_default();
    for f in files {
        out.entry(f.path.clone()).or_insert_with(|| {
            f.text
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let l = l.trim();
                    !(l.is_empty()
                        || l.starts_with('#')
                        || l.starts_with("package ")
                        || l.starts_with("import "))
                })
                .map(|(i, _)| i as u32 + 1)
                .collect()
        });
    }
    out
}

/// The package a policy text declares.
fn tests_package(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim_start()
            .strip_prefix("package ")
            .map(|p| p.split('#').next().unwrap_or("").trim().to_string())
    })
}

/// Evaluates `query` over the policies in `dir` with `input`, `repeat` times on
/// a prepared engine (as `opa eval` would, for timing); returns the result of
/// the last evaluation and each evaluation's duration.
pub fn eval_repeated(
    dir: &Path,
    input: serde_json::Value,
    query: &str,
    repeat: usize,
) -> Result<(serde_json::Value, Vec<std::time::Duration>), GuardError> {
    let files = conftest::rego_files(dir)?;
    let (mut engine, _) = conftest::load_engine(&files, None)?;
    let input = regorus::Value::from(input);
    let mut times = Vec::with_capacity(repeat);
    let mut last = serde_json::Value::Null;
    for _ in 0..repeat.max(1) {
        let started = std::time::Instant::now();
        engine.set_input(input.clone());
        let r = engine
            .eval_query(query.to_string(), false)
            .map_err(|e| GuardError::Eval(e.to_string()))?;
        times.push(started.elapsed());
        last = r
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .and_then(|e| serde_json::to_value(&e.value).ok())
            .unwrap_or(serde_json::Value::Null);
    }
    Ok((last, times))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.kind == \"Deployment\"\n\tnot input.spec.replicas\n\tmsg := \"no replicas\"\n}\n";

    fn run(tests: &str) -> TestReport {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("policy.rego"), POLICY).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("policy_test.rego"), tests)
            .unwrap_or_else(|e| panic!("{e}"));
        run_tests(dir.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn tests_that_all_fail_before_reaching_the_policy_cover_nothing() {
        // Each test errors before the policy is evaluated: regorus records
        // nothing for `policy.rego`, which used to leave it out and report 100%.
        let r = run(
            "package main\n\nimport rego.v1\n\ntest_a if {\n\tto_number(\"x\") == 1\n\tdeny with input as {}\n}\n\ntest_b if {\n\tdata.other.missing\n\tdeny with input as {}\n}\n",
        );
        assert!(!r.passed());
        assert_eq!(r.coverage.len(), 1, "{:?}", r.coverage);
        assert_eq!(r.coverage[0].covered, 0);
        assert!(!r.coverage[0].not_covered.is_empty());
        assert_eq!(r.coverage[0].percent, 0.0);
        assert_eq!(r.total_coverage, 0.0);
    }

    #[test]
    fn lines_evaluated_by_a_failing_test_count_as_opa_counts_them() {
        // `opa test --coverage` counts an expression as covered once it is
        // evaluated, whatever the test's outcome.
        let failing = run(
            "package main\n\nimport rego.v1\n\ntest_pod if {\n\tcount(deny) == 1 with input as {\"kind\": \"Pod\"}\n}\n",
        );
        assert!(!failing.passed());
        assert_eq!(failing.coverage[0].covered, 1, "{:?}", failing.coverage);
        let passing = run(
            "package main\n\nimport rego.v1\n\ntest_deployment if {\n\tcount(deny) == 1 with input as {\"kind\": \"Deployment\", \"spec\": {}}\n}\n",
        );
        assert!(passing.passed());
        assert_eq!(passing.total_coverage, 100.0, "{:?}", passing.coverage);
        assert!(failing.total_coverage < passing.total_coverage);
    }
}
