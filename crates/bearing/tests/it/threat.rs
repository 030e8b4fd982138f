//! Security that follows the threat (issue 19), as a user runs it: a real
//! KEV catalog update flips the gate from allow to deny with no change to the
//! intent; the work list explains each record; feeds fetched by URL, with a
//! clear error when the URL cannot be reached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::{bearing, stderr, stdout};

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/threat")
        .join(file)
}

fn kev(root: &Path, date: &str) -> String {
    root.join(format!("threat-intel/kev-{date}.json"))
        .display()
        .to_string()
}

fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("BEARING_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("BEARING_FIXTURES is not set: skipping the threat-feed CLI tests");
            None
        }
    }
}

const INTENT: &str = r#"version: 1
teams: [{id: payments}]
services:
  - {id: checkout, team: payments, tier: critical, exposure: internet, environments: [staging, production]}
objectives:
  - id: exploited
    layer: security
    key_results:
      - {metric: security.kev_open, scope: {service: checkout}, target: "<= 0"}
settings:
  security_sla: {kev: 7d}
guardrails:
  - {id: exploited, kind: vulnerabilities, protects: exploited, params: {block: [critical], sla: false, deny: {kev: true}}}
"#;

fn org() -> tempfile::TempDir {
    org_with("")
}

fn org_with(extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bearing.yaml"), format!("{INTENT}{extra}")).unwrap();
    tmp
}

