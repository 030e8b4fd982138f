//! The corpus of malformed inputs in `tests/malformed/`: each is rejected with
//! the exact message below (naming the record, the field and what was
//! expected), and no parser panics on any of them.

use std::path::PathBuf;

use bearing_events::github::{SignatureError, sign, verify_signature};
use bearing_events::{Format, ParseContext, parse};
use chrono::{TimeZone, Utc};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/malformed")
}

fn ctx() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
}

/// All or nothing: scanner reports too reject on their first unusable finding.
fn strict() -> ParseContext {
    let mut ctx = ctx();
    ctx.strict = true;
    ctx
}

fn format_of(file: &str) -> Format {
    let prefixes = [
        ("bearing-csv-", Format::BearingCsv),
        ("bearing-", Format::Bearing),
        ("focus-", Format::Focus),
        ("cdevents-", Format::CdEvents),
        ("github-", Format::GithubWebhook),
        ("gitlab-", Format::GitlabWebhook),
        ("sarif-", Format::Sarif),
        ("trivy-", Format::Trivy),
        ("grype-", Format::Grype),
        ("infracost-", Format::Infracost),
        ("opencost-", Format::OpenCost),
    ];
    prefixes
        .iter()
        .find(|(p, _)| file.starts_with(p))
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no format for {file}"))
}

/// (file, expected error).
const EXPECTED: &[(&str, &str)] = &[
    (
        "bearing-truncated.jsonl",
        "line 3: the JSON ends too early (truncated?) (column 50)",
    ),
    (
        "bearing-wrong-type.jsonl",
        "line 2, field `data.value`: expected a number, found string \"fast\"",
    ),
    (
        "bearing-huge-number.jsonl",
        "line 2, field `data.additions`: expected a whole number between 0 and 4294967295, found floating point `1e+20`",
    ),
    (
        "bearing-number-out-of-range.jsonl",
        "line 1: invalid JSON: number out of range (too large) (column 110)",
    ),
    (
        "bearing-invalid-utf8.jsonl",
        "line 2: invalid UTF-8 at byte 93 of the line: the input must be UTF-8 text",
    ),
    (
        "bearing-bad-time.json",
        "record 2, field `time`: expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `yesterday`",
    ),
    (
        "bearing-unknown-kind.jsonl",
        "line 1, field `kind`: unknown variant `deploy`, expected one of `change`, `pipeline_run`, `deployment`, `rollback`, `incident`, `cost`, `finding`, `metric_point`, `feature_flag`",
    ),
    ("bearing-missing-id.json", "line 1: missing field `id`"),
    (
        "bearing-not-an-object.json",
        "record 1: expected an event object, found the number `1`",
    ),
    (
        "bearing-csv-missing-column.csv",
        "row 3: the row has 4 field(s) but the header has 5; check for missing or extra commas",
    ),
    (
        "bearing-csv-extra-column.csv",
        "row 2: the row has 6 field(s) but the header has 5; check for missing or extra commas",
    ),
    (
        "bearing-csv-unknown-column.csv",
        "row 1: unknown column `colour`; expected `id`, `time`, `kind`, `source`, `service`, `environment`, `links`, `attributes`, `data` or `data.<field>`",
    ),
    (
        "bearing-csv-invalid-utf8.csv",
        "line 2: invalid UTF-8 at byte 38 of the line: the input must be UTF-8 text",
    ),
    (
        "focus-missing-columns.csv",
        "row 1: incomplete FOCUS cost file: missing required column(s) `ChargePeriodStart`, `ChargePeriodEnd`, `BillingCurrency`; FOCUS rows need `BilledCost`, `ChargePeriodStart`, `ChargePeriodEnd`, `BillingCurrency`",
    ),
    (
        "focus-extra-field.csv",
        "row 3: the row has 5 field(s) but the header has 4; check for missing or extra commas",
    ),
    (
        "focus-bad-date.csv",
        "row 2, field `ChargePeriodStart`: expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `September`",
    ),
    (
        "focus-bad-tags.csv",
        "row 2, field `Tags`: expected a JSON object of tags, found `app=web`",
    ),
    (
        "cdevents-truncated.json",
        "line 1: the JSON ends too early (truncated?) (column 102)",
    ),
    (
        "cdevents-wrong-type.json",
        "field `context.id`: expected a string, found the number `42`",
    ),
    (
        "cdevents-not-cdevents.json",
        "field `context.type`: expected a CDEvents type starting with `dev.cdevents.`, found `com.example.deployed`",
    ),
    (
        "cdevents-bad-outcome.json",
        "field `subject.content.outcome`: expected `success`, `failure`, `error` or `cancel`, found `meh`",
    ),
    (
        "github-deployment-status-wrong-type.json",
        "field `deployment_status.state`: expected a string, found the number `1`",
    ),
    (
        "github-job-bad-step-time.json",
        "field `workflow_job.steps[1].started_at`: expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `soon`",
    ),
    (
        "gitlab-bad-status.json",
        "field `builds[0].status`: expected a GitLab status (`success`, `failed`, `canceled`, `running`, …), found `exploded`",
    ),
    (
        "github-push-bad-commit-time.json",
        "field `commits[0].timestamp`: expected an RFC 3339 timestamp (e.g. `2024-05-01T12:00:00Z`), found `last tuesday`",
    ),
    (
        "sarif-truncated.sarif",
        "line 1: the JSON ends too early (truncated?) (column 85)",
    ),
    (
        "sarif-wrong-version.sarif",
        "field `version`: unsupported SARIF version `1.0.0`; expected `2.1.0`",
    ),
    (
        "sarif-bad-level.sarif",
        "field `runs[0].results[0].level`: expected `error`, `warning`, `note` or `none`, found `fatal`",
    ),
    (
        "sarif-huge-line.sarif",
        "field `runs[0].results[0].locations[0].physicalLocation.region.startLine`: expected a line or column number, found the number `1e+20`",
    ),
    (
        "trivy-results-not-a-list.json",
        "field `Results`: expected an array, found an object",
    ),
    (
        "trivy-bad-severity.json",
        "field `Results[0].Vulnerabilities[0].Severity`: expected `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `UNKNOWN`, found `SEVERE`",
    ),
    (
        "grype-missing-package.json",
        "field `matches[0].artifact.name`: missing; this field is required",
    ),
    (
        "infracost-bad-amount.json",
        "field `projects[0].breakdown.totalMonthlyCost`: expected a decimal amount, found `true`",
    ),
    (
        "opencost-error.json",
        "field `code`: OpenCost returned code 500: Error: failed to query Prometheus",
    ),
    (
        "gitlab-job-huge-queued-duration.json",
        "field `build_queued_duration`: expected a duration in seconds between 0 and 31622400 (a year), found `10000000000000.0`",
    ),
    (
        "gitlab-pipeline-huge-queued-duration.json",
        "field `object_attributes.queued_duration`: expected a duration in seconds between 0 and 31622400 (a year), found `10000000000000.0`",
    ),
    (
        "gitlab-job-queued-duration-not-a-number.json",
        "field `build_queued_duration`: expected a duration in seconds, found the string `twelve`",
    ),
    (
        "gitlab-job-fractional-id.json",
        "field `build_id`: expected a numeric id (a whole number, 0 or more), found the number `1.5`",
    ),
    (
        "gitlab-job-negative-id.json",
        "field `build_id`: expected a numeric id (a whole number, 0 or more), found the number `-1`",
    ),
];

