//! Durations and times on the command line and in the files it reads are
//! bounded (durations at most `36500d`, times from 1970-01-01T00:00:00Z to
//! 9999-12-31T23:59:59Z): the built binary answers exactly or exits with a
//! clear error naming the value, and never panics (exit 101).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use proptest::prelude::*;

const MAX_SECS: u128 = 36_500 * 86_400;

const INTENT: &str = r#"
version: 1
organisation: Acme
teams: [{ id: payments }]
services:
  - id: checkout
    team: payments
    environments: [staging, production]
    slos: [{ id: avail, target: 99%, window: 36500d, sli: { good: ok, total: all } }]
objectives:
  - id: faster
    layer: engineering
    owner: payments
    due: 9999-12-31
    key_results:
      - { metric: dora.deployment_frequency, scope: { service: checkout }, target: ">= 1/week", window: 36500d }
      - { metric: dora.change_failure_rate, scope: { service: checkout }, target: "< 15%", window: 36500d }
guardrails:
  - { id: g, kind: error_budget }
waivers:
  - { guardrail: g, owner: alice, reason: r, expires: 1970-01-01 }
adaptation:
  - { when: "dora.deployment_frequency(36500d) >= 0/week", then: { strategy: canary }, evaluate_after: 36500d }
settings:
  incident_window: 36500d
"#;

/// Deployments at the first and last accepted instants.
const EVENTS: &str = r#"{"id":"d-first","source":"t","time":"1970-01-01T00:00:00Z","kind":"deployment","service":"checkout","environment":"production","data":{"deployment_id":"d-first","status":"success"}}
{"id":"d-last","source":"t","time":"9999-12-31T23:59:59Z","kind":"deployment","service":"checkout","environment":"production","data":{"deployment_id":"d-last","status":"success"}}
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(intent: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bearing.yaml"), intent).unwrap();
        Env { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bearing"));
        c.current_dir(self.dir.path())
            .env_remove("BEARING_INTENT")
            .env_remove("BEARING_DATABASE")
            .env_remove("BEARING_SERVER")
            .env_remove("BEARING_LOG")
            .args(args);
        c
    }
    fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().unwrap())
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn err(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.out()).unwrap_or_else(|e| panic!("{e}: {}", self.out()))
    }
    /// Neither a panic nor a crash, whatever the outcome.
    fn sane(&self) -> Result<(), TestCaseError> {
        prop_assert!(
            self.code() == 0 || self.code() == 1 || self.code() == 2,
            "exit {}: {}",
            self.code(),
            self.err()
        );
        prop_assert!(!self.err().contains("panicked"), "{}", self.err());
        Ok(())
    }
}

/// A store holding [`EVENTS`], ingested through the CLI.
fn with_events() -> Env {
    let env = Env::new(INTENT);
    std::fs::write(env.path("events.jsonl"), EVENTS).unwrap();
    let r = env.run(&["ingest", "events.jsonl"]);
    assert_eq!(r.code(), 0, "{}", r.err());
    env
}

#[test]
fn the_reported_huge_window_is_refused_at_its_line_by_every_command() {
    let env = Env::new(&INTENT.replace(
        "target: \">= 1/week\", window: 36500d",
        "target: \">= 1/week\", window: 100000000d",
    ));
    let want = "bearing.yaml:16:105: error: `window`: duration `100000000d` is too long; expected at most `36500d` (100 years)";
    let r = env.run(&["validate"]);
    assert_eq!(r.code(), 1, "{}", r.err());
    assert!(
        r.out().contains(want) || r.err().contains(want),
        "{}{}",
        r.out(),
        r.err()
    );
    for args in [
        &["report"][..],
        &["reconcile", "--dry-run"],
        &["explain", "dora.lead_time.p50"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.err());
        assert!(r.err().contains(want), "{args:?}: {}", r.err());
    }
    // `serve` refuses to start (before, it panicked at startup).
    let mut child = env
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("`serve` kept running with an invalid intent");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains(want), "{err}");

    // And the reported `--window` on the command line.
    let env = with_events();
    let r = env.run(&[
        "explain",
        "dora.deployment_frequency",
        "--window",
        "999999999999d",
    ]);
    assert_eq!(r.code(), 2, "{}", r.err());
    assert!(
        r.err().contains("invalid value '999999999999d' for '--window <W>': duration `999999999999d` is too long; expected at most `36500d` (100 years)"),
        "{}",
        r.err()
    );
}

