//! `bearing policy test`: runs Rego unit tests (rules named `test_…`) in a
//! folder of policies, as `opa test` does, and reports line coverage.

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
    let mut coverage = Vec::new();
    let (mut all_cov, mut all) = (0usize, 0usize);
    for f in report.files {
        if f.path.ends_with("_test.rego") {
            continue;
        }
        let total = f.covered.len() + f.not_covered.len();
        all_cov += f.covered.len();
        all += total;
        coverage.push(FileCoverage {
            path: f.path,
            covered: f.covered.len(),
            not_covered: f.not_covered.into_iter().collect(),
            percent: if total == 0 {
                100.0
            } else {
                100.0 * f.covered.len() as f64 / total as f64
            },
        });
    }
    Ok(TestReport {
        tests,
        coverage,
        total_coverage: if all == 0 {
            100.0
        } else {
            100.0 * all_cov as f64 / all as f64
        },
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
