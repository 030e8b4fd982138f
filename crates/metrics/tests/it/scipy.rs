//! SciPy's `scipy.stats.mannwhitneyu`, run live on a test's own samples
//! through `bench/canary_scipy.py --stdin`. Shared with bearing-adapt's
//! canary judge test, which includes this file.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// One call: `mannwhitneyu(x, y, alternative='two-sided', method, use_continuity)`.
pub struct Case<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
    /// `'exact'` when true, else `'asymptotic'`.
    pub exact: bool,
    pub use_continuity: bool,
}

/// The Python with SciPy: `BEARING_SCIPY_PYTHON`; else, with
/// `BEARING_SCIPY=1`, the repository's `bench/.venv`, else `python3`.
/// `None` when neither is set: SciPy is not there to ask.
pub fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BEARING_SCIPY_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if std::env::var("BEARING_SCIPY").as_deref() != Ok("1") {
        return None;
    }
    let venv = root().join("bench/.venv/bin/python");
    Some(if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    })
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// SciPy's `(U of x, p)` for each case, or `None` when SciPy is not
/// configured (see [`python`]). A configured Python that fails is a test
/// failure, not a skip.
pub fn mannwhitneyu(cases: &[Case<'_>]) -> Option<Vec<(f64, f64)>> {
    let python = python()?;
    let input = json!({
        "cases": cases.iter().map(|c| json!({
            "x": c.x,
            "y": c.y,
            "alternative": "two-sided",
            "method": if c.exact { "exact" } else { "asymptotic" },
            "use_continuity": c.use_continuity,
        })).collect::<Vec<_>>()
    });
    let doc = run_json(&python, "bench/canary_scipy.py", &input);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    Some(
        results
            .iter()
            .map(|r| (r["u"].as_f64().unwrap(), r["p"].as_f64().unwrap()))
            .collect(),
    )
}

/// Runs `python SCRIPT --stdin` (a path under the repository) with `input`
/// as JSON on stdin and returns the JSON it prints; a failure fails the test.
pub fn run_json(python: &std::path::Path, script: &str, input: &Value) -> Value {
    let mut child = Command::new(python)
        .arg(root().join(script))
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} {script} --stdin failed",
        python.display()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