#[test]
fn the_ends_of_the_range_work_through_every_command() {
    let env = with_events();
    // A rule applied at the last instant has its effect measured 100 years on.
    let r = env.run(&[
        "reconcile",
        "--at",
        "9999-12-31T23:59:59Z",
        "--output",
        "json",
    ]);
    assert_eq!(r.code(), 0, "{}", r.err());
    let v = r.json();
    assert_eq!(v["actions"][0]["status"], "applied", "{v}");
    assert_eq!(
        v["actions"][0]["evaluate_at"], "+10099-12-06T23:59:59Z",
        "{v}"
    );
    for at in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let r = env.run(&["report", "--at", at, "--output", "json"]);
        assert_eq!(r.code(), 0, "{}", r.err());
        let kr = &r.json()["objectives"][0]["key_results"][0];
        assert_eq!(kr["samples"], 1, "{kr}");
        let r = env.run(&["reconcile", "--at", at, "--output", "json"]);
        assert_eq!(r.code(), 0, "{}", r.err());
    }
    let r = env.run(&[
        "events",
        "list",
        "--since",
        "1970-01-01",
        "--until",
        "9999-12-31T23:59:59Z",
    ]);
    assert_eq!(r.code(), 0, "{}", r.err());
    assert!(r.out().contains("d-first"), "{}", r.out());
    // 100 years back from today reaches 1970; a day back does not.
    let r = env.run(&["events", "list", "--since", "36500d"]);
    assert_eq!(r.code(), 0, "{}", r.err());
    assert!(
        r.out().contains("d-last") && r.out().contains("d-first"),
        "{}",
        r.out()
    );
    let r = env.run(&["events", "list", "--since", "1d"]);
    assert_eq!(r.code(), 0, "{}", r.err());
    assert!(
        r.out().contains("d-last") && !r.out().contains("d-first"),
        "{}",
        r.out()
    );
}

#[test]
fn ingested_times_out_of_range_are_refused_whole() {
    let env = with_events();
    std::fs::write(
        env.path("bad.jsonl"),
        EVENTS
            .replace("d-first", "x-first")
            .replace("d-last", "x-last")
            .replace("9999-12-31T23:59:59Z", "9999-12-31T23:59:59-00:01"),
    )
    .unwrap();
    let r = env.run(&["ingest", "bad.jsonl"]);
    assert_eq!(r.code(), 1, "{}", r.out());
    assert!(
        (r.out() + &r.err()).contains("line 2, field `time`: timestamp `9999-12-31T23:59:59-00:01` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
        "{}",
        r.err()
    );
    let r = env.run(&["events", "list"]);
    assert!(
        !r.out().contains("x-first"),
        "a refused batch stores nothing: {}",
        r.out()
    );
}

fn duration() -> impl Strategy<Value = (String, u128)> {
    let n = prop_oneof![
        Just(0u64),
        any::<u64>(),
        0u64..100,
        36_495u64..36_505,
        3_153_599_995u64..3_153_600_005,
    ];
    let unit = proptest::sample::select(vec![
        ("s", 1u64),
        ("h", 3_600),
        ("d", 86_400),
        ("w", 604_800),
    ]);
    (n, unit).prop_map(|(n, (u, m))| (format!("{n}{u}"), u128::from(n) * u128::from(m)))
}

/// `--at` values: dates and RFC 3339 around both ends, five-digit and
/// signed years, epoch numbers.
fn at() -> impl Strategy<Value = String> {
    prop_oneof![
        (1969i32..=1971, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (9998i32..=9999, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}T23:59:59Z")),
        (0i32..=9999).prop_map(|y| format!("{y:04}-06-15T12:00:00+01:00")),
        (-300_000i32..300_000).prop_map(|y| format!("{y:+}-06-15")),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("9999-12-31T23:59:59-00:01".to_owned()),
    ]
}

/// The instant `s` means if it is well formed, in range or not.
fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc())
        })
}

fn in_range(t: DateTime<Utc>) -> bool {
    (1970..=9999).contains(&t.year())
}

fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    })
}

