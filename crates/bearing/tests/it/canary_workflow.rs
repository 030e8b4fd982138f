//! The generated canary analysis step, run as GitHub Actions would run it:
//! `bearing workflow generate` for an intent whose canary reads Prometheus
//! (`delivery.canary_prometheus`), the "Analyse canary" step's script taken
//! from the workflow and run with bash, the built `bearing` on `PATH`,
//! against a real Prometheus (see `prom_support`). Skipped with a message
//! when the binary is absent, unless `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::prom_support::{exporter, prometheus_bin_or_skip, start_prometheus, unix_now};

const ERRORS: &str = r#"sum(rate(app_requests_total{code="500"}[3s]))"#;

fn intent(prom: &str, baseline: &str, canary: &str, bad: &str) -> String {
    format!(
        r#"version: 1
teams: [{{id: web}}]
services:
  - id: shop
    team: web
    environments: [production]
    build: {{deploy: ./deploy.sh}}
    delivery:
      strategy: canary
      canary_steps: [10%]
      canary_analysis: 10s
      canary_prometheus:
        url: {prom}
        step: 1s
        metrics:
          - name: errors
            bad: {bad}
            baseline: '{baseline}'
            canary: '{canary}'
"#
    )
}

/// The "Analyse canary at 10%" step's `run` script of the generated workflow.
fn analysis_script(dir: &Path, intent: &str) -> String {
    std::fs::write(dir.join("bearing.yaml"), intent).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bearing"))
        .current_dir(dir)
        .args(["workflow", "generate", "--target", "github-actions"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = dir.join(".github/workflows/bearing-shop.yml");
    let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut steps = doc["jobs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|j| j["steps"].as_array())
        .flatten();
    let script = steps
        .find(|s| s["name"] == "Analyse canary at 10%")
        .and_then(|s| s["run"].as_str())
        .expect("an analysis step");
    assert!(
        script.contains("bearing canary judge --prometheus"),
        "{script}"
    );
    script.to_string()
}

/// Runs a step's script as GitHub Actions does (`bash -e`), with the built
/// binary first on `PATH` and no wait before the analysis.
fn run_step(dir: &Path, script: &str) -> Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_bearing")).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    Command::new("bash")
        .current_dir(dir)
        .env("PATH", path)
        .env("TRAFFIC_PERCENT", "10")
        .env("CANARY_ANALYSIS_SECONDS", "0")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .output()
        .unwrap()
}

#[test]
fn generated_analysis_step_promotes_or_rolls_back_from_a_real_prometheus() {
    let Some(bin) = prometheus_bin_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stop = Arc::new(AtomicBool::new(false));
    let exporter_port = exporter(stop.clone());
    let (_prometheus, prom_url) = start_prometheus(&bin, d, exporter_port);
    let started = unix_now();

    let tenfold = format!("{ERRORS} * 10");
    let same = analysis_script(d, &intent(&prom_url, ERRORS, ERRORS, "increase"));
    let worse = analysis_script(d, &intent(&prom_url, ERRORS, &tenfold, "increase"));
    // More of a metric whose decrease is bad (throughput) is no reason to roll back.
    let more = analysis_script(d, &intent(&prom_url, ERRORS, &tenfold, "decrease"));
    // PromQL reaches the judge intact through the YAML and the shell quoting.
    assert!(
        same.contains(r#"'sum(rate(app_requests_total{code="500"}[3s]))'"#),
        "{same}"
    );

    // Enough scrapes for the 10 s range at a 1 s step.
    while unix_now() < started + 15.0 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = |o: &Output| {
        format!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let o = run_step(d, &same);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("canary judge: promote"),
        "{}",
        text(&o)
    );

    let o = run_step(d, &worse);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("verdict: rollback")
            && String::from_utf8_lossy(&o.stderr).contains("canary judge: rollback"),
        "{}",
        text(&o)
    );

    let o = run_step(d, &more);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    stop.store(true, Ordering::Relaxed);
}