#[test]
fn a_kev_update_flips_the_gate_without_an_intent_change() {
    let Some(root) = fixtures() else { return };
    let (hook, seen) = crate::receiver::receiver("/security");
    let tmp = org_with(&format!(
        "notifications:\n  destinations:\n    - {{id: sec, kind: slack, url: \"{hook}\"}}\n  routes:\n    - {{to: sec, events: [known_exploited]}}\n"
    ));
    let intent_before = std::fs::read(tmp.path().join("bearing.yaml")).unwrap();
    let report = data("trivy-checkout.json").display().to_string();
    let o = bearing(
        &[
            "ingest",
            "--service",
            "checkout",
            &report,
            &kev(&root, "2025-06-10"),
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("KEV catalog 2025.06.10, 1364 CVEs"),
        "{}",
        stdout(&o)
    );
    let check = || {
        bearing(
            &["check", "--service", "checkout", "--env", "production"],
            tmp.path(),
        )
    };
    let o = check();
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // The outcomes kept by reconcile now predate the next catalog: they must not be read.
    let o = bearing(&["reconcile"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    let o = bearing(&["ingest", &kev(&root, "2025-08-25")], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("KEV catalog 2025.08.25 replaces 2025.06.10, 1404 CVEs, 40 added, 0 removed"),
        "{out}"
    );
    assert!(
        out.contains("CVE-2025-48384 (in git, added to KEV on 2025-08-25)"),
        "{out}"
    );

    let o = check();
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("CVE-2025-48384 in git (registry.example.com/acme/checkout) is known exploited: added to KEV on 2025-08-25 [exploited/kev]"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("bearing.yaml")).unwrap(),
        intent_before
    );

    // An older catalog afterwards changes nothing.
    let o = bearing(&["ingest", &kev(&root, "2025-06-10")], tmp.path());
    assert!(
        stdout(&o).contains("not newer than the KEV catalog kept (2025.08.25)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(check().status.code(), Some(1));

    // The action log says what changed and why.
    let url = format!("sqlite://{}", tmp.path().join("bearing.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let actions = rt
        .block_on(async { bearing_store::open(&url).await.unwrap().actions().await })
        .unwrap();
    let a = actions.iter().find(|a| a.origin == "threat-feed").unwrap();
    assert_eq!(a.service.as_deref(), Some("checkout"));
    assert_eq!(a.metric, "security.kev_open");
    assert!(a.summary.contains("KEV catalog 2025.08.25 lists open findings of checkout as known exploited: CVE-2025-48384"), "{}", a.summary);
    assert_eq!(a.evidence["findings"][0]["date_added"], "2025-08-25");
    // …and so does the notification, once, at the next look.
    assert!(seen.lock().unwrap().is_empty());
    for _ in 0..2 {
        let o = bearing(&["reconcile"], tmp.path());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("checkout: 1 open finding(s) now known exploited")
            && got[0].contains("high git in registry.example.com/acme/checkout: added to KEV on 2025-08-25, due 2025-09-15"),
        "{}",
        got[0]
    );

    // The work list: the KEV finding first, explained, and the key result it moves.
    let o = bearing(
        &[
            "security",
            "priorities",
            "--service",
            "checkout",
            "--top",
            "1",
            "--output",
            "json",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let first = &v["findings"][0];
    assert_eq!(first["cve"], "CVE-2025-48384");
    assert_eq!(first["kev"]["date_added"], "2025-08-25");
    assert_eq!(first["kev"]["due_date"], "2025-09-15");
    // high 8 × known exploited 1 × critical tier 2 × internet 2
    assert_eq!(first["priority"], 32.0);
    assert_eq!(first["past_sla"], true);
    assert_eq!(
        first["environments"],
        serde_json::json!(["staging", "production"])
    );
    assert_eq!(first["target"], "registry.example.com/acme/checkout");
    assert!(first["event_ids"].as_array().is_some_and(|a| !a.is_empty()));
    assert_eq!(v["now"]["kev_open"], 1);
    assert_eq!(v["after_top_n"]["kev_open"], 0);
    let kr = &v["key_results"][0];
    assert_eq!(
        (kr["met_now"].as_bool(), kr["met_after"].as_bool()),
        (Some(false), Some(true))
    );
    let o = bearing(&["security", "priorities"], tmp.path());
    assert!(
        stdout(&o).contains("high severity 8 × likelihood 1 (in KEV 2025.08.25 since 2025-08-25) × tier critical 2 × exposure internet 2 = 32.0000"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn an_unusable_feed_is_rejected_with_where_and_what() {
    let tmp = org();
    std::fs::write(
        tmp.path().join("epss.csv"),
        "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2025-48384,high,0.9\n",
    )
    .unwrap();
    let o = bearing(&["ingest", "epss.csv"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("rejected epss.csv: line 3, field `epss`: expected a decimal between 0 and 1, found `high`"),
        "{}",
        stdout(&o)
    );
    let o = bearing(
        &["ingest", &data("epss-2025-08-25.csv").display().to_string()],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("(epss): EPSS scores 2025-08-25T12:55:00Z, 6 CVEs"),
        "{}",
        stdout(&o)
    );
}

/// A feed server on a local port: answers the requests in turn with
/// `answers` (a status line and a body each), then stops.
fn feed_server(answers: Vec<(&'static str, Vec<u8>)>) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for (status, body) in answers {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body).unwrap();
        }
    });
    (port, h)
}

#[test]
fn feeds_are_fetched_by_url_and_an_unreachable_one_is_named() {
    let tmp = org();
    let epss = std::fs::read(data("epss-2025-08-25.csv")).unwrap();
    let (port, h) = feed_server(vec![("200 OK", epss)]);
    let url = format!("http://127.0.0.1:{port}/epss.csv");
    let o = bearing(&["security", "fetch", &url], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("(epss): EPSS scores 2025-08-25T12:55:00Z, 6 CVEs"),
        "{}",
        stdout(&o)
    );
    h.join().unwrap();

    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!(
        "http://127.0.0.1:{}/kev.json",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let o = bearing(&["security", "fetch", &dead], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("error: cannot fetch the threat feed `{dead}`")),
        "{}",
        stderr(&o)
    );
}

/// `bearing serve --threat-feed URL`: a feed that cannot be fetched is logged
/// with its URL and the server keeps serving; fetched at the next round, the
/// newer catalog denies the service's next decision.
#[test]
fn serve_fetches_feeds_on_a_schedule() {
    use crate::serve::{decide, eventually, free_port, http, token};
    let Some(root) = fixtures() else { return };
    let tmp = org();
    let db = format!("sqlite://{}", tmp.path().join("bearing.db").display());
    let intent = tmp.path().join("bearing.yaml");
    let report = data("trivy-checkout.json").display().to_string();
    let o = bearing(
        &[
            "ingest",
            "--service",
            "checkout",
            &report,
            &kev(&root, "2025-06-10"),
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let admin = token(&db, &intent, "admin");

    // The feed: unavailable at the first round, the newer catalog after.
    let body = std::fs::read(kev(&root, "2025-08-25")).unwrap();
    let (feed_port, feeder) =
        feed_server(vec![("503 Service Unavailable", vec![]), ("200 OK", body)]);
    let feed = format!("http://127.0.0.1:{feed_port}/kev.json");
    let port = free_port();
    let log = tmp.path().join("serve.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bearing"))
        .env_remove("BEARING_DATABASE")
        .env_remove("BEARING_INTENT")
        .args(["--database", &db, "--intent"])
        .arg(&intent)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--refresh",
            "1s",
            "--reconcile-every",
            "0s",
            "--threat-feed",
            &feed,
            "--threat-every",
            "2s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    eventually("the server is ready", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/readyz", "", "").0 == 200
    });
    eventually("the newer catalog denies checkout", || {
        decide(port, &admin, "checkout") == "deny"
    });
    // The scorecard moved with it: the key result on `security.kev_open`.
    let (status, card) = http(port, "GET", "/v1/scorecard?service=checkout", &admin, "");
    assert_eq!(status, 200, "{card}");
    let kr = &crate::serve::json_of(&card)["objectives"][0]["key_results"][0];
    assert_eq!(kr["metric"], "security.kev_open", "{kr}");
    assert_eq!(kr["value"], 1.0, "{kr}");
    // The same work list over the API.
    let (status, body) = http(
        port,
        "GET",
        "/v1/security/priorities?service=checkout&top=1",
        &admin,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v = crate::serve::json_of(&body);
    assert_eq!(v["findings"][0]["cve"], "CVE-2025-48384");
    assert_eq!(
        (
            v["now"]["kev_open"].as_u64(),
            v["after_top_n"]["kev_open"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let (status, _) = http(
        port,
        "GET",
        "/v1/security/priorities?service=nope",
        &admin,
        "",
    );
    assert_eq!(status, 404);
    // The dashboard's work list, server-rendered: the KEV finding first, with its evidence.
    let (status, page) = http(port, "GET", "/security", &admin, "");
    assert_eq!(status, 200, "{page}");
    let list = &page[page.find("Security work list").expect("work list section")..];
    assert!(list.contains("Feeds: KEV 2025.08.25 (1404 CVEs)"), "{list}");
    let first = &list[list.find("<tbody>").unwrap()..];
    let first = &first[..first.find("</tr>").unwrap()];
    assert!(
        first.contains("CVE-2025-48384")
            && first.contains("KEV</span> in KEV since 2025-08-25 (due 2025-09-15, ransomware Unknown; KEV 2025.08.25)"),
        "{first}"
    );
    assert!(list.contains("high severity 8 × likelihood 1 (in KEV 2025.08.25 since 2025-08-25) × tier critical 2 × exposure internet 2 = 32.0000"), "{list}");
    assert!(list.contains("known exploited open 1 → 0"), "{list}");
    let _ = child.kill();
    let _ = child.wait();
    feeder.join().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!(
            "cannot fetch the threat feed `{feed}`: HTTP status 503"
        )),
        "{text}"
    );
}

/// The guard refuses an `epss_at_least` below the lowest score the outcomes
/// list: the two crates must agree on it.
#[test]
fn the_guard_and_the_outcomes_agree_on_the_epss_floor() {
    assert_eq!(
        bearing_guard::render::EPSS_FLOOR,
        bearing_metrics::THREAT_EPSS_FLOOR
    );
}
