//! Every fixture file of the event kinds in `$BEARING_FIXTURES` is either parsed
//! into events or rejected with an actionable message; the expected outcome of
//! each rejected file is listed here, so a change in behaviour fails the test.
//! Run with `--nocapture` to print the table of outcomes.

use std::path::{Path, PathBuf};

use bearing_events::{Event, Format, Kind, ParseContext, Payload, detect, parse_report};
use chrono::{TimeZone, Utc};

/// Fixture folders and the format of their files.
const KINDS: &[(&str, Format)] = &[
    ("cdevents", Format::CdEvents),
    ("github-webhooks", Format::GithubWebhook),
    ("ci-runs/gitlab-webhooks", Format::GitlabWebhook),
    ("sarif", Format::Sarif),
    ("trivy", Format::Trivy),
    ("grype", Format::Grype),
    ("focus-cost", Format::Focus),
    ("opencost", Format::OpenCost),
    ("infracost", Format::Infracost),
];

/// Files rejected on purpose, with a fragment of the expected message.
/// No scanner report (SARIF, Trivy, Grype) is among them: a real tool's file is
/// read, and a finding that cannot be used is skipped with its reason.
const REJECTED: &[(&str, &str)] = &[
    (
        "focus-cost/focus_validator/all_fail.csv",
        "not a FOCUS cost file: missing required column(s) `BilledCost`",
    ),
    (
        "focus-cost/focus_validator/billedCostTest.csv",
        "incomplete FOCUS cost file: missing required column(s) `ChargePeriodStart`",
    ),
    (
        "focus-cost/focus_validator/fail_charge_type_bad_value.csv",
        "incomplete FOCUS cost file: missing required column(s) `BilledCost`",
    ),
    (
        "focus-cost/focus_validator/listUnitPriceTest.csv",
        "incomplete FOCUS cost file: missing required column(s) `BilledCost`",
    ),
];

/// Files whose format cannot be told from the content alone (`--format` needed).
const UNDETECTABLE: &[&str] = &["focus-cost/focus_validator/all_fail.csv"];

fn root() -> Option<PathBuf> {
    match std::env::var_os("BEARING_FIXTURES") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("BEARING_FIXTURES is not set: skipping the real-world fixture tests");
            None
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.file_name().is_some_and(|n| n != "SOURCES.md") {
            out.push(p);
        }
    }
}

fn ctx(name: &str, github_event: Option<String>) -> ParseContext {
    let mut ctx = ParseContext::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
    ctx.source_name = Some(name.to_owned());
    ctx.github_event = github_event;
    ctx
}

struct Outcome {
    file: String,
    events: Vec<Event>,
    skipped: Vec<String>,
    error: Option<String>,
}

/// Parses every fixture once per test binary.
fn run_all() -> Option<&'static [Outcome]> {
    static ALL: std::sync::OnceLock<Option<Vec<Outcome>>> = std::sync::OnceLock::new();
    ALL.get_or_init(parse_all).as_deref()
}

fn parse_all() -> Option<Vec<Outcome>> {
    let root = root()?;
    let mut outcomes = Vec::new();
    for (dir, format) in KINDS {
        let d = root.join(dir);
        assert!(
            d.is_dir(),
            "BEARING_FIXTURES is set but `{}` is missing",
            d.display()
        );
        let mut list = Vec::new();
        files(&d, &mut list);
        assert!(!list.is_empty(), "no fixtures in {}", d.display());
        for path in list {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let detected = detect(Some(&name), &bytes);
            if UNDETECTABLE.contains(&rel.as_str()) {
                assert_eq!(detected, None, "{rel}");
            } else {
                assert_eq!(detected, Some(*format), "detected format of {rel}");
            }
            // For webhooks, the folder is the `X-GitHub-Event` header.
            let event = (*format == Format::GithubWebhook)
                .then(|| rel.split('/').nth(1).unwrap().to_owned());
            let outcome = match parse_report(*format, &bytes, &ctx(&name, event)) {
                Ok(p) => Outcome {
                    file: rel,
                    events: p.events,
                    skipped: p.skipped.iter().map(ToString::to_string).collect(),
                    error: None,
                },
                Err(e) => Outcome {
                    file: rel,
                    events: Vec::new(),
                    skipped: Vec::new(),
                    error: Some(e.to_string()),
                },
            };
            outcomes.push(outcome);
        }
    }
    for o in &outcomes {
        let summary = match &o.error {
            Some(e) => format!("REJECTED: {e}"),
            None => format!(
                "{} event(s), {} skipped {}",
                o.events.len(),
                o.skipped.len(),
                o.skipped.join(" | ")
            ),
        };
        println!("| `{}` | {summary} |", o.file);
    }
    Some(outcomes)
}