#[test]
fn explain_window_and_at_are_exact_or_named_errors() {
    let env = with_events();
    runner(48)
        .run(&(duration(), at()), |((window, secs), at)| {
            let r = env.run(&[
                "explain",
                "dora.deployment_frequency",
                &format!("--window={window}"),
                &format!("--at={at}"),
                "--output",
                "json",
            ]);
            r.sane()?;
            let t = instant(&at);
            if secs > 0 && secs <= MAX_SECS && t.is_some_and(in_range) {
                prop_assert_eq!(r.code(), 0, "{}", r.err());
                let v = r.json();
                prop_assert_eq!(v["window_seconds"].as_u64().map(u128::from), Some(secs));
                let time = |k: &str| DateTime::parse_from_rfc3339(v[k].as_str().unwrap()).unwrap();
                prop_assert_eq!(time("to"), t.unwrap());
                prop_assert_eq!((time("to") - time("from")).num_seconds() as u128, secs);
            } else {
                prop_assert_eq!(r.code(), 2, "{}", r.out());
                let err = r.err();
                let want = if secs > MAX_SECS {
                    format!(
                        "duration `{window}` is too long; expected at most `36500d` (100 years)"
                    )
                } else if secs == 0 {
                    format!(
                        "invalid value '{window}' for '--window <W>': it must be longer than 0s"
                    )
                } else if t.is_some() {
                    format!("timestamp `{at}` is out of range")
                } else {
                    format!("invalid time `{at}`")
                };
                prop_assert!(err.contains(&want), "{}", err);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn report_reconcile_and_events_take_any_time_safely() {
    let env = with_events();
    runner(32)
        .run(&(at(), duration()), |(at, (age, secs))| {
            let ok = instant(&at).is_some_and(in_range);
            let at_flag = format!("--at={at}");
            let until = format!("--until={at}");
            for args in [
                vec!["report", &at_flag, "--output", "json"],
                vec!["reconcile", "--dry-run", &at_flag, "--output", "json"],
                vec!["events", "list", &until],
            ] {
                let r = env.run(&args);
                r.sane()?;
                prop_assert_eq!(r.code() == 0, ok, "{:?}: {}", args, r.err());
                if !ok {
                    prop_assert!(
                        r.err().contains(&format!("`{at}`")),
                        "{:?}: {}",
                        args,
                        r.err()
                    );
                }
            }
            let r = env.run(&["events", "list", &format!("--since={age}")]);
            r.sane()?;
            prop_assert_eq!(r.code() == 0, secs <= MAX_SECS, "{}", r.err());
            if secs > MAX_SECS {
                let want = format!("invalid age `{age}`: duration `{age}` is too long");
                prop_assert!(r.err().contains(&want), "{}", r.err());
            }
            // `risk train --at`: trains (or finds too little history) as of any
            // time in range; a time out of range is a usage error naming it.
            let model = env.path("risk.json");
            let r = env.run(&[
                "risk",
                "train",
                &at_flag,
                "--model",
                model.to_str().unwrap(),
            ]);
            r.sane()?;
            if ok {
                prop_assert!(matches!(r.code(), 0 | 1), "{}", r.err());
            } else {
                prop_assert_eq!(r.code(), 2, "{}", r.out());
                prop_assert!(r.err().contains(&format!("`{at}`")), "{}", r.err());
            }
            // `token create --expires`: any duration up to `36500d` from now.
            let r = env.run(&[
                "token",
                "create",
                "--name",
                "p",
                "--scope",
                "read",
                &format!("--expires={age}"),
            ]);
            r.sane()?;
            prop_assert_eq!(r.code() == 0, secs > 0 && secs <= MAX_SECS, "{}", r.err());
            if secs > MAX_SECS {
                let want =
                    format!("duration `{age}` is too long; expected at most `36500d` (100 years)");
                prop_assert!(r.err().contains(&want), "{}", r.err());
            }
            // `report --window`: every key result over exactly that window, or
            // refused with the bounds of `?window=` (zero, or over `36500d`).
            let r = env.run(&["report", &format!("--window={age}"), "--output", "json"]);
            r.sane()?;
            if secs > 0 && secs <= MAX_SECS {
                prop_assert_eq!(r.code(), 0, "{}", r.err());
                let v = r.json();
                let krs: Vec<_> = v["objectives"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|o| o["key_results"].as_array().unwrap().clone())
                    .collect();
                prop_assert!(!krs.is_empty());
                for k in krs {
                    prop_assert_eq!(k["window_seconds"].as_u64().map(u128::from), Some(secs));
                }
            } else {
                prop_assert_eq!(r.code(), 2, "{}", r.out());
                let want = if secs == 0 {
                    "it must be longer than 0s".to_owned()
                } else {
                    format!("duration `{age}` is too long; expected at most `36500d` (100 years)")
                };
                prop_assert!(r.err().contains(&want), "{}", r.err());
            }
            Ok(())
        })
        .unwrap();
}

/// `serve` with the longest refresh and reconcile intervals starts and
/// answers; one longer is refused before it binds.
#[test]
fn serve_takes_the_longest_intervals() {
    use std::io::{Read, Write};
    let env = with_events();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = env
        .cmd(&[
            "serve",
            "--no-auth",
            "--listen",
            &listen,
            "--refresh",
            "36500d",
            "--reconcile-every",
            "36500d",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let answer = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&listen) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /v1/explain/dora.deployment_frequency?service=checkout&window=36500d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            break out;
        }
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("`serve --refresh 36500d` did not start");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"window_seconds\":3153600000"), "{answer}");

    let r = env.run(&["serve", "--listen", &listen, "--reconcile-every", "36501d"]);
    assert_eq!(r.code(), 2, "{}", r.err());
    assert!(
        r.err()
            .contains("duration `36501d` is too long; expected at most `36500d` (100 years)"),
        "{}",
        r.err()
    );
}
