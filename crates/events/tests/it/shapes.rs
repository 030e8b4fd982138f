//! Shapes real tools emit that once refused a whole report (issue 14 item 12)
//! and GitHub deliveries as relays store them (item 14): small files of those
//! shapes in `tests/shapes/`, detected and read, with the unusable record
//! skipped and named.

use std::path::PathBuf;

use bearing_events::{Format, ParseContext, Payload, Severity, detect, parse_report};
use chrono::{TimeZone, Utc};

fn read(file: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/shapes")
            .join(file),
    )
    .unwrap()
}

fn ctx() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
}

fn strict() -> ParseContext {
    let mut c = ctx();
    c.strict = true;
    c
}

fn severities(p: &bearing_events::Parsed) -> Vec<(String, Severity)> {
    p.events
        .iter()
        .map(|e| match &e.payload {
            Payload::Finding(f) => (f.rule_id.clone(), f.severity),
            _ => panic!("not a finding"),
        })
        .collect()
}

#[test]
fn grype_without_descriptor_is_detected_by_its_matches() {
    let bytes = read("grype-no-descriptor.json");
    assert_eq!(detect(Some("scan.json"), &bytes), Some(Format::Grype));
    let p = parse_report(Format::Grype, &bytes, &ctx()).unwrap();
    assert_eq!(
        severities(&p),
        [
            ("CVE-2021-36159".to_owned(), Severity::Critical),
            ("CVE-2021-44906".to_owned(), Severity::High),
        ]
    );
    assert_eq!(
        p.skipped[0].to_string(),
        "`matches[2]` cannot be used: field `vulnerability.id`: missing; this field is required"
    );
    // No descriptor, no source: the target is the file.
    let Payload::Finding(f) = &p.events[0].payload else {
        panic!()
    };
    assert_eq!(f.target, "grype:report");
    assert!(parse_report(Format::Grype, &bytes, &strict()).is_err());
}

#[test]
fn trivy_legacy_list_keeps_every_usable_vulnerability() {
    let bytes = read("trivy-legacy-list.json");
    assert_eq!(detect(Some("trivy.json"), &bytes), Some(Format::Trivy));
    let p = parse_report(Format::Trivy, &bytes, &ctx()).unwrap();
    assert_eq!(
        severities(&p),
        [
            ("CVE-2018-16840".to_owned(), Severity::High),
            ("RUSTSEC-2019-0001".to_owned(), Severity::Unknown),
        ]
    );
    assert_eq!(
        p.skipped[0].to_string(),
        "`[0].Vulnerabilities[1]` cannot be used: field `VulnerabilityID`: missing; this field is required"
    );
    let e = parse_report(Format::Trivy, &bytes, &strict()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "field `[0].Vulnerabilities[1].VulnerabilityID`: missing; this field is required"
    );
}

#[test]
fn sarif_severity_words_and_a_bad_location() {
    let bytes = read("sarif-severity-words.sarif");
    assert_eq!(detect(Some("snyk.sarif"), &bytes), Some(Format::Sarif));
    let p = parse_report(Format::Sarif, &bytes, &ctx()).unwrap();
    assert_eq!(
        severities(&p),
        [
            ("SNYK-JS-LODASH-567746".to_owned(), Severity::High),
            ("SNYK-JS-MINIMIST-559764".to_owned(), Severity::Medium),
            // `n/a` is no severity: the rule's level `error` decides.
            ("custom-rule".to_owned(), Severity::High),
        ]
    );
    assert_eq!(
        p.skipped[0].to_string(),
        "`runs[0].results[2]` cannot be used: field `locations[0].physicalLocation.region.startLine`: expected a line or column number, found the string `three`"
    );
    let e = parse_report(Format::Sarif, &bytes, &strict()).unwrap_err();
    assert!(
        e.to_string()
            .contains("rules[2].properties.security-severity"),
        "{e}"
    );
}

const PUSH: &str = r#"{"ref":"refs/heads/main","before":"a","after":"b","created":false,"deleted":false,"forced":false,"commits":[{"id":"b","timestamp":"2024-05-01T12:00:00Z","message":"m","author":{"name":"x"}}],"head_commit":{"id":"b","timestamp":"2024-05-01T12:00:00Z"},"repository":{"id":1,"name":"web","full_name":"acme/web","default_branch":"main"},"pusher":{"name":"x"},"sender":{"login":"x"}}"#;

#[test]
fn github_deliveries_as_jsonl() {
    let ping = r#"{"zen":"hi","hook":{"id":1},"repository":{"id":1,"name":"web"}}"#;
    let input = format!(
        "{{\"event\":\"push\",\"delivery\":\"d-1\",\"payload\":{PUSH}}}\n\n{{\"event\":\"ping\",\"delivery\":\"d-2\",\"payload\":{ping}}}\n{{\"event\":\"push\",\"delivery\":\"d-3\",\"payload\":{}}}\n",
        serde_json::to_string(PUSH).unwrap()
    );
    assert_eq!(
        detect(Some("deliveries.jsonl"), input.as_bytes()),
        Some(Format::GithubWebhook)
    );
    let p = parse_report(Format::GithubWebhook, input.as_bytes(), &ctx()).unwrap();
    // The payload kept as a string (raw body) is the same delivery: same id.
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.events[0].id, p.events[1].id);
    assert_eq!(p.events[0].attributes["github.delivery"], "d-1");
    assert_eq!(p.events[1].attributes["github.delivery"], "d-3");
    assert_eq!(p.record_of(1), Some(bearing_events::RecordRef::Line(4)));
    assert_eq!(
        p.skipped[0].to_string(),
        "line 3: GitHub `ping` event: the webhook is reachable; nothing to store"
    );

    // A bad line is named.
    let bad = format!(
        "{{\"event\":\"push\",\"payload\":{PUSH}}}\n{{\"event\":\"isues\",\"payload\":{PUSH}}}\n"
    );
    let e = parse_report(Format::GithubWebhook, bad.as_bytes(), &ctx()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, field `event`: unknown GitHub event `isues`: not an `X-GitHub-Event` name GitHub sends; did you mean `issues`?"
    );
}

