//! `bearing sync prometheus` and `bearing serve`'s background sync against a
//! real Prometheus (Debian's `prometheus` binary, `BEARING_PROMETHEUS_BIN`),
//! scraping an exporter this test runs. The SLO figures Bearing computes
//! from the synced points must equal what PromQL computes over the same
//! range. Skipped with a message when the binary is absent, unless `CI=true`.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::prom_support::{
    Proc, exporter, free_port, get, prometheus_bin_or_skip, start_prometheus, unix_now, url_with,
};

/// An instant PromQL query at `time`: the single value, or 0 for no series.
fn promql(base: &str, query: &str, time: i64) -> f64 {
    let mut url = url_with(base, "/api/v1/query");
    url.push_str(&format!("?time={time}&query="));
    url.push_str(&encode(query));
    let (status, text) = get(&url).unwrap();
    assert_eq!(status, 200, "{query}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{query}: {text}");
    result
        .first()
        .map_or(0.0, |r| r["value"][1].as_str().unwrap().parse().unwrap())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bearing(dir: &Path, intent: &str, db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bearing"))
        .current_dir(dir)
        .env("BEARING_INTENT", intent)
        .env("BEARING_DATABASE", db)
        .args(args)
        .output()
        .unwrap()
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

const GOOD: &str = r#"sum(increase(app_requests_total{code="200"}[{{.window}}]))"#;
const BAD: &str = r#"sum(increase(app_requests_total{code="500"}[{{.window}}]))"#;
const TOTAL: &str = r#"sum(increase(app_requests_total[{{.window}}]))"#;
/// Resolution and SLO window of the test intent, in seconds.
const STEP: i64 = 2;
const WINDOW: i64 = 20;

fn intent(prom: &str) -> String {
    format!(
        r#"version: 1
teams: [{{id: web}}]
services:
  - id: shop
    team: web
    slos:
      - id: avail
        target: 99%
        window: {WINDOW}s
        source:
          prometheus:
            url: {prom}
            good: '{GOOD}'
            total: '{TOTAL}'
            resolution: {STEP}s
            delay: 1s
      - id: avail-bad
        target: 99%
        window: {WINDOW}s
        source:
          prometheus: {{url: '{prom}', bad: '{BAD}', total: '{TOTAL}', resolution: {STEP}s, delay: 1s}}
"#
    )
}

/// Good and total points of `slo` in Bearing's window ending at `at`, and
/// the attainment Bearing reports there.
fn bearing_figures(dir: &Path, db: &str, slo: &str, at: i64) -> (f64, f64, f64) {
    let at = chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .to_rfc3339();
    let o = bearing(
        dir,
        "bearing.yaml",
        db,
        &[
            "explain",
            "slo.attainment",
            "--service",
            "shop",
            "--filter",
            &format!("slo={slo}"),
            "--at",
            &at,
            "--output",
            "json",
        ],
    );
    let v = stdout_json(&o);
    let sum = |which: &str| -> f64 {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["event_id"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("prometheus:shop:{slo}:{which}:"))
            })
            .map(|r| r["value"].as_f64().unwrap())
            .sum()
    };
    (
        sum("good"),
        sum("total"),
        v["value"]["value"].as_f64().unwrap(),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn slis_synced_from_a_real_prometheus_match_promql() {
    let Some(bin) = prometheus_bin_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stop = Arc::new(AtomicBool::new(false));
    let exporter_port = exporter(stop.clone());
    let (prometheus, prom_url) = start_prometheus(&bin, d, exporter_port);
    let started = unix_now() as i64;
    std::fs::write(d.join("bearing.yaml"), intent(&prom_url)).unwrap();
    let db = format!("sqlite://{}", d.join("cli.db").display());

    // `bearing serve` syncs in the background into its own store.
    let serve_port = free_port();
    let mut server = Proc(
        Command::new(env!("CARGO_BIN_EXE_bearing"))
            .current_dir(d)
            .env("BEARING_INTENT", "bearing.yaml")
            .env(
                "BEARING_DATABASE",
                format!("sqlite://{}", d.join("serve.db").display()),
            )
            .args([
                "serve",
                "--no-auth",
                "--listen",
                &format!("127.0.0.1:{serve_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let readyz = format!("http://127.0.0.1:{serve_port}/readyz");

    // The range: intervals ending in (since, until], `until` 18 s after the
    // first scrape, read once Prometheus has every sample up to it.
    let until = (started + 18).div_euclid(STEP) * STEP;
    let since = until - 3 * WINDOW;
    while unix_now() < (until + 3) as f64 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339();
    let sync_range = || {
        let o = bearing(
            d,
            "bearing.yaml",
            &db,
            &[
                "sync",
                "prometheus",
                "--since",
                &t(since),
                "--until",
                &t(until),
                "--output",
                "json",
            ],
        );
        stdout_json(&o)
    };
    let first = sync_range();
    let avail = &first[0];
    assert_eq!(avail["slo"], "avail");
    assert_eq!(avail["to"], t(until).replace("+00:00", "Z"));
    let intervals = avail["intervals"].as_u64().unwrap();
    assert!(intervals >= 5, "{first}");
    assert_eq!(avail["stored"].as_u64().unwrap(), 2 * intervals);

    // Bearing's figures over its window ending at `until` equal PromQL's sum
    // of the same per-step counts over the same range (`[19s:2s]` at
    // `until` evaluates at until-18, …, until: Bearing's (until-20, until]).
    let sub = |q: &str| {
        format!(
            "sum_over_time(({})[{}s:{STEP}s])",
            q.replace("{{.window}}", &format!("{STEP}s")),
            WINDOW - 1
        )
    };
    let ref_good = promql(&prom_url, &sub(GOOD), until);
    let ref_total = promql(&prom_url, &sub(TOTAL), until);
    assert!(
        ref_total > 100.0 && ref_good < ref_total,
        "{ref_good}/{ref_total}"
    );
    let (good, total, attainment) = bearing_figures(d, &db, "avail", until);
    assert!(
        close(good, ref_good),
        "good: bearing {good}, PromQL {ref_good}"
    );
    assert!(
        close(total, ref_total),
        "total: bearing {total}, PromQL {ref_total}"
    );
    assert!(close(attainment, ref_good / ref_total), "{attainment}");
    // With `bad:`, good = total - bad: the same figures.
    let ref_bad = promql(&prom_url, &sub(BAD), until);
    let (good_b, total_b, _) = bearing_figures(d, &db, "avail-bad", until);
    assert!(
        close(good_b, ref_total - ref_bad),
        "{good_b} vs {ref_total} - {ref_bad}"
    );
    assert!(close(total_b, ref_total));

    // The same range read again stores nothing new.
    let again = sync_range();
    assert_eq!(again[0]["stored"], 0, "{again}");
    assert_eq!(again[0]["duplicates"].as_u64().unwrap(), 2 * intervals);

    // A later sync (a new process) resumes after `until`.
    while unix_now() < (until + 2 * STEP + 2) as f64 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let resumed = stdout_json(&bearing(
        d,
        "bearing.yaml",
        &db,
        &["sync", "prometheus", "--output", "json"],
    ));
    assert_eq!(resumed[0]["from"], first[0]["to"], "{resumed}");
    assert!(resumed[0]["stored"].as_u64().unwrap() >= 2, "{resumed}");
    assert_eq!(resumed[0]["duplicates"], 0, "{resumed}");

    // A query that returns several series is refused, naming them.
    std::fs::write(
        d.join("several.yaml"),
        intent(&prom_url).replace(TOTAL, "increase(app_requests_total[{{.window}}])"),
    )
    .unwrap();
    let o = bearing(
        d,
        "several.yaml",
        &db,
        &[
            "sync",
            "prometheus",
            "--slo",
            "shop/avail",
            "--since",
            "30s",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("returned 2 series")
            && err.contains(r#"code="500""#)
            && err.contains("sum(...)"),
        "{err}"
    );

    // Canary samples from the same Prometheus: the same query on both sides
    // promotes; a canary serving several times the baseline's errors rolls back.
    let judge = |baseline: &str, canary: &str| {
        bearing(
            d,
            "bearing.yaml",
            &db,
            &[
                "canary",
                "judge",
                "--prometheus",
                &prom_url,
                "--baseline-query",
                baseline,
                "--canary-query",
                canary,
                "--range",
                "10s",
                "--step",
                "1s",
                "--metric",
                "errors",
                "--output",
                "json",
            ],
        )
    };
    let errors = r#"sum(rate(app_requests_total{code="500"}[3s]))"#;
    let same = judge(errors, errors);
    let v = stdout_json(&same);
    assert_eq!(v["verdict"], "promote", "{v}");
    assert_eq!(v["metrics"][0]["metric"], "errors");
    assert!(v["metrics"][0]["baseline_n"].as_u64().unwrap() >= 8, "{v}");
    let worse = judge(errors, &format!("{errors} * 10"));
    assert_eq!(
        worse.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&worse.stdout)
    );
    let v: Value = serde_json::from_slice(&worse.stdout).unwrap();
    assert_eq!(v["verdict"], "rollback", "{v}");

    // The server synced on its own and says so on /readyz.
    let ready_state = |want: &str| -> Value {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok((_, text)) = get(&readyz)
                && let Ok(v) = serde_json::from_str::<Value>(&text)
                && v["prometheus"]["state"] == want
            {
                return v;
            }
            assert!(
                Instant::now() < until,
                "no prometheus state `{want}` on /readyz: {:?}",
                get(&readyz)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let v = ready_state("ok");
    assert_eq!(v["status"], "ready");
    let slos = v["prometheus"]["slos"].as_array().unwrap();
    assert_eq!(slos.len(), 2);
    assert!(slos[0]["points_stored"].as_u64().unwrap() > 0, "{v}");
    assert!(slos[0]["synced_to"].is_string(), "{v}");

    // Prometheus down: the one-shot sync fails clearly, the server backs
    // off and stays ready.
    drop(prometheus);
    let o = bearing(
        d,
        "bearing.yaml",
        &db,
        &["sync", "prometheus", "--since", "1m"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("Prometheus at `{prom_url}` is unreachable")),
        "{err}"
    );
    assert!(err.contains("2 of 2 SLOs could not be synced"), "{err}");
    let v = ready_state("backing_off");
    assert_eq!(v["status"], "ready", "{v}");
    let s = &v["prometheus"]["slos"][0];
    assert!(
        s["last_error"].as_str().unwrap().contains("unreachable"),
        "{v}"
    );
    assert!(
        s["retry_at"].is_string() && s["failures"].as_u64().unwrap() >= 1,
        "{v}"
    );

    // The service page says the same.
    let (status, page) = get(&format!("http://127.0.0.1:{serve_port}/services/shop")).unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("from Prometheus") && page.contains("backing off after"),
        "{page}"
    );

    stop.store(true, Ordering::Relaxed);
    let _ = server.0.kill();
    let mut log = String::new();
    if let Some(mut e) = server.0.stderr.take() {
        let _ = e.read_to_string(&mut log);
    }
    assert!(log.contains("prometheus sync failed"), "{log}");
}
