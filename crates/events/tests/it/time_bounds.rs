//! Every timestamp an ingested file carries is bounded: a time from
//! 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z is stored exactly, one outside
//! is refused naming it ("… is out of range"), anything else that is not a
//! time is refused as malformed, and no value panics, in every format that
//! carries a time.

use bearing_events::timestamp::{EARLIEST, LATEST, in_range};
use bearing_events::{Event, Format, ParseContext, Payload, parse};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

fn ctx() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
}

/// A document of each format with `@` where the time goes, and where the
/// parsed time shows up in the first event.
struct Case {
    format: Format,
    doc: &'static str,
    time_of: fn(&Event) -> DateTime<Utc>,
    /// Whether zone-less times (`2024-05-01 12:00:00`) are accepted.
    lenient: bool,
}

const CASES: &[Case] = &[
    Case {
        format: Format::Bearing,
        doc: r#"[{"id":"e1","source":"t","time":"@","kind":"metric_point","data":{"name":"rps","value":1.5}}]"#,
        time_of: |e| e.time,
        lenient: false,
    },
    Case {
        format: Format::Bearing,
        doc: "{\"id\":\"e1\",\"source\":\"t\",\"time\":\"2024-05-01T12:00:00Z\",\"kind\":\"deployment\",\"data\":{\"deployment_id\":\"d1\",\"status\":\"success\",\"finished_at\":\"@\"}}\n",
        time_of: |e| match &e.payload {
            Payload::Deployment(d) => d.finished_at.unwrap(),
            other => panic!("{other:?}"),
        },
        lenient: false,
    },
    Case {
        format: Format::BearingCsv,
        doc: "id,time,kind,data.name,data.value\nm1,@,metric_point,rps,1\n",
        time_of: |e| e.time,
        lenient: false,
    },
    Case {
        format: Format::CdEvents,
        doc: r#"{"context":{"specversion":"0.4.1","id":"c1","source":"/s","type":"dev.cdevents.incident.detected.0.2.0","timestamp":"@"},"subject":{"id":"i1","content":{"service":{"id":"web"},"environment":{"id":"production"}}}}"#,
        time_of: |e| e.time,
        lenient: false,
    },
    Case {
        format: Format::GithubWebhook,
        doc: r#"{"ref":"refs/heads/main","after":"abc","repository":{"id":1,"name":"web","full_name":"acme/web","default_branch":"main"},"pusher":{"name":"a"},"commits":[{"id":"abc","timestamp":"@"}]}"#,
        time_of: |e| e.time,
        lenient: false,
    },
    Case {
        format: Format::Focus,
        doc: "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd\n1.0,USD,@,9999-12-31T23:59:59.999999999Z\n",
        time_of: |e| e.time,
        lenient: true,
    },
    Case {
        format: Format::Trivy,
        doc: r#"{"SchemaVersion":2,"ArtifactName":"web:1.2","CreatedAt":"@","Results":[{"Target":"web:1.2 (debian 12)","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-1","PkgName":"openssl","InstalledVersion":"1","FixedVersion":"2","Severity":"HIGH"}]}]}"#,
        time_of: |e| e.time,
        lenient: true,
    },
    Case {
        format: Format::Sarif,
        doc: r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"scan","rules":[{"id":"r1"}]}},"invocations":[{"executionSuccessful":true,"endTimeUtc":"@"}],"results":[{"ruleId":"r1","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.rs"},"region":{"startLine":1}}}]}]}]}"#,
        time_of: |e| e.time,
        lenient: true,
    },
];

fn doc(case: &Case, time: &str) -> String {
    case.doc.replace('@', time)
}

/// Times written as RFC 3339, near both ends of the range and anywhere a
/// four-digit year can reach, with offsets that push them across an end.
fn rfc3339() -> impl Strategy<Value = String> {
    let year = prop_oneof![1968u32..1972, 9998u32..=9999, 0u32..=9999, Just(0u32)];
    (
        year,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of("[0-9]{1,9}"),
        prop::option::of((any::<bool>(), 0u32..24, 0u32..60)),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let off = match off {
                None => "Z".to_owned(),
                Some((neg, oh, om)) => format!("{}{oh:02}:{om:02}", if neg { '-' } else { '+' }),
            };
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        })
}