#[test]
fn every_fixture_is_parsed_or_rejected_as_expected() {
    let Some(outcomes) = run_all() else { return };
    for o in outcomes {
        let expected = REJECTED.iter().find(|(f, _)| *f == o.file);
        match (&o.error, expected) {
            (None, None) => {}
            (Some(e), Some((_, frag))) => assert!(
                e.contains(frag),
                "{}: `{e}` should contain `{frag}`",
                o.file
            ),
            (Some(e), None) => panic!("{} was rejected: {e}", o.file),
            (None, Some(_)) => panic!("{} should have been rejected", o.file),
        }
        // Every event serialises and reads back unchanged (the store keeps JSON).
        for e in &o.events {
            let json = serde_json::to_string(e).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, e, "{}: {json}", o.file);
        }
        // Ids are unique within a file.
        let mut ids: Vec<&str> = o.events.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), o.events.len(), "{}: duplicate ids", o.file);
    }
}

/// Issue 14 item 12: no real-world scanner file is refused whole, and each one
/// keeps something (or is a report with nothing in it).
#[test]
fn no_scanner_report_is_refused_whole() {
    let Some(all) = run_all() else { return };
    let scanners: Vec<&Outcome> = all
        .iter()
        .filter(|o| {
            ["sarif/", "trivy/", "grype/"]
                .iter()
                .any(|d| o.file.starts_with(d))
        })
        .collect();
    assert!(scanners.len() >= 60, "{} scanner fixtures", scanners.len());
    for o in scanners {
        assert_eq!(o.error, None, "{} was refused whole", o.file);
    }
    // DefectDojo's hand-edited legacy list: the one vulnerability without an id is
    // skipped, naming where it is; the other results are kept.
    let o = outcome(all, "trivy/defectdojo/legacy_trivy_mix.json");
    assert_eq!(
        o.skipped,
        [
            "`[0].Vulnerabilities[0]` cannot be used: field `VulnerabilityID`: missing; this field is required"
        ]
    );
    assert!(o.events.len() >= 2, "{}", o.events.len());
    // `--strict` restores all or nothing.
    let root = root().unwrap();
    let bytes = std::fs::read(root.join("trivy/defectdojo/legacy_trivy_mix.json")).unwrap();
    let mut strict = ctx("legacy_trivy_mix.json", None);
    strict.strict = true;
    let e = parse_report(Format::Trivy, &bytes, &strict).unwrap_err();
    assert_eq!(
        e.to_string(),
        "field `[0].Vulnerabilities[0].VulnerabilityID`: missing; this field is required"
    );
}

/// Issue 14 item 13: a report's scan id comes from its content, so the same
/// bytes ingested at another time give the same event ids (duplicates), and a
/// report without a timestamp is not a new scan each time.
#[test]
fn the_same_report_gets_the_same_ids_at_any_ingest_time() {
    let Some(root) = root() else { return };
    for (file, format) in [
        ("trivy/defectdojo/legacy_trivy_mix.json", Format::Trivy),
        ("grype/defectdojo/many_vulns4.json", Format::Grype),
        ("sarif/defectdojo/codeQL-output.sarif", Format::Sarif),
    ] {
        let bytes = std::fs::read(root.join(file)).unwrap();
        let ids = |year: i32| -> Vec<String> {
            let mut c = ctx("x", None);
            c.now = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
            let p = parse_report(format, &bytes, &c).unwrap();
            assert!(!p.events.is_empty(), "{file}");
            p.events.into_iter().map(|e| e.id).collect()
        };
        assert_eq!(ids(2025), ids(2026), "{file}");
    }
}

fn outcome<'a>(all: &'a [Outcome], file: &str) -> &'a Outcome {
    all.iter()
        .find(|o| o.file == file)
        .unwrap_or_else(|| panic!("no outcome for {file}"))
}