#[test]
fn each_malformed_input_gets_its_message() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f != "empty-object.json" && f != "github-signed-body.json")
        .collect();
    files.sort();
    for f in &files {
        assert!(
            EXPECTED.iter().any(|(e, _)| e == f),
            "{f} has no expected message"
        );
    }
    let mut wrong = Vec::new();
    for (file, expected) in EXPECTED {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let err = parse(format_of(file), &bytes, &strict())
            .expect_err(file)
            .to_string();
        if err != *expected {
            wrong.push(format!("{file}\n  got:  {err}\n  want: {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Without `strict`, a scanner report whose finding cannot be used is read: the
/// finding is skipped with the same message, naming where it is.
#[test]
fn scanner_reports_skip_the_unusable_finding_by_default() {
    let lenient = [
        (
            "sarif-bad-level.sarif",
            "`runs[0].results[0]` cannot be used: field `level`",
        ),
        (
            "sarif-huge-line.sarif",
            "`runs[0].results[0]` cannot be used: field `locations[0].physicalLocation.region.startLine`",
        ),
        (
            "trivy-bad-severity.json",
            "`Results[0].Vulnerabilities[0]` cannot be used: field `Severity`: expected `CRITICAL`",
        ),
        (
            "trivy-results-not-a-list.json",
            "field `Results`: expected an array, found an object",
        ),
        (
            "grype-missing-package.json",
            "`matches[0]` cannot be used: field `artifact.name`: missing",
        ),
    ];
    for (file, want) in lenient {
        let bytes = std::fs::read(dir().join(file)).unwrap();
        match bearing_events::parse_report(format_of(file), &bytes, &ctx()) {
            Ok(p) => {
                let skipped: Vec<String> = p.skipped.iter().map(ToString::to_string).collect();
                assert!(
                    skipped.iter().any(|s| s.starts_with(want)),
                    "{file}: {skipped:?}"
                );
            }
            // What is not a record (the report's own shape) still rejects it.
            Err(e) => assert!(e.to_string().contains(want), "{file}: {e}"),
        }
    }
}

#[test]
fn no_parser_panics_on_any_malformed_input() {
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for format in Format::ALL {
            // Only the absence of a panic matters here.
            let _ = parse(format, &bytes, &ctx());
        }
        let _ = bearing_events::detect(path.file_name().and_then(|n| n.to_str()), &bytes);
    }
}

#[test]
fn an_empty_object_is_no_format() {
    let bytes = std::fs::read(dir().join("empty-object.json")).unwrap();
    assert_eq!(bearing_events::detect(Some("x.json"), &bytes), None);
    for format in Format::ALL {
        assert!(
            parse(format, &bytes, &ctx()).is_err(),
            "{format} accepted `{{}}`"
        );
    }
}

#[test]
fn a_webhook_with_a_bad_signature_is_refused() {
    let body = std::fs::read(dir().join("github-signed-body.json")).unwrap();
    let good = sign(b"right secret", &body);
    assert_eq!(
        verify_signature(b"right secret", &body, Some(&good)),
        Ok(())
    );
    assert_eq!(
        verify_signature(b"wrong secret", &body, Some(&good)),
        Err(SignatureError::Mismatch)
    );
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let err = verify_signature(b"right secret", &tampered, Some(&good)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`X-Hub-Signature-256` does not match the body: wrong secret, or the body was altered"
    );
    assert_eq!(
        verify_signature(b"right secret", &body, None),
        Err(SignatureError::Missing)
    );
}
