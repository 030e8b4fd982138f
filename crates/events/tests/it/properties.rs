//! Property tests: any event survives JSON and JSONL round trips, and no parser
//! panics on arbitrary or JSON-shaped input.

use std::collections::BTreeMap;

use bearing_events::*;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    // Includes quotes, backslashes, commas, newlines and non-ASCII.
    "[a-zA-Z0-9 _:/.,\"\\\\\n\u{e9}\u{1F600}-]{0,16}"
}

/// Finite numbers that print and parse back exactly.
fn number() -> impl Strategy<Value = f64> {
    (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 8.0)
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Success),
        Just(Status::Failure),
        Just(Status::Cancelled),
        Just(Status::InProgress)
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (
            text(),
            number(),
            prop::collection::btree_map(text(), text(), 0..3)
        )
            .prop_map(
                |(name, value, dimensions)| Payload::MetricPoint(MetricPoint {
                    name,
                    value,
                    dimensions
                })
            ),
        (
            text(),
            prop::option::of(text()),
            status(),
            prop::option::of(time()),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(|(deployment_id, version, status, finished_at, commits)| {
                Payload::Deployment(Deployment {
                    deployment_id,
                    version,
                    commit: None,
                    commits,
                    status,
                    started_at: None,
                    finished_at,
                    strategy: Some("canary".into()),
                    labels: vec!["hotfix".into()],
                })
            }),
        (
            text(),
            prop::collection::vec((text(), time()), 0..3),
            prop::option::of(time()),
            prop::option::of(any::<u32>())
        )
            .prop_map(
                |(change_id, commits, merged_at, additions)| Payload::Change(Change {
                    change_id,
                    repo: None,
                    title: None,
                    author: None,
                    commits: commits
                        .into_iter()
                        .map(|(sha, authored_at)| Commit {
                            sha,
                            authored_at,
                            parents: vec![],
                            author: None,
                            files: vec![]
                        })
                        .collect(),
                    merged_at,
                    merge_commit: None,
                    files_changed: None,
                    additions,
                    deletions: None,
                    labels: vec![],
                })
            ),
        (
            text(),
            number(),
            time(),
            time(),
            prop::collection::btree_map(text(), text(), 0..3)
        )
            .prop_map(|(c, cost, a, b, tags)| {
                Payload::Cost(CostRow {
                    billed_cost: cost,
                    effective_cost: cost,
                    currency: c,
                    charge_period_start: a,
                    charge_period_end: b,
                    consumed_quantity: Some(1.5),
                    tags,
                    ..Default::default()
                })
            }),
        (text(), text(), any::<bool>()).prop_map(|(rule_id, target, fixable)| Payload::Finding(
            Finding {
                scanner: "trivy".into(),
                scan_id: "s".into(),
                kind: FindingKind::Vulnerability,
                rule_id,
                severity: Severity::High,
                target,
                package: Some("p".into()),
                installed_version: None,
                fixed_version: None,
                fixable,
                title: None,
                location: Some(Location {
                    file: "a".into(),
                    line: Some(1),
                    column: None
                }),
            }
        )),
        (text(), any::<bool>(), prop::option::of(number())).prop_map(|(flag, enabled, rollout)| {
            Payload::FeatureFlag(FeatureFlag {
                flag,
                enabled,
                rollout,
            })
        }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        "[a-z0-9:-]{1,24}",
        "[a-z][a-z/:.-]{0,12}",
        time(),
        prop::option::of(text()),
        prop::collection::vec((text(), text()), 0..2),
        prop::collection::btree_map(text(), text(), 0..2),
        payload(),
    )
        .prop_map(|(id, source, time, service, links, attrs, payload)| {
            let mut e = Event::new(id, source, time, payload);
            e.service = service;
            e.links = links
                .into_iter()
                .map(|(rel, target)| Link { rel, target })
                .collect();
            e.attributes = attrs
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::from(v)))
                .collect::<BTreeMap<_, _>>();
            e
        })
}

fn ctx() -> ParseContext {
    ParseContext::new(DateTime::UNIX_EPOCH)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn events_round_trip_through_json_and_jsonl(events in prop::collection::vec(event(), 1..8)) {
        let jsonl: String = events.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect();
        let streamed: Vec<Event> = JsonlReader::new(jsonl.as_bytes()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&streamed, &events);
        let array = serde_json::to_string(&events).unwrap();
        prop_assert_eq!(&parse(Format::Bearing, array.as_bytes(), &ctx()).unwrap(), &events);
        prop_assert_eq!(detect(Some("events.json"), array.as_bytes()), Some(Format::Bearing));
    }

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for f in Format::ALL {
            let _ = parse(f, &bytes, &ctx());
        }
        let _ = detect(None, &bytes);
    }

    #[test]
    fn no_parser_panics_on_json_shaped_input(s in r#"[\[\]{}",:0-9a-zA-Z .\-\n]{0,200}"#) {
        for f in Format::ALL {
            let _ = parse(f, s.as_bytes(), &ctx());
        }
        let _ = detect(Some("x.json"), s.as_bytes());
    }

    #[test]
    fn timestamps_parse_like_chrono(
        y in 0u32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..61, sec in 0u32..62,
        frac in prop::option::of("[0-9]{1,10}"), off in prop::option::of((any::<bool>(), 0u32..26, 0u32..61)),
    ) {
        let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let off = match off {
            None => "Z".to_owned(),
            Some((neg, oh, om)) => format!("{}{oh:02}:{om:02}", if neg { '-' } else { '+' }),
        };
        let s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}{frac}{off}");
        let chrono = DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&Utc));
        let chrono = chrono.filter(|t| bearing_events::timestamp::in_range(*t));
        prop_assert_eq!(bearing_events::timestamp::parse_rfc3339(&s), chrono, "{}", s);
    }
}