#[test]
fn fixture_mappings() {
    let Some(all) = run_all() else { return };
    let kinds = |f: &str| {
        outcome(all, f)
            .events
            .iter()
            .map(Event::kind)
            .collect::<Vec<_>>()
    };

    // CDEvents: every version present maps deployments, changes, runs, incidents.
    for v in ["v0.3.0", "v0.4.1", "v0.5.1"] {
        assert_eq!(
            kinds(&format!("cdevents/{v}/service_deployed.json")),
            [Kind::Deployment],
            "{v}"
        );
        assert_eq!(
            kinds(&format!("cdevents/{v}/change_merged.json")),
            [Kind::Change],
            "{v}"
        );
        assert_eq!(
            kinds(&format!("cdevents/{v}/pipelinerun_finished.json")),
            [Kind::PipelineRun],
            "{v}"
        );
    }
    assert_eq!(
        kinds("cdevents/v0.4.1/service_rolledback.json"),
        [Kind::Rollback]
    );
    let o = outcome(all, "cdevents/v0.5.1/incident_resolved.json");
    assert_eq!(o.events[0].service.as_deref(), Some("myApp"));
    assert!(
        o.events[0].id.starts_with("cdevents:/monitoring/prod1:"),
        "{}",
        o.events[0].id
    );
    for skipped in [
        "cdevents/v0.5.1/custom_conformance.json",
        "cdevents/v0.6.0-draft/ticket_closed.json",
        "cdevents/v0.4.1/artifact_packaged.json",
    ] {
        let o = outcome(all, skipped);
        assert!(o.events.is_empty() && o.skipped.len() == 1, "{skipped}");
    }
    let o = outcome(all, "cdevents/v0.4.1/change_merged.json");
    assert!(
        o.events[0]
            .links
            .iter()
            .any(|l| l.rel == "relation:trigger")
    );

    // GitHub.
    let o = outcome(all, "github-webhooks/push/with-new-branch.payload.json");
    let Payload::Change(c) = &o.events[0].payload else {
        panic!()
    };
    assert_eq!(c.commits[0].sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(
        c.commits[0].authored_at.to_rfc3339(),
        "2019-05-15T15:19:25+00:00"
    );
    assert_eq!(
        kinds("github-webhooks/deployment_status/payload.json"),
        [Kind::Deployment]
    );
    let o = outcome(all, "github-webhooks/deployment_status/payload.json");
    let Payload::Deployment(d) = &o.events[0].payload else {
        panic!()
    };
    assert_eq!(
        (d.deployment_id.as_str(), d.status),
        ("145988746", bearing_events::Status::Success)
    );
    assert_eq!(o.events[0].environment.as_deref(), Some("production"));
    assert_eq!(
        kinds("github-webhooks/workflow_run/completed.payload.json"),
        [Kind::PipelineRun]
    );
    assert_eq!(
        kinds("github-webhooks/workflow_job/queued.payload.json"),
        [Kind::PipelineRun]
    );
    assert!(
        outcome(all, "github-webhooks/pull_request/closed.payload.json").skipped[0]
            .contains("without merging")
    );
    assert!(
        outcome(all, "github-webhooks/issues/opened.payload.json").skipped[0]
            .contains("no incident label")
    );

    // Findings: shared scan id per file, normalised targets.
    let o = outcome(all, "trivy/trivy-golden/alpine-310.json");
    let scans: std::collections::BTreeSet<_> = o
        .events
        .iter()
        .map(|e| match &e.payload {
            Payload::Finding(f) => f.scan_id.clone(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(scans.len(), 1);
    assert_eq!(
        o.events[0].time.to_rfc3339(),
        "2021-08-25T12:20:30.000000005+00:00"
    );
    let o = outcome(all, "grype/defectdojo/check_all_fields.json");
    let Payload::Finding(f) = &o.events[0].payload else {
        panic!()
    };
    assert_eq!(f.target, "vulnerable-image");
    let o = outcome(all, "sarif/sarif-sdk/CweGhasSample.sarif");
    assert!(o.events.iter().any(|e| matches!(&e.payload, Payload::Finding(f) if f.severity == bearing_events::Severity::High)));

    // Cost.
    assert_eq!(
        outcome(all, "focus-cost/focus-1.0_sample_part-a.csv")
            .events
            .len(),
        667
    );
    assert_eq!(
        outcome(all, "opencost/opencost-ui_mock_assets.json")
            .events
            .len(),
        3
    );
    assert_eq!(kinds("infracost/example_out.json")[0], Kind::MetricPoint);
}

#[test]
fn trivy_and_grype_sarif_agree_with_their_json() {
    let Some(all) = run_all() else { return };
    let keys = |f: &str| -> std::collections::BTreeSet<String> {
        outcome(all, f)
            .events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Finding(f) => Some(f.dedup_key()),
                _ => None,
            })
            .collect()
    };
    // Trivy's SARIF and JSON goldens of the same image give the same findings.
    assert_eq!(
        keys("sarif/trivy/alpine-310.sarif"),
        keys("trivy/trivy-golden/alpine-310.json")
    );
}

#[test]
fn other_fixture_kinds_are_not_mistaken_for_events() {
    let Some(root) = root() else { return };
    for dir in [
        "terraform-plans",
        "ci-schemas",
        "k8s-manifests",
        "github-workflows",
        "gitlab-ci",
    ] {
        let mut list = Vec::new();
        files(&root.join(dir), &mut list);
        for path in list {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert_eq!(detect(Some(&name), &bytes), None, "{}", path.display());
        }
    }
}