#[test]
fn an_unknown_github_event_name_is_an_error_with_a_suggestion() {
    let mut c = ctx();
    c.github_event = Some("issue".into());
    let e = parse_report(Format::GithubWebhook, PUSH.as_bytes(), &c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown GitHub event `issue`: not an `X-GitHub-Event` name GitHub sends; did you mean `issues`?"
    );
    assert!(
        bearing_events::github::check_event_name("workflow-run")
            .unwrap_err()
            .contains("did you mean `workflow_run`?")
    );
    // A real event Bearing does not use is a skip, not an error.
    c.github_event = Some("star".into());
    let p = parse_report(Format::GithubWebhook, PUSH.as_bytes(), &c).unwrap();
    assert_eq!(
        p.skipped[0].reason,
        "GitHub event `star` is not used by Bearing"
    );
    for name in bearing_events::github::USED_EVENTS {
        assert!(bearing_events::github::EVENT_NAMES.contains(name), "{name}");
    }
}

/// Issue 15 item 12: a bad byte does not hide the format; the parser names it.
#[test]
fn invalid_utf8_is_named_not_undetectable() {
    let good = r#"{"id":"e1","source":"t","time":"2024-05-01T12:00:00Z","kind":"metric_point","data":{"name":"m","value":1}}"#;
    let jsonl = format!("{good}\n{}\n", good.replace("\"m\"", "\"m\u{1}\""))
        .replace('\u{1}', "\u{0}")
        .into_bytes();
    let mut jsonl = jsonl;
    let at = jsonl.iter().rposition(|b| *b == 0).unwrap();
    jsonl[at] = 0xff;
    assert_eq!(detect(Some("a.jsonl"), &jsonl), Some(Format::Bearing));
    let e = parse_report(Format::Bearing, &jsonl, &ctx()).unwrap_err();
    let byte = good.find("\"m\"").unwrap() + 2;
    assert_eq!(
        e.to_string(),
        format!("line 2: invalid UTF-8 at byte {byte} of the line: the input must be UTF-8 text")
    );
    // The same in a SARIF log, whose first line is already broken.
    let mut sarif = read("sarif-severity-words.sarif");
    let at = sarif.windows(6).position(|w| w == b"lodash").unwrap();
    sarif[at] = 0xc3;
    assert_eq!(detect(Some("snyk.sarif"), &sarif), Some(Format::Sarif));
    let e = parse_report(Format::Sarif, &sarif, &ctx()).unwrap_err();
    assert!(
        e.to_string().starts_with("line 1: invalid UTF-8 at byte "),
        "{e}"
    );
}

/// Issue 15 item 11: the 16 MiB line limit holds when a file is read whole too.
#[test]
fn a_line_over_16_mib_is_refused_on_every_path() {
    let big = format!(
        r#"{{"id":"e1","source":"t","time":"2024-05-01T12:00:00Z","kind":"metric_point","attributes":{{"pad":"{}"}},"data":{{"name":"m","value":1}}}}"#,
        "x".repeat(17 << 20)
    );
    let want = "line 1: the line is longer than 16 MiB; expected one event per line";
    let e = parse_report(Format::Bearing, big.as_bytes(), &ctx()).unwrap_err();
    assert_eq!(e.to_string(), want);
    let e = bearing_events::JsonlReader::new(big.as_bytes())
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.to_string(), want);
    let two = format!("{{\"a\":1}}\n{big}\n");
    let e = parse_report(Format::Bearing, two.as_bytes(), &ctx()).unwrap_err();
    assert!(
        e.to_string().starts_with("line 2: the line is longer"),
        "{e}"
    );
    let e = parse_report(Format::CdEvents, two.as_bytes(), &ctx()).unwrap_err();
    assert!(
        e.to_string().starts_with("line 2: the line is longer"),
        "{e}"
    );
}

/// Issue 15 item 14: each event knows the record it came from, so a refusal
/// after parsing names it the way parse errors do.
#[test]
fn events_carry_their_record() {
    let line = |id: &str| {
        format!(
            r#"{{"id":"{id}","source":"t","time":"2024-05-01T12:00:00Z","kind":"metric_point","data":{{"name":"m","value":1}}}}"#
        )
    };
    let jsonl = format!("{}\n\n{}\n", line("a"), line("b"));
    let p = parse_report(Format::Bearing, jsonl.as_bytes(), &ctx()).unwrap();
    assert_eq!(p.record_of(1), Some(bearing_events::RecordRef::Line(3)));
    let array = format!("[{},{}]", line("a"), line("b"));
    let p = parse_report(Format::Bearing, array.as_bytes(), &ctx()).unwrap();
    assert_eq!(p.record_of(1), Some(bearing_events::RecordRef::Record(2)));
    let csv = "id,time,kind,data.name,data.value\na,2024-05-01T12:00:00Z,metric_point,m,1\nb,2024-05-01T12:00:00Z,metric_point,m,2\n";
    let p = parse_report(Format::BearingCsv, csv.as_bytes(), &ctx()).unwrap();
    assert_eq!(p.record_of(1), Some(bearing_events::RecordRef::Row(3)));
}