/// Anything else a careless or hostile producer sends: epoch numbers,
/// five- and six-digit years, zone-less forms, signs.
fn other_time() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (253_402_300_790i64..253_402_300_810).prop_map(|n| n.to_string()),
        (-300_000i32..300_000).prop_map(|y| format!("{y:+05}-06-15T12:00:00Z")),
        (-300_000i32..300_000).prop_map(|y| format!("{y}-06-15 12:00:00")),
        (1960i32..1980).prop_map(|y| format!("{y}-01-01")),
        (9990i32..10_010).prop_map(|y| format!("{y}-12-31 23:59:59")),
        Just("-0001-01-01T00:00:00Z".to_owned()),
        Just("+262143-12-31T23:59:59Z".to_owned()),
        Just("9999-12-31T23:59:60Z".to_owned()),
    ]
}

/// What an exact parser makes of `s` before the range check.
fn unbounded(s: &str, lenient: bool) -> Option<DateTime<Utc>> {
    let strict = DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    if strict.is_some() || !lenient {
        return strict;
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|t| t.and_utc())
}

fn check(case: &Case, time: &str) -> Result<(), TestCaseError> {
    let name = format!("{:?}", case.format);
    let got = parse(case.format, doc(case, time).as_bytes(), &ctx());
    match (unbounded(time, case.lenient), got) {
        (Some(t), Ok(events)) => {
            prop_assert!(in_range(t), "{}: `{}` accepted", name, time);
            prop_assert_eq!((case.time_of)(&events[0]), t, "{}: `{}`", name, time);
        }
        (Some(t), Err(e)) => {
            prop_assert!(!in_range(t), "{}: `{}` refused: {}", name, time, e);
            let msg = format!(
                "timestamp `{time}` is out of range; expected a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
            );
            prop_assert!(e.to_string().contains(&msg), "{}: {}", name, e);
        }
        (None, Ok(events)) => {
            // Leap seconds and the like that chrono's strict parser refuses are
            // fine as long as what is stored is in range.
            prop_assert!(
                events.iter().all(|e| in_range((case.time_of)(e))),
                "{}: `{}` stored out of range",
                name,
                time
            );
        }
        (None, Err(e)) => {
            let shown = e.to_string();
            prop_assert!(
                shown.contains("expected an RFC 3339 timestamp")
                    || shown.contains("is out of range")
                    || shown.contains("expected a string"),
                "{}: `{}`: {}",
                name,
                time,
                shown
            );
        }
    }
    Ok(())
}

#[test]
fn every_template_accepts_both_ends_of_the_range() {
    for case in CASES {
        for t in [EARLIEST, LATEST] {
            let s = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let events = parse(case.format, doc(case, &s).as_bytes(), &ctx())
                .unwrap_or_else(|e| panic!("{:?}: {e}", case.format));
            assert_eq!((case.time_of)(&events[0]), t, "{:?}", case.format);
        }
        let e = parse(
            case.format,
            doc(case, "1969-12-31T23:59:59Z").as_bytes(),
            &ctx(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("timestamp `1969-12-31T23:59:59Z` is out of range"),
            "{:?}: {e}",
            case.format
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rfc3339_times_are_stored_exactly_or_refused_as_out_of_range(
        i in 0..CASES.len(),
        time in rfc3339(),
    ) {
        check(&CASES[i], &time)?;
    }

    #[test]
    fn other_times_never_panic_and_never_store_out_of_range(
        i in 0..CASES.len(),
        time in other_time(),
    ) {
        check(&CASES[i], &time)?;
    }
}

/// Times are never read as epoch numbers, however large.
#[test]
fn epoch_numbers_are_refused_as_not_a_time() {
    for n in [
        "0",
        "1714564800",
        "253402300800",
        "99999999999999999999",
        "-1",
        "1e300",
    ] {
        let doc = format!(
            r#"{{"id":"e1","source":"t","time":{n},"kind":"metric_point","data":{{"name":"rps","value":1.5}}}}"#
        );
        let e = parse(Format::Bearing, doc.as_bytes(), &ctx())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field `time`: expected an RFC 3339 timestamp, found"),
            "{n}: {e}"
        );
    }
}
